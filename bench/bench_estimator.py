"""Time of ionsitu's diffusion estimator on 10^3 dense lags x 10 replicas, next to kinisi.

    OMP_NUM_THREADS=1 python bench/bench_estimator.py [--frames 1001] [--ions 100] [--replicas 10] [--no-kinisi]

Seeded random walks (metal units, 1 fs x 10 steps per frame; no drift removed: the
walkers are the whole system) analysed offline with every origin at every lag
(block = frames, levels = 1): ``frames - 1`` lags per replica. Times,
best of 3 (the first call of a lag geometry also builds its overlap kernel, cached after):

- ``transport.tracer_diffusion(replicas)``: automatic window on the replica mean, one fit
  per replica, mean and error; first (kernel not cached) and repeated calls;
- ``transport.analyse(replicas, T)``: tracer, collective, H_R, conductivity;
- kinisi 2.1.0 ``DiffusionAnalyzer.diffusion`` (its covariance + MCMC) on one replica
  (the same MSD: kinisi computes its own from the same positions), if installed.

Also printed: D, its error and method, and the estimator's D and error for each replica
next to kinisi's median and 95 % interval (replica 0).
"""

import argparse
import time

import numpy as np

from ionsitu.analysis import transport
from ionsitu.analysis.msd import msd_from_frames

DT, NEVERY = 0.001, 10          # ps per step, steps per frame
D_RUN = 0.1                     # A^2/ps per direction


def walks(rng, frames, ions):
    steps = rng.standard_normal((frames, ions, 3)) * np.sqrt(2 * D_RUN * DT * NEVERY)
    steps[0] = 0.0
    return np.cumsum(steps, axis=0) + 50.0


def best(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1001)
    ap.add_argument("--ions", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--no-kinisi", action="store_true", help="skip kinisi (its fit takes minutes)")
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    pos = [walks(rng, args.frames, args.ions) for _ in range(args.replicas)]
    cell = np.diag([100.0, 100.0, 100.0])
    t0 = time.perf_counter()
    reps = [msd_from_frames(p, block=args.frames, levels=1, nevery=NEVERY, dt=DT, units="metal", cell=cell,
                            drift="none")
            for p in pos]
    t_msd = time.perf_counter() - t0
    nl = int((reps[0].n_origins > 0).sum())
    print(f"{args.replicas} replicas x {args.ions} ions x {args.frames} frames: {nl} lags each "
          f"(offline MSD, all origins: {t_msd:.2f} s)")

    t0 = time.perf_counter()
    first = transport.tracer_diffusion(reps)
    t_first = time.perf_counter() - t0
    t_tr, fit = best(lambda: transport.tracer_diffusion(reps))
    t_an, rep = best(lambda: transport.analyse(reps, 600.0))
    print(f"tracer_diffusion(10 replicas): first call {t_first:.3f} s (builds the overlap kernels), "
          f"then {t_tr:.3f} s")
    print(f"analyse(10 replicas): {t_an:.3f} s (tracer, collective, H_R, sigma)")
    print(f"D* = {fit.D:.4g} +- {fit.D_err:.2g} cm^2/s ({fit.err_method}); truth {D_RUN * 1e-4:.4g}; "
          f"window {fit.t_start:g}-{fit.t_end:g} ps, {fit.n_lags} lags, {fit.n_fit_lags} fitted")
    assert first.D == fit.D
    if args.no_kinisi:
        return
    try:
        import scipp as sc
        from ase import Atoms
        from kinisi.analyze import DiffusionAnalyzer
    except ImportError:
        print("kinisi not installed: no comparison")
        return
    atoms = [Atoms(["Li"] * args.ions, positions=x, cell=cell, pbc=True) for x in pos[0]]
    ki = DiffusionAnalyzer.from_ase(atoms, specie="Li", time_step=sc.scalar(DT * 1000, unit="fs"),
                                    step_skip=sc.scalar(NEVERY, unit=sc.units.dimensionless), progress=False)
    start = fit.t_start
    t0 = time.perf_counter()
    ki.diffusion(sc.scalar(start, unit="ps"), progress=False, random_state=np.random.RandomState(1))
    t_ki = time.perf_counter() - t0
    lo, med, hi = np.percentile(ki.D.values, [2.5, 50, 97.5])
    one = transport.tracer_diffusion(reps[0], (start, reps[0].time[reps[0].n_origins > 0].max()))
    t_one, _ = best(lambda: transport.tracer_diffusion(reps[0], (start, reps[0].time[reps[0].n_origins > 0].max())))
    print(f"kinisi diffusion() on replica 0 (window {start:g} ps - end): {t_ki:.2f} s; ionsitu on the same "
          f"window: {t_one:.3f} s ({t_ki / max(t_one, 1e-9):.0f}x faster)")
    print(f"replica 0: ionsitu {one.D:.4g} +- {one.D_err:.2g}; kinisi median {med:.4g}, 95 % [{lo:.4g}, {hi:.4g}]")


if __name__ == "__main__":
    main()

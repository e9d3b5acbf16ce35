"""Time of ionsitu's diffusion estimator on 10^3 dense lags x 10 replicas, next to kinisi.

    OMP_NUM_THREADS=1 python bench/bench_estimator.py [--frames 1001] [--ions 100] [--replicas 10] [--no-kinisi]

Seeded random walks (metal units, 1 fs x 10 steps per frame; no drift removed: the
walkers are the whole system) analysed offline with every origin at every lag
(block = frames, levels = 1): ``frames - 1`` lags per replica. Times,
best of 3 (the first call of a lag geometry also builds its overlap kernel, cached after):

- ``transport.tracer_diffusion(replicas)``: automatic window on the replica mean, one fit
  per replica, mean and error; first (kernel not cached) and repeated calls, and in a
  fresh Python process: ``import ionsitu.transport`` plus the first call (what a user's
  script pays; the target is <= 1 s);
- ``transport.analyse(replicas, T)``: tracer, collective, H_R, conductivity;
- kinisi 2.1.0 ``DiffusionAnalyzer.diffusion`` (its covariance + MCMC) on one replica
  (the same MSD: kinisi computes its own from the same positions), if installed.

- ``msd_from_trajectory`` with and without the ion groups of the ion bootstrap
  (``--groups``: random walks given as ``ase.Atoms`` lists, every origin at every lag).

Also printed: D, its error and method, and the estimator's D and error for each replica
next to kinisi's median and 95 % interval (replica 0).
"""

import argparse
import pickle
import subprocess
import sys
import tempfile
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


def group_cost():
    from ase import Atoms

    from ionsitu.io.trajectory import msd_from_trajectory

    rng = np.random.default_rng(0)
    for F, N in ((201, 128), (500, 500), (2000, 200)):
        x = walks(rng, F, N)
        atoms = [Atoms(["Li"] * N, positions=p, cell=[100.0] * 3, pbc=True) for p in x]
        t = []
        for g in (0, 16, None):
            t0 = time.perf_counter()
            r = msd_from_trajectory(atoms, "Li", DT, stride=NEVERY, drift="none", ion_groups=g)
            t.append(time.perf_counter() - t0)
        print(f"msd_from_trajectory {F} frames x {N} ions (every origin): no groups {t[0]:.2f} s, 16 groups "
              f"{t[1]:.2f} s; automatic: {r.meta['ion_groups']} groups {r.meta['ion_groups_note']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1001)
    ap.add_argument("--ions", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--no-kinisi", action="store_true", help="skip kinisi (its fit takes minutes)")
    ap.add_argument("--groups", action="store_true", help="also time the offline MSD with and without ion groups")
    args = ap.parse_args()
    if args.groups:
        group_cost()
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
    with tempfile.NamedTemporaryFile(suffix=".pkl") as tmp:
        pickle.dump(reps, tmp)
        tmp.flush()
        code = ("import pickle, sys, time\n"
                "t0 = time.perf_counter()\n"
                "from ionsitu.analysis import transport\n"
                "t1 = time.perf_counter()\n"
                "reps = pickle.load(open(sys.argv[1], 'rb'))\n"
                "t2 = time.perf_counter()\n"
                "transport.tracer_diffusion(reps)\n"
                "print(t1 - t0, time.perf_counter() - t2)\n")
        out = subprocess.run([sys.executable, "-c", code, tmp.name], capture_output=True, text=True, check=True)
    t_imp, t_call = (float(v) for v in out.stdout.split())
    print(f"fresh process: import ionsitu.transport {t_imp:.3f} s + first tracer_diffusion(10 replicas) "
          f"{t_call:.3f} s = {t_imp + t_call:.3f} s")
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

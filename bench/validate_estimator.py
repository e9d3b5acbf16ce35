"""Validation of the diffusion estimator on real, correlated, non-Brownian LAMMPS runs.

    OMP_NUM_THREADS=1 python bench/validate_estimator.py caged [--T 0.3] [--replicas 20] [--tau 40] [--long-tau 400]
    OMP_NUM_THREADS=1 python bench/validate_estimator.py dpmd [--T 800] [--ps 10] [--segments 20] [--kinisi 2]
    OMP_NUM_THREADS=1 python bench/validate_estimator.py kinisi [--T 0.6] [--replicas 20] [--mcmc 2]

Every case prints the estimate, its interval, the reported sigma (model, ion resampling,
the larger one) and the observed spread; the figures are quoted in
docs/diffusion_estimator.md. LAMMPS output goes to ``--out`` (default
``bench/out/validate``); an existing run there is reused (delete it to rerun).

``caged``: the model ion conductor of examples/quick made smaller (LJ, 4x4x4 fcc cells:
256 framework atoms, 64 mobile ions) at a low temperature where the ions rattle in their
cages long before they hop (T = 0.3: strong caging -> diffusion crossover). Replicas:
one initial state, velocities from ``--replicas`` seeds, ``--tau`` each, 201 frames,
analysed offline with every origin at every lag; one long run (``--long-tau``) is the
reference.

``dpmd``: the shipped DeePMD model (examples/dpmd/model1.pb, the same system in metal
units: 256 Fw + 64 Li) at ``--T`` K, one run of ``--ps`` ps dumped every 20 fs, cut into
``--segments`` consecutive segments (the replicas: DP MD costs ~30 steps/s here). The
reported sigma of each segment is compared with the spread of the segments and with
the ion bootstrap; the whole run is the reference.

``kinisi``: ``--replicas`` runs of the model conductor at T = 0.6 (replica 0 is the
trajectory of tests/test_kinisi.py), each fitted by ionsitu and by kinisi 2.1.0's own
estimator (its covariance, maximum-likelihood line) with kinisi's conventions
(prepended frame 0, unweighted framework drift) and window; kinisi's MCMC interval on
the first ``--mcmc``. Prints both estimators' means, spreads and sigma/spread, and the
slope of the replica-mean MSD on sub-windows (the reference).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ionsitu.analysis import transport
from ionsitu.io.trajectory import msd_from_trajectory

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LMP = str(BIN / "lmp")

sys.path.insert(0, str(ROOT / "tests"))
from test_estimator_validation import DT as DT_LJ, MASSES as MASSES_LJ, conductor_script  # noqa: E402


def run_lmp(workdir: Path, script: str, timeout: float = 7200, nprocs: int = 1):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.lmp").write_text(script)
    cmd = [LMP, "-in", "in.lmp", "-log", "log.lammps", "-screen", "none", "-nocite"]
    if nprocs > 1:
        cmd = [str(BIN / "mpirun"), "-np", str(nprocs)] + cmd
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        log = (workdir / "log.lammps").read_text()[-3000:] if (workdir / "log.lammps").exists() else ""
        raise RuntimeError(f"LAMMPS failed ({proc.returncode}) in {workdir}:\n{log}\n{proc.stderr[-3000:]}")
    print(f"LAMMPS run in {workdir}: {time.perf_counter() - t0:.0f} s")


def row(label, fits):
    """Print and return the figures of a list of per-replica fits."""
    D = np.array([f.D for f in fits])
    spread = D.std(ddof=1)
    get = lambda k: np.mean([getattr(f, k) for f in fits])  # noqa: E731
    out = dict(mean=D.mean(), sem=spread / np.sqrt(len(D)), spread=spread, model=get("D_err_model"),
               boot=get("D_err_boot"), reported=get("D_err"), resolved=sum(f.resolved for f in fits), n=len(D),
               chi2=get("chi2_red"))
    print(f"{label}: mean {out['mean']:.4g} (sem {out['sem']:.2g}); spread of {len(D)} {spread:.3g}; mean sigma: "
          f"model {out['model']:.3g} ({out['model'] / spread:.2f}x), ion resampling {out['boot']:.3g} "
          f"({out['boot'] / spread:.2f}x), reported {out['reported']:.3g} ({out['reported'] / spread:.2f}x); "
          f"chi2_red {out['chi2']:.3g}; resolved {out['resolved']}/{len(D)}; window {fits[0].t_start:g}-"
          f"{fits[0].t_end:g}, {fits[0].n_fit_lags} fitted lags; error from: {fits[0].err_method}")
    return out


def compare_reference(label, out, ref):
    one = out["reported"]
    z = (out["mean"] - ref.D) / np.hypot(one, ref.D_err)
    print(f"{label}: reference {ref.D:.4g} +- {ref.D_err:.2g} (window {ref.t_start:g}-{ref.t_end:g}, "
          f"{ref.err_method}); mean of the short runs {out['mean']:.4g}: {z:+.2f} combined sigma "
          f"(one run's sigma and the reference's)")


def caged(args):
    d = Path(args.out) / f"caged_T{args.T:g}"
    steps, long_steps = int(round(args.tau / DT_LJ)), int(round(args.long_tau / DT_LJ))
    every, long_every = steps // 200, long_steps // 1000
    if not (d / "dump.long.lammpstrj").exists():
        run_lmp(d, conductor_script(args.T, args.replicas, steps, every, long_steps, long_every, equil=5000, pre=1000))
    F = steps // every + 1
    t0 = time.perf_counter()
    reps = [msd_from_trajectory(d / f"dump.{r}.lammpstrj", species=2, timestep=DT_LJ, units="lj",
                                masses=MASSES_LJ, block=F, levels=1) for r in range(1, args.replicas + 1)]
    long = msd_from_trajectory(d / "dump.long.lammpstrj", species=2, timestep=DT_LJ, units="lj", masses=MASSES_LJ)
    print(f"T = {args.T:g}: {args.replicas} replicas x {args.tau:g} tau ({F} frames, 64 ions, 16 ion groups); "
          f"MSDs {time.perf_counter() - t0:.1f} s")
    t, dstar = reps[0].time, reps[0].msd / (6 * np.maximum(reps[0].time, 1e-300))
    for tt in (0.1, 1.0, 10.0, args.tau / 2):
        i = np.argmin(np.abs(t - tt))
        print(f"  D = MSD/6t of replica 1 at t = {t[i]:g}: {dstar[i]:.3g}")
    auto = transport.tracer_diffusion(reps)
    window = (auto.t_start, auto.t_end)
    tr = row(f"D* (auto window, {auto.window_method})", auto.replicas)
    row("D_sigma (tracer window)", transport.collective_diffusion(reps, window).replicas)
    T_long = long.time[long.n_origins > 0].max()
    ref = transport.tracer_diffusion(long, (T_long / 10, T_long / 2))
    compare_reference("D*", tr, ref)


DPMD_SCRIPT = """units metal
atom_style atomic
boundary p p p
read_data {data}
pair_style deepmd {model}
pair_coeff * * Fw Li
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep 0.001
velocity all create {T} {seed} dist gaussian mom yes rot no
fix nvt all nvt temp {T} {T} 0.1
thermo 1000
run {nequil}
reset_timestep 0
dump d all custom {every} dump.lammpstrj id type mass xu yu zu
dump_modify d sort id format float %.10g
run {nsteps}
"""


def split_dump(path: Path, nseg: int, outdir: Path) -> list[Path]:
    """Consecutive segments (sharing their boundary frame) of a text dump."""
    frames = path.read_text().split("ITEM: TIMESTEP\n")[1:]
    n = (len(frames) - 1) // nseg
    files = []
    for s in range(nseg):
        f = outdir / f"seg{s}.lammpstrj"
        f.write_text("".join("ITEM: TIMESTEP\n" + x for x in frames[s * n: (s + 1) * n + 1]))
        files.append(f)
    return files


def dpmd(args):
    d = Path(args.out) / f"dpmd_T{args.T:g}"
    every = 20
    nsteps = int(round(args.ps * 1000))
    if not (d / "dump.lammpstrj").exists():
        ex = ROOT / "examples" / "dpmd"
        run_lmp(d, DPMD_SCRIPT.format(data=ex / "data.fwli", model=ex / "model1.pb", T=args.T, seed=4928459,
                                      nequil=1000, every=every, nsteps=nsteps), nprocs=args.np)
    segs = split_dump(d / "dump.lammpstrj", args.segments, d)
    kw = dict(species=2, timestep=0.001, units="metal")
    res = [msd_from_trajectory(f, **kw) for f in segs]
    full = msd_from_trajectory(d / "dump.lammpstrj", **kw)
    seg_ps = args.ps / args.segments
    print(f"DeePMD (model1.pb) at {args.T:g} K: {args.ps:g} ps, {args.segments} segments of {seg_ps:g} ps "
          f"({res[0].meta['nframes']} frames, 64 Li, {res[0].meta['ion_groups']} ion groups)")
    window = (args.window_start, seg_ps / 2) if args.window_start else None
    fits = [transport.tracer_diffusion(r, window) for r in res]
    if window is None:
        window = (fits[0].t_start, fits[0].t_end)
        fits = [transport.tracer_diffusion(r, window) for r in res]
    tr = row("D* per segment (cm^2/s)", fits)
    row("D_sigma per segment (cm^2/s)", [transport.collective_diffusion(r, window) for r in res])
    T_full = full.time[full.n_origins > 0].max()
    ref = transport.tracer_diffusion(full, (window[0], T_full / 2))
    compare_reference("D* (whole run as the reference)", tr, ref)
    print(f"  whole run: model sigma {ref.D_err_model:.3g}, ion bootstrap {ref.D_err_boot:.3g} "
          f"({ref.D_err_boot / ref.D_err_model:.2f}x the model)")
    if args.kinisi:
        for s in range(min(args.kinisi, len(segs))):
            dpmd_kinisi(segs[s], f"segment {s}", every, window[0])


def dpmd_kinisi(path, label, every, start_ps):
    """kinisi 2.1.0 (MCMC) on one DP segment against ionsitu with kinisi's conventions
    (prepended frame 0, unweighted framework drift), same window (start to the end)."""
    import scipp as sc
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer, JumpDiffusionAnalyzer

    from ionsitu.io.trajectory import iter_lammps_dump

    frames = list(iter_lammps_dump(path))
    atoms = [Atoms(["Ar" if t == 1 else "Li" for t in f.types], positions=f.positions, cell=f.cell, pbc=True)
             for f in frames]
    F = len(atoms)
    res = msd_from_trajectory([atoms[0]] + atoms, species="Li", timestep=0.001, stride=every, units="metal",
                              drift="framework", masses="equal", block=F + 1, levels=1)
    t_end = res.time[res.n_origins > 0].max()
    kw = dict(specie="Li", time_step=sc.scalar(1.0, unit="fs"), step_skip=sc.scalar(every, unit=sc.units.dimensionless),
              progress=False)
    for name, fitter, Ana, fn in (("D*", transport.tracer_diffusion, DiffusionAnalyzer, "diffusion"),
                                  ("D_sigma", transport.collective_diffusion, JumpDiffusionAnalyzer, "jump_diffusion")):
        fit = fitter(res, (start_ps, t_end))
        ki = Ana.from_ase(atoms, **kw)
        t0 = time.perf_counter()
        getattr(ki, fn)(sc.scalar(start_ps * 1000, unit="fs"), progress=False, random_state=np.random.RandomState(7))
        samples = (ki.D if name == "D*" else ki.D_J).values
        lo, med, hi = np.percentile(samples, [2.5, 50, 97.5])
        print(f"DP {label} {name}: ionsitu {fit.D:.4g} +- {fit.D_err:.2g} ({fit.err_method}); kinisi median {med:.4g} "
              f"[{lo:.4g}, {hi:.4g}] ({time.perf_counter() - t0:.0f} s) -> "
              f"{'inside' if lo <= fit.D <= hi else 'OUTSIDE'}; window {start_ps:g}-{t_end:g} ps")


def kinisi_gls(analyzer, start_ps):
    """kinisi's own covariance (per-lag variance from the data, Cov_ij = V_i n_i / n_j,
    reconditioned as kinisi does) and the maximum-likelihood line under it (GLS; the
    mode of kinisi's posterior when the slope is positive): (D, sigma_D) in cm^2/s."""
    import scipp as sc
    from kinisi.diffusion import Diffusion

    diff = Diffusion(dg=analyzer.dg)
    diff._start_dt, diff._cond_max, diff._recondition = sc.scalar(start_ps * 1000, unit="fs"), 1e16, False
    t_all = analyzer.dg["da"].coords["time interval"]
    diff.diff_regime = int(np.argwhere((t_all >= diff._start_dt).values)[0][0])
    C = diff.compute_covariance_matrix().values
    t = sc.to_unit(t_all, "ps").values[diff.diff_regime:]
    y = analyzer.dg["da"].data.values[diff.diff_regime:]
    X = np.column_stack([np.ones_like(t), t])
    Ci = np.linalg.pinv(C, hermitian=True)
    cov = np.linalg.inv(X.T @ Ci @ X)
    b = cov @ X.T @ Ci @ y
    return b[1] / 6 * 1e-4, np.sqrt(cov[1, 1]) / 6 * 1e-4   # A^2/ps -> cm^2/s


def kinisi_case(args):
    """Replicas of the T = 0.6 conductor (the trajectory of tests/test_kinisi.py, other
    velocity seeds): ionsitu's D* and D_sigma against kinisi's estimator on the same
    frames, conventions and window, over replicas, so that bias and calibration of both
    can be told apart; kinisi's MCMC interval on the first ``--mcmc`` of them."""
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer, JumpDiffusionAnalyzer

    from ionsitu.io.trajectory import iter_lammps_dump
    from test_kinisi import ionsitu_kinisi_convention, kinisi_interval, kinisi_kw

    base = (ROOT / "examples" / "quick" / "in.ion_conductor").read_text()
    anchor = "run             ${steps}"
    dump = ("dump d all custom 50 dump.lammpstrj id type mass xu yu zu\n"
            "dump_modify d sort id format float %.17g\n")
    rows = []
    for r in range(args.replicas):
        d = Path(args.out) / f"kinisi_T{args.T:g}" / f"rep{r}"
        if not (d / "dump.lammpstrj").exists():
            seed = 4928 if r == 0 else 5000 + 17 * r        # replica 0: the trajectory of tests/test_kinisi.py
            script = (f"variable steps index 10000\nvariable T index {args.T}\nvariable seed index {seed}\n"
                      + base.replace(anchor, dump + anchor))
            run_lmp(d, script)
        frames = list(iter_lammps_dump(d / "dump.lammpstrj"))
        atoms = [Atoms(["Ar" if t == 1 else "Li" for t in f.types], positions=f.positions, cell=f.cell, pbc=True)
                 for f in frames]
        res = ionsitu_kinisi_convention(atoms)
        t_end = res.time[res.n_origins > 0].max()
        win = (args.start, t_end)
        out = {}
        for name, fitter, Ana in (("D*", transport.tracer_diffusion, DiffusionAnalyzer),
                                  ("D_sigma", transport.collective_diffusion, JumpDiffusionAnalyzer)):
            fit = fitter(res, win)
            kd, ke = kinisi_gls(Ana.from_ase(atoms, **kinisi_kw()), args.start)
            out[name] = dict(D=fit.D, err=fit.D_err, model=fit.D_err_model, boot=fit.D_err_boot, resolved=fit.resolved,
                             kD=kd, kerr=ke, method=fit.err_method,
                             inside=abs(fit.D - kd) <= 1.96 * ke)   # kinisi's interval ~ ML +- 1.96 sigma
            if r < args.mcmc:
                lo, med, hi, sd = kinisi_interval(atoms, args.start, collective=name == "D_sigma")
                inside = lo <= fit.D <= hi
                out[name].update(lo=lo, med=med, hi=hi)
                print(f"rep {r} {name}: ionsitu {fit.D:.3g} +- {fit.D_err:.2g} ({fit.err_method}); kinisi MCMC median "
                      f"{med:.3g} [{lo:.3g}, {hi:.3g}] -> {'inside' if inside else 'OUTSIDE'}; kinisi ML {kd:.3g} +- {ke:.2g}")
        out["res"] = res
        rows.append(out)
    # the replica-mean MSD: its slope on sub-windows (is the window linear? what is the truth?)
    t, v = rows[0]["res"].time, rows[0]["res"].n_origins > 0
    for name, key in (("D*", "msd"), ("D_sigma", "coll")):
        y = np.mean([getattr(o["res"], key) for o in rows], axis=0)
        subs = [(args.start, 4.0), (4.0, 8.0), (8.0, 14.0), (14.0, t[v].max()), (args.start, t[v].max())]
        text = ", ".join(f"{lo:g}-{hi:g}: {np.polyfit(t[(t >= lo) & (t <= hi) & v], y[(t >= lo) & (t <= hi) & v], 1)[0] / 6 * 1e-4:.3g}"
                         for lo, hi in subs)
        print(f"{name}: slope/6 of the mean MSD of {len(rows)} replicas (OLS, ps: cm^2/s) {text}")
    print(f"\n{args.replicas} replicas, T = {args.T:g}, window {args.start:g} ps - end, kinisi conventions (cm^2/s):")
    for name in ("D*", "D_sigma"):
        a = {k: np.array([o[name][k] for o in rows], float) for k in ("D", "err", "model", "boot", "kD", "kerr")}
        n = len(rows)
        print(f"{name}: ionsitu mean {a['D'].mean():.3g} (sem {a['D'].std(ddof=1) / np.sqrt(n):.2g}), spread "
              f"{a['D'].std(ddof=1):.3g}, mean reported sigma {a['err'].mean():.3g} "
              f"({a['err'].mean() / a['D'].std(ddof=1):.2f}x; model {a['model'].mean() / a['D'].std(ddof=1):.2f}x, "
              f"ion resampling {a['boot'].mean() / a['D'].std(ddof=1):.2f}x)")
        print(f"{name}: kinisi ML  mean {a['kD'].mean():.3g} (sem {a['kD'].std(ddof=1) / np.sqrt(n):.2g}), spread "
              f"{a['kD'].std(ddof=1):.3g}, mean GLS sigma under its covariance {a['kerr'].mean():.3g} "
              f"({a['kerr'].mean() / a['kD'].std(ddof=1):.2f}x); mean difference ionsitu - kinisi "
              f"{(a['D'] - a['kD']).mean():.2g} (sd {(a['D'] - a['kD']).std(ddof=1):.2g}); ionsitu inside kinisi's "
              f"ML +- 1.96 sigma on {sum(o[name]['inside'] for o in rows)}/{n}")
    both = [r for r, o in enumerate(rows) if o["D*"]["inside"] and o["D_sigma"]["inside"]]
    print(f"D* and D_sigma both inside kinisi's (ML +- 1.96 sigma) interval on {len(both)}/{len(rows)} replicas: {both}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "validate"))
    sub = ap.add_subparsers(dest="case", required=True)
    c = sub.add_parser("caged")
    c.add_argument("--T", type=float, default=0.3)
    c.add_argument("--replicas", type=int, default=20)
    c.add_argument("--tau", type=float, default=40.0)
    c.add_argument("--long-tau", type=float, default=400.0)
    p = sub.add_parser("dpmd")
    p.add_argument("--T", type=float, default=800.0)
    p.add_argument("--ps", type=float, default=10.0)
    p.add_argument("--segments", type=int, default=20)
    p.add_argument("--np", type=int, default=1, help="MPI ranks for the DP run")
    p.add_argument("--window-start", type=float, default=0.0, help="ps (default: the automatic window)")
    p.add_argument("--kinisi", type=int, default=0, help="segments also compared with kinisi's MCMC interval")
    k = sub.add_parser("kinisi")
    k.add_argument("--T", type=float, default=0.6)
    k.add_argument("--start", type=float, default=2.0, help="window start (tau read as ps)")
    k.add_argument("--replicas", type=int, default=20)
    k.add_argument("--mcmc", type=int, default=2, help="replicas that also get kinisi's MCMC interval")
    args = ap.parse_args()
    {"caged": caged, "dpmd": dpmd, "kinisi": kinisi_case}[args.case](args)


if __name__ == "__main__":
    main()

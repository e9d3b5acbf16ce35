"""Campaign report: transport per temperature, Arrhenius fits, model deviation, failures.

Built from whatever members of a :class:`ionsitu.campaign.Campaign` have completed, at
any time. Written as

- ``report.json``: versioned schema ``ionsitu-campaign-report`` (``version`` 1); every
  number comes from :mod:`ionsitu.transport` (per temperature, replicas pooled: mean and
  standard error over replicas) and :mod:`ionsitu.arrhenius`; non-finite numbers are null;
- ``report.html``: one self-contained page (plots embedded as PNG data) with the tables
  and figures: MSD log-log per temperature with the fit window, Arrhenius plot with the
  confidence band and the extrapolation. The PNG files are also kept in ``plots/``.

Schema versions: 1 = transport, Arrhenius, model deviation, failures. 2 (this version) adds,
when the campaign has the analyses, per temperature ``hops`` ([analysis.hop_events]) and
``occupancy`` ([analysis.occupancy_grid]), ``arrhenius.jump_diffusivity`` and
``arrhenius.hop_rate``, ``conventions.hops`` / ``conventions.occupancy`` and the top-level
``hops`` (jump classes, attempt frequency and its source) and ``occupancy`` (files); every
version-1 key is unchanged. 2.1 (``version`` 2, ``version_minor`` 1; keys added compatibly)
adds the chance level of the correlated hops: per temperature ``correlated_chance_fraction``,
``correlated_excess_fraction`` (each with ``_err``), ``correlated_z`` and
``correlated_ions_per_event`` (observed vs chance histogram), per replica the same with
``correlated_chance_fraction_sd`` and ``correlated_p_value``, and ``hops.corr_random`` /
``hops.corr_seed``. Also from 2.1 the correlation window is inclusive in whole samples (before,
pairs exactly one window apart could be dropped by the rounding of step x dt, so
``correlated_fraction`` was slightly low).

Hops (per temperature, over the completed replicas; every number from :mod:`ionsitu.hops`
on each member's ``hops.txt``, then mean and standard error over replicas): sites, hops, hop
rate per ion, jump rates per jump class (hop lengths of all members of the campaign
clustered within ``report.jump_rel_tol``; multiplicity from the member's ``sites.txt``),
mean residence (uncensored), D_j = Σ|Δr|²/(6 N t) and D_j/D*, E_a per class
-kB T ln(J_c/(t N_c z_c ν*)) and mean ± sd over classes and over ordered site pairs
(-kB T ln(J_i/(t N ν*)), all N ions: a pair is taken by ~1 ion in a short run), backjump
fraction, correlated-hop fraction (distance/time window). ν* is ``report.attempt_frequency``
(source "config") or, if not given, the Arrhenius prefactor of the per-direction rate of
the most frequent class over the temperatures (source "estimated: ..."; needs >= 2
temperatures). Correlated hops: window ``report.corr_window`` (default 1/ν* when ν* is given
in the config, else 5 samples of the fix: an estimated ν* is an effective prefactor, not a
vibration), cutoff ``report.corr_cutoff`` (default 10 Å, 3 σ in lj), hop
position = midpoint, minimum image in the last cell of the log. Uncorrelated ions also hop
together by chance (the more hops per time and volume, the more), so the observed fraction
comes with its chance level (:func:`ionsitu.hops.correlated_hops`): the same hops with each
ion's hop train circularly shifted in time by an independent random offset over the member's
observed interval, in whole samples of the fix, ``CORR_RANDOM`` = 30 shuffles seeded
``CORR_SEED`` = 0; excess = observed - chance is the correlated part worth publishing.

Occupancy (per temperature): the replicas' ``occupancy.npz`` counts summed (all grids), the
cell the frame-weighted mean; written as ``occupancy/occupancy_T<T>.cube`` (probability
density, lengths in bohr as the fix writes them; lj: σ unchanged) and ``.npz`` (the fix's
layout, :func:`ionsitu.core.read_occupancy` reads it); sites of the merged grid by
:func:`ionsitu.sites.find_sites` (``report.site_threshold``, ``report.site_min_distance``);
a max-projection along c and the ab plane through the densest voxel in the HTML.

Conventions (also stated in the JSON): D* from the self MSD, D_sigma from the collective
MSD in the same (tracer) fit window, H_R = D*/D_sigma, sigma from the charge MSD
(Einstein-Helfand, charges of ``mobile.charges``), Arrhenius of D as ln D vs 1/T and of
sigma as ln(sigma T) vs 1/T (so its Ea is that of D_sigma). Drift: the mass-weighted
centre of mass of the whole system is removed (``fix msd/cross drift all``) unless the
campaign says otherwise.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from . import arrhenius as _arr
from . import transport as _tr
from . import units as _units
from .msd_file import read_msd
from ._json import json_safe

__all__ = ["build", "write", "summary_text", "read_model_devi", "REPORT_SCHEMA", "REPORT_VERSION",
           "REPORT_VERSION_MINOR"]

REPORT_SCHEMA = "ionsitu-campaign-report"
REPORT_VERSION = 2
#: minor version: keys added compatibly within REPORT_VERSION (see the module docstring)
REPORT_VERSION_MINOR = 1

#: chance reference of the correlated hops: shuffles per member and their seed
CORR_RANDOM = 30
CORR_SEED = 0


# --------------------------------------------------------------------------------------
# Model deviation (DeePMD out_file)
# --------------------------------------------------------------------------------------
def read_model_devi(paths) -> np.ndarray:
    """(steps, max force deviation) from DeePMD ``model_devi`` files of one member.

    ``paths`` in attempt order (a resumed member writes a new file per attempt); frames
    of an earlier attempt at or after the first step of a later one are superseded.
    Column ``max_devi_f`` is found by the header (else the 5th column).
    """
    steps, devs = np.zeros(0, np.int64), np.zeros(0)
    for p in paths:
        col = 4
        rows = []
        for line in Path(p).read_text().splitlines():
            if line.startswith("#"):
                names = line[1:].split()
                if "max_devi_f" in names:
                    col = names.index("max_devi_f")
                continue
            parts = line.split()
            if len(parts) > col:
                rows.append((int(float(parts[0])), float(parts[col])))
        if not rows:
            continue
        s = np.array([r[0] for r in rows], np.int64)
        d = np.array([r[1] for r in rows])
        # a step written twice (end of one run, setup of the next): keep the last
        _, last = np.unique(s[::-1], return_index=True)
        idx = np.sort(len(s) - 1 - last)
        s, d = s[idx], d[idx]
        keep = steps < s[0]
        steps, devs = np.concatenate([steps[keep], s]), np.concatenate([devs[keep], d])
    return np.column_stack([steps, devs]) if len(steps) else np.zeros((0, 2))


def _model_devi_files(member_dir: Path) -> list[Path]:
    def attempt(p):
        parts = p.name.split(".")
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 1

    return sorted(member_dir.glob("model_devi*.out"), key=attempt)


# --------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------
def _fit_summary(f: _tr.DiffusionFit) -> dict:
    return {
        "D": f.D, "D_err": f.D_err, "D_xyz": f.D_xyz, "D_xyz_err": f.D_xyz_err, "unit": f.unit,
        "t_start": f.t_start, "t_end": f.t_end, "window_method": f.window_method, "n_lags": f.n_lags,
        "chi2_red": f.chi2_red, "D_err_model": f.D_err_model, "n_replicas": f.n_replicas,
        "replicas_D": [r.D for r in f.replicas] if f.replicas else [f.D], "method": f.method,
        "err_method": f.err_method, "err_inflation": f.err_inflation, "resolved": f.resolved,
        "lower_95": f.lower_95, "upper_95": f.upper_95, "D_xyz_resolved": f.D_xyz_resolved,
    }


def _cond_summary(c: _tr.Conductivity) -> dict:
    return {"sigma": c.sigma, "sigma_err": c.sigma_err, "sigma_xyz": c.sigma_xyz,
            "sigma_xyz_err": c.sigma_xyz_err, "unit": c.unit, "method": c.method,
            "concentration": c.concentration, "concentration_unit": c.concentration_unit,
            "resolved": c.resolved, "upper_95": c.upper_95}


def _arrhenius_summary(fit: _arr.ArrheniusFit, extrap_T, level) -> dict:
    d = {k: getattr(fit, k) for k in ("kind", "convention", "Ea", "Ea_err", "prefactor", "prefactor_err",
                                      "prefactor_unit", "ln_prefactor", "ln_prefactor_err", "r2",
                                      "chi2_red", "n", "weighted")}
    d["T"], d["y"] = fit.T, fit.y
    d["y_err"] = fit.y_err
    d["extrapolation"] = None
    if extrap_T is not None:
        ex = fit.extrapolate(extrap_T, level=level)
        d["extrapolation"] = {"T": ex.T, "value": ex.value, "lo": ex.lo, "hi": ex.hi, "level": ex.level,
                              "quantity": "sigma" if fit.kind == "sigma" else fit.kind}
    return d


# --------------------------------------------------------------------------------------
# Hops (fix hop/events) and occupancy (fix occupancy/grid)
# --------------------------------------------------------------------------------------
def _mean_se(vals):
    """Mean and standard error over replicas (finite values; error None for < 2)."""
    v = np.array([x for x in vals if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None)


def load_hop_runs(members) -> list[dict]:
    """Event logs of the members (``hops.txt``) with their sites: dicts with member, T,
    events, meta, N, time, cell (the log's last box), site_frac (None in site-free mode)."""
    from . import hops as _hops
    from .sites import read_sites

    runs = []
    for m in members:
        path = m.dir / "hops.txt"
        if not path.is_file():
            continue
        ev, meta = _hops.read_events(path)
        sf = None
        if meta.get("mode") == "sites" and (m.dir / "sites.txt").is_file():
            sf = read_sites(m.dir / "sites.txt").frac
        runs.append({"member": m, "T": m.T, "events": ev, "meta": meta, "N": int(meta["natoms"]),
                     "time": _hops.observed_time(meta), "cell": np.array(meta["cell"], float).reshape(3, 3),
                     "site_frac": sf})
    return runs


def hop_defaults(units) -> tuple[float, str]:
    """Default correlated-hop cutoff (10 A in the run's length unit; 3 sigma in lj) and its note."""
    st = _units.get_style(units)
    if st.reduced:
        return 3.0, "3 sigma (lj default)"
    return 10e-10 / st.length_m, "10 A (default)"


def estimate_attempt_frequency(per_T: dict, kB: float):
    """ν* as the Arrhenius prefactor of ``per_T`` {T: rate > 0} (ln rate vs 1/T) -> (nu, fit)."""
    Ts = sorted(T for T, r in per_T.items() if r is not None and r > 0)
    if len(Ts) < 2:
        raise ValueError(f"needs >= 2 temperatures with hops of the class, have {len(Ts)}")
    f = _arr.fit(Ts, [per_T[T] for T in Ts], "D", None, kB=kB)
    return f.prefactor, f


def member_hop_summary(run, classes, T, nu, kB, corr_window, corr_cutoff) -> dict:
    """Every hop number of one member (its own events, ionsitu.hops)."""
    from . import hops as _hops

    ev, meta, N, t = run["events"], run["meta"], run["N"], run["time"]
    site_mode = meta.get("mode") == "sites"
    out = {"member": run["member"].name, "n_sites": meta.get("nsites") if site_mode else None, "n_ions": N,
           "time": t, "n_hops": int(len(ev)), "n_ions_hopped": int(len(np.unique(ev["atom_id"]))),
           "hop_rate": len(ev) / (N * t) if t > 0 else None}
    if t <= 0:
        return out
    out["D_j"] = _hops.jump_diffusivity(ev, N, t).D
    res = ev["residence"][~ev["censored"] & np.isfinite(ev["residence"])]
    out["residence_mean"] = float(res.mean()) if len(res) else None
    out["residence_n"] = int(len(res))
    cs = _hops.jump_class_rates(ev, N, t, classes=classes, site_frac=run["site_frac"], cell=run["cell"])
    out.update(class_count=cs.count, class_rate=cs.rate, class_rate_per_direction=cs.rate_per_direction,
               class_multiplicity=cs.multiplicity, multiplicity_source=cs.multiplicity_source,
               unclassified=cs.unclassified)
    if len(ev) == 0:
        return out
    try:
        tol = None if site_mode else 0.5 * float(meta.get("threshold") or 1.0)
        out["backjump_fraction"] = _hops.backjump_fraction(ev, tol=tol).fraction
    except ValueError:
        out["backjump_fraction"] = None
    ch = _hops.correlated_hops_of_log(ev, meta, corr_window, corr_cutoff, cell=run["cell"], n_random=CORR_RANDOM,
                                      seed=CORR_SEED)
    c = ch.chance
    out.update(correlated_fraction=ch.fraction_collective, correlated_chance_fraction=c.fraction_mean,
               correlated_chance_fraction_sd=c.fraction_sd, correlated_excess_fraction=c.excess,
               correlated_z=c.z, correlated_p_value=c.p_value,
               correlated_ions_per_event={"n": c.n_values, "observed": c.n_counts_observed,
                                          "chance": c.n_counts_mean, "chance_sd": c.n_counts_sd})
    Ea = np.full(len(classes), np.nan)
    if nu is not None and site_mode:
        try:
            ea = _hops.activation_energies(ev, t, T, nu, kB=kB, by="class", classes=classes,
                                           site_frac=run["site_frac"], cell=run["cell"])
            Ea[ea.pairs[:, 0]] = ea.Ea
            out["Ea_class_mean"], out["Ea_class_std"] = ea.mean, ea.std
        except ValueError as exc:
            out["Ea_skipped"] = str(exc)
        try:  # per ordered site pair, N_i = all ions (a pair is taken by ~1 ion in a short run)
            ep = _hops.activation_energies(ev, t, T, nu, kB=kB, by="pair", n_ions=N)
            out.update(Ea_pair_mean=ep.mean, Ea_pair_std=ep.std, Ea_pair_min=ep.min, Ea_pair_max=ep.max,
                       Ea_pair_n=int(len(ep.Ea)))
        except ValueError as exc:
            out["Ea_pair_skipped"] = str(exc)
    out["class_Ea"] = Ea
    return out


def _correlated_pooled(reps) -> dict:
    """Replicas' correlated-hop chance reference pooled: z of the mean excess against the
    chance spread of the mean, sqrt(sum sd_r^2)/n; ions-per-event histograms summed (chance
    sd: sqrt of the summed variances)."""
    r = [x for x in reps if x.get("correlated_excess_fraction") is not None]
    if not r:
        return {}
    sd = np.sqrt(sum(x["correlated_chance_fraction_sd"] ** 2 for x in r)) / len(r)
    exc = float(np.mean([x["correlated_excess_fraction"] for x in r]))
    nmax = max(len(x["correlated_ions_per_event"]["n"]) for x in r)
    obs, ch, var = np.zeros(nmax), np.zeros(nmax), np.zeros(nmax)
    for x in r:
        h = x["correlated_ions_per_event"]
        k = len(h["n"])
        obs[:k] += h["observed"]
        ch[:k] += h["chance"]
        var[:k] += np.nan_to_num(np.asarray(h["chance_sd"], float)) ** 2
    return {"correlated_z": exc / sd if sd > 0 else None,
            "correlated_ions_per_event": {"n": np.arange(1, nmax + 1), "observed": obs.astype(np.int64),
                                          "chance": ch, "chance_sd": np.sqrt(var)}}


def build_hops(camp, by_T, kB) -> tuple[dict | None, dict, list[str]]:
    """(top-level 'hops' dict, {T: per-temperature 'hops' entry}, warnings)."""
    from . import hops as _hops

    if "hop_events" not in camp.conf["analysis"]:
        return None, {}, []
    rc = camp.conf["report"]
    warns = []
    runs = {T: load_hop_runs(by_T[T]) for T in camp.temperatures}
    for T in camp.temperatures:
        missing = [m.name for m in by_T[T] if not (m.dir / "hops.txt").is_file()]
        if missing:
            warns.append(f"T={T:g}: no hops.txt in {', '.join(missing)}")
    allruns = [r for T in camp.temperatures for r in runs[T]]
    classes = _hops.jump_classes([r["events"] for r in allruns], rel_tol=rc["jump_rel_tol"])
    # attempt frequency: given, or the Arrhenius prefactor of the dominant class' per-direction rate
    nu, nu_source, nu_fit = rc.get("attempt_frequency"), "config (report.attempt_frequency)", None
    total = np.zeros(len(classes))
    pre = {}
    for T in camp.temperatures:
        rates = []
        for r in runs[T]:
            if r["time"] > 0:
                cs = _hops.jump_class_rates(r["events"], r["N"], r["time"], classes=classes,
                                            site_frac=r["site_frac"], cell=r["cell"])
                total += cs.count
                rates.append(cs.rate_per_direction)
        pre[T] = rates
    dom = int(np.argmax(total)) if len(total) and total.max() > 0 else None
    if nu is None:
        if dom is None:
            nu_source = "none: no hops"
        else:
            per_T = {T: _mean_se([r[dom] for r in pre[T]])[0] for T in camp.temperatures if pre[T]}
            try:
                nu, nu_fit = estimate_attempt_frequency(per_T, kB)
                nu_source = (f"estimated: Arrhenius prefactor of the per-direction rate J/(t N_c z_c) of jump class "
                             f"{dom} (|dr| = {classes.length[dom]:.4g}, the most frequent) over "
                             f"{nu_fit.n} temperatures (Ea = {nu_fit.Ea:.4g})")
            except ValueError as exc:
                nu_source = f"none: cannot estimate ({exc}); give report.attempt_frequency"
    cutoff, cutoff_src = (rc["corr_cutoff"], "config") if rc.get("corr_cutoff") else hop_defaults(camp.units)
    hcfg = camp.conf["analysis"]["hop_events"]
    if rc.get("corr_window"):
        window, window_src = rc["corr_window"], "config"
    elif rc.get("attempt_frequency"):
        window, window_src = 1.0 / nu, "1/nu* (default with report.attempt_frequency)"
    else:
        window, window_src = 5 * hcfg["nevery"] * camp.conf["campaign"]["timestep"], "5 samples of the fix (default)"
    Dfac = 1.0 if _units.get_style(camp.units).reduced else _units.diffusion_factor(camp.units)
    per_T = {}
    for T in camp.temperatures:
        if not runs[T]:
            continue
        reps = [member_hop_summary(r, classes, T, nu, kB, window, cutoff) for r in runs[T]]
        e = {"members": [r["member"] for r in reps], "n_replicas": len(reps), "mode": hcfg["mode"],
             "n_sites": reps[0]["n_sites"], "n_ions": reps[0]["n_ions"], "time": [r["time"] for r in reps],
             "n_hops": int(sum(r["n_hops"] for r in reps)), "n_hops_per_replica": [r["n_hops"] for r in reps]}
        for k in ("hop_rate", "residence_mean", "backjump_fraction", "correlated_fraction",
                  "correlated_chance_fraction", "correlated_excess_fraction"):
            e[k], e[k + "_err"] = _mean_se([r.get(k) for r in reps])
        e.update(_correlated_pooled(reps))
        dj, dj_err = _mean_se([r.get("D_j") for r in reps])
        e["D_j_run"], e["D_j_run_err"] = dj, dj_err
        e["D_j"] = None if dj is None else dj * Dfac
        e["D_j_err"] = None if dj_err is None else dj_err * Dfac
        cls = []
        for i in range(len(classes)):
            c = {"class": i, "length": classes.length[i]}
            c["count"] = int(sum(int(r["class_count"][i]) for r in reps if "class_count" in r))
            for k in ("rate", "rate_per_direction", "Ea"):
                c[k], c[k + "_err"] = _mean_se([r[f"class_{k}"][i] for r in reps if f"class_{k}" in r])
            c["multiplicity"] = _mean_se([r["class_multiplicity"][i] for r in reps if "class_multiplicity" in r])[0]
            cls.append(c)
        e["classes"] = cls
        ea = {"attempt_frequency": nu}
        for k in ("Ea_class_mean", "Ea_class_std", "Ea_pair_mean", "Ea_pair_std", "Ea_pair_min", "Ea_pair_max"):
            ea[k] = _mean_se([r.get(k) for r in reps])[0]
        skipped = [r["Ea_skipped"] for r in reps if "Ea_skipped" in r]
        pskip = [r["Ea_pair_skipped"] for r in reps if "Ea_pair_skipped" in r]
        if pskip:
            ea["pair_skipped"] = pskip[0]
        if nu is None:
            ea["skipped"] = nu_source
        elif hcfg["mode"] != "sites":
            ea["skipped"] = "site-free events have no jump types"
        elif skipped:
            ea["skipped"] = skipped[0]
        e["activation_energy"] = ea
        e["multiplicity_source"] = reps[0].get("multiplicity_source")
        e["replicas"] = reps
        per_T[T] = e
    top = {"classes": [{"class": i, "length": classes.length[i], "length_min": classes.length_min[i],
                        "length_max": classes.length_max[i], "count": int(total[i])} for i in range(len(classes))],
           "rel_tol": classes.rel_tol, "dominant_class": dom,
           "attempt_frequency": nu, "attempt_frequency_source": nu_source,
           "attempt_frequency_fit": None if nu_fit is None else {"Ea": nu_fit.Ea, "Ea_err": nu_fit.Ea_err,
                                                                 "r2": nu_fit.r2, "T": nu_fit.T, "y": nu_fit.y},
           "corr_window": window, "corr_window_source": window_src, "corr_cutoff": cutoff,
           "corr_cutoff_source": cutoff_src, "corr_random": CORR_RANDOM, "corr_seed": CORR_SEED, "kB": kB}
    return top, per_T, warns


def merge_grids(grids) -> dict:
    """Sum of occupancy grids (dicts of ionsitu.core.read_occupancy): counts summed (all grids
    of each into one), cell and origin the frame-weighted means, nframes summed."""
    shapes = {tuple(g["counts"].shape[1:]) for g in grids}
    if len(shapes) != 1:
        raise ValueError(f"replicas have different grid shapes {sorted(shapes)}")
    w = np.array([g["nframes"] for g in grids], dtype=float)
    if w.sum() <= 0:
        raise ValueError("no frames counted")
    return {"counts": np.sum([g["counts"].sum(axis=0) for g in grids], axis=0),
            "cell": np.sum([wi * g["cell"] for wi, g in zip(w, grids)], axis=0) / w.sum(),
            "origin": np.sum([wi * g["origin"] for wi, g in zip(w, grids)], axis=0) / w.sum(),
            "nframes": float(w.sum()), "meta": grids[0]["meta"]}


def build_occupancy(camp, by_T) -> tuple[dict, dict, list[str]]:
    """({T: per-temperature 'occupancy' entry}, {T: merged grid}, warnings)."""
    if "occupancy_grid" not in camp.conf["analysis"]:
        return {}, {}, []
    from .core import read_occupancy
    from .sites import find_sites

    rc = camp.conf["report"]
    per_T, merged, warns = {}, {}, []
    for T in camp.temperatures:
        ms = [m for m in by_T[T] if (m.dir / "occupancy.npz").is_file()]
        if len(ms) < len(by_T[T]):
            warns.append(f"T={T:g}: no occupancy.npz in {', '.join(m.name for m in by_T[T] if m not in ms)}")
        if not ms:
            continue
        try:
            g = merge_grids([read_occupancy(m.dir / "occupancy.npz") for m in ms])
        except ValueError as exc:
            warns.append(f"T={T:g}: occupancy grids not merged: {exc}")
            continue
        shape = g["counts"].shape
        edge = np.linalg.norm(g["cell"], axis=1) / np.array(shape)
        mind = rc.get("site_min_distance")
        mind = float(2 * edge.mean()) if mind is None else mind
        entry = {"members": [m.name for m in ms], "n_replicas": len(ms), "shape": list(shape),
                 "nframes": g["nframes"], "cell": g["cell"], "origin": g["origin"], "positions": float(g["counts"].sum())}
        try:
            ss = find_sites(g["counts"], g["cell"], g["origin"], threshold=rc["site_threshold"], min_distance=mind)
            entry.update(n_sites_found=ss.sites.n, site_threshold=rc["site_threshold"], site_min_distance=mind,
                         density_max=float(ss.density.max()),
                         occupancy_in_sites=float(np.nansum(ss.sites.occupancy)))
        except ValueError as exc:
            entry["sites_error"] = str(exc)
        per_T[T] = entry
        merged[T] = g
    return per_T, merged, warns


# --------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------
def _transport_kw(camp):
    w = camp.conf["report"].get("window")
    return {"window": tuple(w) if w else None}


def analyse_temperature(camp, T, members) -> tuple[object, list]:
    """``ionsitu.transport.analyse`` of the completed replicas at T (MSD files), and them."""
    results = [read_msd(m.dir / "msd.dat") for m in members]
    z = camp.conf["mobile"]["charges"][0] if len(camp.conf["mobile"]["types"]) == 1 else 1.0
    rep = _tr.analyse(results if len(results) > 1 else results[0], T, z=z, **_transport_kw(camp))
    return rep, results


def build(camp) -> dict:
    """The report dictionary (see the module docstring); nothing is written."""
    from . import __version__
    from .campaign import read_status

    conf = camp.conf
    units = camp.units
    style = _units.get_style(units)
    reduced = style.reduced
    kB = 1.0 if reduced else _units.KB_EV
    rep_conf = conf["report"]
    level = rep_conf["confidence"]
    extrap_T = rep_conf.get("extrapolate_to")
    warn_list: list[str] = []

    members, failed = [], []
    by_T: dict[float, list] = {T: [] for T in camp.temperatures}
    for m in camp.members:
        st = read_status(m) or {}
        state = st.get("state", "pending")
        members.append({"name": m.name, "T": m.T, "replica": m.replica, "seed": m.seed, "state": state,
                        "step": st.get("step", 0), "target_step": camp.target_step,
                        "error": st.get("error"), "wall_seconds": st.get("wall_seconds"),
                        "attempts": len(st.get("attempts", []))})
        if state == "failed":
            failed.append({"name": m.name, "T": m.T, "replica": m.replica, "error": st.get("error"),
                           "error_key": st.get("error_key"), "error_command": st.get("error_command"),
                           "step": st.get("step")})
        if state == "completed" and (m.dir / "msd.dat").is_file():
            by_T[m.T].append(m)

    temps, curves = [], {}
    md_conf = (rep_conf["model_devi_threshold"], rep_conf["model_devi_max_fraction"])
    md_any = False
    for T in camp.temperatures:
        entry = {"T": T, "members": [m.name for m in by_T[T]], "n_replicas": len(by_T[T]),
                 "status": "ok", "error": None}
        # model deviation (all frames of the completed members: equilibration and production)
        frames = [read_model_devi(_model_devi_files(m.dir)) for m in by_T[T]]
        frames = [f for f in frames if len(f)]
        if frames:
            md_any = True
            dev = np.concatenate([f[:, 1] for f in frames])
            above = int((dev > md_conf[0]).sum())
            frac = above / len(dev)
            entry["model_deviation"] = {"frames": len(dev), "above": above, "fraction_above": frac,
                                        "max": float(dev.max()), "mean": float(dev.mean()),
                                        "flagged": frac > md_conf[1]}
        if not by_T[T]:
            entry.update(status="no completed member", error="no completed member yet")
            temps.append(entry)
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rep, results = analyse_temperature(camp, T, by_T[T])
            warn_list += [f"T={T:g}: {w.message}" for w in caught]
        except Exception as exc:  # noqa: BLE001 - e.g. no Fickian window yet; say so
            entry.update(status="analysis failed", error=f"{type(exc).__name__}: {exc}")
            temps.append(entry)
            continue
        cond = rep.charge_conductivity or rep.conductivity
        entry.update({
            "tracer": _fit_summary(rep.tracer), "collective": _fit_summary(rep.collective),
            "haven": {"H": rep.haven.H, "H_err": rep.haven.H_err, "H_xyz": rep.haven.H_xyz,
                      "H_xyz_err": rep.haven.H_xyz_err, "resolved": rep.haven.resolved},
            "conductivity": _cond_summary(cond), "drift": rep.drift,
        })
        curves[T] = (results, rep)
        temps.append(entry)

    # hops and occupancy ---------------------------------------------------------------
    hops_top, hops_T, w = build_hops(camp, by_T, kB)
    warn_list += w
    occ_T, occ_grids, w = build_occupancy(camp, by_T)
    warn_list += w
    for e in temps:
        h = hops_T.get(e["T"])
        if h is not None:
            tr = e.get("tracer")
            if tr and tr.get("D") and h["D_j"] is not None:
                h["D_j_over_D_tracer"] = h["D_j"] / tr["D"]
                rel = [x for x in ((h["D_j_err"], h["D_j"]), (tr.get("D_err"), tr["D"])) if x[0] is not None]
                h["D_j_over_D_tracer_err"] = (abs(h["D_j_over_D_tracer"]) * math.sqrt(sum((a / b) ** 2 for a, b in rel))
                                              if rel else None)
            else:
                h["D_j_over_D_tracer"] = h["D_j_over_D_tracer_err"] = None
            e["hops"] = h
        if e["T"] in occ_T:
            e["occupancy"] = occ_T[e["T"]]

    # Arrhenius -----------------------------------------------------------------------
    ok = [e for e in temps if e["status"] == "ok"]
    arr: dict = {}
    series = []
    specs = (("tracer", "D*", lambda e: (e["tracer"]["D"], e["tracer"]["D_err"], e["tracer"]["resolved"]), "D", 0),
             ("collective", "D_sigma", lambda e: (e["collective"]["D"], e["collective"]["D_err"],
                                                  e["collective"]["resolved"]), "D", 0),
             ("conductivity", "sigma", lambda e: (e["conductivity"]["sigma"], e["conductivity"]["sigma_err"],
                                                  e["conductivity"]["resolved"]), "sigma", 1))
    for key, label, get, kind, panel in specs:
        if len(ok) < 2:
            arr[key] = {"error": f"needs >= 2 temperatures with results, have {len(ok)}"}
            continue
        T, y, err, skipped = _arr.resolved_points([e["T"] for e in ok], [get(e)[0] for e in ok],
                                                  [get(e)[1] for e in ok], [get(e)[2] for e in ok])
        if len(skipped):
            warn_list.append(f"Arrhenius {label}: unresolved (not significantly > 0) at T = "
                             f"{', '.join(f'{t:g}' for t in skipped)}; those points are not fitted")
        if len(np.unique(T)) < 2:
            arr[key] = {"error": f"needs >= 2 temperatures with a resolved {label}, have {len(np.unique(T))}",
                        "skipped_T_unresolved": skipped}
            continue
        weighted = bool(np.all(np.isfinite(err) & (err > 0)))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                f = _arr.fit(T, y, kind, err if weighted else None, kB=kB)
                d = _arrhenius_summary(f, extrap_T, level)
                d["two_regime"] = None
                if rep_conf["two_regime"] and len(np.unique(T)) >= 5:
                    two = _arr.fit_two_regime(T, y, kind, err if weighted else None, kB=kB)
                    d["two_regime"] = {k: getattr(two, k) for k in (
                        "Tc", "Tc_err", "Tc_range", "Ea_low", "Ea_low_err", "Ea_high", "Ea_high_err",
                        "criterion", "ic_two", "ic_one", "preferred")}
                    d["Tc"] = two.Tc if two.preferred == "two" else None
                else:
                    d["Tc"] = None
            warn_list += [f"Arrhenius {label}: {w.message}" for w in caught]
            d["skipped_T_unresolved"] = skipped
            arr[key] = d
            series.append({"label": label, "T": T, "y": y, "y_err": err, "fit": f, "panel": panel,
                           "unit": ok[0][key]["unit"], "color": {"tracer": "tab:blue", "collective": "tab:red",
                                                                  "conductivity": "tab:green"}[key]})
        except Exception as exc:  # noqa: BLE001
            arr[key] = {"error": f"{type(exc).__name__}: {exc}"}

    hop_series = []
    if hops_top is not None:
        style_D = _units.diffusion_unit(units)
        for key, label, fld, unit, color in (("jump_diffusivity", "D_j (hops)", "D_j", style_D, "tab:orange"),
                                             ("hop_rate", "hop rate per ion", "hop_rate", "1/time", "tab:purple")):
            pts = [e for e in temps if e.get("hops") and e["hops"].get(fld)]
            if len(pts) < 2:
                arr[key] = {"error": f"needs >= 2 temperatures with hops, have {len(pts)}"}
                continue
            T = np.array([e["T"] for e in pts])
            y = np.array([e["hops"][fld] for e in pts], float)
            err = np.array([np.nan if e["hops"][fld + "_err"] is None else e["hops"][fld + "_err"] for e in pts])
            weighted = bool(np.all(np.isfinite(err) & (err > 0)))
            try:
                f = _arr.fit(T, y, "D", err if weighted else None, kB=kB)
                d = _arrhenius_summary(f, None, level)
                d["prefactor_unit"] = unit if key == "hop_rate" else d["prefactor_unit"]
                d["quantity"] = label
                arr[key] = d
                ser = {"label": label, "T": T, "y": y, "y_err": err if weighted else None, "fit": f, "panel": 0,
                       "unit": unit, "color": color}
                (series if key == "jump_diffusivity" else hop_series).append(ser)
            except Exception as exc:  # noqa: BLE001
                arr[key] = {"error": f"{type(exc).__name__}: {exc}"}

    md = None
    if md_any:
        flagged = [e["T"] for e in temps if e.get("model_deviation", {}).get("flagged")]
        md = {"threshold": md_conf[0], "threshold_unit": "eV/A", "max_fraction": md_conf[1],
              "flagged_temperatures": flagged,
              "note": "max force deviation over all recorded frames (equilibration and production) "
                      "of the completed members"}

    data = {
        "schema": REPORT_SCHEMA, "version": REPORT_VERSION, "version_minor": REPORT_VERSION_MINOR, "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ionsitu_version": __version__,
        "campaign": {"name": conf["campaign"]["name"], "config": str(camp.path), "output": str(camp.output),
                     "units": units, "timestep": conf["campaign"]["timestep"],
                     "temperatures": camp.temperatures, "replicas": len(conf["campaign"]["seeds"]),
                     "seeds": conf["campaign"]["seeds"], "equilibration": conf["equilibration"],
                     "production_steps": conf["production"]["steps"],
                     "mobile": {"types": conf["mobile"]["types"], "charges": conf["mobile"]["charges"]},
                     "analysis": conf["analysis"]},
        "conventions": {
            "errors": "1-sigma; with >= 2 replicas: standard error of the replica mean, else the GLS error "
                      "of the single run (ionsitu.transport)",
            "D": "D* from the self MSD, D_sigma from the collective MSD (same fit window), MSD = 2 d D t + c",
            "haven": "H_R = D*/D_sigma",
            "sigma": "Einstein-Helfand from the charge MSD (mobile.charges), total and per direction",
            "arrhenius_D": _arr.KINDS["D"][0], "arrhenius_sigma": _arr.KINDS["sigma"][0],
            "temperature_unit": "reduced (k_B = 1)" if reduced else "K",
            "Ea_unit": "epsilon (reduced)" if reduced else "eV",
            "D_unit": _units.diffusion_unit(units), "sigma_unit": _units.conductivity_unit(units),
            "drift": "mass-weighted centre of mass removed as named per temperature (fix msd/cross drift)",
        },
        "summary": {"members": len(camp.members),
                    "completed": sum(m["state"] == "completed" for m in members),
                    "failed": len(failed),
                    "unfinished": sum(m["state"] not in ("completed", "failed") for m in members)},
        "temperatures": temps, "arrhenius": arr, "model_deviation": md, "failed": failed,
        "members": members, "warnings": warn_list,
        "hops": hops_top, "occupancy": {"files": {}} if occ_grids else None,
    }
    if hops_top is not None:
        data["conventions"]["hops"] = (
            "per temperature: ionsitu.hops on each member's hops.txt, then mean and standard error (_err) over "
            "replicas; rates per ion per time (1/time of the run); jump classes = hop lengths of all members "
            "clustered (gap > report.jump_rel_tol x length), multiplicity z from the member's sites.txt; "
            "rate_per_direction = J/(t N_c z); E_a,c = -kB T ln(J_c/(t N_c z ν*)), Ea_class_mean/std over "
            "classes, Ea_pair_* over ordered site pairs (METHODS formula with N_i = all N ions); ν*: see "
            "hops.attempt_frequency_source; D_j = sum |dr|^2/(6 N t) in D_unit (D_j_run: run units); "
            "D_j_over_D_tracer with D* of the MSD; backjump = returns to the previous site; correlated = hops of "
            "different ions within hops.corr_window and hops.corr_cutoff (midpoints, minimum image), fraction "
            "of hops in groups of >= 2 ions; correlated_chance_fraction = its chance level: the same hops with each "
            "ion's hop train circularly shifted in time by an independent random offset over the member's observed "
            "interval (whole samples of the fix), hops.corr_random shuffles seeded hops.corr_seed, mean over "
            "shuffles (replicas: mean and _err); correlated_excess_fraction = observed - chance; correlated_z = "
            "mean excess / (sqrt(sum of the replicas' chance sd^2) / replicas); correlated_ions_per_event: groups "
            "with n ions summed over replicas, observed vs chance (mean, sd); per replica the same in replicas[]; "
            "residence: uncensored only; arrhenius.hop_rate: ln(hops per ion per "
            "time) vs 1/T")
    if occ_grids:
        data["conventions"]["occupancy"] = (
            "replicas' occupancy.npz summed (all grids), cell = frame-weighted mean; cube: probability density "
            "(integral 1 over the cell), lengths in bohr (lj: sigma unchanged); sites of the merged grid: "
            "ionsitu.sites.find_sites(threshold = report.site_threshold relative, min_distance)")
    data = json_safe(data)
    data["_plot_inputs"] = {"curves": curves, "series": series, "hop_series": hop_series,
                            "occupancy": occ_grids}  # dropped when written
    return data


# --------------------------------------------------------------------------------------
# Write
# --------------------------------------------------------------------------------------
def _plots(camp, data, out: Path) -> dict[str, Path]:
    """PNG files (via ionsitu.plots); {} with a warning when plotting is not possible."""
    inputs = data.get("_plot_inputs") or {}
    paths = {}
    try:
        from . import plots
    except Exception as exc:  # noqa: BLE001 - matplotlib missing: the report still has its tables
        data.setdefault("warnings", []).append(f"no plots: {exc}")
        return paths
    style = _units.get_style(camp.units)
    tunit = "tau" if style.reduced else {"metal": "ps", "real": "fs"}.get(camp.units, "time units")
    lunit = "sigma" if style.reduced else {"metal": "Å", "real": "Å"}.get(camp.units, "")
    pdir = out / "plots"
    for T, (results, rep) in (inputs.get("curves") or {}).items():
        try:
            p = pdir / f"msd_T{T:g}.png"
            plots.plot_msd(results, rep, p, title=f"{camp.conf['campaign']['name']}: T = {T:g}, "
                           f"{len(results)} replica(s)", time_unit=tunit, length_unit=lunit)
            paths[f"msd_T{T:g}"] = p
        except Exception as exc:  # noqa: BLE001
            data.setdefault("warnings", []).append(f"MSD plot at T={T:g} failed: {exc}")
    series = inputs.get("series") or []
    if series:
        try:
            p = pdir / "arrhenius.png"
            plots.plot_arrhenius(series, p, extrapolate_T=camp.conf["report"].get("extrapolate_to"),
                                 reduced=style.reduced, energy_unit="ε" if style.reduced else "eV",
                                 level=camp.conf["report"]["confidence"],
                                 title=camp.conf["campaign"]["name"])
            paths["arrhenius"] = p
        except Exception as exc:  # noqa: BLE001
            data.setdefault("warnings", []).append(f"Arrhenius plot failed: {exc}")
    hop_series = inputs.get("hop_series") or []
    if hop_series:
        try:
            p = pdir / "arrhenius_hops.png"
            plot_hop_rate(hop_series, p, reduced=style.reduced, energy_unit="ε" if style.reduced else "eV",
                          time_unit=tunit, title=f"{camp.conf['campaign']['name']}: hop rate per ion")
            paths["arrhenius_hops"] = p
        except Exception as exc:  # noqa: BLE001
            data.setdefault("warnings", []).append(f"hop-rate Arrhenius plot failed: {exc}")
    if inputs.get("occupancy"):
        try:
            p = pdir / "occupancy.png"
            plot_occupancy(inputs["occupancy"], p, title=f"{camp.conf['campaign']['name']}: occupancy density",
                           length_unit=lunit)
            paths["occupancy"] = p
        except Exception as exc:  # noqa: BLE001
            data.setdefault("warnings", []).append(f"occupancy plot failed: {exc}")
    return paths


def write_cube(path, counts, cell, origin, *, to_bohr: float, comment: str = "") -> Path:
    """Gaussian cube of the probability density of ``counts`` (nx, ny, nz) on ``cell`` (rows
    a, b, c) and ``origin``; lengths times ``to_bohr`` (1 for lj), density per bohr^3; no atoms;
    x slowest, z fastest, six values per line (as fix occupancy/grid writes it). Atomic write."""
    counts = np.asarray(counts, float)
    n = counts.shape
    cellb = np.asarray(cell, float) * to_bohr
    vvox = abs(np.linalg.det(cellb)) / counts.size
    rho = counts / (counts.sum() * vvox) if counts.sum() > 0 else counts
    lines = [comment or "ionsitu campaign report: merged occupancy grid",
             "probability density of the mobile ions (integral over the cell = 1), per bohr^3",
             f"{0:5d} " + " ".join(f"{v:.6f}" for v in np.asarray(origin, float) * to_bohr)]
    for k in range(3):
        lines.append(f"{n[k]:5d} " + " ".join(f"{v:.6f}" for v in cellb[k] / n[k]))
    flat = rho.ravel()  # C order: x slowest, z fastest
    full, rest = divmod(len(flat), 6)  # one %-format of all values (a loop of f-strings took 0.2 s)
    rows = [" ".join(["%.6e"] * 6)] * full + ([" ".join(["%.6e"] * rest)] if rest else [])
    body = ["\n".join(rows) % tuple(flat.tolist())] if len(flat) else []
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines + body) + "\n")
    tmp.replace(path)
    return path


def _write_occupancy(camp, data, out: Path) -> dict:
    """Merged grid per temperature: occupancy/occupancy_T<T>.cube and .npz; returns paths."""
    grids = (data.get("_plot_inputs") or {}).get("occupancy") or {}
    files = {}
    for T, g in grids.items():
        try:
            meta = dict(g["meta"])
            to_bohr = float(meta.get("cube_length_to_bohr", 1.0))
            d = out / "occupancy"
            cube = write_cube(d / f"occupancy_T{T:g}.cube", g["counts"], g["cell"], g["origin"], to_bohr=to_bohr,
                              comment=f"ionsitu campaign {camp.conf['campaign']['name']}: T = {T:g}, replicas merged, "
                                      f"units {camp.units}")
            meta.update(merged_by="ionsitu campaign report", temperature=T)
            npz = d / f"occupancy_T{T:g}.npz"
            tmp = d / f"occupancy_T{T:g}.tmp.npz"
            np.savez(tmp, counts=g["counts"][None], cell=g["cell"], origin=g["origin"], nframes=np.float64(g["nframes"]),
                     types=np.zeros(1, np.int64), meta=np.array(json.dumps(meta)))
            tmp.replace(npz)
            files[f"T{T:g}"] = {"cube": str(cube.relative_to(out)), "npz": str(npz.relative_to(out))}
        except Exception as exc:  # noqa: BLE001
            data.setdefault("warnings", []).append(f"occupancy files at T={T:g} failed: {exc}")
    return files


def plot_occupancy(grids: dict, path, *, title: str = "", length_unit: str = ""):
    """Per temperature (rows): max-projection of the density along c, and the ab plane through
    the densest voxel (log colour scale, densities relative to the maximum)."""
    from matplotlib.colors import LogNorm

    from .plots import figure

    Ts = sorted(grids)
    fig, axes = figure((7.0, 3.2 * len(Ts) + 0.4), len(Ts), 2, margins=(0.6, 1.1, 0.6, 0.45), hspace=0.35,
                       wspace=0.3)
    for row, T in zip(axes, Ts):
        g = grids[T]
        rho = g["counts"] / g["counts"].max()
        k0 = int(np.unravel_index(np.argmax(rho), rho.shape)[2])
        a, b = np.linalg.norm(g["cell"][0]), np.linalg.norm(g["cell"][1])
        for ax, img, what in ((row[0], rho.max(axis=2), "max over c"), (row[1], rho[:, :, k0],
                              f"plane c = {(k0 + 0.5) / rho.shape[2]:.3f} (densest voxel)")):
            im = ax.imshow(np.clip(img.T, 1e-4, None), origin="lower", extent=(0, a, 0, b), cmap="viridis",
                           norm=LogNorm(vmin=1e-4, vmax=1.0), aspect="equal")
            ax.set_title(f"T = {T:g}: {what}", fontsize=9)
            ax.set_xlabel(f"a ({length_unit})" if length_unit else "a")
            ax.set_ylabel(f"b ({length_unit})" if length_unit else "b")
    cb = fig.colorbar(im, ax=axes, label="density / max", shrink=0.6, fraction=0.05)  # one scale for all
    cb.minorticks_off()
    if title:
        fig.suptitle(title, fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return Path(path)


def plot_hop_rate(series, path, *, reduced: bool, energy_unit: str, time_unit: str, title: str = ""):
    """Arrhenius plot of the hop rate per ion (points ± replica error, fitted line)."""
    from .plots import figure

    fig, ((ax,),) = figure((6.4, 3.8))
    scale = 1.0 if reduced else 1000.0
    for s in series:
        T, y = np.asarray(s["T"], float), np.asarray(s["y"], float)
        ax.errorbar(scale / T, y, yerr=s.get("y_err"), fmt="o", color=s.get("color"), capsize=3,
                    label=f"{s['label']} (1/{time_unit})")
        f = s.get("fit")
        if f is not None:
            Tg = 1.0 / np.linspace(1 / T.max() * 0.98, 1 / T.min() * 1.02, 100)
            ax.plot(scale / Tg, f.prefactor * np.exp(-f.Ea / (f.kB * Tg)), "-", color=s.get("color"),
                    label=f"fit: Ea = {f.Ea:.3g} ± {f.Ea_err:.2g} {energy_unit}")
    ax.set_yscale("log")
    ax.set_xlabel("1/T (reduced)" if reduced else "1000/T (1/K)")
    ax.set_ylabel(f"hops per ion per {time_unit}")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return Path(path)


def write(camp, data: dict | None = None, out_dir=None) -> dict:
    """Write report.json, report.html and plots/ (default: the campaign's output folder)."""
    data = build(camp) if data is None else data
    out = Path(out_dir) if out_dir else camp.output
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(camp, data, out)
    if data.get("occupancy") is not None:
        data["occupancy"]["files"] = _write_occupancy(camp, data, out)
    clean = {k: v for k, v in data.items() if not k.startswith("_")}
    clean["plots"] = {k: str(p.relative_to(out)) for k, p in pngs.items()}
    data["plots"] = clean["plots"]
    jpath, hpath = out / "report.json", out / "report.html"
    tmp = jpath.with_name("report.json.tmp")
    tmp.write_text(json.dumps(clean, indent=1) + "\n")
    tmp.replace(jpath)
    tmp = hpath.with_name("report.html.tmp")
    tmp.write_text(_html(clean, pngs))
    tmp.replace(hpath)
    return {"json": jpath, "html": hpath, "plots": pngs}


def _pm(v, e, fmt=".4g"):
    if v is None:
        return "–"
    return f"{v:{fmt}} ± {e:.2g}" if e is not None else f"{v:{fmt}}"


def _shown(d: dict, vkey: str, ekey: str, fmt=".4g") -> str:
    """value ± error of a summary dict, or '< upper (unresolved)' when it is not resolved."""
    if d.get("resolved", True):
        return _pm(d[vkey], d[ekey], fmt)
    up = d.get("upper_95")
    return "unresolved" if up is None else f"< {up:.3g} (unresolved)"


def _chance_text(hp) -> str:
    """' (chance x ± e, excess y ± e, z z)' of a temperature's hops entry, '' without a reference."""
    if hp.get("correlated_chance_fraction") is None:
        return ""
    z = hp.get("correlated_z")
    return (f" (chance {_pm(hp['correlated_chance_fraction'], hp.get('correlated_chance_fraction_err'), '.3g')}, "
            f"excess {_pm(hp['correlated_excess_fraction'], hp.get('correlated_excess_fraction_err'), '+.3g')}"
            + (f", z {z:.2g})" if z is not None else ")"))


def summary_text(data: dict) -> str:
    """A few lines for the terminal."""
    c = data["campaign"]
    conv = data["conventions"]
    s = data["summary"]
    lines = [f"{c['name']}: {s['completed']}/{s['members']} members completed, {s['failed']} failed, "
             f"{s['unfinished']} unfinished"]
    for e in data["temperatures"]:
        if e["status"] != "ok":
            lines.append(f"  T = {e['T']:g}: {e['error']}")
            continue
        lines.append(f"  T = {e['T']:g} ({e['n_replicas']} rep.): D* = {_shown(e['tracer'], 'D', 'D_err')}, "
                     f"D_sigma = {_shown(e['collective'], 'D', 'D_err')} {conv['D_unit']}, "
                     f"H_R = {_shown(e['haven'], 'H', 'H_err', '.3g')}, "
                     f"sigma = {_shown(e['conductivity'], 'sigma', 'sigma_err')}")
    for key, label in (("tracer", "D*"), ("collective", "D_sigma"), ("conductivity", "sigma T")):
        a = data["arrhenius"].get(key) or {}
        if "Ea" in a:
            ex = a.get("extrapolation")
            x = (f", at T = {ex['T']:g}: {ex['value']:.3g} [{ex['lo']:.3g}, {ex['hi']:.3g}]" if ex else "")
            lines.append(f"  Arrhenius {label}: Ea = {_pm(a['Ea'], a['Ea_err'])} {conv['Ea_unit']}, "
                         f"R^2 = {a['r2']:.4f}{x}")
    h = data.get("hops")
    if h:
        lines.append(f"  hops: nu* = {_pm(h['attempt_frequency'], None)} ({h['attempt_frequency_source']}); "
                     f"{len(h['classes'])} jump class(es) by length: "
                     + ", ".join(f"{c['length']:.4g} ({c['count']})" for c in h["classes"][:6]))
    for e in data["temperatures"]:
        hp = e.get("hops")
        if hp:
            ea = hp["activation_energy"]
            dom = h.get("dominant_class") if h else None
            eas = (f", Ea(class {dom}) = {_pm(hp['classes'][dom]['Ea'], hp['classes'][dom]['Ea_err'], '.3g')}"
                   if dom is not None and hp["classes"] and hp["classes"][dom]["Ea"] is not None else
                   (f", Ea: {ea['skipped']}" if ea.get("skipped") else ""))
            lines.append(f"  T = {e['T']:g} hops: {hp['n_hops']} in {hp['n_replicas']} rep., rate/ion "
                         f"{_pm(hp['hop_rate'], hp['hop_rate_err'], '.3g')}, D_j = {_pm(hp['D_j'], hp['D_j_err'])}, "
                         f"D_j/D* = {_pm(hp.get('D_j_over_D_tracer'), hp.get('D_j_over_D_tracer_err'), '.3g')}, "
                         f"backjumps {_pm(hp['backjump_fraction'], hp['backjump_fraction_err'], '.3g')}, "
                         f"correlated {_pm(hp['correlated_fraction'], hp['correlated_fraction_err'], '.3g')}"
                         f"{_chance_text(hp)}{eas}")
        oc = e.get("occupancy")
        if oc and "n_sites_found" in oc:
            lines.append(f"  T = {e['T']:g} occupancy: {oc['n_replicas']} grid(s) {oc['shape']}, "
                         f"{oc['n_sites_found']} sites found")
    for key, label in (("jump_diffusivity", "D_j"), ("hop_rate", "hop rate")):
        a = data["arrhenius"].get(key) or {}
        if "Ea" in a:
            lines.append(f"  Arrhenius {label}: Ea = {_pm(a['Ea'], a['Ea_err'])} {conv['Ea_unit']}, R^2 = {a['r2']:.4f}")
    for f in data["failed"]:
        lines.append(f"  FAILED {f['name']}: {f['error']}")
    return "\n".join(lines)


def _html(d: dict, pngs: dict) -> str:
    e_ = html.escape
    c, conv = d["campaign"], d["conventions"]

    def num(v, fmt=".4g"):
        return "–" if v is None else f"{v:{fmt}}"

    def pm(v, e):
        return "–" if v is None else f"{v:.4g} ± {num(e, '.2g')}"

    def xyz(vals, errs):
        if not vals:
            return "–"
        return " / ".join(pm(v, er) for v, er in zip(vals, errs))

    out = [f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{e_(c['name'])} – ionsitu campaign report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:90%}}td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}
th{{background:#f0f0f0}}td.l,th.l{{text-align:left}}.bad{{color:#b00}}.flag{{background:#fee}}
img{{max-width:100%}}code{{background:#f4f4f4;padding:0 3px}}</style></head><body>
<h1>{e_(c['name'])}</h1>
<p>ionsitu {e_(str(d['ionsitu_version']))} · report schema {e_(d['schema'])} v{d['version']} · {e_(d['generated'])}<br>
config <code>{e_(c['config'])}</code> · units <b>{e_(c['units'])}</b> · timestep {c['timestep']} ·
{d['summary']['completed']}/{d['summary']['members']} members completed, {d['summary']['failed']} failed,
{d['summary']['unfinished']} unfinished</p>
<p>D in {e_(conv['D_unit'])}, σ in {e_(conv['sigma_unit'])}, T {e_(conv['temperature_unit'])}, E<sub>a</sub> in
{e_(conv['Ea_unit'])}. Errors: {e_(conv['errors'])}. {e_(conv['sigma'])}.</p>
<h2>Per temperature</h2><table><tr><th>T</th><th>replicas</th><th>D*</th><th>D_σ</th><th>H_R</th><th>σ</th>
<th>σ x / y / z</th><th>fit window</th></tr>"""]
    for t in d["temperatures"]:
        if t["status"] != "ok":
            out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{t['n_replicas']}</td>"
                       f"<td class='l bad' colspan=6>{e_(str(t['error']))}</td></tr>")
            continue
        tr, co, hv, cd = t["tracer"], t["collective"], t["haven"], t["conductivity"]
        def cell(dd, v, er):
            txt = e_(_shown(dd, v, er))
            return f"<td>{txt}</td>" if dd.get("resolved", True) else f"<td class='flag'>{txt}</td>"

        out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{t['n_replicas']}</td>{cell(tr, 'D', 'D_err')}"
                   f"{cell(co, 'D', 'D_err')}{cell(hv, 'H', 'H_err')}"
                   f"{cell(cd, 'sigma', 'sigma_err')}<td>{xyz(cd['sigma_xyz'], cd['sigma_xyz_err'])}</td>"
                   f"<td>{num(tr['t_start'], '.3g')}–{num(tr['t_end'], '.3g')} ({e_(tr['window_method'])})</td></tr>")
    out.append("</table><table><tr><th>T</th><th class=l>D* x / y / z</th><th class=l>D_σ x / y / z</th>"
               "<th class=l>H_R x / y / z</th></tr>")
    for t in d["temperatures"]:
        if t["status"] == "ok":
            out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{xyz(t['tracer']['D_xyz'], t['tracer']['D_xyz_err'])}</td>"
                       f"<td>{xyz(t['collective']['D_xyz'], t['collective']['D_xyz_err'])}</td>"
                       f"<td>{xyz(t['haven']['H_xyz'], t['haven']['H_xyz_err'])}</td></tr>")
    out.append("</table><h2>Arrhenius</h2><table><tr><th class=l>quantity</th><th class=l>convention</th><th>E<sub>a</sub></th>"
               "<th>prefactor</th><th>R²</th><th>χ²_red</th><th>T_c (bent)</th><th>extrapolation</th></tr>")
    for key, label in (("tracer", "D*"), ("collective", "D_σ"), ("conductivity", "σ")):
        a = d["arrhenius"].get(key) or {}
        if "Ea" not in a:
            out.append(f"<tr><td class=l>{label}</td><td class='l bad' colspan=7>{e_(str(a.get('error')))}</td></tr>")
            continue
        ex = a.get("extrapolation")
        exs = (f"{num(ex['T'], 'g')}: {num(ex['value'], '.3g')} [{num(ex['lo'], '.3g')}, {num(ex['hi'], '.3g')}] "
               f"({int(round(ex['level'] * 100))} %)" if ex else "–")
        tc = "–" if a.get("Tc") is None else num(a["Tc"], ".4g")
        out.append(f"<tr><td class=l>{label}</td><td class=l>{e_(a['convention'])}</td><td>{pm(a['Ea'], a['Ea_err'])}</td>"
                   f"<td>{pm(a['prefactor'], a['prefactor_err'])} {e_(a['prefactor_unit'])}</td><td>{num(a['r2'], '.4f')}</td>"
                   f"<td>{num(a['chi2_red'], '.3g')}</td><td>{tc}</td><td>{exs}</td></tr>")
    out.append("</table>")
    for name, p in pngs.items():
        if name == "arrhenius":
            out.append(_img(p, "Arrhenius plot"))
    out += _html_hops(d, pngs)
    md = d.get("model_deviation")
    if md:
        out.append(f"<h2>Model deviation</h2><p>threshold {md['threshold']} {e_(md['threshold_unit'])}, flagged when more "
                   f"than {md['max_fraction'] * 100:g} % of the frames exceed it ({e_(md['note'])}).</p><table><tr><th>T</th>"
                   "<th>frames</th><th>above</th><th>fraction</th><th>max</th><th>mean</th></tr>")
        for t in d["temperatures"]:
            m = t.get("model_deviation")
            if m:
                cls = " class=flag" if m["flagged"] else ""
                out.append(f"<tr{cls}><td>{num(t['T'], 'g')}</td><td>{m['frames']}</td><td>{m['above']}</td>"
                           f"<td>{m['fraction_above'] * 100:.3g} %</td><td>{num(m['max'], '.3g')}</td>"
                           f"<td>{num(m['mean'], '.3g')}</td></tr>")
        out.append("</table>")
    if d["failed"]:
        out.append("<h2 class=bad>Failed members</h2><table><tr><th class=l>member</th><th>step</th><th class=l>key</th>"
                   "<th class=l>error</th><th class=l>command</th></tr>")
        for f in d["failed"]:
            out.append(f"<tr><td class=l>{e_(f['name'])}</td><td>{f['step']}</td><td class=l>{e_(str(f['error_key']))}</td>"
                       f"<td class=l>{e_(str(f['error']))}</td><td class=l><code>{e_(str(f['error_command']))}</code></td></tr>")
        out.append("</table>")
    out.append("<h2>MSD per temperature</h2>")
    for name, p in pngs.items():
        if name.startswith("msd_"):
            out.append(_img(p, name))
    out.append("<h2>Members</h2><table><tr><th class=l>member</th><th>T</th><th>replica</th><th>seed</th>"
               "<th class=l>state</th><th>step</th><th>attempts</th><th>wall s</th></tr>")
    for m in d["members"]:
        out.append(f"<tr><td class=l>{e_(m['name'])}</td><td>{num(m['T'], 'g')}</td><td>{m['replica']}</td>"
                   f"<td>{m['seed']}</td><td class=l>{e_(m['state'])}</td><td>{m['step']}/{m['target_step']}</td>"
                   f"<td>{m['attempts']}</td><td>{num(m['wall_seconds'], '.3g')}</td></tr>")
    out.append("</table>")
    if d.get("warnings"):
        out.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{e_(w)}</li>" for w in d["warnings"]) + "</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _html_hops(d: dict, pngs: dict) -> list[str]:
    """HTML of the hop and occupancy sections (empty without those analyses)."""
    e_ = html.escape
    out = []

    def num(v, fmt=".4g"):
        return "–" if v is None else f"{v:{fmt}}"

    def pm(v, e, fmt=".4g"):
        return "–" if v is None else (f"{v:{fmt}} ± {num(e, '.2g')}" if e is not None else f"{v:{fmt}}")

    h = d.get("hops")
    temps = d["temperatures"]
    if h:
        conv = d["conventions"]
        out.append("<h2>Hops (fix hop/events)</h2>"
                   f"<p>ν* = {num(h['attempt_frequency'])} per time unit: {e_(str(h['attempt_frequency_source']))}. "
                   f"Correlated hops: window {num(h['corr_window'])} ({e_(h['corr_window_source'])}), cutoff "
                   f"{num(h['corr_cutoff'])} ({e_(h['corr_cutoff_source'])}). Jump classes (hop lengths within "
                   f"{h['rel_tol'] * 100:g} %): "
                   + ", ".join(f"{c['class']}: |Δr| = {c['length']:.4g} ({c['count']} hops)" for c in h["classes"])
                   + f".<br><small>{e_(conv.get('hops', ''))}</small></p>")
        out.append("<table><tr><th>T</th><th>replicas</th><th>sites</th><th>hops</th><th>hop rate / ion</th>"
                   "<th>mean residence</th><th>D_j</th><th>D_j / D*</th><th>E<sub>a</sub> classes mean ± sd</th>"
                   "<th>E<sub>a</sub> site pairs mean ± sd</th><th>backjumps</th><th>correlated</th>"
                   "<th>chance</th><th>excess</th><th>z</th></tr>")
        for t in temps:
            hp = t.get("hops")
            if not hp:
                continue
            ea = hp["activation_energy"]
            eac = (e_(ea["skipped"]) if ea.get("skipped") else
                   f"{num(ea['Ea_class_mean'])} ± {num(ea['Ea_class_std'], '.2g')}")
            eap = ("–" if ea.get("skipped") else f"{num(ea['Ea_pair_mean'])} ± {num(ea['Ea_pair_std'], '.2g')} "
                   f"[{num(ea['Ea_pair_min'], '.3g')}, {num(ea['Ea_pair_max'], '.3g')}]")
            out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{hp['n_replicas']}</td><td>{num(hp['n_sites'], 'd')}</td>"
                       f"<td>{hp['n_hops']}</td><td>{pm(hp['hop_rate'], hp['hop_rate_err'])}</td>"
                       f"<td>{pm(hp['residence_mean'], hp['residence_mean_err'])}</td>"
                       f"<td>{pm(hp['D_j'], hp['D_j_err'])}</td>"
                       f"<td>{pm(hp.get('D_j_over_D_tracer'), hp.get('D_j_over_D_tracer_err'), '.3g')}</td>"
                       f"<td class=l>{eac}</td><td class=l>{eap}</td>"
                       f"<td>{pm(hp['backjump_fraction'], hp['backjump_fraction_err'], '.3g')}</td>"
                       f"<td>{pm(hp['correlated_fraction'], hp['correlated_fraction_err'], '.3g')}</td>"
                       f"<td>{pm(hp.get('correlated_chance_fraction'), hp.get('correlated_chance_fraction_err'), '.3g')}</td>"
                       f"<td>{pm(hp.get('correlated_excess_fraction'), hp.get('correlated_excess_fraction_err'), '+.3g')}"
                       f"</td><td>{num(hp.get('correlated_z'), '.2g')}</td></tr>")
        hists = [(t["T"], t["hops"]["correlated_ions_per_event"]) for t in temps
                 if (t.get("hops") or {}).get("correlated_ions_per_event")]
        if hists:
            nshow = 8
            out.append("</table><p>Correlated hops: groups (events) with n ions, observed / chance (the same hops, "
                       "each ion's hop train shifted in time at random), replicas summed.</p><table><tr><th>T</th>"
                       + "".join(f"<th>n = {n}</th>" for n in range(1, nshow + 1)) + f"<th>n &gt; {nshow}</th></tr>")
            for T, hh in hists:
                obs, ch = list(hh["observed"]), list(hh["chance"])
                cells = [f"{o} / {num(c, '.1f')}" for o, c in zip(obs[:nshow], ch[:nshow])]
                cells += ["–"] * (nshow - len(cells))
                cells.append(f"{sum(obs[nshow:])} / {num(float(sum(ch[nshow:])), '.1f')}")
                out.append(f"<tr><td>{num(T, 'g')}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("</table><table><tr><th>T</th><th>class</th><th>|Δr|</th><th>z</th><th>hops</th>"
                   "<th>rate / ion</th><th>rate per direction</th><th>E<sub>a</sub></th></tr>")
        for t in temps:
            hp = t.get("hops")
            for c in (hp or {}).get("classes", []):
                if not c["count"]:
                    continue
                out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{c['class']}</td><td>{num(c['length'])}</td>"
                           f"<td>{num(c['multiplicity'], '.3g')}</td><td>{c['count']}</td>"
                           f"<td>{pm(c['rate'], c['rate_err'])}</td>"
                           f"<td>{pm(c['rate_per_direction'], c['rate_per_direction_err'])}</td>"
                           f"<td>{pm(c['Ea'], c['Ea_err'])}</td></tr>")
        out.append("</table><table><tr><th class=l>Arrhenius</th><th>E<sub>a</sub></th><th>prefactor</th><th>R²</th></tr>")
        for key, label in (("jump_diffusivity", "D_j"), ("hop_rate", "hop rate per ion")):
            a = d["arrhenius"].get(key) or {}
            if "Ea" in a:
                out.append(f"<tr><td class=l>{label}</td><td>{pm(a['Ea'], a['Ea_err'])}</td>"
                           f"<td>{pm(a['prefactor'], a['prefactor_err'])} {e_(str(a['prefactor_unit']))}</td>"
                           f"<td>{num(a['r2'], '.4f')}</td></tr>")
            else:
                out.append(f"<tr><td class=l>{label}</td><td class='l bad' colspan=3>{e_(str(a.get('error')))}</td></tr>")
        out.append("</table>")
        if "arrhenius_hops" in pngs:
            out.append(_img(pngs["arrhenius_hops"], "hop rate Arrhenius plot"))
    occ = [t for t in temps if t.get("occupancy")]
    if occ:
        files = (d.get("occupancy") or {}).get("files", {})
        out.append("<h2>Occupancy (fix occupancy/grid)</h2><p><small>"
                   f"{e_(d['conventions'].get('occupancy', ''))}</small></p><table><tr><th>T</th><th>replicas</th>"
                   "<th>grid</th><th>frames</th><th>sites found</th><th>counts in sites</th><th class=l>files</th></tr>")
        for t in occ:
            o = t["occupancy"]
            f = files.get(f"T{t['T']:g}", {})
            out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{o['n_replicas']}</td><td>{'×'.join(map(str, o['shape']))}</td>"
                       f"<td>{num(o['nframes'], '.0f')}</td><td>{o.get('n_sites_found', '–')}</td>"
                       f"<td>{num(o.get('occupancy_in_sites'), '.3f')}</td>"
                       f"<td class=l><code>{e_(f.get('cube', ''))}</code></td></tr>")
        out.append("</table>")
        if "occupancy" in pngs:
            out.append(_img(pngs["occupancy"], "occupancy density slices"))
    return out


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></p>'

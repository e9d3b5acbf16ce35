"""Campaign report, results: every number of the report from the members' files, by calling
the analysis functions (transport, Arrhenius, hops, sites) -- the one place that does so.
Rendering is in :mod:`ionsitu.report.html` and :mod:`ionsitu.report.plots`.

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
2.2 (``version_minor`` 2) adds the top-level ``rdf`` ([analysis.rdf]) and ``doas``
([analysis.doas]), null without those analyses: built by :mod:`ionsitu.report.structure`
(conventions in docs/structure.md).
2.2 also: with [analysis.vacf] per
temperature ``vibrations`` (:mod:`ionsitu.report.vibrations`: VDOS mean/peak frequency, ν* per
species with its spread over ions); the hop E_a per jump type with N_i the ions of that jump
type (before: all N ions), ν* per temperature in ``hops.activation_energy.attempt_frequency``
(mean over replicas; each member's VDOS with [analysis.vacf]) with the pooled distribution
``Ea_pair_all`` and its ``_mean/_std/_min/_max``; ``hops.attempt_frequency_fit`` is gone (lj
campaigns no longer take ν* from the hop rate's Arrhenius prefactor, which was circular).

Hops (per temperature, over the completed replicas; every number from
:func:`ionsitu.analysis.hops.hop_summary` -- the function ``ionsitu hops`` prints -- on each
member's ``hops.txt``, then mean and standard error over replicas): sites, hops, hop
rate per ion, jump rates per jump class (hop lengths of all members of the campaign
clustered within ``report.jump_rel_tol``; multiplicity from the member's ``sites.txt``),
mean residence (uncensored), D_j = Σ|Δr|²/(6 N t) and D_j/D*, E_a per class
-kB T ln(J_c/(t N_c z_c ν*)) and mean ± sd over classes and over ordered site pairs
(-kB T ln(J_i/(t N_i ν*)), N_i the ions that made jump type i, as seed 000 defines it) with
the distribution and range per temperature, backjump
fraction, correlated-hop fraction (distance/time window). ν* follows
:func:`ionsitu.analysis.hops.attempt_frequency`, as ``ionsitu hops`` does: ``report.attempt_frequency``
(source "config", an override), else the member's own VDOS when the campaign has
[analysis.vacf] (fix vacf's per-atom VACFs), else 1e13 Hz in the run's time unit; in lj units
(no default) none, and E_a is skipped. Never the Arrhenius prefactor of the hop rate (E_a would
restate the rate's own fit). Correlated hops: window ``report.corr_window``
(default 1/ν* when ν* is given in the config, else 5 samples of the fix), cutoff
``report.corr_cutoff`` (default 10 Å, 3 sigma_LJ in lj), hop
position = midpoint, minimum image in the last cell of the log. Uncorrelated ions also hop
together by chance (the more hops per time and volume, the more), so the observed fraction
comes with its chance level (:func:`ionsitu.analysis.hops.correlated_hops`): the same hops with each
ion's hop train circularly shifted in time by an independent random offset over the member's
observed interval, in whole samples of the fix, ``CORR_RANDOM`` = 30 shuffles seeded
``CORR_SEED`` = 0; excess = observed - chance is the correlated part worth publishing.

Occupancy (per temperature): the replicas' ``occupancy.npz`` counts summed (all grids), the
cell the frame-weighted mean; written as ``occupancy/occupancy_T<T>.cube`` (probability
density, lengths in bohr as the fix writes them; lj: σ unchanged) and ``.npz`` (the fix's
layout, :func:`ionsitu.io.occupancy.read_occupancy` reads it); sites of the merged grid by
:func:`ionsitu.analysis.sites.find_sites` (``report.site_threshold``, ``report.site_min_distance``);
a max-projection along c and the ab plane through the densest voxel in the HTML.

Conventions (also stated in the JSON): D* from the self MSD, D_sigma from the collective
MSD in the same (tracer) fit window, H_R = D*/D_sigma, sigma from the charge MSD
(Einstein-Helfand, charges of ``mobile.charges``), Arrhenius of D as ln D vs 1/T and of
sigma as ln(sigma T) vs 1/T (so its Ea is that of D_sigma). Drift: the mass-weighted
centre of mass of the whole system is removed (``fix msd/cross drift all``) unless the
campaign says otherwise.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from .. import units as _units
from ..analysis import arrhenius as _arr
from ..analysis import hops as _hops
from ..analysis import transport as _tr
from ..analysis.sites import find_sites
from ..analysis.vibrations import read_vacf_atoms
from ..io.events import read_events
from ..io.jsonsafe import json_safe
from ..io.model_devi import model_devi_files, read_model_devi
from ..io.msd import read_msd
from ..io.occupancy import merge_grids, read_occupancy
from ..io.sites import read_sites
from .sitemaps import build_site_maps
from .structure import build_doas, build_rdf
from .vibrations import build_vibrations

__all__ = ["build", "REPORT_SCHEMA", "REPORT_VERSION", "REPORT_VERSION_MINOR", "CORR_RANDOM", "CORR_SEED"]

REPORT_SCHEMA = "ionsitu-campaign-report"
REPORT_VERSION = 2
#: minor version: keys added compatibly within REPORT_VERSION (see the module docstring)
REPORT_VERSION_MINOR = 2

#: chance reference of the correlated hops: shuffles per member and their seed (hop_summary's)
CORR_RANDOM = _hops.summary.CORR_RANDOM
CORR_SEED = _hops.summary.CORR_SEED


# --------------------------------------------------------------------------------------
# Model deviation (DeePMD out_file)
# --------------------------------------------------------------------------------------
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
def load_hop_runs(camp, members) -> list[dict]:
    """Event logs of the members (output ``events`` of [analysis.hop_events]) with their sites:
    dicts with member, T, events, meta, N, time, cell (the log's last box), site_frac (None in
    site-free mode), vacf_atoms (the member's per-atom VACFs of [analysis.vacf], else None)."""
    return [hop_run(camp.outputs(m)["events"], camp.outputs(m).get("sites"), m, m.T, camp.outputs(m).get("vacf_atoms"))
            for m in members if camp.outputs(m)["events"].is_file()]


def hop_run(events_path, sites_path=None, member=None, T=None, vacf_atoms_path=None) -> dict:
    """One event log as :func:`member_hop_summary` takes it (see :func:`load_hop_runs`); the
    sites from ``sites_path`` in site mode when that file exists, the per-atom VACFs from
    ``vacf_atoms_path`` when that file exists."""
    ev, meta = read_events(events_path)
    sf = None
    if meta.get("mode") == "sites" and sites_path is not None and Path(sites_path).is_file():
        sf = read_sites(sites_path).frac
    va = read_vacf_atoms(vacf_atoms_path) if vacf_atoms_path is not None and Path(vacf_atoms_path).is_file() else None
    return {"member": member, "T": T, "events": ev, "meta": meta, "N": int(meta["natoms"]), "vacf_atoms": va,
            "time": _hops.observed_time(meta), "cell": np.array(meta["cell"], float).reshape(3, 3),
            "site_frac": sf}


def member_hop_summary(run, classes, T, nu, nu_source, corr_window, corr_cutoff) -> dict:
    """Every hop number of one member: :func:`ionsitu.analysis.hops.hop_summary` of its log."""
    ev, meta, N, t = run["events"], run["meta"], run["N"], run["time"]
    s = _hops.hop_summary(ev, meta, temperature=T, attempt_frequency=nu, attempt_frequency_source=nu_source,
                          classes=classes, site_frac=run["site_frac"], corr_window=corr_window,
                          corr_cutoff=corr_cutoff, corr_random=CORR_RANDOM, corr_seed=CORR_SEED,
                          vacf_atoms=run.get("vacf_atoms"))
    out = {"member": getattr(run["member"], "name", run["member"]), "n_sites": meta.get("nsites") if s.site_mode else None, "n_ions": N,
           "time": t, "n_hops": s.n_hops, "n_ions_hopped": s.n_ions_hopped, "hop_rate": s.hop_rate,
           "attempt_frequency": s.attempt_frequency, "attempt_frequency_source": s.attempt_frequency_source,
           "attempt_frequency_sd_over_ions": (None if s.attempt_frequency_vdos is None else
                                              s.attempt_frequency_vdos.sd / s.attempt_frequency_vdos.mean
                                              * s.attempt_frequency)}
    if t <= 0:
        return out
    out["D_j"] = s.diffusivity.D
    out["residence_mean"] = float(s.residence.mean()) if len(s.residence) else None
    out["residence_n"] = int(len(s.residence))
    cs = s.classes
    out.update(class_count=cs.count, class_rate=cs.rate, class_rate_per_direction=cs.rate_per_direction,
               class_multiplicity=cs.multiplicity, multiplicity_source=cs.multiplicity_source,
               unclassified=cs.unclassified)
    if len(ev) == 0:
        return out
    out["backjump_fraction"] = s.backjumps.fraction if s.backjumps is not None else None
    ch = s.correlated
    c = ch.chance
    out.update(correlated_fraction=ch.fraction_collective, correlated_chance_fraction=c.fraction_mean,
               correlated_chance_fraction_sd=c.fraction_sd, correlated_excess_fraction=c.excess,
               correlated_z=c.z, correlated_p_value=c.p_value,
               correlated_ions_per_event={"n": c.n_values, "observed": c.n_counts_observed,
                                          "chance": c.n_counts_mean, "chance_sd": c.n_counts_sd})
    Ea = np.full(len(classes), np.nan)
    if s.attempt_frequency is not None and s.site_mode:
        if s.Ea_class is not None:
            Ea[s.Ea_class.pairs[:, 0]] = s.Ea_class.Ea
            out["Ea_class_mean"], out["Ea_class_std"] = s.Ea_class.mean, s.Ea_class.std
        elif s.Ea_skipped:
            out["Ea_skipped"] = s.Ea_skipped
        ep = s.Ea_pair
        if ep is not None:
            out.update(Ea_pair_mean=ep.mean, Ea_pair_std=ep.std, Ea_pair_min=ep.min, Ea_pair_max=ep.max,
                       Ea_pair_n=int(len(ep.Ea)), Ea_pair_values=ep.Ea)
        elif s.Ea_pair_skipped:
            out["Ea_pair_skipped"] = s.Ea_pair_skipped
    out["class_Ea"] = Ea
    return out


def build_hops(camp, by_T, kB) -> tuple[dict | None, dict, list[str]]:
    """(top-level 'hops' dict, {T: per-temperature 'hops' entry}, warnings)."""
    if "hop_events" not in camp.conf["analysis"]:
        return None, {}, []
    rc = camp.conf["report"]
    warns = []
    runs = {T: load_hop_runs(camp, by_T[T]) for T in camp.temperatures}
    for T in camp.temperatures:
        missing = [m.name for m in by_T[T] if not camp.outputs(m)["events"].is_file()]
        if missing:
            warns.append(f"T={T:g}: no hops.txt in {', '.join(missing)}")
    allruns = [r for T in camp.temperatures for r in runs[T]]
    classes = _hops.jump_classes([r["events"] for r in allruns], rel_tol=rc["jump_rel_tol"])
    total = np.zeros(len(classes))
    for r in allruns:
        if r["time"] > 0:
            total += _hops.jump_class_rates(r["events"], r["N"], r["time"], classes=classes,
                                            site_frac=r["site_frac"], cell=r["cell"]).count
    dom = int(np.argmax(total)) if len(total) and total.max() > 0 else None
    # attempt frequency: the rule of every hop summary (hop_summary, as `ionsitu hops`): the config's
    # override, else each member's VDOS ([analysis.vacf]), else the default (1e13 Hz; lj: none)
    nu = rc.get("attempt_frequency")
    if nu is not None:
        nu_source = "config (report.attempt_frequency)"
    elif "vacf" in camp.conf["analysis"]:
        nu_source = "each member's VDOS (fix vacf atoms: mean over ions of each ion's mean VDOS frequency)"
    else:
        nu, nu_source, _ = _hops.attempt_frequency(camp.units)
    hcfg = camp.conf["analysis"]["hop_events"]
    window, window_src, cutoff, cutoff_src = _hops.correlation_defaults(
        camp.units, hcfg["nevery"], camp.conf["campaign"]["timestep"], rc.get("corr_window"), rc.get("corr_cutoff"),
        rc.get("attempt_frequency"))
    window_src = {"given": "config", "1/nu* (the given attempt frequency)":
                  "1/nu* (default with report.attempt_frequency)"}.get(window_src, window_src)
    cutoff_src = "config" if cutoff_src == "given" else cutoff_src
    Dfac = 1.0 if _units.get_style(camp.units).reduced else _units.diffusion_factor(camp.units)
    per_T = {}
    for T in camp.temperatures:
        if not runs[T]:
            continue
        reps = [member_hop_summary(r, classes, T, rc.get("attempt_frequency"), nu_source, window, cutoff)
                for r in runs[T]]
        e = {"members": [r["member"] for r in reps], "n_replicas": len(reps), "mode": hcfg["mode"],
             "n_sites": reps[0]["n_sites"], "n_ions": reps[0]["n_ions"], "time": [r["time"] for r in reps],
             "n_hops": int(sum(r["n_hops"] for r in reps)), "n_hops_per_replica": [r["n_hops"] for r in reps]}
        for k in ("hop_rate", "residence_mean", "backjump_fraction", "correlated_fraction",
                  "correlated_chance_fraction", "correlated_excess_fraction"):
            e[k], e[k + "_err"] = _hops.mean_se([r.get(k) for r in reps])
        e.update(_hops.pool_correlated(reps))
        dj, dj_err = _hops.mean_se([r.get("D_j") for r in reps])
        e["D_j_run"], e["D_j_run_err"] = dj, dj_err
        e["D_j"] = None if dj is None else dj * Dfac
        e["D_j_err"] = None if dj_err is None else dj_err * Dfac
        cls = []
        for i in range(len(classes)):
            c = {"class": i, "length": classes.length[i]}
            c["count"] = int(sum(int(r["class_count"][i]) for r in reps if "class_count" in r))
            for k in ("rate", "rate_per_direction", "Ea"):
                c[k], c[k + "_err"] = _hops.mean_se([r[f"class_{k}"][i] for r in reps if f"class_{k}" in r])
            c["multiplicity"] = _hops.mean_se([r["class_multiplicity"][i] for r in reps if "class_multiplicity" in r])[0]
            cls.append(c)
        e["classes"] = cls
        ea = {}
        ea["attempt_frequency"], ea["attempt_frequency_err"] = _hops.mean_se([r["attempt_frequency"] for r in reps])
        ea["attempt_frequency_source"] = reps[0]["attempt_frequency_source"]
        ea["attempt_frequency_sd_over_ions"] = _hops.mean_se([r["attempt_frequency_sd_over_ions"] for r in reps])[0]
        for k in ("Ea_class_mean", "Ea_class_std", "Ea_pair_mean", "Ea_pair_std", "Ea_pair_min", "Ea_pair_max"):
            ea[k] = _hops.mean_se([r.get(k) for r in reps])[0]
        # distribution of E_a over the jump types of every replica, and its range
        vals = np.concatenate([r["Ea_pair_values"] for r in reps if "Ea_pair_values" in r] or [np.zeros(0)])
        ea["Ea_pair_all"] = vals
        if len(vals):
            ea["Ea_pair_all_mean"], ea["Ea_pair_all_std"] = float(vals.mean()), (float(vals.std(ddof=1))
                                                                                 if len(vals) > 1 else None)
            ea["Ea_pair_all_min"], ea["Ea_pair_all_max"] = float(vals.min()), float(vals.max())
        skipped = [r["Ea_skipped"] for r in reps if "Ea_skipped" in r]
        pskip = [r["Ea_pair_skipped"] for r in reps if "Ea_pair_skipped" in r]
        if pskip:
            ea["pair_skipped"] = pskip[0]
        if ea["attempt_frequency"] is None:
            ea["skipped"] = ea["attempt_frequency_source"]
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
           "corr_window": window, "corr_window_source": window_src, "corr_cutoff": cutoff,
           "corr_cutoff_source": cutoff_src, "corr_random": CORR_RANDOM, "corr_seed": CORR_SEED, "kB": kB}
    return top, per_T, warns


def build_occupancy(camp, by_T) -> tuple[dict, dict, list[str]]:
    """({T: per-temperature 'occupancy' entry}, {T: merged grid}, warnings)."""
    if "occupancy_grid" not in camp.conf["analysis"]:
        return {}, {}, []

    rc = camp.conf["report"]
    per_T, merged, warns = {}, {}, []
    for T in camp.temperatures:
        ms = [m for m in by_T[T] if camp.outputs(m)["grid"].is_file()]
        if len(ms) < len(by_T[T]):
            warns.append(f"T={T:g}: no occupancy.npz in {', '.join(m.name for m in by_T[T] if m not in ms)}")
        if not ms:
            continue
        try:
            g = merge_grids([read_occupancy(camp.outputs(m)["grid"]) for m in ms])
        except ValueError as exc:
            warns.append(f"T={T:g}: occupancy grids not merged: {exc}")
            continue
        entry = {"members": [m.name for m in ms], "n_replicas": len(ms)}
        summary, ss = occupancy_summary(g, rc["site_threshold"], rc.get("site_min_distance"))
        entry.update(summary)
        if ss is not None:
            g["sites_frac"] = ss.sites.frac   # plot input (the site map)
        per_T[T] = entry
        merged[T] = g
    return per_T, merged, warns


def occupancy_summary(g, threshold, min_distance=None) -> tuple[dict, object]:
    """The report's numbers of one (merged) grid ``g`` (:func:`ionsitu.io.occupancy.merge_grids`)
    and its :class:`ionsitu.analysis.sites.SiteSearch` (None when the search fails, with
    ``sites_error``): sites above ``threshold`` (relative) merged within ``min_distance``
    (default 2 mean voxel edges)."""
    shape = g["counts"].shape
    edge = np.linalg.norm(g["cell"], axis=1) / np.array(shape)
    mind = float(2 * edge.mean()) if min_distance is None else min_distance
    entry = {"shape": list(shape), "nframes": g["nframes"], "cell": g["cell"], "origin": g["origin"],
             "positions": float(g["counts"].sum())}
    ss = None
    try:
        ss = find_sites(g["counts"], g["cell"], g["origin"], threshold=threshold, min_distance=mind)
        entry.update(n_sites_found=ss.sites.n, site_threshold=threshold, site_min_distance=mind,
                     density_max=float(ss.density.max()), occupancy_in_sites=float(np.nansum(ss.sites.occupancy)))
    except ValueError as exc:
        entry["sites_error"] = str(exc)
    return entry, ss


# --------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------
def _transport_kw(camp):
    w = camp.conf["report"].get("window")
    return {"window": tuple(w) if w else None}


def analyse_temperature(camp, T, members) -> tuple[object, list]:
    """``ionsitu.analysis.transport.analyse`` of the completed replicas at T (MSD files), and them."""
    results = [read_msd(camp.outputs(m)["msd"]) for m in members]
    z = camp.conf["mobile"]["charges"][0] if len(camp.conf["mobile"]["types"]) == 1 else 1.0
    rep = _tr.analyse(results if len(results) > 1 else results[0], T, z=z, **_transport_kw(camp))
    return rep, results


def build_segments(camp, T, members) -> dict | None:
    """``ionsitu.analysis.transport.segment_average`` over the production segments of the
    completed replicas at T ([analysis.msd_cross] segments), or None without segments."""
    files = [f for m in members for f in camp.segment_files(m)]
    if not files:
        return None
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        return {"error": f"segment files missing: {missing}"}
    z = camp.conf["mobile"]["charges"][0] if len(camp.conf["mobile"]["types"]) == 1 else 1.0
    try:
        return _tr.segment_average([read_msd(f) for f in files], T, z=z, **_transport_kw(camp)).to_dict()
    except Exception as exc:  # noqa: BLE001 - e.g. a segment without a Fickian window
        return {"error": f"{type(exc).__name__}: {exc}"}


def build(camp) -> dict:
    """The report dictionary (see the module docstring); nothing is written."""
    from .._version import __version__

    conf = camp.conf
    units = camp.units
    kB = _units.boltzmann(units)
    rep_conf = conf["report"]
    level = rep_conf["confidence"]
    extrap_T = rep_conf.get("extrapolate_to")
    warn_list: list[str] = []

    members, failed = [], []
    by_T: dict[float, list] = {T: [] for T in camp.temperatures}
    statuses = camp.statuses()
    for m in camp.members:
        st = statuses.get(m.name) or {}
        state = st.get("state", "pending")
        members.append({"name": m.name, "T": m.T, "replica": m.replica, "seed": m.seed, "state": state,
                        "step": st.get("step", 0), "target_step": camp.target_step,
                        "error": st.get("error"), "wall_seconds": st.get("wall_seconds"),
                        "attempts": len(st.get("attempts", []))})
        if state == "failed":
            failed.append({"name": m.name, "T": m.T, "replica": m.replica, "error": st.get("error"),
                           "error_key": st.get("error_key"), "error_command": st.get("error_command"),
                           "step": st.get("step")})
        if state == "completed" and camp.outputs(m)["msd"].is_file():
            by_T[m.T].append(m)

    temps, curves = [], {}
    md_conf = (rep_conf["model_devi_threshold"], rep_conf["model_devi_max_fraction"])
    md_any = False
    for T in camp.temperatures:
        entry = {"T": T, "members": [m.name for m in by_T[T]], "n_replicas": len(by_T[T]),
                 "status": "ok", "error": None}
        # model deviation (all frames of the completed members: equilibration and production)
        frames = [read_model_devi(model_devi_files(m.dir)) for m in by_T[T]]
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
        seg = build_segments(camp, T, by_T[T])
        if seg is not None:
            entry["segments"] = seg
        curves[T] = (results, rep)
        temps.append(entry)

    # hops and occupancy ---------------------------------------------------------------
    hops_top, hops_T, w = build_hops(camp, by_T, kB)
    warn_list += w
    occ_T, occ_grids, w = build_occupancy(camp, by_T)
    warn_list += w
    vib_T, vdos_curves, w = build_vibrations(camp, by_T)
    warn_list += w
    for e in temps:
        if e["T"] in vib_T:
            e["vibrations"] = vib_T[e["T"]]
        h = hops_T.get(e["T"])
        if h is not None:
            tr = e.get("tracer")
            if tr and tr.get("D") and h["D_j"] is not None:
                h["D_j_over_D_tracer"], h["D_j_over_D_tracer_err"] = _hops.ratio_with_error(
                    h["D_j"], h["D_j_err"], tr["D"], tr.get("D_err"))
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
             ("conductivity", "conductivity", lambda e: (e["conductivity"]["sigma"], e["conductivity"]["sigma_err"],
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
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                f = _arr.fit_weighted(T, y, kind, err, kB=kB, units=units)
                weighted = f.weighted
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
        lab = _units.labels(units)
        for key, label, fld, kind, unit, color in (
                ("jump_diffusivity", "D_j (hops)", "D_j", "D", lab["D"], "tab:orange"),
                ("hop_rate", "hop rate per ion", "hop_rate", "rate", lab["rate"], "tab:purple")):
            pts = [e for e in temps if e.get("hops") and e["hops"].get(fld)]
            if len(pts) < 2:
                arr[key] = {"error": f"needs >= 2 temperatures with hops, have {len(pts)}"}
                continue
            T = np.array([e["T"] for e in pts])
            y = np.array([e["hops"][fld] for e in pts], float)
            err = np.array([np.nan if e["hops"][fld + "_err"] is None else e["hops"][fld + "_err"] for e in pts])
            try:
                f = _arr.fit_weighted(T, y, kind, err, kB=kB, units=units)
                weighted = f.weighted
                d = _arrhenius_summary(f, None, level)
                d["quantity"] = label
                arr[key] = d
                ser = {"label": label, "T": T, "y": y, "y_err": err if weighted else None, "fit": f, "panel": 0,
                       "unit": unit, "color": color}
                (series if key == "jump_diffusivity" else hop_series).append(ser)
            except Exception as exc:  # noqa: BLE001
                arr[key] = {"error": f"{type(exc).__name__}: {exc}"}

    rdf, w = build_rdf(camp, by_T, kB)
    doas, w2 = build_doas(camp, by_T, arr)
    warn_list += w + w2

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
            "temperature_unit": _units.temperature_unit(units), "Ea_unit": _units.activation_energy_unit(units),
            "D_unit": _units.diffusion_unit(units), "sigma_unit": _units.conductivity_unit(units),
            "units": _units.labels(units),
            "drift": "mass-weighted centre of mass removed as named per temperature (fix msd/cross drift)",
        },
        "summary": {"members": len(camp.members),
                    "completed": sum(m["state"] == "completed" for m in members),
                    "failed": len(failed),
                    "unfinished": sum(m["state"] not in ("completed", "failed") for m in members)},
        "temperatures": temps, "arrhenius": arr, "model_deviation": md, "failed": failed,
        "members": members, "warnings": warn_list,
        "hops": hops_top, "occupancy": {"files": {}} if occ_grids else None, "rdf": rdf, "doas": doas,
    }
    if hops_top is not None:
        data["conventions"]["hops"] = (
            "per temperature: ionsitu.analysis.hops.hop_summary on each member's hops.txt, then mean and standard error (_err) over "
            "replicas; rates per ion per time (1/time of the run); jump classes = hop lengths of all members "
            "clustered (gap > report.jump_rel_tol x length), multiplicity z from the member's sites.txt; "
            "rate_per_direction = J/(t N_c z); E_a,c = -kB T ln(J_c/(t N_c z ν*)), Ea_class_mean/std over "
            "classes, Ea_pair_* over ordered site pairs (-kB T ln(J_i/(t N_i ν*)), N_i the ions that made jump "
            "type i; mean/std/min/max per replica, then over replicas), Ea_pair_all_* over the pooled jump types of "
            "all replicas (Ea_pair_all: the distribution); ν* (activation_energy.attempt_frequency, mean over "
            "replicas): the config's override, else each member's VDOS with [analysis.vacf] (mean over ions of "
            "each ion's mean VDOS frequency; attempt_frequency_sd_over_ions its spread), else 1e13 Hz (lj: none), "
            "see hops.attempt_frequency_source; D_j = sum |dr|^2/(6 N t) in D_unit (D_j_run: run units); "
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
                            "occupancy": occ_grids, "vdos": vdos_curves}  # dropped when written
    if hops_top is not None:
        data["_plot_inputs"]["site_maps"] = build_site_maps({T: load_hop_runs(camp, by_T[T]) for T in camp.temperatures})
    return data


# --------------------------------------------------------------------------------------
# Write
# --------------------------------------------------------------------------------------
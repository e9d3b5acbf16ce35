"""Report sections of [analysis.rdf] and [analysis.doas]: the numbers (from
:mod:`ionsitu.analysis.structure` and :mod:`ionsitu.analysis.doas` on the members' files), their
HTML is :func:`ionsitu.report.html.html_structure`, their figures
:func:`ionsitu.report.plots.plot_rdf` and :func:`~ionsitu.report.plots.plot_doas`.

RDF, per temperature: every completed member's ``rdf.dat`` (blocks of ``fix ave/time``), g(r)
and coord(r) mean over the replicas (error: standard error over replicas, a single replica: over
its blocks), W(r) = -k_B T ln g(r), the first shell (peak, minimum, coordination, barrier
W(r_min) - W(r_peak)) of each pair.

DOAS, per temperature and type: the members' ``doas_t<type>.dat`` counts summed over blocks and
replicas, normalised (``ionsitu.analysis.doas.doas_from_counts``), mean (error over replicas,
a single replica: over its blocks) and width; overlap coefficient with the next temperature;
per type the two-line fit of the mean energy vs T (>= 5 temperatures): T_c with its approx.
68 % interval, the low-T branch extrapolated to ``report.extrapolate_to`` with a
``report.confidence`` interval; next to it the T_c of the Arrhenius kink (two-regime fit of D*).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..analysis import doas as _doas
from ..analysis import structure as _st
from ..io.lammps_ave import read_ave_histo, read_ave_time_vector
from ..io.quench import quenched_files, read_quenched

__all__ = ["build_rdf", "build_doas", "rdf_of_members", "doas_of_members"]


def rdf_of_members(paths) -> _st.RDF:
    """g(r) of the members' rdf.dat files averaged over replicas."""
    return _st.average_rdfs([_st.rdf_from_blocks(read_ave_time_vector(p).rows) for p in paths])


def build_rdf(camp, by_T, kB) -> tuple[dict | None, list[str]]:
    """({'pairs', 'temperatures': [...]}, warnings); None without [analysis.rdf]."""
    cfg = camp.conf["analysis"].get("rdf")
    if cfg is None:
        return None, []
    warns, temps = [], []
    for T in camp.temperatures:
        ms = [m for m in by_T[T] if camp.outputs(m)["rdf"].is_file()]
        if not ms:
            continue
        try:
            avg = rdf_of_members([camp.outputs(m)["rdf"] for m in ms])
        except (ValueError, OSError) as exc:
            warns.append(f"rdf at T={T:g}: {exc}")
            continue
        kT = kB * T
        pairs = []
        for k, pair in enumerate(cfg["pairs"]):
            e = {"pair": pair, "g": avg.g[k], "g_err": avg.g_err[k], "coord": avg.coord[k],
                 "coord_err": avg.coord_err[k], "W": _st.potential_of_mean_force(avg.g[k], kT)}
            try:
                e["first_shell"] = vars(_st.first_shell(avg.r, avg.g[k], avg.coord[k], kT))
            except ValueError as exc:
                e["first_shell"] = None
                warns.append(f"rdf at T={T:g}, pair {pair}: {exc}")
            pairs.append(e)
        temps.append({"T": T, "members": [m.name for m in ms], "n_replicas": avg.n_replicas,
                      "n_blocks": avg.n_blocks, "r": avg.r, "pairs": pairs})
    return {"pairs": cfg["pairs"], "temperatures": temps}, warns


def doas_of_members(paths, lo, hi) -> _doas.DOAS:
    """DOAS of the members' fix ave/histo files: rows = replicas (a single one: its blocks)."""
    hs = [read_ave_histo(p).counts for p in paths]
    rows = hs[0] if len(hs) == 1 else np.array([h.sum(axis=0) for h in hs])
    return _doas.doas_from_counts(rows, lo, hi)


def quenched_doas(member_dirs, t, lo, hi, bins) -> dict | None:
    """DOAS of the quenched snapshots of the members (type t): {n_snapshots, n_replicas, DOAS fields}."""
    rows, n = [], 0
    for d in member_dirs:
        qs = [read_quenched(p) for p in quenched_files(d)]
        if qs:
            n += len(qs)
            rows.append(sum(_doas.histogram(q["energies"][q["types"] == t], lo, hi, bins) for q in qs))
    if not rows:
        return None
    return {"n_snapshots": n, "n_replicas": len(rows), **vars(_doas.doas_from_counts(np.array(rows), lo, hi))}


def build_doas(camp, by_T, arrhenius: dict) -> tuple[dict | None, list[str]]:
    """({'types', 'range', 'temperatures', 'onset'}, warnings); None without [analysis.doas]."""
    cfg = camp.conf["analysis"].get("doas")
    if cfg is None:
        return None, []
    rc = camp.conf["report"]
    lo, hi = cfg["range"]
    warns, temps = [], []
    per_type: dict[int, list] = {t: [] for t in cfg["types"]}
    for T in camp.temperatures:
        entry = {"T": T, "types": {}}
        for t in cfg["types"]:
            paths = [str(camp.outputs(m)["doas"]).format(type=t) for m in by_T[T]]
            paths = [p for p in paths if Path(p).is_file()]
            if not paths:
                continue
            try:
                d = doas_of_members(paths, lo, hi)
            except (ValueError, OSError) as exc:
                warns.append(f"doas at T={T:g}, type {t}: {exc}")
                continue
            if d.below + d.above > 0:
                warns.append(f"doas at T={T:g}, type {t}: {100 * (d.below + d.above):.3g} % of the energies outside "
                             f"analysis.doas.range [{lo:g}, {hi:g}] (not in the mean and width)")
            entry["types"][str(t)] = {"n_replicas": len(paths), **vars(d)}
            per_type[t].append((T, d))
            if cfg.get("quench_every"):
                q = quenched_doas([m.dir for m in by_T[T]], t, lo, hi, cfg["bins"])
                if q is not None:
                    entry.setdefault("quenched", {})[str(t)] = q
        if entry["types"]:
            temps.append(entry)
    onset = {}
    for t, pts in per_type.items():
        o = {"overlap_next_T": [[T1, T2, _doas.overlap(a, b)] for (T1, a), (T2, b) in zip(pts, pts[1:])]}
        Ts = np.array([T for T, _ in pts])
        E = np.array([d.mean for _, d in pts])
        Ee = np.array([d.mean_err for _, d in pts])
        weighted = bool(len(Ee) and np.all(np.isfinite(Ee) & (Ee > 0)))
        if len(np.unique(Ts)) >= 5:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    f = _doas.onset_temperature(Ts, E, Ee if weighted else None)
                o.update(Tc=f.x_c, Tc_err=f.x_c_err, Tc_range=f.x_c_range, slope_low=f.slope_low,
                         slope_low_err=f.slope_low_err, slope_high=f.slope_high, slope_high_err=f.slope_high_err,
                         preferred=f.preferred, weighted=weighted, extrapolation=None)
                if rc.get("extrapolate_to") is not None:
                    v, elo, ehi = f.extrapolate_low(rc["extrapolate_to"], level=rc["confidence"])
                    o["extrapolation"] = {"T": rc["extrapolate_to"], "mean_energy": v, "lo": elo, "hi": ehi,
                                          "level": rc["confidence"]}
            except ValueError as exc:
                o["error"] = str(exc)
        else:
            o["error"] = f"the onset fit needs >= 5 temperatures, have {len(np.unique(Ts))}"
        onset[str(t)] = o
    two = (arrhenius.get("tracer") or {}).get("two_regime")
    arr_tc = {"Tc": two["Tc"], "Tc_err": two["Tc_err"], "Tc_range": two["Tc_range"],
              "preferred": two["preferred"]} if two else None
    return {"types": cfg["types"], "range": [lo, hi], "bins": cfg["bins"], "temperatures": temps, "onset": onset,
            "arrhenius_Tc": arr_tc}, warns

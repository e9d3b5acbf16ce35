"""Campaign report, the tables as CSV: one file per table of the page, full precision (the page
rounds to the error; these do not), units in the column names, written atomically.

:func:`report_tables` returns ``{name: (columns, rows)}`` from a report dictionary
(:func:`ionsitu.report.results.build`); :func:`write_tables` writes ``tables/<name>.csv``.
Empty cells are values the report does not have (null in the JSON).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..io.atomic import write_atomic

__all__ = ["report_tables", "write_tables", "TABLES"]


def _transport(d: dict):
    conv = d["conventions"]
    D, S = conv["D_unit"], conv["sigma_unit"]
    cols = ["T", "n_replicas", "status", f"D_tracer [{D}]", "D_tracer_err", "D_tracer_resolved",
            f"D_collective [{D}]", "D_collective_err", "haven_ratio", "haven_ratio_err",
            f"conductivity [{S}]", "conductivity_err", "fit_t_start", "fit_t_end"]
    rows = []
    for t in d["temperatures"]:
        if t["status"] != "ok":
            rows.append([t["T"], t["n_replicas"], t["status"]] + [None] * (len(cols) - 3))
            continue
        tr, co, hv, cd = t["tracer"], t["collective"], t["haven"], t["conductivity"]
        rows.append([t["T"], t["n_replicas"], t["status"], tr["D"], tr["D_err"], tr["resolved"], co["D"], co["D_err"],
                     hv["H"], hv["H_err"], cd["sigma"], cd["sigma_err"], tr["t_start"], tr["t_end"]])
    return cols, rows


def _arrhenius(d: dict):
    ea = d["conventions"]["Ea_unit"]
    cols = ["quantity", "convention", f"Ea [{ea}]", "Ea_err", "prefactor", "prefactor_err", "prefactor_unit", "r2",
            "chi2_red", "Tc", "Tc_err", "extrapolation_T", "extrapolation_value", "extrapolation_lo",
            "extrapolation_hi", "extrapolation_level", "error"]
    rows = []
    for key, a in d["arrhenius"].items():
        if "Ea" not in a:
            rows.append([key] + [None] * (len(cols) - 2) + [a.get("error")])
            continue
        two = a.get("two_regime") or {}
        tc = a.get("Tc")
        ex = a.get("extrapolation") or {}
        rows.append([key, a["convention"], a["Ea"], a["Ea_err"], a["prefactor"], a["prefactor_err"],
                     a["prefactor_unit"], a["r2"], a["chi2_red"], tc, two.get("Tc_err") if tc is not None else None,
                     ex.get("T"), ex.get("value"), ex.get("lo"), ex.get("hi"), ex.get("level"), None])
    return cols, rows


def _hops(d: dict):
    if not d.get("hops"):
        return None
    cols = ["T", "n_replicas", "n_sites", "n_hops", "hop_rate", "hop_rate_err", "residence_mean",
            "residence_mean_err", f"D_j [{d['conventions']['D_unit']}]", "D_j_err", "D_j_over_D_tracer",
            "D_j_over_D_tracer_err", "backjump_fraction", "backjump_fraction_err", "correlated_fraction",
            "correlated_fraction_err", "correlated_chance_fraction", "correlated_excess_fraction", "correlated_z"]
    rows = [[t["T"]] + [t["hops"].get(c.split(" [")[0]) for c in cols[1:]] for t in d["temperatures"]
            if t.get("hops")]
    return cols, rows


def _members(d: dict):
    keys = ["name", "T", "replica", "seed", "state", "step", "target_step", "attempts", "wall_seconds"]
    return ["member"] + keys[1:], [[m[c] for c in keys] for m in d["members"]]


#: the CSV tables: name -> f(report dict) -> (columns, rows) or None when the report has no such table
TABLES = {"temperatures": _transport, "arrhenius": _arrhenius, "hops": _hops, "members": _members}


def report_tables(d: dict) -> dict[str, tuple[list[str], list[list]]]:
    """{name: (columns, rows)} of every table the report has."""
    out = {}
    for name, fn in TABLES.items():
        t = fn(d)
        if t is not None:
            out[name] = t
    return out


def write_tables(d: dict, out_dir) -> dict[str, Path]:
    """Write ``tables/<name>.csv`` (atomically) under ``out_dir``; returns {name: path}."""
    paths = {}
    for name, (cols, rows) in report_tables(d).items():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows([["" if v is None else v for v in r] for r in rows])
        paths[name] = write_atomic(Path(out_dir) / "tables" / f"{name}.csv", buf.getvalue())
    return paths

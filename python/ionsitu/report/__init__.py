"""The campaign report: ``report.json`` (every number, from :mod:`.results`), ``report.html``
(:mod:`.html`), the figures (:mod:`.plots`) and the tables as CSV (:mod:`.tables`) of a campaign's finished members.

:func:`build` returns the report dictionary (schema ``ionsitu-campaign-report``, described in
:mod:`ionsitu.report.results`); :func:`write` writes it with the page, the figures and the
merged occupancy files, each file atomically. The report reads the members through the
campaign object it is given (``camp.members``, ``camp.outputs(member)``, ``camp.statuses()``)
and imports nothing of :mod:`ionsitu.campaign`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io.atomic import write_atomic
from ..io.model_devi import read_model_devi
from ..io.occupancy import write_cube, write_occupancy
from .html import render_html, summary_text
from .plots import campaign_plots, figure_files
from .tables import write_tables
from .results import CORR_RANDOM, CORR_SEED, REPORT_SCHEMA, REPORT_VERSION, REPORT_VERSION_MINOR, build

__all__ = ["build", "write", "summary_text", "read_model_devi", "REPORT_SCHEMA", "REPORT_VERSION",
           "REPORT_VERSION_MINOR", "CORR_RANDOM", "CORR_SEED"]


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
            npz = write_occupancy(d / f"occupancy_T{T:g}.npz", g["counts"][None], g["cell"], g["origin"],
                                  g["nframes"], meta)
            files[f"T{T:g}"] = {"cube": str(cube.relative_to(out)), "npz": str(npz.relative_to(out))}
        except Exception as exc:  # noqa: BLE001
            data.setdefault("warnings", []).append(f"occupancy files at T={T:g} failed: {exc}")
    return files


def write(camp, data: dict | None = None, out_dir=None, figure_formats=None) -> dict:
    """Write report.json, report.html, plots/ and tables/ (default: the campaign's output folder).

    Figures: ``plots/<name>.png`` (embedded in the page) and the same as each of
    ``figure_formats`` (svg, pdf; default ``report.figure_formats``, png + svg); each table of
    the page as ``tables/<name>.csv`` (:mod:`ionsitu.report.tables`). The JSON lists them under
    ``plots`` (PNG), ``figures`` ({name: {format: path}}) and ``tables``."""
    data = build(camp) if data is None else data
    out = Path(out_dir) if out_dir else camp.output
    out.mkdir(parents=True, exist_ok=True)
    formats = tuple(figure_formats if figure_formats is not None else camp.conf["report"].get("figure_formats", ["png"]))
    pngs = campaign_plots(camp, data, out, formats)
    if data.get("occupancy") is not None:
        data["occupancy"]["files"] = _write_occupancy(camp, data, out)
    clean = {k: v for k, v in data.items() if not k.startswith("_")}
    clean["plots"] = {k: str(p.relative_to(out)) for k, p in pngs.items()}
    clean["figures"] = {k: {f: str(q.relative_to(out)) for f, q in figure_files(p, formats).items()}
                        for k, p in pngs.items()}
    clean["tables"] = {k: str(p.relative_to(out)) for k, p in write_tables(clean, out).items()}
    for k in ("plots", "figures", "tables"):
        data[k] = clean[k]
    jpath = write_atomic(out / "report.json", json.dumps(clean, indent=1) + "\n")
    hpath = write_atomic(out / "report.html", render_html(clean, pngs))
    return {"json": jpath, "html": hpath, "plots": pngs, "tables": clean["tables"]}

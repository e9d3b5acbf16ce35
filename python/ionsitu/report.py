"""Campaign report: transport per temperature, Arrhenius fits, model deviation, failures.

Built from whatever members of a :class:`ionsitu.campaign.Campaign` have completed, at
any time. Written as

- ``report.json``: versioned schema ``ionsitu-campaign-report`` (``version`` 1); every
  number comes from :mod:`ionsitu.transport` (per temperature, replicas pooled: mean and
  standard error over replicas) and :mod:`ionsitu.arrhenius`; non-finite numbers are null;
- ``report.html``: one self-contained page (plots embedded as PNG data) with the tables
  and figures: MSD log-log per temperature with the fit window, Arrhenius plot with the
  confidence band and the extrapolation. The PNG files are also kept in ``plots/``.

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

__all__ = ["build", "write", "summary_text", "read_model_devi", "REPORT_SCHEMA", "REPORT_VERSION"]

REPORT_SCHEMA = "ionsitu-campaign-report"
REPORT_VERSION = 1


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
def _clean(obj):
    """JSON-safe: numpy -> python, non-finite floats -> None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _fit_summary(f: _tr.DiffusionFit) -> dict:
    return {
        "D": f.D, "D_err": f.D_err, "D_xyz": f.D_xyz, "D_xyz_err": f.D_xyz_err, "unit": f.unit,
        "t_start": f.t_start, "t_end": f.t_end, "window_method": f.window_method, "n_lags": f.n_lags,
        "chi2_red": f.chi2_red, "D_err_model": f.D_err_model, "n_replicas": f.n_replicas,
        "replicas_D": [r.D for r in f.replicas] if f.replicas else [f.D], "method": f.method,
    }


def _cond_summary(c: _tr.Conductivity) -> dict:
    return {"sigma": c.sigma, "sigma_err": c.sigma_err, "sigma_xyz": c.sigma_xyz,
            "sigma_xyz_err": c.sigma_xyz_err, "unit": c.unit, "method": c.method,
            "concentration": c.concentration, "concentration_unit": c.concentration_unit}


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
                      "H_xyz_err": rep.haven.H_xyz_err},
            "conductivity": _cond_summary(cond), "drift": rep.drift,
        })
        curves[T] = (results, rep)
        temps.append(entry)

    # Arrhenius -----------------------------------------------------------------------
    ok = [e for e in temps if e["status"] == "ok"]
    arr: dict = {}
    series = []
    specs = (("tracer", "D*", lambda e: (e["tracer"]["D"], e["tracer"]["D_err"]), "D", 0),
             ("collective", "D_sigma", lambda e: (e["collective"]["D"], e["collective"]["D_err"]), "D", 0),
             ("conductivity", "sigma", lambda e: (e["conductivity"]["sigma"], e["conductivity"]["sigma_err"]),
              "sigma", 1))
    for key, label, get, kind, panel in specs:
        if len(ok) < 2:
            arr[key] = {"error": f"needs >= 2 temperatures with results, have {len(ok)}"}
            continue
        T = np.array([e["T"] for e in ok])
        y = np.array([get(e)[0] for e in ok], float)
        err = np.array([get(e)[1] for e in ok], float)
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
            arr[key] = d
            series.append({"label": label, "T": T, "y": y, "y_err": err, "fit": f, "panel": panel,
                           "unit": ok[0][key]["unit"], "color": {"tracer": "tab:blue", "collective": "tab:red",
                                                                  "conductivity": "tab:green"}[key]})
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
        "schema": REPORT_SCHEMA, "version": REPORT_VERSION, "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
    }
    data = _clean(data)
    data["_plot_inputs"] = {"curves": curves, "series": series}  # dropped when written
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
    return paths


def write(camp, data: dict | None = None, out_dir=None) -> dict:
    """Write report.json, report.html and plots/ (default: the campaign's output folder)."""
    data = build(camp) if data is None else data
    out = Path(out_dir) if out_dir else camp.output
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(camp, data, out)
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
        lines.append(f"  T = {e['T']:g} ({e['n_replicas']} rep.): D* = {_pm(e['tracer']['D'], e['tracer']['D_err'])}, "
                     f"D_sigma = {_pm(e['collective']['D'], e['collective']['D_err'])} {conv['D_unit']}, "
                     f"H_R = {_pm(e['haven']['H'], e['haven']['H_err'], '.3g')}, "
                     f"sigma = {_pm(e['conductivity']['sigma'], e['conductivity']['sigma_err'])}")
    for key, label in (("tracer", "D*"), ("collective", "D_sigma"), ("conductivity", "sigma T")):
        a = data["arrhenius"].get(key) or {}
        if "Ea" in a:
            ex = a.get("extrapolation")
            x = (f", at T = {ex['T']:g}: {ex['value']:.3g} [{ex['lo']:.3g}, {ex['hi']:.3g}]" if ex else "")
            lines.append(f"  Arrhenius {label}: Ea = {_pm(a['Ea'], a['Ea_err'])} {conv['Ea_unit']}, "
                         f"R^2 = {a['r2']:.4f}{x}")
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
        out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{t['n_replicas']}</td><td>{pm(tr['D'], tr['D_err'])}</td>"
                   f"<td>{pm(co['D'], co['D_err'])}</td><td>{pm(hv['H'], hv['H_err'])}</td>"
                   f"<td>{pm(cd['sigma'], cd['sigma_err'])}</td><td>{xyz(cd['sigma_xyz'], cd['sigma_xyz_err'])}</td>"
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


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></p>'

"""Campaign report, rendering only: the HTML page and the terminal summary of a report
dictionary (:func:`ionsitu.report.results.build`); no analysis here."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..measurement import format_with_error

__all__ = ["render_html", "summary_text", "SECTIONS"]


def _pm(v, e, fmt=".4g", unit="") -> str:
    """value ± error rounded to the error (:func:`ionsitu.measurement.format_with_error`); without
    an error the value in ``fmt``; '–' without a value."""
    if v is None:
        return "–"
    if e is None or not (e > 0):
        return f"{v:{fmt}}" + (f" {unit}" if unit else "")
    return format_with_error(v, e, unit)


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
                     f"conductivity = {_shown(e['conductivity'], 'sigma', 'sigma_err')} {conv['sigma_unit']}")
    for key, label in (("tracer", "D*"), ("collective", "D_sigma"), ("conductivity", "conductivity (sigma T)")):
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
        vb = e.get("vibrations")
        if vb:
            lines.append(f"  T = {e['T']:g} VDOS: mean {_pm(vb['mean_frequency'], vb['mean_frequency_err'])} "
                         f"{vb['unit']}, nu* " + ", ".join(f"type {k} {_pm(x['nu_star'], x['sd_over_ions'])} (sd over "
                                                           f"ions)" for k, x in vb["species"].items()))
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


def _num(v, fmt=".4g") -> str:
    return "–" if v is None else f"{v:{fmt}}"


def _interval(v, lo, hi, unit="") -> str:
    """value [lo, hi] of an extrapolation, each to 2 significant figures."""
    return f"{v:.2g} [{lo:.2g}, {hi:.2g}]" + (f" {unit}" if unit else "")


def html_head(d: dict, pngs: dict) -> list[str]:
    """Title, campaign line and the units of the page."""
    e_ = html.escape
    c, conv = d["campaign"], d["conventions"]
    return [f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{e_(c['name'])} – ionsitu campaign report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:90%}}td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}
th{{background:#f0f0f0}}td.l,th.l{{text-align:left}}.bad{{color:#b00}}.flag{{background:#fee}}
.card{{border:2px solid #468;border-radius:6px;padding:0.5em 1.2em;margin:1em 0;background:#f6f9fc}}
.card td,.card th{{border:none;text-align:left}}
img{{max-width:100%}}code{{background:#f4f4f4;padding:0 3px}}</style></head><body>
<h1>{e_(c['name'])}</h1>
<p>ionsitu {e_(str(d['ionsitu_version']))} · report schema {e_(d['schema'])} v{d['version']} · {e_(d['generated'])}<br>
config <code>{e_(c['config'])}</code> · units <b>{e_(c['units'])}</b> · timestep {c['timestep']} ·
{d['summary']['completed']}/{d['summary']['members']} members completed, {d['summary']['failed']} failed,
{d['summary']['unfinished']} unfinished</p>
<p>D in {e_(conv['D_unit'])}, conductivity in {e_(conv['sigma_unit'])}, T {e_(conv['temperature_unit'])}, E<sub>a</sub> in
{e_(conv['Ea_unit'])}. Errors: {e_(conv['errors'])}. Conductivity: {e_(conv['sigma'])}.</p>"""]


#: Arrhenius quantities of the summary card: (report key, label)
CARD_QUANTITIES = (("tracer", "D*"), ("collective", "D_σ"), ("conductivity", "conductivity (σT)"),
                   ("jump_diffusivity", "D_j (hops)"), ("hop_rate", "hop rate"))


def _tc_text(a: dict, tunit: str) -> str:
    """T_c of the two-regime (bent) Arrhenius fit, or why it is unresolved."""
    two = a.get("two_regime")
    if two is None:
        return "unresolved (no two-regime fit: needs ≥ 5 temperatures and report.two_regime)"
    if two.get("preferred") == "two" and two.get("Tc") is not None:
        return _pm(two["Tc"], two.get("Tc_err"), unit=tunit)
    return f"unresolved (one regime preferred, {html.escape(str(two.get('criterion')))})"


def html_summary_card(d: dict, pngs: dict) -> list[str]:
    """The card at the top: E_a per quantity, conductivity extrapolated (with its interval),
    the Haven ratio per temperature and T_c of the two-regime fit."""
    e_ = html.escape
    conv = d["conventions"]
    tunit = "K" if conv["temperature_unit"] == "K" else ""
    rows, tcs = [], {}
    for key, label in CARD_QUANTITIES:
        a = d["arrhenius"].get(key)
        if a is None:
            continue
        if "Ea" not in a:
            rows.append(f"<tr><th>E<sub>a</sub>({e_(label)})</th><td class=bad colspan=2>{e_(str(a.get('error')))}</td></tr>")
            continue
        rows.append(f"<tr><th>E<sub>a</sub>({e_(label)})</th><td colspan=2>"
                    f"{e_(_pm(a['Ea'], a['Ea_err'], unit=conv['Ea_unit']))}</td></tr>")
        tcs[label] = _tc_text(a, tunit)
    resolved = [f"{k}: {v}" for k, v in tcs.items() if not v.startswith("unresolved")]
    why = sorted({v for v in tcs.values() if v.startswith("unresolved")})
    if resolved or why:
        tc = "; ".join(resolved + ([f"others {w}" if resolved else w for w in why]))
        rows.append(f"<tr><th>T<sub>c</sub> (two-regime Arrhenius)</th><td colspan=2>{e_(tc)}</td></tr>")
    a = d["arrhenius"].get("conductivity") or {}
    ex = a.get("extrapolation")
    if ex:
        rows.append(f"<tr><th>conductivity at T = {ex['T']:g} {e_(tunit)}</th><td>"
                    f"{e_(_interval(ex['value'], ex['lo'], ex['hi'], conv['sigma_unit']))}</td>"
                    f"<td>{int(round(ex['level'] * 100))} % interval of the fitted law</td></tr>")
    else:
        why = a.get("error") or ("no extrapolation temperature (lj: set report.extrapolate_to)"
                                 if "Ea" in a else "no Arrhenius fit")
        rows.append(f"<tr><th>conductivity extrapolated</th><td colspan=2>{e_(str(why))}</td></tr>")
    hr = [f"T = {t['T']:g}: {_shown(t['haven'], 'H', 'H_err')}" for t in d["temperatures"] if t["status"] == "ok"]
    rows.append(f"<tr><th>Haven ratio H<sub>R</sub></th><td colspan=2>{e_('; '.join(hr) or '–')}</td></tr>")
    return ["<div class=card id=summary><h2>Summary</h2><table>", *rows, "</table></div>"]


def html_transport(d: dict, pngs: dict) -> list[str]:
    """Per-temperature table of D*, D_σ, H_R and the conductivity, and their x / y / z."""
    e_ = html.escape

    def xyz(vals, errs):
        if not vals:
            return "–"
        return " / ".join(_pm(v, er) for v, er in zip(vals, errs))

    def cell(dd, v, er):
        txt = e_(_shown(dd, v, er))
        return f"<td>{txt}</td>" if dd.get("resolved", True) else f"<td class='flag'>{txt}</td>"

    out = ["<h2>Per temperature</h2><table><tr><th>T</th><th>replicas</th><th>D*</th><th>D_σ</th><th>H_R</th>"
           "<th>conductivity</th><th>conductivity x / y / z</th><th>fit window</th></tr>"]
    for t in d["temperatures"]:
        if t["status"] != "ok":
            out.append(f"<tr><td>{_num(t['T'], 'g')}</td><td>{t['n_replicas']}</td>"
                       f"<td class='l bad' colspan=6>{e_(str(t['error']))}</td></tr>")
            continue
        tr, co, hv, cd = t["tracer"], t["collective"], t["haven"], t["conductivity"]
        out.append(f"<tr><td>{_num(t['T'], 'g')}</td><td>{t['n_replicas']}</td>{cell(tr, 'D', 'D_err')}"
                   f"{cell(co, 'D', 'D_err')}{cell(hv, 'H', 'H_err')}"
                   f"{cell(cd, 'sigma', 'sigma_err')}<td>{xyz(cd['sigma_xyz'], cd['sigma_xyz_err'])}</td>"
                   f"<td>{_num(tr['t_start'], '.3g')}–{_num(tr['t_end'], '.3g')} ({e_(tr['window_method'])})</td></tr>")
    out.append("</table><table><tr><th>T</th><th class=l>D* x / y / z</th><th class=l>D_σ x / y / z</th>"
               "<th class=l>H_R x / y / z</th></tr>")
    for t in d["temperatures"]:
        if t["status"] == "ok":
            out.append(f"<tr><td>{_num(t['T'], 'g')}</td><td>{xyz(t['tracer']['D_xyz'], t['tracer']['D_xyz_err'])}</td>"
                       f"<td>{xyz(t['collective']['D_xyz'], t['collective']['D_xyz_err'])}</td>"
                       f"<td>{xyz(t['haven']['H_xyz'], t['haven']['H_xyz_err'])}</td></tr>")
    out.append("</table>")
    return out


def html_arrhenius(d: dict, pngs: dict) -> list[str]:
    """Arrhenius fits of D*, D_σ and the conductivity, and their figure."""
    e_ = html.escape
    out = ["<h2>Arrhenius</h2><table><tr><th class=l>quantity</th><th class=l>convention</th><th>E<sub>a</sub></th>"
           "<th>prefactor</th><th>R²</th><th>χ²_red</th><th>T_c (bent)</th><th>extrapolation</th></tr>"]
    for key, label in (("tracer", "D*"), ("collective", "D_σ"), ("conductivity", "conductivity")):
        a = d["arrhenius"].get(key) or {}
        if "Ea" not in a:
            out.append(f"<tr><td class=l>{label}</td><td class='l bad' colspan=7>{e_(str(a.get('error')))}</td></tr>")
            continue
        ex = a.get("extrapolation")
        exs = (f"{_num(ex['T'], 'g')}: {_interval(ex['value'], ex['lo'], ex['hi'])} "
               f"({int(round(ex['level'] * 100))} %)" if ex else "–")
        two = a.get("two_regime") or {}
        tc = "–" if a.get("Tc") is None else _pm(a["Tc"], two.get("Tc_err"))
        out.append(f"<tr><td class=l>{label}</td><td class=l>{e_(a['convention'])}</td><td>{_pm(a['Ea'], a['Ea_err'])}</td>"
                   f"<td>{_pm(a['prefactor'], a['prefactor_err'])} {e_(a['prefactor_unit'])}</td><td>{_num(a['r2'], '.4f')}</td>"
                   f"<td>{_num(a['chi2_red'], '.3g')}</td><td>{tc}</td><td>{exs}</td></tr>")
    out.append("</table>")
    if "arrhenius" in pngs:
        out.append(_img(pngs["arrhenius"], "Arrhenius plot"))
    return out


def html_segments(d: dict, pngs: dict) -> list[str]:
    """Segment averages ([analysis.msd_cross] segments): D*, D_σ and H_R over segments x replicas."""
    rows = [(t["T"], t["segments"]) for t in d.get("temperatures", []) if t.get("segments")]
    if not rows:
        return []
    out = ["<h2>Segment averages</h2><p><small>production cut into consecutive segments, each fitted on its "
           "own; mean ± standard error over segments × replicas</small></p><table><tr><th>T</th><th>segments</th>"
           "<th>D*</th><th>D<sub>σ</sub></th><th>H<sub>R</sub></th></tr>"]
    for T, s in rows:
        if "error" in s:
            out.append(f"<tr><td>{T:g}</td><td class='l bad' colspan=4>{html.escape(s['error'])}</td></tr>")
            continue
        unit = s.get("unit", "")
        out.append(f"<tr><td>{T:g}</td><td>{s['n']}</td><td>{format_with_error(s['D_mean'], s['D_sem'], unit)}</td>"
                   f"<td>{format_with_error(s['D_sigma_mean'], s['D_sigma_sem'], unit)}</td>"
                   f"<td>{format_with_error(s['H'], s['H_err'])}</td></tr>")
    return out + ["</table>"]


def html_model_deviation(d: dict, pngs: dict) -> list[str]:
    e_ = html.escape
    md = d.get("model_deviation")
    if not md:
        return []
    out = [f"<h2>Model deviation</h2><p>threshold {md['threshold']} {e_(md['threshold_unit'])}, flagged when more "
           f"than {md['max_fraction'] * 100:g} % of the frames exceed it ({e_(md['note'])}).</p><table><tr><th>T</th>"
           "<th>frames</th><th>above</th><th>fraction</th><th>max</th><th>mean</th></tr>"]
    for t in d["temperatures"]:
        m = t.get("model_deviation")
        if m:
            cls = " class=flag" if m["flagged"] else ""
            out.append(f"<tr{cls}><td>{_num(t['T'], 'g')}</td><td>{m['frames']}</td><td>{m['above']}</td>"
                       f"<td>{m['fraction_above'] * 100:.3g} %</td><td>{_num(m['max'], '.3g')}</td>"
                       f"<td>{_num(m['mean'], '.3g')}</td></tr>")
    out.append("</table>")
    return out


def html_failed(d: dict, pngs: dict) -> list[str]:
    e_ = html.escape
    if not d["failed"]:
        return []
    out = ["<h2 class=bad>Failed members</h2><table><tr><th class=l>member</th><th>step</th><th class=l>key</th>"
           "<th class=l>error</th><th class=l>command</th></tr>"]
    for f in d["failed"]:
        out.append(f"<tr><td class=l>{e_(f['name'])}</td><td>{f['step']}</td><td class=l>{e_(str(f['error_key']))}</td>"
                   f"<td class=l>{e_(str(f['error']))}</td><td class=l><code>{e_(str(f['error_command']))}</code></td></tr>")
    out.append("</table>")
    return out


def html_msd(d: dict, pngs: dict) -> list[str]:
    return ["<h2>MSD per temperature</h2>"] + [_img(p, name) for name, p in pngs.items() if name.startswith("msd_")]


def html_members(d: dict, pngs: dict) -> list[str]:
    e_ = html.escape
    out = ["<h2>Members</h2><table><tr><th class=l>member</th><th>T</th><th>replica</th><th>seed</th>"
           "<th class=l>state</th><th>step</th><th>attempts</th><th>wall s</th></tr>"]
    for m in d["members"]:
        out.append(f"<tr><td class=l>{e_(m['name'])}</td><td>{_num(m['T'], 'g')}</td><td>{m['replica']}</td>"
                   f"<td>{m['seed']}</td><td class=l>{e_(m['state'])}</td><td>{m['step']}/{m['target_step']}</td>"
                   f"<td>{m['attempts']}</td><td>{_num(m['wall_seconds'], '.3g')}</td></tr>")
    out.append("</table>")
    return out


def html_tables(d: dict, pngs: dict) -> list[str]:
    """Links to the CSV file of each table (written next to the page)."""
    files = d.get("tables") or {}
    if not files:
        return []
    return ["<p>Tables as CSV: " + ", ".join(f'<a href="{html.escape(p)}">{html.escape(k)}</a>'
                                            for k, p in files.items()) + "</p>"]


def html_warnings(d: dict, pngs: dict) -> list[str]:
    if not d.get("warnings"):
        return []
    return ["<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in d["warnings"]) + "</ul>"]


def render_html(d: dict, pngs: dict) -> str:
    """The report page: the sections of :data:`SECTIONS` in order, each ``f(d, pngs) -> list[str]``."""
    out = []
    for section in SECTIONS:
        out += section(d, pngs)
    out.append("</body></html>\n")
    return "\n".join(out)


def _html_hops(d: dict, pngs: dict) -> list[str]:
    """HTML of the hop and occupancy sections (empty without those analyses)."""
    e_ = html.escape
    out = []

    num, pm = _num, _pm
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
                   pm(ea['Ea_class_mean'], ea['Ea_class_std']))
            eap = ("–" if ea.get("skipped") else f"{pm(ea['Ea_pair_mean'], ea['Ea_pair_std'])} "
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
    if "sites" in pngs:
        out.append(_img(pngs["sites"], "sites and jump network over the density; residence times"))
    return out


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></p>'


def html_structure(d: dict, pngs: dict) -> list[str]:
    """HTML of the RDF and DOAS sections (empty without those analyses)."""
    e_ = html.escape
    out = []

    def num(v, fmt=".4g"):
        return "–" if v is None else f"{v:{fmt}}"

    rdf = d.get("rdf")
    if rdf and rdf["temperatures"]:
        out.append("<h2>Radial distribution functions (compute rdf)</h2><p><small>g(r) mean over replicas, "
                   "W(r) = −k<sub>B</sub>T ln g(r); first shell: first peak of g ≥ 1, first minimum after it, "
                   "coordination n = coord(r<sub>min</sub>), barrier ΔW = W(r<sub>min</sub>) − W(r<sub>peak</sub>)"
                   "</small></p><table><tr><th>T</th><th>pair</th><th>replicas</th><th>r peak</th><th>g peak</th>"
                   "<th>r min</th><th>g min</th><th>n</th><th>ΔW</th></tr>")
        for t in rdf["temperatures"]:
            for p in t["pairs"]:
                s = p.get("first_shell") or {}
                out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{e_(str(p['pair']))}</td><td>{t['n_replicas']}</td>"
                           f"<td>{num(s.get('r_peak'))}</td><td>{num(s.get('g_peak'))}</td><td>{num(s.get('r_min'))}</td>"
                           f"<td>{num(s.get('g_min'))}</td><td>{num(s.get('n'))}</td><td>{num(s.get('barrier'))}</td></tr>")
        out.append("</table>")
        if "rdf" in pngs:
            out.append(_img(pngs["rdf"], "g(r) and W(r)"))
    da = d.get("doas")
    if da and da["temperatures"]:
        out.append("<h2>Density of atomistic states (compute pe/atom)</h2><table><tr><th>T</th><th>type</th>"
                   "<th>replicas</th><th>energies</th><th>mean</th><th>width</th><th>outside range</th></tr>")
        for t in da["temperatures"]:
            for ty, x in t["types"].items():
                out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{e_(ty)}</td><td>{x['n_replicas']}</td>"
                           f"<td>{x['n_values']}</td><td>{num(x['mean'])} ± {num(x['mean_err'], '.2g')}</td>"
                           f"<td>{num(x['width'])}</td><td>{num(100 * (x['below'] + x['above']), '.3g')} %</td></tr>")
        out.append("</table><table><tr><th>type</th><th>T<sub>c</sub> (mean energy)</th><th>interval</th>"
                   "<th>T<sub>c</sub> (Arrhenius D*)</th><th>low-T branch extrapolated</th><th>overlap with next T</th></tr>")
        arr = da.get("arrhenius_Tc") or {}
        for ty, o in da["onset"].items():
            ex = o.get("extrapolation")
            exs = (f"{num(ex['T'], 'g')}: {num(ex['mean_energy'])} [{num(ex['lo'])}, {num(ex['hi'])}]" if ex else "–")
            tc = (f"{num(o['Tc'])} ± {num(o['Tc_err'], '.2g')} ({e_(o['preferred'])})" if "Tc" in o
                  else e_(o.get("error", "–")))
            rng = f"[{num(o['Tc_range'][0])}, {num(o['Tc_range'][1])}]" if "Tc_range" in o else "–"
            atc = f"{num(arr.get('Tc'))} ± {num(arr.get('Tc_err'), '.2g')}" if arr else "–"
            ov = ", ".join(f"{a:g}–{b:g}: {v:.3f}" for a, b, v in o["overlap_next_T"]) or "–"
            out.append(f"<tr><td>{e_(ty)}</td><td>{tc}</td><td>{rng}</td><td>{atc}</td><td>{exs}</td>"
                       f"<td class=l>{ov}</td></tr>")
        out.append("</table>")
        if "doas" in pngs:
            out.append(_img(pngs["doas"], "DOAS per temperature"))
    return out


def html_vibrations(d: dict, pngs: dict) -> list[str]:
    """HTML of the vibrations section (empty without it)."""
    rows = [t for t in d["temperatures"] if t.get("vibrations")]
    if not rows:
        return []

    def num(v, fmt=".4g"):
        return "–" if v is None else f"{v:{fmt}}"

    unit = rows[0]["vibrations"]["unit"]
    out = ["<h2>Vibrations (fix vacf)</h2>"
           f"<p>VDOS of the mobile ions (Fourier transform of the Hann-windowed normalised VACF); ν* per species "
           f"= mean over ions of each ion's mean VDOS frequency ± its spread over ions (sd), the ν* of the "
           f"jump E<sub>a</sub>. Frequencies in {unit}.</p>"
           "<table><tr><th>T</th><th>replicas</th><th>mean frequency</th><th>peak</th><th>resolved</th>"
           "<th class=l>ν* per species (± sd over ions; replica error)</th></tr>"]
    for t in rows:
        v = t["vibrations"]
        sp = "; ".join(f"type {k}: {num(s['nu_star'])} ± {num(s['sd_over_ions'], '.2g')} "
                       f"(± {num(s['nu_star_err'], '.2g')}, {s['n_ions']} ions)" for k, s in v["species"].items())
        out.append(f"<tr><td>{num(t['T'], 'g')}</td><td>{v['n_replicas']}</td><td>{num(v['mean_frequency'])}</td>"
                   f"<td>{num(v['peak_frequency'])}</td><td>{'yes' if v['resolved'] else 'no'}</td>"
                   f"<td class=l>{sp}</td></tr>")
    out.append("</table>")
    if "vdos" in pngs:
        out.append(_img(pngs["vdos"], "VDOS per temperature"))
    return out


#: the page, in order: each ``f(report dict, {figure name: PNG path}) -> list of HTML strings``
#: (a new report section adds its function here)
SECTIONS = (html_head, html_summary_card, html_transport, html_segments, html_arrhenius, _html_hops,
            html_structure, html_vibrations, html_model_deviation, html_failed, html_msd, html_members, html_tables, html_warnings)

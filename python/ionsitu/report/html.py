"""Campaign report, rendering only: the HTML page and the terminal summary of a report
dictionary (:func:`ionsitu.report.results.build`); no analysis here."""

from __future__ import annotations

import base64
import html
from pathlib import Path

__all__ = ["render_html", "summary_text"]


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


def render_html(d: dict, pngs: dict) -> str:
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
    out += html_vibrations(d, pngs)
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

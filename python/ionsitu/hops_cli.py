"""``ionsitu hops <run dir or event file>``: hop statistics of the event logs of fix hop/events.

Reads every event log (format ``# ionsitu-hops 1``, see docs/fixes_occupancy_hops.md) in a
run folder, or one given file, and reports via :mod:`ionsitu.hops`: hops, jump rates per
jump type, residence times, the jump diffusivity D_j, effective activation energies per
jump type (mean ± sd), backjump fraction, correlated-hop fraction with its chance level
(each ion's hop train shifted in time at random, ``--corr-random`` times, seeded by
``--corr-seed``: chance fraction ± sd, excess = observed - chance, z, and the ions-per-event
histogram observed vs chance) and, with the site file, the connectivity of the jump network.  ``--json`` writes the summary as JSON, ``--plots``
draws histograms (matplotlib, Agg backend).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ionsitu.hops import EVENT_LOG_COLUMNS as COLUMNS  # noqa: F401 - re-exported
from ionsitu.hops import EVENT_LOG_MAGIC as MAGIC
from ionsitu.hops import is_event_file, read_events  # noqa: F401 - the reader lives in ionsitu.hops


# --------------------------------------------------------------------------- analysis


def _defaults(units):
    """(attempt frequency 1e13 Hz in 1/time of the style or None, correlated-hop cutoff, length unit)."""
    from ionsitu.units import get_style

    st = get_style(units)
    if st.reduced:
        return None, 3.0, "sigma"
    return 1e13 * st.time_s, 10e-10 / st.length_m, {"metal": "A", "real": "A"}.get(st.name, f"{st.name} length")


def _num(v):
    """JSON-safe float: None for NaN/inf."""
    v = float(v)
    return v if np.isfinite(v) else None


def correlated_summary(events, meta, window, cutoff, cell, n_random=30, seed=0) -> dict:
    """The 'correlated' entry of the summary: observed fraction of collective hops, its chance
    level (circular time shifts of each ion's hop train), excess and z, and the histogram of
    ions per event observed vs chance."""
    from ionsitu import hops

    ch = hops.correlated_hops_of_log(events, meta, window, cutoff, cell, n_random=n_random, seed=seed)
    out = {"fraction_collective": ch.fraction_collective, "time_window": window, "cutoff": cutoff,
           "ions_per_event": {int(n): int(c) for n, c in zip(ch.n_values, ch.n_counts)}}
    c = ch.chance
    if c is None:
        return out
    out.update({
        "chance_fraction": c.fraction_mean, "chance_fraction_sd": _num(c.fraction_sd),
        "excess_fraction": c.excess, "z": _num(c.z), "p_value": c.p_value,
        "ions_per_event_chance": {int(n): {"observed": int(o), "chance_mean": float(m), "chance_sd": _num(sd),
                                           "z": _num(z)}
                                  for n, o, m, sd, z in zip(c.n_values, c.n_counts_observed, c.n_counts_mean,
                                                            c.n_counts_sd, c.n_counts_z)},
        "reference": {"method": "each ion's hop train circularly shifted in time by an independent random offset "
                                "over the observed interval (hop count, spacing and positions kept)",
                      "n_random": c.n_random, "seed": c.seed, "time_span": list(c.time_span),
                      "time_quantum": c.time_quantum, "period": c.period},
    })
    return out


def summarize(events, meta, temperature=None, attempt_frequency=None, corr_window=None, corr_cutoff=None,
              site_frac=None, rel_tol=0.05, corr_random=30, corr_seed=0):
    """Summary dict of one event log (see the module docstring). Jump classes: hop lengths
    clustered within ``rel_tol`` (relative), multiplicities from ``site_frac`` when given.
    Correlated hops with their chance level from ``corr_random`` shuffles (seed ``corr_seed``)."""
    from ionsitu import hops
    from ionsitu.units import diffusion_factor, get_style

    units = meta.get("units", "lj")
    style = get_style(units)
    n_ions = int(meta["natoms"])
    total_time = hops.observed_time(meta)
    nu_default, cutoff_default, length_unit = _defaults(units)
    nu = attempt_frequency if attempt_frequency is not None else nu_default
    out = {
        "file_meta": {k: meta.get(k) for k in ("fix_id", "group", "mode", "site_file", "nsites", "r_in", "r_out",
                                               "threshold", "window", "residence", "nevery", "dt", "units")},
        "n_ions": n_ions, "total_time": total_time, "units": units,
        "n_hops": int(len(events)), "n_ions_hopped": int(len(np.unique(events["atom_id"]))),
        "conventions": "rates per ion per time (1/time of the run's units); D_j = sum|dr|^2/(6 N t); "
                       "E_a,i = -kB T ln(J_i/(t N_i nu*)), N_i = ions that made a type-i jump",
    }
    if total_time <= 0 or len(events) == 0:
        out["note"] = "no hops (or no time) observed: nothing else to report"
        return out
    site_mode = meta.get("mode") == "sites"
    out["hops_per_ion_per_time"] = len(events) / (n_ions * total_time)

    if site_mode:
        js = hops.jump_rates(events, n_ions, total_time, directed=True)
        order = np.argsort(-js.count, kind="stable")
        out["n_jump_types"] = int(len(js.pairs))
        out["jump_types"] = [
            {"from": int(js.pairs[i, 0]), "to": int(js.pairs[i, 1]), "count": int(js.count[i]),
             "rate": float(js.rate[i]), "mean_length": float(js.mean_length[i]),
             "n_ions": int(js.n_participating[i])} for i in order]
    cell0 = np.array(meta["cell"], dtype=float).reshape(3, 3) if meta.get("cell") else None
    cs = hops.jump_class_rates(events, n_ions, total_time, rel_tol=rel_tol,
                               site_frac=site_frac if site_mode else None, cell=cell0)
    out["jump_classes"] = [
        {"class": i, "length": float(cs.classes.length[i]), "count": int(cs.count[i]), "rate": float(cs.rate[i]),
         "n_ions": int(cs.n_participating[i]), "multiplicity": float(cs.multiplicity[i]),
         "rate_per_direction": float(cs.rate_per_direction[i]), "n_pairs": int(cs.n_pairs[i]), "D": float(cs.D[i])}
        for i in range(len(cs.count))]
    out["jump_class_conventions"] = (f"hop lengths clustered (gap > {rel_tol:g} x length); rate = J/(N t); "
                                     f"multiplicity z from the {cs.multiplicity_source}; rate_per_direction = "
                                     "J/(t N_c z); D = class share of D_j")
    lengths = np.sqrt(events["dx"] ** 2 + events["dy"] ** 2 + events["dz"] ** 2)
    out["hop_length"] = {"mean": float(lengths.mean()), "std": float(lengths.std()), "unit": length_unit}

    res = events["residence"][~events["censored"]]
    out["residence"] = {"n": int(len(res)), "n_censored_left_out": int(events["censored"].sum()),
                        "mean": float(res.mean()) if len(res) else None,
                        "std": float(res.std(ddof=1)) if len(res) > 1 else None}
    dj = hops.jump_diffusivity(events, n_ions, total_time)
    out["D_j"] = {"D": dj.D, "D_xyz": dj.D_xyz.tolist(), "unit": "length^2/time of the run"}
    if not style.reduced:
        out["D_j"]["D_cm2_per_s"] = dj.D * diffusion_factor(style)

    if not site_mode:
        out["activation_energy"] = {"skipped": "site-free events have no jump types"}
    elif temperature is None:
        out["activation_energy"] = {"skipped": "give --temperature"}
    elif nu is None:
        out["activation_energy"] = {"skipped": "give --attempt-frequency (no default in lj units)"}
    else:
        try:
            ea = hops.activation_energies(events, total_time, temperature, nu, kB=style.kB)
            eac = hops.activation_energies(events, total_time, temperature, nu, kB=style.kB, by="class",
                                           classes=cs.classes, site_frac=site_frac, cell=cell0)
            out["activation_energy"] = {
                "per_class": [{"class": int(p[0]), "length": float(cs.classes.length[p[0]]), "Ea": float(e)}
                              for p, e in zip(eac.pairs, eac.Ea)],
                "class_mean": eac.mean, "class_std": eac.std,
                "mean": ea.mean, "std": ea.std, "min": ea.min, "max": ea.max, "n_types": int(len(ea.Ea)),
                "attempt_frequency": nu, "temperature": temperature,
                "unit": "kB T units: " + ("epsilon" if style.reduced else {"metal": "eV", "real": "kcal/mol"}.get(
                    style.name, f"{style.name} energy")),
                "mean_abs_forward_backward_asymmetry": float(np.abs(ea.asymmetry).mean()) if len(ea.asymmetry) else None,
                "per_type": [{"from": int(p[0]), "to": int(p[1]), "Ea": float(e)} for p, e in zip(ea.pairs, ea.Ea)],
            }
        except ValueError as err:
            out["activation_energy"] = {"skipped": str(err)}

    try:
        tol = None if site_mode else 0.5 * float(meta.get("threshold") or 1.0)
        bj = hops.backjump_fraction(events, tol=tol)
        out["backjumps"] = {"fraction": bj.fraction, "n_backjumps": bj.n_backjumps, "n_considered": bj.n_considered}
    except ValueError as err:
        out["backjumps"] = {"skipped": str(err)}

    window = corr_window if corr_window is not None else (1.0 / nu if nu else 5 * int(meta["nevery"]) * float(meta["dt"]))
    cutoff = corr_cutoff if corr_cutoff is not None else cutoff_default
    cell = np.array(meta["cell"], dtype=float).reshape(3, 3) if meta.get("cell") else None
    out["correlated"] = correlated_summary(events, meta, window, cutoff, cell, n_random=corr_random, seed=corr_seed)

    if site_mode and site_frac is not None and cell is not None:
        try:
            con = hops.network_connectivity(events, len(site_frac), site_frac=site_frac, cell=cell)
            out["network"] = {"n_sites": int(len(site_frac)), "largest_component_fraction": con.largest_fraction,
                              "percolating": con.percolating,
                              "max_dimensionality": int(con.dimensionality.max())}
        except ValueError as err:
            out["network"] = {"skipped": str(err)}
    return out


def plot(events, meta, summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(9, 7))
    t = np.sort(events["time"])
    ax[0, 0].step(t, np.arange(1, len(t) + 1), where="post")
    ax[0, 0].set(xlabel="time", ylabel="cumulative hops", title=f"{len(t)} hops, {summary['n_ions']} ions")
    lengths = np.sqrt(events["dx"] ** 2 + events["dy"] ** 2 + events["dz"] ** 2)
    ax[0, 1].hist(lengths, bins=40)
    ax[0, 1].set(xlabel="hop length", ylabel="hops")
    res = events["residence"][~events["censored"]]
    if len(res):
        ax[1, 0].hist(res, bins=40)
    ax[1, 0].set(xlabel="residence time (uncensored)", ylabel="hops")
    ea = summary.get("activation_energy", {})
    if "per_type" in ea:
        ax[1, 1].hist([p["Ea"] for p in ea["per_type"]], bins=30)
        ax[1, 1].set(xlabel=f"E_a per jump type ({ea['unit']})", ylabel="jump types",
                     title=f"E_a = {ea['mean']:.3g} ± {ea['std']:.2g}")
    else:
        ax[1, 1].text(0.5, 0.5, "E_a: " + ea.get("skipped", "n/a"), ha="center", va="center", wrap=True)
        ax[1, 1].set_axis_off()
    fig.suptitle(f"ionsitu hops: fix {meta.get('fix_id')} ({meta.get('mode')})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _print(name, s):
    p = print
    p(f"== {name}")
    p(f"  ions {s['n_ions']}, observed time {s['total_time']:.6g} ({s['units']} units), hops {s['n_hops']}, "
      f"ions that hopped {s['n_ions_hopped']}")
    if "note" in s:
        p(f"  {s['note']}")
        return
    p(f"  hop rate per ion {s['hops_per_ion_per_time']:.6g} /time; hop length {s['hop_length']['mean']:.4g} "
      f"± {s['hop_length']['std']:.2g} {s['hop_length']['unit']}")
    if "jump_types" in s:
        p(f"  jump types {s['n_jump_types']}; most frequent:")
        for jt in s["jump_types"][:5]:
            p(f"    {jt['from']:>6} -> {jt['to']:<6} J={jt['count']:<5} rate {jt['rate']:.4g} /time  "
              f"length {jt['mean_length']:.4g}  ions {jt['n_ions']}")
    if s.get("jump_classes"):
        p(f"  jump classes (by hop length) {len(s['jump_classes'])}:")
        for jc in s["jump_classes"][:8]:
            p(f"    class {jc['class']}: |dr| {jc['length']:.4g}  J={jc['count']:<5} rate {jc['rate']:.4g} /time per ion, "
              f"z {jc['multiplicity']:.3g}, per direction {jc['rate_per_direction']:.4g}")
    r = s["residence"]
    if r["mean"] is not None:
        p(f"  residence time {r['mean']:.4g} ± {r['std'] if r['std'] is not None else float('nan'):.3g} "
          f"(n={r['n']}, {r['n_censored_left_out']} censored left out)")
    dj = s["D_j"]
    extra = f" = {dj['D_cm2_per_s']:.4g} cm^2/s" if "D_cm2_per_s" in dj else ""
    p(f"  D_j {dj['D']:.6g} {dj['unit']}{extra}")
    ea = s["activation_energy"]
    if "skipped" in ea:
        p(f"  E_a: skipped ({ea['skipped']})")
    else:
        p(f"  E_a {ea['mean']:.4g} ± {ea['std']:.3g} (range {ea['min']:.4g}..{ea['max']:.4g}, {ea['n_types']} jump "
          f"types; nu* {ea['attempt_frequency']:.4g} /time, T {ea['temperature']}; {ea['unit']})")
        p("  E_a per jump class: " + ", ".join(f"class {c['class']} (|dr| {c['length']:.4g}) {c['Ea']:.4g}"
                                              for c in ea["per_class"]))
    bj = s["backjumps"]
    p(f"  backjump fraction {bj['fraction']:.3f} ({bj['n_backjumps']}/{bj['n_considered']})" if "fraction" in bj
      else f"  backjumps: skipped ({bj['skipped']})")
    c = s["correlated"]
    p(f"  correlated hops {c['fraction_collective']:.3f} (window {c['time_window']:.4g}, cutoff {c['cutoff']:.4g}); "
      f"ions per event {c['ions_per_event']}")
    if "chance_fraction" in c:
        sd = c["chance_fraction_sd"]
        z = "n/a" if c["z"] is None else f"{c['z']:.2f}"
        p(f"    chance level {c['chance_fraction']:.3f} ± {sd if sd is not None else float('nan'):.3f} "
          f"({c['reference']['n_random']} random time shifts of each ion's hops, seed {c['reference']['seed']}); "
          f"excess {c['excess_fraction']:+.3f} (z {z}, p {c['p_value']:.3g})")
        hist = list(c["ions_per_event_chance"].items())
        parts = [f"{n}: {h['observed']} / {h['chance_mean']:.1f}" for n, h in hist[:8]]
        if len(hist) > 8:
            parts.append(f">{hist[7][0]}: {sum(h['observed'] for _, h in hist[8:])} / "
                         f"{sum(h['chance_mean'] for _, h in hist[8:]):.1f}")
        p("    events by ions per event, observed / chance: " + ", ".join(parts))
    if "network" in s and "skipped" not in s["network"]:
        n = s["network"]
        p(f"  jump network: largest component {n['largest_component_fraction']:.3f} of {n['n_sites']} sites, "
          f"percolating {n['percolating']} (dimensionality {n['max_dimensionality']})")


# --------------------------------------------------------------------------- command line


def check_finite(events, path) -> None:
    """ValueError naming the file and the first event with a NaN/inf position, displacement
    or time."""
    for name in events.dtype.names:
        if events.dtype[name].kind != "f":
            continue
        bad = np.flatnonzero(~np.isfinite(events[name]))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{path}: event {i + 1} (step {events['step'][i]}, atom {events['atom_id'][i]}) has "
                             f"{name} = {events[name][i]}; {bad.size} event(s) with non-finite {name}: corrupt "
                             "positions in the log")


def add_arguments(parser):
    parser.add_argument("path", help="run folder (every '# ionsitu-hops' file in it) or one event log")
    parser.add_argument("--sites", help="site file (default: the one named in the log, if found) for the jump network")
    parser.add_argument("--temperature", type=float, help="temperature (K; reduced in lj units) for E_a")
    parser.add_argument("--attempt-frequency", type=float,
                        help="attempt frequency nu* in 1/time of the run (default 1e13 Hz converted; none in lj)")
    parser.add_argument("--corr-window", type=float, help="correlated hops: time window (default 1/nu*)")
    parser.add_argument("--corr-cutoff", type=float, help="correlated hops: distance cutoff (default 10 A; 3 sigma in lj)")
    parser.add_argument("--corr-random", type=int, default=30,
                        help="correlated hops: shuffles for the chance level (each ion's hops shifted in time at "
                             "random; default 30, 0 = none)")
    parser.add_argument("--corr-seed", type=int, default=0, help="correlated hops: seed of the shuffles (default 0)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write the summary as JSON (to FILE or stdout)")
    parser.add_argument("--plots", metavar="DIR", help="write hops_<name>.png histograms into DIR")


def run(args) -> int:
    path = Path(args.path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_event_file(p))
        if not files:
            print(f"ionsitu hops: no hop-event log ('{MAGIC} 1' files of fix hop/events) in {path}", file=sys.stderr)
            return 2
    elif path.is_file():
        files = [path]
    else:
        print(f"ionsitu hops: {path} does not exist", file=sys.stderr)
        return 2
    results = {}
    for f in files:
        try:
            events, meta = read_events(f)
            check_finite(events, f)
        except ValueError as err:
            print(f"ionsitu hops: {err if str(f) in str(err) else f'{f}: {err}'}", file=sys.stderr)
            return 2
        site_frac = None
        site_path = args.sites or meta.get("site_file")
        if site_path:
            sp = Path(site_path)
            sp = sp if sp.is_absolute() or sp.exists() else f.parent / sp
            if Path(sp).exists():
                from ionsitu.sites import read_sites

                site_frac = read_sites(sp).frac
                if not np.isfinite(site_frac).all():
                    i = int(np.argwhere(~np.isfinite(site_frac))[0, 0])
                    print(f"ionsitu hops: {sp}: site {i} has a non-finite position {site_frac[i].tolist()}",
                          file=sys.stderr)
                    return 2
            elif args.sites:
                print(f"ionsitu hops: site file {args.sites} not found", file=sys.stderr)
                return 2
        s = summarize(events, meta, temperature=args.temperature, attempt_frequency=args.attempt_frequency,
                      corr_window=args.corr_window, corr_cutoff=args.corr_cutoff, site_frac=site_frac,
                      corr_random=args.corr_random, corr_seed=args.corr_seed)
        results[str(f)] = s
        if args.json != "-":
            _print(str(f), s)
        if args.plots:
            d = Path(args.plots)
            d.mkdir(parents=True, exist_ok=True)
            plot(events, meta, s, d / f"hops_{f.stem}.png")
    if args.json:
        text = json.dumps(results, default=float)  # no indent: json's C encoder (10x faster on 10^5 hops)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0

"""``ionsitu hops <run dir or event file>``: hop statistics of the event logs of fix hop/events.

Reads every event log (format ``# ionsitu-hops 1``, see docs/file_formats.md) in a
run folder, or one given file, and reports :func:`ionsitu.analysis.hops.hop_summary` (the same
function and defaults as the campaign report): hops, jump rates per
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

from ..io.events import EVENT_LOG_COLUMNS as COLUMNS  # noqa: F401 - re-exported
from ..io.atomic import write_atomic
from ..io.jsonsafe import json_safe
from ..io.events import EVENT_LOG_MAGIC as MAGIC
from ..io.events import is_event_file, read_events, resolve_site_file  # noqa: F401 - the reader lives in ionsitu.io.events
from ..analysis.hops.summary import CORR_RANDOM, CORR_SEED


# --------------------------------------------------------------------------- analysis


def correlated_summary(ch, window, cutoff) -> dict:
    """The 'correlated' entry of the summary from :class:`ionsitu.analysis.hops.CorrelatedHops`:
    observed fraction of collective hops, its chance level (circular time shifts of each ion's
    hop train), excess and z, and the histogram of ions per event observed vs chance."""
    out = {"fraction_collective": ch.fraction_collective, "time_window": window, "cutoff": cutoff,
           "ions_per_event": {int(n): int(c) for n, c in zip(ch.n_values, ch.n_counts)}}
    c = ch.chance
    if c is None:
        return out
    out.update({
        "chance_fraction": c.fraction_mean, "chance_fraction_sd": c.fraction_sd,
        "excess_fraction": c.excess, "z": c.z, "p_value": c.p_value,
        "ions_per_event_chance": {int(n): {"observed": int(o), "chance_mean": float(m), "chance_sd": float(sd),
                                           "z": float(z)}
                                  for n, o, m, sd, z in zip(c.n_values, c.n_counts_observed, c.n_counts_mean,
                                                            c.n_counts_sd, c.n_counts_z)},
        "reference": {"method": "each ion's hop train circularly shifted in time by an independent random offset "
                                "over the observed interval (hop count, spacing and positions kept)",
                      "n_random": c.n_random, "seed": c.seed, "time_span": list(c.time_span),
                      "time_quantum": c.time_quantum, "period": c.period},
    })
    return out


def summarize(events, meta, temperature=None, attempt_frequency=None, corr_window=None, corr_cutoff=None,
              site_frac=None, rel_tol=0.05, corr_random=CORR_RANDOM, corr_seed=CORR_SEED, vacf_atoms=None):
    """Summary dict of one event log: :func:`ionsitu.analysis.hops.hop_summary` (the function the
    campaign report pools, with the same defaults) formatted for the terminal and JSON. Jump
    classes: hop lengths clustered within ``rel_tol`` (relative), multiplicities from
    ``site_frac`` when given. Correlated hops with their chance level from ``corr_random``
    shuffles (seed ``corr_seed``). ν*: ``attempt_frequency`` (override), else the VDOS of
    ``vacf_atoms`` (the run's fix vacf per-atom VACFs), else the default."""
    from ionsitu import units as _units
    from ionsitu.analysis import hops

    units = meta.get("units", "lj")
    lab = _units.labels(units)
    s = hops.hop_summary(events, meta, temperature=temperature, attempt_frequency=attempt_frequency,
                         rel_tol=rel_tol, site_frac=site_frac, corr_window=corr_window, corr_cutoff=corr_cutoff,
                         corr_random=corr_random, corr_seed=corr_seed, vacf_atoms=vacf_atoms)
    out = {
        "file_meta": {k: meta.get(k) for k in ("fix_id", "group", "mode", "site_file", "nsites", "r_in", "r_out",
                                               "threshold", "window", "residence", "nevery", "dt", "units")},
        "n_ions": s.n_ions, "total_time": s.time, "units": units,
        "n_hops": s.n_hops, "n_ions_hopped": s.n_ions_hopped,
        "conventions": "rates per ion per time (1/time of the run's units); D_j = sum|dr|^2/(6 N t); "
                       "E_a,c = -kB T ln(J_c/(t N_c z_c nu*)) per jump class (N_c ions taking part), "
                       "E_a,i = -kB T ln(J_i/(t N_i nu*)) per ordered site pair (N_i the ions that made that jump); "
                       "nu* given, else from the run's VDOS (fix vacf atoms), else the default; the same "
                       "function and defaults as the campaign report (ionsitu.analysis.hops.hop_summary)",
        "unit_labels": lab,
    }
    if s.time <= 0 or s.n_hops == 0:
        out["note"] = "no hops (or no time) observed: nothing else to report"
        return out
    out["hops_per_ion_per_time"] = s.hop_rate
    if s.jump_types is not None:
        js = s.jump_types
        order = np.argsort(-js.count, kind="stable")
        out["n_jump_types"] = int(len(js.pairs))
        out["jump_types"] = [
            {"from": int(js.pairs[i, 0]), "to": int(js.pairs[i, 1]), "count": int(js.count[i]),
             "rate": float(js.rate[i]), "mean_length": float(js.mean_length[i]),
             "n_ions": int(js.n_participating[i])} for i in order]
    cs = s.classes
    out["jump_classes"] = [
        {"class": i, "length": float(cs.classes.length[i]), "count": int(cs.count[i]), "rate": float(cs.rate[i]),
         "n_ions": int(cs.n_participating[i]), "multiplicity": float(cs.multiplicity[i]),
         "rate_per_direction": float(cs.rate_per_direction[i]), "n_pairs": int(cs.n_pairs[i]), "D": float(cs.D[i])}
        for i in range(len(cs.count))]
    out["jump_class_conventions"] = (f"hop lengths clustered (gap > {rel_tol:g} x length); rate = J/(N t); "
                                     f"multiplicity z from the {cs.multiplicity_source}; rate_per_direction = "
                                     "J/(t N_c z); D = class share of D_j")
    lengths = np.sqrt(events["dx"] ** 2 + events["dy"] ** 2 + events["dz"] ** 2)
    out["hop_length"] = {"mean": float(lengths.mean()), "std": float(lengths.std()), "unit": lab["length"]}

    res = s.residence
    out["residence"] = {"n": int(len(res)), "n_censored_left_out": s.n_censored,
                        "mean": float(res.mean()) if len(res) else None,
                        "std": float(res.std(ddof=1)) if len(res) > 1 else None}
    dj = s.diffusivity
    out["D_j"] = {"D": dj.D, "D_xyz": dj.D_xyz.tolist(), "unit": lab["D_run"]}
    if not _units.is_reduced(units):
        out["D_j"]["D_cm2_per_s"] = float(_units.to_cm2_per_s(dj.D, units))

    if s.Ea_class is None and s.Ea_pair is None:
        reason = s.Ea_skipped or s.Ea_pair_skipped
        if reason == "no temperature given":
            reason = "give --temperature"
        elif s.attempt_frequency is None and s.site_mode and temperature is not None:
            reason = "give --attempt-frequency (no default in lj units)"
        out["activation_energy"] = {"skipped": reason}
    else:
        ea, eac = s.Ea_pair, s.Ea_class
        a = {"attempt_frequency": s.attempt_frequency, "attempt_frequency_source": s.attempt_frequency_source,
             "temperature": temperature, "unit": _units.activation_energy_unit(units)}
        if s.attempt_frequency_vdos is not None:
            v = s.attempt_frequency_vdos
            a["attempt_frequency_vdos"] = {"mean": v.mean, "sd": v.sd, "sem": v.sem, "n_ions": v.n, "unit": v.unit}
        if eac is not None:
            a.update(per_class=[{"class": int(p[0]), "length": float(cs.classes.length[p[0]]), "Ea": float(e)}
                                for p, e in zip(eac.pairs, eac.Ea)], class_mean=eac.mean, class_std=eac.std)
        else:
            a["class_skipped"] = s.Ea_skipped
        if ea is not None:
            a.update(mean=ea.mean, std=ea.std, min=ea.min, max=ea.max, n_types=int(len(ea.Ea)),
                     mean_abs_forward_backward_asymmetry=float(np.abs(ea.asymmetry).mean()) if len(ea.asymmetry)
                     else None,
                     per_type=[{"from": int(p[0]), "to": int(p[1]), "Ea": float(e)} for p, e in zip(ea.pairs, ea.Ea)])
        else:
            a["pair_skipped"] = s.Ea_pair_skipped
        out["activation_energy"] = a

    if s.backjumps is not None:
        bj = s.backjumps
        out["backjumps"] = {"fraction": bj.fraction, "n_backjumps": bj.n_backjumps, "n_considered": bj.n_considered}
    else:
        out["backjumps"] = {"skipped": s.backjump_skipped}

    out["correlated"] = correlated_summary(s.correlated, s.corr_window, s.corr_cutoff)
    out["correlated"]["time_window_source"] = s.corr_window_source
    out["correlated"]["cutoff_source"] = s.corr_cutoff_source

    cell = np.array(meta["cell"], dtype=float).reshape(3, 3) if meta.get("cell") else None
    if s.site_mode and site_frac is not None and cell is not None:
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
        nu = (f"nu* {ea['attempt_frequency']:.4g} /time ({ea['attempt_frequency_source']}), T {ea['temperature']}; "
              f"{ea['unit']}")
        if "mean" in ea:
            p(f"  E_a {ea['mean']:.4g} ± {ea['std']:.3g} (range {ea['min']:.4g}..{ea['max']:.4g}, {ea['n_types']} "
              f"jump types; {nu})")
        else:
            p(f"  E_a per site pair: skipped ({ea['pair_skipped']}); {nu}")
        if "per_class" in ea:
            p("  E_a per jump class: " + ", ".join(f"class {c['class']} (|dr| {c['length']:.4g}) {c['Ea']:.4g}"
                                                  for c in ea["per_class"]))
        else:
            p(f"  E_a per jump class: skipped ({ea['class_skipped']})")
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


def sitefree_events(path, species, timestep: float, units: str = "metal", format: str | None = None):
    """(events, meta) of a trajectory by site-free detection
    (:func:`ionsitu.analysis.hops.sitefree.detect_hops`, k-means + silhouette as IonDiff):
    the frames of ``path`` (:func:`ionsitu.io.trajectory.iter_frames`, unwrapped), the atoms
    of ``species`` (element symbol or LAMMPS type), times = step x ``timestep`` (time unit of
    ``units``). ``meta`` is an event-log header (mode "free") so that :func:`summarize` takes
    it: observed time from the first to the last frame, sampling = the step spacing."""
    from ..analysis.hops.sitefree import detect_hops
    from ..io.trajectory import _match, iter_frames

    if not timestep > 0:
        raise ValueError(f"--timestep must be > 0, got {timestep}")
    pos, steps, mask, first = [], [], None, None
    for fr in iter_frames(path, format=format):
        if first is None:
            first, mask = fr, _match(fr, species, "species")
        if fr.step is None:
            raise ValueError(f"{path}: frames without step numbers; site-free hops need the time of every frame")
        pos.append(fr.positions[mask])
        steps.append(int(fr.step))
    if first is None or len(pos) < 3:
        raise ValueError(f"{path}: {len(pos)} frame(s); site-free detection needs at least 3")
    steps = np.asarray(steps, dtype=np.int64)
    if np.any(np.diff(steps) <= 0):
        raise ValueError(f"{path}: step numbers do not increase")
    res = detect_hops(np.stack(pos), steps * float(timestep), atom_ids=first.ids[mask], steps=steps)
    meta = {"mode": "free", "units": units, "natoms": int(mask.sum()), "dt": float(timestep),
            "step_first": int(steps[0]), "step_last": int(steps[-1]),
            "nevery": int(np.gcd.reduce(np.diff(steps))), "cell": first.cell.ravel().tolist(),
            "threshold": None, "group": str(species), "fix_id": "sitefree"}
    return res.events, meta


def add_arguments(parser):
    parser.add_argument("path", help="run folder (every '# ionsitu-hops' file in it) or one event log; with "
                                     "--sitefree a trajectory")
    parser.add_argument("--sitefree", metavar="SPECIES",
                        help="detect hops in the trajectory PATH without sites (k-means + silhouette, IonDiff's "
                             "method; docs/hops_sitefree.md) for the atoms of SPECIES (element or LAMMPS type)")
    parser.add_argument("--timestep", type=float, help="with --sitefree: MD time step (time unit of --units)")
    parser.add_argument("--units", default="metal", help="with --sitefree: LAMMPS units style (default metal)")
    parser.add_argument("--format", help="with --sitefree: trajectory format (default: from the file)")
    parser.add_argument("--sites", help="site file (default: the one named in the log, if found) for the jump network")
    parser.add_argument("-T", "--temperature", type=float, help="temperature (K; reduced in lj units) for E_a")
    parser.add_argument("--attempt-frequency", type=float,
                        help="attempt frequency nu* in 1/time of the run (default 1e13 Hz converted to the run's "
                             "time unit, as in the campaign report; none in lj)")
    parser.add_argument("--vacf-atoms", metavar="FILE",
                        help="per-atom VACFs of the same run (fix vacf ... atoms FILE): nu* from its VDOS (default: "
                             "the '# ionsitu-vacf-atoms' file in the log's folder, if one; --attempt-frequency "
                             "overrides)")
    parser.add_argument("--corr-window", type=float,
                        help="correlated hops: time window (default 1/nu* when --attempt-frequency is given, else "
                             "5 samples of the fix)")
    parser.add_argument("--corr-cutoff", type=float, help="correlated hops: distance cutoff (default 10 A; 3 sigma in lj)")
    parser.add_argument("--corr-random", type=int, default=CORR_RANDOM,
                        help="correlated hops: shuffles for the chance level (each ion's hops shifted in time at "
                             f"random; default {CORR_RANDOM}, as the campaign report; 0 = none)")
    parser.add_argument("--corr-seed", type=int, default=CORR_SEED,
                        help=f"correlated hops: seed of the shuffles (default {CORR_SEED})")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write the summary as JSON (to FILE or stdout)")
    parser.add_argument("--plots", metavar="DIR", help="write hops_<name>.png histograms into DIR")


def run(args) -> int:
    path = Path(args.path)
    if args.sitefree is not None:
        if args.timestep is None:
            print("ionsitu hops: --sitefree needs --timestep", file=sys.stderr)
            return 2
        try:
            events, meta = sitefree_events(path, args.sitefree, args.timestep, args.units, args.format)
        except (ValueError, FileNotFoundError) as err:
            print(f"ionsitu hops: {err}", file=sys.stderr)
            return 2
        s = summarize(events, meta, temperature=args.temperature, attempt_frequency=args.attempt_frequency,
                      corr_window=args.corr_window, corr_cutoff=args.corr_cutoff, corr_random=args.corr_random,
                      corr_seed=args.corr_seed)
        return _emit(args, {str(path): s}, [] if not args.plots else [(path, events, meta, s)])
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
    results, plotted = {}, []
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
            sp = resolve_site_file(f, site_path)
            if sp.exists():
                from ionsitu.io.sites import read_sites

                site_frac = read_sites(sp).frac
                if not np.isfinite(site_frac).all():
                    i = int(np.argwhere(~np.isfinite(site_frac))[0, 0])
                    print(f"ionsitu hops: {sp}: site {i} has a non-finite position {site_frac[i].tolist()}",
                          file=sys.stderr)
                    return 2
            elif args.sites:
                print(f"ionsitu hops: site file {args.sites} not found", file=sys.stderr)
                return 2
        from ionsitu.analysis.vibrations import find_vacf_atoms_file

        vacf_atoms = None
        vpath = Path(args.vacf_atoms) if args.vacf_atoms else find_vacf_atoms_file(f.parent)
        if vpath is not None and args.attempt_frequency is None:
            from ionsitu.analysis.vibrations import read_vacf_atoms

            try:
                vacf_atoms = read_vacf_atoms(vpath)
            except (OSError, ValueError) as err:
                print(f"ionsitu hops: {err if str(vpath) in str(err) else f'{vpath}: {err}'}", file=sys.stderr)
                return 2
        s = summarize(events, meta, temperature=args.temperature, attempt_frequency=args.attempt_frequency,
                      corr_window=args.corr_window, corr_cutoff=args.corr_cutoff, site_frac=site_frac,
                      corr_random=args.corr_random, corr_seed=args.corr_seed, vacf_atoms=vacf_atoms)
        results[str(f)] = s
        if args.plots:
            plotted.append((f, events, meta, s))
    return _emit(args, results, plotted)


def _emit(args, results: dict, plotted: list) -> int:
    """Print each summary (unless JSON goes to stdout), draw the plots, write the JSON."""
    for name, s in results.items():
        if args.json != "-":
            _print(name, s)
    for f, events, meta, s in plotted:
        d = Path(args.plots)
        d.mkdir(parents=True, exist_ok=True)
        plot(events, meta, s, d / f"hops_{Path(f).stem}.png")
    if args.json:
        text = json.dumps(json_safe(results), allow_nan=False)  # no indent: json's C encoder (10x faster on 10^5 hops)
        if args.json == "-":
            print(text)
        else:
            write_atomic(args.json, text + "\n")
    return 0

"""``ionsitu analyze``: D*, D_sigma, Haven ratio and conductivity, with Arrhenius fits.

Inputs
------
- MSD files written by ``fix msd/cross`` (or ``ionsitu.core``): one state point each.
- Run folders: every MSD file found under the folder (recursively; recognised by their
  ``# ionsitu-msd`` line, first or after the column names) is a replica of one state point (mean +- standard error).
- Campaign folders: a folder whose sub-folders are named by temperature (``T600``,
  ``T=600``, ``600K``, ``T0.6``) gives one state point per sub-folder, its MSD files being
  the replicas, e.g.::

      campaign/T600/rep1/msd.dat  campaign/T600/rep2/msd.dat  campaign/T700/rep1/msd.dat

- Trajectories (``--trajectory FILE ...``: LAMMPS text dumps, anything ASE reads, DCD/XTC/
  TRR/H5MD through MDAnalysis; the format from the file name) are turned into MSD results by
  :mod:`ionsitu.trajectory` (``--species``, ``--timestep``, ...). The time base is never
  assumed: frames without step numbers need ``--stride`` or ``--frame-interval``. Short
  trajectories get every time origin at every lag unless ``--block``/``--levels`` are given.

Temperatures: ``--temperature`` gives either one value for every state point or one value
per state point, in the order: positional inputs (a campaign folder contributes its
sub-folders in increasing temperature), then trajectories. Without it, temperatures come
from the folder/file names (``T600``, ``600K``). State points with the same temperature
are merged as replicas. With two or more temperatures the Arrhenius fits of D*, D_sigma
(ln D vs 1/T) and sigma (ln(sigma T) vs 1/T) are reported, with the value extrapolated to
300 K (``--extrapolate``; not for reduced ``lj`` units unless given).

Drift: whatever the MSD producer removed is reported (``fix msd/cross`` default and
``--drift all``: the mass-weighted centre of mass of the whole system).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import units as _units
from ..io.jsonsafe import json_safe
from ..io.msd import FORMAT_TAG
from ..io.trajectory import describe_drift

_T_NAME = re.compile(r"^(?:T[=_-]?(?P<a>\d+(?:\.\d*)?)K?|(?P<b>\d+(?:\.\d*)?)K)$")
MSD_TAG = FORMAT_TAG


@dataclass
class StatePoint:
    """One temperature: its MSD results (replicas) and where they came from."""

    T: float | None
    results: list = field(default_factory=list)
    sources: list = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------
def add_arguments(parser):
    parser.description = __doc__.split("\n\n")[0]
    parser.epilog = ("Run folders: all MSD files below a folder are replicas of one state point; a folder with "
                     "sub-folders named T600/T=600/600K is a campaign, one state point per sub-folder. Inputs at the "
                     "same temperature are averaged as replicas.")
    parser.add_argument("inputs", nargs="*", help="MSD files (fix msd/cross output) or run/campaign folders")
    parser.add_argument("--temperature", "-T", type=float, nargs="+", metavar="T",
                        help="temperature(s) in K (reduced for lj): one for all inputs or one per state point")
    parser.add_argument("-z", "--charge-number", "--charge", dest="charge", type=float, default=1.0,
                        help="ionic charge number z of the mobile ions for the Nernst-Einstein conductivity from "
                        "D_sigma (default 1; --charge is the old spelling); per-species charges: --charges")
    parser.add_argument("--window", type=float, nargs=2, metavar=("TMIN", "TMAX"),
                        help="fit window in time units of the run (default: automatic, where beta ~ 1)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write every number (and the conventions) as JSON to FILE, or to stdout without FILE "
                        "(the table then goes to stderr)")
    parser.add_argument("--plots", metavar="DIR", help="write MSD (and Arrhenius) figures into this folder")
    parser.add_argument("--extrapolate", type=float, metavar="T",
                        help="extrapolate the Arrhenius fits to this temperature (default 300 K; none for lj)")
    parser.add_argument("--no-offset", action="store_true", help="fit MSD = 2dDt without an intercept")
    tr = parser.add_argument_group("trajectories (analysed with ionsitu.trajectory through ionsitu.core)")
    tr.add_argument("--trajectory", nargs="+", default=[], metavar="FILE",
                    help="trajectories: LAMMPS text dumps (any name), .extxyz/.exyz/.xyz, XDATCAR, OUTCAR, "
                    "vasprun.xml, .traj (ASE); .dcd/.xtc/.trr/.h5md (MDAnalysis, pip install 'ionsitu[mdanalysis]')")
    tr.add_argument("--species", nargs="+", metavar="S", help="mobile species: element symbols or LAMMPS atom types")
    tr.add_argument("--timestep", type=float, help="MD timestep in time units of --units")
    tr.add_argument("--stride", type=int, help="MD steps between frames (read from the file when it has step "
                    "numbers: dumps, extxyz 'step', XTC/TRR/H5MD, DCD header)")
    tr.add_argument("--frame-interval", type=float, metavar="DT",
                    help="time between frames in time units of --units (instead of --timestep/--stride); frames "
                    "without step numbers need --stride or --frame-interval: the time base is never assumed")
    tr.add_argument("--units", help="LAMMPS units style of the trajectory (dumps: from ITEM: UNITS if present; "
                    "ASE, MDAnalysis: default metal = Å, ps)")
    tr.add_argument("--drift", choices=("all", "framework", "none"), default="all",
                    help="drift removed: centre of mass of the whole system (default), of the non-mobile atoms, "
                    "or nothing (mass-weighted; with --masses equal the plain centroid)")
    tr.add_argument("--masses", nargs="+", metavar="S:M",
                    help="masses per type/element, e.g. 1:20 2:1 (default: dump 'mass' column, ASE or the "
                    "topology), or 'equal'")
    tr.add_argument("--charges", nargs="+", metavar="S:Q",
                    help="charges of the mobile species (charge MSD, Onsager terms), e.g. Li:1 (MSD files of "
                    "fix msd/cross carry the fix's charges)")
    tr.add_argument("--format", help="trajectory format (default: from the file name; LAMMPS dumps are detected): "
                    "lammps-dump, an ASE format name (extxyz, vasp-xdatcar, traj, ...) or dcd/xtc/trr/h5md")
    tr.add_argument("--topology", metavar="FILE", help="DCD/XTC/TRR: the file naming the atoms (the LAMMPS data "
                    "file of the run, PDB, GRO, ...)")
    tr.add_argument("--unwrap", choices=("auto", "minimum-image"), default="auto",
                    help="dumps: 'minimum-image' to unwrap wrapped x y z without image flags")
    tr.add_argument("--block", type=int, help="correlator block length (default: automatic, see --levels)")
    tr.add_argument("--levels", type=int, help="correlator levels (default: every origin at every lag, i.e. block "
                    "= number of frames and 1 level, when frames^2 x mobile atoms <= 1e9; else block 10, levels 7)")
    tr.add_argument("--ion-groups", type=int, metavar="G",
                    help="random groups of the mobile ions for the model-free ion bootstrap (tracer) and jackknife "
                         "(collective) error; 0: none (default: 16 with >= 32 mobile ions where their extra cost is small)")
    tr.add_argument("--save-msd", metavar="DIR", help="write each trajectory's MSD file into this folder")


def _key(s: str):
    return int(s) if s.strip().isdigit() else s.strip()


def _pairs(items, what):
    out = {}
    for it in items or []:
        if ":" not in it:
            raise ValueError(f"--{what}: expected SPECIES:VALUE, got {it!r}")
        k, v = it.rsplit(":", 1)
        try:
            out[_key(k)] = float(v)
        except ValueError:
            raise ValueError(f"--{what}: bad number {v!r} in {it!r}") from None
    return out


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def temperature_from_name(name: str) -> float | None:
    m = _T_NAME.match(name)
    if not m:
        return None
    return float(m.group("a") or m.group("b"))


def _is_msd_file(p: Path) -> bool:
    from ..io.msd import is_msd_file

    return is_msd_file(p)


def _msd_files(folder: Path) -> list[Path]:
    """The MSD files under ``folder``, one per replica (a member's production segments are
    parts of its msd.dat, not replicas: left out)."""
    from ..io.msd import is_segment_file

    return sorted(p for p in folder.rglob("*") if p.is_file() and not is_segment_file(p) and _is_msd_file(p))


def _name_T(path: Path) -> float | None:
    for part in (path.name, path.stem, path.parent.name):
        T = temperature_from_name(part)
        if T is not None:
            return T
    return None


def collect_inputs(inputs) -> list[StatePoint]:
    """State points (temperature from names, or None) from files and folders."""
    from ..io.msd import read_msd
    from ..io.trajectory import is_lammps_dump

    points = []
    for inp in inputs:
        p = Path(inp)
        if not p.exists():
            raise FileNotFoundError(f"input not found: {inp}")
        if p.is_file():
            if not _is_msd_file(p):
                hint = " (a LAMMPS dump: pass it with --trajectory)" if is_lammps_dump(p) else ""
                raise ValueError(f"{inp}: not an ionsitu MSD file{hint}")
            points.append(StatePoint(_name_T(p), [read_msd(p)], [str(p)]))
            continue
        subs = sorted((temperature_from_name(s.name), s) for s in p.iterdir()
                      if s.is_dir() and temperature_from_name(s.name) is not None)
        if subs:  # campaign folder
            for T, s in subs:
                files = _msd_files(s)
                if not files:
                    raise ValueError(f"{s}: no MSD files (with a '{MSD_TAG}' line) in this temperature folder")
                points.append(StatePoint(T, [read_msd(f) for f in files], [str(f) for f in files]))
        else:
            files = _msd_files(p)
            if not files:
                raise ValueError(f"{inp}: no MSD files (with a '{MSD_TAG}' line) in this folder")
            points.append(StatePoint(temperature_from_name(p.name), [read_msd(f) for f in files],
                                     [str(f) for f in files]))
    return points


def trajectory_points(args) -> list[StatePoint]:
    from ..io.trajectory import msd_from_trajectory

    if not args.trajectory:
        return []
    if not args.species:
        raise ValueError("--trajectory needs --species (element symbols or LAMMPS atom types)")
    if args.timestep is None and args.frame_interval is None:
        raise ValueError("--trajectory needs --timestep (MD timestep in time units of --units) or --frame-interval "
                         "(time between frames)")
    masses = None
    if args.masses:
        masses = "equal" if args.masses == ["equal"] else _pairs(args.masses, "masses")
    charges = _pairs(args.charges, "charges") or None
    points = []
    for f in args.trajectory:
        write = None
        if args.save_msd:
            Path(args.save_msd).mkdir(parents=True, exist_ok=True)
            write = Path(args.save_msd) / (Path(f).name + ".msd.dat")
        res = msd_from_trajectory(f, [_key(s) for s in args.species], args.timestep, stride=args.stride,
                                  frame_interval=args.frame_interval, units=args.units, drift=args.drift,
                                  masses=masses, charges=charges, block=args.block, levels=args.levels,
                                  format=args.format, unwrap=args.unwrap, topology=args.topology, write=write,
                                  ion_groups=args.ion_groups)
        points.append(StatePoint(_name_T(Path(f)), [res], [str(f)]))
    return points


def assign_temperatures(points: list[StatePoint], temps) -> list[StatePoint]:
    """Apply --temperature and merge state points of equal temperature (replicas)."""
    if not points:
        raise ValueError("nothing to analyse: give MSD files, run folders or --trajectory files")
    if temps:
        if len(temps) == 1:
            for p in points:
                p.T = temps[0]
        elif len(temps) == len(points):
            for p, T in zip(points, temps):
                p.T = T
        else:
            raise ValueError(f"--temperature has {len(temps)} values but there are {len(points)} state points "
                             f"({', '.join(p.sources[0] + ('...' if len(p.sources) > 1 else '') for p in points)}); "
                             "give one temperature for all or one per state point")
    missing = [p.sources[0] for p in points if p.T is None]
    if missing:
        raise ValueError(f"no temperature for {missing}: give --temperature (or name folders T600, 600K)")
    merged: dict[float, StatePoint] = {}
    for p in points:
        if p.T in merged:
            merged[p.T].results += p.results
            merged[p.T].sources += p.sources
        else:
            merged[p.T] = StatePoint(p.T, list(p.results), list(p.sources))
    out = [merged[T] for T in sorted(merged)]
    for sp in out:
        u = {r.units for r in sp.results}
        if len(u) > 1:
            raise ValueError(f"T = {sp.T:g}: replicas in different unit styles {sorted(u)}: {sp.sources}")
    units = {sp.results[0].units for sp in out}
    if len(units) > 1:
        raise ValueError(f"inputs in different unit styles {sorted(units)}; analyse them separately")
    return out


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------
def _pm(v, e):
    if v is None or not np.isfinite(v):
        return "n/a"
    if e is None or not np.isfinite(e):
        return f"{v:.4g}"
    return f"{v:.4g} ± {e:.2g}"


def format_report(sp: StatePoint, rep, units: str) -> str:
    tu = _units.labels(units)["time"]
    Tu = "(reduced)" if _units.is_reduced(units) else "K"
    tr, co, hr, cd = rep.tracer, rep.collective, rep.haven, rep.conductivity
    # (name, value, error, per-direction values, errors, unit, resolved, upper bound, per-direction resolved)
    rows = [
        ("D* (tracer)", tr.D, tr.D_err, tr.D_xyz, tr.D_xyz_err, tr.unit, tr.resolved, tr.upper_95,
         tr.D_xyz_resolved),
        ("D_sigma (collective)", co.D, co.D_err, co.D_xyz, co.D_xyz_err, co.unit, co.resolved, co.upper_95,
         co.D_xyz_resolved),
        ("H_R = D*/D_sigma", hr.H, hr.H_err, hr.H_xyz, hr.H_xyz_err, "", hr.resolved, None,
         np.isfinite(hr.H_xyz)),
    ]
    for c, name in ((cd, f"sigma (z = {cd.z:g})" if cd else ""), (rep.charge_conductivity, "sigma (charge MSD)")):
        if c is not None:
            rows.append((name, c.sigma, c.sigma_err, c.sigma_xyz, c.sigma_xyz_err, c.unit, c.resolved, c.upper_95,
                         np.isfinite(c.sigma_xyz)))
    nrep = len(sp.results)
    drift_text = describe_drift(rep.drift, sp.results[0].meta.get("masses") == "equal")
    lines = [
        f"T = {sp.T:g} {Tu}: {nrep} MSD result{'s' if nrep > 1 else ''} "
        f"({'mean over replicas' if nrep > 1 else 'GLS fit on log-spaced lags'}, 1-sigma errors: "
        f"tracer {tr.err_method}, collective {co.err_method}); {tr.natoms} mobile ions; units {units}",
        f"  fit window {tr.t_start:g}–{tr.t_end:g} {tu} ({tr.window_method}, {tr.n_lags} lags, "
        f"{tr.n_fit_lags} fitted); chi2_red tracer {tr.chi2_red:.3g}, collective {co.chi2_red:.3g}",
        f"  drift removed: {rep.drift} ({drift_text})"
        + (f"; c = {cd.concentration:.4g} {cd.concentration_unit}" if cd else ""),
    ]
    if tr.n_ion_groups:
        lines.append(f"  ion resampling over {tr.n_ion_groups} groups: sigma D* {tr.D_err_boot:.2g} (model "
                     f"{tr.D_err_model:.2g}), sigma D_sigma {co.D_err_boot:.2g} (model {co.D_err_model:.2g}) {tr.unit}")
    lines += [f"  note: {n}" for n in rep.notes]
    unresolved = [r[0] for r in rows if not r[6]]
    if unresolved:
        lines.append(f"  unresolved (not significantly > 0, D - 2 sigma <= 0): {', '.join(unresolved)}; "
                     "shown as '< upper 95 % bound'; longer runs or replicas resolve them")
    meta = sp.results[0].meta
    if meta.get("producer") == "ionsitu.trajectory":
        lines.append(f"  from trajectory ({meta.get('source_format')}): unwrapped positions from {meta.get('unwrap')}; "
                     f"species {' '.join(meta.get('species', []))}")
        lines.append(f"  {meta.get('nframes')} frames; correlator block/levels {meta.get('block_levels')}")
    w = [22, 22, 22, 22, 22]
    lines.append("  " + "quantity".ljust(w[0]) + "".join(h.ljust(x) for h, x in zip(("total", "x", "y", "z"), w[1:]))
                 + "unit")
    for name, v, e, vx, ex, unit, ok, up, okx in rows:
        total = _pm(v, e) if ok else (f"< {up:.3g} (unresolved)" if up is not None else "unresolved")
        cells = [total] + [_pm(a, b) if k else "unresolved" for a, b, k in zip(vx, ex, okx)]
        lines.append("  " + name.ljust(w[0]) + "".join(c.ljust(x) for c, x in zip(cells, w[1:])) + unit)
    return "\n".join(lines)


def arrhenius_fits(points, reports, units, extrapolate_T):
    """Arrhenius fits of D*, D_sigma (ln D) and sigma (ln sigma T); None below 2 temperatures."""
    from ..analysis import arrhenius

    if len(points) < 2:
        return None
    kB = _units.boltzmann(units)
    T = np.array([sp.T for sp in points])
    quantities = {
        "tracer": ("D", [r.tracer for r in reports], "D", "D_err", reports[0].tracer.unit),
        "collective": ("D", [r.collective for r in reports], "D", "D_err", reports[0].collective.unit),
    }
    if all(r.conductivity is not None for r in reports):
        quantities["conductivity"] = ("sigma", [r.conductivity for r in reports], "sigma", "sigma_err",
                                      reports[0].conductivity.unit)
    out = {}
    for name, (kind, objs, vkey, ekey, unit) in quantities.items():
        Tq, y, e, skipped = arrhenius.resolved_points(
            T, [getattr(o, vkey) for o in objs], [getattr(o, ekey) for o in objs], [o.resolved for o in objs])
        entry = {"kind": kind, "T": Tq, "y": y, "y_err": e, "unit": unit, "fit": None, "error": None,
                 "skipped_T": skipped}
        if len(np.unique(Tq)) < 2:
            entry["error"] = (f"{name}: unresolved (not significantly > 0) at T = "
                              f"{', '.join(f'{t:g}' for t in skipped)}; fewer than 2 temperatures left to fit "
                              "(noisy collective MSD: longer runs or replicas)")
            out[name] = entry
            continue
        try:
            use_err = e if np.all(np.isfinite(e) & (e > 0)) else None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit = arrhenius.fit(Tq, y, kind, use_err, kB=kB, units=units)
            entry["warnings"] = [str(w.message) for w in caught]
            if len(skipped):
                entry["warnings"].append(f"{name}: skipped unresolved T = {', '.join(f'{t:g}' for t in skipped)}")
            entry["fit"] = fit
            if extrapolate_T is not None:
                entry["extrapolation"] = fit.extrapolate(extrapolate_T, level=0.95)
            if len(np.unique(Tq)) >= 5:
                try:
                    entry["two_regime"] = arrhenius.fit_two_regime(Tq, y, kind, use_err, kB=kB)
                except (ValueError, RuntimeError) as exc:
                    entry["two_regime_error"] = str(exc)
        except ValueError as exc:  # e.g. a negative D at one temperature
            entry["error"] = str(exc)
        out[name] = entry
    return out


def format_arrhenius(fits, units, extrapolate_T) -> str:
    Eu = _units.activation_energy_unit(units)
    lines = ["Arrhenius fits (weighted by the 1-sigma errors; 95 % confidence intervals):"]
    for name, e in fits.items():
        label = {"tracer": "D*", "collective": "D_sigma", "conductivity": "sigma"}[name]
        if e["fit"] is None:
            lines.append(f"  {label}: no fit ({e['error']})")
            continue
        f = e["fit"]
        # the prefactor is in the unit of the data (times T for ln(sigma T)), of the run's style
        lines.append(f"  {label:8s} Ea = {_pm(f.Ea, f.Ea_err)} {Eu}; prefactor {_pm(f.prefactor, f.prefactor_err)} "
                     f"{f.prefactor_unit}; R² = {f.r2:.4f}; [{f.convention}]")
        if "extrapolation" in e:
            x = e["extrapolation"]
            lines.append(f"           at T = {extrapolate_T:g}{'' if _units.is_reduced(units) else ' K'}: {x.value:.3g} {e['unit']} "
                         f"(95 % CI {x.lo:.3g} – {x.hi:.3g})")
        if "two_regime" in e:
            t2 = e["two_regime"]
            lines.append(f"           two regimes: Tc = {t2.Tc:.4g} ± {t2.Tc_err:.2g}, Ea low {t2.Ea_low:.3g}, high "
                         f"{t2.Ea_high:.3g}; {t2.criterion} prefers {t2.preferred} line(s)")
        for w in e.get("warnings", []):
            lines.append(f"           warning: {w}")
    return "\n".join(lines)


def _fit_json(e, extrapolate_T):
    d = {"kind": e["kind"], "unit": e["unit"], "T": e["T"], "y": e["y"], "y_err": e["y_err"], "error": e["error"],
         "skipped_T_unresolved": e.get("skipped_T", [])}
    if e["fit"] is not None:
        d["fit"] = e["fit"].to_dict()
        d["warnings"] = e.get("warnings", [])
    if "extrapolation" in e:
        x = e["extrapolation"]
        d["extrapolation"] = {"T": extrapolate_T, "value": x.value, "lo": x.lo, "hi": x.hi, "level": x.level}
    if "two_regime" in e:
        d["two_regime"] = e["two_regime"].to_dict()
    return d


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------
def run(args) -> int:
    """``ionsitu analyze``. With ``--json`` and no FILE the JSON is all that goes to stdout
    (the table goes to stderr), as with ``ionsitu hops --json``."""
    if args.json == "-":
        out = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return _analyze(args, out)
    return _analyze(args, None)


def _analyze(args, json_stream) -> int:
    import ionsitu
    from ..analysis import transport
    from ..analysis.arrhenius import KINDS

    try:
        points = collect_inputs(args.inputs) + trajectory_points(args)
        points = assign_temperatures(points, args.temperature)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"ionsitu analyze: error: {exc}", file=sys.stderr)
        return 2
    units = points[0].results[0].units
    extrapolate_T = args.extrapolate
    if extrapolate_T is None and not _units.is_reduced(units):
        extrapolate_T = 300.0
    window = tuple(args.window) if args.window else None

    reports = []
    for sp in points:
        res = sp.results if len(sp.results) > 1 else sp.results[0]
        try:
            rep = transport.analyse(res, sp.T, z=args.charge, window=window, offset=not args.no_offset)
        except (ValueError, RuntimeError) as exc:
            print(f"ionsitu analyze: error at T = {sp.T:g} ({', '.join(sp.sources)}): {exc}", file=sys.stderr)
            return 2
        reports.append(rep)
        print(format_report(sp, rep, units))
        print()

    fits = arrhenius_fits(points, reports, units, extrapolate_T)
    if fits is not None:
        print(format_arrhenius(fits, units, extrapolate_T))

    written = []
    if args.plots:
        from ..report import plots

        out = Path(args.plots)
        tu, lu = _units.labels(units)["time"], _units.labels(units)["length"]
        for sp, rep in zip(points, reports):
            name = f"msd_T{sp.T:g}.png"
            written.append(plots.plot_msd(sp.results, rep, out / name, time_unit=tu, length_unit=lu,
                                          title=f"T = {sp.T:g}{'' if _units.is_reduced(units) else ' K'}: "
                                                f"{len(sp.results)} run(s), drift: {rep.drift}"))
        if fits is not None:
            series = []
            labels = {"tracer": ("D*", 0, "tab:blue", "fit of ln D*"),
                      "collective": ("D_σ", 0, "tab:red", "fit of ln D_σ"),
                      "conductivity": ("σ", 1, "tab:green", "fit of ln σT")}
            for name, e in fits.items():
                lab, panel, color, flab = labels[name]
                series.append({"label": lab, "T": e["T"], "y": e["y"], "y_err": e["y_err"], "fit": e["fit"],
                               "unit": e["unit"], "panel": panel, "color": color, "fit_label": flab})
            written.append(plots.plot_arrhenius(series, out / "arrhenius.png", extrapolate_T=extrapolate_T,
                                                reduced=_units.is_reduced(units),
                                                energy_unit=plots.energy_label(units), units=units))
        print("\nfigures: " + ", ".join(str(w) for w in written))

    if args.json:
        doc = {
            "ionsitu_version": ionsitu.__version__,
            "arguments": {k: v for k, v in vars(args).items() if not callable(v)},
            "units": units,
            "time_unit": _units.labels(units)["time"],
            "unit_labels": _units.labels(units),
            "conventions": {
                "drift": "as removed by the MSD producer (per state point: 'drift'); fix msd/cross and "
                         "--drift all: mass-weighted centre of mass of the whole system",
                "errors": "1-sigma; replicas: mean and standard error of the mean",
                "arrhenius": {k: v[0] for k, v in KINDS.items()},
                "temperature_unit": _units.temperature_unit(units),
            },
            "state_points": [
                {"T": sp.T, "inputs": sp.sources, "n_replicas": len(sp.results), "drift": rep.drift,
                 "report": rep.to_dict()}
                for sp, rep in zip(points, reports)
            ],
            "arrhenius": None if fits is None else {k: _fit_json(e, extrapolate_T) for k, e in fits.items()},
            "figures": [str(w) for w in written],
        }
        text = json.dumps(json_safe(doc), indent=1, allow_nan=False)
        if json_stream is not None:
            print(text, file=json_stream)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text)
            print(f"JSON: {args.json}")
    return 0

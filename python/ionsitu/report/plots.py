"""Figures of the transport analysis (matplotlib, Agg: no display needed).

- :func:`plot_msd`: tracer and collective MSD on log-log axes with the fitted window
  shaded and the fitted lines, and the local slope beta(t) = dlog MSD/dlog t below it.
- :func:`plot_arrhenius`: D*, D_sigma and sigma against 1000/T (1/T for reduced units)
  with the weighted Arrhenius fits, their 95 % confidence bands and the value
  extrapolated to 300 K (or another temperature) with its interval.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly,
so no pyplot state or interactive backend is involved, and with fixed margins (no layout
engine: each figure is measured and drawn once). Axis labels take their units from
:func:`ionsitu.units.labels`.

- :func:`campaign_plots`: every figure of the campaign report (MSD per temperature, Arrhenius,
  hop rate, occupancy slices: :func:`plot_hop_rate`, :func:`plot_occupancy`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import units as _units
from ..io.atomic import write_atomic
from ..measurement import format_with_error

__all__ = ["plot_msd", "plot_arrhenius", "campaign_plots", "plot_hop_rate", "plot_occupancy", "save_figure",
           "figure_files", "FIGURES", "FIGURE_FORMATS", "FigureContext", "axis_labels",
           "plot_site_maps", "plot_rdf", "plot_doas", "plot_vdos"]


def energy_label(style) -> str:
    """Short energy unit of activation energies in figure labels: eV, or the LJ energy unit."""
    st = _units.get_style(style)
    return st.energy if st.reduced else _units.activation_energy_unit(st)

def axis_labels(style) -> dict[str, str]:
    """Axis labels of the Arrhenius figures in a unit style, from :func:`ionsitu.units.labels`:
    D, conductivity (never "sigma", the LJ length), T (top axis) and the inverse-T axis."""
    lab = {k: v.replace(" (lj reduced units)", "") for k, v in _units.labels(style).items()}
    reduced = _units.get_style(style).reduced
    return {"D": f"D ({lab['D']})", "conductivity": f"conductivity ({lab['conductivity']})",
            "T": f"T ({lab['temperature']})", "inv_T": "1/T (reduced)" if reduced else "1000/T (1/K)"}


COLORS = {"tracer": "tab:blue", "collective": "tab:red", "conductivity": "tab:green"}


def figure(figsize, nrows=1, ncols=1, margins=(1.0, 0.3, 0.45, 0.5), hspace=0.08, wspace=0.2, **subplots_kw):
    """Figure, Agg canvas and axes with fixed margins (left, right, top, bottom; inches):
    no layout engine, whose repeated text measurements cost seconds per figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots_kw)
    w, h = figsize
    left, right, top, bottom = margins
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, hspace=hspace,
                        wspace=wspace)
    return fig, axes


#: figure file formats the report can write (``report.figure_formats``); PNG is always written
FIGURE_FORMATS = ("png", "svg", "pdf")


def save_figure(fig, path, formats=("png",), dpi=120) -> Path:
    """Write ``fig`` as ``path`` (PNG) and, for each other format in ``formats`` (svg, pdf), as
    ``path`` with that suffix, each atomically; returns the PNG path."""
    path = Path(path)
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad:
        raise ValueError(f"unknown figure format(s) {', '.join(map(repr, bad))}; known: {', '.join(FIGURE_FORMATS)}")
    for fmt in dict.fromkeys(("png", *formats)):   # each file atomically (io.atomic.write_atomic)
        write_atomic(path.with_suffix(f".{fmt}"), lambda fh, fmt=fmt: fig.savefig(fh, format=fmt, dpi=dpi))
    return path


def figure_files(png: Path, formats) -> dict[str, Path]:
    """{format: path} of the files :func:`save_figure` wrote for ``png``."""
    return {f: Path(png).with_suffix(f".{f}") for f in dict.fromkeys(("png", *formats))}


def _figure(nrows, height_ratios=None, figsize=(6.4, 6.4)):
    fig, axes = figure(figsize, nrows, sharex=True,
                       gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)
    return fig, axes[:, 0]


def _mean_curve(results, attr):
    """(t, replica mean, standard error of the mean) on the valid lags of the first result (all
    share lags), else the first alone; the error is None with one replica."""
    r0 = results[0]
    ok = (r0.n_origins > 0) & (r0.lag_steps > 0)
    same = all(np.array_equal(r.lag_steps, r0.lag_steps) and np.array_equal(r.n_origins > 0, r0.n_origins > 0)
               for r in results[1:])
    ys = np.array([getattr(r, attr)[ok] for r in (results if same else results[:1])])
    se = ys.std(axis=0, ddof=1) / np.sqrt(len(ys)) if len(ys) > 1 else None
    return r0.time[ok], ys.mean(axis=0), se


def plot_msd(results, report, path, *, title: str = "", time_unit: str = "", length_unit: str = "",
             beta_tol: float = 0.1, formats=("png",)):
    """Log-log MSD figure of one state point: MSD with its error band, β(t) and α₂(t).

    results : MSDResult or list of replicas; report : :class:`ionsitu.transport.TransportReport`
    (or an object with ``tracer`` and ``collective`` :class:`DiffusionFit`). The fitted
    window is shaded, the fitted lines MSD = 2 d D t + c are drawn over it; the band is the
    standard error of the replica mean (none with one replica: the legend says so). Below:
    the local slope β = dlog MSD/dlog t of the tracer MSD and its non-Gaussian parameter
    α₂ = 3<|Δr|⁴>/(5<|Δr|²>²) - 1 (``DiffusionFit.alpha2``, from the msd file's ``msd4`` column).
    """
    results = results if isinstance(results, (list, tuple)) else [results]
    fig, (ax, axb, axa) = _figure(3, [3, 1, 1], figsize=(6.4, 7.4))
    n = len(results)
    band = f", band: ±1 s.e. of {n} replicas" if n > 1 else ", one replica: no band"
    for key, attr, label in (("tracer", "msd", "tracer (self) MSD"), ("collective", "coll", "collective MSD")):
        fit = getattr(report, key)
        t, y, se = _mean_curve(results, attr)
        pos = y > 0
        ax.loglog(t[pos], y[pos], "-", lw=1.2, color=COLORS[key], label=label + (f", mean{band}" if n > 1 else band))
        if se is not None:
            lo = np.clip(y - se, y * 1e-3, None)
            ax.fill_between(t[pos], lo[pos], (y + se)[pos], color=COLORS[key], alpha=0.25, lw=0)
        tw = np.geomspace(fit.t_start, fit.t_end, 50)
        line = 6.0 * fit.D_run * tw + fit.offset
        good = line > 0
        ax.loglog(tw[good], line[good], "--", color="k" if key == "tracer" else "darkred", lw=1.5,
                  label=f"fit: D = {format_with_error(fit.D, fit.D_err, fit.unit)}")
    tr = report.tracer
    for a in (ax, axb, axa):
        a.axvspan(tr.t_start, tr.t_end, color="0.85", zorder=0)
    ax.text(0.02, 0.97, f"fit window {tr.t_start:g}–{tr.t_end:g} {time_unit} ({tr.window_method})",
            transform=ax.transAxes, va="top", fontsize=8)
    ax.set_ylabel(f"MSD ({length_unit}²)" if length_unit else "MSD")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    ok = np.isfinite(tr.beta)
    axb.semilogx(tr.time[ok], tr.beta[ok], ".-", color=COLORS["tracer"], lw=1, ms=3)
    if np.isfinite(tr.beta_err).any():
        e = np.nan_to_num(tr.beta_err[ok], nan=0.0)
        axb.fill_between(tr.time[ok], tr.beta[ok] - e, tr.beta[ok] + e, color=COLORS["tracer"], alpha=0.2, lw=0)
    axb.axhline(1.0, color="k", lw=0.8)
    axb.axhspan(1 - beta_tol, 1 + beta_tol, color="tab:green", alpha=0.15, lw=0)
    axb.set_ylim(0, 2.2)
    axb.set_ylabel("tracer β =\ndlog MSD/dlog t", fontsize=8)
    a2 = np.asarray(getattr(tr, "alpha2", np.zeros(0)), float)
    ok = np.isfinite(a2) if len(a2) == len(tr.time) else np.zeros(len(tr.time), bool)
    if ok.any():
        axa.semilogx(tr.time[ok], a2[ok], ".-", color=COLORS["tracer"], lw=1, ms=3)
        axa.axhline(0.0, color="k", lw=0.8)
    else:
        axa.set_xscale("log")
        axa.text(0.5, 0.5, "α₂ unavailable: no finite <|Δr|⁴> (msd4) in the msd file", transform=axa.transAxes,
                 ha="center", va="center", fontsize=8, color="0.3")
    axa.set_ylabel("tracer α₂ =\n3<Δr⁴>/5<Δr²>² − 1", fontsize=8)
    from matplotlib.ticker import NullLocator

    for a in (ax.xaxis, ax.yaxis):   # no minor ticks on the log axes: each costs a text measurement
        a.set_minor_locator(NullLocator())
    axa.set_xlabel(f"t ({time_unit})" if time_unit else "t")
    return save_figure(fig, path, formats, dpi=120)


def _band(fit, T_grid, level=0.95):
    ex = fit.extrapolate(T_grid, level=level)
    return np.asarray(ex.value), np.asarray(ex.lo), np.asarray(ex.hi)


def plot_arrhenius(series, path, *, extrapolate_T: float | None = 300.0, reduced: bool = False,
                   energy_unit: str = "eV", level: float = 0.95, title: str = "", units: str | None = None,
                   formats=("png",)):
    """Arrhenius figure.

    series : list of dicts, one per quantity, with keys ``label``, ``T``, ``y``, ``y_err``,
    ``fit`` (:class:`ionsitu.arrhenius.ArrheniusFit` or None), ``unit``, ``panel`` (0:
    diffusion, 1: conductivity) and optional ``color`` and ``fit_label``. Values <= 0
    cannot be shown on the log axis; the legend says how many were left out. The x axis is
    1000/T (1/T when ``reduced``), the top axis T; each fit is drawn with its ``level``
    confidence band from the data range to ``extrapolate_T`` (skipped when None), where the
    extrapolated value and its interval are marked. One legend entry per quantity (points,
    line and band together). ``units``: the LAMMPS unit style of the axis labels
    (:func:`ionsitu.units.labels`; default metal, or lj when ``reduced``).
    """
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.patches import Patch

    style = _units.get_style(units or ("lj" if reduced else "metal"))
    reduced, lab = style.reduced, axis_labels(style)
    panels = sorted({s["panel"] for s in series})
    fig, axes = _figure(len(panels), figsize=(6.4, 3.4 * len(panels) + 0.8))
    fig.subplots_adjust(top=1 - 0.9 / fig.get_figheight())
    scale = 1.0 if reduced else 1000.0
    Tunit = "" if reduced else " K"
    legend = {i: ([], []) for i in range(len(panels))}
    for s in series:
        i = panels.index(s["panel"])
        ax = axes[i]
        T = np.asarray(s["T"], float)
        y = np.asarray(s["y"], float)
        err = None if s.get("y_err") is None else np.asarray(s["y_err"], float)
        color = s.get("color", None)
        fit = s["fit"]
        pos = y > 0   # a log axis cannot show D <= 0 (noisy collective D): say so instead
        hidden = "" if pos.all() else f"; {int((~pos).sum())} value(s) <= 0 not shown"
        pts = ax.errorbar(scale / T[pos], y[pos], yerr=None if err is None else err[pos], fmt="o", color=color,
                          capsize=3, ms=5)
        handles, text = [pts], f"{s['label']}{hidden}"
        if fit is not None:
            lo_T = T.min() if extrapolate_T is None else min(T.min(), extrapolate_T)
            hi_T = T.max()
            grid = 1.0 / np.linspace(1.0 / hi_T * 0.98, 1.0 / lo_T * 1.02 if extrapolate_T is None else 1.0 / lo_T,
                                     200)
            val, blo, bhi = _band(fit, grid, level)
            (ln,) = ax.semilogy(scale / grid, val, "-", color=color, lw=1.2)
            bd = ax.fill_between(scale / grid, blo, bhi, color=color, alpha=0.18, lw=0)
            handles += [ln, bd]
            text += f": E_a = {format_with_error(fit.Ea, fit.Ea_err, energy_unit)}"
            if extrapolate_T is not None:
                ex = fit.extrapolate(extrapolate_T, level=level)
                st = ax.errorbar([scale / extrapolate_T], [ex.value], yerr=[[ex.value - ex.lo], [ex.hi - ex.value]],
                                 fmt="*", ms=12, color=color, mec="k", capsize=4)
                handles.append(st)
                text += f"; T = {extrapolate_T:g}{Tunit}: {ex.value:.2g} [{ex.lo:.2g}, {ex.hi:.2g}]"
        legend[i][0].append(tuple(handles))
        legend[i][1].append(text)
    for i, ax in enumerate(axes):
        ax.set_yscale("log")
        ax.set_ylabel(lab["D"] if panels[i] == 0 else lab["conductivity"], fontsize=8 if reduced else 10)
        h, t = legend[i]
        h.append(Patch(color="0.6", alpha=0.4))
        t.append(f"band: {int(round(level * 100))} % confidence of the fit")
        ax.legend(h, t, handler_map={tuple: HandlerTuple(ndivide=None)}, fontsize=7, loc="best")
        ax.grid(alpha=0.3, which="both", lw=0.5)
    axes[-1].set_xlabel(lab["inv_T"])

    def inv(x):
        x = np.asarray(x, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, scale / np.where(x > 0, x, 1.0), np.inf)

    top = axes[0].secondary_xaxis("top", functions=(inv, inv))
    Ts = {float(t) for s in series for t in np.asarray(s["T"], float)} | (set() if extrapolate_T is None
                                                                            else {float(extrapolate_T)})
    top.set_xticks(sorted(Ts), [f"{t:g}" for t in sorted(Ts)], fontsize=8)
    top.set_xlabel(lab["T"], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, formats, dpi=120)


class FigureContext:
    """What a figure section of the report needs: the campaign, the report dict, its plot
    inputs, the plots folder, unit labels, the file formats and :meth:`draw`."""

    def __init__(self, camp, data, out: Path, formats=("png",)):
        self.camp, self.data = camp, data
        self.inputs = data.get("_plot_inputs") or {}
        self.pdir = Path(out) / "plots"
        self.name = camp.conf["campaign"]["name"]
        self.style = _units.get_style(camp.units)
        self.labels = _units.labels(self.style)
        self.energy_unit = energy_label(self.style)
        self.formats = tuple(formats)
        self.paths: dict[str, Path] = {}

    def draw(self, key, what, fn, *args, **kw):
        """paths[key] = fn(*args, path=plots/<key>.png, formats=..., **kw); a failure is a warning."""
        try:
            self.paths[key] = fn(*args, self.pdir / f"{key}.png", formats=self.formats, **kw)
        except Exception as exc:  # noqa: BLE001 - one figure failing leaves the others and the tables
            self.data.setdefault("warnings", []).append(f"{what} failed: {exc}")


def figures_msd(ctx: FigureContext):
    for T, (results, rep) in (ctx.inputs.get("curves") or {}).items():
        ctx.draw(f"msd_T{T:g}", f"MSD plot at T={T:g}", plot_msd, results, rep,
                 title=f"{ctx.name}: T = {T:g}, {len(results)} replica(s)", time_unit=ctx.labels["time"],
                 length_unit=ctx.labels["length"])


def figures_arrhenius(ctx: FigureContext):
    if ctx.inputs.get("series"):
        rc = ctx.camp.conf["report"]
        ctx.draw("arrhenius", "Arrhenius plot", plot_arrhenius, ctx.inputs["series"],
                 extrapolate_T=rc.get("extrapolate_to"), reduced=ctx.style.reduced, energy_unit=ctx.energy_unit,
                 level=rc["confidence"], title=ctx.name, units=ctx.style.name)


def figures_hops(ctx: FigureContext):
    if ctx.inputs.get("hop_series"):
        ctx.draw("arrhenius_hops", "hop-rate Arrhenius plot", plot_hop_rate, ctx.inputs["hop_series"],
                 reduced=ctx.style.reduced, energy_unit=ctx.energy_unit, time_unit=ctx.labels["time"],
                 title=f"{ctx.name}: hop rate per ion")


def figures_occupancy(ctx: FigureContext):
    if ctx.inputs.get("occupancy"):
        ctx.draw("occupancy", "occupancy plot", plot_occupancy, ctx.inputs["occupancy"],
                 title=f"{ctx.name}: occupancy density", length_unit=ctx.labels["length"])


def figures_sites(ctx: FigureContext):
    maps, grids = ctx.inputs.get("site_maps") or {}, ctx.inputs.get("occupancy") or {}
    if maps or grids:
        ctx.draw("sites", "site map plot", plot_site_maps, grids, maps, title=f"{ctx.name}: sites and jumps",
                 length_unit=ctx.labels["length"], time_unit=ctx.labels["time"])


#: the report's figures, in order: each ``f(FigureContext)`` draws with ``ctx.draw`` (a new
#: report section adds its function here)
def figures_structure(ctx: FigureContext):
    d = ctx.data
    if d.get("rdf") and d["rdf"]["temperatures"]:
        ctx.draw("rdf", "RDF plot", plot_rdf, d["rdf"], length_unit=ctx.labels["length"],
                 energy_unit=ctx.energy_unit, title=ctx.name)
    if d.get("doas") and d["doas"]["temperatures"]:
        ctx.draw("doas", "DOAS plot", plot_doas, d["doas"], energy_unit=ctx.energy_unit, title=ctx.name)


def figures_vibrations(ctx: FigureContext):
    if ctx.inputs.get("vdos"):
        ctx.draw("vdos", "VDOS plot", plot_vdos, ctx.inputs["vdos"], title=f"{ctx.name}: VDOS of the mobile ions")


FIGURES = (figures_msd, figures_arrhenius, figures_hops, figures_vibrations, figures_occupancy, figures_sites,
           figures_structure)


def campaign_plots(camp, data, out: Path, formats=("png",)) -> dict[str, Path]:
    """PNG files of the campaign report (and each as the other ``formats``: svg, pdf), by the
    sections of :data:`FIGURES`; {} with a warning when plotting is not possible."""
    try:
        import matplotlib  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - matplotlib missing: the report still has its tables
        data.setdefault("warnings", []).append(f"no plots: {exc}")
        return {}
    ctx = FigureContext(camp, data, out, formats)
    for section in FIGURES:
        section(ctx)
    return ctx.paths


def plot_occupancy(grids: dict, path, *, title: str = "", length_unit: str = "", formats=("png",)):
    """Per temperature (rows): max-projection of the density along c, and the ab plane through
    the densest voxel (log colour scale, densities relative to the maximum)."""
    from matplotlib.colors import LogNorm

    Ts = sorted(grids)
    fig, axes = figure((7.0, 3.2 * len(Ts) + 0.4), len(Ts), 2, margins=(0.6, 1.1, 0.6, 0.45), hspace=0.35,
                       wspace=0.3)
    for row, T in zip(axes, Ts):
        g = grids[T]
        rho = g["counts"] / g["counts"].max()
        k0 = int(np.unravel_index(np.argmax(rho), rho.shape)[2])
        a, b = np.linalg.norm(g["cell"][0]), np.linalg.norm(g["cell"][1])
        for ax, img, what in ((row[0], rho.max(axis=2), "max over c"), (row[1], rho[:, :, k0],
                              f"plane c = {(k0 + 0.5) / rho.shape[2]:.3f} (densest voxel)")):
            im = ax.imshow(np.clip(img.T, 1e-4, None), origin="lower", extent=(0, a, 0, b), cmap="viridis",
                           norm=LogNorm(vmin=1e-4, vmax=1.0), aspect="equal")
            ax.set_title(f"T = {T:g}: {what}", fontsize=9)
            ax.set_xlabel(f"a ({length_unit})" if length_unit else "a")
            ax.set_ylabel(f"b ({length_unit})" if length_unit else "b")
    cb = fig.colorbar(im, ax=axes, label="density / max", shrink=0.6, fraction=0.05)  # one scale for all
    cb.minorticks_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, formats, dpi=100)


def plot_hop_rate(series, path, *, reduced: bool, energy_unit: str, time_unit: str, title: str = "",
                  formats=("png",)):
    """Arrhenius plot of the hop rate per ion (points ± replica error, fitted line)."""

    fig, ((ax,),) = figure((6.4, 3.8))
    scale = 1.0 if reduced else 1000.0
    for s in series:
        T, y = np.asarray(s["T"], float), np.asarray(s["y"], float)
        ax.errorbar(scale / T, y, yerr=s.get("y_err"), fmt="o", color=s.get("color"), capsize=3,
                    label=f"{s['label']} (1/{time_unit})")
        f = s.get("fit")
        if f is not None:
            Tg = 1.0 / np.linspace(1 / T.max() * 0.98, 1 / T.min() * 1.02, 100)
            ax.plot(scale / Tg, f.prefactor * np.exp(-f.Ea / (f.kB * Tg)), "-", color=s.get("color"),
                    label=f"fit: E_a = {format_with_error(f.Ea, f.Ea_err, energy_unit)}")
    ax.set_yscale("log")
    ax.set_xlabel("1/T (reduced)" if reduced else "1000/T (1/K)")
    ax.set_ylabel(f"hops per ion per {time_unit}")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path, formats, dpi=120)



def plot_rdf(rdf: dict, path, *, length_unit: str = "", energy_unit: str = "", title: str = "",
             formats=("png",)):
    """g(r) (top) and W(r) (bottom) of every pair and temperature."""
    fig, ((ax_g,), (ax_w,)) = figure((6.4, 6.4), 2, 1, hspace=0.25)
    for t in rdf["temperatures"]:
        r = np.asarray(t["r"], float)
        for p in t["pairs"]:
            lab = f"T = {t['T']:g}, {p['pair'][0]}-{p['pair'][1]}"
            ax_g.plot(r, np.asarray(p["g"], float), label=lab)
            ax_w.plot(r, np.asarray([np.nan if w is None else w for w in p["W"]], float), label=lab)
    ax_g.set_ylabel("g(r)")
    ax_w.set_ylabel(f"W(r) ({energy_unit})" if energy_unit else "W(r)")
    ax_w.set_xlabel(f"r ({length_unit})" if length_unit else "r")
    ax_g.legend(fontsize=7)
    if title:
        ax_g.set_title(title, fontsize=10)
    return save_figure(fig, path, formats, dpi=110)


def plot_doas(da: dict, path, *, energy_unit: str = "", title: str = "", formats=("png",)):
    """Normalised DOAS of each type (panels) at every temperature."""
    types = [str(t) for t in da["types"]]
    fig, axes = figure((6.4, 3.0 * len(types) + 0.4), len(types), 1, hspace=0.3)
    for (ax,), ty in zip(axes, types):
        for t in da["temperatures"]:
            x = t["types"].get(ty)
            if x:
                ax.plot(x["energy"], x["density"], label=f"T = {t['T']:g}")
        ax.set_ylabel(f"DOAS type {ty}")
        ax.legend(fontsize=7)
    axes[-1][0].set_xlabel(f"per-atom energy ({energy_unit})" if energy_unit else "per-atom energy")
    if title:
        axes[0][0].set_title(title, fontsize=10)
    return save_figure(fig, path, formats, dpi=110)

def plot_site_maps(grids: dict, maps: dict, path, *, title: str = "", length_unit: str = "", time_unit: str = "",
                   formats=("png",)):
    """Per temperature (rows): the occupancy density projected along c (max over c, log scale)
    with the sites found in it (+) and the jump network of the hop logs over the sites of
    ``sites.txt`` (a line per site pair, width and opacity by its hop count, replicas summed;
    minimum image); right: the distribution of the uncensored residence times with the
    exponential fit exp(-t/τ)/τ. ``grids``: merged occupancy grids per T (``sites_frac``:
    found sites); ``maps``: :func:`ionsitu.report.sitemaps.build_site_maps`."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullLocator

    Ts = sorted(set(grids) | set(maps))
    fig, axes = figure((8.0, 3.4 * len(Ts) + 0.7), len(Ts), 2, margins=(0.7, 0.3, 0.8, 0.5), hspace=0.4,
                       wspace=0.35)
    lu = f" ({length_unit})" if length_unit else ""
    for (ax, axr), T in zip(axes, Ts):
        g, m = grids.get(T), maps.get(T)
        cell = g["cell"] if g is not None else m["cell"]
        a, b = np.linalg.norm(cell[0]), np.linalg.norm(cell[1])
        if g is not None:
            rho = g["counts"] / g["counts"].max()
            ax.imshow(np.clip(rho.max(axis=2).T, 1e-4, None), origin="lower", extent=(0, a, 0, b), cmap="viridis",
                      norm=LogNorm(vmin=1e-4, vmax=1.0), aspect="equal")
            sf = g.get("sites_frac")
            if sf is not None and len(sf):
                ax.plot(sf[:, 0] * a, sf[:, 1] * b, "+", color="w", ms=4, mew=0.8, label=f"{len(sf)} sites found")
        if m is not None and m["site_frac"] is not None and len(m["counts"]):
            f = np.asarray(m["site_frac"], float)
            f0 = f[m["pairs"][:, 0]]
            df = f[m["pairs"][:, 1]] - f0
            df -= np.round(df)
            w = m["counts"] / m["counts"].max()
            from matplotlib.collections import LineCollection

            seg = np.stack([f0[:, :2], (f0 + df)[:, :2]], axis=1) * np.array([a, b])
            ax.add_collection(LineCollection(seg, linewidths=0.3 + 2.0 * w, colors=[(1, 0.3, 0.2, 0.2 + 0.8 * x)
                                                                                   for x in w]))
            ax.plot([], [], "-", color=(1, 0.3, 0.2), label=f"jumps ({int(m['counts'].sum())} hops)")
        ax.set_xlim(0, a)
        ax.set_ylim(0, b)
        ax.set_title(f"T = {T:g}: density (max over c), sites, jumps", fontsize=9)
        ax.set_xlabel("a" + lu)
        ax.set_ylabel("b" + lu)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right", framealpha=0.6)
        if m is not None and len(m["residence"]):
            r = m["residence"]
            dens, edges = np.histogram(r, bins=40, density=True)
            axr.stairs(dens, edges, fill=True, color="0.6", label=f"{len(r)} residences")   # one artist
            if np.isfinite(m["tau"]):
                t = np.linspace(0, r.max(), 200)
                axr.plot(t, np.exp(-t / m["tau"]) / m["tau"], "-", color="tab:red",
                         label=f"exp(-t/τ)/τ, τ = {format_with_error(m['tau'], m['tau_err'], time_unit)}")
            axr.set_yscale("log")
            axr.yaxis.set_minor_locator(NullLocator())
            axr.legend(fontsize=7)
        else:
            axr.text(0.5, 0.5, "no residence times (no hops)", transform=axr.transAxes, ha="center", fontsize=8)
        axr.set_title(f"T = {T:g}: residence time", fontsize=9)
        axr.set_xlabel(f"residence time ({time_unit})" if time_unit else "residence time")
        axr.set_ylabel("probability density")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, formats, dpi=100)


def plot_vdos(curves: dict, path, *, title: str = "", formats=("png",)):
    """VDOS g(nu) per temperature ({T: (frequency, g, unit)}, replica means), unit area."""
    fig, ((ax,),) = figure((6.4, 3.8))
    unit = ""
    for T, (nu, g, unit) in sorted(curves.items()):
        ax.plot(nu, g, label=f"T = {T:g}")
    ax.set(xlabel=f"frequency ({unit})", ylabel=f"g (1/{unit})", title=title)
    ax.set_xlim(left=0)
    ax.legend(fontsize=8)
    return save_figure(fig, path, formats, dpi=100)

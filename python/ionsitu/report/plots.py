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

__all__ = ["plot_msd", "plot_arrhenius", "campaign_plots", "plot_hop_rate", "plot_occupancy", "plot_vdos"]


def energy_label(style) -> str:
    """Short energy unit of activation energies in figure labels: eV, or the LJ energy unit."""
    st = _units.get_style(style)
    return st.energy if st.reduced else _units.activation_energy_unit(st)

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


def _figure(nrows, height_ratios=None, figsize=(6.4, 6.4)):
    fig, axes = figure(figsize, nrows, sharex=True,
                       gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)
    return fig, axes[:, 0]


def _mean_curve(results, attr):
    """Replica-mean curve on the valid lags of the first result (all share lags), else the first."""
    r0 = results[0]
    ok = (r0.n_origins > 0) & (r0.lag_steps > 0)
    same = all(np.array_equal(r.lag_steps, r0.lag_steps) and np.array_equal(r.n_origins > 0, r0.n_origins > 0)
               for r in results[1:])
    ys = [getattr(r, attr)[ok] for r in (results if same else results[:1])]
    return r0.time[ok], np.mean(ys, axis=0)


def plot_msd(results, report, path, *, title: str = "", time_unit: str = "", length_unit: str = "",
             beta_tol: float = 0.1):
    """Log-log MSD figure of one state point.

    results : MSDResult or list of replicas; report : :class:`ionsitu.transport.TransportReport`
    (or an object with ``tracer`` and ``collective`` :class:`DiffusionFit`). The fitted
    window is shaded, the fitted lines MSD = 2 d D t + c are drawn over it.
    """
    results = results if isinstance(results, (list, tuple)) else [results]
    fig, (ax, axb) = _figure(2, [3, 1])
    for r in results if len(results) > 1 else []:
        ok = (r.n_origins > 0) & (r.lag_steps > 0)
        ax.loglog(r.time[ok], r.msd[ok], color=COLORS["tracer"], alpha=0.25, lw=0.8)
    mean_of = f", mean of {len(results)}" if len(results) > 1 else ""
    for key, attr, label in (("tracer", "msd", "tracer (self) MSD"), ("collective", "coll", "collective MSD")):
        fit = getattr(report, key)
        t, y = _mean_curve(results, attr)
        pos = y > 0
        ax.loglog(t[pos], y[pos], "o-", ms=3, lw=1, color=COLORS[key], label=label + mean_of)
        tw = np.geomspace(fit.t_start, fit.t_end, 50)
        line = 6.0 * fit.D_run * tw + fit.offset
        good = line > 0
        ax.loglog(tw[good], line[good], "--", color="k" if key == "tracer" else "darkred", lw=1.5,
                  label=f"fit {label.split()[0]}: D = {fit.D:.3g} ± {fit.D_err:.2g} {fit.unit}")
    tr = report.tracer
    for a in (ax, axb):
        a.axvspan(tr.t_start, tr.t_end, color="0.85", zorder=0)
    ax.text(0.02, 0.97, f"fit window {tr.t_start:g}–{tr.t_end:g} {time_unit} ({tr.window_method})",
            transform=ax.transAxes, va="top", fontsize=8)
    ax.set_ylabel(f"MSD ({length_unit}²)" if length_unit else "MSD")
    ax.legend(fontsize=8, loc="lower right")
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
    axb.set_xlabel(f"t ({time_unit})" if time_unit else "t")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return Path(path)


def _band(fit, T_grid, level=0.95):
    ex = fit.extrapolate(T_grid, level=level)
    return np.asarray(ex.value), np.asarray(ex.lo), np.asarray(ex.hi)


def plot_arrhenius(series, path, *, extrapolate_T: float | None = 300.0, reduced: bool = False,
                   energy_unit: str = "eV", level: float = 0.95, title: str = ""):
    """Arrhenius figure.

    series : list of dicts, one per quantity, with keys ``label``, ``T``, ``y``, ``y_err``,
    ``fit`` (:class:`ionsitu.arrhenius.ArrheniusFit` or None), ``unit``, ``panel`` (0:
    diffusion, 1: conductivity) and optional ``color`` and ``fit_label``. Values <= 0
    cannot be shown on the log axis; the legend says how many were left out. The x axis is 1000/T (1/T when ``reduced``);
    each fit is drawn with its ``level`` confidence band from the data range to
    ``extrapolate_T`` (skipped when None), where the extrapolated value and its interval
    are marked.
    """
    panels = sorted({s["panel"] for s in series})
    fig, axes = _figure(len(panels), figsize=(6.4, 3.4 * len(panels) + 0.4))
    scale = 1.0 if reduced else 1000.0
    for s in series:
        ax = axes[panels.index(s["panel"])]
        T = np.asarray(s["T"], float)
        y = np.asarray(s["y"], float)
        err = None if s.get("y_err") is None else np.asarray(s["y_err"], float)
        color = s.get("color", None)
        fit = s["fit"]
        pos = y > 0   # a log axis cannot show D <= 0 (noisy collective D): say so instead
        hidden = "" if pos.all() else f"; {int((~pos).sum())} value(s) <= 0 not shown"
        ax.errorbar(scale / T[pos], y[pos], yerr=None if err is None else err[pos], fmt="o", color=color,
                    capsize=3, ms=5, label=f"{s['label']} ({s['unit']}){hidden}")
        if fit is None:
            continue
        lo_T = T.min() if extrapolate_T is None else min(T.min(), extrapolate_T)
        hi_T = T.max()
        grid = 1.0 / np.linspace(1.0 / hi_T * 0.98, 1.0 / lo_T * 1.02 if extrapolate_T is None else 1.0 / lo_T, 200)
        val, blo, bhi = _band(fit, grid, level)
        ax.semilogy(scale / grid, val, "-", color=color, lw=1.2,
                    label=f"{s.get('fit_label', 'fit')}: Ea = {fit.Ea:.3g} ± {fit.Ea_err:.2g} {energy_unit}")
        ax.fill_between(scale / grid, blo, bhi, color=color, alpha=0.18, lw=0,
                        label=f"{int(round(level * 100))} % confidence band")
        if extrapolate_T is not None:
            ex = fit.extrapolate(extrapolate_T, level=level)
            ax.errorbar([scale / extrapolate_T], [ex.value], yerr=[[ex.value - ex.lo], [ex.hi - ex.value]],
                        fmt="*", ms=12, color=color, mec="k", capsize=4,
                        label=f"T = {extrapolate_T:g}{'' if reduced else ' K'}: {ex.value:.2g} [{ex.lo:.2g}, {ex.hi:.2g}]")
    for i, ax in enumerate(axes):
        ax.set_yscale("log")
        ax.set_ylabel("D (cm²/s)" if panels[i] == 0 and not reduced else ("D (reduced)" if panels[i] == 0 else
                      ("σ (S/cm)" if not reduced else "conductivity (reduced)")))
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3, which="both", lw=0.5)
    axes[-1].set_xlabel("1/T (reduced)" if reduced else "1000/T (1/K)")
    if title:
        axes[0].set_title(title, fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return Path(path)


def campaign_plots(camp, data, out: Path) -> dict[str, Path]:
    """PNG files of the campaign report; {} with a warning when plotting is not possible."""
    inputs = data.get("_plot_inputs") or {}
    paths = {}
    try:
        import matplotlib  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - matplotlib missing: the report still has its tables
        data.setdefault("warnings", []).append(f"no plots: {exc}")
        return paths
    style = _units.get_style(camp.units)
    lab = _units.labels(style)
    tunit, lunit, eunit = lab["time"], lab["length"], energy_label(style)
    pdir = out / "plots"
    name = camp.conf["campaign"]["name"]

    def draw(key, what, fn, *args, **kw):
        try:
            paths[key] = fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - one figure failing leaves the others and the tables
            data.setdefault("warnings", []).append(f"{what} failed: {exc}")

    for T, (results, rep) in (inputs.get("curves") or {}).items():
        draw(f"msd_T{T:g}", f"MSD plot at T={T:g}", plot_msd, results, rep, pdir / f"msd_T{T:g}.png",
             title=f"{name}: T = {T:g}, {len(results)} replica(s)", time_unit=tunit, length_unit=lunit)
    if inputs.get("series"):
        draw("arrhenius", "Arrhenius plot", plot_arrhenius, inputs["series"], pdir / "arrhenius.png",
             extrapolate_T=camp.conf["report"].get("extrapolate_to"), reduced=style.reduced, energy_unit=eunit,
             level=camp.conf["report"]["confidence"], title=name)
    if inputs.get("hop_series"):
        draw("arrhenius_hops", "hop-rate Arrhenius plot", plot_hop_rate, inputs["hop_series"],
             pdir / "arrhenius_hops.png", reduced=style.reduced, energy_unit=eunit, time_unit=tunit,
             title=f"{name}: hop rate per ion")
    if inputs.get("vdos"):
        draw("vdos", "VDOS plot", plot_vdos, inputs["vdos"], pdir / "vdos.png", title=f"{name}: VDOS of the mobile ions")
    if inputs.get("occupancy"):
        draw("occupancy", "occupancy plot", plot_occupancy, inputs["occupancy"], pdir / "occupancy.png",
             title=f"{name}: occupancy density", length_unit=lunit)
    return paths




def plot_occupancy(grids: dict, path, *, title: str = "", length_unit: str = ""):
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
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return Path(path)


def plot_hop_rate(series, path, *, reduced: bool, energy_unit: str, time_unit: str, title: str = ""):
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
                    label=f"fit: Ea = {f.Ea:.3g} ± {f.Ea_err:.2g} {energy_unit}")
    ax.set_yscale("log")
    ax.set_xlabel("1/T (reduced)" if reduced else "1000/T (1/K)")
    ax.set_ylabel(f"hops per ion per {time_unit}")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return Path(path)


def plot_vdos(curves: dict, path, *, title: str = ""):
    """VDOS g(nu) per temperature ({T: (frequency, g, unit)}, replica means), unit area."""
    fig, ((ax,),) = figure((6.4, 3.8))
    unit = ""
    for T, (nu, g, unit) in sorted(curves.items()):
        ax.plot(nu, g, label=f"T = {T:g}")
    ax.set(xlabel=f"frequency ({unit})", ylabel=f"g (1/{unit})", title=title)
    ax.set_xlim(left=0)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    return Path(path)

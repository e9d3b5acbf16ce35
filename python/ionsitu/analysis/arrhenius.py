"""Arrhenius fits of diffusion coefficients, conductivities and rates.

Conventions (stated in every result's ``convention``):

- ``kind="D"``: D(T) = D0 exp(-Ea / kB T); fit ln D against 1/T. Prefactor D0 in the
  unit of D (cm^2/s from :mod:`ionsitu.transport`).
- ``kind="sigma"``: sigma(T) T = A exp(-Ea / kB T); fit ln(sigma T) against 1/T.
  This is the physically consistent form because sigma = c e^2 z^2 D_sigma / (kB T) is
  proportional to D/T: the Ea of sigma*T equals the Ea of D_sigma. Prefactor A in S K/cm.
- ``kind="sigma_plain"``: sigma(T) = sigma0 exp(-Ea / kB T); fit ln sigma against 1/T.
  Offered only explicitly: from the same data it gives a *smaller* Ea, by about kB T
  at the centre of the temperature range (d ln T / d(1/T) = -T), so it must not be
  mixed with the sigma*T convention. Prefactor sigma0 in S/cm.
- ``kind="rate"``: a rate (e.g. hops per ion per time) k(T) = k0 exp(-Ea / kB T); fit ln k
  against 1/T. Prefactor k0 in 1/time of the run.

Prefactor units come from :func:`ionsitu.units.arrhenius_prefactor_unit` for the LAMMPS unit
style given as ``units`` (default: ``metal``-like physical units, or ``lj`` when ``kB`` is not
k_B in eV/K).

Energies are in eV (``kB`` = Boltzmann in eV/K); pass ``kB=1`` for reduced (LJ)
temperatures, then Ea is in epsilon.

Weighted fits: with ``y_err`` (1-sigma errors of y), ln y has error y_err/y and the fit
is weighted least squares; the parameter covariance uses the given errors as absolute
(chi2_red is reported; a warning is issued when it is improbably large). Without
errors: ordinary least squares with the residual variance (Student t intervals).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, stats

from .. import units as _units
from ..units import KB_EV

__all__ = ["ArrheniusFit", "TwoRegimeFit", "Extrapolation", "fit", "fit_two_regime",
           "sigma_from_ea", "resolved_points", "fit_weighted", "KINDS"]

#: kind -> (convention, prefactor unit in metal units); other styles: ionsitu.units.arrhenius_prefactor_unit
KINDS = {k: (conv, _units.arrhenius_prefactor_unit(k, "metal")) for k, conv in (
    ("D", "ln D vs 1/T: D = D0 exp(-Ea/kB T)"),
    ("sigma", "ln(sigma T) vs 1/T: sigma T = A exp(-Ea/kB T) (sigma ~ D/T; Ea equals that of D_sigma)"),
    ("sigma_plain", "ln sigma vs 1/T: sigma = sigma0 exp(-Ea/kB T) (plain; gives Ea smaller by ~kB T "
                    "than the sigma T convention)"),
    ("rate", "ln k vs 1/T: k = k0 exp(-Ea/kB T) (a rate, e.g. hops per ion per time)"),
)}


@dataclass
class Extrapolation:
    """Value of the fitted law at T and its confidence interval [lo, hi] (level)."""

    T: np.ndarray
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    level: float

    def __iter__(self):  # value, lo, hi = fit.extrapolate(300)
        return iter((self.value, self.lo, self.hi))


@dataclass
class ArrheniusFit:
    """Result of :func:`fit`. ``cov`` is the covariance of (ln prefactor, Ea)."""

    kind: str
    convention: str
    Ea: float
    Ea_err: float
    prefactor: float
    prefactor_err: float
    prefactor_unit: str
    ln_prefactor: float
    ln_prefactor_err: float
    r2: float
    chi2_red: float
    cov: np.ndarray
    n: int
    weighted: bool
    kB: float
    T: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    y_err: np.ndarray | None = field(default=None, repr=False)

    def _dof_quantile(self, level):
        if self.weighted:
            return stats.norm.ppf(0.5 + level / 2)
        return stats.t.ppf(0.5 + level / 2, max(self.n - 2, 1))

    def predict(self, T):
        """Fitted y (D, sigma or sigma for both sigma conventions) at temperature(s) T."""
        return self.extrapolate(T).value

    def extrapolate(self, T, level: float = 0.95) -> Extrapolation:
        """Fitted y at T (e.g. 300 K) with the ``level`` confidence interval of the line.

        For ``kind="sigma"`` the value is sigma = A exp(-Ea/kB T) / T (not sigma T).
        The interval is that of the fitted mean law (from the parameter covariance),
        not a prediction interval for a new measurement.
        """
        Ta = _positive_T(T, "T")
        if not (0 < level < 1):
            raise ValueError(f"confidence level must be in (0, 1), got {level!r}")
        g = np.stack([np.ones_like(Ta), -1.0 / (self.kB * Ta)], axis=-1)
        lny = self.ln_prefactor - self.Ea / (self.kB * Ta)
        se = np.sqrt(np.einsum("...i,ij,...j->...", g, self.cov, g))
        q = self._dof_quantile(level)
        shift = -np.log(Ta) if self.kind == "sigma" else 0.0
        val = np.exp(lny + shift)
        lo = np.exp(lny - q * se + shift)
        hi = np.exp(lny + q * se + shift)
        if np.ndim(T) == 0:
            val, lo, hi, Ta = float(val), float(lo), float(hi), float(Ta)
        return Extrapolation(T=Ta, value=val, lo=lo, hi=hi, level=level)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


@dataclass
class TwoRegimeFit:
    """Continuous two-line (hinge) Arrhenius fit with break temperature ``Tc``.

    Below Tc (low T) the activation energy is ``Ea_low``, above it ``Ea_high``. ``Tc`` is
    the break minimising the information criterion ``criterion`` ("BIC" or "AIC") over
    all breaks leaving >= 2 points on each side (for a fixed number of parameters that is
    the least-squares break); ``ic_two``/``ic_one`` compare with a single line, and
    ``preferred`` says which the criterion prefers. ``Tc_range``: the breaks within
    Delta(-2 ln L) <= 1 of the best (approx. 68 % profile interval). Errors (``Tc_err``,
    ``Ea_*_err``) and ``cov`` (of a, Ea_high, Ea_low, x_c = 1/(kB Tc)) are the asymptotic
    ones of the four-parameter model, the uncertainty of the break included.
    """

    kind: str
    convention: str
    Tc: float
    Tc_err: float
    Tc_range: tuple
    Ea_low: float
    Ea_low_err: float
    Ea_high: float
    Ea_high_err: float
    ln_prefactor_low: float
    ln_prefactor_high: float
    criterion: str
    ic_two: float
    ic_one: float
    preferred: str
    single: ArrheniusFit = field(repr=False)
    cov: np.ndarray = field(repr=False)
    kB: float = KB_EV

    @property
    def prefactor_low(self) -> float:
        return float(np.exp(self.ln_prefactor_low))

    @property
    def prefactor_high(self) -> float:
        return float(np.exp(self.ln_prefactor_high))

    def predict(self, T):
        Ta = _positive_T(T, "T")
        x = 1.0 / (self.kB * Ta)
        xc = 1.0 / (self.kB * self.Tc)
        a = self.ln_prefactor_high - self.Ea_high * xc
        lny = a - self.Ea_high * np.minimum(x - xc, 0) - self.Ea_low * np.maximum(x - xc, 0)
        out = np.exp(lny - (np.log(Ta) if self.kind == "sigma" else 0.0))
        return float(out) if np.ndim(T) == 0 else out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["single"] = self.single.to_dict()
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------
def _positive_T(T, name="T"):
    Ta = np.asarray(T, dtype=float)
    bad = ~np.isfinite(Ta) | (Ta <= 0)
    if np.any(bad):
        i = np.flatnonzero(np.atleast_1d(bad))[0]
        v = np.atleast_1d(Ta)[i]
        where = f"{name}[{i}]" if Ta.ndim else name
        raise ValueError(f"temperature must be positive and finite (K): {where} = {float(v)!r}")
    return Ta


def _check(T, y, y_err, kind, min_points):
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {sorted(KINDS)}")
    T = np.atleast_1d(np.asarray(T, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    if T.ndim != 1 or y.ndim != 1:
        raise ValueError(f"T and y must be 1-D, got shapes {T.shape} and {y.shape}")
    if len(T) != len(y):
        raise ValueError(f"T has {len(T)} values but y has {len(y)}")
    _positive_T(T)
    bad = ~np.isfinite(y) | (y <= 0)
    if np.any(bad):
        i = np.flatnonzero(bad)[0]
        raise ValueError(f"{kind} values must be positive for a log fit: y[{i}] = {float(y[i])!r}")
    if y_err is not None:
        y_err = np.atleast_1d(np.asarray(y_err, dtype=float))
        if y_err.shape != y.shape:
            raise ValueError(f"y_err has {len(y_err)} values but y has {len(y)}")
        bad = ~np.isfinite(y_err) | (y_err <= 0)
        if np.any(bad):
            i = np.flatnonzero(bad)[0]
            raise ValueError(f"errors must be positive and finite: y_err[{i}] = {float(y_err[i])!r}")
    if len(T) < min_points:
        raise ValueError(f"need at least {min_points} points for this fit, got {len(T)} (T = {T.tolist()})")
    if len(np.unique(T)) < 2:
        raise ValueError(f"need at least 2 distinct temperatures, got T = {T.tolist()}")
    return T, y, y_err


def _log_data(T, y, y_err, kind):
    Y = np.log(y * T) if kind == "sigma" else np.log(y)
    s = None if y_err is None else y_err / y
    return Y, s


def _wls(X, Y, s):
    """(params, cov_unscaled, chi2 or RSS) of weighted (s given) or ordinary LS."""
    w = np.ones_like(Y) if s is None else 1.0 / s ** 2
    Xw = X * np.sqrt(w)[:, None]
    Yw = Y * np.sqrt(w)
    params, *_ = np.linalg.lstsq(Xw, Yw, rcond=None)
    r = Yw - Xw @ params
    cov = np.linalg.inv(Xw.T @ Xw)
    return params, cov, float(r @ r)


# --------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------
def resolved_points(T, y, y_err, resolved):
    """The points an Arrhenius fit may use: those whose value is resolved (significantly
    positive, :attr:`ionsitu.transport.DiffusionFit.resolved`) and finite.

    Returns (T, y, y_err, skipped_T) with the skipped temperatures, so every caller
    (``ionsitu analyze``, the campaign report) drops and names the same points.
    """
    T, y, e = (np.asarray(a, dtype=float) for a in (T, y, y_err))
    ok = np.asarray(resolved, dtype=bool) & np.isfinite(y) & (y > 0)
    return T[ok], y[ok], e[ok], T[~ok]


def fit_weighted(T, y, kind: str = "D", y_err=None, *, kB: float = KB_EV, units: str | None = None) -> ArrheniusFit:
    """:func:`fit` weighted by ``y_err`` when every error is finite and positive, else
    unweighted: the rule of the campaign report and of :class:`ionsitu.api.Arrhenius`."""
    err = None if y_err is None else np.asarray(y_err, dtype=float)
    weighted = err is not None and bool(np.all(np.isfinite(err) & (err > 0)))
    return fit(T, y, kind, err if weighted else None, kB=kB, units=units)


def fit(T, y, kind: str = "D", y_err=None, *, kB: float = KB_EV, units: str | None = None) -> ArrheniusFit:
    """Arrhenius fit of ``y`` (D, sigma or a rate) against temperature ``T`` (K).

    ``kind``: "D" (ln D vs 1/T), "sigma" (ln(sigma T) vs 1/T, because sigma ~ D/T, so
    its Ea is that of the diffusivity), "sigma_plain" (ln sigma vs 1/T, explicit
    only; gives an Ea smaller by about kB T) or "rate" (ln k vs 1/T). ``y_err``: 1-sigma
    errors of y (weighted fit). ``units``: the LAMMPS unit style of ``y`` (for the prefactor
    unit; default metal-like physical units, lj when ``kB`` != k_B in eV/K). Returns
    :class:`ArrheniusFit` with Ea (eV; epsilon_LJ for lj), prefactor (D0 in cm^2/s, A in
    S K/cm, sigma0 in S/cm or k0 in 1/time; reduced for lj), their errors, R^2, covariance
    and ``extrapolate``.
    """
    T, y, y_err = _check(T, y, y_err, kind, 2)
    n = len(T)
    Y, s = _log_data(T, y, y_err, kind)
    X = np.column_stack([np.ones(n), -1.0 / (kB * T)])  # params: ln prefactor, Ea
    params, cov0, chi2 = _wls(X, Y, s)
    weighted = s is not None
    dof = n - 2
    if weighted:
        cov = cov0
        chi2_red = chi2 / dof if dof > 0 else float("nan")
        if dof > 0 and stats.chi2.sf(chi2, dof) < 1e-3:
            warnings.warn(
                f"Arrhenius fit: chi2_red = {chi2_red:.3g} with {dof} degrees of freedom; the given "
                "errors look too small for the scatter (or the plot is not a single line)",
                RuntimeWarning, stacklevel=2)
    else:
        if dof > 0:
            cov = cov0 * chi2 / dof
        else:
            cov = np.full((2, 2), np.nan)
            warnings.warn("Arrhenius fit through 2 points without errors: no uncertainty",
                          RuntimeWarning, stacklevel=2)
        chi2_red = float("nan")
    w = np.ones(n) if s is None else 1.0 / s ** 2
    Ybar = (w * Y).sum() / w.sum()
    ss_tot = float((w * (Y - Ybar) ** 2).sum())
    ss_res = float((w * (Y - X @ params) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    lnP, Ea = params
    lnP_err, Ea_err = np.sqrt(np.diag(cov))
    conv = KINDS[kind][0]
    unit = _units.arrhenius_prefactor_unit(kind, units if units is not None else ("metal" if kB == KB_EV else "lj"))
    return ArrheniusFit(
        kind=kind, convention=conv, Ea=float(Ea), Ea_err=float(Ea_err),
        prefactor=float(np.exp(lnP)), prefactor_err=float(np.exp(lnP) * lnP_err),
        prefactor_unit=unit, ln_prefactor=float(lnP), ln_prefactor_err=float(lnP_err),
        r2=float(r2), chi2_red=float(chi2_red), cov=cov, n=n, weighted=weighted, kB=kB,
        T=T, y=y, y_err=y_err,
    )


def _ic(stat, k, n, weighted, criterion):
    """Information criterion from chi2 (weighted) or RSS (unweighted)."""
    m2lnL = stat if weighted else n * np.log(max(stat, 1e-300) / n)
    pen = 2 * k if criterion == "AIC" else k * np.log(n)
    return m2lnL + pen, m2lnL


def _hinge(x, Y, s, min_side: int, criterion: str) -> dict:
    """Continuous two-line least squares Y = a + b1 min(x - xc, 0) + b2 max(x - xc, 0): the break
    xc minimising the criterion over breaks leaving >= min_side distinct x on each side (profile
    over a dense grid, refined by a bounded 1-D minimisation). Returns xc, params (a, b1, b2),
    cov of (a, b1, b2, xc) (asymptotic, from the Jacobian; scaled by RSS/dof when unweighted),
    ic_two, ic_one (one line), x_range (breaks within Delta(-2 ln L) <= 1: approx. 68 %), dof."""
    n = len(x)
    xs = np.sort(np.unique(x))
    weighted = s is not None

    def design(xc):
        return np.column_stack([np.ones(n), np.minimum(x - xc, 0), np.maximum(x - xc, 0)])

    def stat(xc):
        return _wls(design(xc), Y, s)[2]

    best_xc, best_stat = None, np.inf
    profile = []
    for a, b in zip(xs[min_side - 1:-min_side], xs[min_side:-min_side + 1]):
        grid = np.linspace(a, b, 41)
        vals = [stat(g) for g in grid]
        profile += list(zip(grid, vals))
        j = int(np.argmin(vals))
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
        if hi > lo:
            r = optimize.minimize_scalar(stat, bounds=(lo, hi), method="bounded",
                                         options={"xatol": 1e-10 * (b - a) + 1e-300})
            cand = [(grid[j], vals[j]), (r.x, r.fun)]
        else:
            cand = [(grid[j], vals[j])]
        for c_xc, c_val in cand:
            if c_val < best_stat:
                best_xc, best_stat = float(c_xc), float(c_val)
    params, _, st = _wls(design(best_xc), Y, s)
    dof = n - 4
    b1, b2 = params[1], params[2]
    J = np.column_stack([design(best_xc), -b1 * (x < best_xc) - b2 * (x > best_xc)])
    w = np.ones(n) if s is None else 1.0 / s ** 2
    try:
        cov = np.linalg.inv(J.T @ (J * w[:, None]))
    except np.linalg.LinAlgError:  # pragma: no cover - degenerate break
        cov = np.full((4, 4), np.nan)
    if not weighted:
        cov = cov * st / max(dof, 1)
    ic_two, m2_two = _ic(st, 4, n, weighted, criterion)
    st1 = _wls(np.column_stack([np.ones(n), x]), Y, s)[2]
    ic_one, _ = _ic(st1, 2, n, weighted, criterion)
    prof = np.array(profile)
    m2 = np.array([_ic(v, 4, n, weighted, criterion)[1] for v in prof[:, 1]])
    inside = np.append(prof[m2 <= m2_two + 1.0, 0], best_xc)
    return {"xc": best_xc, "params": params, "cov": cov, "ic_two": float(ic_two), "ic_one": float(ic_one),
            "x_range": (float(inside.min()), float(inside.max())), "dof": dof}


@dataclass
class HingeFit:
    """Continuous two-line fit y = a + slope_low (x - x_c) below the break x_c and
    a + slope_high (x - x_c) above it (:func:`fit_hinge`). ``x_c_range``: breaks within
    Delta(-2 ln L) <= 1 (approx. 68 %); errors and ``cov`` (of a, slope_low, slope_high, x_c)
    asymptotic, the break's uncertainty included; ``preferred``: "two" or "one" line by the
    criterion."""

    x_c: float
    x_c_err: float
    x_c_range: tuple
    a: float
    slope_low: float
    slope_low_err: float
    slope_high: float
    slope_high_err: float
    criterion: str
    ic_two: float
    ic_one: float
    preferred: str
    dof: int
    cov: np.ndarray = field(repr=False)

    def extrapolate_low(self, x, level: float = 0.95) -> tuple[float, float, float]:
        """(value, lo, hi) of the low branch a + slope_low (x - x_c) at x, with its two-sided
        ``level`` interval (t quantile, dof = n - 4; the break's uncertainty included)."""
        v = self.a + self.slope_low * (x - self.x_c)
        grad = np.array([1.0, x - self.x_c, 0.0, -self.slope_low])
        se = float(np.sqrt(max(grad @ self.cov @ grad, 0.0)))
        q = float(stats.t.ppf(0.5 + level / 2, max(self.dof, 1)))
        return float(v), float(v - q * se), float(v + q * se)


def fit_hinge(x, y, y_err=None, *, criterion: str = "BIC", min_side: int = 2) -> HingeFit:
    """Two straight lines joined at a break (e.g. the mean energy of the mobile ions vs T,
    kinked at an order-disorder temperature): the model and the break search of
    :func:`fit_two_regime` on y itself. Needs >= 2*min_side + 1 points, 2*min_side distinct x."""
    criterion = str(criterion).upper()
    if criterion not in ("AIC", "BIC"):
        raise ValueError(f"criterion must be 'AIC' or 'BIC', got {criterion!r}")
    x, y = (np.atleast_1d(np.asarray(v, float)) for v in (x, y))
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {x.shape} and {y.shape}")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"x and y must be finite: x[{i}] = {x[i]!r}, y[{i}] = {y[i]!r}")
    s = None
    if y_err is not None:
        s = np.atleast_1d(np.asarray(y_err, float))
        if s.shape != y.shape or not np.all(np.isfinite(s) & (s > 0)):
            raise ValueError(f"y_err must be positive and finite, one per point, got {s.tolist()}")
    if len(x) < 2 * min_side + 1 or len(np.unique(x)) < 2 * min_side:
        raise ValueError(f"need {2 * min_side + 1} points at {2 * min_side} distinct x for two lines, "
                         f"got x = {x.tolist()}")
    h = _hinge(x, y, s, min_side, criterion)
    err = np.sqrt(np.abs(np.diag(h["cov"])))
    return HingeFit(x_c=h["xc"], x_c_err=float(err[3]), x_c_range=h["x_range"], a=float(h["params"][0]),
                    slope_low=float(h["params"][1]), slope_low_err=float(err[1]), slope_high=float(h["params"][2]),
                    slope_high_err=float(err[2]), criterion=criterion, ic_two=h["ic_two"], ic_one=h["ic_one"],
                    preferred="two" if h["ic_two"] < h["ic_one"] else "one", dof=h["dof"], cov=h["cov"])


def fit_two_regime(T, y, kind: str = "D", y_err=None, *, criterion: str = "BIC",
                   kB: float = KB_EV, min_side: int = 2) -> TwoRegimeFit:
    """Two Arrhenius regimes joined at a break temperature Tc (bent plot).

    Model (x = 1/(kB T)): ln y = a - Ea_high min(x - xc, 0) - Ea_low max(x - xc, 0),
    continuous at Tc = 1/(kB xc). Tc is chosen by ``criterion`` ("BIC", default, or
    "AIC"), scanning breaks between the data that leave >= ``min_side`` points on each
    side (profile over a dense grid, refined by a bounded 1-D minimisation). Needs at
    least 2*min_side + 1 points.
    """
    criterion = str(criterion).upper()
    if criterion not in ("AIC", "BIC"):
        raise ValueError(f"criterion must be 'AIC' or 'BIC', got {criterion!r}")
    if min_side < 2:
        raise ValueError(f"min_side must be >= 2, got {min_side}")
    T, y, y_err = _check(T, y, y_err, kind, 2 * min_side + 1)
    n = len(T)
    Y, s = _log_data(T, y, y_err, kind)
    x = 1.0 / (kB * T)
    if len(np.unique(x)) < 2 * min_side:
        raise ValueError(f"need {2 * min_side} distinct temperatures for two regimes, got T = {T.tolist()}")
    h = _hinge(x, Y, s, min_side, criterion)
    best_xc = h["xc"]
    a, Ea_high, Ea_low = h["params"][0], -h["params"][1], -h["params"][2]
    flip = np.diag([1.0, -1.0, -1.0, 1.0])  # (a, slope x < xc, slope x > xc, xc) -> (a, Ea_high, Ea_low, xc)
    cov = flip @ h["cov"] @ flip
    with warnings.catch_warnings():  # a single line misfitting a bent plot is expected here
        warnings.simplefilter("ignore", RuntimeWarning)
        single = fit(T, y, kind, y_err, kB=kB)
    ic_two, ic_one = h["ic_two"], h["ic_one"]
    Tc_range = (float(1.0 / (kB * h["x_range"][1])), float(1.0 / (kB * h["x_range"][0])))
    err = np.sqrt(np.abs(np.diag(cov)))
    Tc_err = err[3] / (kB * best_xc ** 2)
    return TwoRegimeFit(
        kind=kind, convention=KINDS[kind][0], Tc=float(1.0 / (kB * best_xc)), Tc_err=float(Tc_err),
        Tc_range=Tc_range,
        Ea_low=float(Ea_low), Ea_low_err=float(err[2]), Ea_high=float(Ea_high), Ea_high_err=float(err[1]),
        ln_prefactor_low=float(a + Ea_low * best_xc), ln_prefactor_high=float(a + Ea_high * best_xc),
        criterion=criterion, ic_two=float(ic_two), ic_one=float(ic_one),
        preferred="two" if ic_two < ic_one else "one", single=single, cov=cov, kB=kB,
    )


def sigma_from_ea(T, sigma0: float, Ea: float, *, kB: float = KB_EV):
    """sigma(T) = sigma0 exp(-Ea / kB T): conductivity from an activation energy (eV)
    and a prefactor sigma0 (e.g. taken from experiment), T in K (scalar or array)."""
    Ta = _positive_T(T, "T")
    sigma0 = float(sigma0)
    Ea = float(Ea)
    if not np.isfinite(sigma0) or sigma0 <= 0:
        raise ValueError(f"sigma0 must be positive, got {sigma0!r}")
    if not np.isfinite(Ea):
        raise ValueError(f"Ea must be finite, got {Ea!r}")
    out = sigma0 * np.exp(-Ea / (kB * Ta))
    return float(out) if np.ndim(T) == 0 else out

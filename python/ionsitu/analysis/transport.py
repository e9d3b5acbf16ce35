"""Diffusion coefficients, Haven ratio, ionic conductivity and Onsager coefficients.

Input: an :class:`ionsitu.msd_file.MSDResult` (from ``fix msd/cross``, the offline core
or the numpy reference), or a list of them (replicas / segments of one system).

Estimator (docs/diffusion_estimator.md gives the reasons and the evidence)
--------------------------------------------------------------------------
``MSD(t) = 2 d D t + c`` is fitted over a window of lags by **generalised least
squares on log-spaced lags** with a *model* covariance of the MSD between lags:

* the window's lags are thinned (:func:`thin_lags`) so consecutive fitted lags differ
  by at least sqrt(2) in t. Dense all-origin lags (every lag of a 200-frame run) are
  correlated to 1 - O(1/n^2) with their neighbours; their covariance has a condition
  number ~1e8 and GLS weights of +-40 that turn the slope into the local derivative at
  the window start. Thinned, the condition number is bounded and the GLS slope is an
  average over the window; on random walks it loses almost nothing (the information
  of neighbouring lags is nearly the same);
* the correlation between lags comes from the overlap of the displacement intervals of
  a random walk. For lags n and p (in samples), with origin sets a, b of the
  multiple-window correlator (level spacing m**l, ``n_origins`` of them)::

      K(n, p) = 1/(n_a n_b) * sum_a sum_b overlap((a, a+n], (b, b+p])^2

  computed exactly (closed form over the origin grids, edges included);
* the size is the per-particle variance of the squared displacement at each lag, from
  the data, divided by the number of independent particles::

      Cov(n, p) = sqrt(V_n V_p) K(n, p) / (n p) / N_eff

  self (tracer) MSD: ``V = v * MSD^2`` with ``v = <dr^4>/<dr^2>^2 - 1`` observed (2/3
  for an isotropic Gaussian, larger when non-Gaussian), N_eff = N ions; per direction
  ``V_d = 2 f MSD_d^2``, f the observed non-Gaussian factor. Collective, charge and
  Onsager terms: one particle (the summed displacement), Gaussian, ``V = 2 sum_d
  MSD_d^2`` (cross terms <dR_a . dR_b>: ``<a^2><b^2> + <ab>^2``). MSD here is an OLS
  line through the thinned lags (less noisy than the raw values);
* error: the GLS one, ``(X^T C^-1 X)^-1``, multiplied by ``chi2_red`` when the
  residuals exceed the model (``chi2_red`` > 1: curvature in the window, ion-ion
  correlations, non-Gaussian tails the model misses); ``err_method`` and
  ``err_inflation`` say so. With replicas/segments: mean, and the larger of the
  standard error over them and the model error of the mean (``err_method`` names it);
* model-free check, offline: an MSD result from :func:`ionsitu.trajectory.msd_from_trajectory`
  carries ``ion_groups`` (:class:`ionsitu.io.msd.IonGroups`: the same MSD for G random groups of the
  mobile ions and their cross terms). The fitted slope is a linear combination of the
  fitted MSD values (weights fixed by the fit), so its ion bootstrap is exact and cheap:
  the tracer slope over ``BOOTSTRAP_SAMPLES`` resamples of the groups (with replacement),
  the collective and charge slopes by the delete-one-group jackknife (a resample with
  repeated groups would count their self part twice), less the excess the jackknife
  has for a quadratic form in the groups (its pure pair part, estimated from the doubly
  centred group-pair terms, is counted twice). ``D_err_boot`` is that spread;
  ``D_err`` the larger of it and the model error, and ``err_method`` says which;
* unresolved: a slope with D - 2 D_err <= 0 has ``resolved = False``; it is reported
  through its interval (``upper_95``), Haven ratios and conductivities from it are NaN
  (conductivities carry ``upper_95``).

``D_ols``/``D_err_ols`` (ordinary least squares on every window lag with the naive
residual error) are kept for comparison only: the naive error is ~1/13 of the real
scatter on random walks (tests/test_transport.py).

The window is user-given ``(t_start, t_end)`` or automatic: the longest range (in
log t, at least a factor ``MIN_WINDOW_RATIO`` = 2) of consecutive lags where the local
log-log slope beta(t) = dlog MSD/dlog t is within ``beta_tol`` (plus twice its
statistical error) of 1, among the lags that have at least ``min_independent``
effectively independent samples (N_eff * T_span / t, N_eff = N for self, 1 for
collective quantities) and t <= ``max_fraction`` of the run.

Units follow :mod:`ionsitu.units`: D in cm^2/s, sigma in S/cm (``lj``: reduced).
Drift: whatever the MSD producer removed (``meta["drift"]``) is reported unchanged.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from .. import units as _units

__all__ = [
    "SegmentAverage",
    "segment_average",
    "DiffusionFit",
    "HavenRatio",
    "Conductivity",
    "Onsager",
    "TransportReport",
    "tracer_diffusion",
    "collective_diffusion",
    "charge_diffusion",
    "haven_ratio",
    "conductivity",
    "charge_conductivity",
    "onsager",
    "analyse",
    "local_slope",
    "non_gaussian",
    "overlap_kernel",
]

DIRS = ("x", "y", "z")


# --------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------
@dataclass
class DiffusionFit:
    """A diffusion coefficient fitted to an MSD-type curve.

    ``D``/``D_err``: total (3D) value and its 1-sigma error; ``D_xyz``/``D_xyz_err``:
    per direction (MSD_d = 2 D_d t). ``err_method`` names where ``D_err`` comes from
    (the model covariance, inflated by ``err_inflation`` = sqrt(chi2_red) when the
    misfit exceeds the model, or the spread of replicas). With replicas, ``D`` is their
    mean and ``D_err`` the larger of the standard error of that mean (``D_err_spread``)
    and the model error of the mean (``D_err_model``).

    ``D_err_boot``: the model-free spread of D over the ions (offline results with
    ``ion_groups``: bootstrap over ``n_ion_groups`` groups for the tracer, delete-one-group
    jackknife for collective terms; NaN without); ``D_err`` is then the larger of it and
    the model error.

    ``resolved`` is False when D is not significantly positive (D - 2 D_err <= 0): then
    ``D`` is only the raw slope and the result is the interval ``lower_95``..``upper_95``
    (report "D < upper_95"). ``D_xyz_resolved``: the same per direction.
    """

    quantity: str
    D: float
    D_err: float
    D_xyz: np.ndarray
    D_xyz_err: np.ndarray
    unit: str
    t_start: float
    t_end: float
    window_method: str
    method: str
    n_lags: int
    offset: float = 0.0
    offset_err: float = 0.0
    chi2_red: float = float("nan")
    D_ols: float = float("nan")
    D_err_ols: float = float("nan")
    D_err_model: float = float("nan")
    D_xyz_err_model: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    time: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    beta_err: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    alpha2: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    in_window: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    units: str = "lj"
    unit_factor: float = 1.0
    natoms: int = 0
    volume: float = float("nan")
    drift: str = "unknown"
    n_replicas: int = 1
    replicas: list = field(default_factory=list, repr=False)
    err_method: str = "model"
    err_inflation: float = 1.0
    n_fit_lags: int = 0
    D_err_spread: float = float("nan")
    resolved: bool = True
    lower_95: float = float("nan")
    upper_95: float = float("nan")
    D_xyz_resolved: np.ndarray = field(default_factory=lambda: np.ones(3, bool))
    D_err_boot: float = float("nan")
    D_xyz_err_boot: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    n_ion_groups: int = 0

    @property
    def D_run(self) -> float:
        """D in distance^2/time of the run's unit style."""
        return self.D / self.unit_factor

    @property
    def D_run_err(self) -> float:
        return self.D_err / self.unit_factor

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


@dataclass
class HavenRatio:
    """H_R = D*/D_sigma (total and per direction) with propagated 1-sigma errors.

    The errors treat D* and D_sigma as independent; for independent ions their real
    covariance is about Var(D*), which would make the error slightly smaller.
    ``H`` (and each ``H_xyz``) is NaN, ``resolved`` False, unless both D* and D_sigma
    are resolved (significantly positive).
    """

    H: float
    H_err: float
    H_xyz: np.ndarray
    H_xyz_err: np.ndarray
    t_start: float
    t_end: float
    resolved: bool = True

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


@dataclass
class Conductivity:
    """Ionic conductivity (S/cm, or reduced for lj), total and per direction.

    When the underlying D is not resolved (not significantly positive), ``sigma`` and
    ``sigma_err`` are NaN, ``resolved`` is False and ``upper_95`` is the 95 % upper
    bound (from D's interval, at least 0); the same per direction (NaN entries).
    """

    sigma: float
    sigma_err: float
    sigma_xyz: np.ndarray
    sigma_xyz_err: np.ndarray
    unit: str
    T: float
    z: float
    concentration: float
    concentration_unit: str
    method: str
    t_start: float
    t_end: float
    resolved: bool = True
    upper_95: float = float("nan")

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


@dataclass
class Onsager:
    """Onsager transport coefficients between mobile species a, b.

    ``L[a, b]`` in conductivity units per elementary charge squared (S/cm / e^2; reduced
    for lj) such that the conductivity is ``sum_ab q_a q_b L[a, b]`` with q the charges of
    the species in the style's charge unit:
    L_ab = e_unit^2 / (V k_B T) * lim d/dt <dR_a . dR_b> / (2 d).
    """

    types: list
    charges: list
    L: np.ndarray
    L_err: np.ndarray
    L_xyz: np.ndarray
    L_xyz_err: np.ndarray
    unit: str
    T: float
    t_start: float
    t_end: float

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


@dataclass
class TransportReport:
    """Everything :func:`analyse` computes for one system at one temperature."""

    T: float
    tracer: DiffusionFit
    collective: DiffusionFit
    haven: HavenRatio
    conductivity: Conductivity | None
    charge_conductivity: Conductivity | None = None
    onsager: Onsager | None = None
    drift: str = "unknown"
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    return obj


# --------------------------------------------------------------------------------------
# Lag geometry and the overlap kernel
# --------------------------------------------------------------------------------------
def _level_spacing(nsamp: np.ndarray, m: int) -> np.ndarray:
    """Origin spacing m**l (samples) of each lag n = k m**l, 1 <= k <= m-1."""
    h = np.ones_like(nsamp)
    for i, n in enumerate(nsamp):
        s = 1
        while n >= s * m:
            s *= m
        h[i] = s
    return h


def _ceil_div(a, b):
    return -((-a) // b)


def _overlap_sum_edges(n, hn, A, p, b):
    """G(b) = sum_{i=0}^{A-1} ov(b - i*hn)^2 for an array of b (closed form).

    ov(D) = max(0, min(n, D + p) - max(0, D)) is the overlap of (0, n] and (D, D + p].
    """
    b = np.asarray(b, dtype=np.int64)
    pts = np.unique(np.array([-p, 0, n - p, n], dtype=np.int64))
    total = np.zeros(b.shape, dtype=float)
    for lo_pt, hi_pt in zip(pts[:-1], pts[1:]):
        # segment D in (lo_pt, hi_pt]; ov linear there: ov = alpha + slope * D
        mid = 0.5 * (lo_pt + hi_pt)
        slope = (1 if mid + p < n else 0) - (1 if mid > 0 else 0)
        alpha = (min(n, mid + p) - max(0.0, mid)) - slope * mid
        # D = b - i*hn in (lo_pt, hi_pt]  <=>  i in [ceil((b-hi)/hn), ceil((b-lo)/hn) - 1]
        i_lo = np.maximum(_ceil_div(b - hi_pt, hn), 0)
        i_hi = np.minimum(_ceil_div(b - lo_pt, hn) - 1, A - 1)
        cnt = np.maximum(i_hi - i_lo + 1, 0).astype(float)
        c0 = alpha + slope * (b - i_lo * hn).astype(float)  # ov at i = i_lo
        step = -slope * hn                                   # ov(i_lo + j) = c0 + step*j
        t1 = cnt * (cnt - 1) / 2.0
        t2 = (cnt - 1) * cnt * (2 * cnt - 1) / 6.0
        total += np.where(cnt > 0, cnt * c0 ** 2 + 2 * c0 * step * t1 + step ** 2 * t2, 0.0)
    return total


def _pair_overlap_sum(n, hn, A, p, hp, B) -> float:
    """sum_a sum_b ov^2 over the origin grids a = i hn (i < A), b = j hp (j < B)."""
    if A <= 0 or B <= 0:
        return 0.0
    if hn == 1 and hp == 1:  # every origin: sum over the offset D = b - a directly
        D = np.arange(-p + 1, n, dtype=np.int64)
        ov = np.minimum(n, D + p) - np.maximum(0, D)
        cnt = np.maximum(0, np.minimum(A, B - D) - np.maximum(0, -D))
        return float((cnt * ov.astype(float) ** 2).sum())
    if hn > hp:  # loop over the coarser grid; the finer one is summed in closed form
        n, hn, A, p, hp, B = p, hp, B, n, hn, A
    if hp % hn:
        raise ValueError(f"origin spacings {hn} and {hp} are not nested")
    j = np.arange(B, dtype=np.int64)
    b = j * hp
    # interior: every a with nonzero overlap lies inside the grid -> same G(b)
    interior = (b - n >= 0) & (b + p <= (A - 1) * hn)
    n_int = int(interior.sum())
    # one call: the edge origins, then one representative interior origin
    pts = np.concatenate([b[~interior], b[interior][:1]])
    g = _overlap_sum_edges(n, hn, A, p, pts)
    if n_int:
        return float(g[:-1].sum() + n_int * g[-1])
    return float(g.sum())


@lru_cache(maxsize=64)
def _kernel_cached(nsamp: tuple, h: tuple, A: tuple) -> np.ndarray:
    k = len(nsamp)
    K = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            s = _pair_overlap_sum(nsamp[i], h[i], A[i], nsamp[j], h[j], A[j])
            K[i, j] = K[j, i] = s / (A[i] * A[j])
    K.setflags(write=False)
    return K


def overlap_kernel(nsamp, spacing, n_origins) -> np.ndarray:
    """Exact random-walk overlap kernel K(n, p) (samples^2) of a set of lags.

    ``nsamp``: lags in samples; ``spacing``: origin spacing of each lag's level (m**l);
    ``n_origins``: number of origins (0, h, 2h, ...) of each lag. For a 1D Gaussian walk
    with step variance s^2 per sample, Cov(A_n, A_p) = 2 s^4 K(n, p), A_n the
    origin-averaged squared displacement at lag n.
    """
    key = tuple(int(x) for x in nsamp), tuple(int(x) for x in spacing), tuple(int(x) for x in n_origins)
    return _kernel_cached(*key)


# --------------------------------------------------------------------------------------
# Series preparation
# --------------------------------------------------------------------------------------
class _Lags:
    """Valid lags of an MSDResult with their correlator geometry."""

    def __init__(self, res):
        meta = res.meta
        self.nevery = int(meta.get("nevery", 1))
        self.m = int(meta.get("block", 0) or 0)
        lag_steps = np.asarray(res.lag_steps, dtype=np.int64)
        n_orig = np.asarray(res.n_origins, dtype=np.int64)
        self.valid = (n_orig > 0) & (lag_steps > 0)
        if not self.valid.any():
            raise ValueError("the MSD result has no lag with a time origin yet")
        if np.any(lag_steps[self.valid] % self.nevery):
            raise ValueError(f"lag_steps {lag_steps[self.valid].tolist()} are not multiples of nevery={self.nevery}")
        self.nsamp = lag_steps[self.valid] // self.nevery
        if self.m >= 2:
            self.h = _level_spacing(self.nsamp, self.m)
        else:  # no multiple-window structure given: every origin
            self.h = np.ones_like(self.nsamp)
        self.A = n_orig[self.valid]
        self.t = np.asarray(res.time, dtype=float)[self.valid]
        self.tau = float(res.dt) * self.nevery  # time per sample
        # total span of the sampled run: n_origins of a level-0 lag k is S - k
        lvl0 = self.h == 1
        if lvl0.any():
            i = np.argmax(lvl0)
            self.S = int(self.A[i] + self.nsamp[i])
        else:
            self.S = int(meta.get("nsamples", (self.A * self.h + self.nsamp).max()))
        self.T_total = (self.S - 1) * self.tau
        # effectively independent stretches of length t: T_span / t
        self.n_stretch = self.A * self.h / self.nsamp

    def key(self):
        return (tuple(self.nsamp), tuple(self.h), tuple(self.A))

    def kernel(self, idx) -> np.ndarray:
        return overlap_kernel(self.nsamp[idx], self.h[idx], self.A[idx])


class _Series:
    """One MSD-type quantity (x, y, z, total) on the valid lags."""

    def __init__(self, lags: _Lags, xyz: np.ndarray, n_eff: float, kind: str,
                 msd4: np.ndarray | None = None):
        self.lags = lags
        self.xyz = np.asarray(xyz, dtype=float)[lags.valid]
        self.n_eff = float(n_eff)
        self.kind = kind  # "self" or "collective"
        self.msd4 = None if msd4 is None else np.asarray(msd4, dtype=float)[lags.valid]

    @property
    def y(self):
        return self.xyz[:, 3]

    def rel_var_total(self) -> np.ndarray:
        """v(t): relative variance of the squared displacement of one 'particle'."""
        y2 = np.maximum(self.y ** 2, 1e-300)
        if self.kind == "self":
            v = self.msd4 / y2 - 1.0
        else:  # Gaussian with the observed per-direction split
            v = 2.0 * (self.xyz[:, :3] ** 2).sum(axis=1) / y2
        return np.maximum(v, 1e-12)

    def non_gaussian_factor(self) -> np.ndarray:
        """f(t) = Var|dr|^2 / Gaussian expectation (self); 1 for collective."""
        if self.kind != "self":
            return np.ones_like(self.y)
        gauss = 2.0 * (self.xyz[:, :3] ** 2).sum(axis=1)
        f = (self.msd4 - self.y ** 2) / np.maximum(gauss, 1e-300)
        return np.maximum(f, 1e-12)


def non_gaussian(res) -> tuple[np.ndarray, np.ndarray]:
    """(time, alpha2) on the valid lags: alpha2 = 3<dr^4>/(5<dr^2>^2) - 1."""
    lags = _Lags(res)
    msd = res.msd[lags.valid]
    with np.errstate(divide="ignore", invalid="ignore"):
        a2 = 3.0 * res.msd4[lags.valid] / (5.0 * msd ** 2) - 1.0
    return lags.t, a2


def local_slope(t, y, half_width: float = np.log(2.0) / 2, rel_cov=None):
    """Log-log slope beta(t) = dlog y / dlog t by local least squares.

    At each lag, a straight line in (log t, log y) is fitted through the lags within a
    factor exp(half_width) (default sqrt(2)) on each side, always including both
    neighbours. With ``rel_cov`` (the covariance of y divided by y_i y_j) the error of
    each beta is returned as well (else NaN).
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(t)
    beta = np.full(n, np.nan)
    err = np.full(n, np.nan)
    if n < 2:
        return beta, err
    lt = np.log(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(y)
    for i in range(n):
        lo = max(0, i - 1)
        hi = min(n - 1, i + 1)
        while lo > 0 and lt[i] - lt[lo - 1] <= half_width:
            lo -= 1
        while hi < n - 1 and lt[hi + 1] - lt[i] <= half_width:
            hi += 1
        sl = slice(lo, hi + 1)
        x = lt[sl] - lt[sl].mean()
        c = x / (x ** 2).sum()
        if not np.all(np.isfinite(ly[sl])):
            continue
        beta[i] = c @ ly[sl]
        if rel_cov is not None:
            err[i] = np.sqrt(max(c @ rel_cov[sl, sl] @ c, 0.0))
    return beta, err


# --------------------------------------------------------------------------------------
# Line fit: GLS on log-thinned lags with the model covariance, misfit-inflated error
# --------------------------------------------------------------------------------------
THIN_RATIO = float(np.sqrt(2.0))  # consecutive fitted lags differ by at least this factor in t
MODEL_REJECT_P = 1e-4             # GLS -> OLS when chi2 of the GLS residuals has p below this (gross misfit)
BETA_RATIO = 1.1                  # lag spacing of the local log-log slope beta(t)
MIN_WINDOW_RATIO = 2.0            # an automatic window spans at least this factor in t


def chi2_sf(dof: int, x: float) -> float:
    """P(chi2_dof > x) for an integer number of degrees of freedom (closed form; the
    estimator needs no scipy, whose import costs more than the fits)."""
    dof = int(dof)
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    x = max(float(x), 0.0)
    h = x / 2.0
    if dof % 2 == 0:  # exp(-h) sum_{i < dof/2} h^i / i!
        term = total = 1.0
        for i in range(1, dof // 2):
            term *= h / i
            total += term
        return min(1.0, math.exp(-h) * total)
    total, term = math.erfc(math.sqrt(h)), math.sqrt(2.0 * x / math.pi) * math.exp(-h)
    for i in range(1, (dof + 1) // 2):  # + sqrt(2x/pi) e^-h sum_i x^(i-1) / (1*3*...*(2i-1))
        total += term
        term *= x / (2 * i + 1)
    return min(1.0, total)


def thin_lags(t, ratio: float = THIN_RATIO, min_points: int = 3) -> np.ndarray:
    """Positions of a log-spaced subset of the increasing lag times ``t``.

    The first and last lags are kept and consecutive kept lags are at least ``ratio``
    apart, so neighbouring fitted MSD values are not almost perfectly correlated (the
    covariance stays well conditioned). At least ``min_points`` positions (all of them
    when ``t`` has fewer).
    """
    t = np.asarray(t, dtype=float)
    n = len(t)
    keep = [0]
    for i in range(1, n):
        if t[i] >= ratio * t[keep[-1]] * (1 - 1e-12):
            keep.append(i)
    if keep[-1] != n - 1:
        if len(keep) > 1 and t[n - 1] < ratio * t[keep[-1]]:
            keep[-1] = n - 1
        else:
            keep.append(n - 1)
    if len(keep) < min(min_points, n):  # a short window: evenly spread in log t
        lt = np.log(t)
        want = np.linspace(lt[0], lt[-1], min(min_points, n))
        keep = sorted({int(np.argmin(np.abs(lt - w))) for w in want} | {0, n - 1})
        for i in range(n):  # fill up with unused lags if rounding merged some
            if len(keep) >= min(min_points, n):
                break
            if i not in keep:
                keep = sorted(keep + [i])
    return np.asarray(keep, dtype=int)


def _line_fit(t, y, C, offset: bool, gls: bool = True):
    """Line y = a + b t by GLS (weights C^-1) or OLS, with C the (absolute) covariance of y.

    Returns (params (a, b), their covariance A C A^T for params = A y, misfit ratio
    r' C^-1 r / E[r' C^-1 r] under C: chi2_red for GLS, its generalisation for OLS,
    the slope's weights w: b = w @ y).
    """
    ts = t.max()
    X = np.column_stack([np.ones_like(t), t / ts]) if offset else (t / ts)[:, None]
    d = np.sqrt(np.maximum(np.diag(C), 1e-300))
    R = C / np.outer(d, d)
    eye = np.eye(len(t))
    jitter = 1e-12
    for _ in range(8):
        try:
            L = np.linalg.cholesky(R + jitter * eye) * d[:, None]   # C ~ L L'
            break
        except np.linalg.LinAlgError:
            jitter *= 100
    else:  # pragma: no cover - numerically hopeless covariance
        raise RuntimeError("model covariance of the MSD is not positive definite")
    if gls:
        Xw = np.linalg.solve(L, X)
        A = np.linalg.solve(Xw.T @ Xw, Xw.T) @ np.linalg.inv(L)
    else:
        A = np.linalg.solve(X.T @ X, X.T)
    params = A @ y
    LA = A @ L
    cov = LA @ LA.T
    q = np.linalg.solve(L, y - X @ params)
    B = np.linalg.solve(L, (eye - X @ A) @ L)
    expect = float((B ** 2).sum())
    ratio = float(q @ q) / expect if expect > 0 else float("nan")
    w = A[-1] / ts
    if offset:
        params = params / np.array([1.0, ts])
        cov = cov / np.outer([1.0, ts], [1.0, ts])
    else:
        params = np.array([0.0, params[0] / ts])
        cov = np.array([[0.0, 0.0], [0.0, cov[0, 0] / ts ** 2]])
    return params, cov, ratio, w


def _ols(t, y, offset: bool):
    """Ordinary least squares with the usual residual-based slope error (naive; for comparison)."""
    X = np.column_stack([np.ones_like(t), t]) if offset else t[:, None]
    params, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = max(len(t) - X.shape[1], 1)
    s2 = float(((y - X @ params) ** 2).sum()) / dof
    cov = s2 * np.linalg.inv(X.T @ X)
    return params[-1], float(np.sqrt(cov[-1, -1]))


def _smooth(y_obs, y_fit):
    """The fitted line where it is positive, else the observed value (at least 0)."""
    return np.where(y_fit > 0, y_fit, np.maximum(y_obs, 0.0))


def _model_cov(series: _Series, idx: np.ndarray, fitted: np.ndarray, cross=None) -> list:
    """Model covariances (x, y, z, total) of the MSD values on lags ``idx`` (distance^4).

    Per-particle variance of the squared displacement at each lag times the random-walk
    overlap kernel of the origins, K(n, p) / (n p), divided by the number of independent
    particles. Self MSD: Gaussian in the MSD (the fitted line ``fitted``, (k, 4), where
    positive; N ions make it precise) times the observed non-Gaussian factor (from
    <dr^4>). Collective terms (one particle, a noisy MSD): the random-walk form
    2 s_d^2 K(n, p), s_d = mean of MSD_d / n over the lags (positive even when the slope
    is not), so that the weights do not follow the noise of the data. ``cross``: the
    diagonal xyz arrays (aa, bb) of an Onsager cross term, whose Gaussian variance is
    <a^2><b^2> + <ab>^2.
    """
    lags = series.lags
    n = lags.nsamp[idx].astype(float)
    Kn = lags.kernel(idx) / np.outer(n, n)
    y = series.xyz[idx]
    g = _smooth(y, fitted)
    if series.kind == "self":
        f = np.sqrt(series.non_gaussian_factor()[idx])
        per = [2.0 * np.outer(f * g[:, d], f * g[:, d]) * Kn / series.n_eff for d in range(3)]
        v = np.sqrt(series.rel_var_total()[idx]) * g[:, 3]
        return per + [np.outer(v, v) * Kn / series.n_eff]
    K = lags.kernel(idx)

    def rate(v):  # mean MSD per sample over the lags, per direction
        return np.mean(np.asarray(v, float)[:, :3] / n[:, None], axis=0)

    if cross is None:
        s2 = 2.0 * np.maximum(rate(y), 0.0) ** 2
    else:
        aa, bb = (np.maximum(rate(np.asarray(c, float)[lags.valid][idx]), 0.0) for c in cross)
        s2 = aa * bb + rate(y) ** 2
    s2 = np.maximum(s2, 1e-300)
    per = [s2[d] * K for d in range(3)]
    return per + [per[0] + per[1] + per[2]]


def _fit_series(series: _Series, idx: np.ndarray, offset: bool, cross=None) -> dict:
    """Fits of the x, y, z and total columns of ``series`` on the window lags ``idx``.

    The lags are thinned to a log-spaced subset (:func:`thin_lags`), the model
    covariance is built from an OLS line through them (:func:`_model_cov`), then the
    slope is the GLS one with that covariance; its variance the GLS one, multiplied by
    chi2_red when that exceeds 1. Returns per column the slope (distance^2/time), its
    variance, intercept, ``chi2_red``, the error inflation factor, the naive OLS
    slope and error on all window lags, and the slope's weights ``w`` on the fitted lags
    ``sub`` (positions in the valid lags).
    """
    lags = series.lags
    sub = idx[thin_lags(lags.t[idx], min_points=3 if offset else 2)]
    t = lags.t[sub]
    y = series.xyz[sub]
    # the covariance's scale from an OLS line (less noisy than the observed MSD values)
    X = np.column_stack([np.ones_like(t), t]) if offset else t[:, None]
    fitted = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    covs = _model_cov(series, sub, fitted, cross)
    out = {k: np.zeros(4) for k in ("b", "b_var", "a", "a_var", "chi2_red", "inflation", "b_ols", "b_ols_err")}
    out["gls"] = np.ones(4, bool)
    out["w"] = np.zeros((4, len(sub)))
    out["sub"] = sub
    dof = len(sub) - (2 if offset else 1)
    for c in range(4):
        params, cov, ratio, w = _line_fit(t, y[:, c], covs[c], offset)
        if dof > 0 and np.isfinite(ratio) and chi2_sf(dof, ratio * dof) < MODEL_REJECT_P:
            # the model covariance is rejected: its GLS weights mean nothing; OLS on the
            # log-spaced lags, sandwich error scaled by the observed misfit
            params, cov, ratio, w = _line_fit(t, y[:, c], covs[c], offset, gls=False)
            out["gls"][c] = False
        out["w"][c] = w
        infl = max(1.0, ratio) if np.isfinite(ratio) else 1.0
        out["a"][c], out["b"][c] = params
        out["a_var"][c], out["b_var"][c] = cov[0, 0] * infl, cov[1, 1] * infl
        out["chi2_red"][c] = ratio
        out["inflation"][c] = np.sqrt(infl)
        out["b_ols"][c], out["b_ols_err"][c] = _ols(lags.t[idx], series.xyz[idx, c], offset)
    out["n_fit"] = len(sub)
    return out


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------
def _rel_cov(series: _Series, idx) -> np.ndarray:
    """Model covariance of y_i / y_j relative to y_i y_j (for the beta errors)."""
    lags = series.lags
    K = lags.kernel(idx)
    n = lags.nsamp[idx].astype(float)
    v = series.rel_var_total()[idx]
    return np.outer(np.sqrt(v), np.sqrt(v)) * K / np.outer(n, n) / series.n_eff


def _select_window(series: _Series, window, beta_tol, min_independent, max_fraction, min_lags):
    lags = series.lags
    nl = len(lags.t)
    allidx = np.arange(nl)
    # beta(t) on log-spaced lags (ratio BETA_RATIO: dense all-origin lags add nothing to
    # a local log-log slope but cost a kernel of size k^2), copied to the lags in between
    grid = thin_lags(lags.t, BETA_RATIO)
    bg, eg = local_slope(lags.t[grid], series.y[grid], rel_cov=_rel_cov(series, grid))
    near = grid[np.clip(np.searchsorted(lags.t[grid], lags.t), 0, len(grid) - 1)]
    pos = np.searchsorted(grid, near)
    beta, beta_err = bg[pos], eg[pos]
    if window is not None:
        try:
            t0, t1 = (float(w) for w in window)
        except (TypeError, ValueError):
            raise ValueError(f"window must be (t_start, t_end), got {window!r}") from None
        if not (t1 > t0 >= 0):
            raise ValueError(f"window must have 0 <= t_start < t_end, got {window!r}")
        idx = allidx[(lags.t >= t0 * (1 - 1e-12)) & (lags.t <= t1 * (1 + 1e-12))]
        if len(idx) < min_lags:
            raise ValueError(
                f"window {window!r} holds {len(idx)} lags with data (need {min_lags}); "
                f"lag times available: {lags.t.tolist()}"
            )
        return idx, "user", beta, beta_err

    n_ind = series.n_eff * lags.n_stretch
    cand = (n_ind >= min_independent) & (lags.t <= max_fraction * lags.T_total) & np.isfinite(beta)
    ok = cand & (np.abs(beta - 1.0) <= beta_tol + 2.0 * np.nan_to_num(beta_err, nan=np.inf))
    best, best_len = None, -1.0
    i = 0
    while i < nl:
        if ok[i]:
            j = i
            while j + 1 < nl and ok[j + 1]:
                j += 1
            span = np.log(lags.t[j] / lags.t[i]) if j > i else 0.0
            if j - i + 1 >= min_lags and span >= best_len:
                best, best_len = (i, j), span
            i = j + 1
        else:
            i += 1
    if best is not None and best_len >= np.log(MIN_WINDOW_RATIO) * (1 - 1e-9):
        return allidx[best[0]: best[1] + 1], "auto", beta, beta_err
    c = allidx[cand]
    if len(c) < min_lags:
        c = allidx
    lt = np.log(lags.t[c])
    idx = c[lt >= lt.min() + (lt.max() - lt.min()) * 2.0 / 3.0]
    if len(idx) < min_lags:
        idx = c[-min_lags:]
    warnings.warn(
        f"no range of >= {min_lags} lags spanning a factor >= {MIN_WINDOW_RATIO:g} in t with |beta - 1| <= "
        f"{beta_tol} and enough statistics; "
        f"falling back to t = {lags.t[idx[0]]:g}..{lags.t[idx[-1]]:g} (last third in log t). "
        "Check beta(t) and give the window explicitly.",
        RuntimeWarning,
        stacklevel=3,
    )
    return idx, "auto (fallback: no diffusive range found)", beta, beta_err


# --------------------------------------------------------------------------------------
# Model-free error: resampling the ions (offline results with ion groups)
# --------------------------------------------------------------------------------------
BOOTSTRAP_SAMPLES = 2000          # resamples of the ion groups for the tracer slope
BOOTSTRAP_SEED = 20240917


def _ion_resampling(res, quantity: str, lags: _Lags, fit: dict):
    """(slope spread per column x, y, z, total, G) from the ion groups of ``res``, or None."""
    groups = getattr(res, "ion_groups", None)
    if groups is None or quantity not in ("tracer", "collective", "charge") or groups.ngroups < 3:
        return None
    if groups.msd_xyz.shape[1] != len(lags.valid):
        raise ValueError(f"ion groups have {groups.msd_xyz.shape[1]} lags, the MSD result {len(lags.valid)}")
    lag_idx = np.flatnonzero(lags.valid)[fit["sub"]]
    G = groups.ngroups
    if quantity == "tracer":
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        counts = rng.multinomial(G, np.full(G, 1.0 / G), size=BOOTSTRAP_SAMPLES)
        y = groups.self_msd(counts, lag_idx)                       # (B, k, 4)
        b = np.einsum("rkc,ck->rc", y, fit["w"])
        return b.std(axis=0, ddof=1), G
    if G < 4:
        return None
    # slope contributions of the group pairs: slope = sum_gh S_gh (per column)
    N = groups.size.sum()
    S = np.einsum("ghkc,ck->ghc", groups.group_pairs(quantity, lag_idx), fit["w"]) / N
    total, row, diag = S.sum(axis=(0, 1)), S.sum(axis=1), np.einsum("ggc->gc", S)
    # delete-one-group jackknife
    b = (total[None] - 2.0 * row + diag) * (N / (N - groups.size))[:, None]
    var_jk = (G - 1) / G * ((b - b.mean(axis=0)) ** 2).sum(axis=0)
    # the jackknife counts the degenerate (pure pair) part of the variance twice: estimate
    # it from the doubly centred off-diagonal terms (Hoeffding decomposition) and remove
    # the excess; for independent ions that part is all there is
    off = ~np.eye(G, dtype=bool)
    r = (row - diag) / (G - 1)
    m = (total - diag.sum(axis=0)) / (G * (G - 1))
    psi = S - r[:, None] - r[None, :] + m[None, None]
    var2 = 2.0 * (psi[off] ** 2).sum(axis=0) * (G - 1) / (G - 3)
    return np.sqrt(np.maximum(var_jk - (G - 2) / G * var2, var2)), G


# --------------------------------------------------------------------------------------
# Public diffusion API
# --------------------------------------------------------------------------------------
_METHOD_SELF = ("GLS fit of MSD = 2dDt + c on log-spaced lags (ratio >= sqrt 2); model covariance: random-walk "
                "overlap kernel of the origins x observed Var|dr|^2 (from <dr^4>) / N ions; error x sqrt(chi2_red) "
                "when chi2_red > 1")
_METHOD_COLL = ("GLS fit of the collective MSD = 2dDt + c on log-spaced lags (ratio >= sqrt 2); model covariance: "
                "random-walk overlap kernel of the origins x Gaussian variance of the summed displacement (one "
                "particle); error x sqrt(chi2_red) when chi2_red > 1")
Z95 = 1.959963984540054


def _as_list(res):
    if isinstance(res, (list, tuple)):
        if not res:
            raise ValueError("empty list of MSD results")
        return list(res)
    return [res]


def _make_series(res, quantity: str, lags: _Lags, species=None) -> _Series:
    if quantity == "tracer":
        return _Series(lags, res.msd_xyz, res.natoms, "self", res.msd4)
    if quantity == "collective":
        return _Series(lags, res.coll_xyz, 1, "collective")
    if quantity == "charge":
        if res.charge_xyz is None:
            raise ValueError("this MSD result has no charge MSD (run the fix with charges)")
        return _Series(lags, res.charge_xyz, 1, "collective")
    if quantity == "onsager":
        a, b = species
        return _Series(lags, res.onsager[a, b], 1, "collective")
    raise ValueError(f"unknown quantity {quantity!r}")


def _mean_result_arrays(results, quantity, species=None):
    """Replica-averaged series (for the automatic window and beta/alpha2)."""
    first = results[0]
    for r in results[1:]:
        if not np.array_equal(r.lag_steps, first.lag_steps) or not np.array_equal(r.n_origins, first.n_origins):
            return None
    lags = _Lags(first)
    s = _make_series(first, quantity, lags, species)
    others = [_make_series(r, quantity, lags, species) for r in results[1:]]
    if others:
        s.xyz = np.mean([s.xyz] + [o.xyz for o in others], axis=0)
        if s.msd4 is not None:
            s.msd4 = np.mean([s.msd4] + [o.msd4 for o in others], axis=0)
        s.n_eff *= len(results)
    return s


def _set_interval(f: DiffusionFit) -> DiffusionFit:
    """Resolved flags and the 95 % interval from D, D_err (total and per direction)."""
    f.lower_95 = f.D - Z95 * f.D_err
    f.upper_95 = f.D + Z95 * f.D_err
    f.resolved = bool(np.isfinite(f.D) and np.isfinite(f.D_err) and f.D - 2.0 * f.D_err > 0)
    with np.errstate(invalid="ignore"):
        f.D_xyz_resolved = np.asarray(f.D_xyz - 2.0 * f.D_xyz_err > 0)
    return f


def _diffusion(res, quantity, window, offset, beta_tol, min_independent, max_fraction,
               species=None, cross_series=None):
    results = _as_list(res)
    min_lags = 3 if offset else 2
    mean_series = _mean_result_arrays(results, quantity, species)
    if mean_series is not None:
        idx, wmethod, beta, beta_err = _select_window(
            mean_series, window, beta_tol, min_independent, max_fraction, min_lags)
        win_t = (mean_series.lags.t[idx[0]], mean_series.lags.t[idx[-1]])
        ref_series = mean_series
    else:  # replicas with different lag sets: window from the first one
        lags0 = _Lags(results[0])
        ref_series = _make_series(results[0], quantity, lags0, species)
        idx, wmethod, beta, beta_err = _select_window(
            ref_series, window, beta_tol, min_independent, max_fraction, min_lags)
        win_t = (lags0.t[idx[0]], lags0.t[idx[-1]])

    fits = []
    for r in results:
        lags = _Lags(r)
        series = _make_series(r, quantity, lags, species)
        ridx = np.flatnonzero((lags.t >= win_t[0] * (1 - 1e-12)) & (lags.t <= win_t[1] * (1 + 1e-12)))
        if len(ridx) < min_lags:
            raise ValueError(f"replica has only {len(ridx)} lags in the window {win_t}")
        cross = None if cross_series is None else cross_series[len(fits)]
        fits.append((r, lags, series, ridx, _fit_series(series, ridx, offset, cross)))

    style = _units.get_style(results[0].units)
    factor = _units.diffusion_factor(style)
    single = []
    for r, lags, series, ridx, fit in fits:
        dims = np.array([1, 1, 1, 3], dtype=float)
        D = fit["b"] / (2 * dims) * factor
        D_err = np.sqrt(fit["b_var"]) / (2 * dims) * factor
        if series.kind == "self":
            _, a2 = non_gaussian(r)
        else:
            a2 = np.full(len(lags.t), np.nan)
        in_win = np.zeros(len(lags.t), bool)
        in_win[ridx] = True
        infl = float(fit["inflation"][3])
        base = "model" if fit["gls"][3] else "OLS fallback (GLS model rejected), sandwich with the model"
        err_method = base if infl <= 1.0 else f"{base} x sqrt(chi2_red) = {infl:.3g}"
        D_err_model = D_err.copy()
        boot = _ion_resampling(r, quantity, lags, fit)
        D_boot, G = (np.full(4, np.nan), 0) if boot is None else (boot[0] / (2 * dims) * factor, boot[1])
        if boot is not None:
            how = f"ion bootstrap over {G} groups" if quantity == "tracer" else f"ion jackknife over {G} groups"
            if D_boot[3] > D_err_model[3]:
                err_method = f"{how} (larger than the {err_method} error)"
            else:
                err_method = f"{err_method} (larger than the {how})"
            D_err = np.fmax(D_err_model, D_boot)
        single.append(_set_interval(DiffusionFit(
            quantity=quantity if species is None else f"{quantity} {species[0]}-{species[1]}",
            D=float(D[3]), D_err=float(D_err[3]), D_xyz=D[:3], D_xyz_err=D_err[:3],
            unit=_units.diffusion_unit(style),
            t_start=float(lags.t[ridx[0]]), t_end=float(lags.t[ridx[-1]]),
            window_method=wmethod,
            method=_METHOD_SELF if series.kind == "self" else _METHOD_COLL,
            n_lags=len(ridx),
            offset=float(fit["a"][3]), offset_err=float(np.sqrt(fit["a_var"][3])),
            chi2_red=float(fit["chi2_red"][3]),
            D_ols=float(fit["b_ols"][3] / 6 * factor),
            D_err_ols=float(fit["b_ols_err"][3] / 6 * factor),
            D_err_model=float(D_err_model[3]), D_xyz_err_model=D_err_model[:3],
            D_err_boot=float(D_boot[3]), D_xyz_err_boot=D_boot[:3], n_ion_groups=G,
            time=lags.t, beta=beta, beta_err=beta_err,
            alpha2=a2, in_window=in_win,
            units=style.name, unit_factor=factor, natoms=r.natoms, volume=r.volume,
            drift=str(r.meta.get("drift", "unknown")),
            err_method=err_method,
            err_inflation=infl, n_fit_lags=int(fit["n_fit"]),
        )))
    if len(single) == 1:
        return single[0]

    # replicas / segments: mean; error = the larger of the spread's standard error and the model error
    n = len(single)
    Ds = np.array([s.D for s in single])
    Dxyz = np.array([s.D_xyz for s in single])
    errs = np.array([s.D_err for s in single])
    errs_xyz = np.array([s.D_xyz_err for s in single])
    sem, sem_xyz = Ds.std(ddof=1) / np.sqrt(n), Dxyz.std(axis=0, ddof=1) / np.sqrt(n)
    model, model_xyz = np.sqrt((errs ** 2).sum()) / n, np.sqrt((errs_xyz ** 2).sum(axis=0)) / n
    out = DiffusionFit(
        quantity=single[0].quantity,
        D=float(Ds.mean()), D_err=float(max(sem, model)),
        D_xyz=Dxyz.mean(axis=0), D_xyz_err=np.maximum(sem_xyz, model_xyz),
        unit=single[0].unit, t_start=single[0].t_start, t_end=single[0].t_end,
        window_method=wmethod,
        method=f"mean over {n} replicas/segments; each: " + single[0].method,
        n_lags=single[0].n_lags,
        offset=float(np.mean([s.offset for s in single])),
        offset_err=float(np.std([s.offset for s in single], ddof=1) / np.sqrt(n)),
        chi2_red=float(np.mean([s.chi2_red for s in single])),
        D_ols=float(np.mean([s.D_ols for s in single])),
        D_err_ols=float(np.sqrt((np.array([s.D_err_ols for s in single]) ** 2).sum()) / n),
        D_err_model=float(model),
        time=ref_series.lags.t, beta=beta, beta_err=beta_err,
        alpha2=(non_gaussian_mean(results) if quantity == "tracer" else np.full(len(ref_series.lags.t), np.nan)),
        in_window=single[0].in_window,
        units=single[0].units, unit_factor=factor, natoms=single[0].natoms,
        volume=float(np.mean([s.volume for s in single])), drift=single[0].drift,
        D_xyz_err_model=model_xyz,
        n_replicas=n, replicas=single,
        D_err_spread=float(sem),
        D_err_boot=float(np.sqrt((np.array([s.D_err_boot for s in single]) ** 2).sum()) / n),
        D_xyz_err_boot=np.sqrt((np.array([s.D_xyz_err_boot for s in single]) ** 2).sum(axis=0)) / n,
        n_ion_groups=single[0].n_ion_groups,
        err_method=(f"replica spread (standard error of the mean of {n})" if sem >= model
                    else f"{'model' if not single[0].n_ion_groups else 'model/ion resampling'} "
                         f"(larger than the spread of {n} replicas)"),
        err_inflation=float(np.mean([s.err_inflation for s in single])),
        n_fit_lags=single[0].n_fit_lags,
    )
    return _set_interval(out)


def non_gaussian_mean(results) -> np.ndarray:
    """alpha2(t) of replica-averaged <dr^2> and <dr^4> (same lag structure)."""
    lags = _Lags(results[0])
    m2 = np.mean([r.msd[lags.valid] for r in results], axis=0)
    m4 = np.mean([r.msd4[lags.valid] for r in results], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 3.0 * m4 / (5.0 * m2 ** 2) - 1.0


def tracer_diffusion(res, window=None, *, offset: bool = True, beta_tol: float = 0.1,
                     min_independent: float = 10.0, max_fraction: float = 0.5) -> DiffusionFit:
    """Tracer (self) diffusion coefficient D* from the self MSD, total and per direction.

    ``res``: an MSDResult or a list of them (replicas/segments: mean +- standard error).
    ``window``: (t_start, t_end) in time units of the run, or None for automatic.
    """
    return _diffusion(res, "tracer", window, offset, beta_tol, min_independent, max_fraction)


def collective_diffusion(res, window=None, *, offset: bool = True, beta_tol: float = 0.1,
                         min_independent: float = 10.0, max_fraction: float = 0.5) -> DiffusionFit:
    """Collective ("charge") diffusion coefficient D_sigma from 1/N <|sum_i dr_i|^2>."""
    return _diffusion(res, "collective", window, offset, beta_tol, min_independent, max_fraction)


def charge_diffusion(res, window=None, *, offset: bool = True, beta_tol: float = 0.1,
                     min_independent: float = 10.0, max_fraction: float = 0.5) -> DiffusionFit:
    """'Diffusion coefficient' of the charge MSD 1/N <|sum_a q_a dR_a|^2> (includes q^2)."""
    return _diffusion(res, "charge", window, offset, beta_tol, min_independent, max_fraction)


def _ratio(a, ea, b, eb):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.asarray(a, float) / np.asarray(b, float)
        e = np.abs(r) * np.sqrt((np.asarray(ea) / np.asarray(a)) ** 2 + (np.asarray(eb) / np.asarray(b)) ** 2)
    return r, e


def haven_ratio(tracer: DiffusionFit, collective: DiffusionFit) -> HavenRatio:
    """H_R = D*/D_sigma with propagated errors (total and per direction); NaN where
    either D is unresolved."""
    H, He = _ratio(tracer.D, tracer.D_err, collective.D, collective.D_err)
    Hx, Hxe = _ratio(tracer.D_xyz, tracer.D_xyz_err, collective.D_xyz, collective.D_xyz_err)
    ok = bool(tracer.resolved and collective.resolved)
    okx = np.asarray(tracer.D_xyz_resolved) & np.asarray(collective.D_xyz_resolved)
    return HavenRatio(H=float(H) if ok else float("nan"), H_err=float(He) if ok else float("nan"),
                      H_xyz=np.where(okx, Hx, np.nan), H_xyz_err=np.where(okx, Hxe, np.nan),
                      t_start=collective.t_start, t_end=collective.t_end, resolved=ok)


def _conductivity_from_fit(fit: DiffusionFit, F: float, z: float, T: float, method: str) -> Conductivity:
    """sigma = F * D (F: the conductivity factor per D unit); unresolved -> NaN + upper bound."""
    okx = np.asarray(fit.D_xyz_resolved)
    return Conductivity(
        sigma=F * fit.D if fit.resolved else float("nan"),
        sigma_err=F * fit.D_err if fit.resolved else float("nan"),
        sigma_xyz=np.where(okx, F * fit.D_xyz, np.nan), sigma_xyz_err=np.where(okx, F * fit.D_xyz_err, np.nan),
        unit=_units.conductivity_unit(fit.units), T=T, z=z,
        concentration=_units.concentration(fit.units, fit.natoms, fit.volume),
        concentration_unit=_units.concentration_unit(fit.units),
        method=method, t_start=fit.t_start, t_end=fit.t_end,
        resolved=bool(fit.resolved), upper_95=F * max(fit.upper_95, 0.0),
    )


def _check_T(T):
    T = float(T)
    if not np.isfinite(T) or T <= 0:
        raise ValueError(f"temperature must be positive, got T={T!r}")
    return T


def conductivity(res_or_fit, T: float, z: float = 1.0, window=None, **kw) -> Conductivity:
    """Nernst-Einstein / Einstein-Helfand conductivity from the collective D_sigma.

    sigma = c e^2 z^2 D_sigma / (k_B T), c = N/V (V: the run's mean volume), per
    direction sigma_d from D_sigma,d. ``res_or_fit``: an MSDResult (list) or a collective
    :class:`DiffusionFit`. ``T`` in K (reduced for lj).
    """
    T = _check_T(T)
    fit = res_or_fit if isinstance(res_or_fit, DiffusionFit) else collective_diffusion(res_or_fit, window, **kw)
    F = _units.conductivity_factor(fit.units, fit.volume, T) * fit.natoms * float(z) ** 2 / fit.unit_factor
    return _conductivity_from_fit(
        fit, F, float(z), T, f"Nernst-Einstein sigma = c e^2 z^2 D_sigma/(k_B T) from the {fit.quantity} MSD")


def charge_conductivity(res, T: float, window=None, **kw) -> Conductivity:
    """Einstein-Helfand conductivity from the charge MSD (charges of the run's types).

    sigma = 1/(V k_B T) lim <|sum_a q_a dR_a|^2>/(2 d t), total and per direction.
    """
    T = _check_T(T)
    fit = res if isinstance(res, DiffusionFit) else charge_diffusion(res, window, **kw)
    F = _units.conductivity_factor(fit.units, fit.volume, T) * fit.natoms / fit.unit_factor
    return _conductivity_from_fit(
        fit, F, float("nan"), T, "Einstein-Helfand sigma = 1/(V k_B T) <|sum_a q_a dR_a|^2>/(2 d t) (charge MSD)")


def onsager(res, T: float, window=None, *, offset: bool = True, beta_tol: float = 0.1,
            min_independent: float = 10.0, max_fraction: float = 0.5) -> Onsager:
    """Onsager coefficients L_ab (total and per direction) from the cross MSDs.

    Same window for every pair (automatic: from the charge MSD, else from the first
    diagonal term). Errors: the estimator of :func:`tracer_diffusion` with the Gaussian
    model of each term (cross terms: <a^2><b^2> + <ab>^2).
    """
    T = _check_T(T)
    results = _as_list(res)
    r0 = results[0]
    if r0.onsager is None:
        raise ValueError("this MSD result has no Onsager cross terms (run the fix with charges)")
    kw = dict(beta_tol=beta_tol, min_independent=min_independent, max_fraction=max_fraction)
    if window is None:
        base = charge_diffusion(results, None, offset=offset, **kw) if r0.charge_xyz is not None \
            else _diffusion(results, "onsager", None, offset, beta_tol, min_independent, max_fraction,
                            species=(0, 0))
        window = (base.t_start, base.t_end)
    ns = r0.onsager.shape[0]
    L = np.zeros((ns, ns))
    Le = np.zeros((ns, ns))
    Lx = np.zeros((ns, ns, 3))
    Lxe = np.zeros((ns, ns, 3))
    args = (window, offset, beta_tol, min_independent, max_fraction)
    diag = [_diffusion(results, "onsager", *args, species=(a, a)) for a in range(ns)]

    F = _units.conductivity_factor(r0.units, np.mean([r.volume for r in results]), T) * r0.natoms
    for a in range(ns):
        for b in range(a, ns):
            if a == b:
                f = diag[a]
            else:
                cs = [(r.onsager[a, a], r.onsager[b, b]) for r in results]
                f = _diffusion(results, "onsager", *args, species=(a, b), cross_series=cs)
            g = F / f.unit_factor
            L[a, b] = L[b, a] = g * f.D
            Le[a, b] = Le[b, a] = g * f.D_err
            Lx[a, b] = Lx[b, a] = g * f.D_xyz
            Lxe[a, b] = Lxe[b, a] = g * f.D_xyz_err
    unit = _units.conductivity_unit(r0.units) + " per (charge unit)^2"
    return Onsager(types=list(r0.types.tolist()), charges=list(r0.charges.tolist()), L=L, L_err=Le,
                   L_xyz=Lx, L_xyz_err=Lxe, unit=unit, T=T,
                   t_start=float(window[0]), t_end=float(window[1]))


def analyse(res, T: float, z: float = 1.0, window=None, *, same_window: bool = True,
            offset: bool = True, beta_tol: float = 0.1, min_independent: float = 10.0,
            max_fraction: float = 0.5) -> TransportReport:
    """Tracer and collective D, Haven ratio, conductivity (and charge/Onsager terms).

    With ``same_window`` (default) the collective quantities use the window of the tracer
    MSD (given or automatic), so H_R compares like with like. Without a volume (a
    trajectory without a cell) D*, D_sigma and H_R are computed and the conductivities
    are None, with a note (and a warning) that sigma needs the volume.
    """
    kw = dict(offset=offset, beta_tol=beta_tol, min_independent=min_independent, max_fraction=max_fraction)
    tr = tracer_diffusion(res, window, **kw)
    cwin = (tr.t_start, tr.t_end) if (same_window or window is not None) else None
    co = collective_diffusion(res, cwin, **kw)
    if same_window and window is None:
        co.window_method = "auto (tracer window)"
    results = _as_list(res)
    T = _check_T(T)
    cond = charge = ons = None
    notes = []
    vols = np.array([float(r.volume) for r in results])
    if np.all(np.isfinite(vols) & (vols > 0)):
        cond = conductivity(co, T, z)
        if results[0].charge_xyz is not None:
            charge = charge_conductivity(charge_diffusion(res, cwin, **kw), T)
            if results[0].onsager is not None:
                ons = onsager(res, T, cwin or (co.t_start, co.t_end), offset=offset, beta_tol=beta_tol,
                              min_independent=min_independent, max_fraction=max_fraction)
    else:
        notes.append(f"no conductivity: sigma needs the volume of the cell (volume = {vols.tolist()}); "
                     "D*, D_sigma and H_R do not")
        warnings.warn(notes[-1], RuntimeWarning, stacklevel=2)
    return TransportReport(T=T, tracer=tr, collective=co, haven=haven_ratio(tr, co),
                           conductivity=cond, charge_conductivity=charge,
                           onsager=ons, drift=tr.drift, notes=notes)


@dataclass
class SegmentAverage:
    """MSD-derived quantities of independent run segments, averaged (a published protocol: 4–5 segments of
    each replica). Per segment (one MSD file each: a production run cut into consecutive
    segments, a fix per segment): the tracer ``D`` and collective ``D_sigma`` (the fitted
    slopes, also where a segment alone does not resolve them, so that their mean is not
    biased by dropping the small ones); ``*_mean`` and ``*_sem`` (standard error,
    sd / sqrt(n), ddof = 1) over the ``n`` segments of all replicas; ``H`` = D_mean /
    D_sigma_mean with its propagated error. Each segment's window is its own automatic one
    unless ``window`` is given (then the same for all). A conductivity follows from
    ``D_sigma_mean`` as for any collective D (:func:`conductivity`)."""

    n: int
    D: np.ndarray
    D_sigma: np.ndarray
    D_mean: float
    D_sem: float
    D_sigma_mean: float
    D_sigma_sem: float
    H: float
    H_err: float
    unit: str

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


def segment_average(segments, T: float, z: float = 1.0, window=None, **kw) -> SegmentAverage:
    """:func:`analyse` of each segment's MSD result, and the mean and standard error over them."""
    segs = _as_list(segments)
    if len(segs) < 2:
        raise ValueError(f"segment averaging needs at least 2 segments, got {len(segs)}")
    reps = [analyse(s, T, z, window, **kw) for s in segs]
    D = np.array([r.tracer.D for r in reps])
    Ds = np.array([r.collective.D for r in reps])

    def mean_sem(x):
        return float(np.mean(x)), float(np.std(x, ddof=1) / np.sqrt(len(x)))

    (d, de), (ds, dse) = mean_sem(D), mean_sem(Ds)
    H, H_err = _ratio(d, de, ds, dse)
    return SegmentAverage(len(segs), D, Ds, d, de, ds, dse, float(H), float(H_err), unit=reps[0].tracer.unit)

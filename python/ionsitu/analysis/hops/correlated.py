"""Correlated (concerted) hops: distance/time window with its chance level, correlation matrix.

The window is inclusive (|Δt| <= window; on a sampling grid compared in whole samples). The
window method's fraction of collective hops comes with its chance level (:func:`correlated_hops`:
each ion's hop train circularly shifted in time at random, seeded): report observed, chance and
excess together."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ...io.events import _check_events, _disp, _positive
from ...io.cell import min_image_frac as _min_image_frac


MIN_HOPS_CORRELATED = 10   # fewer hops than this: correlated_hops warns


def _cell_widths(cell) -> np.ndarray:
    """(3,) perpendicular widths of the cell (rows a, b, c): V / |b x c|, V / |c x a|, V / |a x b|
    (length); the minimum image is unique within half the smallest."""
    a, b, c = cell
    vol = abs(float(np.dot(a, np.cross(b, c))))
    return vol / np.linalg.norm([np.cross(b, c), np.cross(c, a), np.cross(a, b)], axis=1)


def _site_pairs(sf, cell, origins, r_max):
    """Site pairs (s, t, d) with s in ``origins``, t != s and minimum-image distance d <=
    ``r_max``, sorted by (s, t): candidates from :func:`ionsitu.core.close_pairs` (periodic
    cell list, any cell shape; cutoff widened by rounding), d then exactly as
    :func:`_min_image_frac` gives it."""
    from ...core import close_pairs

    origins = np.asarray(origins, dtype=np.int64)
    n = len(sf)
    r = r_max * (1 + 1e-9) + 1e-12                    # candidates only: the exact test comes last
    a, b = close_pairs(sf, np.zeros(n), np.arange(n), 0.0, r * r, cell=cell)
    s, t = np.concatenate([a, b]), np.concatenate([b, a])
    mine = np.isin(s, origins)
    s, t = s[mine], t[mine]
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    d = np.linalg.norm(_min_image_frac(sf[t] - sf[s], cell), axis=1)
    keep = d <= r_max
    return s[keep], t[keep], d[keep]


@dataclass
class ExpFit:
    """f(n) = A exp(-b n): A, b and their standard errors; n, f the fitted points."""

    A: float
    b: float
    A_err: float
    b_err: float
    n: np.ndarray
    f: np.ndarray


def fit_exponential_decay(n, f, sigma=None) -> ExpFit:
    """Least-squares fit of f(n) = A exp(-b n) (scipy curve_fit, start from a log-linear fit).

    Points with f <= 0 are dropped; at least 2 points are needed.
    """
    from scipy.optimize import curve_fit

    n = np.asarray(n, dtype=float).ravel()
    f = np.asarray(f, dtype=float).ravel()
    if n.shape != f.shape:
        raise ValueError(f"n and f differ in length: {n.shape} vs {f.shape}")
    m = f > 0
    if m.sum() < 2:
        raise ValueError(f"need at least 2 points with f > 0 to fit A exp(-b n), got {int(m.sum())}")
    slope, icpt = np.polyfit(n[m], np.log(f[m]), 1)
    p0 = (float(np.exp(icpt)), float(-slope))
    if m.sum() == 2:
        return ExpFit(A=p0[0], b=p0[1], A_err=np.nan, b_err=np.nan, n=n[m], f=f[m])
    s = None if sigma is None else np.asarray(sigma, dtype=float).ravel()[m]
    popt, pcov = curve_fit(lambda x, A, b: A * np.exp(-b * x), n[m], f[m], p0=p0, sigma=s, maxfev=10000)
    err = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(2, np.nan)
    return ExpFit(A=float(popt[0]), b=float(popt[1]), A_err=float(err[0]), b_err=float(err[1]), n=n[m], f=f[m])


def _hist_n(sizes, n_min):
    sizes = np.asarray(sizes, dtype=np.int64)
    if len(sizes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), None
    n_vals = np.arange(1, sizes.max() + 1)
    counts = np.bincount(sizes, minlength=sizes.max() + 1)[1:]
    fit = None
    m = (n_vals >= n_min) & (counts > 0)
    if m.sum() >= 2:
        fit = fit_exponential_decay(n_vals[m], counts[m] / counts.sum())
    return n_vals, counts, fit


@dataclass
class ChanceReference:
    """Chance level of the distance/time-window method (see :func:`correlated_hops`).

    The same hops with each ion's hop train circularly shifted in time by an independent
    random offset, ``n_random`` times (seed ``seed``). ``time_span`` (t_start, t_end) and
    ``time_quantum`` (0: continuous shifts) as used; ``period`` the circular period.

    fractions (R,): fraction of collective hops of each shuffled realisation;
    fraction_mean, fraction_sd (ddof=1): the chance level and its spread over realisations;
    excess = observed - fraction_mean; z = excess / fraction_sd (NaN if the sd is 0);
    p_value = (1 + #{fractions >= observed}) / (R + 1), one-sided.
    n_values (1, 2, ... n_max over observed and shuffled): ions per event; n_counts_observed,
    n_counts_mean, n_counts_sd (ddof=1), n_counts_z = (observed - mean) / sd (NaN where sd = 0):
    the histogram of ions per event (number of groups with n ions), observed vs chance."""

    n_random: int
    seed: int | None
    time_span: tuple
    time_quantum: float
    period: float
    fractions: np.ndarray
    fraction_mean: float
    fraction_sd: float
    excess: float
    z: float
    p_value: float
    n_values: np.ndarray
    n_counts_observed: np.ndarray
    n_counts_mean: np.ndarray
    n_counts_sd: np.ndarray
    n_counts_z: np.ndarray


@dataclass
class CorrelatedHops:
    """Hops grouped into collective events (distance/time-window method).

    group (n_events,) event label per hop; group_ions (g,) distinct ions per group;
    group_hops (g,) hops per group; fraction_collective: fraction of hops in groups with >= 2
    ions; n_values, n_counts: histogram of ions per group (n = 1, 2, ...); fit: A e^(-b n) of
    n_counts / n_counts.sum() over n >= n_min (None if < 2 points); chance: the randomised
    reference (:class:`ChanceReference`, None with ``n_random=0``)."""

    group: np.ndarray
    group_ions: np.ndarray
    group_hops: np.ndarray
    fraction_collective: float
    n_values: np.ndarray
    n_counts: np.ndarray
    fit: ExpFit | None
    chance: ChanceReference | None = None

    @property
    def chance_fraction(self) -> float:
        """Mean collective fraction of the shuffled realisations (NaN without a reference)."""
        return np.nan if self.chance is None else self.chance.fraction_mean

    @property
    def excess_fraction(self) -> float:
        """Observed minus chance collective fraction (NaN without a reference)."""
        return np.nan if self.chance is None else self.chance.excess


def _close_pairs(tkey, frac, pos, ion, w, rc2, cell):
    """Pairs (a, b) of hops, indices into the inputs, of different ions with |tkey_a - tkey_b|
    <= w and distance <= sqrt(rc2) (minimum image when ``cell`` is given; ``frac`` the
    fractional positions then, else ``pos``): :func:`ionsitu.core.close_pairs`, a periodic
    cell list in space (any cell shape) with each cell's hops searched in time order."""
    from ...core import close_pairs

    if cell is None:
        return close_pairs(pos, tkey, ion, float(w), rc2)
    return close_pairs(frac, tkey, ion, float(w), rc2, cell=cell)


def _groups(n, a, b, ion, n_ions):
    """Connected components of the pair graph -> (group (n,), group_ions, group_hops); groups
    numbered by their first member (index order of the input)."""
    from ...core import components

    group, ng = components(n, a, b)
    group_hops = np.bincount(group, minlength=ng)
    key = np.unique(group * n_ions + ion)
    group_ions = np.bincount(key // n_ions, minlength=ng).astype(np.int64)
    return group, group_ions, group_hops


def _time_grid(ev, time_span, time_quantum):
    """(times as the window search keys, window scale, t_start, t_end, quantum, slot info).

    Quantised times (every hop on a grid of spacing q, from ``time_quantum`` or the events'
    steps) become integer slot numbers so that the observed and the shifted times are
    compared alike; continuous times stay as they are."""
    t = ev["time"].astype(float)
    if time_span is None:
        t0, t1 = float(t.min()), float(t.max())
    else:
        t0, t1 = (float(x) for x in time_span)
        if not (np.isfinite(t0) and np.isfinite(t1) and t1 >= t0):
            raise ValueError(f"time_span must be (t_start, t_end) with t_end >= t_start, got {time_span}")
        tol = 1e-9 * max(1.0, abs(t0), abs(t1))
        if t.min() < t0 - tol or t.max() > t1 + tol:
            raise ValueError(f"hops at times {t.min():g}..{t.max():g} outside time_span ({t0:g}, {t1:g})")
    q = time_quantum
    if q is None:
        q = _detect_quantum(ev)
    q = _positive("time_quantum", q, allow_zero=True)
    if q > 0:
        rel = (t - t.min()) / q
        k = np.rint(rel)
        if np.max(np.abs(rel - k)) > 1e-6:
            raise ValueError(f"hop times are not on a grid of time_quantum {q:g}")
        k = k.astype(np.int64)
        k_lo = int(np.ceil((t0 - t.min()) / q - 1e-6))
        k_hi = int(np.floor((t1 - t.min()) / q + 1e-6))
        return k - k_lo, (t0, t1), q, k_hi - k_lo + 1
    return t - t0, (t0, t1), 0.0, None


def _detect_quantum(ev) -> float:
    """Sampling grid of the hop times from their steps: gcd of the step differences x the
    time step (when time = step x timestep holds), else 0 (continuous)."""
    st = ev["step"]
    t = ev["time"]
    if len(ev) < 2 or st.min() == st.max():
        return 0.0
    i0, i1 = int(np.argmin(st)), int(np.argmax(st))
    ts = (t[i1] - t[i0]) / float(st[i1] - st[i0])
    if not ts > 0 or not np.allclose(t, t[i0] + (st - st[i0]) * ts, rtol=1e-9, atol=1e-9 * abs(ts)):
        return 0.0
    g = int(np.gcd.reduce(np.diff(np.unique(st))))
    return g * ts


def correlated_hops(events, time_window: float, cutoff: float, cell=None, position: str = "midpoint",
                    n_min: int = 1, n_random: int = 30, seed: int | None = 0, time_span=None,
                    time_quantum: float | None = None) -> CorrelatedHops:
    """Correlated (concerted) hops by a distance and time window (de Klerk et al., ACS Appl. Energy Mater. 1 (2018) 3230), with
    their chance level.

    Two hops of DIFFERENT ions are correlated when their arrival times differ by at most
    ``time_window`` (time units) and their positions are at most ``cutoff`` apart (length;
    minimum image if ``cell`` (3, 3) is given). Position of a hop: ``"midpoint"`` (origin +
    Δr/2, the middle of the travelled vector), ``"from"`` or ``"to"``; needs the fx.. / tx..
    fields. Correlated hops are grouped transitively (connected components). Returns the
    groups, the fraction of hops that are collective, the histogram of ions per group and
    its exponential fit over n >= n_min.

    Chance reference (``chance``, :class:`ChanceReference`): uncorrelated ions also hop
    within the window and cutoff of one another by coincidence, the more so the more hops
    per time and volume; the observed fraction means nothing without it. The reference
    keeps every hop (its ion, position, displacement) and each ion's hop train (number of
    hops, their spacing in time) but shifts the train of every ion in time by an
    independent random offset, circularly over the observed span ``time_span`` = (t_start,
    t_end) (default: first to last hop; give the observation interval when known), so that
    correlations between ions are destroyed and everything of each ion is kept. It is
    repeated ``n_random`` times (generator seeded with ``seed``: the same seed gives the
    same numbers) and reports the chance fraction (mean and sd over the realisations), the
    excess = observed - chance, z = excess / sd, a one-sided p-value and the same for the
    histogram of ions per event. Hop times on a sampling grid (``time_quantum`` q, default:
    detected from the events' steps, 0 = continuous) are shifted by whole samples on a
    circle of (t_end - t_start)/q + 1 samples, and the window is compared in samples, so a
    pair exactly one window apart counts the same in the observed and the shifted data;
    continuous times are shifted on a circle of length t_end - t_start. ``n_random=0``:
    no reference. The pairs come from a cell list in space with each cell's hops in time
    order (:func:`ionsitu.core.close_pairs`), O(n log n), for 10^5 hops and more.

    Warns (``UserWarning``) where the definition cannot mean much: ``cutoff`` >= half the
    narrowest perpendicular width of ``cell`` (a 10 Å cutoff in a 15.6 Å box reaches every
    ion, and the fraction saturates at its chance level), or fewer than
    :data:`MIN_HOPS_CORRELATED` hops or 2 hopping ions.
    """
    ev = _check_events(events)
    tw = _positive("time_window", time_window, allow_zero=True)
    rc = _positive("cutoff", cutoff)
    if position not in ("midpoint", "from", "to"):
        raise ValueError(f"position must be 'midpoint', 'from' or 'to', got {position!r}")
    if int(n_random) < 0:
        raise ValueError(f"n_random must be >= 0, got {n_random}")
    n_random = int(n_random)
    n = len(ev)
    if n == 0:
        raise ValueError("no events")
    fpos = np.stack([ev["fx"], ev["fy"], ev["fz"]], axis=1)
    tpos = np.stack([ev["tx"], ev["ty"], ev["tz"]], axis=1)
    pos = {"midpoint": fpos + 0.5 * _disp(ev), "from": fpos, "to": tpos}[position]
    if not np.all(np.isfinite(pos)):
        raise ValueError(f"events lack the positions needed for position={position!r} (NaN in fx/fy/fz or tx/ty/tz)")
    c = frac = None
    if cell is not None:
        c = np.asarray(cell, dtype=float)
        if c.shape != (3, 3):
            raise ValueError(f"cell must be (3, 3) rows a, b, c; got shape {c.shape}")
        frac = pos @ np.linalg.inv(c)
        half = 0.5 * _cell_widths(c).min()
        if rc >= half:
            warnings.warn(f"correlated hops: cutoff {rc:g} >= half the narrowest cell width ({half:g}); the distance "
                          "criterion no longer selects neighbours (every periodic image is within reach), so the "
                          "fraction approaches its chance level", UserWarning, stacklevel=2)
    n_movers = len(np.unique(ev["atom_id"]))
    if n < MIN_HOPS_CORRELATED or n_movers < 2:
        warnings.warn(f"correlated hops: {n} hops of {n_movers} ions (fewer than {MIN_HOPS_CORRELATED} hops or "
                      "2 ions); the collective fraction means little", UserWarning, stacklevel=2)
    tkey, span, q, nslots = _time_grid(ev, time_span, time_quantum)
    if q > 0:
        w = int(np.floor(tw / q + 1e-9))
    else:  # inclusive window, robust to rounding of the times (e.g. step * dt)
        w = tw * (1 + 1e-9) + 8 * np.finfo(float).eps * float(np.abs(ev["time"]).max())
    uid, ion = np.unique(ev["atom_id"], return_inverse=True)
    ion = np.asarray(ion, dtype=np.int64).ravel()
    m = len(uid)
    rc2 = rc * rc

    def analyse(keys):
        a, b = _close_pairs(keys, frac, pos, ion, w, rc2, c)
        return _groups(n, a, b, ion, m)

    group, group_ions, group_hops = analyse(tkey)
    fraction = float((group_ions[group] >= 2).mean())
    n_values, n_counts, fit = _hist_n(group_ions, n_min)
    res = CorrelatedHops(group=group, group_ions=group_ions, group_hops=group_hops, fraction_collective=fraction,
                         n_values=n_values, n_counts=n_counts, fit=fit)
    if n_random == 0:
        return res
    rng = np.random.default_rng(seed)
    period = nslots * q if q > 0 else span[1] - span[0]
    fr = np.empty(n_random)
    hists = []
    for r in range(n_random):
        if q > 0:
            keys = (tkey + rng.integers(0, nslots, size=m)[ion]) % nslots
        else:
            keys = np.mod(tkey + (rng.random(m) * period)[ion], period) if period > 0 else tkey
        g, gi, _ = analyse(keys)
        fr[r] = (gi[g] >= 2).mean()
        hists.append(np.bincount(gi, minlength=2)[1:])
    nmax = max(len(n_counts), max(len(h) for h in hists))
    H = np.zeros((n_random, nmax))
    for r, h in enumerate(hists):
        H[r, :len(h)] = h
    obs = np.zeros(nmax)
    obs[:len(n_counts)] = n_counts
    sd = float(fr.std(ddof=1)) if n_random > 1 else np.nan
    hsd = H.std(axis=0, ddof=1) if n_random > 1 else np.full(nmax, np.nan)
    mean = float(fr.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        hz = np.where(hsd > 0, (obs - H.mean(axis=0)) / np.where(hsd > 0, hsd, 1.0), np.nan)
    res.chance = ChanceReference(
        n_random=n_random, seed=seed, time_span=span, time_quantum=q, period=float(period), fractions=fr,
        fraction_mean=mean, fraction_sd=sd, excess=fraction - mean,
        z=(fraction - mean) / sd if sd > 0 else np.nan,
        p_value=float((1 + np.sum(fr >= fraction - 1e-12)) / (n_random + 1)),
        n_values=np.arange(1, nmax + 1), n_counts_observed=obs.astype(np.int64), n_counts_mean=H.mean(axis=0),
        n_counts_sd=hsd, n_counts_z=hz)
    return res


def log_time_grid(meta) -> tuple[tuple[float, float], float]:
    """Observation interval (step_first x dt, step_last x dt) and sampling interval nevery x dt
    (time units) of an event log's meta (:func:`read_events`): the ``time_span`` and
    ``time_quantum`` of the chance reference of :func:`correlated_hops`."""
    dt = float(meta["dt"])
    return (int(meta["step_first"]) * dt, int(meta["step_last"]) * dt), int(meta["nevery"]) * dt


def correlated_hops_of_log(events, meta, time_window: float, cutoff: float, cell=None, n_random: int = 30,
                           seed: int | None = 0, **kw) -> CorrelatedHops:
    """:func:`correlated_hops` of the events of one event log, the chance reference over the
    log's observation interval on its sampling grid (:func:`log_time_grid`; the steps' own
    grid if the hops are not on it). ``cell``: default the log's (last) cell."""
    if cell is None and meta.get("cell"):
        cell = np.array(meta["cell"], dtype=float).reshape(3, 3)
    span, q = log_time_grid(meta)
    try:
        return correlated_hops(events, time_window, cutoff, cell=cell, n_random=n_random, seed=seed, time_span=span,
                               time_quantum=q, **kw)
    except ValueError as err:
        if "not on a grid" not in str(err):
            raise
        return correlated_hops(events, time_window, cutoff, cell=cell, n_random=n_random, seed=seed, time_span=span,
                               **kw)


@dataclass
class CorrelationGroups:
    """Correlation-matrix method (:func:`correlation_matrix_method`). atom_ids (N,); matrix
    (N, N) Pearson correlation of the smoothed hop series; reference (N, N) the element-wise
    threshold from the randomly placed hops (the ``quantile`` over the ``n_random``
    realisations of each pair's coefficient; with one realisation, that realisation);
    correlated (N, N) bool, matrix > reference off the diagonal; group (N,) label of each
    ion's connected group (-1: correlated with no one); sizes (g,) ions per group (>= 2);
    n_values, n_counts: histogram of group sizes (n = 1, 2, ...; n = 1 counts the ions
    correlated with no one); fit: A e^(-b n) of the size distribution over n >= n_min;
    n_mean, n_sd (ddof=1): mean number of concerted ions over the groups and its spread
    (NaN without groups / with one); fwhm (time units) of the Gaussian smoothing;
    n_random, quantile as used; expected_false_pairs: N(N-1)/2 x (1 - quantile), or
    N(N-1)/2 / (n_random + 1) at quantile 1: pairs above their reference by chance."""

    atom_ids: np.ndarray
    matrix: np.ndarray
    reference: np.ndarray
    correlated: np.ndarray
    group: np.ndarray
    sizes: np.ndarray
    n_values: np.ndarray
    n_counts: np.ndarray
    fit: ExpFit | None
    n_mean: float
    n_sd: float
    fwhm: float
    n_random: int
    quantile: float
    expected_false_pairs: float


def _hop_series(starts, ends, t0, dt, nT):
    """Binary (nT,) series: 1 at grid points within any [start, end] interval (>= one point)."""
    s = np.zeros(nT)
    i0 = np.clip(np.floor((starts - t0) / dt + 1e-9).astype(np.int64), 0, nT - 1)
    i1 = np.clip(np.floor((ends - t0) / dt + 1e-9).astype(np.int64), 0, nT - 1)
    diff = np.zeros(nT + 1)
    np.add.at(diff, i0, 1)
    np.add.at(diff, np.maximum(i1, i0) + 1, -1)
    s[:] = np.cumsum(diff)[:nT] > 0
    return s


def _corr(X):
    Xc = X - X.mean(axis=1, keepdims=True)
    nrm = np.sqrt(np.sum(Xc * Xc, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        C = (Xc @ Xc.T) / np.outer(nrm, nrm)
    C[~np.isfinite(C)] = 0.0
    return C


def correlation_matrix_method(events, atom_ids, t_start: float, t_end: float, dt: float,
                              fwhm: float | None = None, n_random: int = 100, quantile: float = 1.0,
                              seed: int = 0, n_min: int = 2) -> CorrelationGroups:
    """Concerted hops by the correlation-matrix method of López, Rurali & Cazorla,
    J. Am. Chem. Soc. 146, 8269 (2024) (IonDiff).

    Per ion (``atom_ids``, N) a 0/1 series on the grid t_start, t_start+dt, ... < t_end
    (time units): 1 while hopping (from the last sample on the origin, time - duration, to
    the arrival time; at least one grid point per hop), 0 while vibrating. Each series is
    smoothed with a Gaussian of full width at half maximum ``fwhm`` (default: the mean hop
    duration, at least dt; σ = FWHM / (2 sqrt(2 ln 2))), and the N x N Pearson correlation
    matrix C is formed. Reference: the same ions with the same hops (number and durations)
    placed at uniformly random times (seeded), ``n_random`` times; the reference of each
    pair (i, j) is the ``quantile`` of its own coefficients over those realisations
    (element-wise: no global threshold; ``n_random=1``: the single random matrix of the
    study, compared entry by entry). Pair (i, j) is correlated when C_ij exceeds its
    reference; an uncorrelated pair does so with probability about 1 - ``quantile`` (at
    ``quantile=1``, the maximum: 1/(n_random + 1)), so that N(N-1)/2 pairs give about
    ``expected_false_pairs`` spurious ones: raise ``n_random`` with the number of ions; connected groups of correlated ions give the number of concerted ions n
    (n >= 2; an ion correlated with no one is a group of n = 1); the distribution
    f(n) = groups of n ions / all groups is fitted by A e^(-b n) over n >= ``n_min`` (2:
    single ions are not concerted), and the mean n of the concerted groups (n >= 2) is
    reported with its standard deviation.

    Warns (``UserWarning``) when fewer than 2 ions hop (no pair can be concerted) or an
    ion's hops cover the whole grid (its series is constant and correlates with nothing).
    """

    from scipy.ndimage import gaussian_filter1d
    from scipy.sparse.csgraph import connected_components

    ev = _check_events(events)
    ids = np.asarray(atom_ids, dtype=np.int64).ravel()
    if len(ids) < 2:
        raise ValueError(f"need at least 2 ions, got {len(ids)}")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("atom_ids contains duplicates")
    dt = _positive("dt", dt)
    if not (np.isfinite(t_start) and np.isfinite(t_end) and t_end > t_start):
        raise ValueError(f"need t_end > t_start, got t_start={t_start}, t_end={t_end}")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    if int(n_random) < 1:
        raise ValueError(f"n_random must be >= 1, got {n_random}")
    if int(n_min) < 1:
        raise ValueError(f"n_min must be >= 1, got {n_min}")
    unknown = np.setdiff1d(np.unique(ev["atom_id"]), ids)
    if len(unknown):
        raise ValueError(f"events of atoms not in atom_ids: {unknown[:10].tolist()}")
    nT = int(np.floor((t_end - t_start) / dt + 1e-9))
    if nT < 3:
        raise ValueError(f"grid too short: {nT} points from t_start={t_start}, t_end={t_end}, dt={dt}")
    dur = np.nan_to_num(ev["duration"], nan=0.0)
    if np.any(dur < 0):
        raise ValueError(f"negative hop durations: {dur[dur < 0][:5]}")
    n_hopping = len(np.unique(ev["atom_id"]))
    if n_hopping < 2:
        warnings.warn(f"correlation-matrix method: only {n_hopping} of {len(ids)} ions hop; no pair can be "
                      "concerted", UserWarning, stacklevel=2)
    if fwhm is None:
        fwhm = max(float(dur.mean()) if len(dur) else dt, dt)
    fwhm = _positive("fwhm", fwhm)
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2))) / dt
    col = {int(a): j for j, a in enumerate(ids)}
    per_ion = [[] for _ in ids]
    for i, a in enumerate(ev["atom_id"].tolist()):
        per_ion[col[a]].append(i)

    def matrix(starts_of, ends_of):
        X = np.zeros((len(ids), nT))
        for j in range(len(ids)):
            if len(starts_of[j]):
                X[j] = gaussian_filter1d(_hop_series(starts_of[j], ends_of[j], t_start, dt, nT), sigma, mode="constant")
        return X, _corr(X)

    ends = [ev["time"][np.array(ix, dtype=np.int64)] for ix in per_ion]
    starts = [e - dur[np.array(ix, dtype=np.int64)] for e, ix in zip(ends, per_ion)]
    X, C = matrix(starts, ends)
    flat = [int(a) for j, a in enumerate(ids) if len(per_ion[j]) and np.ptp(X[j]) == 0]
    if flat:
        warnings.warn(f"correlation-matrix method: the hop series of atoms {flat[:10]} is constant over the grid "
                      "(hopping throughout); they correlate with no one", UserWarning, stacklevel=2)
    rng = np.random.default_rng(seed)
    span = t_end - t_start
    # quantile 1 (the maximum) is kept as a running maximum: N x N memory, not n_random x N x N
    running_max = quantile == 1 or int(n_random) == 1
    R = None if running_max else np.empty((int(n_random),) + C.shape)
    ref = None
    for r in range(int(n_random)):
        rs, re = [], []
        for j in range(len(ids)):
            d = dur[np.array(per_ion[j], dtype=np.int64)]
            st = t_start + rng.random(len(d)) * np.maximum(span - d, 0.0)
            rs.append(st)
            re.append(st + d)
        Cr = matrix(rs, re)[1]
        if running_max:
            ref = Cr if ref is None else np.maximum(ref, Cr)
        else:
            R[r] = Cr
    if not running_max:
        ref = np.quantile(R, quantile, axis=0)
    corr = C > ref
    np.fill_diagonal(corr, False)
    ncomp, lab = connected_components(corr.astype(np.int8), directed=False)
    sizes_all = np.bincount(lab, minlength=ncomp)
    multi = np.flatnonzero(sizes_all >= 2)            # components in order of their first ion
    remap = np.full(ncomp, -1, dtype=np.int64)
    remap[multi] = np.arange(len(multi))
    group = remap[lab]
    sizes = sizes_all[multi].astype(np.int64)
    n_values, n_counts, fit = _hist_n(np.r_[sizes, np.ones(int(np.sum(group < 0)), np.int64)], n_min)
    n_mean = float(sizes.mean()) if len(sizes) else np.nan
    n_sd = float(sizes.std(ddof=1)) if len(sizes) > 1 else np.nan
    n_pairs = len(ids) * (len(ids) - 1) / 2
    return CorrelationGroups(atom_ids=ids, matrix=C, reference=ref, correlated=corr, group=group, sizes=sizes,
                             n_values=n_values, n_counts=n_counts, fit=fit, n_mean=n_mean, n_sd=n_sd,
                             fwhm=float(fwhm), n_random=int(n_random), quantile=float(quantile),
                             expected_false_pairs=n_pairs * (1 / (n_random + 1) if quantile == 1 else 1 - quantile))

"""Residence times, site trajectories, the residence autocorrelation and the Chudley–Elliott length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.events import _by_atom, _check_events, _positive, _vec


@dataclass
class ResidenceStats:
    """Residence times per origin site (time units): site (k,), count, mean, std (k,),
    values {site: array}; all_values: every residence time used."""

    site: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    values: dict
    all_values: np.ndarray


def residence_times(events, include_censored: bool = False) -> ResidenceStats:
    """Residence time on the origin site of every hop (arrival to arrival), per site.

    Censored residences (ion already on the origin at the start; their true length is
    unknown and the recorded one too short) are left out unless ``include_censored``.
    """
    ev = _check_events(events)
    keep = np.isfinite(ev["residence"])
    if not include_censored:
        keep &= ~ev["censored"]
    ev = ev[keep]
    if np.any(ev["residence"] < 0):
        bad = ev["residence"][ev["residence"] < 0]
        raise ValueError(f"negative residence times in events: {bad[:5]}")
    sites = np.unique(ev["from_site"])
    values = {int(s): ev["residence"][ev["from_site"] == s] for s in sites}
    return ResidenceStats(
        site=sites,
        count=np.array([len(values[int(s)]) for s in sites], dtype=np.int64),
        mean=np.array([values[int(s)].mean() for s in sites]),
        std=np.array([values[int(s)].std(ddof=1) if len(values[int(s)]) > 1 else np.nan for s in sites]),
        values=values,
        all_values=ev["residence"].copy(),
    )


@dataclass
class ResidenceVsVolume:
    """Per site with a volume and at least one (uncensored) residence: site (k,), volume (k,)
    (length³), residence_mean (k,) (time units), count (k,) residences; spearman_rho,
    spearman_p (rank correlation of residence with volume and its two-sided p-value) and
    pearson_r (NaN with fewer than 3 sites)."""

    site: np.ndarray
    volume: np.ndarray
    residence_mean: np.ndarray
    count: np.ndarray
    spearman_rho: float
    spearman_p: float
    pearson_r: float


def residence_vs_volume(events, volume, include_censored: bool = False) -> ResidenceVsVolume:
    """Mean residence time of each site against its accessible volume.

    ``volume`` (n_sites,) per site index (length³; NaN: unknown, left out), e.g.
    :func:`ionsitu.analysis.sites.site_volumes`; residences as :func:`residence_times`.
    Returns the sites with both, and their rank (Spearman) and linear (Pearson)
    correlation: a larger accessible volume holding the ion longer gives rho > 0.
    """
    from scipy.stats import pearsonr, spearmanr

    r = residence_times(events, include_censored)
    vol = np.asarray(volume, dtype=float).ravel()
    if len(r.site) and r.site.max() >= len(vol):
        raise ValueError(f"site index {int(r.site.max())} in the events >= len(volume) {len(vol)}")
    keep = np.isfinite(vol[r.site]) if len(r.site) else np.zeros(0, bool)
    site, res, cnt = r.site[keep], r.mean[keep], r.count[keep]
    v = vol[site]
    rho = p = pr = np.nan
    if len(site) >= 3 and np.ptp(v) > 0 and np.ptp(res) > 0:
        rho, p = (float(x) for x in spearmanr(v, res))
        pr = float(pearsonr(v, res)[0])
    return ResidenceVsVolume(site=site, volume=v, residence_mean=res, count=cnt, spearman_rho=rho, spearman_p=p,
                             pearson_r=pr)


def residence_time_distribution(events, bins=50, site=None, include_censored: bool = False):
    """Normalised histogram (probability density, 1/time) of residence times.

    ``site``: only hops leaving that site. Returns (density (nb,), edges (nb+1,)).
    """
    r = residence_times(events, include_censored)
    vals = r.all_values if site is None else r.values.get(int(site))
    if vals is None or len(vals) == 0:
        raise ValueError(f"no residence times{'' if site is None else f' for site {site}'}")
    return np.histogram(vals, bins=bins, density=True)


def site_trajectory(events, atom_ids, times, initial_sites=None) -> np.ndarray:
    """Site occupied by each ion at each time, reconstructed from its hops.

    ``atom_ids`` (N,), ``times`` (T,) sample times (time units). Site at time t = to_site of
    the ion's last hop with arrival time <= t; before its first hop, ``initial_sites`` (N,)
    if given, else the from_site of its first hop (-1 for an ion that never hopped and has
    no initial site). Returns (T, N) int64.
    """
    ev = _check_events(events)
    ids = np.asarray(atom_ids, dtype=np.int64).ravel()
    times = np.asarray(times, dtype=float).ravel()
    if len(np.unique(ids)) != len(ids):
        raise ValueError("atom_ids contains duplicates")
    unknown = np.setdiff1d(np.unique(ev["atom_id"]), ids)
    if len(unknown):
        raise ValueError(f"events of atoms not in atom_ids: {unknown[:10].tolist()}")
    init = None if initial_sites is None else _vec("initial_sites", initial_sites, len(ids), np.int64)
    out = np.empty((len(times), len(ids)), dtype=np.int64)
    col = {int(a): j for j, a in enumerate(ids)}
    out[:] = -1 if init is None else init[None, :]
    for idx in _by_atom(ev):
        j = col[int(ev["atom_id"][idx[0]])]
        if init is None:
            out[:, j] = ev["from_site"][idx[0]]
        k = np.searchsorted(ev["time"][idx], times, side="right")  # hops arrived by t
        has = k > 0
        out[has, j] = ev["to_site"][idx][k[has] - 1]
    return out


@dataclass
class ResidenceACF:
    """lag (L,) time; c (L,) residence autocorrelation; T = 2 ∫c dτ (time units);
    integral = ∫c dτ; kind: "continuous" or "intermittent"."""

    lag: np.ndarray
    c: np.ndarray
    T: float
    integral: float
    kind: str = "continuous"

    def chudley_elliott_length(self, D: float, dim: int = 3) -> float:
        """Chudley–Elliott jump length l = sqrt(2 d D T) from this residence time T
        (:func:`chudley_elliott_length`); D: tracer diffusion coefficient (length²/time)."""
        return chudley_elliott_length(D, self.T, dim)


def residence_autocorrelation(site_traj, dt: float, max_lag: int | None = None,
                              kind: str = "continuous") -> ResidenceACF:
    """Residence autocorrelation c(τ), continuous or intermittent, and T = 2∫c(τ)dτ.

    ``site_traj`` (T, N) int: label of each ion per sample, ``dt`` apart: its site (-1: on
    no site), or the id of its nearest neighbour (:func:`nearest_neighbour_trajectory`,
    "staying next to the same Li neighbour"). β_i(t) = 1 while ion i holds the label it had
    at the time origin.

    - ``kind="continuous"``: β stays 1 only while the ion holds the label without
      interruption, so c(τ) is the probability that an ion on a site at t has not left it
      by t+τ; c(0) = 1. Counted exactly from run lengths L of consecutive samples with one
      label: c(τ) = Σ max(L - τ, 0) / Σ L (runs cut by the ends of the record are included,
      which biases c slightly low at long lags).
    - ``kind="intermittent"``: β(t+τ) = 1 whenever the ion holds the same label at t+τ as
      at t, whatever happened in between (returns count):
      c(τ) = Σ_i Σ_t [s_i(t) >= 0, s_i(t+τ) = s_i(t)] / Σ_i Σ_t [s_i(t) >= 0], both sums
      over the origins t < n_samples - τ; c(0) = 1.

    Residence time T = 2∫c(τ)dτ (for c = exp(-τ/τ0) the integral is τ0), trapezoid rule
    up to ``max_lag`` samples (default n_samples - 1); the Chudley–Elliott length from it:
    :meth:`ResidenceACF.chudley_elliott_length`.
    """
    s = np.asarray(site_traj)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] < 2:
        raise ValueError(f"site_traj must be (n_samples >= 2, n_ions), got shape {s.shape}")
    if kind not in ("continuous", "intermittent"):
        raise ValueError(f"kind must be 'continuous' or 'intermittent', got {kind!r}")
    dt = _positive("dt", dt)
    nT = s.shape[0]
    L = nT - 1 if max_lag is None else int(max_lag)
    if not 1 <= L <= nT - 1:
        raise ValueError(f"max_lag must be in [1, {nT - 1}], got {max_lag}")
    if not np.any(s >= 0):
        raise ValueError("no samples on any site (site_traj is all -1)")
    tau = np.arange(L + 1)
    if kind == "intermittent":
        on = s >= 0
        c = np.empty(L + 1)
        for k in tau:
            origin = on[:nT - k]
            c[k] = np.count_nonzero(origin & (s[k:] == s[:nT - k])) / max(np.count_nonzero(origin), 1)
    else:
        runs = []
        for j in range(s.shape[1]):
            col = s[:, j]
            change = np.flatnonzero(np.diff(col)) + 1
            starts = np.r_[0, change]
            lens = np.diff(np.r_[starts, nT])
            runs.append(lens[col[starts] >= 0])
        runs = np.concatenate(runs)
        hist = np.bincount(runs, minlength=nT + 1).astype(float)  # number of runs of each length
        lengths = np.arange(len(hist))
        # Σ_runs max(L - τ, 0) for every τ
        c = np.array([np.sum(hist[lengths > k] * (lengths[lengths > k] - k)) for k in tau]) / runs.sum()
    integral = float(np.trapezoid(c, dx=dt)) if hasattr(np, "trapezoid") else float(np.trapz(c, dx=dt))
    return ResidenceACF(lag=tau * dt, c=c, T=2 * integral, integral=integral, kind=kind)


def nearest_neighbour_trajectory(positions, cell, atom_ids=None) -> np.ndarray:
    """Nearest other mobile ion of each ion per sample: (T, N) int.

    ``positions`` (T, N, 3) Cartesian (length), ``cell`` (3, 3) rows a, b, c (one cell, or
    (T, 3, 3) per sample); distances by the minimum image (:func:`ionsitu.io.cell.min_image_frac`).
    Entries are ``atom_ids`` (N,) of the neighbour (default the column index 0..N-1). Its
    :func:`residence_autocorrelation` is that of "staying next to the same Li neighbour".
    O(T N²) memory per sample: for the tens to hundreds of mobile ions of a cell.
    """
    from ...io.cell import min_image_frac

    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[1] < 2:
        raise ValueError(f"positions must be (n_samples, n_ions >= 2, 3), got shape {pos.shape}")
    cells = np.asarray(cell, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (len(pos), 3, 3))
    if cells.shape != (len(pos), 3, 3):
        raise ValueError(f"cell must be (3, 3) or ({len(pos)}, 3, 3), got shape {cells.shape}")
    n = pos.shape[1]
    ids = np.arange(n) if atom_ids is None else _vec("atom_ids", atom_ids, n, np.int64)
    out = np.empty(pos.shape[:2], dtype=np.int64)
    for t in range(len(pos)):
        inv = np.linalg.inv(cells[t])
        d = min_image_frac((pos[t][None, :, :] - pos[t][:, None, :]) @ inv, cells[t])
        r2 = np.sum(d * d, axis=2)
        np.fill_diagonal(r2, np.inf)
        out[t] = ids[np.argmin(r2, axis=1)]
    return out


def chudley_elliott_length(D, tau, dim: int = 3) -> float:
    """Chudley–Elliott jump length l = sqrt(2 d D τ) (= sqrt(6 D τ) in 3D).

    D: tracer diffusion coefficient (length²/time), τ: residence time (time units)."""
    D = _positive("D", D, allow_zero=True)
    tau = _positive("tau", tau, allow_zero=True)
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    return float(np.sqrt(2 * dim * D * tau))

"""Site-free hop detection by unsupervised clustering (the IonDiff method), offline.

López, Rurali, Cazorla, "How concerted are ionic hops in inorganic solid-state
electrolytes?", J. Am. Chem. Soc. 146, 8269 (2024), and its code IonDiff 1.6
(github.com/IonRepo/IonDiff). Definitions, defaults and the differences from IonDiff are
in docs/hops_sitefree.md. Per mobile ion, on its unwrapped trajectory r(t):

1. k-means clustering of the positions {r(t)} (time plays no part) for K = 2 ..
   ``max_clusters``; K is the one with the largest mean silhouette
   S = <(b_i - a_i) / max(a_i, b_i)> (a_i: mean distance of sample i to the other members
   of its cluster, b_i: smallest mean distance to the members of another cluster), and
   K = 1 (no hop) when that largest S is below ``silhouette_threshold`` (0.7);
2. a hop is a change of cluster between consecutive frames, c -> c + 1;
3. its path: "vibrating" frames are those within ``distance_threshold`` (0.4 length units,
   IonDiff's default, Å there) of their cluster's centre; the path starts at the first
   and last frame of the excursion outside both spheres around the change (the run of
   non-vibrating frames holding frame c or c + 1; empty for a jump between two vibrating
   frames); IonDiff's literal rule with ``iondiff_path_start=True``. Changes whose paths
   coincide (an ion flickering across the boundary during one excursion) are one hop,
   as in IonDiff.

The events are an :data:`ionsitu.io.events.EVENT_DTYPE` table (:func:`make_events`):
from_site / to_site are the ion's own cluster indices (0 = the cluster it starts in,
numbered by first visit; not comparable between ions), time = first frame in the
destination cluster, displacement = centre(to) - centre(from), fx.. / tx.. the two
centres, duration = last frame before the path to first frame after it, residence =
arrival (time) to arrival,
censored for each ion's first hop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...io.events import make_events

__all__ = ["SiteFreeHops", "detect_hops", "kmeans_batch", "silhouette_batch", "DEFAULT_SILHOUETTE_THRESHOLD",
           "DEFAULT_DISTANCE_THRESHOLD", "DEFAULT_MAX_CLUSTERS"]

#: IonDiff 1.6 defaults (cli.py identify_diffusion: --silhouette_thd, --distance_thd, --n_attempts)
DEFAULT_SILHOUETTE_THRESHOLD = 0.7
DEFAULT_DISTANCE_THRESHOLD = 0.4
DEFAULT_MAX_CLUSTERS = 10


@dataclass
class SiteFreeHops:
    """Result of :func:`detect_hops` (lengths and times in the units of the input).

    events: EVENT_DTYPE table, one row per hop (see the module docstring).
    n_clusters: (N,) K chosen per ion (1 = no hop). silhouette: (N, max_clusters - 1) mean
    silhouette for K = 2 .. max_clusters (NaN where K exceeded the distinct samples).
    labels: (T, N) cluster of every frame (numbered by first visit). centres: list of
    (K_i, 3) arrays per ion. path_start / path_end: (n_hops,) frame indices of each hop's
    path, aligned with ``events`` (path_start = path_end + 1: empty path, a jump between two
    vibrating frames); path_open: the path reaches the last frame (IonDiff writes -1
    there). path_length: |r(path_end + 1) - r(path_start - 1)| (IonDiff's "length of
    diffusion" over the frames around the path). returns: the hop's destination cluster is its origin (flicker kept as a
    hop, as IonDiff does). from_kind / to_kind: "lattice" / "interstitial" per hop when
    reference sites were given, else None. descriptors: see :func:`detect_hops`.
    sample_frames: the frames used for clustering.
    """

    events: np.ndarray
    n_clusters: np.ndarray
    silhouette: np.ndarray
    labels: np.ndarray
    centres: list
    path_start: np.ndarray
    path_end: np.ndarray
    path_open: np.ndarray
    path_length: np.ndarray
    returns: np.ndarray
    descriptors: dict
    sample_frames: np.ndarray
    from_kind: np.ndarray | None = None
    to_kind: np.ndarray | None = None
    params: dict = field(default_factory=dict)


def _cell_matrix(cell):
    c = np.asarray(cell, dtype=float)
    if c.shape == (3,):
        c = np.diag(c)
    if c.shape != (3, 3) or not np.all(np.isfinite(c)) or abs(np.linalg.det(c)) < 1e-12:
        raise ValueError(f"cell must be 3 box lengths or a 3x3 matrix of box vectors (rows), got {cell!r}")
    return c


def kmeans_batch(x, k, *, n_init=10, max_iter=300, tol=1e-4, rng=None):
    """Lloyd k-means of B independent point sets at once.

    x: (B, S, d). Initial centres: k distinct samples drawn at random (seeded ``rng``),
    ``n_init`` times; the run with the smallest inertia is kept. A run stops when its
    squared centre shift is below ``tol`` x the mean per-coordinate variance of its set
    (the scikit-learn criterion) or after ``max_iter`` iterations. An empty cluster keeps
    its centre. Returns (labels (B, S) int, centres (B, k, d), inertia (B,)).
    """
    x = np.asarray(x, dtype=float)
    B, S, d = x.shape
    if not 1 <= k <= S:
        raise ValueError(f"k must be in 1..{S} (the number of samples), got {k}")
    rng = np.random.default_rng(0) if rng is None else rng
    mu = x.mean(axis=1, keepdims=True)
    x = x - mu                                                             # centred: less cancellation
    R = B * n_init
    xr = np.repeat(x, n_init, axis=0)                                      # (R, S, d)
    init = np.argsort(rng.random((R, S)), axis=1)[:, :k]                   # k distinct samples
    c = np.take_along_axis(xr, init[:, :, None], axis=1)
    thr = np.repeat(tol * x.var(axis=1).mean(axis=1), n_init)              # (R,)
    x2 = np.einsum("bsd,bsd->bs", xr, xr)
    lab = np.zeros((R, S), dtype=np.int64)
    active = np.arange(R)
    for _ in range(max_iter):
        xa, ca = xr[active], c[active]
        d2 = np.einsum("bkd,bkd->bk", ca, ca)[:, None, :] - 2 * np.matmul(xa, ca.transpose(0, 2, 1))
        la = np.argmin(d2, axis=2)
        lab[active] = la
        flat = (la + k * np.arange(len(active))[:, None]).ravel()
        cnt = np.bincount(flat, minlength=len(active) * k).reshape(-1, k)
        new = np.stack([np.bincount(flat, weights=xa[:, :, j].ravel(), minlength=len(active) * k)
                        for j in range(d)], axis=-1).reshape(-1, k, d)
        new = np.where(cnt[:, :, None] > 0, new / np.maximum(cnt, 1)[:, :, None], ca)
        shift = ((new - ca) ** 2).sum(axis=(1, 2))
        c[active] = new
        active = active[shift > thr[active]]
        if not len(active):
            break
    d2 = x2[:, :, None] - 2 * np.matmul(xr, c.transpose(0, 2, 1)) + np.einsum("bkd,bkd->bk", c, c)[:, None, :]
    lab = np.argmin(d2, axis=2)
    inertia = np.maximum(np.take_along_axis(d2, lab[:, :, None], axis=2)[:, :, 0], 0).sum(axis=1)
    best = np.argmin(inertia.reshape(B, n_init), axis=1) + np.arange(B) * n_init
    return lab[best], c[best] + mu, inertia[best]


def silhouette_batch(dist, labels, k):
    """Mean silhouette of B labelled point sets (Rousseeuw 1987, scikit-learn's conventions).

    dist: (B, S, S) pairwise distances; labels: (B, S) in 0..k-1. s_i = (b_i - a_i) /
    max(a_i, b_i), s_i = 0 for a sample alone in its cluster; empty clusters are ignored.
    Returns (B,) mean s; NaN where fewer than 2 clusters are occupied.
    """
    onehot = (labels[:, :, None] == np.arange(k)).astype(float)            # (B, S, k)
    cnt = onehot.sum(axis=1)                                               # (B, k)
    sums = np.matmul(dist, onehot)                                         # (B, S, k)
    own = np.take_along_axis(cnt, labels, axis=1)                          # (B, S)
    a = np.take_along_axis(sums, labels[:, :, None], axis=2)[:, :, 0] / np.maximum(own - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_other = sums / cnt[:, None, :]
    mean_other[np.broadcast_to(cnt[:, None, :] == 0, mean_other.shape)] = np.inf
    np.put_along_axis(mean_other, labels[:, :, None], np.inf, axis=2)
    b = mean_other.min(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    s = np.where(np.isfinite(s), s, 0.0)
    out = s.mean(axis=1)
    out[(cnt > 0).sum(axis=1) < 2] = np.nan
    return out


def _run_bounds(flag):
    """For a (T, N) bool array: first and last frame of the run of equal values holding each frame."""
    T = flag.shape[0]
    t = np.arange(T)[:, None]
    flip = np.zeros_like(flag)
    flip[1:] = flag[1:] != flag[:-1]                                       # a run starts at t
    start = np.maximum.accumulate(np.where(flip, t, 0), axis=0)
    endflip = np.zeros_like(flag)
    endflip[:-1] = flip[1:]                                                # a run ends at t
    end = np.minimum.accumulate(np.where(endflip, t, T - 1)[::-1], axis=0)[::-1]
    return start, end


def _stats(v):
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n": 0, "mean": np.nan, "sd": np.nan, "min": np.nan, "max": np.nan}
    return {"n": int(v.size), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else np.nan,
            "min": float(v.min()), "max": float(v.max())}


def detect_hops(positions, times, cell=None, *, atom_ids=None, steps=None,
                silhouette_threshold=DEFAULT_SILHOUETTE_THRESHOLD, max_clusters=DEFAULT_MAX_CLUSTERS,
                distance_threshold=DEFAULT_DISTANCE_THRESHOLD, n_init=10, max_iter=300, tol=1e-4,
                max_samples=500, seed=0, reference_sites=None, lattice_tolerance=1.0,
                iondiff_path_start=False, memory_mb=256) -> SiteFreeHops:
    """Site-free hops of every ion by k-means + silhouette (IonDiff's method).

    positions: (T, N, 3) positions of the N mobile ions at T frames (length units);
    unwrapped unless ``cell`` is given, then wrapped positions are unwrapped by the
    minimum image of frame-to-frame moves (cell: 3 lengths or 3x3 box vectors as rows).
    times: (T,) increasing frame times (time units). atom_ids: (N,) ids (default 0..N-1);
    steps: (T,) MD steps of the frames (optional, for the events' step column).

    Clustering uses at most ``max_samples`` frames per ion, evenly spaced (all frames when
    T <= max_samples, as IonDiff always does): the silhouette costs O(S²) per ion. All
    frames are then assigned to the nearest centre and the centres recomputed as the
    means of their frames. ``seed``: the random k-means initialisations (``n_init`` per K).
    ``memory_mb``: bound on the work arrays (ions are processed in chunks).

    iondiff_path_start: path ends as IonDiff 1.6 computes them (start: the run of equal
    vibrating state holding frame c - 1, end: the run holding frame c); default: the
    excursion outside both spheres (see the module docstring and docs/hops_sitefree.md).

    reference_sites: (M, 3) lattice positions (optional): a cluster centre farther than
    ``lattice_tolerance`` from every one (minimum image with ``cell``) is "interstitial",
    else "lattice" (the rule of IonDiff's residence analysis, 1 Å there).

    descriptors (dict of {"n", "mean", "sd", "min", "max"}): "dr" hop length |Δr| between
    centres, "path_length" |r(after) - r(before)| over the path, "dt" hop duration (last
    frame before the path to the first after it), "nu" hop frequency per
    ion (hops / observed time, 1/time), "gamma" residence time on a cluster between
    consecutive hops of an ion (uncensored only), plus "n_hops", "n_ions_hopping",
    "observed_time".
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must have shape (T, N, 3), got {pos.shape}")
    T, N, _ = pos.shape
    if T < 3:
        raise ValueError(f"need at least 3 frames, got {T}")
    if not np.all(np.isfinite(pos)):
        raise ValueError("positions contain non-finite values")
    t = np.asarray(times, dtype=float)
    if t.shape != (T,) or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be {T} finite, strictly increasing values, got shape {t.shape}")
    ids = np.arange(N, dtype=np.int64) if atom_ids is None else np.asarray(atom_ids, dtype=np.int64)
    if ids.shape != (N,):
        raise ValueError(f"atom_ids has shape {ids.shape}, expected ({N},)")
    if steps is not None:
        steps = np.asarray(steps, dtype=np.int64)
        if steps.shape != (T,):
            raise ValueError(f"steps has shape {steps.shape}, expected ({T},)")
    if not 0 <= silhouette_threshold <= 1:
        raise ValueError(f"silhouette_threshold must be in [0, 1], got {silhouette_threshold}")
    if not distance_threshold > 0:
        raise ValueError(f"distance_threshold must be > 0, got {distance_threshold}")
    if int(max_clusters) < 2:
        raise ValueError(f"max_clusters must be >= 2, got {max_clusters}")
    if int(max_samples) < 3:
        raise ValueError(f"max_samples must be >= 3, got {max_samples}")
    max_clusters = int(max_clusters)

    h = None
    if cell is not None:
        h = _cell_matrix(cell)
        hinv = np.linalg.inv(h)
        fr = pos @ hinv
        dfr = np.diff(fr, axis=0)
        dfr -= np.rint(dfr)
        pos = np.concatenate([pos[:1], pos[:1] + np.cumsum(dfr @ h, axis=0)], axis=0)

    sample = np.unique(np.rint(np.linspace(0, T - 1, min(T, int(max_samples)))).astype(np.int64))
    S = len(sample)
    kmax = min(max_clusters, S - 1)
    xs = np.ascontiguousarray(pos[sample].transpose(1, 0, 2))              # (N, S, 3)
    rng = np.random.default_rng(seed)
    per_ion = 8.0 * (S * S * 3 + n_init * S * kmax * 4)
    chunk = max(1, int(memory_mb * 2**20 / per_ion))
    sil = np.full((N, max_clusters - 1), np.nan)
    centres_s = [None] * N
    for i0 in range(0, N, chunk):
        xc = xs[i0:i0 + chunk]
        xm = xc - xc.mean(axis=1, keepdims=True)                           # centred: less cancellation
        sq = np.einsum("bsd,bsd->bs", xm, xm)
        dist = np.sqrt(np.maximum(sq[:, :, None] + sq[:, None, :] - 2 * np.matmul(xm, xm.transpose(0, 2, 1)), 0))
        best = {}
        for k in range(2, kmax + 1):
            lab, cen, _ = kmeans_batch(xc, k, n_init=n_init, max_iter=max_iter, tol=tol, rng=rng)
            sil[i0:i0 + len(xc), k - 2] = silhouette_batch(dist, lab, k)
            best[k] = cen
        for j in range(len(xc)):
            row = sil[i0 + j, :kmax - 1]
            kbest = int(np.nanargmax(row)) + 2 if np.any(np.isfinite(row)) else 1
            if not np.nanmax(row, initial=-np.inf) >= silhouette_threshold:
                kbest = 1
            centres_s[i0 + j] = xc[j].mean(axis=0, keepdims=True) if kbest == 1 else best[kbest][j]

    # every frame to its nearest centre; centres = means of their frames; clusters numbered by first visit
    labels = np.zeros((T, N), dtype=np.int64)
    centres = []
    nk = np.ones(N, dtype=np.int64)
    for i in range(N):
        c = centres_s[i]
        if len(c) > 1:
            d2 = ((pos[:, i, None, :] - c[None]) ** 2).sum(axis=2)
            lab = np.argmin(d2, axis=1)
            used, first = np.unique(lab, return_index=True)
            order = used[np.argsort(first)]
            remap = np.full(len(c), -1)
            remap[order] = np.arange(len(order))
            lab = remap[lab]
            labels[:, i] = lab
            c = np.array([pos[lab == q, i].mean(axis=0) for q in range(len(order))])
        else:
            c = pos[:, i].mean(axis=0, keepdims=True)
        centres.append(c)
        nk[i] = len(c)
    own = np.empty((T, N, 3))
    for i in range(N):
        own[:, i] = centres[i][labels[:, i]]
    vib = np.linalg.norm(pos - own, axis=2) < distance_threshold
    run_start, run_end = _run_bounds(vib)

    # hops: cluster changes c -> c+1, path [start of run(c-1), end of run(c)], equal paths merged
    ct, ci = np.nonzero(labels[1:] != labels[:-1])
    o = np.lexsort((ct, ci))
    ct, ci = ct[o], ci[o]
    # path = the excursion outside both spheres around the change: the non-vibrating run holding
    # frame c (or c + 1), empty (ps = c + 1 > pe = c) for a jump between two vibrating frames.
    # IonDiff 1.6 instead starts at the run holding frame c - 1 and ends at the run holding c,
    # whatever their state: the whole residence before the hop when c is the first frame
    # outside, and consecutive jumps between vibrating frames merged into one.
    if iondiff_path_start:
        ps = run_start[np.maximum(ct - 1, 0), ci]
        pe = run_end[ct, ci]
    else:
        nxt = np.minimum(ct + 1, T - 1)
        f = np.where(~vib[ct, ci], ct, np.where(~vib[nxt, ci], nxt, -1))
        ps = np.where(f >= 0, run_start[np.maximum(f, 0), ci], ct + 1)
        pe = np.where(f >= 0, run_end[np.maximum(f, 0), ci], ct)
    new = np.ones(len(ct), dtype=bool)
    new[1:] = (ci[1:] != ci[:-1]) | (ps[1:] != ps[:-1]) | (pe[1:] != pe[:-1])
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(ct) - 1) if len(first) else first
    ion = ci[first]
    c_from = labels[ct[first], ion]
    c_to = labels[ct[last] + 1, ion]
    arrive = ct[last] + 1
    ps, pe = ps[first], pe[first]
    cfrom = np.array([centres[i][q] for i, q in zip(ion, c_from)]).reshape(-1, 3)
    cto = np.array([centres[i][q] for i, q in zip(ion, c_to)]).reshape(-1, 3)
    t_arr = t[arrive]
    prev_same = np.zeros(len(ion), dtype=bool)
    prev_same[1:] = ion[1:] == ion[:-1]
    t_prev = np.where(prev_same, np.roll(t_arr, 1), t[0])
    residence = t_arr - t_prev
    dep = np.maximum(ps - 1, 0)                        # last frame before the path (on the origin)
    arr = np.minimum(pe + 1, T - 1)                    # first frame after it (at the destination)
    duration = t[arr] - t[dep]
    prev_arr = np.roll(arr, 1)
    gamma = np.where(prev_same, t[dep] - t[prev_arr], np.nan)   # from arriving to leaving again
    path_len = np.linalg.norm(pos[arr, ion] - pos[dep, ion], axis=1)

    order = np.lexsort((ids[ion], t_arr, steps[arrive] if steps is not None else np.zeros(len(ion), np.int64)))
    events = make_events(ids[ion][order], c_from[order], c_to[order], (cto - cfrom)[order], time=t_arr[order],
                         step=None if steps is None else steps[arrive][order], residence=residence[order],
                         duration=duration[order], censored=~prev_same[order], from_pos=cfrom[order],
                         to_pos=cto[order])

    from_kind = to_kind = None
    if reference_sites is not None:
        ref = np.asarray(reference_sites, dtype=float).reshape(-1, 3)
        if not len(ref):
            raise ValueError("reference_sites is empty")

        def kind(p):
            dv = p[:, None, :] - ref[None]
            if h is not None:
                dv = dv - np.rint(dv @ hinv) @ h
            near = np.linalg.norm(dv, axis=2).min(axis=1) <= lattice_tolerance
            return np.where(near, "lattice", "interstitial")

        from_kind, to_kind = kind(cfrom[order]), kind(cto[order])

    t_obs = t[-1] - t[0]
    counts = np.bincount(ion, minlength=N)
    descriptors = {"dr": _stats(np.linalg.norm(cto - cfrom, axis=1)), "path_length": _stats(path_len),
                   "dt": _stats(duration), "nu": _stats(counts / t_obs), "gamma": _stats(gamma),
                   "n_hops": int(len(ion)), "n_ions_hopping": int((counts > 0).sum()), "observed_time": float(t_obs)}
    params = dict(silhouette_threshold=silhouette_threshold, max_clusters=max_clusters,
                  distance_threshold=distance_threshold, n_init=n_init, max_iter=max_iter, tol=tol,
                  max_samples=max_samples, seed=seed, lattice_tolerance=lattice_tolerance,
                  iondiff_path_start=iondiff_path_start)
    return SiteFreeHops(events=events, n_clusters=nk, silhouette=sil, labels=labels, centres=centres,
                        path_start=ps[order], path_end=pe[order], path_open=(pe[order] == T - 1),
                        path_length=path_len[order], returns=(c_from == c_to)[order], descriptors=descriptors,
                        sample_frames=sample, from_kind=from_kind, to_kind=to_kind, params=params)

"""Jump rates per jump type, jump diffusivity and backjumps of a hop-event table.

N is the number of mobile ions, t the observed time (time units). Jump type = ordered site
pair (a, b) (``directed=True``) or unordered {a, b}. Jump rate Γ_i = J_i / (N t) (1/time).
Jump diffusivity (Einstein–Smoluchowski, no correlations): D_j = Σ_hops |Δr|² / (2 d N t).
Backjump: hop k of an ion whose destination is the origin of its previous hop k-1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.events import _by_atom, _check_events, _disp, _positive


@dataclass
class JumpStats:
    """Per jump type: pairs (m, 2) [from, to] (sorted pair if undirected), count J (m,),
    rate Γ = J/(N t) (1/time), n_participating (m,) distinct ions, mean_length <|Δr|>
    and mean_sq_length <|Δr|²> (length, length²), mean_displacement (m, 3)."""

    pairs: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    n_participating: np.ndarray
    mean_length: np.ndarray
    mean_sq_length: np.ndarray
    mean_displacement: np.ndarray
    n_ions: int
    total_time: float


def _n_distinct(label, atom_id, m) -> np.ndarray:
    """(m,) number of distinct atoms among the events of each label 0..m-1 (label -1: none)."""
    ok = label >= 0
    lab, ids = label[ok], atom_id[ok]
    o = np.lexsort((ids, lab))
    lab, ids = lab[o], ids[o]
    new = np.ones(len(lab), dtype=bool)
    new[1:] = (lab[1:] != lab[:-1]) | (ids[1:] != ids[:-1])
    return np.bincount(lab[new], minlength=m).astype(np.int64)


def _jump_types(ev, directed=True):
    a, b = ev["from_site"], ev["to_site"]
    if not directed:
        a, b = np.minimum(a, b), np.maximum(a, b)
    pairs, inv = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    return pairs.reshape(-1, 2), np.asarray(inv).ravel()


def jump_rates(events, n_ions: int, total_time: float, directed: bool = True) -> JumpStats:
    """Jump rates per jump type: Γ_i = J_i / (N t) (1/time), N = ``n_ions``, t = ``total_time``."""
    ev = _check_events(events)
    n_ions = int(_positive("n_ions", n_ions))
    total_time = _positive("total_time", total_time)
    pairs, inv = _jump_types(ev, directed)
    m = len(pairs)
    count = np.bincount(inv, minlength=m)
    d = _disp(ev)
    r2 = np.sum(d * d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_len = np.bincount(inv, weights=np.sqrt(r2), minlength=m) / count
        mean_sq = np.bincount(inv, weights=r2, minlength=m) / count
        mean_d = np.stack([np.bincount(inv, weights=d[:, k], minlength=m) for k in range(3)], axis=1) / count[:, None]
    npart = _n_distinct(inv, ev["atom_id"], m)
    return JumpStats(pairs=pairs, count=count, rate=count / (n_ions * total_time), n_participating=npart,
                     mean_length=mean_len, mean_sq_length=mean_sq, mean_displacement=mean_d,
                     n_ions=n_ions, total_time=total_time)


@dataclass
class JumpDiffusivity:
    """D (length²/time) = Σ|Δr|²/(2 d N t); D_xyz (3,) per direction = ΣΔr_k²/(2 N t)."""

    D: float
    D_xyz: np.ndarray
    n_hops: int
    dim: int


def jump_diffusivity(events, n_ions: int, total_time: float, dim: int = 3) -> JumpDiffusivity:
    """Jump-rate diffusivity (Einstein–Smoluchowski): D_j = Σ_i Γ_i <a_i²>/(2d).

    Summed over jump types i with Γ_i = J_i/(N t) this is Σ_hops |Δr|²/(2 d N t): every
    hop's squared displacement counts once, assuming uncorrelated hops (tracer-like; compare
    with the MSD tracer D to see correlation effects). ``dim``: dimensionality d (3, or 1/2
    for lower-dimensional conductors with the displacement in those directions).
    """
    ev = _check_events(events)
    n_ions = int(_positive("n_ions", n_ions))
    total_time = _positive("total_time", total_time)
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    d = _disp(ev)
    sq = np.sum(d * d, axis=0)
    return JumpDiffusivity(D=float(sq.sum() / (2 * dim * n_ions * total_time)),
                           D_xyz=sq / (2 * n_ions * total_time), n_hops=len(ev), dim=dim)


@dataclass
class BackjumpStats:
    """fraction = n_backjumps / n_considered (hops that have a previous hop of the same ion);
    is_backjump (n,) aligned with the event table; max_time: the time limit used (time
    units; None: no limit)."""

    fraction: float
    n_backjumps: int
    n_considered: int
    is_backjump: np.ndarray
    max_time: float | None = None


def backjump_fraction(events, tol: float | None = None, max_time: float | None = None) -> BackjumpStats:
    """Fraction of hops that return to the previous site next.

    Hop k of an ion is a backjump if its destination is the origin of the ion's hop k-1
    (site events: to_site[k] == from_site[k-1]). For site-free events (site -1) give
    ``tol`` (length): backjump if |Δr_k + Δr_{k-1}| < tol. ``max_time`` (time units): the
    ion must return "quickly", within that time of arriving on the intermediate site
    (time[k] - time[k-1] <= max_time, arrival to arrival); later returns are not counted
    as backjumps (they stay in ``n_considered``). None: any return counts.
    """
    ev = _check_events(events)
    isb = np.zeros(len(ev), dtype=bool)
    considered = 0
    sitefree = np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0)
    if sitefree and tol is None:
        raise ValueError("events without site indices (site-free mode): give tol (length) for backjumps")
    if tol is not None:
        _positive("tol", tol)
    if max_time is not None:
        max_time = _positive("max_time", max_time)
    d = _disp(ev)
    t = ev["time"].astype(float)
    for idx in _by_atom(ev):
        if len(idx) < 2:
            continue
        cur, prev = idx[1:], idx[:-1]
        considered += len(cur)
        if sitefree:
            back = np.linalg.norm(d[cur] + d[prev], axis=1) < tol
        else:
            back = ev["to_site"][cur] == ev["from_site"][prev]
        if max_time is not None:
            back &= t[cur] - t[prev] <= max_time * (1 + 1e-12)
        isb[cur] = back
    nb = int(isb.sum())
    return BackjumpStats(fraction=nb / considered if considered else float("nan"), n_backjumps=nb,
                         n_considered=considered, is_backjump=isb, max_time=max_time)

"""Jump classes: symmetry-equivalent jump types (same hop length, optionally site kinds).

Hop lengths are clustered 1-D by single linkage: sorted lengths split where the gap to the next
exceeds ``rel_tol`` x the length (default 5 %) or ``tol`` (absolute). For a class c:
Γ_c = J_c/(N t), multiplicity z_c = mean number of class-c destinations per origin site (from
the site geometry when given, else the distinct destinations observed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.events import _check_events, _disp, _positive
from .rates import _jump_types, _n_distinct

from .correlated import _site_pairs


@dataclass
class JumpClasses:
    """Jump classes: hop-length clusters (x site kinds), from :func:`jump_classes`.

    length (k,) mean hop length of each class; cluster (k,) its length cluster;
    cluster_min, cluster_max (c,) range of the lengths that formed each cluster; kinds (k, 2)
    (origin kind, destination kind), -1 when no site kinds were given; rel_tol, tol: the
    clustering tolerances. Classes are ordered by length, then kinds. :meth:`assign`
    labels events (-1: no class within tolerance).
    """

    length: np.ndarray
    cluster: np.ndarray
    cluster_min: np.ndarray
    cluster_max: np.ndarray
    kinds: np.ndarray
    rel_tol: float
    tol: float

    def __len__(self):
        return len(self.length)

    @property
    def length_min(self):
        return self.cluster_min[self.cluster]

    @property
    def length_max(self):
        return self.cluster_max[self.cluster]

    def _thr(self, L):
        return np.maximum(self.tol, self.rel_tol * np.asarray(L, dtype=float))

    def length_cluster(self, lengths) -> np.ndarray:
        """Length cluster of each length (nearest within tolerance) or -1."""
        L = np.asarray(lengths, dtype=float)
        out = np.full(L.shape, -1, dtype=np.int64)
        best = np.full(L.shape, np.inf)
        thr = self._thr(L)
        for c in range(len(self.cluster_min)):
            d = np.maximum(np.maximum(self.cluster_min[c] - L, L - self.cluster_max[c]), 0.0)
            ok = (d <= thr) & (d < best)
            out[ok], best[ok] = c, d[ok]
        return out

    def assign(self, events, site_kind=None) -> np.ndarray:
        """Class label (n,) of every event (-1: none fits); ``site_kind`` as for jump_classes."""
        ev = _check_events(events)
        cl = self.length_cluster(np.linalg.norm(_disp(ev), axis=1))
        ka, kb = _kinds(ev, site_kind)
        out = np.full(len(ev), -1, dtype=np.int64)
        for i, (c, (a, b)) in enumerate(zip(self.cluster, self.kinds)):  # (cluster, kinds) are unique
            out[(cl == c) & (ka == a) & (kb == b)] = i
        return out

    def describe(self, i) -> str:
        k = "" if self.kinds[i, 0] < 0 else f" kind {self.kinds[i, 0]}->{self.kinds[i, 1]}"
        return f"|dr| = {self.length[i]:.4g}{k}"


def _kinds(ev, site_kind):
    if site_kind is None:
        return np.full(len(ev), -1, np.int64), np.full(len(ev), -1, np.int64)
    sk = np.asarray(site_kind, dtype=np.int64)
    if np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0):
        raise ValueError("site_kind needs site indices; events contain site -1 (site-free mode)")
    if len(ev) and max(ev["from_site"].max(), ev["to_site"].max()) >= len(sk):
        raise ValueError(f"site_kind has {len(sk)} entries; events name site {max(ev['from_site'].max(), ev['to_site'].max())}")
    return sk[ev["from_site"]], sk[ev["to_site"]]


def jump_classes(events, rel_tol: float = 0.05, tol: float = 0.0, site_kind=None) -> JumpClasses:
    """Symmetry-equivalent jump classes: hop lengths clustered within a tolerance.

    ``events``: one event table or a list of them (e.g. every replica and temperature of a
    campaign, so all share the classes). Hop lengths |Δr| are sorted and split where the gap
    between neighbours exceeds max(``tol``, ``rel_tol`` x length) (single linkage); each
    cluster is one class. With ``site_kind`` (n_sites,) int (e.g. the Wyckoff position or
    species of each site) a class is further split by (origin kind, destination kind).
    In a crystal all equivalent jumps have one length, so they form one class.
    """
    tables = [events] if isinstance(events, np.ndarray) else list(events)
    tables = [_check_events(e) for e in tables]
    rel_tol = _positive("rel_tol", rel_tol, allow_zero=True)
    tol = _positive("tol", tol, allow_zero=True)
    L = np.concatenate([np.linalg.norm(_disp(e), axis=1) for e in tables]) if tables else np.zeros(0)
    ks = [_kinds(e, site_kind) for e in tables]
    ka = np.concatenate([k[0] for k in ks]) if ks else np.zeros(0, np.int64)
    kb = np.concatenate([k[1] for k in ks]) if ks else np.zeros(0, np.int64)
    if len(L) == 0:
        z = np.zeros(0)
        return JumpClasses(z, np.zeros(0, np.int64), z, z, np.zeros((0, 2), np.int64), rel_tol, tol)
    order = np.argsort(L, kind="stable")
    Ls = L[order]
    gap = np.diff(Ls) > np.maximum(tol, rel_tol * Ls[:-1])
    cl_sorted = np.r_[0, np.cumsum(gap)]
    cl = np.empty(len(L), np.int64)
    cl[order] = cl_sorted
    lo = np.array([Ls[cl_sorted == c].min() for c in range(cl_sorted[-1] + 1)])
    hi = np.array([Ls[cl_sorted == c].max() for c in range(cl_sorted[-1] + 1)])
    keys = np.unique(np.stack([cl, ka, kb], axis=1), axis=0)
    length = np.array([L[(cl == c) & (ka == a) & (kb == b)].mean() for c, a, b in keys])
    return JumpClasses(length=length, cluster=keys[:, 0].astype(np.int64), cluster_min=lo, cluster_max=hi,
                       kinds=keys[:, 1:3].astype(np.int64), rel_tol=rel_tol, tol=tol)


@dataclass
class JumpClassStats:
    """Per jump class (see :func:`jump_class_rates`): classes (the :class:`JumpClasses`),
    label (n_events,) class of each hop (-1 unclassified); per class (k,): count J, rate
    Γ_c = J/(N t) (1/time, per ion), n_participating N_c, multiplicity z_c (mean class-c
    destinations per origin site) and its source ("sites" or "observed"), rate_per_direction
    J/(t N_c z_c) (0 for a class without hops), mean_length, mean_sq_length, n_pairs (distinct ordered site pairs seen),
    D (k,) contribution Σ_c |Δr|²/(2 d N t) to D_j; pairs (m, 2) and pair_class (m,) link the
    per-site-pair view to the classes; unclassified: hops in no class."""

    classes: JumpClasses
    label: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    n_participating: np.ndarray
    multiplicity: np.ndarray
    multiplicity_source: str
    rate_per_direction: np.ndarray
    mean_length: np.ndarray
    mean_sq_length: np.ndarray
    n_pairs: np.ndarray
    D: np.ndarray
    pairs: np.ndarray
    pair_class: np.ndarray
    unclassified: int
    n_ions: int
    total_time: float


def _site_multiplicity(classes: JumpClasses, site_frac, cell, site_kind, origins) -> np.ndarray:
    sf = np.asarray(site_frac, dtype=float)
    c = np.asarray(cell, dtype=float)
    if sf.ndim != 2 or sf.shape[1] != 3 or c.shape != (3, 3):
        raise ValueError(f"site_frac must be (n, 3) and cell (3, 3); got {sf.shape}, {c.shape}")
    sk = None if site_kind is None else np.asarray(site_kind, dtype=np.int64)
    z = np.zeros(len(classes))
    orgs = []
    for i in range(len(classes)):
        org = np.asarray(origins[i], dtype=np.int64)
        if sk is not None and classes.kinds[i, 0] >= 0:
            of_kind = np.flatnonzero(sk[: len(sf)] == classes.kinds[i, 0])
            org = of_kind if len(of_kind) else org
        orgs.append(org)
    used = [i for i in range(len(classes)) if len(orgs[i])]
    if not used:
        return z
    hi = classes.length_max + classes._thr(classes.length_max)
    s, t, d = _site_pairs(sf, c, np.unique(np.concatenate([orgs[i] for i in used])), float(hi[used].max()))
    for i in used:
        lo = classes.length_min[i] - classes._thr(classes.length_max[i])
        ok = np.isin(s, orgs[i]) & (d >= lo) & (d <= hi[i])
        if sk is not None and classes.kinds[i, 1] >= 0:
            ok &= sk[t] == classes.kinds[i, 1]
        z[i] = int(ok.sum()) / len(orgs[i])
    return z


def jump_class_rates(events, n_ions: int, total_time: float, classes: JumpClasses | None = None,
                     site_frac=None, cell=None, site_kind=None, rel_tol: float = 0.05, tol: float = 0.0,
                     dim: int = 3) -> JumpClassStats:
    """Jump rates per jump class (hop-length cluster x site kinds).

    ``classes``: from :func:`jump_classes` (e.g. shared by all runs of a campaign); default:
    the classes of these events with ``rel_tol``/``tol``/``site_kind``. Γ_c = J_c/(N t) per
    ion (1/time); D_c = Σ_{hops in c} |Δr|²/(2 d N t), so Σ_c D_c = D_j of
    :func:`jump_diffusivity` when every hop is classified. Multiplicity z_c: with site
    positions (``site_frac`` (n, 3) and ``cell`` (3, 3)) the mean number of sites at a class-c
    distance (and kind) from the origin sites of class-c hops; else the mean number of
    distinct destinations observed per origin site (a lower bound for rare classes).
    """
    ev = _check_events(events)
    n_ions = int(_positive("n_ions", n_ions))
    total_time = _positive("total_time", total_time)
    if classes is None:
        classes = jump_classes(ev, rel_tol=rel_tol, tol=tol, site_kind=site_kind)
    lab = classes.assign(ev, site_kind=site_kind)
    k = len(classes)
    ok = lab >= 0
    count = np.bincount(lab[ok], minlength=k).astype(np.int64)
    d = _disp(ev)
    r2 = np.sum(d * d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_len = np.bincount(lab[ok], weights=np.sqrt(r2[ok]), minlength=k) / count
        mean_sq = np.bincount(lab[ok], weights=r2[ok], minlength=k) / count
    npart = _n_distinct(lab, ev["atom_id"], k)
    site_mode = len(ev) == 0 or not (np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0))
    if site_mode:
        pairs, inv = _jump_types(ev, directed=True)
        pair_class = np.full(len(pairs), -1, np.int64)
        pair_class[inv] = lab
        n_pairs = np.bincount(pair_class[pair_class >= 0], minlength=k).astype(np.int64)
        origins = [np.unique(ev["from_site"][lab == i]).tolist() for i in range(k)]
    else:
        pairs, pair_class, n_pairs = np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(k, np.int64)
        origins = [[] for _ in range(k)]
    if site_mode and site_frac is not None and cell is not None:
        z = _site_multiplicity(classes, site_frac, cell, site_kind, origins)
        src = "sites"
    elif site_mode:
        z = np.array([len(pairs[pair_class == i]) / max(1, len(origins[i])) for i in range(k)], dtype=float)
        src = "observed"
    else:
        z = np.ones(k)
        src = "none (site-free events: 1)"
    with np.errstate(invalid="ignore", divide="ignore"):
        per_dir = np.where(count > 0, count / (total_time * npart * z), 0.0)  # no hops of a class: rate 0
    Dc = np.bincount(lab[ok], weights=r2[ok], minlength=k) / (2 * dim * n_ions * total_time)
    return JumpClassStats(classes=classes, label=lab, count=count, rate=count / (n_ions * total_time),
                          n_participating=npart, multiplicity=z, multiplicity_source=src,
                          rate_per_direction=per_dir, mean_length=mean_len, mean_sq_length=mean_sq,
                          n_pairs=n_pairs, D=Dc, pairs=pairs, pair_class=pair_class,
                          unclassified=int((~ok).sum()), n_ions=n_ions, total_time=total_time)

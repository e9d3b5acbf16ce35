"""Sites of mobile ions from occupancy grids: density, free energy, site search, barriers.

Probability-density analysis as in Deng et al., Chem. Mater. 29 (2017) 281. Site files and
site sets from arrays or structures: :mod:`ionsitu.io.sites` (format: docs/file_formats.md).
Conventions:

- A cell is a (3, 3) array whose ROWS are the edge vectors a, b, c (ASE convention), in
  the length unit of the run (angstrom for LAMMPS ``metal``/``real``). A LAMMPS box
  (xprd, yprd, zprd, yz, xz, xy) gives a = (xprd, 0, 0), b = (xy, yprd, 0),
  c = (xz, yz, zprd); see :mod:`ionsitu.io.cell`. Cartesian = origin + fractional @ cell.
- Grids are numpy arrays of shape (nx, ny, nz) over fractional coordinates: voxel
  (i, j, k) covers [i/nx, (i+1)/nx) x ... and its centre is ((i+1/2)/nx, ...), exactly as
  the C++ ``OccupancyGrid`` (src/core/occupancy_grid.h) counts them.
- Densities are probability densities per volume (integral over the cell = 1) unless
  named otherwise; free energies are in the energy unit of ``kB * temperature``
  (eV with the default ``kB`` = k_B in eV/K; pass ``kB=1`` for LJ units).
- The voxel graph is periodic with 26-neighbour connectivity (faces, edges, corners).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..io.cell import as_cell as _as_cell
from ..io.cell import min_image_frac as _min_image_frac
from ..io.cell import lammps_cell  # noqa: F401 - re-exported (ionsitu.sites.lammps_cell)
from ..io.sites import (SITE_FILE_VERSION, Sites, read_sites, sites_from_array,  # noqa: F401 - re-exported
                        sites_from_structure, write_sites)
from ..units import KB_EV

# site sets and site files live in ionsitu.io.sites; re-exported here so that
# ionsitu.sites.read_sites(...) etc. keep working
__all__ = ["Sites", "SiteSearch", "Barriers", "lammps_cell", "density_from_counts", "find_sites", "free_energy",
           "site_barriers", "sites_from_array", "sites_from_structure", "write_sites", "read_sites",
           "SITE_FILE_VERSION"]


def _as_grid(counts) -> np.ndarray:
    g = np.asarray(counts, dtype=float)
    if g.ndim != 3:
        raise ValueError(f"grid must be 3-dimensional (nx, ny, nz); got shape {g.shape}")
    if min(g.shape) < 1:
        raise ValueError(f"grid has an empty dimension: shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("grid contains non-finite values")
    if np.any(g < 0):
        raise ValueError(f"grid contains negative values (min {g.min()})")
    return g



def density_from_counts(counts, cell) -> np.ndarray:
    """Probability density per volume (integral over the cell = 1) from voxel counts.

    ``counts`` (nx, ny, nz) non-negative; ``cell`` (3, 3) rows a, b, c. Units: 1/length^3.
    """
    g = _as_grid(counts)
    c = _as_cell(cell)
    total = g.sum()
    if total <= 0:
        raise ValueError("grid has no counts (sum is 0)")
    vvox = abs(np.linalg.det(c)) / g.size
    return g / (total * vvox)


def free_energy(density, temperature, kB: float = KB_EV) -> np.ndarray:
    """Free-energy map F = -kB T ln(rho / rho_max) (0 at the densest voxel, +inf where rho = 0).

    Units: those of ``kB * temperature`` (eV with the default kB in eV/K and T in K).
    """
    rho = np.asarray(density, dtype=float)
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not (np.isfinite(kB) and kB > 0):
        raise ValueError(f"kB must be > 0, got {kB}")
    if np.any(rho < 0) or not np.all(np.isfinite(rho)):
        raise ValueError("density must be finite and >= 0")
    rmax = rho.max()
    if rmax <= 0:
        raise ValueError("density is zero everywhere")
    with np.errstate(divide="ignore"):
        F = -kB * temperature * np.log(rho / rmax)
    return F




@dataclass
class SiteSearch:
    """Result of :func:`find_sites`.

    sites: the :class:`Sites`. density: (nx, ny, nz) probability density (1/length^3).
    threshold: density threshold used (1/length^3). peak_voxel: (n,) flat voxel index of
    each site's maximum. basin: (nx, ny, nz) int, site index of every voxel (its steepest-
    ascent basin, merged maxima included), -1 for basins of maxima below the threshold.
    basin_root: (nx, ny, nz) int, flat index of the local maximum each voxel ascends to.
    """

    sites: Sites
    density: np.ndarray
    threshold: float
    peak_voxel: np.ndarray
    basin: np.ndarray
    basin_root: np.ndarray


@dataclass
class Barriers:
    """Free-energy barriers between sites (energy units of the free-energy map).

    saddle[a, b]: lowest saddle of F on any path from site a to site b (minimax path on the
    periodic voxel graph); saddle[a, a] = F at site a. forward[a, b] = saddle[a, b] - F[a]:
    barrier to leave a towards b. adjacent[a, b]: the basins of a and b touch (neighbouring
    sites). site_energy: (n,) F at each site. Pairs that are not connected through finite
    F have saddle = inf.
    """

    saddle: np.ndarray
    forward: np.ndarray
    adjacent: np.ndarray
    site_energy: np.ndarray

    def pairs(self):
        """Neighbouring site pairs (a < b) and their forward/backward barriers.

        Returns (pairs (m, 2) int, forward (m,), backward (m,), saddle (m,)).
        """
        a, b = np.nonzero(np.triu(self.adjacent, 1))
        return np.stack([a, b], axis=1), self.forward[a, b], self.forward[b, a], self.saddle[a, b]


# --------------------------------------------------------------------------- site finding

_OFFSETS26 = np.array(
    [[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1) if (i, j, k) != (0, 0, 0)]
)
# half of the 26 offsets: each undirected neighbour pair once
_OFFSETS13 = np.array([o for o in _OFFSETS26 if tuple(o) > (0, 0, 0)])


def _ascent_roots(rho: np.ndarray) -> np.ndarray:
    """Flat index of the local maximum each voxel reaches by steepest ascent (periodic, 26-nb).

    Ties are broken by a total order (density, then flat index), so plateaus drain to one
    voxel and every voxel has exactly one root.
    """
    shape = rho.shape
    n = rho.size
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(rho.ravel(), kind="stable")] = np.arange(n)
    rank = rank.reshape(shape)
    flat = np.arange(n).reshape(shape)
    best_rank = rank.copy()
    parent = flat.copy()
    for o in _OFFSETS26:
        # value at neighbour x+o, aligned at x
        r = np.roll(rank, shift=tuple(-o), axis=(0, 1, 2))
        f = np.roll(flat, shift=tuple(-o), axis=(0, 1, 2))
        better = r > best_rank
        best_rank = np.where(better, r, best_rank)
        parent = np.where(better, f, parent)
    parent = parent.ravel()
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return parent.reshape(shape)


def _refine_peak(logr: np.ndarray, idx) -> np.ndarray:
    """Sub-voxel offset (in voxels, each in [-1/2, 1/2]) of a peak by a parabola through ln rho.

    Exact for a Gaussian peak whose axes are the grid axes.
    """
    off = np.zeros(3)
    shape = logr.shape
    for ax in range(3):
        ip = list(idx)
        im = list(idx)
        ip[ax] = (idx[ax] + 1) % shape[ax]
        im[ax] = (idx[ax] - 1) % shape[ax]
        lp, l0, lm = logr[tuple(ip)], logr[tuple(idx)], logr[tuple(im)]
        if not (np.isfinite(lp) and np.isfinite(lm) and np.isfinite(l0)):
            continue
        den = lm - 2 * l0 + lp
        if den < 0:
            off[ax] = np.clip(0.5 * (lm - lp) / den, -0.5, 0.5)
    return off


def find_sites(
    counts,
    cell,
    origin=(0.0, 0.0, 0.0),
    threshold: float = 0.05,
    min_distance: float = 0.0,
    relative: bool = True,
    refine: bool = True,
    units: str = "",
) -> SiteSearch:
    """Sites as periodic density maxima of an occupancy grid (docs/fix_occupancy_grid.md).

    counts: (nx, ny, nz) voxel counts (or any non-negative density) of one species, e.g.
        the counts of ``fix occupancy/grid``, over fractional coordinates of ``cell``.
    cell: (3, 3) rows a, b, c (mean cell of the run), length units; origin: (3,).
    threshold: a maximum becomes a site when its density exceeds ``threshold * rho_max``
        (``relative=True``) or ``threshold`` in 1/length^3 (``relative=False``).
    min_distance: maxima closer than this (minimum image, length units) are merged into the
        denser one (greedy, densest first; ties by voxel index).
    refine: place each site at the sub-voxel maximum of a parabola through ln rho along each
        grid axis (exact for axis-aligned Gaussian peaks); else at the voxel centre.

    Local maxima are voxels not exceeded by any of their 26 periodic neighbours. Per site:
    peak density, occupancy (fraction of all counts in its steepest-ascent basin, maxima
    merged into it included) and volume (basin voxels above the threshold, length^3).
    Sites are ordered by decreasing peak density.
    """
    g = _as_grid(counts)
    c = _as_cell(cell)
    org = np.asarray(origin, dtype=float).reshape(3)
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    if relative and threshold > 1:
        raise ValueError(f"relative threshold must be in [0, 1], got {threshold}")
    if not (np.isfinite(min_distance) and min_distance >= 0):
        raise ValueError(f"min_distance must be >= 0, got {min_distance}")
    rho = density_from_counts(g, c)
    shape = np.array(rho.shape)
    thr = threshold * rho.max() if relative else float(threshold)
    vvox = abs(np.linalg.det(c)) / rho.size

    is_max = (rho >= ndimage.maximum_filter(rho, size=3, mode="wrap")) & (rho > thr)
    cand = np.flatnonzero(is_max.ravel())
    # densest first, ties by flat index
    order = np.lexsort((cand, -rho.ravel()[cand]))
    cand = cand[order]
    idx3 = np.array(np.unravel_index(cand, rho.shape)).T  # (m, 3)
    with np.errstate(divide="ignore"):
        logr = np.log(rho)
    frac = (idx3 + 0.5) / shape
    if refine:
        for m in range(len(cand)):
            frac[m] += _refine_peak(logr, tuple(idx3[m])) / shape
    frac -= np.floor(frac)

    # greedy merge within min_distance
    kept: list[int] = []
    owner = np.full(len(cand), -1, dtype=np.int64)  # site index of each candidate maximum
    for m in range(len(cand)):
        if kept and min_distance > 0:
            d = np.linalg.norm(_min_image_frac(frac[kept] - frac[m], c), axis=-1)
            j = int(np.argmin(d))
            if d[j] < min_distance:
                owner[m] = j
                continue
        owner[m] = len(kept)
        kept.append(m)
    kept_arr = np.array(kept, dtype=np.int64)

    # basins
    roots = _ascent_roots(rho)
    root_site = np.full(rho.size, -1, dtype=np.int64)
    root_site[cand] = owner
    basin = root_site[roots.ravel()].reshape(rho.shape)
    nsite = len(kept_arr)
    occ = np.bincount(basin[basin >= 0].ravel(), weights=g[basin >= 0].ravel(), minlength=nsite) / g.sum()
    above = (basin >= 0) & (rho > thr)
    vol = np.bincount(basin[above].ravel(), minlength=nsite) * vvox

    sfrac = frac[kept_arr] if nsite else np.zeros((0, 3))
    sites = Sites(
        frac=sfrac,
        cart=org + sfrac @ c,
        cell=c.copy(),
        origin=org.copy(),
        density=rho.ravel()[cand[kept_arr]] if nsite else np.zeros(0),
        occupancy=occ[:nsite].astype(float),
        volume=vol[:nsite].astype(float),
        units=units,
        meta={
            "source": "find_sites",
            "grid": [int(v) for v in rho.shape],
            "threshold": float(threshold),
            "relative": bool(relative),
            "min_distance": float(min_distance),
        },
    )
    return SiteSearch(
        sites=sites,
        density=rho,
        threshold=float(thr),
        peak_voxel=cand[kept_arr] if nsite else np.zeros(0, dtype=np.int64),
        basin=basin,
        basin_root=roots,
    )


# --------------------------------------------------------------------------- barriers


def site_barriers(F, search: SiteSearch) -> Barriers:
    """Barriers between the sites of ``search`` on the free-energy map ``F`` (nx, ny, nz).

    The barrier between sites a and b is the lowest saddle of F on a path joining them: the
    minimax path value min_paths max_{voxels on path} F on the periodic 26-neighbour voxel
    graph. Computed exactly on the graph of steepest-ascent basins (every basin, including
    those of sub-threshold maxima): the pass between two touching basins is the lowest
    max(F_u, F_v) over voxel pairs (u, v) across their boundary, and the minimax path between
    sites is found by Kruskal's algorithm on those passes (a path inside one basin never
    rises above its entry point, so the basin graph gives the same minimax as the voxel
    graph). Voxels with F = inf (never visited) are impassable.

    Use F from :func:`free_energy` of ``search.density`` (same grid).
    """
    F = np.asarray(F, dtype=float)
    if F.shape != search.density.shape:
        raise ValueError(f"F has shape {F.shape}, the grid of the site search {search.density.shape}")
    n = search.sites.n
    roots = search.basin_root.ravel()
    Ff = F.ravel()
    shape = F.shape
    flat = np.arange(F.size).reshape(shape)

    # passes between touching basins
    keys_a, keys_b, wts = [], [], []
    for o in _OFFSETS13:
        nb = np.roll(flat, shift=tuple(-o), axis=(0, 1, 2)).ravel()
        ra, rb = roots, roots[nb]
        w = np.maximum(Ff, Ff[nb])
        m = (ra != rb) & np.isfinite(w)
        keys_a.append(np.minimum(ra[m], rb[m]))
        keys_b.append(np.maximum(ra[m], rb[m]))
        wts.append(w[m])
    ka = np.concatenate(keys_a) if keys_a else np.zeros(0, np.int64)
    kb = np.concatenate(keys_b) if keys_b else np.zeros(0, np.int64)
    w = np.concatenate(wts) if wts else np.zeros(0)
    # lowest pass per basin pair
    order = np.lexsort((w, kb, ka))
    ka, kb, w = ka[order], kb[order], w[order]
    first = np.ones(len(ka), dtype=bool)
    first[1:] = (ka[1:] != ka[:-1]) | (kb[1:] != kb[:-1])
    ka, kb, w = ka[first], kb[first], w[first]
    order = np.argsort(w, kind="stable")  # Kruskal: ascending passes
    ka, kb, w = ka[order], kb[order], w[order]

    # union-find over basins (by root voxel index)
    parent: dict[int, int] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    root_site = np.full(F.size, -1, dtype=np.int64)
    root_site[roots] = search.basin.ravel()  # basin site of every root
    members: dict[int, list[int]] = {}
    site_root = {}
    for r in np.unique(roots):
        s = int(root_site[r])
        if s < 0:
            continue
        if s in site_root:  # maxima merged into one site: one node
            a, b = find(int(r)), find(site_root[s])
            if a != b:
                parent[a] = b
        else:
            site_root[s] = int(r)
    for s, r in site_root.items():
        members.setdefault(find(r), []).append(s)

    site_energy = np.array([Ff[search.peak_voxel[s]] for s in range(n)], dtype=float)
    saddle = np.full((n, n), np.inf)
    np.fill_diagonal(saddle, site_energy)
    adjacent = np.zeros((n, n), dtype=bool)
    sa, sb = root_site[ka], root_site[kb]
    ad = (sa >= 0) & (sb >= 0) & (sa != sb)
    adjacent[sa[ad], sb[ad]] = True
    adjacent[sb[ad], sa[ad]] = True
    for a, b, wt in zip(ka.tolist(), kb.tolist(), w.tolist()):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ma, mb = members.pop(ra, []), members.pop(rb, [])
        if ma and mb:
            ia, ib = np.array(ma), np.array(mb)
            saddle[np.ix_(ia, ib)] = wt
            saddle[np.ix_(ib, ia)] = wt
        parent[ra] = rb
        if ma or mb:
            members[rb] = ma + mb
    forward = saddle - site_energy[:, None]
    return Barriers(saddle=saddle, forward=forward, adjacent=adjacent, site_energy=site_energy)




@dataclass
class SiteVolumes:
    """Accessible volume of each site from the positions of the ions resident on it.

    site (k,) site index; volume (k,) volume of the convex hull of the resident positions
    (length³; NaN where fewer than 4 positions, or all in a plane); n_positions (k,) resident
    samples used; span (k,) largest distance of a resident position from the site centre
    (length)."""

    site: np.ndarray
    volume: np.ndarray
    n_positions: np.ndarray
    span: np.ndarray


def site_volumes(positions, site_traj, site_positions, cell, n_sites: int | None = None) -> SiteVolumes:
    """Accessible site volume: convex hull of the positions visited while resident.

    ``positions`` (T, N, 3) Cartesian positions (length, wrapped or not), ``site_traj``
    (T, N) int site of each ion per sample (-1: on no site; e.g.
    :func:`ionsitu.analysis.hops.site_trajectory`), ``site_positions`` (n_sites, 3) Cartesian
    site centres, ``cell`` (3, 3) rows a, b, c. Each resident position is taken at its
    minimum image about the centre of its site (so a site across the periodic boundary is
    one compact cloud), and the volume is that of the cloud's convex hull
    (:class:`scipy.spatial.ConvexHull`; Qhull), the volume explored while resident, as the
    accessible site volume of the site analyses of Li conductors. Sites with fewer than 4
    positions, or with all of them in a plane, get NaN.
    """
    from scipy.spatial import ConvexHull
    from scipy.spatial import QhullError

    pos = np.asarray(positions, dtype=float)
    st = np.asarray(site_traj)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must be (n_samples, n_ions, 3), got shape {pos.shape}")
    if st.shape != pos.shape[:2]:
        raise ValueError(f"site_traj has shape {st.shape}, positions {pos.shape[:2]} (n_samples, n_ions)")
    c = _as_cell(cell)
    centres = np.asarray(site_positions, dtype=float).reshape(-1, 3)
    ns = len(centres) if n_sites is None else int(n_sites)
    if st.size and st.max() >= len(centres):
        raise ValueError(f"site index {int(st.max())} in site_traj >= number of site positions {len(centres)}")
    on = st >= 0
    s_of = st[on].astype(np.int64)
    rel = _min_image_frac((pos[on] - centres[s_of]) @ np.linalg.inv(c), c)   # minimum image about the centre
    order = np.argsort(s_of, kind="stable")
    s_sorted, rel = s_of[order], rel[order]
    bounds = np.searchsorted(s_sorted, np.arange(ns + 1))
    vol = np.full(ns, np.nan)
    npos = np.diff(bounds).astype(np.int64)
    span = np.full(ns, np.nan)
    for k in range(ns):
        pts = rel[bounds[k]:bounds[k + 1]]
        if len(pts):
            span[k] = float(np.sqrt(np.max(np.sum(pts * pts, axis=1))))
        if len(pts) < 4:
            continue
        try:
            vol[k] = ConvexHull(pts).volume
        except QhullError:                             # all points in a plane (or a line)
            pass
    return SiteVolumes(site=np.arange(ns), volume=vol, n_positions=npos, span=span)

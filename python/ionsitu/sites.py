"""Sites of mobile ions: from occupancy grids or structures; free energy, barriers; site files.

Probability-density analysis as in Deng et al., Chem. Mater. 29 (2017) 281;
the site file is specified in docs/file_formats.md. Conventions used throughout:

- A cell is a (3, 3) array whose ROWS are the edge vectors a, b, c (ASE convention), in
  the length unit of the run (angstrom for LAMMPS ``metal``/``real``). A LAMMPS box
  (xprd, yprd, zprd, yz, xz, xy) gives a = (xprd, 0, 0), b = (xy, yprd, 0),
  c = (xz, yz, zprd); see :func:`lammps_cell`. Cartesian = origin + fractional @ cell.
- Grids are numpy arrays of shape (nx, ny, nz) over fractional coordinates: voxel
  (i, j, k) covers [i/nx, (i+1)/nx) x ... and its centre is ((i+1/2)/nx, ...), exactly as
  the C++ ``OccupancyGrid`` (src/core/occupancy_grid.h) counts them.
- Densities are probability densities per volume (integral over the cell = 1) unless
  named otherwise; free energies are in the energy unit of ``kB * temperature``
  (eV with the default ``kB`` = k_B in eV/K; pass ``kB=1`` for LJ units).
- The voxel graph is periodic with 26-neighbour connectivity (faces, edges, corners).

Site file format, version 1 (written by :func:`write_sites`, read by :func:`read_sites`
and by the C++ ``read_site_file`` in src/core/hop_detector.h, which ``fix hop/events``
uses). Plain ASCII text, whitespace-separated, one record per line::

    # ionsitu-sites 1
    # free comment lines start with '#'; blank lines are ignored
    units metal
    cell ax ay az bx by bz cx cy cz
    origin ox oy oz
    meta {"source": "find_sites", ...}
    nsites N
    columns index sx sy sz x y z [extra column names ...]
    0 sx sy sz x y z [extra values ...]
    ...                                     (exactly N data rows)

Rules:

1. The first line is exactly ``# ionsitu-sites 1`` (the version is the third word).
2. Header keywords, before ``columns``, in any order: ``cell`` (required: 9 numbers, rows
   a, b, c, Cartesian, length unit of the run), ``nsites`` (required, integer >= 0),
   ``origin`` (optional, 3 numbers, default 0 0 0), ``units`` (optional, one word, the
   LAMMPS unit style or a length unit; informational), ``meta`` (optional, rest of the line
   is one JSON object; ignored by the C++ reader). Any other keyword is an error.
3. ``columns`` ends the header. Its first seven names are exactly
   ``index sx sy sz x y z``; further names (e.g. ``occupancy density volume``) add numeric
   columns, one value per row (``nan`` allowed).
4. Then exactly ``nsites`` data rows; ``index`` is 0, 1, 2, ... in order. ``sx sy sz`` are
   fractional coordinates in [0, 1) of ``cell``; they are authoritative: ``fix hop/events``
   places the sites at these fractional coordinates of the CURRENT box at every sample
   (so NPT and triclinic boxes work). ``x y z`` = origin + s @ cell, informational.
5. Numbers are decimal (``%.12g``). A different version number is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from .units import KB_EV

__all__ = [
    "Sites",
    "SiteSearch",
    "Barriers",
    "lammps_cell",
    "density_from_counts",
    "find_sites",
    "free_energy",
    "site_barriers",
    "sites_from_array",
    "sites_from_structure",
    "write_sites",
    "read_sites",
    "SITE_FILE_VERSION",
]

SITE_FILE_VERSION = 1
_MAGIC = "ionsitu-sites"
_REQUIRED_COLUMNS = ("index", "sx", "sy", "sz", "x", "y", "z")


# --------------------------------------------------------------------------- helpers


def lammps_cell(xprd, yprd, zprd, yz=0.0, xz=0.0, xy=0.0) -> np.ndarray:
    """(3, 3) cell (rows a, b, c) of a LAMMPS box given as (xprd, yprd, zprd, yz, xz, xy)."""
    return np.array([[xprd, 0.0, 0.0], [xy, yprd, 0.0], [xz, yz, zprd]], dtype=float)


def _as_cell(cell) -> np.ndarray:
    c = np.asarray(cell, dtype=float)
    if c.shape == (6,):
        return lammps_cell(*c)
    if c.shape == (3,):
        return np.diag(c)
    if c.shape != (3, 3):
        raise ValueError(f"cell must be (3,3) rows a,b,c, (3,) lengths or (6,) LAMMPS h; got shape {c.shape}")
    vol = np.linalg.det(c)
    if not np.isfinite(vol) or abs(vol) < 1e-300:
        raise ValueError(f"cell is singular or not finite (volume {vol}): {c.tolist()}")
    return c


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


def _min_image_frac(ds: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Shortest Cartesian periodic images of fractional differences ds (..., 3).

    Exact for any cell: rounds to [-1/2, 1/2) and then checks the 27 neighbouring images
    (an orthogonal cell needs no check: the rounded image is the shortest, the same vector).
    """
    ds = np.asarray(ds, dtype=float)
    cell = np.asarray(cell, dtype=float)
    ds = ds - np.floor(ds + 0.5)
    if not np.any(cell[~np.eye(3, dtype=bool)]):
        return ds @ cell
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)
    cand = (ds[..., None, :] + shifts) @ cell  # (..., 27, 3)
    d2 = np.einsum("...ij,...ij->...i", cand, cand)
    best = np.argmin(d2, axis=-1)
    return np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]


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


# --------------------------------------------------------------------------- results


@dataclass
class Sites:
    """A set of sites in a periodic cell.

    frac: (n, 3) fractional coordinates in [0, 1); cart: (n, 3) Cartesian positions
    (origin + frac @ cell, length units); cell: (3, 3) rows a, b, c; origin: (3,).
    Per-site arrays (NaN where unknown, e.g. sites from a structure):
    density: peak probability density (1/length^3); occupancy: fraction of all grid counts
    in the site's basin (probability that a given ion is on this site; times the number of
    ions = mean occupation number); volume: volume (length^3) of the basin's voxels above
    the threshold density (accessible volume). extra: further per-site columns
    {name: (n,) array} of a site file.
    """

    frac: np.ndarray
    cart: np.ndarray
    cell: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    density: np.ndarray | None = None
    occupancy: np.ndarray | None = None
    volume: np.ndarray | None = None
    units: str = ""
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.frac)
        for name in ("density", "occupancy", "volume"):
            if getattr(self, name) is None:
                setattr(self, name, np.full(n, np.nan))

    def __len__(self) -> int:
        return len(self.frac)

    @property
    def n(self) -> int:
        return len(self.frac)

    def distance_matrix(self) -> np.ndarray:
        """(n, n) minimum-image distances between sites (length units)."""
        d = _min_image_frac(self.frac[:, None, :] - self.frac[None, :, :], self.cell)
        return np.linalg.norm(d, axis=-1)


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


# --------------------------------------------------------------------------- other sources


def sites_from_array(positions, cell, origin=(0.0, 0.0, 0.0), fractional: bool = False, units: str = "") -> Sites:
    """Sites from an (n, 3) array of positions (Cartesian, or fractional with ``fractional``)."""
    c = _as_cell(cell)
    org = np.asarray(origin, dtype=float).reshape(3)
    p = np.asarray(positions, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"positions must have shape (n, 3), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("positions contain non-finite values")
    frac = p if fractional else np.linalg.solve(c.T, (p - org).T).T
    frac = frac - np.floor(frac)
    frac[frac >= 1.0] = 0.0
    return Sites(frac=frac, cart=org + frac @ c, cell=c.copy(), origin=org.copy(), units=units,
                 meta={"source": "array"})


def sites_from_structure(structure, species, index=-1, units: str = "") -> Sites:
    """Sites from a crystal structure: the positions of the given species.

    structure: a path to any file ASE can read (CIF, POSCAR, extxyz, LAMMPS data with
    ``format`` guessed by ASE, ...) or an ``ase.Atoms``; species: a chemical symbol or a
    list of them (e.g. "Li"); index: which frame of a multi-frame file (default last).
    The cell of the structure is kept (ASE's origin is 0). Needs the ``ase`` package.
    """
    try:
        import ase
        import ase.io
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("sites_from_structure needs the 'ase' package (pip install ase)") from err
    if isinstance(structure, ase.Atoms):
        atoms = structure
        src = "ase.Atoms"
    else:
        atoms = ase.io.read(str(structure), index=index)
        src = str(structure)
    want = [species] if isinstance(species, str) else list(species)
    sym = np.array(atoms.get_chemical_symbols())
    mask = np.isin(sym, want)
    if not mask.any():
        raise ValueError(f"no atoms of species {want} in {src} (species present: {sorted(set(sym.tolist()))})")
    if not np.all(atoms.pbc):
        raise ValueError(f"structure {src} is not periodic in all directions (pbc={atoms.pbc.tolist()})")
    s = sites_from_array(atoms.get_scaled_positions(wrap=True)[mask], np.array(atoms.cell), fractional=True,
                         units=units)
    s.meta = {"source": src, "species": want}
    return s


# --------------------------------------------------------------------------- site files


def _fmt(v) -> str:
    return "%.12g" % float(v)


def write_sites(path, sites: Sites, units: str | None = None, meta: dict | None = None,
                extra: dict | None = None) -> Path:
    """Write sites in the site-file format (version 1, see the module docstring), atomically.

    Columns written after ``index sx sy sz x y z``: occupancy density volume, plus
    ``sites.extra`` and ``extra`` {name: (n,) array}. ``meta`` is merged into ``sites.meta`` (JSON).
    Returns the path.
    """
    path = Path(path)
    n = sites.n
    unit = sites.units if units is None else units
    if unit and (any(ch.isspace() for ch in unit)):
        raise ValueError(f"units must be one word, got {unit!r}")
    cols = {"occupancy": sites.occupancy, "density": sites.density, "volume": sites.volume}
    for name, arr in {**sites.extra, **(extra or {})}.items():
        if not name or any(ch.isspace() for ch in name) or name in _REQUIRED_COLUMNS or name in cols:
            raise ValueError(f"bad or duplicate extra column name {name!r}")
        arr = np.asarray(arr, dtype=float)
        if arr.shape != (n,):
            raise ValueError(f"extra column {name!r} has shape {arr.shape}, expected ({n},)")
        cols[name] = arr
    m = dict(sites.meta)
    m.update(meta or {})
    lines = [f"# {_MAGIC} {SITE_FILE_VERSION}", "# written by ionsitu.sites.write_sites; format: ionsitu/sites.py"]
    if unit:
        lines.append(f"units {unit}")
    lines.append("cell " + " ".join(_fmt(v) for v in np.asarray(sites.cell).ravel()))
    lines.append("origin " + " ".join(_fmt(v) for v in sites.origin))
    lines.append("meta " + json.dumps(m, sort_keys=True, default=_json_default))
    lines.append(f"nsites {n}")
    lines.append("columns " + " ".join(list(_REQUIRED_COLUMNS) + list(cols)))
    for i in range(n):
        vals = [str(i)] + [_fmt(v) for v in sites.frac[i]] + [_fmt(v) for v in sites.cart[i]]
        vals += [_fmt(cols[k][i]) for k in cols]
        lines.append(" ".join(vals))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_sites(path) -> Sites:
    """Read a site file (format version 1, module docstring). Raises ValueError with the line."""
    path = Path(path)
    text = path.read_text().splitlines()

    def fail(lineno, why):
        raise ValueError(f"{path}:{lineno}: {why}")

    def numbers(lineno, key, rest, count):
        try:
            vals = np.array(rest.split(), dtype=float)
        except ValueError:
            fail(lineno, f"bad number in {key}: {rest!r}")
        if vals.size != count:
            fail(lineno, f"'{key}' needs {count} numbers, got {vals.size}")
        return vals

    if not text:
        fail(1, "empty file")
    head = text[0].split()
    if len(head) < 3 or head[0] != "#" or head[1] != _MAGIC:
        fail(1, f"first line must be '# {_MAGIC} {SITE_FILE_VERSION}', got {text[0]!r}")
    if head[2] != str(SITE_FILE_VERSION):
        fail(1, f"unsupported site-file version {head[2]!r} (this reader knows {SITE_FILE_VERSION})")
    units, cell, origin, meta, nsites, columns = "", None, np.zeros(3), {}, None, None
    rows = []
    for lineno, line in enumerate(text[1:], start=2):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if columns is None:
            key, _, rest = s.partition(" ")
            rest = rest.strip()
            if key == "units":
                units = rest
            elif key == "cell":
                cell = numbers(lineno, key, rest, 9).reshape(3, 3)
            elif key == "origin":
                origin = numbers(lineno, key, rest, 3)
            elif key == "meta":
                try:
                    meta = json.loads(rest)
                except json.JSONDecodeError as err:
                    fail(lineno, f"meta is not JSON: {err}")
            elif key == "nsites":
                try:
                    nsites = int(rest)
                except ValueError:
                    fail(lineno, f"'nsites' needs an integer, got {rest!r}")
                if nsites < 0:
                    fail(lineno, f"'nsites' must be >= 0, got {nsites}")
            elif key == "columns":
                columns = rest.split()
                if tuple(columns[:7]) != _REQUIRED_COLUMNS:
                    fail(lineno, f"'columns' must start with {' '.join(_REQUIRED_COLUMNS)}, got {rest!r}")
                if cell is None:
                    fail(lineno, "'cell' must come before 'columns'")
                if nsites is None:
                    fail(lineno, "'nsites' must come before 'columns'")
            else:
                fail(lineno, f"unknown keyword {key!r}")
            continue
        f = s.split()
        if len(rows) >= nsites:
            fail(lineno, f"more data rows than nsites = {nsites}")
        if len(f) != len(columns):
            fail(lineno, f"expected {len(columns)} fields, found {len(f)}")
        if f[0] != str(len(rows)):
            fail(lineno, f"site index {f[0]!r}, expected {len(rows)}")
        try:
            rows.append([float(v) for v in f[1:]])
        except ValueError:
            fail(lineno, f"bad number in data row: {s!r}")
    if columns is None:
        fail(len(text), "no 'columns' line")
    if len(rows) != nsites:
        fail(len(text), f"found {len(rows)} data rows, nsites = {nsites}")
    data = np.array(rows, dtype=float).reshape(nsites, len(columns) - 1)
    extra = {name: data[:, 6 + k] for k, name in enumerate(columns[7:])}
    frac = data[:, 0:3] - np.floor(data[:, 0:3])  # "%.12g" may print 0.9999999999999 as 1
    frac[frac >= 1.0] = 0.0
    sites = Sites(
        frac=frac,
        cart=data[:, 3:6].copy(),
        cell=_as_cell(cell),
        origin=origin,
        density=extra.pop("density", None),
        occupancy=extra.pop("occupancy", None),
        volume=extra.pop("volume", None),
        units=units,
        meta=meta,
        extra=extra,
    )
    return sites

"""Occupancy grids of ``fix occupancy/grid`` / :class:`ionsitu.core.OccupancyGrid`: the ``.npz``
(read, write), the merge of replicas, and the Gaussian cube of a grid given as arrays.

The ``.npz`` holds counts (ntypes, nx, ny, nz), cell (3, 3) mean cell (rows a, b, c), origin
(3,), nframes, types (atom types; [0] = whole group) and meta (a JSON string). Every cube file
is written by the C++ core (``OccupancyGrid::write_cube``): the fix's, and through
:func:`write_cube` those of grids that exist only as arrays (replicas merged by the report).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import write_atomic

__all__ = ["read_occupancy", "write_occupancy", "merge_grids", "write_cube"]


def read_occupancy(path) -> dict:
    """Read the ``.npz`` of fix occupancy/grid: dict with counts (ntypes, nx, ny, nz), cell
    (3, 3) mean cell, origin (3,), nframes, types (atom types; [0] = whole group), meta (dict)."""
    with np.load(str(path), allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    out["meta"] = json.loads(str(out["meta"]))
    out["nframes"] = float(out["nframes"])
    return out


def write_occupancy(path, counts, cell, origin, nframes, meta: dict, types=None) -> Path:
    """Write a grid in the ``.npz`` layout of fix occupancy/grid (atomically); ``counts``
    (ntypes, nx, ny, nz), ``types`` default ``[0]`` (whole group)."""
    counts = np.asarray(counts, float)
    types = np.zeros(len(counts), np.int64) if types is None else np.asarray(types, np.int64)
    return write_atomic(path, lambda fh: np.savez(fh, counts=counts, cell=np.asarray(cell, float),
                                                  origin=np.asarray(origin, float), nframes=np.float64(nframes),
                                                  types=types, meta=np.array(json.dumps(meta))))


def _core_grid(counts, cell, origin, nframes):
    """A one-grid :class:`ionsitu.core.OccupancyGrid` holding ``counts`` (nx, ny, nz) counted
    over ``nframes`` frames of mean cell ``cell`` (lower-triangular) and ``origin``."""
    from ..core import OccupancyGrid
    from .cell import lammps_box

    counts = np.asarray(counts, float)
    if counts.ndim != 3:
        raise ValueError(f"counts must be (nx, ny, nz), got shape {counts.shape}")
    w = float(nframes)
    if not w > 0:
        raise ValueError(f"nframes must be > 0, got {nframes}")
    lo, h = lammps_box(cell, origin)
    g = OccupancyGrid(counts.shape, 1)
    g.deserialize(np.concatenate([[1, *counts.shape, 1, w], lo * w, h * w, counts.ravel()]))
    return g


def merge_grids(grids) -> dict:
    """Sum of occupancy grids (dicts of :func:`read_occupancy`): counts summed (all grids of
    each into one), cell and origin the frame-weighted means, nframes summed -- by the C++
    ``OccupancyGrid::merge`` (the one merge, :class:`ionsitu.core.OccupancyGrid`)."""
    shapes = {tuple(g["counts"].shape[1:]) for g in grids}
    if len(shapes) != 1:
        raise ValueError(f"replicas have different grid shapes {sorted(shapes)}")
    w = np.array([g["nframes"] for g in grids], dtype=float)
    if w.sum() <= 0 or np.any(w < 0):
        raise ValueError(f"no frames counted (nframes = {w.tolist()})")
    used = [(g, wi) for g, wi in zip(grids, w) if wi > 0]  # a grid of no frames adds nothing
    total = _core_grid(used[0][0]["counts"].sum(axis=0), used[0][0]["cell"], used[0][0]["origin"], used[0][1])
    for g, wi in used[1:]:
        total.merge(_core_grid(g["counts"].sum(axis=0), g["cell"], g["origin"], wi))
    return {"counts": total.counts[0], "cell": total.cell, "origin": total.origin, "nframes": float(total.nframes),
            "meta": grids[0]["meta"]}


def write_cube(path, counts, cell, origin, *, to_bohr: float, comment: str = "", nframes: float = 1.0,
               norm: str = "probability", atoms=None, per_angstrom3: bool = False) -> Path:
    """Gaussian cube of ``counts`` (nx, ny, nz) on ``cell`` (lower-triangular rows a, b, c) and
    ``origin``, written by the fix's own writer (``OccupancyGrid::write_cube`` through
    :class:`ionsitu.core.OccupancyGrid`: one layout for every cube, docs/file_formats.md).

    Lengths times ``to_bohr`` (1 for lj); ``norm`` "probability" (per bohr^3, integral 1),
    "density" (atoms per bohr^3 averaged over ``nframes``) or "counts". ``atoms``: an
    ``ase.Atoms`` (e.g. the framework; positions in the run's length unit) listed in the
    header; ``per_angstrom3``: densities per Å^3 (VESTA/OVITO), for styles with a known
    length in Å (not lj). Atomic write."""
    if per_angstrom3 and float(to_bohr) == 1.0:
        raise ValueError("per_angstrom3 needs lengths in a unit with a known length in angstrom; "
                         f"to_bohr = {to_bohr} (lj/electron lengths are written unconverted)")
    g = _core_grid(counts, cell, origin, nframes)
    kw = {}
    if atoms is not None:
        kw = {"atom_numbers": atoms.numbers, "atom_positions": atoms.positions}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    g.write_cube(path, -1, norm, float(to_bohr), comment or "ionsitu: occupancy grid", per_angstrom3=per_angstrom3,
                 **kw)
    return path

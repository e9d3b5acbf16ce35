"""Occupancy grids of ``fix occupancy/grid`` / :class:`ionsitu.core.OccupancyGrid`: the ``.npz``
(read, write), the merge of replicas, and the Gaussian cube of a merged grid.

The ``.npz`` holds counts (ntypes, nx, ny, nz), cell (3, 3) mean cell (rows a, b, c), origin
(3,), nframes, types (atom types; [0] = whole group) and meta (a JSON string). The cube files
of a run are written by the C++ core (``OccupancyGrid::write_cube``); :func:`write_cube` is the
one Python writer, for grids that exist only as arrays (replicas merged by the report), in the
same layout.
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


def merge_grids(grids) -> dict:
    """Sum of occupancy grids (dicts of :func:`read_occupancy`): counts summed (all grids of
    each into one), cell and origin the frame-weighted means, nframes summed."""
    shapes = {tuple(g["counts"].shape[1:]) for g in grids}
    if len(shapes) != 1:
        raise ValueError(f"replicas have different grid shapes {sorted(shapes)}")
    w = np.array([g["nframes"] for g in grids], dtype=float)
    if w.sum() <= 0:
        raise ValueError("no frames counted")
    return {"counts": np.sum([g["counts"].sum(axis=0) for g in grids], axis=0),
            "cell": np.sum([wi * g["cell"] for wi, g in zip(w, grids)], axis=0) / w.sum(),
            "origin": np.sum([wi * g["origin"] for wi, g in zip(w, grids)], axis=0) / w.sum(),
            "nframes": float(w.sum()), "meta": grids[0]["meta"]}


def write_cube(path, counts, cell, origin, *, to_bohr: float, comment: str = "") -> Path:
    """Gaussian cube of the probability density of ``counts`` (nx, ny, nz) on ``cell`` (rows
    a, b, c) and ``origin``; lengths times ``to_bohr`` (1 for lj), density per bohr^3; no atoms;
    x slowest, z fastest, six values per line (as fix occupancy/grid writes it). Atomic write."""
    counts = np.asarray(counts, float)
    n = counts.shape
    cellb = np.asarray(cell, float) * to_bohr
    vvox = abs(np.linalg.det(cellb)) / counts.size
    rho = counts / (counts.sum() * vvox) if counts.sum() > 0 else counts
    lines = [comment or "ionsitu campaign report: merged occupancy grid",
             "probability density of the mobile ions (integral over the cell = 1), per bohr^3",
             f"{0:5d} " + " ".join(f"{v:.6f}" for v in np.asarray(origin, float) * to_bohr)]
    for k in range(3):
        lines.append(f"{n[k]:5d} " + " ".join(f"{v:.6f}" for v in cellb[k] / n[k]))
    flat = rho.ravel()  # C order: x slowest, z fastest
    full, rest = divmod(len(flat), 6)  # one %-format of all values (a loop of f-strings took 0.2 s)
    rows = [" ".join(["%.6e"] * 6)] * full + ([" ".join(["%.6e"] * rest)] if rest else [])
    body = ["\n".join(rows) % tuple(flat.tolist())] if len(flat) else []
    return write_atomic(path, "\n".join(lines + body) + "\n")

"""Periodic cells: the one builder of a cell matrix from LAMMPS box parameters, its inverse,
and the minimum image.

A cell is a (3, 3) array whose ROWS are the edge vectors a, b, c (ASE convention), in the
length unit of the run. A LAMMPS box (xprd, yprd, zprd, yz, xz, xy) gives a = (xprd, 0, 0),
b = (xy, yprd, 0), c = (xz, yz, zprd). Cartesian = origin + fractional @ cell.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lammps_cell", "lammps_box", "as_cell", "min_image_frac", "unwrap"]


def lammps_cell(xprd, yprd, zprd, yz=0.0, xz=0.0, xy=0.0) -> np.ndarray:
    """(3, 3) cell (rows a, b, c) of a LAMMPS box given as (xprd, yprd, zprd, yz, xz, xy)."""
    return np.array([[xprd, 0.0, 0.0], [xy, yprd, 0.0], [xz, yz, zprd]], dtype=float)


def as_cell(cell) -> np.ndarray:
    """A (3, 3) cell from (3, 3) rows a, b, c, (3,) lengths or (6,) LAMMPS h; ValueError if
    singular or not finite."""
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


def lammps_box(cell=None, origin=(0.0, 0.0, 0.0), h=None):
    """(lo (3,), h (6,)) of a LAMMPS box from a lower-triangular cell (rows a, b, c) or h.

    ``h`` = (xprd, yprd, zprd, yz, xz, xy) takes precedence over ``cell``.  A cell with
    non-zero upper entries is refused (rotate it to LAMMPS's convention first).
    """
    lo = np.asarray(origin, dtype=np.float64).reshape(3)
    if h is not None:
        hh = np.asarray(h, dtype=np.float64).reshape(6)
    else:
        c = np.asarray(cell, dtype=np.float64)
        if c.shape == (3,):
            c = np.diag(c)
        if c.shape != (3, 3):
            raise ValueError(f"cell must be (3, 3) rows a, b, c or (3,) lengths, got shape {c.shape}")
        if c[0, 1] != 0 or c[0, 2] != 0 or c[1, 2] != 0:
            raise ValueError("cell must be lower-triangular (LAMMPS convention a = (xprd,0,0), "
                             f"b = (xy,yprd,0), c = (xz,yz,zprd)); got {c.tolist()}")
        hh = np.array([c[0, 0], c[1, 1], c[2, 2], c[2, 1], c[2, 0], c[1, 0]])
    if not (hh[0] > 0 and hh[1] > 0 and hh[2] > 0):
        raise ValueError(f"box lengths must be > 0, got {hh[:3].tolist()}")
    return lo, hh


def min_image_frac(ds: np.ndarray, cell: np.ndarray) -> np.ndarray:
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



def unwrap(x, image=None, cell=None) -> np.ndarray:
    """Unwrapped Cartesian positions x + image @ cell.

    x: (N, 3) wrapped positions; image: (N, 3) integer image flags; cell: (3, 3) rows are
    the box vectors a, b, c (LAMMPS: a = (xprd, 0, 0), b = (xy, yprd, 0), c = (xz, yz, zprd)).
    """
    x = np.asarray(x, dtype=np.float64)
    if image is None:
        return x
    if cell is None:
        raise ValueError("image flags need the cell (3x3 box vectors) to unwrap positions")
    return x + np.asarray(image, dtype=np.float64) @ np.asarray(cell, dtype=np.float64)

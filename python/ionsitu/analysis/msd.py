"""MSD of existing trajectories with the C++ correlator of ``fix msd/cross``, and the drift
reference it removes (the binding :class:`ionsitu.core.MSDCorrelator` takes arrays only)."""

from __future__ import annotations

import numpy as np

__all__ = ["centre_of_mass", "msd_from_frames"]


def centre_of_mass(x, masses=None, ref=None) -> np.ndarray:
    """(3,) mass-weighted centre of mass of the positions x (n, 3) (of the atoms ``ref``, a
    mask or index array; default all), equal masses by default: the drift reference of
    ``fix msd/cross drift``."""
    x = np.asarray(x, dtype=np.float64)
    m = np.ones(len(x)) if masses is None else np.asarray(masses, dtype=np.float64)
    idx = slice(None) if ref is None else ref
    return (m[idx, None] * x[idx]).sum(axis=0) / m[idx].sum()


def msd_from_frames(frames, masses=None, group=None, types=None, charges=None, block=10,
                    levels=7, nevery=1, dt=1.0, units="lj", drift="all", cell=None):
    """MSD results of a trajectory of unwrapped positions, as the fix computes them.

    frames : (nframes, natoms_all, 3) unwrapped positions of the whole system.
    masses : (natoms_all,) masses for the drift (default equal masses).
    group : boolean mask or index array of the analysed atoms (default all).
    types : (natoms_all,) atom types (needed with charges).
    drift : "all" (centre of mass of the whole system), "none", or a boolean mask /
        index array of the reference group.
    cell : optional (nframes, 3, 3) or (3, 3) box vectors, for the mean volume.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3 or frames.shape[2] != 3:
        raise ValueError(f"frames must have shape (nframes, natoms, 3), got {frames.shape}")
    nall = frames.shape[1]
    m = np.ones(nall) if masses is None else np.asarray(masses, dtype=np.float64)
    sel = np.arange(nall) if group is None else np.arange(nall)[group]
    gtypes = None if types is None else np.asarray(types)[sel]
    from ..core import MSDCorrelator  # compiled

    corr = MSDCorrelator(len(sel), block=block, levels=levels, types=gtypes, charges=charges,
                         nevery=nevery, dt=dt, units=units)
    if isinstance(drift, str) and drift not in ("all", "none"):
        raise ValueError(f"drift must be 'all', 'none' or a group mask, got {drift!r}")
    ref = None if isinstance(drift, str) else np.arange(nall)[drift]
    for f, x in enumerate(frames):
        com = None if isinstance(drift, str) and drift == "none" else centre_of_mass(x, m, ref)
        box = None if cell is None else (cell if np.ndim(cell) == 2 else cell[f])
        corr.add_frame(x[sel], cell=box, drift=com)
    corr.drift = drift if isinstance(drift, str) else "group"
    return corr.result()

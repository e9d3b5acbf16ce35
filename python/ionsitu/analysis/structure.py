"""Radial distribution functions from LAMMPS's ``compute rdf`` (averaged by ``fix ave/time``):
g(r) per pair averaged over blocks and replicas, the potential of mean force
W(r) = -k_B T ln g(r), first-shell coordination numbers and the barrier of W(r).

``compute rdf`` gives, per pair of types (i, j), ``g(r)`` in bins of width r_max / bins
(centres r) and the cumulative coordination ``coord(r)``: the mean number of j atoms within
the outer edge of the bin around an i atom (LAMMPS documentation of compute rdf).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RDF", "FirstShell", "rdf_from_blocks", "average_rdfs", "potential_of_mean_force", "first_shell"]


@dataclass
class RDF:
    """g(r) of one or more pairs: ``r`` (nbins,) bin centres, ``g`` and ``coord`` (npairs,
    nbins) means, ``g_err`` / ``coord_err`` their 1-sigma errors (standard error over
    replicas with >= 2 replicas, else over the blocks of the run), ``n_blocks`` per replica."""

    r: np.ndarray
    g: np.ndarray
    g_err: np.ndarray
    coord: np.ndarray
    coord_err: np.ndarray
    n_blocks: list[int]

    @property
    def n_replicas(self) -> int:
        return len(self.n_blocks)


def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and its standard error (nan with a single value)."""
    m = x.mean(axis=0)
    if len(x) < 2:
        return m, np.full_like(m, np.nan)
    return m, x.std(axis=0, ddof=1) / np.sqrt(len(x))


def rdf_from_blocks(rows: np.ndarray) -> RDF:
    """The RDF of one run from its ``fix ave/time`` blocks (n, nbins, 1 + 2 npairs) of
    ``c_rdf[*]``: columns r, then g and coord of each pair. Mean over the blocks (each the
    average of the same number of samples), error = standard error over the blocks."""
    rows = np.asarray(rows, float)
    if rows.ndim != 3 or rows.shape[0] == 0 or rows.shape[2] < 3 or rows.shape[2] % 2 == 0:
        raise ValueError(f"expected blocks (n >= 1, nbins, 1 + 2 npairs) of compute rdf, got shape {rows.shape}")
    g, g_err = _mean_se(rows[:, :, 1::2])
    c, c_err = _mean_se(rows[:, :, 2::2])
    return RDF(rows[0, :, 0].copy(), g.T, g_err.T, c.T, c_err.T, [rows.shape[0]])


def average_rdfs(runs: list[RDF]) -> RDF:
    """Replicas averaged: mean of the replicas' means; error = standard error over the
    replicas (>= 2), else the single run's own error."""
    if not runs:
        raise ValueError("no RDF to average")
    if len(runs) == 1:
        return runs[0]
    r = runs[0].r
    for k, run in enumerate(runs[1:], 1):
        if run.g.shape != runs[0].g.shape or not np.allclose(run.r, r):
            raise ValueError(f"replica {k}: bins or pairs differ from replica 0 ({run.g.shape} vs {runs[0].g.shape})")
    g, g_err = _mean_se(np.array([x.g for x in runs]))
    c, c_err = _mean_se(np.array([x.coord for x in runs]))
    return RDF(r, g, g_err, c, c_err, [n for x in runs for n in x.n_blocks])


def potential_of_mean_force(g, kT: float) -> np.ndarray:
    """W(r) = -kT ln g(r) (energy units of kT); nan where g(r) = 0."""
    g = np.asarray(g, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(g > 0, -kT * np.log(np.where(g > 0, g, 1.0)), np.nan)


@dataclass
class FirstShell:
    """First coordination shell of one g(r): first peak (maximum of g = minimum of W) at
    ``r_peak``, first minimum of g (maximum of W) at ``r_min``, coordination ``n`` = coord at
    the minimum, ``barrier`` = W(r_min) - W(r_peak) = kT ln(g(r_peak) / g(r_min)) (None when
    g(r_min) = 0: the shell is never left during the sampling)."""

    r_peak: float
    g_peak: float
    r_min: float
    g_min: float
    n: float
    barrier: float | None


def first_shell(r, g, coord, kT: float) -> FirstShell:
    """The first shell of ``g`` (bins ``r``, cumulative coordination ``coord``).

    First peak: the first local maximum of g with g >= 1 (the first shell denser than the
    average). First minimum: the smallest g between the peak and the rise of the next shell
    (the next bin where g comes back up to >= 1; the end of the range if none); of equal
    values the first (an empty gap in a crystal: the coordination counts the first shell only).
    """
    r, g, coord = (np.asarray(x, float) for x in (r, g, coord))
    n = len(g)
    peaks = [i for i in range(n) if g[i] >= 1.0 and (i == 0 or g[i] >= g[i - 1]) and (i == n - 1 or g[i] > g[i + 1])]
    if not peaks:
        raise ValueError(f"g(r) never reaches 1 below r = {r[-1]:g} (max {g.max():.3g}): no first shell; "
                         "increase r_max")
    ip = peaks[0]
    below = np.flatnonzero(g[ip:] < 1.0)
    if len(below) == 0:
        raise ValueError(f"g(r) does not fall below 1 after the first peak at r = {r[ip]:g}: increase r_max")
    start = ip + int(below[0])
    rise = np.flatnonzero(g[start:] >= 1.0)
    end = start + int(rise[0]) if len(rise) else n
    im = start + int(np.argmin(g[start:end]))
    barrier = float(kT * np.log(g[ip] / g[im])) if g[im] > 0 else None
    return FirstShell(float(r[ip]), float(g[ip]), float(r[im]), float(g[im]), float(coord[im]), barrier)

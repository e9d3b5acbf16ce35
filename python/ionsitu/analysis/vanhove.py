"""The self part of the van Hove function G_s(r, t) from ``fix vanhove`` output.

The file (docs/file_formats.md, tag ``ionsitu-vanhove``) has one row per lag of the
multiple-window scheme with G_s(r, t) in ``bins`` bins of [0, rmax) (distance^-3, so that
int 4 pi r^2 G_s dr = 1 when rmax covers every displacement); ``ionsitu.core.VanHoveSelf``
computes the same from the unwrapped positions of a trajectory.

Non-Gaussianity: for a Gaussian displacement distribution with the same mean-square
displacement <r^2> = msd(t) (van Hove, Phys. Rev. 95 (1954) 249; e.g. Kob & Andersen,
Phys. Rev. E 51 (1995) 4626),

    4 pi r^2 G_s^gauss(r, t) = 4 pi r^2 (3 / (2 pi <r^2>))^(3/2) exp(-3 r^2 / (2 <r^2>)),

and :func:`non_gaussianity` reports (1/2) int |4 pi r^2 (G_s - G_s^gauss)| dr, 0 for a
Gaussian and 1 for disjoint distributions (hops show as shells at the hop distances).

Distinct part (``fix vanhove ... lags ... dfile``, tag ``ionsitu-vanhove-distinct``):
G_d(r, t) per lag of ``lags``; :func:`distinct_part` gives G_d / rho with rho = (N - 1)/V,
which is g(r) at t = 0 and tends to 1 at long times (the memory of the neighbour shells
decays as the ions move; Hansen & McDonald, Theory of Simple Liquids, ch. 7).

Units: r in the length unit of the run's ``units`` style (``ionsitu.units.labels``), G_s in
length^-3, 4 pi r^2 G_s in length^-1, time in the time unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.vanhove import VanHoveDistinctResult, VanHoveResult, read_vanhove, read_vanhove_distinct
from ..units import labels

__all__ = ["VanHoveResult", "read_vanhove", "VanHoveDistinctResult", "read_vanhove_distinct",
           "distinct_part", "self_part", "gaussian_self_part", "non_gaussianity",
           "SelfPartSummary", "summarise"]


def self_part(res: VanHoveResult, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(r, 4 pi r^2 G_s(r, t)) at lag row ``lag``: bin centres (length) and the radial density
    (1/length), the histogram over the exact shell volumes divided by the bin width."""
    width = res.rmax / res.bins
    return res.r, res.gs[lag] * res.shell_volume / width


def gaussian_self_part(r, msd: float) -> np.ndarray:
    """4 pi r^2 G_s(r) of the Gaussian with mean-square displacement ``msd`` (length^2), at r."""
    if not msd > 0:
        raise ValueError(f"msd must be > 0, got {msd}")
    r = np.asarray(r, dtype=np.float64)
    return 4.0 * np.pi * r ** 2 * (3.0 / (2.0 * np.pi * msd)) ** 1.5 * np.exp(-1.5 * r ** 2 / msd)


def non_gaussianity(res: VanHoveResult, lag: int) -> float:
    """(1/2) int |4 pi r^2 (G_s - G_s^gauss)| dr at lag row ``lag`` (0: Gaussian), the Gaussian
    integrated over the same bins (error function) so that a Gaussian gives 0 up to noise."""
    from scipy.special import erf

    msd = float(res.msd[lag])
    if not msd > 0:
        raise ValueError(f"lag row {lag} has no displacements counted (msd {msd})")
    a = np.sqrt(1.5 / msd)
    e = res.r_edges
    # the Maxwell distribution's cumulative: erf(a r) - 2 a r exp(-a^2 r^2) / sqrt(pi)
    cdf = erf(a * e) - 2.0 * a * e * np.exp(-(a * e) ** 2) / np.sqrt(np.pi)
    return 0.5 * float(np.abs(res.gs[lag] * res.shell_volume - np.diff(cdf)).sum())


@dataclass
class SelfPartSummary:
    """Per lag row: time, msd, the fraction of displacements below rmax and the non-Gaussianity."""

    time: np.ndarray
    msd: np.ndarray
    fraction_counted: np.ndarray
    non_gaussianity: np.ndarray
    length_unit: str
    time_unit: str


def summarise(res: VanHoveResult) -> SelfPartSummary:
    """The lags with displacements counted, in order of time."""
    rows = np.flatnonzero(res.pairs > 0)
    rows = rows[np.argsort(res.time[rows], kind="stable")]
    lab = labels(res.units)
    return SelfPartSummary(res.time[rows], res.msd[rows], (res.gs[rows] * res.shell_volume).sum(axis=1),
                           np.array([non_gaussianity(res, i) for i in rows]), lab.get("length", ""),
                           lab.get("time", ""))


def distinct_part(res: VanHoveDistinctResult, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """(r, G_d(r, t) / rho) at lag row ``lag``: bin centres (length) and G_d over the pair
    density rho = (N - 1) / V (dimensionless; g(r) at t = 0), V from the box ``h`` in the meta."""
    h = np.asarray(res.meta["h"], dtype=np.float64)
    rho = (res.natoms - 1) / float(h[0] * h[1] * h[2])
    return res.r, res.gd[lag] / rho

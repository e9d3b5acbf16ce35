"""Density of atomistic states (DOAS): histograms of the per-atom potential energies of the
mobile ions (LAMMPS ``compute pe/atom``), per temperature; their width and overlap, and the
mean per-ion energy vs T with a two-line fit whose break is the onset temperature T_c.

Histograms are in the layout of ``fix ave/histo ... beyond extra``: ``bins + 2`` counts, the
first and the last those below / above the range [lo, hi]; :func:`histogram` makes the same
counts from energies in hand (e.g. a LAMMPS dump with a ``c_pe`` column). Moments (mean,
width = standard deviation) are those of the in-range values at the bin centres (resolution:
bin width / sqrt(12)). Overlap of two DOAS p, q: the overlap coefficient sum_E min(p, q) dE
(1: identical, 0: disjoint), the measure of how far the energy distributions of the
temperatures merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.trajectory import iter_lammps_dump
from .arrhenius import HingeFit, fit_hinge

__all__ = ["DOAS", "histogram", "doas_from_counts", "doas_from_dump", "overlap", "onset_temperature"]


def histogram(energies, lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts (bins + 2,) of ``energies`` as ``fix ave/histo ... beyond extra`` bins them:
    bin = int((E - lo) / (hi - lo) * bins) (E = hi in the last), E < lo and E > hi extra."""
    e = np.asarray(energies, float).ravel()
    if not hi > lo or bins < 1:
        raise ValueError(f"need lo < hi and bins >= 1, got lo = {lo!r}, hi = {hi!r}, bins = {bins!r}")
    k = np.minimum(((e - lo) * (bins / (hi - lo))).astype(np.int64), bins - 1) + 1
    k = np.where(e < lo, 0, np.where(e > hi, bins + 1, k))
    return np.bincount(k, minlength=bins + 2).astype(float)


@dataclass
class DOAS:
    """Normalised DOAS of one temperature and type: ``energy`` (bins,) centres, ``density``
    (bins,) with sum(density) * de + below + above = 1, fractions ``below`` / ``above`` the
    range, ``n_values`` energies counted, ``mean`` / ``width`` of the in-range values and the
    ``mean_err`` (standard error over replicas, >= 2, else over the blocks of the run)."""

    energy: np.ndarray
    density: np.ndarray
    de: float
    below: float
    above: float
    n_values: int
    mean: float
    width: float
    mean_err: float


def _moments(c, e):
    n = c.sum()
    if n <= 0:
        return np.nan, np.nan
    m = float((c * e).sum() / n)
    return m, float(np.sqrt((c * (e - m) ** 2).sum() / n))


def doas_from_counts(counts, lo: float, hi: float) -> DOAS:
    """The DOAS from histograms (r, bins + 2) in the fix ave/histo layout, one row per replica
    or per block of a single run (the rows' own means give ``mean_err``), summed."""
    counts = np.atleast_2d(np.asarray(counts, float))
    nb = counts.shape[1] - 2
    if nb < 1:
        raise ValueError(f"expected counts of bins + 2 (beyond extra), got {counts.shape[1]}")
    de = (hi - lo) / nb
    e = lo + (np.arange(nb) + 0.5) * de
    tot = counts.sum(axis=0)
    n = tot.sum()
    if n <= 0:
        raise ValueError("empty histogram: no energy was counted")
    mean, width = _moments(tot[1:-1], e)
    per = np.array([_moments(c[1:-1], e)[0] for c in counts if c[1:-1].sum() > 0])
    err = float(per.std(ddof=1) / np.sqrt(len(per))) if len(per) >= 2 else np.nan
    return DOAS(e, tot[1:-1] / (n * de), float(de), float(tot[0] / n), float(tot[-1] / n), int(round(n)),
                mean, width, err)


def overlap(a: DOAS, b: DOAS) -> float:
    """Overlap coefficient sum min(p_a, p_b) dE of two DOAS on the same bins."""
    if a.energy.shape != b.energy.shape or not np.allclose(a.energy, b.energy):
        raise ValueError("the two DOAS have different bins")
    return float(np.minimum(a.density, b.density).sum() * a.de)


def onset_temperature(T, mean_energy, mean_energy_err=None, *, criterion: str = "BIC") -> HingeFit:
    """Two straight lines of the mean per-ion energy vs T joined at T_c (``x_c`` of the
    :class:`ionsitu.analysis.arrhenius.HingeFit`; ``x_c_range`` its approx. 68 % interval,
    ``extrapolate_low(T)`` the low-T branch with its interval). Needs >= 5 temperatures."""
    return fit_hinge(T, mean_energy, mean_energy_err, criterion=criterion)


def doas_from_dump(path, types, lo: float, hi: float, bins: int, *, column: str = "c_pe", min_step: int = 0,
                   blocks: int = 10) -> dict[int, DOAS]:
    """Offline DOAS per type from the per-atom energies (``column``, e.g. of ``compute pe/atom``)
    of a LAMMPS text dump with positions (read by :func:`ionsitu.io.trajectory.iter_lammps_dump`),
    frames at steps >= ``min_step``; binned as fix ave/histo does (:func:`histogram`). The frames
    are summed in ``blocks`` contiguous blocks whose means give ``mean_err``."""
    types = [int(t) for t in np.atleast_1d(types)]
    rows: dict[int, list] = {t: [] for t in types}
    for fr in iter_lammps_dump(path, unwrap="minimum-image", columns=(column,)):
        if fr.step is not None and fr.step < min_step:
            continue
        e = fr.values[column]
        for t in types:
            rows[t].append(histogram(e[fr.types == t], lo, hi, bins))
    out = {}
    for t in types:
        if not rows[t]:
            raise ValueError(f"{path}: no frame at step >= {min_step}")
        r = np.array(rows[t])
        nb = max(1, min(blocks, len(r)))
        out[t] = doas_from_counts(np.array([x.sum(axis=0) for x in np.array_split(r, nb)]), lo, hi)
        if out[t].n_values == 0:
            raise ValueError(f"{path}: no atom of type {t}")
    return out

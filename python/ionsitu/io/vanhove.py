"""Reader of the van Hove file of ``fix vanhove`` (and ``ionsitu.core.VanHoveSelf.write``).

Layout (docs/file_formats.md): column names on line 1 (``lag_steps time n_origins pairs msd
gs_0 .. gs_{n-1}``), ``# ionsitu-vanhove 1`` on line 2, ``# meta {json}`` on line 3, then one
row per lag of the multiple-window scheme.  ``gs_b`` is G_s(r, t) (length^-3) in bin b of
width rmax / bins; ``pairs`` the (atom, origin) pairs of the lag, ``msd`` their mean |dr|^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tagged import read_tagged_table

VANHOVE_TAG = "# ionsitu-vanhove"
READ_VERSIONS = (1,)


@dataclass
class VanHoveResult:
    """G_s(r, t) of ``fix vanhove``: arrays indexed by lag (rows) and bin (columns)."""

    meta: dict
    lag_steps: np.ndarray   #: (nlags,) lag in MD steps
    time: np.ndarray        #: (nlags,) lag in time units of ``units``
    n_origins: np.ndarray   #: (nlags,) origins averaged
    pairs: np.ndarray       #: (nlags,) (atom, origin) pairs
    msd: np.ndarray         #: (nlags,) mean |dr|^2 (distance units^2)
    gs: np.ndarray          #: (nlags, bins) G_s (distance units^-3)

    @property
    def rmax(self) -> float:
        return float(self.meta["rmax"])

    @property
    def bins(self) -> int:
        return int(self.meta["bins"])

    @property
    def units(self) -> str:
        return self.meta["units"]

    @property
    def r_edges(self) -> np.ndarray:
        """(bins + 1,) bin edges (distance units)."""
        return np.arange(self.bins + 1) * (self.rmax / self.bins)

    @property
    def r(self) -> np.ndarray:
        """(bins,) bin centres (distance units)."""
        e = self.r_edges
        return 0.5 * (e[1:] + e[:-1])

    @property
    def shell_volume(self) -> np.ndarray:
        """(bins,) 4/3 pi (r_hi^3 - r_lo^3) of each bin."""
        e = self.r_edges
        return 4.0 / 3.0 * np.pi * (e[1:] ** 3 - e[:-1] ** 3)

    @property
    def counts(self) -> np.ndarray:
        """(nlags, bins) integer histogram of |dr| (pairs per bin), recovered from G_s."""
        return np.rint(self.gs * self.pairs[:, None] * self.shell_volume[None, :]).astype(np.int64)


def from_table(meta: dict, names: list[str], table: np.ndarray) -> VanHoveResult:
    bins = int(meta["bins"])
    want = ["lag_steps", "time", "n_origins", "pairs", "msd"] + [f"gs_{b}" for b in range(bins)]
    if list(names) != want:
        raise ValueError(f"van Hove table: columns {list(names)[:6]}... do not match bins {bins}")
    t = np.asarray(table, dtype=np.float64)
    return VanHoveResult(meta, t[:, 0].astype(np.int64), t[:, 1], t[:, 2].astype(np.int64),
                         t[:, 3].astype(np.int64), t[:, 4], t[:, 5:])


def read_vanhove(path) -> VanHoveResult:
    """Read a van Hove file (tag ``ionsitu-vanhove``)."""
    names, meta, table = read_tagged_table(path, VANHOVE_TAG, READ_VERSIONS)
    return from_table(meta, names, table)


VANHOVE_DISTINCT_TAG = "# ionsitu-vanhove-distinct"


@dataclass
class VanHoveDistinctResult:
    """G_d(r, t) of ``fix vanhove ... lags ... dfile``: arrays indexed by lag (rows) and bin."""

    meta: dict
    lag_steps: np.ndarray   #: (nlags,) lag in MD steps
    time: np.ndarray        #: (nlags,) lag in time units of ``units``
    n_origins: np.ndarray   #: (nlags,) reference snapshots averaged
    gd: np.ndarray          #: (nlags, bins) G_d (distance units^-3); G_d(r, 0) = rho g(r)

    rmax = VanHoveResult.rmax
    bins = VanHoveResult.bins
    units = VanHoveResult.units
    r_edges = VanHoveResult.r_edges
    r = VanHoveResult.r
    shell_volume = VanHoveResult.shell_volume

    @property
    def natoms(self) -> int:
        return int(self.meta["natoms"])

    @property
    def counts(self) -> np.ndarray:
        """(nlags, bins) integer histogram of pair distances, recovered from G_d."""
        norm = self.n_origins[:, None] * self.natoms * self.shell_volume[None, :]
        return np.rint(self.gd * norm).astype(np.int64)


def distinct_from_table(meta: dict, names: list[str], table: np.ndarray) -> VanHoveDistinctResult:
    bins = int(meta["bins"])
    want = ["lag_steps", "time", "n_origins"] + [f"gd_{b}" for b in range(bins)]
    if list(names) != want:
        raise ValueError(f"van Hove distinct table: columns {list(names)[:4]}... do not match bins {bins}")
    t = np.asarray(table, dtype=np.float64)
    return VanHoveDistinctResult(meta, t[:, 0].astype(np.int64), t[:, 1], t[:, 2].astype(np.int64), t[:, 3:])


def read_vanhove_distinct(path) -> VanHoveDistinctResult:
    """Read a van Hove distinct file (tag ``ionsitu-vanhove-distinct``)."""
    names, meta, table = read_tagged_table(path, VANHOVE_DISTINCT_TAG, READ_VERSIONS)
    return distinct_from_table(meta, names, table)

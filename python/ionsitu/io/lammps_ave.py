"""Output files of LAMMPS's own ``fix ave/time ... mode vector`` and ``fix ave/histo``.

A campaign member writes them with ``ave one`` and ``append`` (one block per ``Nfreq``
steps, appended by every attempt of the member). A resumed member rewrites the blocks after
its restart step: a block of a timestep written more than once is taken from its last
occurrence, so the blocks of a killed and resumed member are those of an uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["AveTimeBlocks", "HistoBlocks", "read_ave_time_vector", "read_ave_histo"]


@dataclass
class AveTimeBlocks:
    """Blocks of ``fix ave/time ... mode vector``: ``steps`` (n,), ``rows`` (n, nrows, ncols)
    without the row-index column; ``columns`` the names of the header."""

    steps: np.ndarray
    rows: np.ndarray
    columns: list[str]


@dataclass
class HistoBlocks:
    """Blocks of ``fix ave/histo``: ``steps`` (n,), bin centres ``coord`` (nbins,),
    ``counts`` (n, nbins); per block ``total``, ``missing`` (values outside the range that
    were not counted), ``vmin`` and ``vmax`` (extreme values of the block). With
    ``beyond extra`` the first and the last bin hold the values below / above the range
    (their coordinates are the range ends)."""

    steps: np.ndarray
    coord: np.ndarray
    counts: np.ndarray
    total: np.ndarray
    missing: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray


def _blocks(path, what: str):
    """(header comment lines, [(block header fields, [row fields ...]), ...]) of a LAMMPS
    block file; the last occurrence of a repeated timestep wins, blocks sorted by step."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    comments, blocks = [], {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            continue
        head = line.split()
        try:
            step, n = int(head[0]), int(head[1])
        except (ValueError, IndexError):
            raise ValueError(f"{path}:{i}: expected a block header 'TimeStep Number-of-rows', got {line!r}") from None
        rows = []
        while len(rows) < n and i < len(lines) and not lines[i].lstrip().startswith("#"):
            rows.append(lines[i].split())
            i += 1
        if len(rows) == n:  # else a block cut short by a kill while it was written: dropped
            blocks[step] = (head, rows)
    return comments, [blocks[s] for s in sorted(blocks)]


def read_ave_time_vector(path) -> AveTimeBlocks:
    """Read a ``fix ave/time ... mode vector`` file (every block, see the module docstring)."""
    comments, blocks = _blocks(path, "fix ave/time")
    columns = comments[2].split()[1:] if len(comments) >= 3 and comments[2].startswith("Row") else []
    if not blocks:
        return AveTimeBlocks(np.zeros(0, np.int64), np.zeros((0, 0, len(columns))), columns)
    nrows = {len(rows) for _, rows in blocks}
    if len(nrows) != 1:
        raise ValueError(f"{path}: blocks with different numbers of rows {sorted(nrows)}")
    steps = np.array([int(h[0]) for h, _ in blocks], np.int64)
    rows = np.array([[[float(x) for x in r[1:]] for r in rs] for _, rs in blocks])
    return AveTimeBlocks(steps, rows, columns)


def read_ave_histo(path) -> HistoBlocks:
    """Read a ``fix ave/histo`` file (every block, see the module docstring)."""
    _, blocks = _blocks(path, "fix ave/histo")
    if not blocks:
        z = np.zeros(0)
        return HistoBlocks(np.zeros(0, np.int64), z, np.zeros((0, 0)), z, z, z, z)
    nb = {len(rows) for _, rows in blocks}
    if len(nb) != 1:
        raise ValueError(f"{path}: blocks with different numbers of bins {sorted(nb)}")
    head = np.array([[float(x) for x in h[:6]] for h, _ in blocks])
    coord = np.array([float(r[1]) for r in blocks[0][1]])
    counts = np.array([[float(r[2]) for r in rs] for _, rs in blocks])
    return HistoBlocks(head[:, 0].astype(np.int64), coord, counts, head[:, 2], head[:, 3], head[:, 4], head[:, 5])

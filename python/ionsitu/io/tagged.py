"""The tagged table files of the fixes (fix vacf, fix vanhove): column names on line 1,
``<tag> <version>`` on line 2, ``# meta {json}`` on line 3, then rows (docs/file_formats.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["read_tagged_table"]


def read_tagged_table(path, tag: str, versions=(1,)):
    """(names, meta, table) of a tagged table file: names on line 1, ``<tag> <version>`` on
    line 2, ``# meta {json}`` on line 3, then rows; errors name the file and the problem."""
    path = Path(path)
    with open(path) as fh:
        names = fh.readline().split()
        tag_line = fh.readline().strip()
        meta_line = fh.readline()
    parts = tag_line.split()
    if len(parts) != 3 or " ".join(parts[:2]) != tag:
        raise ValueError(f"{path}: not a {tag[2:]} file (line 2 is {tag_line!r}, expected '{tag} 1')")
    if int(parts[2]) not in versions:
        raise ValueError(f"{path}: {tag[2:]} version {parts[2]} is not known (this reader reads {tuple(versions)})")
    if not meta_line.startswith("# meta "):
        raise ValueError(f"{path}: line 3 must be '# meta {{...}}', got {meta_line[:40]!r}")
    meta = json.loads(meta_line[len("# meta "):])
    table = np.loadtxt(path, comments="#", skiprows=1, ndmin=2)
    if table.shape[1] != len(names):
        raise ValueError(f"{path}: rows have {table.shape[1]} values for {len(names)} column names")
    return names, meta, table

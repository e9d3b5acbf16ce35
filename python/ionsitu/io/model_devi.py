"""DeePMD ``model_devi`` files (``out_file`` of ``pair_style deepmd``) of a campaign member."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_model_devi", "model_devi_files"]


def read_model_devi(paths) -> np.ndarray:
    """(steps, max force deviation) from DeePMD ``model_devi`` files of one member.

    ``paths`` in attempt order (a resumed member writes a new file per attempt); frames
    of an earlier attempt at or after the first step of a later one are superseded.
    Column ``max_devi_f`` is found by the header (else the 5th column).
    """
    steps, devs = np.zeros(0, np.int64), np.zeros(0)
    for p in paths:
        col = 4
        rows = []
        for line in Path(p).read_text().splitlines():
            if line.startswith("#"):
                names = line[1:].split()
                if "max_devi_f" in names:
                    col = names.index("max_devi_f")
                continue
            parts = line.split()
            if len(parts) > col:
                rows.append((int(float(parts[0])), float(parts[col])))
        if not rows:
            continue
        s = np.array([r[0] for r in rows], np.int64)
        d = np.array([r[1] for r in rows])
        # a step written twice (end of one run, setup of the next): keep the last
        _, last = np.unique(s[::-1], return_index=True)
        idx = np.sort(len(s) - 1 - last)
        s, d = s[idx], d[idx]
        keep = steps < s[0]
        steps, devs = np.concatenate([steps[keep], s]), np.concatenate([devs[keep], d])
    return np.column_stack([steps, devs]) if len(steps) else np.zeros((0, 2))


def model_devi_files(member_dir) -> list[Path]:
    """The member's model_devi*.out files in attempt order."""
    member_dir = Path(member_dir)

    def attempt(p):
        parts = p.name.split(".")
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 1

    return sorted(member_dir.glob("model_devi*.out"), key=attempt)

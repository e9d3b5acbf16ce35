"""Quenched snapshots of a campaign member ([analysis.doas] quench_every): one ``.npz`` per
snapshot, written atomically once its minimisation is done (``quench/quench_<step>.npz``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from .atomic import write_atomic

__all__ = ["write_quenched", "read_quenched", "quenched_files"]


def write_quenched(path, step: int, types, energies, meta: dict) -> Path:
    """Per-atom potential energies (energy units of the run) and types after the quench of the
    snapshot of ``step``; ``meta``: the minimisation (tolerances, iterations, total energy)."""
    buf = io.BytesIO()
    np.savez(buf, step=np.int64(step), types=np.asarray(types, np.int64), energies=np.asarray(energies, float),
             meta=np.array(json.dumps(meta)))
    return write_atomic(path, buf.getvalue())


def read_quenched(path) -> dict:
    """{'step', 'types', 'energies', 'meta'} of a file of :func:`write_quenched`."""
    with np.load(path) as z:
        return {"step": int(z["step"]), "types": z["types"], "energies": z["energies"],
                "meta": json.loads(str(z["meta"]))}


def quenched_files(member_dir) -> list[Path]:
    """The member's quenched snapshots, by step."""
    return sorted(Path(member_dir).glob("quench/quench_*.npz"), key=lambda p: int(p.stem.split("_")[1]))

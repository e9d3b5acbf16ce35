"""JSON-safe values for the reports: numpy -> Python, paths -> str, NaN/inf -> None."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def json_safe(obj):
    """A copy of `obj` (dicts, lists, numpy arrays and scalars) that json.dumps accepts
    with allow_nan=False: non-finite floats become None (null)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj

"""Atomic file writes: the one temp-file + rename of ionsitu's Python side.

The C++ side (the fixes, :mod:`ionsitu.core`) writes through ``write_file_atomic`` of
src/core; this is its Python counterpart for the report, site files and campaign state.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path, content) -> Path:
    """Write ``content`` to ``path`` atomically: into ``<path>.tmp`` in the same folder, then
    renamed over ``path`` (readers see the old or the new file, never a partial one).

    ``content``: ``str`` (UTF-8 text), ``bytes``, or a callable ``f(fh)`` that writes into the
    binary file object ``fh`` (e.g. ``lambda fh: np.savez(fh, ...)``). Parent folders are
    created. Returns the path. On an error the temp file is removed and the old file kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            if isinstance(content, str):
                fh.write(content.encode())
            elif isinstance(content, (bytes, bytearray, memoryview)):
                fh.write(content)
            elif callable(content):
                content(fh)
            else:
                raise TypeError(f"content must be str, bytes or a callable, got {type(content).__name__}")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

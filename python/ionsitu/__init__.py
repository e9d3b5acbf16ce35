"""ionsitu: in-situ ion-transport analysis for LAMMPS.

Importing ionsitu (which the lammps module does through its plugin entry point) loads
libmpi so that ``lammps.lammps()`` works without importing mpi4py first.
"""

from importlib.metadata import PackageNotFoundError, version

from ._libs import preload_mpi
from .msd_file import MSDResult, read_msd

preload_mpi()

try:
    __version__ = version("ionsitu")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = ["MSDResult", "read_msd", "lammps_instance", "__version__"]


def lammps_instance(*args, **kwargs):
    """A ``lammps.lammps`` instance that sees ionsitu's fix styles.

    Same arguments as ``lammps.lammps``; ``cmdargs`` defaults to a quiet screen.
    """
    from lammps import lammps

    kwargs.setdefault("cmdargs", ["-screen", "none", "-log", "none", "-nocite"])
    return lammps(*args, **kwargs)

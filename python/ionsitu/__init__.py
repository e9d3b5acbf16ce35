"""ionsitu: in-situ ion-transport analysis for LAMMPS.

Layout: :mod:`ionsitu.core` (binding of the C++ accumulators: arrays in, arrays out),
:mod:`ionsitu.units` (the unit vocabulary), :mod:`ionsitu.io` (every file format),
:mod:`ionsitu.analysis` (transport, Arrhenius, sites, hops), :mod:`ionsitu.campaign`,
:mod:`ionsitu.report`, :mod:`ionsitu.api` (result objects for notebooks, :func:`load_campaign`)
and :mod:`ionsitu.cli`. ``ionsitu.transport``, ``ionsitu.arrhenius``,
``ionsitu.sites``, ``ionsitu.hops``, ``ionsitu.trajectory`` and ``ionsitu.plots`` are short names
of :mod:`ionsitu.analysis.transport`, ... (loaded on first use; ``import ionsitu.hops`` and
``from ionsitu.sites import read_sites`` work too, as does the former ``ionsitu.msd_file``).

Importing ionsitu (which the lammps module does through its plugin entry point) loads
libmpi so that ``lammps.lammps()`` works without importing mpi4py first.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from ._libs import preload_mpi
from ._version import __version__
from .io.msd import MSDResult, read_msd

preload_mpi()

__all__ = ["MSDResult", "read_msd", "lammps_instance", "Campaign", "load_campaign", "__version__"]

# Submodules load on first use: `import lammps` imports this package (plugin entry point),
# so it must stay light.
_SUBMODULES = {"core": ".core", "units": ".units", "analysis": ".analysis", "io": ".io", "cli": ".cli",
               "campaign": ".campaign", "report": ".report", "deepmd": ".deepmd", "api": ".api",
               "measurement": ".measurement",
               # short names of the analysis and I/O modules (ionsitu.transport.analyse(...))
               "transport": ".analysis.transport", "arrhenius": ".analysis.arrhenius", "sites": ".analysis.sites",
               "hops": ".analysis.hops", "trajectory": ".io.trajectory", "plots": ".report.plots"}


#: module paths of the short names (``import ionsitu.hops`` gives ionsitu.analysis.hops)
_ALIASES = {f"{__name__}.{k}": f"{__name__}{v}" for k, v in _SUBMODULES.items() if v.count(".") > 1}
_ALIASES[f"{__name__}.msd_file"] = f"{__name__}.io.msd"


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a short name as the module it names (one module object, two names)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _ALIASES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(_ALIASES[spec.name])

    def exec_module(self, module):
        pass


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.append(_AliasFinder())


def __getattr__(name):
    if name == "Campaign":
        from .campaign import Campaign

        return Campaign
    if name == "load_campaign":
        from .api import load_campaign

        return load_campaign
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

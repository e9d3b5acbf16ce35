"""The ``ionsitu`` command line."""

from __future__ import annotations

import argparse
import sys


def cmd_info(args) -> int:
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
    print(f"ionsitu fix styles seen by LAMMPS: {', '.join(ours) if ours else 'NONE'}")
    lmp.close()
    return 0 if ours else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ionsitu", description="In-situ ion-transport analysis for LAMMPS")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="versions of ionsitu, LAMMPS, MPI and the fix styles LAMMPS sees")
    p.set_defaults(func=cmd_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

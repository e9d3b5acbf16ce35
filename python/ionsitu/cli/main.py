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
    "info": ("ionsitu.cli.info", "versions of ionsitu, LAMMPS, MPI and the fix styles LAMMPS sees"),
    "analyze": ("ionsitu.cli.analyze", "D*, D_sigma, Haven ratio, conductivity from MSD files or run folders"),
    "hops": ("ionsitu.cli.hops", "hop statistics of a run folder"),
    "campaign": ("ionsitu.cli.campaign", "run or report a temperature x replica campaign"),
}


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

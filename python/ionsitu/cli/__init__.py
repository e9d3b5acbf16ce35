"""The ``ionsitu`` command line: :func:`main` (:mod:`.main`) and one module per subcommand
(:mod:`.info`, :mod:`.analyze`, :mod:`.hops`, :mod:`.campaign`), each with
``add_arguments(parser)`` and ``run(args) -> int``."""

from .main import main

__all__ = ["main"]

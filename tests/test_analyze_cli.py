"""`ionsitu analyze` on real fix msd/cross output: table, JSON (the numbers of
ionsitu.analysis.transport / ionsitu.analysis.arrhenius), figures, run-folder layouts, trajectories, errors.

The system is the model ion conductor of examples/quick written in metal units
(eps11 = 0.05 eV, sigma11 = 2.5 A, host mass 140, mobile mass 7; T* = T kB / 0.05 eV),
so temperatures are in K and the Arrhenius fits give eV and a 300 K extrapolation.
A campaign of short runs: T = 350, 450 (two replicas) and 550 K.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ionsitu
from ionsitu.analysis import arrhenius
from ionsitu.analysis import transport
from ionsitu.cli import main
from lammps_helpers import METAL_CONDUCTOR, run_lmp

PRODUCTION = """
fix             msd mobile msd/cross 10 charges 2 1.0 file msd.dat
{dump}
run             5000
"""
DUMP = "dump d all custom 10 dump.lammpstrj id type mass xu yu zu\ndump_modify d sort id format float %.17g"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    runs = [(350, 1, 4928), (450, 1, 4928), (450, 2, 771), (550, 1, 4928)]
    for T, rep, seed in runs:
        dump = DUMP if (T, rep) == (450, 1) else ""
        run_lmp(root / f"T{T}" / f"rep{rep}",
                METAL_CONDUCTOR.format(T=T, seed=seed) + PRODUCTION.format(dump=dump))
    return root


def analyze(argv, capsys):
    rc = main(["analyze"] + [str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def is_png(path):
    return path.exists() and path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_fit(js, fit):
    """A DiffusionFit dict from the JSON against the object from ionsitu.transport."""
    assert js["D"] == pytest.approx(fit.D, rel=1e-12)
    assert js["D_err"] == pytest.approx(fit.D_err, rel=1e-12)
    np.testing.assert_allclose(js["D_xyz"], fit.D_xyz, rtol=1e-12)
    np.testing.assert_allclose(js["D_xyz_err"], fit.D_xyz_err, rtol=1e-12)
    assert (js["t_start"], js["t_end"], js["unit"]) == (fit.t_start, fit.t_end, fit.unit)


def test_single_file(campaign, tmp_path, capsys):
    f = campaign / "T450" / "rep1" / "msd.dat"
    rc, out, err = analyze([f, "-T", 450, "--json", tmp_path / "a.json", "--plots", tmp_path / "figs"], capsys)
    assert rc == 0, err
    res = ionsitu.read_msd(f)
    rep = transport.analyse(res, 450.0)
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["units"] == "metal" and doc["arrhenius"] is None and len(doc["state_points"]) == 1
    sp = doc["state_points"][0]
    assert sp["T"] == 450 and sp["n_replicas"] == 1 and sp["drift"] == "all"
    r = sp["report"]
    check_fit(r["tracer"], rep.tracer)
    check_fit(r["collective"], rep.collective)
    # unresolved values are NaN in the API and null in the JSON
    for js, api in ((r["haven"]["H"], rep.haven.H), (r["conductivity"]["sigma"], rep.conductivity.sigma),
                    (r["conductivity"]["sigma_err"], rep.conductivity.sigma_err)):
        assert (js is None and np.isnan(api)) or js == pytest.approx(api, rel=1e-12)
    np.testing.assert_allclose(np.array(r["haven"]["H_xyz"], float), rep.haven.H_xyz, rtol=1e-12)
    assert r["haven"]["resolved"] == rep.haven.resolved
    assert r["conductivity"]["unit"] == "S/cm"
    # the table: every quantity with its value, error and unit, per direction
    assert "T = 450 K" in out and "units metal" in out and "drift removed: all" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("D* (tracer)"))
    assert f"{rep.tracer.D:.4g} ± {rep.tracer.D_err:.2g}" in line and line.rstrip().endswith("cm^2/s")
    assert f"{rep.tracer.D_xyz[2]:.4g} ± {rep.tracer.D_xyz_err[2]:.2g}" in line
    assert any(ln.strip().startswith("D_sigma (collective)") for ln in out.splitlines())
    assert any(ln.strip().startswith("H_R = D*/D_sigma") for ln in out.splitlines())
    assert any(ln.strip().startswith("sigma (z = 1)") and ln.rstrip().endswith("S/cm") for ln in out.splitlines())
    assert is_png(tmp_path / "figs" / "msd_T450.png")
    assert not (tmp_path / "figs" / "arrhenius.png").exists()
    assert doc["figures"] == [str(tmp_path / "figs" / "msd_T450.png")]


def test_campaign_folder_arrhenius(campaign, tmp_path, capsys):
    rc, out, err = analyze([campaign, "--json", tmp_path / "c.json", "--plots", tmp_path / "figs"], capsys)
    assert rc == 0, err
    doc = json.loads((tmp_path / "c.json").read_text())
    sps = doc["state_points"]
    assert [s["T"] for s in sps] == [350, 450, 550]
    assert [s["n_replicas"] for s in sps] == [1, 2, 1]
    # the numbers of ionsitu.transport, replicas averaged
    reps = []
    for s in sps:
        results = [ionsitu.read_msd(p) for p in s["inputs"]]
        rep = transport.analyse(results if len(results) > 1 else results[0], s["T"])
        check_fit(s["report"]["tracer"], rep.tracer)
        check_fit(s["report"]["collective"], rep.collective)
        reps.append(rep)
    assert sps[1]["report"]["tracer"]["n_replicas"] == 2
    # Arrhenius: ln D* vs 1/T weighted by the errors, extrapolated to 300 K
    T = np.array([350.0, 450.0, 550.0])
    D = np.array([r.tracer.D for r in reps])
    De = np.array([r.tracer.D_err for r in reps])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # chi2 warning of a short-run, 3-point fit
        fit = arrhenius.fit(T, D, "D", De)
    a = doc["arrhenius"]["tracer"]
    assert a["fit"]["Ea"] == pytest.approx(fit.Ea, rel=1e-10)
    assert a["fit"]["Ea_err"] == pytest.approx(fit.Ea_err, rel=1e-10)
    ex = fit.extrapolate(300.0)
    assert a["extrapolation"]["T"] == 300 and a["extrapolation"]["value"] == pytest.approx(ex.value, rel=1e-10)
    assert a["extrapolation"]["lo"] == pytest.approx(ex.lo, rel=1e-10)
    assert 0.02 < fit.Ea < 0.5                       # hopping ions: an activated process (eV)
    sig = doc["arrhenius"]["conductivity"]
    assert sig["kind"] == "sigma" and sig["fit"]["convention"].startswith("ln(sigma T)")
    assert "Arrhenius fits" in out and "at T = 300 K" in out
    for name in ("msd_T350.png", "msd_T450.png", "msd_T550.png", "arrhenius.png"):
        assert is_png(tmp_path / "figs" / name), name


def test_temperatures_matching_inputs(campaign, tmp_path, capsys):
    files = [campaign / f"T{T}" / "rep1" / "msd.dat" for T in (350, 450, 550)]
    rc, out, err = analyze(files + ["-T", 350, 450, 550, "--json", tmp_path / "m.json"], capsys)
    assert rc == 0, err
    doc = json.loads((tmp_path / "m.json").read_text())
    assert [s["T"] for s in doc["state_points"]] == [350, 450, 550]
    assert [s["n_replicas"] for s in doc["state_points"]] == [1, 1, 1]
    T = np.array([350.0, 450.0, 550.0])
    reps = [transport.analyse(ionsitu.read_msd(f), t) for f, t in zip(files, T)]
    # unresolved (not significantly positive) D_sigma are skipped, the same way
    Tk, y, e, skipped = arrhenius.resolved_points(T, [r.collective.D for r in reps], [r.collective.D_err for r in reps],
                                                  [r.collective.resolved for r in reps])
    a = doc["arrhenius"]["collective"]
    assert a["skipped_T_unresolved"] == skipped.tolist()
    if len(Tk) >= 2:
        assert a["fit"]["Ea"] == pytest.approx(arrhenius.fit(Tk, y, "D", e).Ea, rel=1e-10)
    else:
        assert "fit" not in a and "unresolved" in a["error"]


def test_window_and_charge(campaign, tmp_path, capsys):
    f = campaign / "T550" / "rep1" / "msd.dat"
    rc, out, err = analyze([f, "-T", 550, "--window", 0.5, 2.0, "--charge", 2, "--json", tmp_path / "w.json"],
                           capsys)
    assert rc == 0, err
    r = json.loads((tmp_path / "w.json").read_text())["state_points"][0]["report"]
    rep = transport.analyse(ionsitu.read_msd(f), 550.0, z=2.0, window=(0.5, 2.0))
    assert (r["tracer"]["t_start"], r["tracer"]["t_end"], r["tracer"]["window_method"]) == (0.5, 2.0, "user")
    check_fit(r["tracer"], rep.tracer)
    assert r["conductivity"]["z"] == 2.0
    c = rep.conductivity
    assert (r["conductivity"]["sigma"] is None and np.isnan(c.sigma)) or \
        r["conductivity"]["sigma"] == pytest.approx(c.sigma, rel=1e-12)
    z1 = transport.conductivity(rep.collective, 550.0, 1.0)
    assert (c.sigma, c.upper_95) == pytest.approx((4 * z1.sigma, 4 * z1.upper_95), rel=1e-12, nan_ok=True)
    assert "fit window 0.5–2 ps (user" in out


def test_trajectory_input_equals_fix_output(campaign, tmp_path, capsys):
    d = campaign / "T450" / "rep1"
    rc, out, err = analyze(["--trajectory", d / "dump.lammpstrj", "--species", 2, "--timestep", 0.001,
                            "--units", "metal", "-T", 450, "--json", tmp_path / "t.json", "--block", 10,
                            "--levels", 7, "--save-msd", tmp_path / "msd"], capsys)
    assert rc == 0, err
    assert "501 frames; correlator block/levels given" in out
    r = json.loads((tmp_path / "t.json").read_text())["state_points"][0]["report"]
    # the dump starts with the fix's first sample (step 1000), every 10 steps; with the fix's
    # block and levels: same MSD, same numbers
    rep = transport.analyse(ionsitu.read_msd(d / "msd.dat"), 450.0)
    assert r["tracer"]["D"] == pytest.approx(rep.tracer.D, rel=1e-8)
    assert r["collective"]["D"] == pytest.approx(rep.collective.D, rel=1e-6)
    saved = ionsitu.read_msd(tmp_path / "msd" / "dump.lammpstrj.msd.dat")
    np.testing.assert_allclose(saved.msd, ionsitu.read_msd(d / "msd.dat").msd, rtol=1e-10)


def test_errors(campaign, tmp_path, capsys):
    f = campaign / "T450" / "rep1" / "msd.dat"
    rc, _, err = analyze([f, campaign / "T550", "-T", 450, 550, 650], capsys)
    assert rc == 2 and "--temperature has 3 values but there are 2 state points" in err
    rc, _, err = analyze([campaign / "T450" / "rep1" / "dump.lammpstrj", "-T", 450], capsys)
    assert rc == 2 and "not an ionsitu MSD file (a LAMMPS dump: pass it with --trajectory)" in err
    rc, _, err = analyze([tmp_path / "nothing.dat", "-T", 450], capsys)
    assert rc == 2 and "input not found" in err
    rc, _, err = analyze([f], capsys)
    assert rc == 2 and "no temperature for" in err
    rc, _, err = analyze(["--trajectory", campaign / "T450" / "rep1" / "dump.lammpstrj", "--timestep", 0.001,
                          "-T", 450], capsys)
    assert rc == 2 and "--trajectory needs --species" in err
    rc, _, err = analyze(["--trajectory", campaign / "T450" / "rep1" / "dump.lammpstrj", "--species", "Li",
                          "--timestep", 0.001, "--units", "metal", "-T", 450], capsys)
    assert rc == 2 and "unknown species 'Li'" in err
    rc, _, err = analyze([f, "-T", 450, "--window", 100, 200], capsys)
    assert rc == 2 and "window (100.0, 200.0) holds 0 lags" in err
    rc, _, err = analyze([], capsys)
    assert rc == 2 and "nothing to analyse" in err


def test_console_script(campaign, tmp_path):
    exe = [sys.executable, "-m", "ionsitu.cli"]
    proc = subprocess.run(exe + ["analyze", str(campaign / "T550"), "-T", "550"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "D* (tracer)" in proc.stdout


def test_version_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ionsitu {ionsitu.__version__}"
    proc = subprocess.run([sys.executable, "-m", "ionsitu.cli", "--version"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"ionsitu {ionsitu.__version__}", proc.stderr


def test_json_to_stdout_and_the_option_aliases(campaign, tmp_path, capsys):
    """`--json` without FILE prints only the JSON (table on stderr), as `ionsitu hops --json`
    does; `-z`, `--charge-number` and the old `--charge` are one option."""
    f = campaign / "T550" / "rep1" / "msd.dat"
    rc, out, err = analyze([f, "-T", 550, "--window", 0.5, 2.0, "--charge-number", 2, "--json"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert "D* (tracer)" in err and "D* (tracer)" not in out
    rc, _, err = analyze([f, "--temperature", 550, "--window", 0.5, 2.0, "-z", 2, "--json", tmp_path / "z.json"],
                         capsys)
    assert rc == 0, err
    filed = json.loads((tmp_path / "z.json").read_text())
    assert doc["state_points"] == filed["state_points"] and doc["state_points"][0]["report"]["conductivity"]["z"] == 2.0
    rc, _, err = analyze([f, "-T", 550, "--window", 0.5, 2.0, "--charge", 2, "--json", tmp_path / "c.json"], capsys)
    assert rc == 0, err
    assert json.loads((tmp_path / "c.json").read_text())["state_points"] == filed["state_points"]


def test_hops_and_campaign_report_take_the_same_option_names():
    import argparse

    from ionsitu.cli import campaign as campaign_cli, hops as hops_cli

    p = argparse.ArgumentParser()
    hops_cli.add_arguments(p)
    for argv in (["run", "-T", "700", "--json"], ["run", "--temperature", "700", "--json", "-"]):
        a = p.parse_args(argv)
        assert (a.temperature, a.json) == (700.0, "-")
    p = argparse.ArgumentParser()
    campaign_cli.add_arguments(p)
    assert p.parse_args(["report", "c.toml", "--json"]).json == "-"
    assert p.parse_args(["report", "c.toml", "--print"]).json == "-"      # the old spelling
    assert p.parse_args(["report", "c.toml", "--json", "r.json"]).json == "r.json"
    assert p.parse_args(["report", "c.toml"]).json is None


def test_campaign_status_json(tmp_path, capsys):
    """`ionsitu campaign status --json`: the states of the text table, as JSON on stdout."""
    import shutil
    from pathlib import Path

    toml = tmp_path / "campaign.toml"
    shutil.copy(Path(__file__).parents[1] / "examples" / "quick" / "campaign.toml", toml)
    assert main(["campaign", "status", str(toml)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert main(["campaign", "status", str(toml), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == str(tmp_path / "out" / "campaign") and doc["lock"] is None
    assert [m["member"] for m in doc["members"]] == [line.split()[0] for line in table[1:]]
    assert {m["state"] for m in doc["members"]} == {"pending"} and len(doc["members"]) == len(table) - 1

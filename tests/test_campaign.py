"""ionsitu campaign: real LAMMPS under real `mpirun -np 2`, resume after a kill, failures,
and validation of the campaign file (every mistake with its key and reason).

Run:  pytest tests/test_campaign.py      (about a minute on 2 cores)
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import ionsitu
from ionsitu.analysis import arrhenius
from ionsitu.analysis import transport
from ionsitu.analysis.vibrations import attempt_frequency as vdos_attempt_frequency
from ionsitu.analysis.vibrations import read_vacf, read_vacf_atoms, spectrum
from ionsitu.campaign import Campaign, ConfigError, load_config
from ionsitu.measurement import format_with_error
from lammps_helpers import BIN, MPIRUN

IONSITU = str(BIN / "ionsitu")
TEMPS = (0.6, 0.8)
EQ, PROD, NEVERY, RESTART = 1000, 8000, 10, 1000
SEGMENTS = 4  # production segments of [analysis.msd_cross] (segment averaging)

SYSTEM = '''
[system]
commands = """
lattice         fcc 1.05
region          box block 0 4 0 4 0 4
create_box      2 box
create_atoms    1 box
lattice         fcc 1.05 origin 0.5 0.0 0.0
create_atoms    2 box
group           mobile type 2
delete_atoms    random fraction 0.75 yes mobile NULL 482793
"""
masses = { 1 = 20.0, 2 = 1.0 }
'''
POTENTIAL = '''
[potential]
pair = """
pair_style      lj/cut 2.5
pair_coeff      1 1 1.0 1.0  2.5
pair_coeff      2 2 0.2 0.6  0.673
pair_coeff      1 2 0.3 0.65 1.625
pair_modify     shift yes
"""
'''


def campaign_toml(output="out", temps=TEMPS, replicas=2, prod=PROD, system=SYSTEM, potential=POTENTIAL,
                  extra="", analyses=None):
    """The model ion conductor (320 atoms) at `temps` x `replicas`, short runs; with fix
    msd/cross, and (``analyses``, default ANALYSES) fix occupancy/grid and fix hop/events."""
    analyses = ANALYSES if analyses is None else analyses
    return f"""
[campaign]
output = "{output}"
units = "lj"
timestep = 0.002
temperatures = [{", ".join(repr(float(t)) for t in temps)}]
replicas = {replicas}
seed = 4928
restart_every = {RESTART}
thermo_every = 200
progress_every = 1
{system}
{potential}
[lammps]
commands = "neighbor 0.3 bin"

[mobile]
types = [2]
charges = [1.0]

[equilibration]
steps = {EQ}

[production]
steps = {prod}

[analysis.msd_cross]
nevery = {NEVERY}
block = 10
levels = 3
segments = {SEGMENTS}
{analyses}
{extra}
"""


# fix occupancy/grid and fix hop/events on the octahedral interstitials (the lattice the
# mobile ions were created on: fcc shifted by (1/2, 0, 0), 4 x 4 x 4 cells = 256 sites)
ANALYSES = """
[analysis.occupancy_grid]
nevery = 10
grid = [24, 24, 24]

[analysis.hop_events]
nevery = 10
sites_from = { lattice = "fcc", origin = [0.5, 0.0, 0.0], cells = [4, 4, 4] }
r_in = 0.3
r_out = 0.45
residence = 3

[analysis.vacf]
nevery = 2
block = 400

[analysis.rdf]
pairs = [[1, 2], [2, 2]]
r_max = 2.5
bins = 50
nevery = 100

[analysis.doas]
range = [-3.0, 1.0]
bins = 80
nevery = 100
"""


def run_campaign(path, nprocs=2, args=(), timeout=300, **popen):
    cmd = [MPIRUN, "-np", str(nprocs), IONSITU, "campaign", "run", str(path), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=Path(path).parent, **popen)


def statuses(out: Path) -> dict:
    return {json.loads(p.read_text())["member"]: json.loads(p.read_text()) for p in sorted(out.glob("T*/r*/status.json"))}


def mdir(out: Path, name: str) -> Path:
    """Folder of member 'T0.6_r1': out/T0.6/r1."""
    t, r = name.rsplit("_", 1)
    return out / t / r


def assert_same_msd(a, b, rtol):
    np.testing.assert_array_equal(a.lag_steps, b.lag_steps)
    np.testing.assert_array_equal(a.n_origins, b.n_origins)
    assert a.meta["nsamples"] == b.meta["nsamples"] and a.meta["step_last"] == b.meta["step_last"]
    for name in ("msd_xyz", "msd4", "coll_xyz", "charge_xyz"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max(), err_msg=name)


# ---------------------------------------------------------------------------------------
# A complete campaign (shared by the tests that compare with it)
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("reference")
    (d / "campaign.toml").write_text(campaign_toml())
    t0 = time.time()
    proc = run_campaign(d / "campaign.toml", args=["--ranks-per-run", "1", "--progress-every", "2"])
    wall = time.time() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"dir": d, "out": d / "out", "stdout": proc.stdout, "wall": wall}


def test_campaign_completes_and_report_equals_analysis_modules(reference):
    out = reference["out"]
    st = statuses(out)
    assert sorted(st) == ["T0.6_r0", "T0.6_r1", "T0.8_r0", "T0.8_r1"]
    for s in st.values():
        assert s["state"] == "completed" and s["step"] == EQ + PROD and s["error"] is None
        assert s["schema"] == "ionsitu-campaign-member" and len(s["attempts"]) == 1
    assert {s["group"] for s in st.values()} == {0, 1}       # both MPI groups ran members
    assert {s["seed"] for s in st.values()} == {4928, 4929}  # replica r: seed + r
    # progress on the terminal from rank 0, once per line
    lines = reference["stdout"].splitlines()
    assert sum("4 members (2 T x 2 replicas), 4 to run" in ln for ln in lines) == 1
    assert any("steps/s" in ln and "tau/day" in ln for ln in lines)
    assert any(ln.startswith("[ionsitu campaign") and "finished: 4/4 members done (0 failed)" in ln for ln in lines)

    rep = json.loads((out / "report.json").read_text())
    assert rep["schema"] == "ionsitu-campaign-report" and rep["version"] == 2
    assert rep["summary"] == {"members": 4, "completed": 4, "failed": 0, "unfinished": 0}
    Ts, Ds, Derr, sig, sig_err, sig_ok = [], [], [], [], [], []
    for entry, T in zip(rep["temperatures"], TEMPS):
        assert entry["T"] == T and entry["status"] == "ok" and entry["n_replicas"] == 2
        results = [ionsitu.read_msd(out / f"T{T:g}" / f"r{r}" / "msd.dat") for r in (0, 1)]
        assert all(r.meta["nsamples"] == PROD // NEVERY + 1 for r in results)
        ref = transport.analyse(results, T, z=1.0)
        cond = ref.charge_conductivity
        for got, want in ((entry["tracer"]["D"], ref.tracer.D), (entry["tracer"]["D_err"], ref.tracer.D_err),
                          (entry["collective"]["D"], ref.collective.D),
                          (entry["collective"]["D_err"], ref.collective.D_err),
                          (entry["haven"]["H"], ref.haven.H), (entry["haven"]["H_err"], ref.haven.H_err),
                          (entry["conductivity"]["sigma"], cond.sigma),
                          (entry["conductivity"]["sigma_err"], cond.sigma_err),
                          (entry["tracer"]["t_start"], ref.tracer.t_start),
                          (entry["tracer"]["t_end"], ref.tracer.t_end)):
            assert (got is None and np.isnan(want)) or got == pytest.approx(want, rel=1e-12)  # unresolved: null
        np.testing.assert_allclose(entry["tracer"]["D_xyz"], ref.tracer.D_xyz, rtol=1e-12)
        np.testing.assert_allclose(np.array(entry["conductivity"]["sigma_xyz"], float), cond.sigma_xyz, rtol=1e-12)
        np.testing.assert_allclose(np.array(entry["haven"]["H_xyz"], float), ref.haven.H_xyz, rtol=1e-12)
        # sigma from the charge MSD of a single species with q = 1 is the Nernst-Einstein one
        assert (cond.sigma, cond.upper_95) == pytest.approx((ref.conductivity.sigma, ref.conductivity.upper_95),
                                                            rel=1e-10, nan_ok=True)
        Ts.append(T), Ds.append(ref.tracer.D), Derr.append(ref.tracer.D_err)
        sig.append(cond.sigma), sig_err.append(cond.sigma_err), sig_ok.append(cond.resolved)
    fit = arrhenius.fit(Ts, Ds, "D", Derr, kB=1.0)
    a = rep["arrhenius"]["tracer"]
    assert a["Ea"] == pytest.approx(fit.Ea, rel=1e-12) and a["prefactor"] == pytest.approx(fit.prefactor, rel=1e-12)
    assert a["Ea_err"] == pytest.approx(fit.Ea_err, rel=1e-12) and a["kind"] == "D"
    Tk, sk, ek, skipped = arrhenius.resolved_points(Ts, sig, sig_err, sig_ok)   # unresolved sigma: not fitted
    if len(Tk) >= 2:
        fs = arrhenius.fit(Tk, sk, "sigma", ek, kB=1.0)
        assert rep["arrhenius"]["conductivity"]["Ea"] == pytest.approx(fs.Ea, rel=1e-12)
        assert "sigma T" in rep["arrhenius"]["conductivity"]["convention"]
    else:
        assert rep["arrhenius"]["conductivity"]["skipped_T_unresolved"] == skipped.tolist()
    assert rep["arrhenius"]["tracer"]["extrapolation"] is None  # lj: no 300 K unless asked
    assert rep["failed"] == [] and rep["model_deviation"] is None
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html and "Arrhenius" in html
    assert (out / "plots" / "arrhenius.png").is_file()
    # the summary card first; every figure also as SVG (report.figure_formats default); CSV per table
    assert html.index("<div class=card id=summary>") < html.index("<h2>Per temperature</h2>")
    a = rep["arrhenius"]["tracer"]
    assert f"{format_with_error(a['Ea'], a['Ea_err'], rep['conventions']['Ea_unit'])}</td>" in html
    assert "T<sub>c</sub> (two-regime Arrhenius)" in html and "Haven ratio" in html
    assert rep["plots"] and sorted(rep["figures"]) == sorted(rep["plots"])
    for files in rep["figures"].values():
        assert sorted(files) == ["png", "svg"]
        assert ET.parse(out / files["svg"]).getroot().tag.endswith("svg")
    rows = list(csv.DictReader((out / rep["tables"]["temperatures"]).open()))
    assert [float(r["T"]) for r in rows] == list(TEMPS)
    dcol = f"D_tracer [{rep['conventions']['D_unit']}]"
    assert [float(r[dcol]) for r in rows] == [e["tracer"]["D"] for e in rep["temperatures"]]   # exact
    arr_rows = {r["quantity"]: r for r in csv.DictReader((out / rep["tables"]["arrhenius"]).open())}
    assert float(arr_rows["tracer"][f"Ea [{rep['conventions']['Ea_unit']}]"]) == a["Ea"]

    # `ionsitu analyze` reads the campaign's folder layout (T<T>/r<replica>/msd.dat) directly
    an = subprocess.run([IONSITU, "analyze", str(out), "--json", str(out / "analyze.json")],
                        capture_output=True, text=True, timeout=120)
    assert an.returncode == 0, an.stderr
    points = json.loads((out / "analyze.json").read_text())["state_points"]
    assert [p["T"] for p in points] == list(TEMPS) and all(p["n_replicas"] == 2 for p in points)
    for p, entry in zip(points, rep["temperatures"]):
        assert p["report"]["tracer"]["D"] == pytest.approx(entry["tracer"]["D"], rel=1e-12)

    # the report command gives the same numbers
    proc = subprocess.run([IONSITU, "campaign", "report", str(reference["dir"] / "campaign.toml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    again = json.loads((out / "report.json").read_text())
    assert again["temperatures"] == rep["temperatures"] and again["arrhenius"] == rep["arrhenius"]


def _mean_se(values):
    v = np.asarray(values, dtype=float)
    return v.mean(), v.std(ddof=1) / np.sqrt(len(v))


def test_report_hops_and_occupancy_equal_the_analysis_modules(reference):
    """Every hop and occupancy number of the report, recomputed with ionsitu.analysis.hops /
    ionsitu.analysis.sites from the members' own hops.txt, sites.txt and occupancy.npz."""
    from ionsitu.analysis import hops as H
    from ionsitu.analysis.sites import find_sites
    from ionsitu.io.occupancy import read_occupancy
    from ionsitu.io.sites import read_sites

    out = reference["out"]
    rep = json.loads((out / "report.json").read_text())
    nsamples = PROD // NEVERY + 1
    runs = {}
    for T in TEMPS:
        runs[T] = []
        for r in (0, 1):
            d = out / f"T{T:g}" / f"r{r}"
            ev, meta = H.read_events(d / "hops.txt")
            assert meta["mode"] == "sites" and meta["nsites"] == 256 and meta["natoms"] == 64
            assert (meta["step_first"], meta["step_last"], meta["nsamples"]) == (EQ, EQ + PROD, nsamples)
            assert len(ev) == meta["nhops"] > 0
            t = H.observed_time(meta)
            runs[T].append((ev, meta, t, read_sites(d / "sites.txt").frac, np.array(meta["cell"]).reshape(3, 3)))
    # jump classes from every member's events; the nearest-neighbour octahedral jump a/sqrt(2) first
    classes = H.jump_classes([x[0] for T in TEMPS for x in runs[T]], rel_tol=0.05)
    top = rep["hops"]
    np.testing.assert_allclose([c["length"] for c in top["classes"]], classes.length, rtol=1e-12)
    assert classes.length[0] == pytest.approx((4 / 1.05) ** (1 / 3) / np.sqrt(2), rel=1e-9)
    stats = {T: [H.jump_class_rates(ev, m["natoms"], t, classes=classes, site_frac=sf, cell=c)
                 for ev, m, t, sf, c in runs[T]] for T in TEMPS}
    dom = int(np.argmax(sum(st.count for T in TEMPS for st in stats[T])))
    assert top["dominant_class"] == dom == 0
    # nu* not in the config: each member's own VDOS (fix vacf atoms), never the rate's Arrhenius prefactor
    nus = {T: [vdos_attempt_frequency(read_vacf_atoms(out / f"T{T:g}" / f"r{r}" / "vacf_atoms.dat"))
               for r in (0, 1)] for T in TEMPS}
    assert top["attempt_frequency"] is None and top["attempt_frequency_source"].startswith("each member's VDOS")
    rate_fit = arrhenius.fit(list(TEMPS), [np.mean([st.rate_per_direction[dom] for st in stats[T]]) for T in TEMPS],
                             "rate", None, kB=1.0)
    window, cutoff = 5 * NEVERY * 0.002, 3.0  # defaults: 5 samples of the fix, 3 sigma in lj
    assert top["corr_window"] == pytest.approx(window) and top["corr_cutoff"] == cutoff
    assert top["corr_random"] == 30 and top["corr_seed"] == 0 and rep["version_minor"] >= 1
    for entry, T in zip(rep["temperatures"], TEMPS):
        h = entry["hops"]
        R = runs[T]
        assert h["n_replicas"] == 2 and h["n_sites"] == 256 and h["n_hops"] == sum(len(x[0]) for x in R)
        per_rep = {
            "hop_rate": [len(ev) / (m["natoms"] * t) for ev, m, t, _, _ in R],
            "D_j": [H.jump_diffusivity(ev, m["natoms"], t).D for ev, m, t, _, _ in R],
            "residence_mean": [ev["residence"][~ev["censored"]].mean() for ev, *_ in R],
            "backjump_fraction": [H.backjump_fraction(ev).fraction for ev, *_ in R],
        }
        # correlated hops with their chance level: each ion's hop train shifted in time at random over the
        # member's observed interval, in whole samples of the fix; 30 shuffles, seed 0 (report.CORR_*)
        ch = [H.correlated_hops(ev, window, cutoff, cell=c, n_random=30, seed=0, time_span=(
            m["step_first"] * m["dt"], m["step_last"] * m["dt"]), time_quantum=m["nevery"] * m["dt"])
              for ev, m, t, sf, c in R]
        per_rep["correlated_fraction"] = [x.fraction_collective for x in ch]
        per_rep["correlated_chance_fraction"] = [x.chance.fraction_mean for x in ch]
        per_rep["correlated_excess_fraction"] = [x.fraction_collective - x.chance.fraction_mean for x in ch]
        assert all(x.chance.time_quantum == pytest.approx(NEVERY * 0.002) for x in ch)
        for x, r in zip(ch, h["replicas"]):
            assert r["correlated_chance_fraction_sd"] == pytest.approx(x.chance.fraction_sd, rel=1e-12)
            assert r["correlated_z"] == pytest.approx(x.chance.z, rel=1e-12)
            assert r["correlated_ions_per_event"]["observed"] == x.chance.n_counts_observed.tolist()
            np.testing.assert_allclose(r["correlated_ions_per_event"]["chance"], x.chance.n_counts_mean, rtol=1e-12)
        sd = np.sqrt(sum(x.chance.fraction_sd ** 2 for x in ch)) / len(ch)
        assert h["correlated_z"] == pytest.approx(np.mean(per_rep["correlated_excess_fraction"]) / sd, rel=1e-12)
        nmax = max(len(x.chance.n_values) for x in ch)
        obs = sum(np.pad(x.chance.n_counts_observed, (0, nmax - len(x.chance.n_values))) for x in ch)
        mean = sum(np.pad(x.chance.n_counts_mean, (0, nmax - len(x.chance.n_values))) for x in ch)
        assert h["correlated_ions_per_event"]["observed"] == obs.tolist()
        np.testing.assert_allclose(h["correlated_ions_per_event"]["chance"], mean, rtol=1e-12)
        for key, vals in per_rep.items():
            mean, se = _mean_se(vals)
            assert h[key] == pytest.approx(mean, rel=1e-12), key
            assert h[key + "_err"] == pytest.approx(se, rel=1e-9), key
        assert h["D_j_over_D_tracer"] == pytest.approx(h["D_j"] / entry["tracer"]["D"], rel=1e-12)
        for i, c in enumerate(h["classes"]):
            assert c["count"] == sum(int(st.count[i]) for st in stats[T])
            assert c["rate"] == pytest.approx(np.mean([st.rate[i] for st in stats[T]]), rel=1e-12)
            assert c["rate_per_direction"] == pytest.approx(np.mean([st.rate_per_direction[i] for st in stats[T]]),
                                                            rel=1e-12)
        assert h["classes"][0]["multiplicity"] == 12   # fcc octahedral sites: 12 nearest neighbours
        nu_r = [x.mean for x in nus[T]]
        ea = [H.activation_energies(ev, t, T, nu, kB=1.0, by="class", classes=classes, site_frac=sf, cell=c)
              for (ev, m, t, sf, c), nu in zip(R, nu_r)]
        # E_a,i = -kB T ln(J_i/(t N_i nu*)), N_i the ions that made jump type i (seed 000)
        ep = [H.activation_energies(ev, t, T, nu, kB=1.0) for (ev, m, t, sf, c), nu in zip(R, nu_r)]
        dom_ea = [e.Ea[e.pairs[:, 0] == dom][0] for e in ea]
        assert h["classes"][dom]["Ea"] == pytest.approx(np.mean(dom_ea), rel=1e-12)
        assert h["classes"][dom]["Ea_err"] == pytest.approx(_mean_se(dom_ea)[1], rel=1e-9)
        # vibrations section: the group VDOS and nu* per species of the members' fix vacf files
        v = entry["vibrations"]
        sp = [spectrum(read_vacf(out / f"T{T:g}" / f"r{r}" / "vacf.dat")) for r in (0, 1)]
        assert v["n_replicas"] == 2 and v["unit"] == "1/tau"
        assert (v["mean_frequency"], v["mean_frequency_err"]) == pytest.approx(
            _mean_se([x.mean_frequency for x in sp]), rel=1e-9)
        assert v["peak_frequency"] == pytest.approx(np.mean([x.peak_frequency for x in sp]), rel=1e-12)
        s2 = v["species"]["2"]
        assert s2["n_ions"] == 64 and s2["nu_star"] == pytest.approx(np.mean(nu_r), rel=1e-12)
        assert s2["sd_over_ions"] == pytest.approx(np.mean([x.sd for x in nus[T]]), rel=1e-12)
        a = h["activation_energy"]
        assert a["attempt_frequency"] == pytest.approx(np.mean(nu_r), rel=1e-12)
        assert a["attempt_frequency_source"].startswith("VDOS of the run")
        pooled = np.concatenate([e.Ea for e in ep])
        np.testing.assert_allclose(a["Ea_pair_all"], pooled, rtol=1e-12)
        assert (a["Ea_pair_all_min"], a["Ea_pair_all_max"]) == pytest.approx((pooled.min(), pooled.max()), rel=1e-12)
        assert a["Ea_class_mean"] == pytest.approx(np.mean([e.mean for e in ea]), rel=1e-12)
        assert a["Ea_pair_mean"] == pytest.approx(np.mean([e.mean for e in ep]), rel=1e-12)
        assert a["Ea_pair_std"] == pytest.approx(np.mean([e.std for e in ep]), rel=1e-12)
        print(f"T = {T}: hops {h['n_hops']}, D_j/D* = {h['D_j_over_D_tracer']:.3f}, Ea(class 0) = "
              f"{h['classes'][dom]['Ea']:.3f}, backjumps {h['backjump_fraction']:.3f}, nu* = {np.mean(nu_r):.4g} (VDOS; rate prefactor "
              f"{rate_fit.prefactor:.4g}), correlated "
              f"{h['correlated_fraction']:.3f} vs chance {h['correlated_chance_fraction']:.3f} (z {h['correlated_z']:.2f})")

        # occupancy: the replicas' grids summed, sites of the merged grid, cube and npz written
        grids = [read_occupancy(out / f"T{T:g}" / f"r{r}" / "occupancy.npz") for r in (0, 1)]
        assert all(g["nframes"] == nsamples and g["counts"].shape == (1, 24, 24, 24) for g in grids)
        counts = grids[0]["counts"][0] + grids[1]["counts"][0]
        assert counts.sum() == 2 * 64 * nsamples
        o = entry["occupancy"]
        assert o["nframes"] == 2 * nsamples and o["positions"] == counts.sum()
        ss = find_sites(counts, grids[0]["cell"], grids[0]["origin"], threshold=0.05,
                        min_distance=o["site_min_distance"])
        assert o["n_sites_found"] == ss.sites.n and 0 < ss.sites.n
        assert o["site_min_distance"] == pytest.approx(2 * np.linalg.norm(grids[0]["cell"][0]) / 24)
        files = rep["occupancy"]["files"][f"T{T:g}"]
        merged = read_occupancy(out / files["npz"])
        np.testing.assert_array_equal(merged["counts"][0], counts)
        from ase.io.cube import read_cube_data

        rho, _ = read_cube_data(str(out / files["cube"]))
        vvox = abs(np.linalg.det(grids[0]["cell"])) / counts.size      # lj: lengths written unchanged
        np.testing.assert_allclose(rho, counts / (counts.sum() * vvox), rtol=1e-5)  # the fix's %13.5E
    # Arrhenius of D_j and of the hop rate, next to D*
    for key, fld, kind in (("jump_diffusivity", "D_j", "D"), ("hop_rate", "hop_rate", "rate")):
        y = [e["hops"][fld] for e in rep["temperatures"]]
        err = [e["hops"][fld + "_err"] for e in rep["temperatures"]]
        f = arrhenius.fit(list(TEMPS), y, kind, err, kB=1.0)
        assert rep["arrhenius"][key]["Ea"] == pytest.approx(f.Ea, rel=1e-12)
        assert rep["arrhenius"][key]["kind"] == kind   # the hop rate is a rate, not a D
    # lj: every prefactor in reduced units (never cm^2/s or S K/cm)
    assert rep["arrhenius"]["hop_rate"]["prefactor_unit"] == "1/tau_LJ"
    for key in ("tracer", "collective", "jump_diffusivity", "conductivity"):
        unit = rep["arrhenius"][key].get("prefactor_unit")
        assert unit is None or ("cm" not in unit and "LJ" in unit), (key, unit)
    assert rep["conventions"]["units"]["D"].startswith("sigma_LJ^2/tau_LJ")
    html = (out / "report.html").read_text()
    assert "Hops (fix hop/events)" in html and "Occupancy (fix occupancy/grid)" in html and "D_j / D*" in html
    assert "<th>chance</th><th>excess</th>" in html and "groups (events) with n ions, observed / chance" in html
    assert (out / "plots" / "occupancy.png").is_file() and (out / "plots" / "arrhenius_hops.png").is_file()
    # sites and jump network over the density, residence distribution with its fit
    assert sorted(rep["figures"]["sites"]) == ["png", "svg"] and (out / rep["figures"]["sites"]["svg"]).is_file()
    # the site map's inputs against numpy on the members' logs: hops per undirected site pair, residences
    from ionsitu.report import results as report_results
    from ionsitu.report.sitemaps import build_site_maps
    camp = Campaign.from_toml(reference["dir"] / "campaign.toml")
    maps = build_site_maps({T: report_results.load_hop_runs(camp, [m for m in camp.members if m.T == T])
                            for T in TEMPS})
    for T in TEMPS:
        ev = np.concatenate([x[0] for x in runs[T]])
        ab = np.sort(np.stack([ev["from_site"], ev["to_site"]], axis=1), axis=1)
        pairs, counts = np.unique(ab, axis=0, return_counts=True)
        np.testing.assert_array_equal(maps[T]["pairs"], pairs)
        np.testing.assert_array_equal(maps[T]["counts"], counts)
        res = np.concatenate([x[0]["residence"][~x[0]["censored"] & np.isfinite(x[0]["residence"])] for x in runs[T]])
        np.testing.assert_array_equal(maps[T]["residence"], res)
        assert maps[T]["tau"] == pytest.approx(res.mean(), rel=1e-12)
        np.testing.assert_array_equal(maps[T]["site_frac"], runs[T][0][3])
    assert "sites and jump network over the density; residence times" in html
    assert "Vibrations (fix vacf)" in html and (out / "plots" / "vdos.png").is_file()


def test_report_rdf_and_doas_equal_the_analysis_modules(reference):
    """The rdf and doas sections of report.json, recomputed with ionsitu.analysis.structure /
    ionsitu.analysis.doas from the members' rdf.dat and doas_t2.dat (campaign on 2 ranks)."""
    from ionsitu.analysis import doas as D
    from ionsitu.analysis import structure as S
    from ionsitu.io.lammps_ave import read_ave_histo, read_ave_time_vector

    out = reference["out"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["rdf"]["pairs"] == [[1, 2], [2, 2]] and rep["doas"]["types"] == [2]
    html = (out / "report.html").read_text()
    assert "Radial distribution functions" in html and "Density of atomistic states" in html
    assert (out / "plots" / "rdf.png").is_file() and (out / "plots" / "doas.png").is_file()
    ds = []
    for T, er, ed in zip(TEMPS, rep["rdf"]["temperatures"], rep["doas"]["temperatures"]):
        assert er["T"] == ed["T"] == T and er["n_replicas"] == 2
        runs = [S.rdf_from_blocks(read_ave_time_vector(mdir(out, f"T{T:g}_r{r}") / "rdf.dat").rows) for r in (0, 1)]
        assert [x.n_blocks[0] for x in runs] == [PROD // RESTART] * 2
        g = np.array([x.g for x in runs])
        c = np.array([x.coord for x in runs])
        for k, p in enumerate(er["pairs"]):
            np.testing.assert_allclose(p["g"], g[:, k].mean(0), rtol=1e-12)
            np.testing.assert_allclose(p["g_err"], g[:, k].std(0, ddof=1) / np.sqrt(2), rtol=1e-12)
            sh = S.first_shell(runs[0].r, g[:, k].mean(0), c[:, k].mean(0), T)   # lj: kB = 1
            assert p["first_shell"]["n"] == pytest.approx(sh.n, rel=1e-12)
            assert p["first_shell"]["r_min"] == sh.r_min
            assert (p["first_shell"]["barrier"] is None and sh.barrier is None) or \
                p["first_shell"]["barrier"] == pytest.approx(sh.barrier, rel=1e-12)
            W = S.potential_of_mean_force(g[:, k].mean(0), T)
            np.testing.assert_allclose(np.array(p["W"], float), W, rtol=1e-12)
        counts = [read_ave_histo(mdir(out, f"T{T:g}_r{r}") / "doas_t2.dat").counts for r in (0, 1)]
        d = D.doas_from_counts(np.array([x.sum(0) for x in counts]), -3.0, 1.0)
        x = ed["types"]["2"]
        assert x["n_values"] == d.n_values and x["n_values"] % (2 * PROD // 100) == 0  # every sample, 2 replicas
        np.testing.assert_allclose(x["density"], d.density, rtol=1e-12)
        assert (x["mean"], x["width"], x["mean_err"]) == pytest.approx((d.mean, d.width, d.mean_err), rel=1e-12)
        ds.append(d)
    o = rep["doas"]["onset"]["2"]
    assert "needs >= 5 temperatures" in o["error"]
    assert o["overlap_next_T"] == [[*TEMPS, pytest.approx(D.overlap(*ds), rel=1e-12)]]


def test_report_json_equals_the_analysis_api_and_ionsitu_hops(reference, tmp_path):
    """The report's per-member hop numbers are ionsitu.analysis.hops.hop_summary of the member's
    files, and `ionsitu hops` on a member folder, given the report's nu* and correlation window,
    prints the same numbers (one function, one set of defaults: the E_a of both agree)."""
    from ionsitu.analysis import hops as H
    from ionsitu.cli import main
    from ionsitu.io.sites import read_sites

    out = reference["out"]
    rep = json.loads((out / "report.json").read_text())
    top = rep["hops"]
    logs = {(T, r): H.read_events(out / f"T{T:g}" / f"r{r}" / "hops.txt") for T in TEMPS for r in (0, 1)}
    classes = H.jump_classes([ev for ev, _ in logs.values()], rel_tol=0.05)
    for entry, T in zip(rep["temperatures"], TEMPS):
        for r, got in zip((0, 1), entry["hops"]["replicas"]):
            d = out / f"T{T:g}" / f"r{r}"
            ev, meta = logs[(T, r)]
            s = H.hop_summary(ev, meta, temperature=T, classes=classes, vacf_atoms=read_vacf_atoms(d / "vacf_atoms.dat"),
                              site_frac=read_sites(d / "sites.txt").frac, corr_window=top["corr_window"],
                              corr_cutoff=top["corr_cutoff"])
            assert got["attempt_frequency"] == pytest.approx(s.attempt_frequency, rel=1e-12)
            for key, want in (("hop_rate", s.hop_rate), ("D_j", s.diffusivity.D), ("residence_mean", s.residence.mean()),
                              ("backjump_fraction", s.backjumps.fraction),
                              ("correlated_fraction", s.correlated.fraction_collective),
                              ("Ea_class_mean", s.Ea_class.mean), ("Ea_pair_mean", s.Ea_pair.mean),
                              ("Ea_pair_std", s.Ea_pair.std)):
                assert got[key] == pytest.approx(want, rel=1e-12), key
            # the command line on the member's folder: nu* from the VDOS of the vacf_atoms.dat it finds there
            js = tmp_path / f"hops_T{T:g}_r{r}.json"
            assert main(["hops", str(d), "--temperature", str(T), "--corr-window", repr(top["corr_window"]), "--corr-cutoff", repr(top["corr_cutoff"]),
                         "--json", str(js)]) == 0
            cli = json.loads(js.read_text())[str(d / "hops.txt")]
            assert cli["hops_per_ion_per_time"] == pytest.approx(got["hop_rate"], rel=1e-12)
            assert cli["D_j"]["D"] == pytest.approx(got["D_j"], rel=1e-12)
            assert cli["backjumps"]["fraction"] == pytest.approx(got["backjump_fraction"], rel=1e-12)
            assert cli["correlated"]["fraction_collective"] == pytest.approx(got["correlated_fraction"], rel=1e-12)
            ea = cli["activation_energy"]
            assert (ea["mean"], ea["std"]) == pytest.approx((got["Ea_pair_mean"], got["Ea_pair_std"]), rel=1e-12)
            assert ea["attempt_frequency"] == pytest.approx(got["attempt_frequency"], rel=1e-12)
            assert ea["attempt_frequency_vdos"]["n_ions"] == 64


def test_result_objects_equal_the_report_json(reference, tmp_path):
    """ionsitu.load_campaign (the notebook API) gives the numbers of report.json, and the
    objects built from the member files give the same (one function per result); the example
    script examples/notebook.py runs end to end on the campaign."""
    from ionsitu.api import Hops, Occupancy, Transport

    out = reference["out"]
    rep = json.loads((out / "report.json").read_text())
    camp = ionsitu.load_campaign(reference["dir"])

    def same(got, want):
        if want is None:
            assert not np.isfinite(got)
        else:
            assert got == pytest.approx(want, rel=1e-12)

    for e in rep["temperatures"]:
        T = e["T"]
        t = camp.transport[T]
        for m, d, k in ((t.D, e["tracer"], "D"), (t.D_collective, e["collective"], "D"),
                        (t.haven_ratio, e["haven"], "H"), (t.conductivity, e["conductivity"], "sigma")):
            same(m.value, d[k])
            same(m.error, d[k + "_err"])
        assert t.D.unit == e["tracer"]["unit"] and t.conductivity.unit == e["conductivity"]["unit"]
        files = [out / f"T{T:g}" / f"r{r}" / "msd.dat" for r in (0, 1)]
        same(Transport.from_file(files, T, z=1.0).D.value, e["tracer"]["D"])
        h = camp.hops[T]
        for k in ("hop_rate", "backjump_fraction", "correlated_fraction", "residence_mean"):
            same(getattr(h, k).value, e["hops"][k])
            same(getattr(h, k).error, e["hops"][k + "_err"])
        np.testing.assert_allclose(h.residence_mean_per_replica, [r["residence_mean"] for r in e["hops"]["replicas"]],
                                   rtol=1e-12)
        top = rep["hops"]
        for r, want in zip((0, 1), e["hops"]["replicas"]):
            one = Hops.from_run(out / f"T{T:g}" / f"r{r}", T, attempt_frequency=top["attempt_frequency"],
                                corr_window=top["corr_window"], corr_cutoff=top["corr_cutoff"])
            for k in ("hop_rate", "D_j", "backjump_fraction", "correlated_fraction", "Ea_pair_mean"):
                same(one.entry["replicas"][0][k], want[k])
        o = camp.occupancy[T]
        assert o.n_sites == e["occupancy"]["n_sites_found"]
        same(float(o.counts.sum()), e["occupancy"]["positions"])
        o2 = Occupancy.from_file([out / f"T{T:g}" / f"r{r}" / "occupancy.npz" for r in (0, 1)], T)
        assert o2.n_sites == o.n_sites
    for q in ("tracer", "collective", "sigma"):
        want = rep["arrhenius"]["conductivity" if q == "sigma" else q]
        if "error" in want:
            with pytest.raises(ValueError, match="needs >= 2 temperatures"):
                camp.arrhenius(q)
        else:
            a = camp.arrhenius(q)
            same(a.Ea.value, want["Ea"])
            same(a.Ea.error, want["Ea_err"])
            same(a.prefactor.value, want["prefactor"])
            assert a.prefactor.unit == want["prefactor_unit"]
    # the example, end to end
    proc = subprocess.run([sys.executable, str(Path(__file__).parent.parent / "examples" / "notebook.py"),
                           str(reference["dir"] / "campaign.toml"), "--figures", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Arrhenius tracer: Ea = {camp.arrhenius('tracer').Ea}" in proc.stdout
    for name in ("transport.csv", "msd_T0.6.png", "arrhenius_tracer.png", "occupancy.png", "occupancy.cube"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_rerun_of_a_finished_campaign_does_nothing(reference):
    out = reference["out"]
    before = {p: p.stat().st_mtime_ns for p in out.glob("T*/r*/*") if p.name in ("msd.dat", "status.json", "log.lammps")}
    proc = run_campaign(reference["dir"] / "campaign.toml", args=["--no-report"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 to run, 4 already completed or failed" in proc.stdout
    assert before == {p: p.stat().st_mtime_ns for p in before}


# ---------------------------------------------------------------------------------------
# Interrupt and resume
# ---------------------------------------------------------------------------------------
def _last_step(path):
    try:
        return int(path.read_text().split()[-2])
    except (OSError, IndexError, ValueError):
        return 0


def test_interrupted_campaign_resumes_with_statistics_intact(tmp_path, reference):
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(campaign_toml())
    out = tmp_path / "out"
    cmd = [MPIRUN, "-np", "2", IONSITU, "campaign", "run", str(cfg), "--quiet", "--no-report"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # kill the whole process group once one member is done and another one is in its
    # production run past a restart file (members go out replica-major: r0 first)
    min_step = EQ + 2 * RESTART + 200
    deadline = time.time() + 120
    mid = []
    try:
        while time.time() < deadline:
            st = statuses(out) if out.exists() else {}
            done = [n for n, s in st.items() if s["state"] == "completed"]
            mid = [n for n, s in st.items() if s["state"] == "running" and _last_step(mdir(out, n) / "progress.txt") >= min_step]
            if done and mid:
                break
            assert proc.poll() is None, "the campaign finished before it could be interrupted"
            time.sleep(0.02)
        else:
            pytest.fail("no member reached the kill point")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    st = statuses(out)
    done = {n for n, s in st.items() if s["state"] == "completed"}
    interrupted = {n for n, s in st.items() if s["state"] == "running"}
    assert done and interrupted
    # `campaign status` tells the killed members from running ones; the lock file stays behind
    from ionsitu.campaign import _pid_alive

    deadline = time.time() + 30   # the ranks die with mpirun's process group (a moment later)
    while time.time() < deadline and any(_pid_alive(st[n]["pid"]) for n in interrupted):
        time.sleep(0.1)
    status = subprocess.run([IONSITU, "campaign", "status", str(cfg)], capture_output=True, text=True, timeout=60)
    for n in interrupted:
        line = next(ln for ln in status.stdout.splitlines() if ln.startswith(n))
        assert " dead " in line and "is not running" in line, status.stdout
        assert st[n]["pid"] > 0
    for n in mid:  # killed in production: its heartbeat says so (others may have just started)
        assert st[n]["heartbeat"]["step"] >= EQ
    assert (out / "campaign.lock").is_file() and "locked by pid" in status.stdout
    # a kill while a restart file is being written leaves a partial file: simulate it on
    # one interrupted member (the resume must fall back to the older restart file)
    truncated = None
    for n in sorted(interrupted):
        files = sorted(mdir(out, n).glob("restart.[ab]"), key=lambda p: p.stat().st_mtime)
        if len(files) == 2:
            files[-1].write_bytes(files[-1].read_bytes()[: files[-1].stat().st_size // 2])
            truncated = (n, files[0].name)
            break
    before = {n: (mdir(out, n) / "msd.dat").stat().st_mtime_ns for n in done}

    proc2 = run_campaign(cfg, args=["--no-report", "--progress-every", "100"])
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    assert "stale lock of pid" in proc2.stdout and "(that process is not running)" in proc2.stdout
    assert not (out / "campaign.lock").exists()
    assert f"{4 - len(done)} to run, {len(done)} already completed" in proc2.stdout
    st = statuses(out)
    assert all(s["state"] == "completed" and s["step"] == EQ + PROD for s in st.values())
    for n in done:  # not redone
        assert len(st[n]["attempts"]) == 1
        assert (mdir(out, n) / "msd.dat").stat().st_mtime_ns == before[n]
    for n in interrupted:
        att = st[n]["attempts"]
        assert len(att) == 2
        if att[1]["restart"] is not None:  # resumed: only the remaining steps were run
            assert att[1]["from_step"] >= EQ and att[1]["from_step"] % RESTART == 0
    if truncated:
        n, older = truncated
        assert st[n]["attempts"][1]["restart"] == older
    assert any(st[n]["attempts"][1]["from_step"] > EQ for n in interrupted)
    # final statistics equal the uninterrupted campaign's (same seeds)
    from ionsitu.io.events import read_events
    from ionsitu.io.lammps_ave import read_ave_histo, read_ave_time_vector
    from ionsitu.io.occupancy import read_occupancy

    for n in st:
        for f in ["msd.dat"] + [f"msd.seg{k}.dat" for k in range(1, SEGMENTS + 1)]:  # whole run and segments
            assert_same_msd(ionsitu.read_msd(mdir(out, n) / f), ionsitu.read_msd(mdir(reference["out"], n) / f),
                            rtol=1e-8)
        # hop events: the same trajectory gives the same event list, compared exactly (every
        # field: steps, atoms, sites, site-centre positions and displacements, residence,
        # censoring); a restart must neither lose nor duplicate events
        ev, meta = read_events(mdir(out, n) / "hops.txt")
        ev_ref, meta_ref = read_events(mdir(reference["out"], n) / "hops.txt")
        for k in ("nsamples", "step_first", "step_last", "nhops", "nhopped"):
            assert meta[k] == meta_ref[k], (n, k)
        np.testing.assert_array_equal(ev, ev_ref)
        assert (mdir(out, n) / "sites.txt").read_text() == (mdir(reference["out"], n) / "sites.txt").read_text()
        # occupancy: counts identical, every sample counted once
        g, g_ref = (read_occupancy(mdir(o, n) / "occupancy.npz") for o in (out, reference["out"]))
        assert g["nframes"] == g_ref["nframes"] == PROD // NEVERY + 1
        np.testing.assert_array_equal(g["counts"], g_ref["counts"])
        # rdf and doas: every block once, equal to the uninterrupted run's
        a, b = (read_ave_time_vector(mdir(o, n) / "rdf.dat") for o in (out, reference["out"]))
        np.testing.assert_array_equal(a.steps, np.arange(EQ + RESTART, EQ + PROD + 1, RESTART))
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_allclose(a.rows, b.rows, rtol=1e-8, atol=1e-12)
        h, h_ref = (read_ave_histo(mdir(o, n) / "doas_t2.dat") for o in (out, reference["out"]))
        np.testing.assert_array_equal(h.steps, h_ref.steps)
        np.testing.assert_array_equal(h.counts, h_ref.counts)


# ---------------------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("ranks_per_run", [1, 2])
def test_failed_member_does_not_stop_the_others(tmp_path, ranks_per_run):
    # at T = 10^4 the light particles fly through the crystal: LAMMPS stops with "Lost atoms"
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(campaign_toml(temps=(0.6, 0.8, 1.0e4), replicas=1, prod=2000))
    proc = run_campaign(cfg, args=["--ranks-per-run", str(ranks_per_run), "--progress-every", "100"])
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: some member failed
    st = statuses(tmp_path / "out")
    assert st["T0.6_r0"]["state"] == st["T0.8_r0"]["state"] == "completed"
    bad = st["T10000_r0"]
    assert bad["state"] == "failed" and "Lost atoms" in bad["error"]
    assert bad["error_key"] == "equilibration" and bad["error_command"].startswith("run ")
    assert "T10000_r0 failed" in proc.stdout and "Lost atoms" in proc.stdout
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["name"] for f in rep["failed"]] == ["T10000_r0"]
    assert "Lost atoms" in rep["failed"][0]["error"]
    t = {e["T"]: e for e in rep["temperatures"]}
    assert t[0.6]["status"] == t[0.8]["status"] == "ok" and t[1.0e4]["status"] == "no completed member"
    assert rep["arrhenius"]["tracer"]["n"] == 2
    assert "Lost atoms" in (tmp_path / "out" / "report.html").read_text()
    # a re-run skips the failed member (and says so); --retry-failed would run it again
    again = run_campaign(cfg, args=["--no-report"])
    assert again.returncode == 1 and "0 to run, 3 already completed or failed" in again.stdout


# ---------------------------------------------------------------------------------------
# Validation: every mistake with its key and reason
# ---------------------------------------------------------------------------------------
BASE = campaign_toml()


def _edit(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


MISTAKES = {
    "unknown key": (lambda t: _edit(t, "replicas = 2", "replicas = 2\ntemprature = 3"),
                    "campaign.temprature", "unknown key; did you mean 'temperatures'?"),
    "unknown section": (lambda t: t + "\n[equilibrate]\nsteps = 3\n", "equilibrate",
                        "unknown section; did you mean 'equilibration'?"),
    "missing required key": (lambda t: _edit(t, f"[production]\nsteps = {PROD}", "[production]"),
                             "production.steps", "missing (required)"),
    "missing section": (lambda t: _edit(t, "[mobile]\ntypes = [2]\ncharges = [1.0]", ""), "mobile",
                        "missing section [mobile]"),
    "non-positive temperature": (lambda t: _edit(t, "temperatures = [0.6, 0.8]", "temperatures = [0.6, -0.8]"),
                                 "campaign.temperatures[1]", "must be positive, got -0.8"),
    "repeated temperature": (lambda t: _edit(t, "temperatures = [0.6, 0.8]", "temperatures = [0.6, 0.6]"),
                             "campaign.temperatures", "repeated values 0.6"),
    "wrong type": (lambda t: _edit(t, "replicas = 2", 'replicas = "two"'), "campaign.replicas",
                   "must be an integer, got str 'two'"),
    "bad choice": (lambda t: _edit(t, "[equilibration]", '[equilibration]\nensemble = "nve"'),
                   "equilibration.ensemble", "must be one of nvt, npt, got 'nve'"),
    "unknown units": (lambda t: _edit(t, 'units = "lj"', 'units = "metric"'), "campaign.units", "must be one of"),
    "missing file": (lambda t: _edit(t, "commands = \"\"\"\nlattice", "data = \"nope.data\"\n_x = \"\"\"\nlattice"),
                     "system.data", "file not found"),
    "two system sources": (lambda t: _edit(t, "[system]", '[system]\ndata = "campaign.toml"'), "system",
                           "give exactly one of data, lammps, commands, structure (got data, commands)"),
    "structure without type map": (lambda t: _edit(t, "commands = \"\"\"", "structure = \"campaign.toml\"\n_c = \"\"\""),
                                   "system.type_map", "required with system.structure"),
    "element without type map": (lambda t: _edit(t, "types = [2]", 'types = ["Li"]'), "mobile.types[0]",
                                 "element 'Li' needs system.type_map"),
    "charges count": (lambda t: _edit(t, "charges = [1.0]", "charges = [1.0, 2.0]"), "mobile.charges",
                      "2 charges for 1 mobile types"),
    "seeds count": (lambda t: _edit(t, "seed = 4928", "seeds = [1, 2, 3]"), "campaign.seeds", "3 seeds for 2 replicas"),
    "npt key with nvt": (lambda t: _edit(t, "[equilibration]", "[equilibration]\npressure = 1.0"),
                         "equilibration.pressure", "only used with ensemble = 'npt'"),
    "negative steps": (lambda t: _edit(t, f"steps = {EQ}", "steps = -5"), "equilibration.steps",
                       "must not be negative, got -5"),
    "zero nevery": (lambda t: _edit(t, f"nevery = {NEVERY}", "nevery = 0"), "analysis.msd_cross.nevery",
                    "must be positive, got 0"),
    "block below 2": (lambda t: _edit(t, "block = 10", "block = 1"), "analysis.msd_cross.block", "must be >= 2"),
    "unknown analysis key": (lambda t: _edit(t, "block = 10", "blocks = 10"), "analysis.msd_cross.blocks",
                             "unknown key; did you mean 'block'?"),
    "unknown analysis": (lambda t: t + "\n[analysis.nonesuch]\n", "analysis.nonesuch", "unknown analysis"),
    "missing site file": (lambda t: _edit(t, "sites_from = {", 'sites = "nope.sites"\n_sf = {'),
                          "analysis.hop_events.sites", "site file not found: "),
    "malformed site file": (lambda t: _edit(t, "sites_from = {", 'sites = "campaign.toml"\n_sf = {'),
                            "analysis.hop_events.sites", "first line must be '# ionsitu-sites 1'"),
    "sites and sites_from": (lambda t: _edit(t, "sites_from = {", 'sites = "campaign.toml"\nsites_from = {'),
                             "analysis.hop_events", "needs exactly one of sites (a site file) or sites_from"),
    "r_out below r_in": (lambda t: _edit(t, "r_out = 0.45", "r_out = 0.2"), "analysis.hop_events.r_out",
                         "must be >= r_in = 0.3, got 0.2"),
    "missing r_in": (lambda t: _edit(t, "r_in = 0.3\n", ""), "analysis.hop_events.r_in",
                     "missing (required with mode = 'sites')"),
    "site keys in free mode": (lambda t: _edit(t, "r_in = 0.3", 'mode = "free"\nr_in = 0.3'),
                               "analysis.hop_events.r_in", "only used with mode = 'sites'"),
    "free mode without threshold": (lambda t: _edit(t, "r_in = 0.3", 'mode = "free"\nr_in = 0.3'),
                                    "analysis.hop_events.threshold", "missing (required with mode = 'free')"),
    "unknown lattice": (lambda t: _edit(t, 'lattice = "fcc"', 'lattice = "hcp"'), "analysis.hop_events.sites_from.lattice",
                        "must be one of sc, bcc, fcc, diamond, got 'hcp'"),
    "lattice without cells": (lambda t: _edit(t, ", cells = [4, 4, 4]", ""), "analysis.hop_events.sites_from.cells",
                              "missing: unit cells along a, b, c"),
    "unknown sites_from key": (lambda t: _edit(t, "cells = [4, 4, 4]", "cell = [4, 4, 4]"),
                               "analysis.hop_events.sites_from.cell", "unknown key; did you mean 'cells'?"),
    "species without structure": (lambda t: _edit(t, 'lattice = "fcc", origin = [0.5, 0.0, 0.0], cells = [4, 4, 4]',
                                                  'species = "Li"'),
                                  "analysis.hop_events.sites_from.structure", "missing: give the structure file"),
    "hop every not a multiple": (lambda t: _edit(t, "residence = 3", "residence = 3\nevery = 15"),
                                 "analysis.hop_events.every", "15 is not a multiple of nevery 10"),
    "grid and spacing": (lambda t: _edit(t, "grid = [24, 24, 24]", "grid = [24, 24, 24]\nspacing = 0.2"),
                         "analysis.occupancy_grid", "give exactly one of grid = [nx, ny, nz] or spacing = d"),
    "grid of two": (lambda t: _edit(t, "grid = [24, 24, 24]", "grid = [24, 24]"), "analysis.occupancy_grid.grid",
                    "must be 3 positive integers [nx, ny, nz], got [24, 24]"),
    "occupancy of a framework type": (lambda t: _edit(t, "grid = [24, 24, 24]", "grid = [24, 24, 24]\ntypes = [1]"),
                                      "analysis.occupancy_grid.types[0]", "type 1 is not a mobile type"),
    "vacf block too long": (lambda t: _edit(t, "block = 400", "block = 20000"), "analysis.vacf.block",
                            "must be in 2..16384, got 20000"),
    "vacf of a framework type": (lambda t: _edit(t, "block = 400", "block = 400\ntypes = [1]"),
                                 "analysis.vacf.types[0]", "type 1 is not a mobile type"),
    "bad report tolerance": (lambda t: t + "\n[report]\njump_rel_tol = -0.1\n", "report.jump_rel_tol",
                             "must not be negative"),
    "no pair_style": (lambda t: _edit(t, "pair_style      lj/cut 2.5", ""), "potential.pair",
                      "must contain a pair_style command"),
    "deepmd in lj units": (lambda t: _edit(_edit(t, "pair = \"\"\"", 'deepmd = ["m1.pb", "m2.pth"]\n_p = """'),
                                           "[potential]", "[potential]"),
                           "campaign.units", "DeePMD models use metal units, got 'lj'"),
    "pytorch model": (lambda t: _edit(t, "pair = \"\"\"", 'deepmd = ["m2.pth"]\n_p = """'),
                      "potential.deepmd[0]", "only TensorFlow .pb models"),
    "window order": (lambda t: t + "\n[report]\nwindow = [5.0, 1.0]\n", "report.window", "needs 0 <= t_start < t_end"),
    "figure format": (lambda t: t + '\n[report]\nfigure_formats = ["png", "gif"]\n', "report.figure_formats[1]",
                      "must be one of png, svg, pdf, got 'gif'"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_config_mistake_reported_with_key_and_reason(tmp_path, name):
    edit, key, reason = MISTAKES[name]
    (tmp_path / "m1.pb").write_bytes(b"")
    (tmp_path / "m2.pth").write_bytes(b"")
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(edit(BASE))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    hits = [(k, r) for k, r in exc.value.errors if k == key and reason in r]
    assert hits, f"expected {key}: ...{reason}... in {exc.value.errors}"


LAMMPS_MISTAKES = {
    "type not in the structure": (lambda t: _edit(t, "types = [2]", "types = [3]"), "mobile.types[0]",
                                  "type 3 is not in the structure (2 atom types)"),
    "type without atoms": (lambda t: _edit(t, "create_box      2 box", "create_box      3 box")
                           .replace("masses = { 1 = 20.0, 2 = 1.0 }", "masses = { 1 = 20.0, 2 = 1.0, 3 = 5.0 }")
                           .replace("types = [2]", "types = [3]"),
                           "mobile.types[0]", "the structure has no atom of type 3"),
    "missing masses": (lambda t: _edit(t, "masses = { 1 = 20.0, 2 = 1.0 }", "masses = { 1 = 20.0 }"),
                       "system.masses", "mass"),
    "bad pair_coeff": (lambda t: _edit(t, "pair_coeff      1 2 0.3 0.65 1.625", "pair_coeff      1 2 0.3"),
                       "potential.pair", "Incorrect args for pair coefficients"),
    "unknown drift group": (lambda t: _edit(t, "levels = 3", 'levels = 3\ndrift = "framework"'),
                            "analysis.msd_cross", "drift group 'framework' does not exist"),
    "r_out beyond half the box": (lambda t: _edit(_edit(t, "r_out = 0.45", "r_out = 3.5"), "r_in = 0.3", "r_in = 3.4"),
                                  "analysis.hop_events", "r_out 3.5 is not below half the smallest cell width"),
    "bad system command": (lambda t: _edit(t, "create_atoms    1 box\n", "create_atoms    1 boxx\n"),
                           "system.commands", "create_atoms"),
}


@pytest.mark.parametrize("name", sorted(LAMMPS_MISTAKES))
def test_config_mistake_found_in_lammps(tmp_path, name):
    edit, key, reason = LAMMPS_MISTAKES[name]
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(edit(BASE))
    camp = Campaign.from_toml(cfg)  # statically fine
    errors = camp.check_lammps()
    hits = [(k, r) for k, r in errors if k == key and reason in r]
    assert hits, f"expected {key}: ...{reason}... in {errors}"


def test_all_mistakes_are_collected_and_nothing_runs(tmp_path):
    text = _edit(BASE, "temperatures = [0.6, 0.8]", "temperatures = [0.0, 0.8]")
    text = _edit(text, "replicas = 2", "replicas = 2\nfoo = 1")
    text = _edit(text, f"nevery = {NEVERY}", "nevery = -1")
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(text)
    proc = run_campaign(cfg)
    assert proc.returncode == 2
    for k in ("campaign.temperatures[0]", "campaign.foo", "analysis.msd_cross.nevery"):
        assert k in proc.stderr
    assert "3 error(s)" in proc.stderr and proc.stderr.count("error(s) in the campaign file") == 1  # rank 0 only
    assert not (tmp_path / "out").exists()


def test_sites_from_a_structure_and_site_free_mode(tmp_path):
    """sites_from = a species of a structure file (ASE); mode = 'free' runs and reports."""
    from ase import Atoms
    from ase.io import write

    a = (4 / 1.05) ** (1 / 3)
    li = Atoms("Li4", scaled_positions=[[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]], cell=np.eye(3) * a,
               pbc=True).repeat((4, 4, 4))
    write(tmp_path / "li.extxyz", li)
    cfg = tmp_path / "campaign.toml"
    lattice = 'lattice = "fcc", origin = [0.5, 0.0, 0.0], cells = [4, 4, 4]'
    cfg.write_text(campaign_toml(analyses=ANALYSES.replace(lattice, 'species = "Li", structure = "li.extxyz"')))
    camp = Campaign.from_toml(cfg)
    assert camp.check_lammps() == []
    a_, c = camp.analyses["hop_events"]
    lat = Campaign.from_toml(_write(tmp_path / "lat.toml", campaign_toml())).analyses["hop_events"]
    sites = a_.make_sites(c, camp.conf, None, None)
    ref = lat[0].make_sites(lat[1], camp.conf, np.eye(3) * 4 * a, np.zeros(3))
    assert sites.n == ref.n == 256
    key = lambda f: np.array(sorted(map(tuple, np.round(f, 6) % 1.0)))
    np.testing.assert_allclose(key(sites.frac), key(ref.frac), atol=1e-6)  # the lattice generator's sites
    cfg.write_text(campaign_toml(analyses=ANALYSES.replace(lattice, 'species = "Na", structure = "li.extxyz"')))
    with pytest.raises(ConfigError, match="no atoms of species"):
        load_config(cfg)
    # site-free detection: runs, and the report has hops without site classes' E_a
    free = ANALYSES.replace('sites_from = { ' + lattice + ' }\nr_in = 0.3\nr_out = 0.45\n',
                            'mode = "free"\nthreshold = 0.6\nwindow = 5\n')
    cfg.write_text(campaign_toml(analyses=free, replicas=1, prod=3000))
    proc = run_campaign(cfg, args=["--progress-every", "100"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    for e in rep["temperatures"]:
        h = e["hops"]
        assert h["mode"] == "free" and h["n_sites"] is None and h["n_hops"] > 0 and h["D_j"] > 0
        assert h["activation_energy"]["skipped"] == "site-free events have no jump types"


def _write(path, text):
    path.write_text(text)
    return path


def test_changed_settings_of_members_that_ran_are_refused(tmp_path, reference):
    text = _edit(campaign_toml(output=str(reference["out"])), "timestep = 0.002", "timestep = 0.001")
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(text)
    proc = subprocess.run([IONSITU, "campaign", "check", str(cfg), "--no-lammps"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    line = next(ln for ln in proc.stderr.splitlines() if "member T0.6_r0:" in ln)
    assert "ran with different settings (changed: " in line and "timestep" in line  # (and tdamp = 100 dt)
    # more production steps is not a change of settings: completed members are extended
    more = campaign_toml(output=str(reference["out"]), prod=PROD + 1000)
    cfg.write_text(more)
    camp = Campaign.from_toml(cfg)
    assert camp.changed_settings() == []
    assert camp.plan(camp.members[0])["action"] == "resume"
    assert camp.plan(camp.members[0])["restarts"][0].endswith("restart.end")


def test_resume_script_redefines_the_same_fixes(tmp_path):
    cfg = tmp_path / "campaign.toml"
    cfg.write_text(BASE)
    camp = Campaign.from_toml(cfg)
    m = camp.members[0]
    fresh = [c for _, c in camp.input_script(m)]
    resumed = [c for _, c in camp.input_script(m, EQ + 3 * RESTART, m.dir / "restart.a", attempt=2)]
    assert any(c.startswith("velocity all create 0.6 4928") for c in fresh)
    assert not any(c.startswith(("velocity", "lattice", "create_box")) for c in resumed)
    assert any(c.startswith("read_restart") for c in resumed)
    assert not any("ionsitu_eq" in c for c in resumed)  # equilibration was done
    fix = [c for c in fresh if "msd/cross" in c]
    assert fix[0].startswith("fix ionsitu_msd ionsitu_mobile") and len(fix) == 1 + SEGMENTS
    # production segments (ends EQ + 2000 k): resumed in segment 2, its fix and the later ones again
    assert [c for c in resumed if "msd/cross" in c] == [fix[0]] + fix[2:]
    assert [c for c in fresh if c.startswith("run ")] == [f"run {EQ} upto"] + [
        f"run {EQ + k * PROD // SEGMENTS} upto" for k in range(1, SEGMENTS + 1)]
    assert [c for c in resumed if c.startswith("run ")] == [f"run {EQ + k * PROD // SEGMENTS} upto" for k in range(2, SEGMENTS + 1)]
    for style, fid in (("occupancy/grid", "ionsitu_occ"), ("hop/events", "ionsitu_hops")):
        fix = [c for c in fresh if style in c]
        assert len(fix) == 1 and fix == [c for c in resumed if style in c]
        assert fix[0].startswith(f"fix {fid} ionsitu_mobile {style} 10 ") and f"every {RESTART}" in fix[0]
    assert f'sites "{m.dir / "sites.txt"}" 0.3 0.45 residence 3 file "{m.dir / "hops.txt"}"' in fix[0]
    assert fresh[-3] == resumed[-3] == f"run {EQ + PROD} upto" and fresh[-2] == f"unfix ionsitu_msd_seg{SEGMENTS}"


def test_model_deviation_summary(tmp_path):
    from ionsitu.io.model_devi import read_model_devi

    head = "#       step         max_devi_v         min_devi_v         avg_devi_v         max_devi_f         min_devi_f         avg_devi_f\n"
    (tmp_path / "model_devi.out").write_text(head + "".join(f"{s} 0 0 0 {0.1 * s} 0 0\n" for s in range(0, 50, 10)))
    (tmp_path / "model_devi.2.out").write_text(head + "".join(f"{s} 0 0 0 2.0 0 0\n" for s in range(30, 70, 10)))
    md = read_model_devi([tmp_path / "model_devi.out", tmp_path / "model_devi.2.out"])
    np.testing.assert_array_equal(md[:, 0], [0, 10, 20, 30, 40, 50, 60])  # attempt 2 supersedes from step 30
    np.testing.assert_allclose(md[:, 1], [0.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    # a step written twice in one file (end of equilibration, setup of production): once
    (tmp_path / "model_devi.out").write_text(head + "0 0 0 0 0.5 0 0\n10 0 0 0 0.7 0 0\n10 0 0 0 0.9 0 0\n")
    md = read_model_devi([tmp_path / "model_devi.out"])
    np.testing.assert_array_equal(md[:, 0], [0, 10])
    np.testing.assert_allclose(md[:, 1], [0.5, 0.9])


def test_cli_keys_and_check_of_the_example():
    keys = subprocess.run([IONSITU, "campaign", "keys"], capture_output=True, text=True, timeout=60)
    assert keys.returncode == 0 and "[analysis.msd_cross]" in keys.stdout and "ranks_per_run" in keys.stdout
    example = Path(__file__).resolve().parents[1] / "examples" / "quick" / "campaign.toml"
    check = subprocess.run([IONSITU, "campaign", "check", str(example)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert "OK (8 members" in check.stdout


def test_one_pass_sites_from_the_equilibration_occupancy(tmp_path):
    """sites_from = { occupancy = 'equilibration' }: the member's own equilibration grid gives
    its sites (find_sites of that grid, the 256 octahedral interstitials the mobile ions sit on),
    then fix hop/events finds hops between them in production; on 2 ranks; bad keys refused."""
    from ionsitu.analysis.sites import find_sites
    from ionsitu.io.occupancy import read_occupancy
    from ionsitu.io.sites import read_sites

    lattice = 'sites_from = { lattice = "fcc", origin = [0.5, 0.0, 0.0], cells = [4, 4, 4] }'
    occ = ('sites_from = { occupancy = "equilibration", grid = [32, 32, 32], nevery = 5, threshold = 0.2, '
           'min_distance = 0.5 }')
    cfg = _write(tmp_path / "campaign.toml", campaign_toml(temps=(0.6,), replicas=1, prod=3000,
                                                           analyses=ANALYSES.replace(lattice, occ)))
    camp = Campaign.from_toml(cfg)
    assert camp.check_lammps() == []
    proc = run_campaign(cfg, args=["--progress-every", "100"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = tmp_path / "out" / "T0.6" / "r0"
    g = read_occupancy(m / "occupancy_equilibration.npz")
    assert g["nframes"] == EQ // 5 + 1
    ref = find_sites(g["counts"].sum(axis=0) if g["counts"].ndim == 4 else g["counts"], g["cell"], g["origin"],
                     threshold=0.2, min_distance=0.5).sites
    sites = read_sites(m / "sites.txt")
    np.testing.assert_allclose(sites.frac, ref.frac, atol=1e-9)
    # the sites are where the 64 ions sat: most of them on the octahedral interstitials the ions
    # were created on (the rest where ions relaxed next to the deleted neighbours), each within
    # the grid's resolution (a voxel diagonal: all counts of a still ion fall in one voxel)
    basis = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    ijk = np.array(np.meshgrid(*[np.arange(4)] * 3, indexing="ij")).reshape(3, -1).T
    lattice_frac = ((ijk[:, None, :] + basis[None]) / 4).reshape(-1, 3)
    d = sites.frac[:, None, :] - lattice_frac[None]
    d = np.linalg.norm((d - np.round(d)) @ sites.cell, axis=-1).min(axis=1)
    voxel_diagonal = np.linalg.norm(np.diag(sites.cell)) / 32
    assert 64 <= sites.n <= 256 and np.mean(d < voxel_diagonal) > 0.75, (sites.n, np.sort(d))
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    h = rep["temperatures"][0]["hops"]
    assert h["n_sites"] == sites.n and h["n_hops"] > 0
    for bad, key, msg in [
        ('occupancy = "production"', "sites_from.occupancy", "must be 'equilibration'"),
        ("grid = [32, 32, 32], ", "analysis.hop_events.sites_from", "exactly one of grid"),
        ("min_distance = 0.5", "sites_from.min_dist", "unknown key"),
        ("nevery = 5", "sites_from.occupancy", "fewer than 10 samples"),
    ]:
        edit = {"nevery = 5": "nevery = 500", "min_distance = 0.5": "min_dist = 0.5"}.get(bad, "")
        text = campaign_toml(temps=(0.6,), replicas=1, analyses=ANALYSES.replace(lattice, occ.replace(bad, edit)))
        if bad.startswith("occupancy"):
            text = text.replace('occupancy = "equilibration"', 'occupancy = "production"')
        with pytest.raises(ConfigError, match=msg) as exc:
            load_config(_write(tmp_path / "bad.toml", text))
        assert key in str(exc.value)


def test_segments_are_consecutive_and_the_report_averages_them(reference):
    """[analysis.msd_cross] segments: SEGMENTS consecutive production segments per member, each
    its own fix and file; the report's segment average = segment_average of those files."""
    from ionsitu.analysis.transport import segment_average

    rep = json.loads((reference["out"] / "report.json").read_text())
    for e in rep["temperatures"]:
        files = [mdir(reference["out"], n) / f"msd.seg{k}.dat" for n in e["members"] for k in range(1, SEGMENTS + 1)]
        segs = [ionsitu.read_msd(f) for f in files]
        for k, r in enumerate(segs[:SEGMENTS]):  # first member: back to back, every sample once
            assert r.meta["step_first"] == EQ + k * PROD // SEGMENTS
            assert r.meta["step_last"] == EQ + (k + 1) * PROD // SEGMENTS
            assert r.meta["nsamples"] == PROD // SEGMENTS // NEVERY + 1
        ref = segment_average(segs, e["T"]).to_dict()
        got = e["segments"]
        assert got["n"] == len(files) == SEGMENTS * e["n_replicas"]
        for k in ("D_mean", "D_sem", "D_sigma_mean", "D_sigma_sem", "H"):
            assert got[k] == pytest.approx(ref[k], rel=1e-12), k
        assert got["D_mean"] > 0 and got["D_sem"] > 0
        assert "Segment averages" in (reference["out"] / "report.html").read_text()
        # the segments' mean D agrees with the whole run's within their spread
        assert abs(got["D_mean"] - e["tracer"]["D"]) < 4 * np.hypot(got["D_sem"], e["tracer"]["D_err"])


def test_segments_config_errors(tmp_path):
    for n, msg in [(1, "must be 0 \\(none\\) or >= 2"), (100, "fewer than 10 samples")]:
        text = campaign_toml().replace(f"segments = {SEGMENTS}", f"segments = {n}")
        with pytest.raises(ConfigError, match=msg):
            load_config(_write(tmp_path / "bad.toml", text))


def test_one_pass_pipeline_resumes_by_fix_id(tmp_path):
    """sites_from occupancy: a member resumed inside its equilibration redefines the grid's fix
    under the same ID before any run (LAMMPS restores its counts from the restart file); one
    resumed in production runs no grid fix (prepare keeps the sites.txt it wrote, as for every
    site source: test_interrupted_campaign_resumes_with_statistics_intact)."""
    lattice = 'sites_from = { lattice = "fcc", origin = [0.5, 0.0, 0.0], cells = [4, 4, 4] }'
    occ = 'sites_from = { occupancy = "equilibration", grid = [32, 32, 32], nevery = 5, threshold = 0.2 }'
    camp = Campaign.from_toml(_write(tmp_path / "campaign.toml",
                                     campaign_toml(temps=(0.6,), replicas=1, analyses=ANALYSES.replace(lattice, occ))))
    m = camp.members[0]
    fresh = [c for _, c in camp.input_script(m)]
    in_eq = [c for _, c in camp.input_script(m, EQ // 2, m.dir / "restart.a", attempt=2)]
    in_prod = [c for _, c in camp.input_script(m, EQ + RESTART, m.dir / "restart.a", attempt=2)]
    grid = [c for c in fresh if c.startswith("fix ionsitu_occ_eq ")]
    assert len(grid) == 1 and "occupancy/grid 5 grid 32 32 32 norm counts" in grid[0]
    assert [c for c in in_eq if c.startswith("fix ionsitu_occ_eq ")] == grid
    first_run = next(i for i, c in enumerate(in_eq) if c.startswith("run "))
    assert in_eq.index(grid[0]) < first_run and in_eq[first_run] == f"run {EQ} upto"
    assert in_eq[first_run + 1:first_run + 3] == ["unfix ionsitu_eq", "unfix ionsitu_occ_eq"]
    assert not any("ionsitu_occ_eq" in c for c in in_prod)

"""fix msd/cross in real LAMMPS against a direct numpy reference, across ranks and restarts."""

from __future__ import annotations

import numpy as np
import pytest

import ionsitu
from ionsitu.analysis.msd import msd_from_frames
from lammps_helpers import BASE_LJ, com, dump_positions, lammps_error, lj_continuation, lj_mixture, run_lmp
from msd_reference import assert_same_msd, reference_msd

def reference_from_dump(res, *dumps, group=None, drift="all", charges=None):
    x, types, masses, steps = dump_positions(*dumps)
    meta = res.meta
    d = {"all": com(x, masses), "none": None}[drift] if isinstance(drift, str) else com(x, masses, drift)
    sel = slice(None) if group is None else group
    nevery = int(meta["nevery"])
    assert np.all(np.diff(steps) == nevery)
    return reference_msd(x[:, sel], meta["block"], meta["levels"], nevery, meta["dt"],
                         types=types[sel], charges=charges, drift=d)


@pytest.mark.parametrize("nprocs", [1, 2])
def test_mixture_with_charges_matches_numpy(tmp_path, nprocs):
    fix = "fix m all msd/cross 2 block 4 levels 3 charges 1 1.0 2 -1.0 file msd.dat"
    run_lmp(tmp_path, lj_mixture(fix), nprocs)
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    assert res.natoms == 256 and res.meta["drift"] == "all" and res.units == "lj"
    assert list(res.types) == [1, 2] and res.species_counts.sum() == 256
    assert res.n_origins[0] == 100 and res.n_origins[-1] > 0     # 101 samples reach every lag
    ref = reference_from_dump(res, tmp_path / "dump.txt", charges=[1.0, -1.0])
    assert_same_msd(res, ref)
    # the charge MSD is the charge-weighted sum of the Onsager terms
    q = np.array([1.0, -1.0])
    np.testing.assert_allclose(res.charge_xyz, np.einsum("a,b,abkd->kd", q, q, res.onsager), rtol=1e-10, atol=1e-15)


def test_subgroup_with_drift_of_framework_group(tmp_path):
    fix = "group mobile type 2\ngroup host type 1\nfix m mobile msd/cross 1 block 5 levels 2 drift host file msd.dat"
    run_lmp(tmp_path, lj_mixture(fix, nsteps=120, dump_every=1))
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    x, types, _, _ = dump_positions(tmp_path / "dump.txt")
    assert res.natoms == int(np.sum(types == 2)) and res.meta["drift"] == "host"
    ref = reference_from_dump(res, tmp_path / "dump.txt", group=types == 2, drift=types == 1)
    assert_same_msd(res, ref)


def test_drift_none(tmp_path):
    run_lmp(tmp_path, lj_mixture("fix m all msd/cross 1 block 3 levels 4 drift none file msd.dat", nsteps=60, dump_every=1))
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    assert_same_msd(res, reference_from_dump(res, tmp_path / "dump.txt", drift="none"))


@pytest.mark.parametrize("nprocs", [1, 2])
def test_triclinic_box(tmp_path, nprocs):
    box = "region box prism 0 5 0 5 0 5 1.5 0.7 -0.9"
    fix = "fix m all msd/cross 2 block 4 levels 3 file msd.dat"
    run_lmp(tmp_path, lj_mixture(fix, lattice="sc 0.8", box=box, nsteps=160), nprocs)
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    assert_same_msd(res, reference_from_dump(res, tmp_path / "dump.txt"))
    x, *_ = dump_positions(tmp_path / "dump.txt")
    assert np.ptp(x[:, :, 0]) > 5.0 + 1.5    # atoms really crossed the tilted boundaries


def test_one_and_two_ranks_agree(tmp_path):
    fix = "fix m all msd/cross 1 block 4 levels 3 charges 1 1.0 2 -1.0 file msd.dat"
    run_lmp(tmp_path / "np1", lj_mixture(fix, nsteps=150, dump_every=1), 1)
    run_lmp(tmp_path / "np2", lj_mixture(fix, nsteps=150, dump_every=1), 2)
    assert_same_msd(ionsitu.read_msd(tmp_path / "np2/msd.dat"), ionsitu.read_msd(tmp_path / "np1/msd.dat"), rtol=1e-8)


@pytest.mark.parametrize("nprocs_after", [1, 2])
def test_restart_continues_every_statistic(tmp_path, nprocs_after):
    fix = "fix m all msd/cross 2 block 4 levels 3 charges 1 1.0 2 -1.0 file msd.dat"
    run_lmp(tmp_path / "straight", lj_mixture(fix, nsteps=200), 1)
    first = lj_mixture(fix, nsteps=100) + "write_restart half.restart\n"
    run_lmp(tmp_path / "split", first, 1, name="in.first")
    (tmp_path / "split/dump.txt").rename(tmp_path / "split/dump1.txt")
    second = lj_continuation(fix, 100)
    run_lmp(tmp_path / "split", second, nprocs_after, name="in.second")
    res = ionsitu.read_msd(tmp_path / "split/msd.dat")
    assert res.meta["step_first"] == 0 and res.meta["step_last"] == 200 and res.meta["nsamples"] == 101
    ref = reference_from_dump(res, tmp_path / "split/dump1.txt", tmp_path / "split/dump2.txt", charges=[1.0, -1.0])
    assert_same_msd(res, ref)
    assert_same_msd(res, ionsitu.read_msd(tmp_path / "straight/msd.dat"), rtol=1e-8)


def test_consecutive_runs_and_periodic_atomic_output(tmp_path):
    fix = "fix m all msd/cross 1 block 4 levels 3 file msd.dat every 20"
    script = lj_mixture(fix, nsteps=50, dump_every=1) + "run 40\n"
    run_lmp(tmp_path, script)
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    assert res.meta["nsamples"] == 91 and res.meta["step_last"] == 90
    assert_same_msd(res, reference_from_dump(res, tmp_path / "dump.txt"))
    assert not list(tmp_path.glob("*.tmp"))


def test_offline_core_equals_fix(tmp_path):
    fix = "fix m all msd/cross 2 block 4 levels 3 charges 1 1.0 2 -1.0 file msd.dat"
    run_lmp(tmp_path, lj_mixture(fix))
    x, types, masses, _ = dump_positions(tmp_path / "dump.txt")
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    offline = msd_from_frames(x, masses=masses, types=types, charges={1: 1.0, 2: -1.0},
                              block=4, levels=3, nevery=2, dt=0.005)
    assert_same_msd(offline, res, rtol=1e-12)
    # and the offline writer produces the same file format
    from ionsitu.analysis.msd import centre_of_mass
    from ionsitu.core import MSDCorrelator
    corr = MSDCorrelator(len(types), block=4, levels=3, nevery=2, dt=0.005)
    for frame in x:
        corr.add_frame(frame, drift=centre_of_mass(frame, masses))
    corr.write(tmp_path / "offline.dat")
    back = ionsitu.read_msd(tmp_path / "offline.dat")
    np.testing.assert_allclose(back.coll_xyz, res.coll_xyz, rtol=1e-12, atol=1e-18)


def test_global_array_for_lammps_commands(tmp_path):
    """f_ID[i][j] works in thermo, fix ave/time and lmp.extract_fix."""
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

    fix = ("fix m all msd/cross 2 block 4 levels 3 file msd.dat\n"
           "fix avg all ave/time 2 1 100 f_m[7] mode vector\n"
           "thermo_style custom step temp f_m[3][7] f_avg[3]")
    script = lj_mixture(fix).replace("dump d all", "#").replace("dump_modify", "#")
    lmp = ionsitu.lammps_instance()
    try:
        import os
        cwd = os.getcwd()
        os.chdir(tmp_path)
        lmp.commands_string(script)
        got = np.array([[lmp.extract_fix("m", LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY, i, j) for j in range(12)]
                        for i in range(9)])
        thermo = lmp.last_thermo()
        assert thermo["Step"] == 200
        assert thermo["f_m[3][7]"] == pytest.approx(got[2, 6], rel=1e-14)
        assert thermo["f_avg[3]"] == pytest.approx(got[2, 6], rel=1e-14)
    finally:
        os.chdir(cwd)
        lmp.close()
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    np.testing.assert_allclose(got[:, 6], res.msd, rtol=1e-14)
    np.testing.assert_allclose(got[:, 0], res.lag_steps)


def test_lj_liquid_diffuses_and_crystal_does_not(tmp_path):
    liquid = "fix m all msd/cross 10 block 10 levels 3 file msd.dat"
    run_lmp(tmp_path / "liquid", lj_mixture(liquid, nsteps=3000, dump_every=10, temp=2.0))
    res = ionsitu.read_msd(tmp_path / "liquid/msd.dat")
    ref = reference_from_dump(res, tmp_path / "liquid/dump.txt")
    assert_same_msd(res, ref)
    late = (res.time > 1.0) & (res.n_origins >= 5)
    d_fix = np.polyfit(res.time[late], res.msd[late], 1)[0] / 6
    d_ref = np.polyfit(ref.time[late], ref.msd[late], 1)[0] / 6
    assert d_fix == pytest.approx(d_ref, rel=1e-10)
    assert 0.03 < d_fix < 0.5                              # LJ liquid near T=2, rho=0.84
    solid = "fix m all msd/cross 10 block 10 levels 3 file msd.dat"
    run_lmp(tmp_path / "solid", lj_mixture(solid, nsteps=3000, dump_every=1000, temp=0.2, lattice="fcc 1.1"))
    cry = ionsitu.read_msd(tmp_path / "solid/msd.dat")
    ok = cry.n_origins > 0
    assert cry.msd[ok].max() < 0.05                        # bounded by the vibration amplitude
    assert cry.msd[ok][-1] < 1.5 * cry.msd[ok][len(cry.msd[ok]) // 2]   # flat at long lags


BASE = BASE_LJ + "group none type 3\n"


@pytest.mark.parametrize("line, message", [
    ("fix m all msd/cross", "missing argument Nevery"),
    ("fix m all msd/cross 0", "Nevery must be in 1..2147483647, got 0"),
    ("fix m all msd/cross x", "Nevery expects an integer, got 'x'"),
    ("fix m all msd/cross 1 block", "keyword block needs a value"),
    ("fix m all msd/cross 1 block 1", "block must be in 2..100000, got 1"),
    ("fix m all msd/cross 1 levels 0", "levels must be in 1..64, got 0"),
    ("fix m all msd/cross 1 bogus 3", "unknown keyword 'bogus'"),
    ("fix m all msd/cross 1 drift nowhere", "drift group 'nowhere' does not exist"),
    ("fix m all msd/cross 1 charges", "charges needs pairs of 'type charge'"),
    ("fix m all msd/cross 1 charges 1", "type 1 needs a numeric charge"),
    ("fix m all msd/cross 1 charges 7 1.0", "charges: atom type must be in 1..3, got 7"),
    ("fix m all msd/cross 1 charges 1 1.0 1 2.0", "atom type 1 given twice"),
    ("fix m all msd/cross 2 file f every 3", "every 3 is not a multiple of Nevery 2"),
    ("fix m all msd/cross 2 every 4", "needs a file to write to"),
    ("fix m none msd/cross 1\nrun 0", "group none is empty"),
    ("fix m all msd/cross 1 charges 1 1.0 2 -1.0\nrun 0", "atom type 2 has no atoms in group all"),
    ("variable v atom 1\ngroup dyn dynamic all var v\nfix m dyn msd/cross 1", "group dyn is dynamic"),
    ("fix m all msd/cross 1 file /nonexistent/dir/msd.dat\nrun 2", "cannot open /nonexistent/dir/msd.dat.tmp"),
    ("fix m all msd/cross 1\nrun 2\ngroup g2 id 1\ndelete_atoms group g2\nrun 1",
     "had 108 atoms at the first sample and has 107 at step 3; atoms must not enter or leave"),
    ("fix m all msd/cross 2\nrun 2\ntimestep 0.001\nrun 2", "timestep changed"),
    ("fix m all msd/cross 2\nrun 2\nreset_timestep 100\nrun 2", "does not follow the previous one"),
])
def test_bad_input_gives_clear_error(line, message):
    assert message in lammps_error(BASE + line)


def test_msd_file_reads_with_numpy_and_pandas_and_in_the_old_layout(tmp_path, monkeypatch):
    """A file a real fix wrote: numpy.genfromtxt(names=True) and pandas.read_csv(sep=r"\\s+",
    comment="#") name its columns and read the numbers of read_msd; the same file in the
    version-1 layout (tag first, '# columns' after the meta line) reads to the same result."""
    import pandas as pd
    monkeypatch.chdir(tmp_path)
    lmp = ionsitu.lammps_instance()
    lmp.commands_string(lj_mixture("fix m all msd/cross 2 block 4 levels 2 charges 1 1.0 2 -1.0 file msd.dat",
                                   nsteps=40, dump_every=1000, cells=3))
    lmp.close()
    res = ionsitu.read_msd("msd.dat")
    names = list(res.columns)
    assert names[:8] == ["lag_steps", "time", "n_origins", "msd_x", "msd_y", "msd_z", "msd", "msd4"]
    assert "onsager_1_2" in names and res.meta["version"] == 2
    arr = np.genfromtxt("msd.dat", names=True)
    assert list(arr.dtype.names) == names and arr.shape == (6,)
    df = pd.read_csv("msd.dat", sep=r"\s+", comment="#")
    assert list(df.columns) == names and df.shape == (6, len(names))
    for n in names:
        np.testing.assert_array_equal(arr[n], res.columns[n])
        np.testing.assert_array_equal(df[n].to_numpy(dtype=float), res.columns[n])
    # version 1, as ionsitu wrote it before: "# ionsitu-msd 1", "# meta", "# columns ...", rows
    lines = (tmp_path / "msd.dat").read_text().splitlines(keepends=True)
    assert lines[1] == "# ionsitu-msd 2\n" and lines[2].startswith("# meta {")
    old = tmp_path / "msd_v1.dat"
    old.write_text("# ionsitu-msd 1\n" + lines[2].replace('"version": 2', '"version": 1') + "# columns " + lines[0]
                   + "".join(lines[3:]))
    res1 = ionsitu.read_msd(old)
    assert res1.meta["version"] == 1 and list(res1.columns) == names
    for n in names:
        np.testing.assert_array_equal(res1.columns[n], res.columns[n])
    np.testing.assert_array_equal(res1.onsager, res.onsager)
    from ionsitu.io.msd import is_msd_file
    assert is_msd_file(old) and is_msd_file(tmp_path / "msd.dat") and not is_msd_file(tmp_path / "dump.txt")

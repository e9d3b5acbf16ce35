"""fix hop/events in real LAMMPS: synthetic trajectories with known hops, the model ion
conductor (D_j vs D* from fix msd/cross), ranks, restart, offline core, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ionsitu
from ionsitu.core import hops_from_frames
from ionsitu.analysis.hops import backjump_fraction, jump_diffusivity
from ionsitu.io.events import read_events
from ionsitu.io.sites import sites_from_array, write_sites
from lammps_helpers import lammps_error, run_lmp

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- synthetic

L = 10.0
GRID = np.array([[i, j, k] for i in range(5) for j in range(5) for k in range(5)], dtype=float)
SITES = (2 * GRID + 1) / L      # fractional; Cartesian sites at odd coordinates 1, 3, ..., 9


def site(x, y, z):
    return int(np.flatnonzero(np.all(np.isclose(SITES * L, [x, y, z]), axis=1))[0])


A, B, C, D = (3, 1, 1), (7, 1, 1), (5, 5, 5), (7, 5, 5)
E, F, G, H = (1, 5, 1), (1, 7, 1), (5, 1, 9), (5, 1, 1)
# positions of ions 1..4 at samples k = 0..10 (steps 0, 10, ..., 100)
PATHS = np.array([
    # ion 1: rattles between r_in and r_out of A, hops to B (confirmed one sample later),
    # stays, jumps back to A (a backjump)
    [A, (3.7, 1, 1), (3.3, 1, 1), (3.75, 1, 1), B, (6.9, 1, 1), B, B, A, A, (3.1, 1, 1)],
    # ion 2: an excursion to D shorter than the residence, then a moment in transit: no hop
    [C, C, C, D, C, C, (6, 5, 5), C, C, C, C],
    # ions 3 and 4 hop together at sample 5; ion 4 through the periodic boundary in z
    [E, E, E, E, E, F, F, F, F, F, F],
    [G, G, G, G, G, H, H, H, H, H, H],
], dtype=float).transpose(1, 0, 2)
# (step, atom id, from, to, displacement, origin arrival step, origin last step, censored)
EXPECTED = [
    (40, 1, site(*A), site(*B), (4, 0, 0), 0, 30, 1),
    (50, 3, site(*E), site(*F), (0, 2, 0), 0, 40, 1),
    (50, 4, site(*G), site(*H), (0, 0, 2), 0, 40, 1),
    (80, 1, site(*B), site(*A), (-4, 0, 0), 40, 70, 0),
]


def box_with_atoms(positions):
    atoms = "\n".join(f"create_atoms 1 single {x} {y} {z} units box" for x, y, z in positions)
    return f"""
units lj
atom_style atomic
region box block 0 {L} 0 {L} 0 {L} units box
create_box 1 box
{atoms}
mass 1 1.0
"""


def synthetic_head(site_file):
    return box_with_atoms(PATHS[0]) + "pair_style zero 1.0\npair_coeff * *\n"


FIXES = """
fix hop all hop/events 10 sites {sites} 0.5 0.8 residence 2 file hops.txt
fix free all hop/events 10 free 1.0 1 residence 2 file free.txt
thermo_style custom step f_hop[1] f_hop[2] f_hop[3] f_hop[4]
"""


def frames_script(k0, k1):
    """`set` the positions of samples k0..k1-1, each followed by one sample (run 0 / run 10)."""
    out = []
    for k in range(k0, k1):
        out += [f"set atom {i + 1} x {x} y {y} z {z}" for i, (x, y, z) in enumerate(PATHS[k])]
        out.append("run 0" if k == 0 else "run 10")
    return "\n".join(out) + "\n"


def write_site_file(path):
    write_sites(path, sites_from_array(SITES, np.eye(3) * L, fractional=True, units="lj"))


def core_rows(path):
    return np.loadtxt(path, ndmin=2).reshape(-1, 16)


def check_expected(ev):
    assert len(ev) == len(EXPECTED)
    for row, (step, aid, a, b, disp, arr, last, cens) in zip(ev, EXPECTED):
        assert (row["step"], row["atom_id"], row["from_site"], row["to_site"]) == (step, aid, a, b)
        np.testing.assert_allclose([row["dx"], row["dy"], row["dz"]], disp, atol=1e-12)
        assert row["residence"] == pytest.approx((step - arr) * 0.005)
        assert row["duration"] == pytest.approx((step - last) * 0.005)
        assert row["censored"] == bool(cens)


@pytest.mark.parametrize("nprocs", [1, 2])
def test_synthetic_hops_are_exactly_the_known_events(tmp_path, nprocs):
    write_site_file(tmp_path / "sites.txt")
    log = run_lmp(tmp_path, synthetic_head("sites.txt") + FIXES.format(sites="sites.txt") + frames_script(0, 11),
                  nprocs)
    ev, meta = read_events(tmp_path / "hops.txt")
    check_expected(ev)
    assert meta["natoms"] == 4 and meta["nsamples"] == 11 and meta["nhops"] == 4 and meta["nhopped"] == 3
    assert meta["step_first"] == 0 and meta["step_last"] == 100 and meta["nsites"] == 125
    assert backjump_fraction(ev).n_backjumps == 1
    last = [line.split() for line in log.splitlines() if line.split()[:1] == ["100"]][-1]
    assert [float(v) for v in last[1:5]] == [4, 3, 11, 4]           # f_hop[1..4]
    # the offline core on the same positions gives the same events, bit for bit
    ev_core, det = hops_from_frames(PATHS, np.arange(11) * 10, sites=SITES, r_in=0.5, r_out=0.8, residence=2,
                                    cells=np.eye(3) * L, timestep=0.005)
    np.testing.assert_array_equal(det.core_events(), core_rows(tmp_path / "hops.txt"))
    assert det.nhops == 4 and det.nhopped == 3
    # site-free detection: the same core in its other mode
    _, free = hops_from_frames(PATHS, np.arange(11) * 10, threshold=1.0, window=1, residence=2,
                               cells=np.eye(3) * L)
    rows = core_rows(tmp_path / "free.txt")
    np.testing.assert_array_equal(free.core_events(), rows)
    assert [(int(s), int(a)) for s, a in rows[:, :2]] == [(40, 1), (50, 3), (50, 4), (80, 1)]
    np.testing.assert_allclose(rows[1:3, 10:13], [[0, 2, 0], [0, 0, 2]], atol=1e-12)


@pytest.mark.parametrize("nprocs_after", [1, 2])
def test_synthetic_restart_no_duplicates_none_lost(tmp_path, nprocs_after):
    """Restart after sample 5, while ions 3 and 4 are candidates not yet confirmed. The first
    run goes on to the end (writing all events); the restarted run truncates the log to the
    checkpoint of its restart file and appends from there."""
    write_site_file(tmp_path / "sites.txt")
    first = (synthetic_head("sites.txt") + FIXES.format(sites="sites.txt") + frames_script(0, 6)
             + "write_restart half.restart\n" + frames_script(6, 11))
    run_lmp(tmp_path, first, name="in.first")
    straight = (tmp_path / "hops.txt").read_text()
    second = ("read_restart half.restart\npair_style zero 1.0\npair_coeff * *\n" + FIXES.format(sites="sites.txt")
              + frames_script(6, 11))
    run_lmp(tmp_path, second, nprocs_after, name="in.second")
    ev, meta = read_events(tmp_path / "hops.txt")
    check_expected(ev)
    assert meta["nsamples"] == 11 and meta["nhops"] == 4 and meta["nhopped"] == 3
    strip = lambda text: [line for line in text.splitlines() if not line.startswith("# meta")]
    assert strip((tmp_path / "hops.txt").read_text()) == strip(straight)
    np.testing.assert_array_equal(core_rows(tmp_path / "free.txt")[:, :2], [[40, 1], [50, 3], [50, 4], [80, 1]])


# ----------------------------------------------------------------------------- streaming event log

def streaming_head():
    """50 ions moving at constant velocity along x through the sites (spacing 2): 0.5 per
    sample, so each ion is near a site for 3 of every 4 samples and hops every 4 samples
    (residence 2: a hop is pending for one sample after its arrival)."""
    return box_with_atoms([(x, y, z) for x in (1.0, 5.0) for y in range(1, 10, 2) for z in range(1, 10, 2)]) + (
        "velocity all set 10.0 0 0\n")


STREAM_RUN = """pair_style zero 1.0
pair_coeff * *
timestep 0.005
fix nve all nve
neigh_modify every 1 delay 0 check no
atom_modify sort 0 0.0
fix hop all hop/events 10 sites {d}sites.txt 0.6 0.8 residence 2 file {d}hops.txt every 40
"""
STREAM_FIX = STREAM_RUN.format(d="")


def restart_record_bytes(path):
    return Path(path).stat().st_size


def test_streaming_log_restart_size_is_bounded(tmp_path):
    """The restart record holds only the pending events: its size does not grow with the
    number of events, while the log has them all, sorted, once."""
    write_site_file(tmp_path / "sites.txt")
    script = (streaming_head() + STREAM_FIX + "run 230\nwrite_restart early.restart\n"
              + "run 2000\nwrite_restart late.restart\n")
    run_lmp(tmp_path, script)
    ev, meta = read_events(tmp_path / "hops.txt")
    # samples 0..223 (steps 0..2230): each ion hops every 4 samples, arrivals at k = 3, 7, ...
    assert meta["nsamples"] == 224 and meta["nhops"] == len(ev) == 50 * 55
    keys = np.stack([ev["step"], ev["atom_id"]], axis=1)
    assert len(np.unique(keys, axis=0)) == len(ev)
    assert np.all(np.diff(ev["step"]) >= 0)
    np.testing.assert_allclose(np.abs(ev["dx"]), 2.0, atol=1e-9)
    early, late = restart_record_bytes(tmp_path / "early.restart"), restart_record_bytes(tmp_path / "late.restart")
    # 10x the events (128 B each in the old record: +300 kB); the record stays the same size
    assert abs(late - early) < 1024, (early, late)


@pytest.mark.parametrize("nprocs_after", [1, 2])
def test_streaming_log_resume_after_a_kill(tmp_path, nprocs_after):
    """A run killed after write_restart leaves committed rows, a provisional tail and maybe a
    half-written line past the restart's checkpoint; the resumed run truncates them and its
    log equals the straight run's byte for byte (header included)."""
    head = streaming_head()
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    for d in (straight_dir, split_dir):
        d.mkdir()
        write_site_file(d / "sites.txt")
    run_lmp(straight_dir, head + STREAM_FIX + "run 300\nrun 500\n")
    straight = (straight_dir / "hops.txt").read_text()
    # restart at sample 27 (k = 3 mod 4): every ion has a pending arrival
    run_lmp(split_dir, head + STREAM_FIX + "run 270\nwrite_restart half.restart\nrun 30\nrun 300\n")
    killed = (split_dir / "hops.txt").read_text()
    assert len(killed) > 1000
    with open(split_dir / "hops.txt", "a") as f:        # killed in the middle of a write
        f.write("1230 17 3 8 1.0000000000000")
    second = "read_restart half.restart\n" + STREAM_FIX + "run 30\nrun 500\n"
    run_lmp(split_dir, second, nprocs_after, name="in.second")
    assert (split_dir / "hops.txt").read_text() == straight
    ev, meta = read_events(split_dir / "hops.txt")
    assert meta["nhops"] == len(ev) == 50 * 20
    # the log of the restart's checkpoint is required
    (split_dir / "hops.txt").write_text("# ionsitu-hops 1\n")
    err = lammps_error(f"read_restart {split_dir}/half.restart\n" + STREAM_RUN.format(d=f"{split_dir}/"))
    assert f"event log {split_dir}/hops.txt has 17 bytes, fewer than the" in err, err


# ----------------------------------------------------------------------------- model ion conductor


def conductor_sites(path):
    """Octahedral interstitials of the fcc framework of examples/quick/in.ion_conductor."""
    a = (4 / 1.05) ** (1 / 3)
    base = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    frac = np.array([b + [i, j, k] for i in range(5) for j in range(5) for k in range(5) for b in base]) / 5
    write_sites(path, sites_from_array(frac, np.eye(3) * 5 * a, fractional=True, units="lj"))
    return frac


def conductor(tail, steps):
    src = (ROOT / "examples/quick/in.ion_conductor").read_text()
    return f"variable steps index {steps}\n" + src[: src.index("fix             msd")] + tail


HOPS = "fix hop mobile hop/events 10 sites sites.txt 0.3 0.45 residence 3 file hops.txt\n"
DUMP = ("dump d mobile custom 10 mobile.txt id x y z\n"
        "dump_modify d sort id format float %.17g\n")


def read_mobile_dump(path):
    xs, steps, ids = [], [], None
    for block in Path(path).read_text().split("ITEM: TIMESTEP\n")[1:]:
        lines = block.splitlines()
        steps.append(int(lines[0]))
        n = int(lines[2])
        a = np.array([line.split() for line in lines[8 : 8 + n]], dtype=float)
        ids = a[:, 0].astype(np.int64)
        xs.append(a[:, 1:4])
    box = np.array([line.split() for line in lines[4:7]], dtype=float)
    return np.array(xs), ids, np.array(steps), box


def offline(run_dir, *dumps):
    frames, steps = [], []
    for d in dumps:
        x, ids, s, box = read_mobile_dump(run_dir / d)
        if steps and s[0] == steps[-1][-1]:
            x, s = x[1:], s[1:]
        frames.append(x)
        steps.append(s)
    x, s = np.concatenate(frames), np.concatenate(steps)
    _, det = hops_from_frames(x, s, sites=run_dir / "sites.txt", r_in=0.3, r_out=0.45, residence=3,
                              ids=ids, hs=np.r_[box[:, 1] - box[:, 0], 0, 0, 0], origins=box[:, 0])
    return det.core_events()


def test_conductor_jump_diffusivity_agrees_with_msd(tmp_path):
    """D_j = sum|dr|^2/(6 N t) from the events against the tracer D* of fix msd/cross in the
    same run (T = 0.6, 125 ions, 40 tau).  Statistical errors: D_j ~ 1/sqrt(hops) ~ 5 %,
    D* ~ 10 % (125 ions, 40 tau, slope over 2..10 tau); systematic: D* = f D_j with the
    correlation factor f < 1 (8-9 % backjumps here) and moves through tetrahedral holes that
    the octahedral sites do not count.  Measured here D_j/D* ~ 0.95; we require 0.7..1.3."""
    conductor_sites(tmp_path / "sites.txt")
    tail = "fix msd mobile msd/cross 10 block 10 levels 4 file msd.dat\n" + HOPS + "run ${steps}\n"
    run_lmp(tmp_path, conductor(tail, 20000))
    ev, meta = read_events(tmp_path / "hops.txt")
    t = (meta["step_last"] - meta["step_first"]) * meta["dt"]
    assert meta["natoms"] == 125 and t == pytest.approx(40.0)
    assert len(ev) > 250 and meta["nhopped"] > 100
    dj = jump_diffusivity(ev, meta["natoms"], t).D
    res = ionsitu.read_msd(tmp_path / "msd.dat")
    m = (res.time >= 2) & (res.time <= 10) & (res.n_origins > 0)
    d_star = np.polyfit(res.time[m], res.msd[m], 1)[0] / 6
    print(f"hops {len(ev)}, D_j {dj:.4g}, D* {d_star:.4g}, ratio {dj / d_star:.3f}, "
          f"backjumps {backjump_fraction(ev).fraction:.3f}")
    assert 0.7 < dj / d_star < 1.3
    lengths = np.sqrt(ev["dx"] ** 2 + ev["dy"] ** 2 + ev["dz"] ** 2)
    assert np.median(lengths) == pytest.approx((4 / 1.05) ** (1 / 3) / np.sqrt(2), rel=1e-9)   # a/sqrt(2)


@pytest.mark.parametrize("nprocs", [1, 2])
def test_conductor_events_equal_offline_core(tmp_path, nprocs):
    conductor_sites(tmp_path / "sites.txt")
    run_lmp(tmp_path, conductor(HOPS + DUMP + "run ${steps}\n", 4000), nprocs)
    rows = core_rows(tmp_path / "hops.txt")
    assert len(rows) > 20
    np.testing.assert_array_equal(rows, offline(tmp_path, "mobile.txt"))
    (tmp_path / "hops.txt").rename(tmp_path / f"hops_np{nprocs}.txt")


POTENTIAL = """
pair_style      lj/cut 2.5
pair_coeff      1 1 1.0 1.0  2.5
pair_coeff      2 2 0.2 0.6  0.673
pair_coeff      1 2 0.3 0.65 1.625
pair_modify     shift yes
neighbor        0.3 bin
group           mobile type 2
"""


@pytest.fixture(scope="module")
def conductor_data(tmp_path_factory):
    """The equilibrated model conductor as a data file (positions and velocities), so that
    runs on 1 and 2 ranks start from the same state (delete_atoms random is rank-dependent)."""
    d = tmp_path_factory.mktemp("conductor")
    run_lmp(d, conductor("write_data conductor.data nocoeff\n", 0))
    conductor_sites(d / "sites.txt")
    return d


def from_data(data_dir, run_dir, tail):
    run_dir.mkdir(parents=True, exist_ok=True)
    for f in ("conductor.data", "sites.txt"):
        (run_dir / f).write_text((data_dir / f).read_text())
    return ("units lj\natom_style atomic\nread_data conductor.data\n" + POTENTIAL
            + "timestep 0.002\nfix nvt all nvt temp 0.6 0.6 0.2\n" + tail)


def first_parting(x1, x2, steps, box=5 * (4 / 1.05) ** (1 / 3)):
    """First sample step where the two trajectories differ by more than 1e-6 (minimum image:
    a restart re-wraps the atoms into the box), or past the end."""
    d = x1 - x2
    dev = np.abs(d - box * np.rint(d / box)).max(axis=(1, 2))
    return steps[np.argmax(dev > 1e-6)] if np.any(dev > 1e-6) else steps[-1] + 1


def test_conductor_one_and_two_ranks_identical_events(tmp_path, conductor_data):
    """Events of 1 and 2 ranks are identical while the trajectories agree (they part by
    round-off growth); compared up to the first sample where any position differs by 1e-6,
    less the residence (events are back-dated to the arrival)."""
    rows, xs = {}, {}
    for n in (1, 2):
        d = tmp_path / f"np{n}"
        run_lmp(d, from_data(conductor_data, d, HOPS + DUMP + "run 4000\n"), n)
        rows[n] = core_rows(d / "hops.txt")
        xs[n], _, steps, _ = read_mobile_dump(d / "mobile.txt")
    parted = first_parting(xs[1], xs[2], steps)
    a, b = (r[r[:, 0] < parted - 3 * 10] for r in (rows[1], rows[2]))
    print(f"trajectories part at step {parted}; {len(a)} identical events before, {len(rows[1])} in all")
    assert len(a) > 10
    np.testing.assert_array_equal(a, b)


def test_conductor_restart_gives_the_straight_events(tmp_path, conductor_data):
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_lmp(straight, from_data(conductor_data, straight, HOPS + DUMP + "run 4000\n"))
    run_lmp(split, from_data(conductor_data, split, HOPS + DUMP + "run 2000\nwrite_restart half.restart\n"),
            name="in.first")
    (split / "mobile.txt").rename(split / "mobile1.txt")
    second = ("read_restart half.restart\n" + POTENTIAL + "fix nvt all nvt temp 0.6 0.6 0.2\n" + HOPS
              + "dump d mobile custom 10 mobile2.txt id x y z\ndump_modify d sort id format float %.17g\nrun 2000\n")
    run_lmp(split, second, 2, name="in.second")
    rows = core_rows(split / "hops.txt")
    assert len(rows) == len({(int(s), int(a)) for s, a in rows[:, :2]})          # no duplicates
    np.testing.assert_array_equal(rows, offline(split, "mobile1.txt", "mobile2.txt"))
    _, meta = read_events(split / "hops.txt")
    assert meta["step_first"] == 0 and meta["step_last"] == 4000 and meta["nsamples"] == 401
    # the restarted trajectory equals the straight one up to round-off growth
    x1, _, steps, _ = read_mobile_dump(straight / "mobile.txt")
    x2, *_ = read_mobile_dump(split / "mobile2.txt")
    parted = first_parting(x1[200:], x2, steps[200:])
    ref = core_rows(straight / "hops.txt")
    a, b = (r[r[:, 0] < parted - 30] for r in (ref, rows))
    print(f"restart: trajectories part at step {parted}; {len(a)} identical events before, {len(ref)} in all")
    assert len(a) > 20 and a[:, 0].max() > 2000
    np.testing.assert_array_equal(a, b)


def test_cli_summary_json_and_plots(tmp_path, capsys):
    write_site_file(tmp_path / "sites.txt")
    run_lmp(tmp_path, synthetic_head("sites.txt") + FIXES.format(sites="sites.txt") + frames_script(0, 11))
    from ionsitu.cli import main

    assert main(["hops", str(tmp_path), "--temperature", "1.0", "--attempt-frequency", "50", "--corr-cutoff", "8",
                 "--json", str(tmp_path / "s.json"), "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "hops 4" in out and "backjump fraction" in out
    s = json.loads((tmp_path / "s.json").read_text())
    hop = s[str(tmp_path / "hops.txt")]
    assert hop["n_hops"] == 4 and hop["n_ions_hopped"] == 3 and hop["n_jump_types"] == 4
    assert hop["backjumps"]["n_backjumps"] == 1 and hop["backjumps"]["n_considered"] == 1
    assert hop["D_j"]["D"] == pytest.approx((16 + 4 + 4 + 16) / (6 * 4 * 0.5))
    assert hop["correlated"]["ions_per_event"]["2"] == 1        # ions 3 and 4 hop together
    assert hop["activation_energy"]["n_types"] == 4 and hop["network"]["n_sites"] == 125
    assert s[str(tmp_path / "free.txt")]["n_hops"] == 4
    assert (tmp_path / "plots/hops_hops.png").stat().st_size > 1000
    assert main(["hops", str(tmp_path / "nothing")]) == 2


SYN = """
units lj
atom_style atomic
region box block 0 10 0 10 0 10 units box
create_box 2 box
create_atoms 1 single 1 1 1 units box
mass * 1.0
pair_style zero 1.0
pair_coeff * *
group none type 2
"""


@pytest.fixture(scope="module")
def site_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sites")
    write_site_file(d / "ok.txt")
    text = (d / "ok.txt").read_text().splitlines()
    bad = list(text)
    i = next(k for k, line in enumerate(bad) if line.startswith("0 "))
    bad[i + 2] = "2 0.1 0.1 nonsense 1 1 1 nan nan nan"
    (d / "bad.txt").write_text("\n".join(bad) + "\n")
    return d, i + 3


def test_bad_input_gives_clear_error(site_files):
    d, bad_line = site_files
    cases = [
        ("fix h all hop/events", "missing argument Nevery"),
        ("fix h all hop/events 0 free 1 2", "Nevery must be in 1..2147483647, got 0"),
        ("fix h all hop/events 1", "no detection mode: give 'sites file r_in r_out' or 'free threshold window'"),
        ("fix h all hop/events 1 sites f.txt 0.5", "sites needs 'sites file r_in r_out'"),
        (f"fix h all hop/events 1 sites {d}/ok.txt 0.5 x", "sites r_out expects a number, got 'x'"),
        (f"fix h all hop/events 1 sites {d}/missing.txt 0.5 0.8", f"cannot open {d}/missing.txt"),
        (f"fix h all hop/events 1 sites {d}/bad.txt 0.5 0.8", f"{d}/bad.txt:{bad_line}: bad number"),
        (f"fix h all hop/events 1 sites {d}/ok.txt 0.8 0.5", "r_out (0.5) must be >= r_in (0.8)"),
        (f"fix h all hop/events 1 sites {d}/ok.txt 0.5 6", "r_out 6 is not below half the smallest cell width 5"),
        ("fix h all hop/events 1 free 7 3", "threshold 7 is not below half the smallest cell width 5"),
        ("fix h all hop/events 1 free -1 3", "threshold must be > 0, got -1"),
        ("fix h all hop/events 1 free 1 0", "free window must be in 1..1000000, got 0"),
        ("fix h all hop/events 1 free 1 2.5", "free window expects an integer number of samples, got '2.5'"),
        ("fix h all hop/events 1 free 1 2 free 1 2", "give either sites or free, once"),
        ("fix h all hop/events 1 free 1 2 residence 0", "residence must be in 1..1000000, got 0"),
        ("fix h all hop/events 2 free 1 2 file f every 3", "every 3 is not a multiple of Nevery 2"),
        ("fix h all hop/events 2 free 1 2 every 4", "needs a file to write to"),
        ("fix h all hop/events 1 free 1 2 bogus 3", "unknown keyword 'bogus'"),
        ("variable v atom 1\ngroup dyn dynamic all var v\nfix h dyn hop/events 1 free 1 2", "group dyn is dynamic"),
        ("fix h none hop/events 1 free 1 2\nrun 0", "group none is empty"),
        ("fix h all hop/events 1 free 1 2\nrun 1\nchange_box all x final 0 1.8 units box\nrun 1",
         "at step 2: HopDetector: threshold 1 is not below half the smallest cell width 0.9"),
        ("fix h all hop/events 1 free 1 2 file /nonexistent/dir/h.txt\nrun 1", "cannot open /nonexistent/dir/h.txt"),
    ]
    for line, message in cases:
        got = lammps_error(SYN + line)
        assert message in got, (line, got)

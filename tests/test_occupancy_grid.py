"""fix occupancy/grid in real LAMMPS against a numpy histogram of the dumped positions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ionsitu.core import OccupancyGrid
from ionsitu.io.occupancy import read_occupancy
from lammps_helpers import BASE_LJ, lammps_error, lj_mixture, run_lmp

BOHR = 0.529177210903
DUMP = "dump g all custom {every} grid.txt id type x y z\ndump_modify g sort id format float %.17g"


def read_box_dump(path):
    """Dump of `id type x y z` -> positions (S, N, 3), types (N,), lo (S, 3), h (S, 6), steps."""
    xs, los, hs, steps, types = [], [], [], [], None
    for block in Path(path).read_text().split("ITEM: TIMESTEP\n")[1:]:
        lines = block.splitlines()
        steps.append(int(lines[0]))
        n = int(lines[2])
        b = np.array([line.split() for line in lines[4:7]], dtype=float)
        if b.shape[1] == 3:     # triclinic: bounds + tilt (xy, xz, yz)
            xy, xz, yz = b[:, 2]
            lo = [b[0, 0] - min(0.0, xy, xz, xy + xz), b[1, 0] - min(0.0, yz), b[2, 0]]
            hi = [b[0, 1] - max(0.0, xy, xz, xy + xz), b[1, 1] - max(0.0, yz), b[2, 1]]
        else:
            xy = xz = yz = 0.0
            lo, hi = b[:, 0], b[:, 1]
        los.append(lo)
        hs.append([hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], yz, xz, xy])
        a = np.array([line.split() for line in lines[8 : 8 + n]], dtype=float)
        types = a[:, 1].astype(int)
        xs.append(a[:, 2:5])
    return np.array(xs), types, np.array(los), np.array(hs), np.array(steps)


def numpy_histogram(x, lo, h, shape, select):
    """Counts (nx, ny, nz) of positions x (S, N, 3) over the frames, exactly as the core maps
    a Cartesian point to its voxel (same floating-point operations, fractional coordinates)."""
    counts = np.zeros(shape)
    for f in range(len(x)):
        p = x[f][select]
        d = p - lo[f]
        s2 = d[:, 2] / h[f, 2]
        s1 = (d[:, 1] - h[f, 3] * s2) / h[f, 1]
        s0 = (d[:, 0] - h[f, 5] * s1 - h[f, 4] * s2) / h[f, 0]
        idx = []
        for s, n in zip((s0, s1, s2), shape):
            w = s - np.floor(s)
            w[w >= 1.0] = 0.0
            idx.append(np.clip((w * n).astype(int), 0, n - 1))
        np.add.at(counts, tuple(idx), 1.0)
    return counts


def last_thermo(log, names):
    lines = log.splitlines()
    head = max(i for i, line in enumerate(lines) if line.split()[:1] == ["Step"])
    cols = lines[head].split()
    vals = lines[head + 1 : head + 200]
    vals = [v.split() for v in vals if v.split() and v.split()[0].isdigit()]
    return {n: float(vals[-1][cols.index(n)]) for n in names}


def check_against_dump(run_dir, prefix="occ", shape=None, types=(1, 2), every=1):
    occ = read_occupancy(run_dir / f"{prefix}.npz")
    x, t, lo, h, steps = read_box_dump(run_dir / "grid.txt")
    steps_sel = np.arange(len(steps))[::every]
    shape = tuple(occ["counts"].shape[1:]) if shape is None else shape
    assert occ["counts"].shape == (len(types),) + shape
    for k, typ in enumerate(types):
        ref = numpy_histogram(x[steps_sel], lo[steps_sel], h[steps_sel], shape, t == typ if typ else slice(None))
        np.testing.assert_array_equal(occ["counts"][k], ref)
    assert occ["nframes"] == len(steps_sel)
    np.testing.assert_allclose(occ["cell"][[0, 1, 2, 2, 2, 1], [0, 1, 2, 1, 0, 0]], h[steps_sel].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(occ["origin"], lo[steps_sel].mean(axis=0), atol=1e-12)
    return occ


TRI = "region box prism 0 5 0 5 0 5 1.5 0.5 -1.0"


@pytest.mark.parametrize("nprocs", [1, 2])
@pytest.mark.parametrize("box", [None, TRI], ids=["ortho", "triclinic"])
def test_counts_equal_numpy_histogram(tmp_path, nprocs, box):
    fix = ("fix occ all occupancy/grid 2 grid 7 5 6 types 1 2 file occ\n"
           "thermo_style custom step temp f_occ f_occ[1] f_occ[2]\n" + DUMP.format(every=2))
    lattice = "sc 1.0" if box else "fcc 0.8442"
    log = run_lmp(tmp_path, lj_mixture(fix, nsteps=200, box=box, lattice=lattice), nprocs)
    occ = check_against_dump(tmp_path, shape=(7, 5, 6))
    assert occ["meta"]["units"] == "lj" and list(occ["types"]) == [1, 2] and occ["meta"]["shape"] == [7, 5, 6]
    th = last_thermo(log, ["f_occ", "f_occ[1]", "f_occ[2]"])
    assert th["f_occ"] == 101
    assert th["f_occ[1]"] == occ["counts"][0].sum() and th["f_occ[2]"] == occ["counts"][1].sum()
    x, *_ = read_box_dump(tmp_path / "grid.txt")
    if box:
        assert x[..., 0].min() < 0.0 or x[..., 0].max() > 5.0    # atoms really cross the tilted faces


def test_changing_triclinic_box_spacing_start_stop(tmp_path):
    fix = ("fix shape all deform 1 x scale 1.2 y final 0 5.5 remap x\n"
           "fix occ all occupancy/grid 4 spacing 0.75 start 40 stop 160 types 2 file occ every 40\n"
           + DUMP.format(every=4))
    run_lmp(tmp_path, lj_mixture(fix, nsteps=200, box=TRI, lattice="sc 1.0"))
    occ = read_occupancy(tmp_path / "occ.npz")
    assert occ["counts"].shape == (1, 7, 7, 7)           # round(|a|/0.75) etc. of the initial box
    x, t, lo, h, steps = read_box_dump(tmp_path / "grid.txt")
    sel = (steps >= 40) & (steps <= 160)
    assert np.ptp(h[sel, 0]) > 0.5                       # the box really changed while counting
    ref = numpy_histogram(x[sel], lo[sel], h[sel], (7, 7, 7), t == 2)
    np.testing.assert_array_equal(occ["counts"][0], ref)
    assert occ["nframes"] == sel.sum() == 31 and occ["meta"]["step_first"] == 40 and occ["meta"]["step_last"] == 160
    np.testing.assert_allclose(occ["cell"][0, 0], h[sel, 0].mean(), rtol=1e-12)
    assert not list(tmp_path.glob("*.tmp"))


def test_one_and_two_ranks_identical(tmp_path):
    fix = "fix occ all occupancy/grid 1 grid 9 9 9 file occ"
    for n in (1, 2):
        run_lmp(tmp_path / f"np{n}", lj_mixture(fix, nsteps=100), n)
    a, b = (read_occupancy(tmp_path / f"np{n}/occ.npz") for n in (1, 2))
    np.testing.assert_array_equal(a["counts"], b["counts"])
    assert a["nframes"] == b["nframes"] == 101


RESTART_TAIL = """
read_restart half.restart
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
neighbor 0.3 bin
fix integrate all nve
{fix}
dump g all custom 2 grid2.txt id type x y z
dump_modify g sort id format float %.17g
run 100
"""


@pytest.mark.parametrize("nprocs_after", [1, 2])
def test_restart_continues_counts(tmp_path, nprocs_after):
    fix = "fix occ all occupancy/grid 2 grid 6 6 6 types 1 2 file occ"
    run_lmp(tmp_path / "straight", lj_mixture(fix + "\n" + DUMP.format(every=2), nsteps=200))
    d = tmp_path / "split"
    run_lmp(d, lj_mixture(fix + "\n" + DUMP.format(every=2), nsteps=100) + "write_restart half.restart\n", 1,
            name="in.first")
    (d / "grid.txt").rename(d / "grid1.txt")
    run_lmp(d, RESTART_TAIL.format(fix=fix), nprocs_after, name="in.second")
    occ = read_occupancy(d / "occ.npz")
    x1, t, lo1, h1, s1 = read_box_dump(d / "grid1.txt")
    x2, _, lo2, h2, s2 = read_box_dump(d / "grid2.txt")
    assert s2[0] == s1[-1] == 100                        # the joint frame is counted once
    x, lo, h = (np.concatenate([a, b[1:]]) for a, b in ((x1, x2), (lo1, lo2), (h1, h2)))
    for k, typ in enumerate((1, 2)):
        np.testing.assert_array_equal(occ["counts"][k], numpy_histogram(x, lo, h, (6, 6, 6), t == typ))
    assert occ["nframes"] == 101 and occ["meta"]["step_first"] == 0 and occ["meta"]["step_last"] == 200
    straight = read_occupancy(tmp_path / "straight/occ.npz")
    assert straight["nframes"] == 101
    # same trajectory up to round-off: at most a few positions on the other side of a voxel face
    assert np.abs(straight["counts"] - occ["counts"]).sum() <= 4


def parse_cube(path):
    lines = Path(path).read_text().splitlines()
    nat, *origin = lines[2].split()
    axes = [lines[3 + k].split() for k in range(3)]
    shape = tuple(int(a[0]) for a in axes)
    vox = np.array([[float(v) for v in a[1:]] for a in axes])
    data = np.array(" ".join(lines[6 + int(nat):]).split(), dtype=float).reshape(shape)
    return np.array(origin, dtype=float), vox, data


def test_cube_files_in_bohr_with_the_right_shape_and_cell(tmp_path):
    metal = """
units metal
atom_style atomic
lattice fcc 4.0
region box prism 0 3 0 3 0 3 0.5 0.25 0.0
create_box 2 box
create_atoms 1 box
set type 1 type/fraction 2 0.3 12345
mass * 39.9
velocity all create 300 4928 loop geom
pair_style lj/cut 8.0
pair_coeff * * 0.0104 3.4
fix integrate all nve
fix occ all occupancy/grid 5 grid 8 10 12 types 1 2 file occ
run 50
"""
    run_lmp(tmp_path, metal)
    occ = read_occupancy(tmp_path / "occ.npz")
    cell = occ["cell"]
    for name, k in (("occ.cube", None), ("occ.type1.cube", 0), ("occ.type2.cube", 1)):
        origin, vox, data = parse_cube(tmp_path / name)
        assert data.shape == (8, 10, 12)
        np.testing.assert_allclose(vox * np.array([8, 10, 12])[:, None] * BOHR, cell, atol=1e-5)
        np.testing.assert_allclose(origin * BOHR, occ["origin"], atol=1e-5)
        counts = occ["counts"].sum(axis=0) if k is None else occ["counts"][k]
        vvox = abs(np.linalg.det(cell)) / counts.size / BOHR**3        # bohr^3
        np.testing.assert_allclose(data, counts / (counts.sum() * vvox), rtol=2e-5, atol=1e-12)
        assert data.sum() * vvox == pytest.approx(1.0, rel=1e-4)        # probability density
    # one cube layout: the Python writer of a grid given as arrays is the fix's writer
    from ionsitu.io.occupancy import write_cube

    py = write_cube(tmp_path / "py.cube", occ["counts"].sum(axis=0), cell, occ["origin"], nframes=occ["nframes"],
                    to_bohr=occ["meta"]["cube_length_to_bohr"])
    assert py.read_text().splitlines()[2:] == (tmp_path / "occ.cube").read_text().splitlines()[2:]
    ase_cube = pytest.importorskip("ase.io.cube")
    with open(tmp_path / "occ.cube") as fh:
        got = ase_cube.read_cube(fh)
    assert got["data"].shape == (8, 10, 12)
    np.testing.assert_allclose(np.array(got["atoms"].cell), cell, atol=1e-5)   # ASE converts bohr back to angstrom


def test_offline_core_equals_fix(tmp_path):
    fix = "fix occ all occupancy/grid 2 grid 5 6 7 types 1 2 file occ\n" + DUMP.format(every=2)
    run_lmp(tmp_path, lj_mixture(fix, nsteps=100, box=TRI, lattice="sc 1.0"))
    x, t, lo, h, _ = read_box_dump(tmp_path / "grid.txt")
    g = OccupancyGrid((5, 6, 7), 2)
    for f in range(len(x)):
        g.add_frame(x[f], h=h[f], origin=lo[f], types=t - 1)
    occ = read_occupancy(tmp_path / "occ.npz")
    np.testing.assert_array_equal(g.counts, occ["counts"])
    np.testing.assert_allclose(g.cell, occ["cell"], rtol=1e-14)
    assert g.nframes == occ["nframes"]


BASE = BASE_LJ


@pytest.mark.parametrize("line, message", [
    ("fix o all occupancy/grid", "missing argument Nevery"),
    ("fix o all occupancy/grid 0 grid 2 2 2", "Nevery must be in 1..2147483647, got 0"),
    ("fix o all occupancy/grid 1", "the grid is not defined: give 'grid nx ny nz' or 'spacing d'"),
    ("fix o all occupancy/grid 1 grid 2 2", "grid needs three counts"),
    ("fix o all occupancy/grid 1 grid 2 0 2", "grid count must be in 1..100000, got 0"),
    ("fix o all occupancy/grid 1 spacing -1", "spacing must be > 0, got -1"),
    ("fix o all occupancy/grid 1 spacing x", "spacing expects a number, got 'x'"),
    ("fix o all occupancy/grid 1 grid 2 2 2 spacing 0.5", "give either grid or spacing, not both"),
    ("fix o all occupancy/grid 1 grid 2 2 2 types", "types needs one or more atom types"),
    ("fix o all occupancy/grid 1 grid 2 2 2 types 4", "types: atom type must be in 1..3, got 4"),
    ("fix o all occupancy/grid 1 grid 2 2 2 types 1 1", "atom type 1 given twice"),
    ("fix o all occupancy/grid 1 grid 2 2 2 norm max", "norm must be probability, density or counts, got 'max'"),
    ("fix o all occupancy/grid 1 grid 2 2 2 start 10 stop 5", "stop 5 is before start 10"),
    ("fix o all occupancy/grid 2 grid 2 2 2 file f every 3", "every 3 is not a multiple of Nevery 2"),
    ("fix o all occupancy/grid 2 grid 2 2 2 every 4", "every 4 needs a file to write to (keyword file)"),
    ("fix o all occupancy/grid 1 grid 2 2 2 bogus 1", "unknown keyword 'bogus'"),
    ("variable v atom 1\ngroup dyn dynamic all var v\nfix o dyn occupancy/grid 1 grid 2 2 2", "group dyn is dynamic"),
    ("fix o all occupancy/grid 1 grid 2 2 2 file /nonexistent/dir/occ\nrun 1", "cannot open /nonexistent/dir/occ.cube.tmp"),
])
def test_bad_input_gives_clear_error(line, message):
    assert message in lammps_error(BASE + line)


def test_restart_with_other_grid_is_refused(tmp_path):
    run_lmp(tmp_path, BASE + "fix o all occupancy/grid 1 grid 4 4 4\nrun 2\nwrite_restart r.restart\n")
    msg = lammps_error(f"read_restart {tmp_path}/r.restart\nfix o all occupancy/grid 1 grid 5 4 4\nrun 0")
    assert "grid was 4 4 4 when the restart file was written, now 5 4 4" in msg

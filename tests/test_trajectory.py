"""ionsitu.trajectory: dump and ASE readers, unwrapping, species/drift selection, errors.

Every MSD is checked against ionsitu.core.msd_from_frames on the known unwrapped
positions (the `xu yu zu` dump written at full precision by the same LAMMPS run).
"""

from __future__ import annotations

import numpy as np
import pytest

import ionsitu
from ionsitu.core import msd_from_frames
from ionsitu.trajectory import iter_ase, iter_frames, iter_lammps_dump, msd_from_trajectory
from lammps_helpers import dump_positions, lj_mixture, run_lmp
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
    res = msd_from_trajectory(tmp_path / "XDATCAR", species="Li", timestep=DT * EVERY, units="lj", block=4,
                              levels=3, masses={"Ar": 1.0, "Li": 2.0}, format="vasp-xdatcar")
    want = reference(run)
    assert res.meta["nevery"] == 1                 # no step numbers: stride 1, timestep = frame spacing
    np.testing.assert_allclose(res.time, want.time, rtol=1e-12)
    np.testing.assert_allclose(res.msd_xyz, want.msd_xyz, rtol=1e-5, atol=1e-8)


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

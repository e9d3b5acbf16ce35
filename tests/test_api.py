"""The result objects of ionsitu.api hold what the analysis functions return (the same numbers
as calling them directly), read-only; values with errors round to the error's 1-2 figures.
The campaign-level check (load_campaign equals report.json, the example script) is in
tests/test_campaign.py, next to the campaign it reads."""

from __future__ import annotations

import numpy as np
import pytest

from ionsitu.analysis import arrhenius, transport
from ionsitu.analysis.sites import find_sites
from ionsitu.api import Arrhenius, Occupancy, Transport
from ionsitu.io.occupancy import read_occupancy, write_occupancy
from ionsitu.io.trajectory import msd_from_trajectory
from ionsitu.measurement import Measurement, format_with_error, round_to_error

DT, EVERY = 0.002, 5


@pytest.mark.parametrize("value, error, text", [
    (1.23456e-5, 3.4e-7, "(1.235 ± 0.034)e-05 cm^2/s"),  # error digits 340 <= 354: two figures
    (1.23456e-5, 3.6e-7, "(1.23 ± 0.04)e-05 cm^2/s"),    # 360: one figure
    (0.5, 0.0296, "0.500 ± 0.030 cm^2/s"),              # 296: two figures
    (0.5, 0.0099, "0.500 ± 0.010 cm^2/s"),              # 990: up to 1000, two figures
    (0.2715, 0.0123, "0.272 ± 0.012 cm^2/s"),           # 123: two figures
    (-0.0421, 0.0012, "-0.0421 ± 0.0012 cm^2/s"),
    (12345.0, 678.0, "(1.23 ± 0.07)e+04 cm^2/s"),
    (3.14159, 0.26, "3.14 ± 0.26 cm^2/s"),                # 260: two figures
    (3.14159, 0.36, "3.1 ± 0.4 cm^2/s"),
    (2.5, 0.0, "2.5 cm^2/s"),                             # no usable error: 4 figures
    (2.5, float("nan"), "2.5 cm^2/s"),
])
def test_rounding_to_the_error(value, error, text):
    assert format_with_error(value, error, "cm^2/s") == text
    assert f"{Measurement(value, error, 'cm^2/s')}" == text


def test_measurement_views():
    m = Measurement(0.2715, 0.0123, "eV")
    assert round_to_error(0.2715, 0.0123) == (0.272, 0.012, 3)
    assert f"{m:.2e}" == "2.72e-01 ± 1.23e-02 eV" and float(m) == 0.2715 and repr(m) == "Measurement(0.272 ± 0.012 eV)"
    assert str(Measurement(0.01, 0.02, "x", resolved=False, upper_95=0.0512)) == "< 0.0512 x (unresolved)"
    with pytest.raises(AttributeError):
        m.value = 1.0  # frozen


def _random_walk_frames(step, n_ions=48, n_frames=120, seed=0):
    """ase.Atoms frames: a fixed Ar framework and Li ions on a Gaussian random walk."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    L = 12.0
    fw = rng.uniform(0, L, (16, 3))
    x = np.cumsum(rng.normal(0, step, (n_frames, n_ions, 3)), axis=0) + rng.uniform(0, L, (n_ions, 3))
    out = []
    for i in range(n_frames):
        a = Atoms(["Ar"] * len(fw) + ["Li"] * n_ions, positions=np.vstack([fw, x[i]]), cell=np.eye(3) * L, pbc=True)
        a.wrap()
        a.info["step"] = i * EVERY
        out.append(a)
    return out


@pytest.fixture(scope="module")
def walks():
    return {T: _random_walk_frames(s, seed=i) for i, (T, s) in enumerate(((0.5, 0.05), (0.7, 0.08), (1.0, 0.12)))}


def test_transport_equals_the_analysis_api(walks, tmp_path):
    frames = walks[0.7]
    kw = dict(units="lj", ion_groups=0)
    t = Transport.from_ase(frames, "Li", 0.7, DT, write=tmp_path / "msd.dat", **kw)
    rep = transport.analyse(msd_from_trajectory(frames, "Li", DT, **kw), 0.7)
    assert (t.D.value, t.D.error, t.D.unit) == (rep.tracer.D, rep.tracer.D_err, rep.tracer.unit)
    assert (t.D_collective.value, t.haven_ratio.value) == (rep.collective.D, rep.haven.H)
    c = rep.charge_conductivity or rep.conductivity
    assert (t.conductivity.value, t.conductivity.error) == (c.sigma, c.sigma_err)
    assert t.window == (rep.tracer.t_start, rep.tracer.t_end)
    # the same through the written file, a run folder and a trajectory file
    f = Transport.from_file(tmp_path / "msd.dat", 0.7)
    assert f.D.value == pytest.approx(rep.tracer.D, rel=1e-10)
    assert Transport.from_run(tmp_path, 0.7).D.value == f.D.value
    import ase.io

    ase.io.write(tmp_path / "walk.extxyz", frames, format="extxyz")
    x = Transport.from_trajectory(tmp_path / "walk.extxyz", "Li", 0.7, DT, **kw)
    assert x.D.value == pytest.approx(rep.tracer.D, rel=1e-6)   # positions rounded to 8 decimals in the file
    # a LAMMPS text dump (types: 1 framework, 2 mobile), through the same offline path
    dump = tmp_path / "walk.lammpstrj"
    with open(dump, "w") as fh:
        for a in frames:
            fh.write(f"ITEM: TIMESTEP\n{a.info['step']}\nITEM: NUMBER OF ATOMS\n{len(a)}\n"
                     "ITEM: BOX BOUNDS pp pp pp\n" + "0 12\n" * 3 + "ITEM: ATOMS id type x y z\n")
            fh.writelines(f"{i + 1} {1 if z == 18 else 2} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}\n"
                          for i, (z, p) in enumerate(zip(a.numbers, a.positions)))
    kw_dump = dict(units="lj", masses="equal", ion_groups=0, unwrap="minimum-image")   # wrapped x y z
    d = Transport.from_trajectory(dump, 2, 0.7, DT, **kw_dump)
    want = transport.analyse(msd_from_trajectory(dump, 2, DT, **kw_dump), 0.7)
    assert (d.D.value, d.D.error, d.D_collective.value) == (want.tracer.D, want.tracer.D_err, want.collective.D)
    # read-only arrays, tables, display
    with pytest.raises(ValueError):
        t.msd[0] = 1.0
    with pytest.raises(ValueError):
        t.D_xyz[0] = 1.0
    np.testing.assert_array_equal(t.msd_xyz, f.msd_xyz)
    df = t.to_dataframe()
    assert list(df.columns) == ["time", "msd_x", "msd_y", "msd_z", "msd", "collective"] and len(df) == len(t.lag_time)
    assert t.summary().loc["D*", "value"] == rep.tracer.D
    assert "D*" in t._repr_html_() and "\n" not in repr(t) and repr(t).startswith("<Transport T=0.7")
    fig = t.plot()
    assert fig.axes and fig.axes[0].get_xscale() == "log"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no MSD file"):
        Transport.from_run(tmp_path / "empty", 0.7)


def test_arrhenius_equals_the_fit_of_the_transport_results(walks):
    ts = [Transport.from_ase(fr, "Li", T, DT, units="lj", ion_groups=0) for T, fr in walks.items()]
    a = Arrhenius.from_transport(ts, "tracer")
    T, y, err, skipped = arrhenius.resolved_points([t.T for t in ts], [t.D.value for t in ts],
                                                   [t.D.error for t in ts], [t.report.tracer.resolved for t in ts])
    want = arrhenius.fit_weighted(T, y, "D", err, kB=1.0, units="lj")
    assert (a.Ea.value, a.Ea.error, a.prefactor.value) == (want.Ea, want.Ea_err, want.prefactor)
    assert a.Ea.unit == "epsilon_LJ (reduced)" and a.fit.weighted
    np.testing.assert_array_equal(a.T, [0.5, 0.7, 1.0])
    assert list(a.to_dataframe().columns) == ["T", "inv_T", "value", "error", "fit"]
    assert a.plot().axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="quantity must be one of"):
        Arrhenius.from_transport(ts, "D")
    with pytest.raises(ValueError, match="needs >= 2 temperatures"):
        Arrhenius.from_transport(ts[:1], "tracer")


def test_occupancy_sites_and_cube(tmp_path):
    # two Gaussian peaks on a 20^3 grid of a 10 x 10 x 10 cell: two sites
    n, L = 20, 10.0
    g = (np.arange(n) + 0.5) / n
    fx, fy, fz = np.meshgrid(g, g, g, indexing="ij")
    counts = np.zeros((n, n, n))
    for c in ((0.25, 0.25, 0.25), (0.75, 0.6, 0.5)):
        d2 = sum(((f - ci + 0.5) % 1.0 - 0.5) ** 2 for f, ci in zip((fx, fy, fz), c)) * L ** 2
        counts += 1000 * np.exp(-d2 / 0.5)
    cell = np.eye(3) * L
    path = write_occupancy(tmp_path / "occupancy.npz", np.rint(counts)[None], cell, np.zeros(3), 100,
                           {"units": "metal"})
    o = Occupancy.from_file(path, T=600)
    ref = find_sites(read_occupancy(path)["counts"].sum(axis=0), cell, np.zeros(3), threshold=0.05,
                     min_distance=2 * L / n)
    assert o.n_sites == ref.sites.n == 2
    np.testing.assert_array_equal(o.site_positions, ref.sites.cart)
    assert o.counts.sum() == np.rint(counts).sum() and not o.counts.flags.writeable
    assert len(o.to_dataframe()) == 2 and "sites found" in o._repr_html_()
    o.plot()
    # cube files read back by ASE: framework atoms in the header, densities per bohr^3 or per A^3
    import ase.io
    from ase import Atoms
    from ase.units import Bohr

    frame = Atoms("Ar2", positions=[[1.0, 2.0, 3.0], [6.0, 5.0, 4.0]], cell=cell, pbc=True)
    vvox_A = L ** 3 / n ** 3
    for kw, per_voxel in (({}, vvox_A / Bohr ** 3), ({"per_angstrom3": True}, vvox_A)):
        for norm, total in (("probability", 1.0), ("density", o.counts.sum() / 100)):
            cube = o.write_cube(tmp_path / "occ.cube", norm=norm, atoms=frame, **kw)
            got = ase.io.read(cube, format="cube", read_data=True, full_output=True)
            assert got["data"].shape == (n, n, n)
            assert got["data"].sum() * per_voxel == pytest.approx(total, rel=1e-5), (kw, norm)
            np.testing.assert_allclose(got["atoms"].positions, frame.positions, atol=1e-5)
            np.testing.assert_allclose(got["atoms"].cell.array, cell, atol=1e-5)
            assert list(got["atoms"].numbers) == [18, 18]
    assert "values per A^3" in cube.read_text().splitlines()[1]
    o_lj = Occupancy(o.grid | {"meta": {"cube_length_to_bohr": 1.0}}, "lj")
    with pytest.raises(ValueError, match="per_angstrom3 needs lengths.*to_bohr = 1.0"):
        o_lj.write_cube(tmp_path / "lj.cube", per_angstrom3=True)


def test_merge_of_replica_grids_is_the_frame_weighted_sum():
    from ionsitu.io.occupancy import merge_grids

    rng = np.random.default_rng(3)
    cells = [np.array([[10.0, 0, 0], [1.0, 9.0, 0], [0.5, -0.5, 8.0]]), np.array([[10.2, 0, 0], [1.1, 9.1, 0],
                                                                                  [0.4, -0.6, 8.1]])]
    grids = [{"counts": rng.integers(0, 9, (2, 4, 5, 6)).astype(float), "cell": c, "origin": rng.normal(size=3),
              "nframes": w, "meta": {"i": i}} for i, (c, w) in enumerate(zip(cells, (30.0, 10.0)))]
    m = merge_grids(grids)
    np.testing.assert_array_equal(m["counts"], grids[0]["counts"].sum(0) + grids[1]["counts"].sum(0))
    np.testing.assert_allclose(m["cell"], (30 * cells[0] + 10 * cells[1]) / 40, rtol=1e-14)
    np.testing.assert_allclose(m["origin"], (30 * grids[0]["origin"] + 10 * grids[1]["origin"]) / 40, rtol=1e-14)
    assert m["nframes"] == 40.0 and m["meta"] == {"i": 0}
    with pytest.raises(ValueError, match=r"different grid shapes \[\(4, 5, 6\), \(4, 5, 7\)\]"):
        merge_grids([grids[0], {**grids[1], "counts": np.zeros((1, 4, 5, 7))}])
    with pytest.raises(ValueError, match=r"no frames counted \(nframes = \[0.0, 0.0\]\)"):
        merge_grids([{**g, "nframes": 0.0} for g in grids])

"""Tests of ionsitu.analysis.sites and ionsitu.io.sites: site finding, free energy and barriers, structures, site files."""

import numpy as np
import pytest

from ionsitu.analysis import sites as S
from ionsitu.io import sites as SF
from ionsitu.io.cell import lammps_cell
from ionsitu.units import KB_EV

KB = KB_EV


def periodic_gaussians(shape, centres, amps, sigma):
    """Sum of periodic Gaussians on a grid; centres in voxel-index units (float)."""
    idx = np.indices(shape).reshape(3, -1).T.astype(float)  # (n, 3)
    n = np.array(shape, dtype=float)
    rho = np.zeros(len(idx))
    for c, a in zip(centres, amps):
        d = idx - np.asarray(c)
        d -= n * np.round(d / n)
        rho += a * np.exp(-np.sum(d * d, axis=1) / (2 * sigma**2))
    return rho.reshape(shape)


TRI_CELL = lammps_cell(12.0, 11.0, 10.0, yz=1.0, xz=-1.5, xy=2.0)


def test_known_maxima_are_found_exactly():
    shape = (40, 36, 32)
    # voxel-centre peaks (one on the periodic boundary), one off-centre peak, one weak peak
    centres = [(0, 0, 0), (10, 20, 8), (25, 5, 20), (30, 27, 15), (15.3, 30, 25.0), (5, 12, 27)]
    amps = [10.0, 8.0, 6.0, 5.0, 4.0, 0.2]  # the last is below 5 % of the maximum
    counts = periodic_gaussians(shape, centres, amps, sigma=1.5) * 1e4 + 1e-3
    origin = np.array([0.5, -1.0, 2.0])
    res = S.find_sites(counts, TRI_CELL, origin=origin, threshold=0.05, min_distance=1.0)
    sites = res.sites
    assert sites.n == 5
    want = (np.array(centres[:5]) + 0.5) / np.array(shape)
    np.testing.assert_allclose(sites.frac, want, atol=1e-9)  # exact for Gaussians, refined
    np.testing.assert_allclose(sites.cart, origin + want @ TRI_CELL, atol=1e-8)
    # ordered by peak density; occupancy sums to about the share of the Gaussians
    assert np.all(np.diff(sites.density) <= 0)
    assert np.all(sites.occupancy > 0) and sites.occupancy.sum() <= 1 + 1e-12
    np.testing.assert_allclose(sites.occupancy[:4] / sites.occupancy[0], np.array(amps[:4]) / amps[0], rtol=1e-3)
    assert np.all(sites.volume > 0)
    # basin map: every peak voxel belongs to its site
    for k in range(5):
        assert res.basin.ravel()[res.peak_voxel[k]] == k
    # without refinement the voxel centres
    res0 = S.find_sites(counts, TRI_CELL, refine=False)
    np.testing.assert_allclose(res0.sites.frac[:4], want[:4], atol=1e-12)
    assert abs(res0.sites.frac[4, 0] - (15.5 / 40)) < 1e-12


def test_close_maxima_merge_within_min_distance():
    shape = (30, 30, 30)
    cell = np.diag([15.0, 15.0, 15.0])  # 0.5 length units per voxel
    centres = [(5, 5, 5), (8, 5, 5), (20, 20, 20)]  # first two 1.5 apart
    counts = periodic_gaussians(shape, centres, [3.0, 2.0, 3.0], sigma=0.8)
    assert S.find_sites(counts, cell, min_distance=0.0).sites.n == 3
    res = S.find_sites(counts, cell, min_distance=2.0)
    assert res.sites.n == 2
    # the weaker maximum's basin joined the denser site
    assert res.basin[8, 5, 5] == res.basin[5, 5, 5]
    # and periodic merging across the boundary
    counts2 = periodic_gaussians(shape, [(1, 3, 3), (28, 3, 3)], [3.0, 2.5], sigma=0.4)  # 1.5 apart
    assert S.find_sites(counts2, cell, min_distance=0.0).sites.n == 2
    assert S.find_sites(counts2, cell, min_distance=1.6).sites.n == 1
    assert S.find_sites(counts2, cell, min_distance=1.4).sites.n == 2


def _minimax_1d(F, a, b):
    """Brute-force lowest saddle between indices a < b on a periodic 1D chain."""
    right = F[a:b + 1].max()
    left = max(F[b:].max(), F[:a + 1].max())
    return min(right, left)


def test_double_well_barrier():
    nx, ny, nz = 60, 8, 8
    cell = np.diag([12.0, 4.0, 4.0])
    T = 600.0
    Eb, delta, dip = 0.30, 0.05, 0.08
    u = (np.arange(nx) + 0.5) / nx - 0.5 / nx  # 0 at voxel 0, 0.5 at voxel 30
    Fx = Eb * np.sin(2 * np.pi * u) ** 2 + delta * np.sin(np.pi * u) ** 2
    Fx -= dip * np.exp(-(((u - 0.25) / 0.03) ** 2))  # shallow sub-threshold well on one pass
    yy = np.arange(ny) - 4
    Fyz = 0.02 * (yy[:, None] ** 2 + yy[None, :] ** 2)
    F = Fx[:, None, None] + Fyz[None, :, :]
    rho = np.exp(-F / (KB * T))
    res = S.find_sites(rho * 1e6, cell, threshold=0.01)
    assert res.sites.n == 2
    np.testing.assert_allclose(res.sites.frac[:, 0], [0.5 / nx, 30.5 / nx], atol=1e-9)
    Fmap = S.free_energy(res.density, T)
    np.testing.assert_allclose(Fmap, F - F.min(), atol=1e-9)
    bar = S.site_barriers(Fmap, res)
    want = _minimax_1d(Fx, 0, 30)
    assert bar.saddle[0, 1] == pytest.approx(want, abs=1e-9)
    assert bar.saddle[1, 0] == pytest.approx(want, abs=1e-9)
    assert bar.forward[0, 1] == pytest.approx(want, abs=1e-9)
    assert bar.forward[1, 0] == pytest.approx(want - delta, abs=1e-9)
    assert bar.adjacent[0, 1]
    pairs, fwd, bwd, sad = bar.pairs()
    assert pairs.tolist() == [[0, 1]]
    assert fwd[0] - bwd[0] == pytest.approx(delta, abs=1e-9)
    # symmetric double well without the dip: the barrier is exactly Eb
    Fs = Eb * np.sin(2 * np.pi * u) ** 2
    rho_s = np.exp(-(Fs[:, None, None] + Fyz[None]) / (KB * T))
    res_s = S.find_sites(rho_s, cell)
    bar_s = S.site_barriers(S.free_energy(res_s.density, T), res_s)
    assert bar_s.forward[0, 1] == pytest.approx(Eb, abs=1e-9)


def test_free_energy_and_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        S.free_energy(np.ones((2, 2, 2)), -5.0)
    with pytest.raises(ValueError, match="shape"):
        S.find_sites(np.ones((4, 4)), np.eye(3))
    with pytest.raises(ValueError, match="negative"):
        S.find_sites(-np.ones((4, 4, 4)), np.eye(3))
    with pytest.raises(ValueError, match="no counts"):
        S.find_sites(np.zeros((4, 4, 4)), np.eye(3))
    with pytest.raises(ValueError, match="singular"):
        S.find_sites(np.ones((4, 4, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="threshold"):
        S.find_sites(np.ones((4, 4, 4)), np.eye(3), threshold=2.0)
    F = S.free_energy(np.array([[[1.0, 0.0]]]), 300.0)
    assert F[0, 0, 0] == 0 and np.isinf(F[0, 0, 1])


def test_site_file_round_trip_and_format(tmp_path):
    frac = np.array([[0.1, 0.2, 0.3], [0.9, 0.95, 0.0], [0.5, 0.5, 0.5]])
    s = SF.sites_from_array(frac, TRI_CELL, origin=(1.0, 2.0, 3.0), fractional=True, units="metal")
    s.occupancy = np.array([0.5, 0.25, np.nan])
    p = SF.write_sites(tmp_path / "sites.txt", s, meta={"T": 600}, extra={"label": [1, 2, 3]})
    text = p.read_text().splitlines()
    assert text[0] == "# ionsitu-sites 1"
    assert "nsites 3" in text
    assert any(line.startswith("columns index sx sy sz x y z occupancy density volume label") for line in text)
    r = SF.read_sites(p)
    np.testing.assert_allclose(r.frac, s.frac, atol=1e-12)
    np.testing.assert_allclose(r.cart, s.cart, atol=1e-10)
    np.testing.assert_allclose(r.cell, TRI_CELL)
    np.testing.assert_allclose(r.origin, [1, 2, 3])
    np.testing.assert_allclose(r.occupancy, s.occupancy)
    np.testing.assert_allclose(r.extra["label"], [1, 2, 3])
    assert r.units == "metal" and r.meta["T"] == 600
    # a found site set round-trips too
    counts = periodic_gaussians((20, 20, 20), [(3, 4, 5), (13, 14, 15)], [1.0, 0.8], 1.2)
    found = S.find_sites(counts, TRI_CELL).sites
    r2 = SF.read_sites(SF.write_sites(tmp_path / "found.txt", found))
    np.testing.assert_allclose(r2.frac, found.frac, atol=1e-11)
    np.testing.assert_allclose(r2.volume, found.volume, rtol=1e-11)
    # malformed files name the line
    bad = tmp_path / "bad.txt"
    good = p.read_text()
    bad.write_text(good.replace("# ionsitu-sites 1", "# ionsitu-sites 2"))
    with pytest.raises(ValueError, match="version"):
        SF.read_sites(bad)
    bad.write_text(good.replace("nsites 3", "nsites 4"))
    with pytest.raises(ValueError, match="found 3 data rows, nsites = 4"):
        SF.read_sites(bad)
    bad.write_text(good.replace("units metal", "unit metal"))
    with pytest.raises(ValueError, match=r"bad.txt:3: unknown keyword 'unit'"):
        SF.read_sites(bad)
    bad.write_text(good.replace("\n1 ", "\n7 "))
    with pytest.raises(ValueError, match="site index '7', expected 1"):
        SF.read_sites(bad)


def test_sites_from_array_and_structure(tmp_path):
    rng = np.random.default_rng(1)
    frac = rng.random((6, 3))
    cart = frac @ TRI_CELL + np.array([0.0, 0.0, 0.0])
    s = SF.sites_from_array(cart + 3 * TRI_CELL[0], TRI_CELL)  # another periodic image
    np.testing.assert_allclose(s.frac, frac, atol=1e-12)
    d = s.distance_matrix()
    assert d.shape == (6, 6) and np.allclose(np.diag(d), 0)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        SF.sites_from_array(np.zeros((3, 2)), TRI_CELL)

    ase = pytest.importorskip("ase")
    import ase.io

    atoms = ase.Atoms("Li2Cl2", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]],
                      cell=TRI_CELL, pbc=True)
    path = tmp_path / "s.extxyz"
    ase.io.write(path, atoms)
    li = SF.sites_from_structure(path, "Li", units="metal")
    assert li.n == 2
    np.testing.assert_allclose(li.frac, [[0, 0, 0], [0.5, 0.5, 0.5]], atol=1e-8)
    both = SF.sites_from_structure(atoms, ["Li", "Cl"])
    assert both.n == 4
    with pytest.raises(ValueError, match="no atoms of species"):
        SF.sites_from_structure(atoms, "Na")


def test_site_volumes_convex_hull_of_resident_positions():
    """Planted clouds: a unit cube about a site at the cell corner (split by the periodic
    boundary), a tetrahedron in the triclinic cell, a site with 3 positions (no volume)."""
    rng = np.random.default_rng(3)
    cell = TRI_CELL
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0], [8.0, 3.0, 2.0], [2.0, 8.0, 6.0]])
    cube = np.array([[i, j, k] for i in (-0.5, 0.5) for j in (-0.5, 0.5) for k in (-0.5, 0.5)])
    cube = np.r_[cube, rng.uniform(-0.5, 0.5, (20, 3))]              # interior points add nothing
    tet = np.array([[0, 0, 0], [1.2, 0, 0], [0, 0.9, 0], [0, 0, 0.7]]) - 0.2
    tet = np.r_[tet, 0.1 * rng.random((6, 3))]
    three = np.array([[0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]])
    pts = [(0, centres[0] + cube), (1, centres[1] + tet), (2, centres[2] + three)]
    T = max(len(p) for _, p in pts)
    pos = np.zeros((T, 3, 3))
    traj = np.full((T, 3), -1)
    for j, (s, p) in enumerate(pts):
        shifted = p + rng.integers(-1, 2, (len(p), 3)) @ cell        # any periodic image
        pos[:len(p), j] = shifted
        traj[:len(p), j] = s
    v = S.site_volumes(pos, traj, centres, cell)
    assert v.volume[0] == pytest.approx(1.0, rel=1e-10)
    assert v.volume[1] == pytest.approx(1.2 * 0.9 * 0.7 / 6, rel=1e-10)
    assert np.isnan(v.volume[2]) and np.isnan(v.volume[3])
    assert v.n_positions.tolist() == [28, 10, 3, 0]
    assert v.span[0] == pytest.approx(np.sqrt(3) / 2)
    with pytest.raises(ValueError, match="site index 7"):
        S.site_volumes(pos, np.where(traj == 2, 7, traj), centres, cell)
    with pytest.raises(ValueError, match="site_traj has shape"):
        S.site_volumes(pos, traj[:, :2], centres, cell)


def test_residence_vs_volume():
    from ionsitu.analysis import hops as H
    # site s (0..3) held for s+1 time units each visit; volumes increasing with s
    rows = []
    t = 0.0
    for rep in range(3):
        for s in range(4):
            t += s + 1
            rows.append((t, 1, s, (s + 1) % 4))
    r = np.array(rows)
    cens = np.zeros(len(r), bool)
    cens[0] = True                                  # on site 0 from the start: left out
    ev = H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), np.ones((len(r), 3)),
                       time=r[:, 0], residence=r[:, 2] + 1, censored=cens)
    vol = np.array([0.5, 1.0, 2.0, 4.0, np.nan])
    rv = H.residence_vs_volume(ev, vol)
    assert rv.site.tolist() == [0, 1, 2, 3] and rv.count.tolist() == [2, 3, 3, 3]
    assert rv.residence_mean.tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert H.residence_vs_volume(ev, np.r_[np.nan, vol[1:]]).site.tolist() == [1, 2, 3]
    assert rv.spearman_rho == pytest.approx(1.0) and rv.pearson_r > 0.9
    with pytest.raises(ValueError, match="len\\(volume\\) 2"):
        H.residence_vs_volume(ev, vol[:2])


# --------------------------------------------------------------------------- site-file grammar
# One grammar, two readers: fix hop/events reads site files in C++ (read_site_file), Python in
# ionsitu.io.sites.read_sites (which also keeps meta and the extra columns). Every case below is
# read by both: valid files give the same cell, origin, units and sites; each invalid file is
# refused by both, naming the same line.
_HEAD = "# ionsitu-sites 1\n"
_CELL = "cell 4 0 0 0 5 0 1 0 6\n"
_COLS = "columns index sx sy sz x y z\n"
GRAMMAR_VALID = {
    "minimal": _HEAD + _CELL + "nsites 1\n" + _COLS + "0 0.5 0.25 0 2 1.25 0\n",
    "every keyword, comments and blank lines": (
        _HEAD + "# a comment\n\nunits metal\norigin 1 2 3\n" + _CELL + 'meta {"source": "test"}\n'
        "nsites 2\ncolumns index sx sy sz x y z occupancy density\n"
        "0 0.1 0.2 0.3 1.7 3 4.8 0.5 nan\n\n# between rows\n1 0.9 0.8 0.7 5.3 6 7.2 0.25 1e-3\n"),
    "keywords in any order, no sites": "# ionsitu-sites 1\nnsites 0\n" + _CELL + "units lj\n" + _COLS,
}
GRAMMAR_INVALID = {  # text -> the line both readers name
    "wrong magic": ("# ionsitu-site 1\n" + _CELL, 1),
    "other version": ("# ionsitu-sites 2\n" + _CELL, 1),
    "cell with 8 numbers": (_HEAD + "cell 4 0 0 0 5 0 0 0\nnsites 0\n" + _COLS, 2),
    "origin with 2 numbers": (_HEAD + _CELL + "origin 1 2\nnsites 0\n" + _COLS, 3),
    "negative nsites": (_HEAD + _CELL + "nsites -1\n" + _COLS, 3),
    "unknown keyword": (_HEAD + _CELL + "sites 1\n", 3),
    "columns before cell": (_HEAD + "nsites 0\n" + _COLS, 3),
    "columns before nsites": (_HEAD + _CELL + _COLS, 3),
    "bad column names": (_HEAD + _CELL + "nsites 0\ncolumns index x y z sx sy sz\n", 4),
    "too many rows": (_HEAD + _CELL + "nsites 1\n" + _COLS + "0 0 0 0 0 0 0\n1 0 0 0 0 0 0\n", 6),
    "missing field": (_HEAD + _CELL + "nsites 1\n" + _COLS + "0 0 0 0 0 0\n", 5),
    "index out of order": (_HEAD + _CELL + "nsites 2\n" + _COLS + "1 0 0 0 0 0 0\n", 5),
    "bad number": (_HEAD + _CELL + "nsites 1\n" + _COLS + "0 0.5 x 0 0 0 0\n", 5),
}


@pytest.mark.parametrize("name", GRAMMAR_VALID)
def test_site_file_grammar_both_readers_agree_on_valid_files(tmp_path, name):
    from ionsitu.core import read_site_file_core

    p = tmp_path / "sites.txt"
    p.write_text(GRAMMAR_VALID[name])
    py, cpp = SF.read_sites(p), read_site_file_core(p)
    np.testing.assert_array_equal(py.cell, cpp["cell"])
    np.testing.assert_array_equal(py.origin, cpp["origin"])
    np.testing.assert_array_equal(py.frac, cpp["frac"])
    np.testing.assert_array_equal(py.cart, cpp["cart"])
    assert py.units == cpp["units"]


@pytest.mark.parametrize("name", GRAMMAR_INVALID)
def test_site_file_grammar_both_readers_refuse_invalid_files(tmp_path, name):
    from ionsitu.core import read_site_file_core

    text, line = GRAMMAR_INVALID[name]
    p = tmp_path / "sites.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=f"{p}:{line}: "):
        SF.read_sites(p)
    with pytest.raises(RuntimeError, match=f"{p}:{line}: "):
        read_site_file_core(p)

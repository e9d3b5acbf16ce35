"""fix vanhove (self part G_s(r, t)) in real LAMMPS against a direct numpy reference on the
dumped unwrapped positions (1 and 2 ranks, restart), the offline core, the Gaussian limit of
a random walk, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ionsitu.analysis.vanhove import gaussian_self_part, non_gaussianity, self_part, summarise
from ionsitu.core import VanHoveSelf
from ionsitu.io.vanhove import read_vanhove
from lammps_helpers import dump_positions, lammps_error, lj_continuation, lj_mixture, run_lmp
from msd_reference import lag_structure


def reference_counts(x, m, L, rmax, bins):
    """Direct numpy: (lag samples, n_origins, pairs, sum |dr|^2, (nlags, bins) integer histogram)
    of |dr| over the origins of each lag of the multiple-window scheme, binned as the core
    bins (floor(|dr| * bins / rmax), |dr| >= rmax dropped)."""
    rows = lag_structure(len(x), m, L)
    scale = bins / rmax
    hist = np.zeros((len(rows), bins), dtype=np.int64)
    pairs, sq = np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows))
    for i, (lag, level, k, norig) in enumerate(rows):
        if norig == 0:
            continue
        origins = np.arange(norig) * m ** level
        d = x[origins + lag] - x[origins]
        r2 = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]
        b = np.sqrt(r2) * scale
        b = b[b < bins].astype(np.int64)
        hist[i] = np.bincount(b.ravel(), minlength=bins)
        pairs[i] = d.shape[0] * d.shape[1]
        sq[i] = r2.sum()
    lags = np.array([r[0] for r in rows])
    norigs = np.array([r[3] for r in rows])
    return lags, norigs, pairs, sq, hist


def assert_matches_reference(res, x, m, L, nevery):
    lags, norigs, pairs, sq, hist = reference_counts(x, m, L, res.rmax, res.bins)
    np.testing.assert_array_equal(res.lag_steps, lags * nevery)
    np.testing.assert_array_equal(res.n_origins, norigs)
    np.testing.assert_array_equal(res.pairs, pairs)
    np.testing.assert_array_equal(res.counts, hist)           # identical integer histograms
    ok = pairs > 0
    np.testing.assert_allclose(res.msd[ok], sq[ok] / pairs[ok], rtol=1e-10)
    want = hist[ok] / (pairs[ok, None] * res.shell_volume[None, :])
    np.testing.assert_allclose(res.gs[ok], want, rtol=1e-12, atol=0)
    # normalisation: sum 4 pi r^2 G_s dr = fraction of displacements below rmax
    np.testing.assert_allclose((res.gs[ok] * res.shell_volume).sum(axis=1), hist[ok].sum(axis=1) / pairs[ok],
                               rtol=1e-12)


FIX = "fix vh all vanhove 2 rmax 1.5 bins 30 block 4 levels 3 file vh.dat"


@pytest.mark.parametrize("nprocs", [1, 2])
def test_fix_matches_numpy_on_dumped_positions(tmp_path, nprocs):
    run_lmp(tmp_path, lj_mixture(FIX, nsteps=200), nprocs)
    res = read_vanhove(tmp_path / "vh.dat")
    x, types, _, steps = dump_positions(tmp_path / "dump.txt")
    assert res.meta["nsamples"] == len(x) == 101 and res.meta["natoms"] == 256
    assert 0 < res.counts[-1].sum() <= res.pairs[-1]
    assert_matches_reference(res, x, 4, 3, 2)
    # the offline core on the same positions gives the same table, bit for bit
    core = VanHoveSelf(len(types), rmax=1.5, bins=30, block=4, levels=3, nevery=2, dt=0.005)
    for frame in x:
        core.add_frame(frame)
    names, table = core.table()
    got = np.loadtxt(tmp_path / "vh.dat", comments="#", skiprows=1)
    if nprocs == 1:
        np.testing.assert_array_equal(table, got)
    else:       # 2 ranks sum the squared displacements in another order
        np.testing.assert_array_equal(table[:, [0, 1, 2, 3]], got[:, [0, 1, 2, 3]])
        np.testing.assert_array_equal(table[:, 5:], got[:, 5:])
        np.testing.assert_allclose(table[:, 4], got[:, 4], rtol=1e-12)
    core.write(tmp_path / "offline.dat")
    np.testing.assert_array_equal(read_vanhove(tmp_path / "offline.dat").counts, res.counts)


def test_restart_continues_every_statistic_on_other_ranks(tmp_path, monkeypatch):
    first = lj_mixture(FIX, nsteps=100) + "write_restart half.restart\n"
    run_lmp(tmp_path, first, 1)
    (tmp_path / "dump.txt").rename(tmp_path / "dump1.txt")
    second = lj_continuation(FIX, 100)
    run_lmp(tmp_path, second, 2, name="in.second")
    res = read_vanhove(tmp_path / "vh.dat")
    assert res.meta["step_first"] == 0 and res.meta["step_last"] == 200 and res.meta["nsamples"] == 101
    x, _, _, _ = dump_positions(tmp_path / "dump1.txt", tmp_path / "dump2.txt")
    assert len(x) == 101
    assert_matches_reference(res, x, 4, 3, 2)
    monkeypatch.chdir(tmp_path)
    msg = lammps_error("read_restart half.restart\npair_style lj/cut 2.5\npair_coeff * * 1.0 1.0\n"
                       + FIX.replace("bins 30", "bins 31") + "\nrun 1")
    assert "bins was 30 when the restart file was written, now 31" in msg


def test_random_walk_matches_its_gaussian_and_hops_do_not():
    """A Gaussian random walk: 4 pi r^2 G_s(r, t) = the Maxwell density of the same MSD; jumps
    of one fixed length (a hop shell) are far from it."""
    rng = np.random.default_rng(5)
    n, steps, sigma = 2000, 40, 0.1
    x = np.cumsum(rng.normal(0.0, sigma, (steps, n, 3)), axis=0)
    core = VanHoveSelf(n, rmax=2.0, bins=40, block=5, levels=2)
    for frame in x:
        core.add_frame(frame)
    res = core.result()
    for i in (0, 3, 5):
        assert res.msd[i] == pytest.approx(3 * sigma ** 2 * res.lag_steps[i], rel=0.03)
        r, got = self_part(res, i)
        want = gaussian_self_part(r, res.msd[i])
        assert np.abs(got - want).max() < 0.06 * want.max(), (i, np.abs(got - want).max(), want.max())
        assert (res.gs[i] * res.shell_volume).sum() == pytest.approx(1.0, abs=1e-3)
        assert non_gaussianity(res, i) < 0.03
    summary = summarise(res)
    assert np.all(np.diff(summary.time) > 0) and summary.length_unit == "sigma_LJ"
    # hops of length 1.025 (the middle of bin 20, [1.0, 1.05)) in random directions: a shell
    u = rng.normal(size=(steps, n, 3))
    u *= 1.025 / np.linalg.norm(u, axis=2, keepdims=True)
    hop = VanHoveSelf(n, rmax=2.0, bins=40, block=5, levels=1)
    for frame in np.cumsum(u, axis=0):
        hop.add_frame(frame)
    hres = hop.result()
    assert hres.counts[0, 20] == hres.pairs[0] and non_gaussianity(hres, 0) > 0.5


@pytest.mark.parametrize("args, message", [
    ("2 bins 10", "keyword rmax is required"),
    ("2 rmax 1.0", "keyword bins is required"),
    ("2 rmax -1 bins 10", "rmax must be > 0, got -1"),
    ("2 rmax 1.0 bins 0", "bins must be"),
    ("0 rmax 1.0 bins 10", "Nevery must be"),
    ("2 rmax 1.0 bins 10 block 1", "block must be"),
    ("2 rmax 1.0 bins 10 colour red", "unknown keyword 'colour'"),
])
def test_bad_input_is_refused_naming_the_value(args, message):
    script = lj_mixture(f"fix vh all vanhove {args}", nsteps=0)
    assert message in lammps_error(script)

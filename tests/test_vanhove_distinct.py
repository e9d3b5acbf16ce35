"""fix vanhove's distinct part G_d(r, t) (keyword lags) in real LAMMPS against a direct numpy
reference on the dumped unwrapped positions (1 and 2 ranks, restart), the offline core,
G_d(r, 0) = rho g(r) of compute rdf, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ionsitu.core import VanHoveDistinctPart
from ionsitu.io.vanhove import read_vanhove_distinct
from lammps_helpers import dump_positions, lammps_error, lj_continuation, lj_mixture, run_lmp

NEVERY, RMAX, BINS, LAGS, ORIGINS = 2, 2.5, 25, (0, 2, 4, 8, 16), 4
FIX = (f"fix vh all vanhove {NEVERY} rmax {RMAX} bins {BINS} lags {' '.join(map(str, LAGS))} "
       f"origins {ORIGINS} dfile vhd.dat")


def reference_distinct(x, L, nevery=NEVERY, lags=LAGS, origins=ORIGINS, rmax=RMAX, bins=BINS):
    """Direct numpy: (n_origins, (nlags, bins) integer histogram) of the minimum-image
    |x_j(t0 + t) - x_i(t0)|, j != i, in an orthogonal box of edges L, origins every `origins`
    steps, binned floor(r bins / rmax) as the core bins."""
    every, scale, n = origins // nevery, bins / rmax, x.shape[1]
    norig = np.zeros(len(lags), dtype=np.int64)
    hist = np.zeros((len(lags), bins), dtype=np.int64)
    off_diagonal = ~np.eye(n, dtype=bool)
    for k, lag in enumerate(np.asarray(lags) // nevery):
        for o in range(0, len(x) - lag, every):
            d = x[o + lag][None, :, :] - x[o][:, None, :]
            s = d / L
            d = L * (s - np.floor(s + 0.5))
            r = np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])
            b = r[off_diagonal] * scale
            hist[k] += np.bincount(b[b < bins].astype(np.int64), minlength=bins)
            norig[k] += 1
    return norig, hist


def box_edges(res):
    h = np.array(res.meta["h"])
    assert np.all(h[3:] == 0.0)
    return h[:3]


@pytest.mark.parametrize("nprocs", [1, 2])
def test_distinct_part_matches_numpy_and_the_offline_core(tmp_path, nprocs):
    run_lmp(tmp_path, lj_mixture(FIX, nsteps=40), nprocs)
    res = read_vanhove_distinct(tmp_path / "vhd.dat")
    x, _, _, _ = dump_positions(tmp_path / "dump.txt")
    assert len(x) == 21 and res.natoms == 256
    L = box_edges(res)
    norig, hist = reference_distinct(x, L)
    np.testing.assert_array_equal(res.lag_steps, LAGS)
    np.testing.assert_array_equal(res.n_origins, norig)
    np.testing.assert_array_equal(res.counts, hist)        # identical integer histograms
    want = hist / (norig[:, None] * 256 * res.shell_volume[None, :])
    np.testing.assert_allclose(res.gd, want, rtol=1e-12, atol=0)
    assert hist[0].sum() > 0 and hist[-1].sum() > 0

    core = VanHoveDistinctPart(256, LAGS, RMAX, BINS, nevery=NEVERY, origins=ORIGINS, dt=0.005)
    for frame in x:
        core.add_frame(frame, h=np.array(res.meta["h"]))
    names, table = core.table()
    np.testing.assert_array_equal(core.counts, hist)
    np.testing.assert_array_equal(table, np.loadtxt(tmp_path / "vhd.dat", comments="#", skiprows=1))


def test_distinct_part_at_lag_zero_is_rho_g_of_compute_rdf(tmp_path):
    """G_d(r, 0) = (N - 1)/V g(r), g from compute rdf (same pair cutoff, bins, steps)."""
    extra = (f"compute rdf all rdf {BINS}\n"
             "fix rdfav all ave/time 4 1 4 c_rdf[*] file rdf.txt mode vector format \" %.17g\"\n" + FIX)
    run_lmp(tmp_path, lj_mixture(extra, nsteps=40), 1)
    res = read_vanhove_distinct(tmp_path / "vhd.dat")
    # one block per snapshot (steps 0, 4, .., 40): a "step nrows" line, then nrows rows
    rows = [ln.split() for ln in (tmp_path / "rdf.txt").read_text().splitlines() if not ln.startswith("#")]
    blocks = np.array([r for r in rows if len(r) > 2], dtype=float).reshape(-1, BINS, 4)
    assert [int(r[0]) for r in rows if len(r) == 2] == list(range(0, 41, 4))
    rdf = blocks.mean(axis=0)
    volume = np.prod(box_edges(res))
    np.testing.assert_allclose(rdf[:, 1], res.r, rtol=1e-12)
    assert res.n_origins[0] == 11
    np.testing.assert_allclose(res.gd[0], (256 - 1) / volume * rdf[:, 2], rtol=1e-10, atol=0)


def test_restart_keeps_pending_references(tmp_path):
    """20 steps, write_restart, 20 more steps on 2 ranks = one 40-step run (numpy reference)."""
    run_lmp(tmp_path, lj_mixture(FIX, nsteps=20) + "write_restart half.restart\n", 1)
    (tmp_path / "dump.txt").rename(tmp_path / "dump1.txt")
    second = lj_continuation(FIX, 20)
    run_lmp(tmp_path, second, 2, name="in.second")
    res = read_vanhove_distinct(tmp_path / "vhd.dat")
    x, _, _, _ = dump_positions(tmp_path / "dump1.txt", tmp_path / "dump2.txt")
    assert len(x) == 21
    norig, hist = reference_distinct(x, box_edges(res))
    np.testing.assert_array_equal(res.n_origins, norig)
    np.testing.assert_array_equal(res.counts, hist)


@pytest.mark.parametrize("args, message", [
    ("2 rmax 1.0 bins 10 lags 0 3", "lag 3 is not a multiple of Nevery 2"),
    ("2 rmax 1.0 bins 10 lags 4 2", "lags must be ascending and unique, got 4 then 2"),
    ("2 rmax 1.0 bins 10 lags", "lags needs one or more lags"),
    ("2 rmax 1.0 bins 10 lags 0 2 origins 3", "origins 3 is not a multiple of Nevery 2"),
    ("2 rmax 1.0 bins 10 dfile g.dat", "dfile g.dat needs lags"),
    ("2 rmax 3.5 bins 10 lags 0", "rmax 3.500000 must be below half the shortest box width"),
])
def test_bad_distinct_input_is_refused_naming_the_value(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = lj_mixture(f"fix vh all vanhove {args}", nsteps=0)
    assert message in lammps_error(script)


def test_distinct_part_over_density_is_one_for_an_ideal_gas():
    """Uncorrelated random positions: G_d(r, t) / rho = 1 (within the counting noise)."""
    from ionsitu.analysis.vanhove import distinct_part
    from ionsitu.io.vanhove import distinct_from_table

    rng = np.random.default_rng(3)
    n, L = 2000, 10.0
    core = VanHoveDistinctPart(n, [0, 1], rmax=4.0, bins=8)
    for _ in range(4):
        core.add_frame(rng.uniform(0.0, L, (n, 3)), h=(L, L, L, 0.0, 0.0, 0.0))
    names, table = core.table()
    res = distinct_from_table({"bins": 8, "rmax": 4.0, "natoms": n, "h": [L, L, L, 0, 0, 0]}, names, table)
    for lag in (0, 1):
        r, g = distinct_part(res, lag)
        assert np.all(np.abs(g[2:] - 1.0) < 0.03), (lag, g)

"""Tests of ionsitu.analysis.hops on synthetic event tables with known answers."""

import numpy as np
import pytest

from ionsitu.analysis import hops as H
from ionsitu.analysis.hops.classes import _kinds
from ionsitu.analysis.hops.rates import _jump_types
from ionsitu.io.events import _disp
from ionsitu.units import KB_EV

KB = KB_EV


def ev_table(rows, **kw):
    """rows: (time, atom, from, to, dx, dy, dz)."""
    r = np.array(rows, dtype=float).reshape(-1, 7)
    return H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), r[:, 4:7],
                         time=r[:, 0], **kw)


def test_make_events_sorts_and_validates():
    ev = ev_table([(2.0, 5, 0, 1, 1, 0, 0), (1.0, 7, 1, 0, -1, 0, 0), (1.0, 3, 2, 1, 0, 1, 0)])
    assert ev.dtype == H.EVENT_DTYPE
    assert ev["atom_id"].tolist() == [3, 7, 5]
    with pytest.raises(ValueError, match=r"displacement has shape"):
        H.make_events([1, 2], [0, 1], [1, 0], np.zeros((3, 3)), time=[0, 1])
    with pytest.raises(ValueError, match="timestep"):
        H.make_events([1], [0], [1], [[1, 0, 0]], step=[10])
    with pytest.raises(ValueError, match="missing fields"):
        H.jump_rates(np.zeros(3, dtype=[("time", float)]), 1, 1.0)
    with pytest.raises(ValueError, match="n_ions must be > 0, got 0"):
        H.jump_rates(ev, 0, 1.0)
    with pytest.raises(ValueError, match="total_time must be > 0, got -1"):
        H.jump_diffusivity(ev, 2, -1.0)


def test_events_from_core_layout():
    # step, id, from, to, from_x[3], to_x[3], disp[3], origin_arrival, origin_last, flags
    core = np.array([
        [320, 7, 0, 4, 1, 5, 5, 9, 5, 5, -2, 0, 0, 250, 300, 0],
        [100, 3, 3, 2, 7, 5, 5, 5, 5, 5, -2, 0, 0, 0, 80, 1],
    ], dtype=float)
    ev = H.events_from_core(core.ravel(), timestep=0.002)
    assert ev["step"].tolist() == [100, 320]
    np.testing.assert_allclose(ev["time"], [0.2, 0.64])
    np.testing.assert_allclose(ev["residence"], [0.2, 0.14])
    np.testing.assert_allclose(ev["duration"], [0.04, 0.04])
    assert ev["censored"].tolist() == [True, False]
    np.testing.assert_allclose(ev["tx"], [5, 9])
    with pytest.raises(ValueError, match="multiple of 16"):
        H.events_from_core(np.zeros(17), 1.0)


def test_rates_residence_and_activation_energies():
    rng = np.random.default_rng(0)
    rows = []
    # type (0,1): 30 jumps by ions 0..5; (1,0): 20 by ions 0..3; (1,2): 5 by ion 9
    for k in range(30):
        rows.append((rng.random() * 100, k % 6, 0, 1, 2.0, 0, 0))
    for k in range(20):
        rows.append((rng.random() * 100, k % 4, 1, 0, -2.0, 0, 0))
    for k in range(5):
        rows.append((rng.random() * 100, 9, 1, 2, 0, 3.0, 0))
    r = np.array(rows)
    residence = np.where(r[:, 2] == 0, 4.0, 6.0)
    ev = H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), r[:, 4:7], time=r[:, 0],
                       residence=residence, censored=np.arange(len(r)) == 0)
    N, t = 10, 100.0
    js = H.jump_rates(ev, N, t)
    assert js.pairs.tolist() == [[0, 1], [1, 0], [1, 2]]
    assert js.count.tolist() == [30, 20, 5]
    np.testing.assert_allclose(js.rate, np.array([30, 20, 5]) / (N * t))
    assert js.n_participating.tolist() == [6, 4, 1]
    np.testing.assert_allclose(js.mean_length, [2, 2, 3])
    und = H.jump_rates(ev, N, t, directed=False)
    assert und.pairs.tolist() == [[0, 1], [1, 2]] and und.count.tolist() == [50, 5]

    res = H.residence_times(ev)
    assert res.site.tolist() == [0, 1]
    assert res.count.tolist() == [29, 25]  # the censored one left out
    np.testing.assert_allclose(res.mean, [4.0, 6.0])
    assert H.residence_times(ev, include_censored=True).count.tolist() == [30, 25]
    dens, edges = H.residence_time_distribution(ev, bins=[0, 5, 10])
    np.testing.assert_allclose(dens * 5, [29 / 54, 25 / 54])

    T, nu = 800.0, 1.0
    ea = H.activation_energies(ev, t, T, nu)
    want = -KB * T * np.log(np.array([30 / (t * 6 * nu), 20 / (t * 4 * nu), 5 / (t * 1 * nu)]))
    np.testing.assert_allclose(ea.Ea, want, rtol=1e-12)
    assert ea.mean == pytest.approx(want.mean()) and ea.std == pytest.approx(want.std(ddof=1))
    assert (ea.min, ea.max) == (pytest.approx(want.min()), pytest.approx(want.max()))
    assert ea.asymmetry_pairs.tolist() == [[0, 1]]
    assert ea.asymmetry[0] == pytest.approx(want[0] - want[1])
    ea_all = H.activation_energies(ev, t, T, nu, n_ions=N)
    np.testing.assert_allclose(ea_all.Ea, -KB * T * np.log(np.array([30, 20, 5]) / (t * N * nu)))
    with pytest.raises(ValueError, match="attempt_frequency 0.01 is too small"):
        H.activation_energies(ev, t, T, 0.01)


def test_backjumps():
    rows = [
        # ion 1: 0->1, 1->0 (back), 0->1 (back), 1->2 (no)
        (1, 1, 0, 1, 1, 0, 0), (2, 1, 1, 0, -1, 0, 0), (3, 1, 0, 1, 1, 0, 0), (4, 1, 1, 2, 1, 0, 0),
        # ion 2: 5->6, 6->7, 7->6 (back)
        (1.5, 2, 5, 6, 0, 1, 0), (2.5, 2, 6, 7, 0, 1, 0), (3.5, 2, 7, 6, 0, -1, 0),
        # ion 3: one hop only (not considered)
        (1.2, 3, 8, 9, 0, 0, 1),
    ]
    ev = ev_table(rows)
    b = H.backjump_fraction(ev)
    assert (b.n_backjumps, b.n_considered) == (3, 5)
    assert b.fraction == pytest.approx(0.6)
    assert b.is_backjump.sum() == 3
    # site-free: by displacement
    free = ev.copy()
    free["from_site"] = -1
    free["to_site"] = -1
    with pytest.raises(ValueError, match="give tol"):
        H.backjump_fraction(free)
    bf = H.backjump_fraction(free, tol=0.1)
    assert (bf.n_backjumps, bf.n_considered) == (3, 5)
    # "quickly returns": ion 1's backjumps after 1 time unit, ion 2's after 1 -> all within 1,
    # none within 0.9; a slow return (ion 4: back after 10) counts only without the limit
    slow = ev_table(rows + [(1.0, 4, 3, 4, 1, 0, 0), (11.0, 4, 4, 3, -1, 0, 0)])
    assert H.backjump_fraction(slow).n_backjumps == 4
    q = H.backjump_fraction(slow, max_time=1.0)
    assert (q.n_backjumps, q.n_considered, q.max_time) == (3, 6, 1.0)
    assert H.backjump_fraction(slow, max_time=0.9).n_backjumps == 0
    with pytest.raises(ValueError, match="max_time"):
        H.backjump_fraction(ev, max_time=-1.0)


def lattice_walk(n_ions, L, a, gamma, t_total, seed):
    """Continuous-time random walk on a periodic simple-cubic lattice (L^3 sites, spacing a),
    total hop rate gamma per ion. Returns events and the unwrapped final displacements."""
    rng = np.random.default_rng(seed)
    dirs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    rows = []
    final = np.zeros((n_ions, 3))
    for i in range(n_ions):
        pos = rng.integers(0, L, 3)
        t = rng.exponential(1 / gamma)
        last = 0.0
        while t < t_total:
            d = dirs[rng.integers(6)]
            new = (pos + d) % L
            rows.append((t, i, np.ravel_multi_index(tuple(pos), (L,) * 3), np.ravel_multi_index(tuple(new), (L,) * 3),
                         *(a * d), t - last))
            final[i] += a * d
            pos = new
            last = t
            t += rng.exponential(1 / gamma)
    r = np.array(rows)
    ev = H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), r[:, 4:7], time=r[:, 0],
                       residence=r[:, 7], duration=np.zeros(len(r)),
                       from_pos=np.zeros((len(r), 3)))
    return ev, final


def test_jump_diffusivity_of_lattice_random_walk():
    n_ions, L, a, gamma, t_total = 300, 8, 2.0, 2.0, 40.0
    ev, final = lattice_walk(n_ions, L, a, gamma, t_total, seed=1)
    jd = H.jump_diffusivity(ev, n_ions, t_total)
    # exact identity with the observed number of hops, and Σ Γ_i a_i^2 / 6 over jump types
    assert jd.D == pytest.approx(len(ev) * a**2 / (6 * n_ions * t_total), rel=1e-12)
    js = H.jump_rates(ev, n_ions, t_total)
    assert jd.D == pytest.approx(np.sum(js.rate * js.mean_sq_length) / 6, rel=1e-12)
    # the known D of the walk, Γ a² / 6, within statistics (about 24000 hops: 0.7 %)
    D_true = gamma * a**2 / 6
    assert jd.D == pytest.approx(D_true, rel=0.03)
    np.testing.assert_allclose(jd.D_xyz, D_true, rtol=0.05)
    # and the MSD of the same walk (uncorrelated: D_j = D*), within its larger noise
    D_msd = np.mean(np.sum(final**2, axis=1)) / (6 * t_total)
    assert D_msd == pytest.approx(D_true, rel=0.12)
    # residence times of a Poisson walk: mean 1/gamma
    res = H.residence_times(ev)
    assert res.all_values.mean() == pytest.approx(1 / gamma, rel=0.03)
    # Chudley–Elliott: l = sqrt(6 D tau) with tau = 1/gamma gives the lattice spacing
    assert H.chudley_elliott_length(D_true, 1 / gamma) == pytest.approx(a)
    # site-trajectory residence autocorrelation of the same walk: c(τ) = exp(-γτ), ∫ = 1/γ
    times = np.arange(0, t_total, 0.05)
    init = np.array([ev["from_site"][ev["atom_id"] == i][0] for i in range(n_ions)])
    st = H.site_trajectory(ev, np.arange(n_ions), times, initial_sites=init)
    acf = H.residence_autocorrelation(st, 0.05, max_lag=200)
    np.testing.assert_allclose(acf.c[[0, 10, 20]], np.exp(-gamma * acf.lag[[0, 10, 20]]), atol=0.02)
    assert acf.integral == pytest.approx(1 / gamma, rel=0.1)


def test_residence_autocorrelation_exact():
    # one ion: 4 samples on site 0, 2 unassigned, 6 samples on site 3
    st = np.array([0, 0, 0, 0, -1, -1, 3, 3, 3, 3, 3, 3])
    acf = H.residence_autocorrelation(st, dt=1.0, max_lag=7)
    want = np.array([10, 8, 6, 4, 2, 1, 0, 0]) / 10
    np.testing.assert_allclose(acf.c, want)
    assert acf.integral == pytest.approx(want.sum() - 0.5 * (want[0] + want[-1]))
    assert acf.T == pytest.approx(2 * acf.integral)
    with pytest.raises(ValueError, match="max_lag"):
        H.residence_autocorrelation(st, 1.0, max_lag=20)


def test_intermittent_residence_autocorrelation_exact():
    """Intermittent c(τ) counts returns: 0 0 1 0 0 -> c(1) = 2/4, c(2) = 1/3, c(3) = 2/2,
    c(4) = 1/1; continuous (runs 2, 1, 2 of 5 samples): 1, 2/5, 0, 0, 0."""
    st = np.array([[0, 5], [0, 5], [1, -1], [0, 5], [0, 6]])
    one = H.residence_autocorrelation(st[:, :1], dt=0.5, kind="intermittent")
    np.testing.assert_allclose(one.c, [1, 2 / 4, 1 / 3, 1, 1])
    assert one.kind == "intermittent" and one.T == pytest.approx(2 * 0.5 * (one.c.sum() - 0.5 * (one.c[0] + one.c[-1])))
    cont = H.residence_autocorrelation(st[:, :1], dt=0.5)
    np.testing.assert_allclose(cont.c, [1, 2 / 5, 0, 0, 0])
    # two ions against a direct double loop over origins and lags
    both = H.residence_autocorrelation(st, dt=1.0, kind="intermittent")
    for k in range(5):
        num = den = 0
        for i in range(2):
            for t in range(5 - k):
                if st[t, i] >= 0:
                    den += 1
                    num += st[t + k, i] == st[t, i]
        assert both.c[k] == pytest.approx(num / den)
    assert both.chudley_elliott_length(0.3) == pytest.approx(np.sqrt(6 * 0.3 * both.T))
    with pytest.raises(ValueError, match="kind"):
        H.residence_autocorrelation(st, 1.0, kind="both")


def test_nearest_neighbour_trajectory_minimum_image():
    cell = np.diag([10.0, 10.0, 10.0])
    # ion 0 at x = 0.5 is next to ion 2 at x = 9.5 through the boundary, then ion 1 comes closer
    pos = np.array([[[0.5, 0, 0], [3.0, 0, 0], [9.5, 0, 0]],
                    [[0.5, 0, 0], [1.0, 0, 0], [9.5, 0, 0]]])
    nn = H.nearest_neighbour_trajectory(pos, cell, atom_ids=[11, 12, 13])
    assert nn.tolist() == [[13, 11, 11], [12, 11, 11]]
    acf = H.residence_autocorrelation(nn, 1.0, kind="intermittent")
    assert acf.c.tolist() == pytest.approx([1, 2 / 3])
    with pytest.raises(ValueError, match="cell must be"):
        H.nearest_neighbour_trajectory(pos, np.eye(2))


def test_site_trajectory_from_events():
    ev = ev_table([(1.0, 4, 0, 1, 1, 0, 0), (3.0, 4, 1, 2, 1, 0, 0)])
    st = H.site_trajectory(ev, [4, 5], [0.0, 1.0, 2.0, 3.5])
    assert st[:, 0].tolist() == [0, 1, 1, 2]
    assert st[:, 1].tolist() == [-1, -1, -1, -1]
    with pytest.raises(ValueError, match=r"not in atom_ids: \[4\]"):
        H.site_trajectory(ev, [5], [0.0])


def test_attempt_frequency_of_harmonic_velocities():
    dt, nT, nu0 = 0.01, 4000, 3.0  # nu0 on an exact FFT bin
    t = np.arange(nT) * dt
    rng = np.random.default_rng(2)
    phase = rng.random((1, 5, 3)) * 2 * np.pi
    v = np.cos(2 * np.pi * nu0 * t[:, None, None] + phase)
    assert H.estimate_attempt_frequency(v, dt) == pytest.approx(nu0, rel=1e-9)


def test_jump_network_connectivity_and_gop():
    nx = pytest.importorskip("networkx")
    # sites 0,1,2 on a line along x through the periodic cell (channel); 3<->4 a closed pair
    cell = np.diag([6.0, 6.0, 6.0])
    frac = np.array([[1 / 6, 0.5, 0.5], [3 / 6, 0.5, 0.5], [5 / 6, 0.5, 0.5], [0.1, 0.1, 0.1], [0.2, 0.1, 0.1], [0.7, 0.7, 0.7]])
    rows = [(1, 0, 0, 1, 2, 0, 0), (2, 0, 1, 2, 2, 0, 0), (3, 0, 2, 0, 2, 0, 0),  # winds once along a
            (4, 1, 1, 0, -2, 0, 0), (5, 2, 3, 4, 0.6, 0, 0), (6, 2, 4, 3, -0.6, 0, 0), (7, 2, 3, 4, 0.6, 0, 0)]
    ev = ev_table(rows)
    G = H.jump_network(ev, n_sites=6)
    assert isinstance(G, nx.DiGraph) and G.number_of_nodes() == 6
    assert G[1][0]["weight"] == pytest.approx(0.5) and G[1][2]["weight"] == pytest.approx(0.5)
    assert G[3][4]["count"] == 2 and G[3][4]["weight"] == pytest.approx(1.0)
    con = H.network_connectivity(ev, 6, frac, cell)
    assert sorted(con.sizes.tolist()) == [1, 2, 3]
    c0 = con.component[0]
    assert con.dimensionality[c0] == 1
    assert np.abs(con.windings[c0]).tolist() == [[1, 0, 0]]
    assert con.dimensionality[con.component[3]] == 0
    assert con.percolating and con.largest_fraction == pytest.approx(0.5)
    moved = frac.copy()
    moved[1, 1] += 0.2
    with pytest.raises(ValueError, match="do not join"):
        H.network_connectivity(ev, 6, moved, cell)
    # GOP by hand: in-degrees (weights P(i->j)): 0: 1+0.5, 1: 1, 2: 0.5, 3: 1, 4: 1, 5: 0
    gop = H.graph_order_parameter(G, normalize=False)
    p_third = 1 / 3
    g012 = 3 * (p_third * np.log(p_third)) + (1.5 + 1 + 0.5) * p_third
    g34 = 1.0 * np.log(1.0) + 1.0
    g5 = 0.0
    assert gop == pytest.approx(g012 + g34 + g5)
    # degrees normalised to 0..1 (divided by the largest, 1.5): 1, 2/3, 1/3 | 2/3, 2/3 | 0
    g012n = 3 * (p_third * np.log(p_third)) + (1 + 2 / 3 + 1 / 3) * p_third
    assert H.graph_order_parameter(G) == pytest.approx(g012n + 2 / 3 + 0.0, abs=2e-6)   # degrees rounded to 1e-6
    # a fully connected ring is more ordered (one degree value) than a star
    ring = nx.cycle_graph(6)
    nx.set_edge_attributes(ring, 1.0, "weight")
    assert H.graph_order_parameter(ring, normalize=False) == pytest.approx(2.0)
    assert H.graph_order_parameter(ring) == pytest.approx(1.0)
    star = nx.star_graph(5)   # centre degree 5 -> 1, leaves 1 -> 0.2
    nx.set_edge_attributes(star, 1.0, "weight")
    p = np.array([1, 5]) / 6
    assert H.graph_order_parameter(star) == pytest.approx(np.sum(p * np.log(p)) + (1 + 5 * 0.2) / 6)


def test_correlated_hops_distance_time_window():
    cell = np.diag([30.0, 30.0, 30.0])
    rows = [
        # pair: ions 1, 2 within 0.5 time and 3 length
        (10.0, 1, 0, 1, 1, 0, 0), (10.4, 2, 2, 3, 1, 0, 0),
        # chain: 3-4 close in time and space, 4-5 too, 3-5 not (transitive triple)
        (20.0, 3, 4, 5, 1, 0, 0), (20.8, 4, 6, 7, 1, 0, 0), (21.6, 5, 8, 9, 1, 0, 0),
        # isolated hops: far in time or in space (across the periodic boundary counts as close!)
        (30.0, 6, 0, 1, 1, 0, 0), (30.2, 7, 0, 1, 1, 0, 0),
        (40.0, 8, 0, 1, 1, 0, 0),
        (50.0, 1, 1, 0, -1, 0, 0),
    ]
    pos = np.array([
        [1, 1, 1], [3, 1, 1],
        [10, 10, 10], [10, 12, 10], [10, 14, 10],
        [0.5, 20, 20], [29.0, 20, 20],  # 1.5 apart through the boundary
        [5, 5, 5], [5, 5, 5],
    ], dtype=float)
    r = np.array(rows)
    ev = H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), r[:, 4:7], time=r[:, 0],
                       from_pos=pos - 0.5 * r[:, 4:7])  # midpoints at pos
    ch = H.correlated_hops(ev, time_window=1.0, cutoff=3.0, cell=cell)
    assert sorted(ch.group_ions.tolist()) == [1, 1, 2, 2, 3]
    assert ch.fraction_collective == pytest.approx(7 / 9)
    assert ch.n_values.tolist() == [1, 2, 3] and ch.n_counts.tolist() == [2, 2, 1]
    # without the cell the boundary pair is not close
    ch2 = H.correlated_hops(ev, time_window=1.0, cutoff=3.0)
    assert sorted(ch2.group_ions.tolist()) == [1, 1, 1, 1, 2, 3]
    with pytest.raises(ValueError, match="lack the positions"):
        H.correlated_hops(ev_table(rows[:2]), 1.0, 3.0)
    # warnings where the definition cannot mean much: too few hops; cutoff >= half the box
    with pytest.warns(UserWarning, match="9 hops of 8 ions"):
        H.correlated_hops(ev, time_window=1.0, cutoff=3.0, cell=cell, n_random=0)
    tilted = np.array([[30.0, 0, 0], [20.0, 10.0, 0], [0, 0, 30.0]])   # widths 10, 30*10/sqrt(500)=13.4, 30
    many = np.concatenate([ev] * 2)
    with pytest.warns(UserWarning, match="cutoff 5 >= half the narrowest cell width \\(5\\)"):
        H.correlated_hops(many, time_window=1.0, cutoff=5.0, cell=tilted, n_random=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        H.correlated_hops(many, time_window=1.0, cutoff=4.9, cell=tilted, n_random=0)


def _poisson_trains(rng, n_ions=120, box=20.0, rate=0.02, span=1000.0, step=None, pairs=0):
    """Independent Poisson hop trains of ions with a home position each (hops within 1 of it),
    optionally ``pairs`` planted concerted hops: two ions far from everyone else's homes
    (one pair-home per planted pair set) hopping at the same time, 0.5 apart.
    ``step``: times on a grid of this spacing (with step numbers). Returns (events, cell)."""
    rows, mids = [], []
    homes = rng.random((n_ions, 3)) * box
    for a in range(n_ions):
        k = rng.poisson(rate * span)
        for t in np.sort(rng.random(k) * span):
            rows.append((t, a))
            mids.append(homes[a] + rng.uniform(-0.5, 0.5, 3))
    for p in range(pairs):  # ions 10000 + 2p, 10001 + 2p: their own corner of space and time
        a, b = 10000 + 2 * p, 10001 + 2 * p
        t = rng.random() * span
        base = rng.random(3) * box
        rows += [(t, a), (t, b)]
        mids += [base, base + [0.5, 0, 0]]
    r = np.array(rows)
    mids = np.array(mids)
    d = np.tile([1.0, 0, 0], (len(r), 1))
    kw = dict(time=r[:, 0])
    if step is not None:
        kw = dict(step=np.rint(r[:, 0] / step).astype(np.int64) * 10, timestep=step / 10)
    ev = H.make_events(r[:, 1].astype(int), 0, 1, d, from_pos=mids - 0.5 * d, **kw)
    return ev, np.diag([box] * 3)


def test_correlated_hops_chance_level_of_independent_ions():
    """Independent Poisson hop trains: the observed collective fraction is chance (|z| < 3),
    and the chance level itself is substantial (coincidences alone)."""
    for seed, step in ((11, None), (12, 0.5)):
        ev, cell = _poisson_trains(np.random.default_rng(seed), step=step)
        ch = H.correlated_hops(ev, time_window=2.0, cutoff=3.0, cell=cell, n_random=40, seed=3,
                               time_span=(0.0, 1000.0))
        c = ch.chance
        assert c.time_quantum == (0.0 if step is None else pytest.approx(step))
        assert c.period == pytest.approx(1000.0 if step is None else 1000.0 + step)
        assert 0.05 < c.fraction_mean < 0.9 and c.fraction_sd > 0
        assert abs(c.excess) < 3 * c.fraction_sd and abs(c.z) < 3, (c.excess, c.fraction_sd)
        assert ch.excess_fraction == c.excess and ch.chance_fraction == c.fraction_mean
        assert c.excess == pytest.approx(ch.fraction_collective - c.fraction_mean)
        # histogram of ions per event: observed within ~3 sd of chance (bins chance fills)
        ok = c.n_counts_mean >= 5
        assert ok[:2].all() and np.all(np.abs(c.n_counts_z[ok]) < 3.5), c.n_counts_z
        assert c.n_counts_observed[:len(ch.n_counts)].tolist() == ch.n_counts.tolist()
        assert len(c.n_values) == len(c.n_counts_mean) == len(c.n_counts_sd) == len(c.n_counts_observed)
        assert 0 < c.p_value <= 1


def test_correlated_hops_chance_level_of_planted_pairs():
    """Planted concerted pairs on top of independent ions: the excess is the planted fraction
    (less what chance would have made collective anyway), far above the chance spread."""
    rng = np.random.default_rng(21)
    ev, cell = _poisson_trains(rng, n_ions=120, box=30.0, rate=0.01, pairs=150)
    n_planted = 300
    ch = H.correlated_hops(ev, time_window=2.0, cutoff=3.0, cell=cell, n_random=30, seed=4,
                           time_span=(0.0, 1000.0))
    c = ch.chance
    planted = n_planted / len(ev)
    assert 0.2 < planted < 0.4
    # planted hops are collective by construction; the others at the chance rate of the shuffles
    assert c.fraction_mean < 0.15
    assert c.excess == pytest.approx(planted * (1 - c.fraction_mean), abs=0.03)
    assert c.z > 10 and c.p_value == pytest.approx(1 / 31)
    # pairs (n = 2) far above chance
    assert c.n_counts_observed[1] - c.n_counts_mean[1] > 100 and c.n_counts_z[1] > 10


def test_correlated_hops_chance_reference_is_seeded_and_checked():
    ev, cell = _poisson_trains(np.random.default_rng(7), n_ions=40, step=0.5)
    a = H.correlated_hops(ev, 2.0, 3.0, cell=cell, n_random=12, seed=99)
    b = H.correlated_hops(ev, 2.0, 3.0, cell=cell, n_random=12, seed=99)
    d = H.correlated_hops(ev, 2.0, 3.0, cell=cell, n_random=12, seed=100)
    np.testing.assert_array_equal(a.chance.fractions, b.chance.fractions)
    np.testing.assert_array_equal(a.chance.n_counts_mean, b.chance.n_counts_mean)
    assert not np.array_equal(a.chance.fractions, d.chance.fractions)
    assert a.fraction_collective == d.fraction_collective          # the observed part has no randomness
    # default span: first to last hop; quantum from the steps (time = step * timestep)
    t = ev["time"]
    assert a.chance.time_span == (t.min(), t.max()) and a.chance.time_quantum == pytest.approx(0.5)
    assert H.correlated_hops(ev, 2.0, 3.0, cell=cell, n_random=0).chance is None
    with pytest.raises(ValueError, match="outside time_span"):
        H.correlated_hops(ev, 2.0, 3.0, cell=cell, time_span=(t.min() + 1, t.max()))
    with pytest.raises(ValueError, match="not on a grid"):
        H.correlated_hops(ev, 2.0, 3.0, cell=cell, time_quantum=0.3)
    with pytest.raises(ValueError, match="n_random"):
        H.correlated_hops(ev, 2.0, 3.0, cell=cell, n_random=-1)


def test_correlated_hops_window_is_inclusive_on_a_sampling_grid():
    """Two hops exactly one window apart on a grid of steps (t = step * dt, not exact in
    floating point) are correlated, whatever the rounding of their times."""
    dt = 0.002
    for s0 in range(2000, 2400, 10):
        ev = H.make_events([1, 2], 0, 1, [[1, 0, 0]] * 2, step=[s0, s0 + 50], timestep=dt,
                           from_pos=[[0, 0, 0], [1, 0, 0]])
        ch = H.correlated_hops(ev, 50 * dt, 3.0, n_random=0)
        assert ch.fraction_collective == 1.0, s0
        ch = H.correlated_hops(ev, 49 * dt, 3.0, n_random=0)
        assert ch.fraction_collective == 0.0, s0


def test_correlated_hops_many_events_is_fast():
    """10^5 hops with the chance reference in seconds (sorted by time, window search)."""
    import time

    rng = np.random.default_rng(2)
    n, box = 100_000, 60.0
    ids = rng.integers(0, 5000, n)
    ev = H.make_events(ids, 0, 1, np.tile([1.0, 0, 0], (n, 1)), step=rng.integers(0, 200_000, n) * 10,
                       timestep=0.001, from_pos=rng.random((n, 3)) * box)
    t0 = time.perf_counter()
    ch = H.correlated_hops(ev, 0.05, 3.0, cell=np.diag([box] * 3), n_random=20, seed=1)
    wall = time.perf_counter() - t0
    assert abs(ch.chance.z) < 4 and wall < 30, wall


def test_exponential_fit():
    n = np.arange(1, 9)
    f = 0.220 * np.exp(-0.252 * n)
    fit = H.fit_exponential_decay(n, f)
    assert fit.A == pytest.approx(0.220, rel=1e-8) and fit.b == pytest.approx(0.252, rel=1e-8)
    with pytest.raises(ValueError, match="at least 2 points"):
        H.fit_exponential_decay([1, 2], [1.0, 0.0])


def test_correlation_matrix_method_finds_the_planted_groups():
    """A pair (ions 0, 1) and a triple (2, 3, 4) hop together, ions 5..11 at random: the
    element-wise reference finds exactly those groups; n = 2.5 +- 0.707."""
    rng = np.random.default_rng(5)
    T_end, dt = 10000.0, 1.0
    rows, dur = [], []
    for members in ([0, 1], [2, 3, 4]):
        for t in np.sort(rng.random(12) * (T_end - 10) + 5):
            for k, ion in enumerate(members):
                rows.append((t + 1.0 * k, ion, 0, 1, 1, 0, 0))
                dur.append(2.0)
    for ion in range(5, 12):
        for t in np.sort(rng.random(12) * (T_end - 10) + 5):
            rows.append((t, ion, 0, 1, 1, 0, 0))
            dur.append(2.0)
    r = np.array(rows)
    ev = H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), r[:, 4:7], time=r[:, 0],
                       duration=dur)
    res = H.correlation_matrix_method(ev, np.arange(12), 0.0, T_end, dt, n_random=400, seed=1)
    assert res.fwhm == pytest.approx(2.0)
    assert res.reference.shape == (12, 12)
    assert res.matrix[0, 1] > 0.8 and res.correlated[0, 1]
    assert res.group[0] == res.group[1] >= 0 and res.group[2] == res.group[3] == res.group[4] >= 0
    assert np.all(res.group[5:] == -1)
    assert sorted(res.sizes.tolist()) == [2, 3]
    assert res.n_mean == pytest.approx(2.5) and res.n_sd == pytest.approx(np.sqrt(0.5))
    # histogram over groups (n = 1: the 7 uncorrelated ions), fitted from n = 2
    assert res.n_counts.tolist() == [7, 1, 1]
    assert res.fit is not None and res.fit.n.tolist() == [2.0, 3.0]
    assert res.fit.A * np.exp(-2 * res.fit.b) == pytest.approx(1 / 9)
    # element-wise: the reference of each pair is the maximum of its own random coefficients
    q9 = H.correlation_matrix_method(ev, np.arange(12), 0.0, T_end, dt, n_random=400, quantile=0.9, seed=1)
    assert np.all(q9.reference <= res.reference + 1e-15) and np.any(q9.reference < res.reference)
    assert q9.expected_false_pairs == pytest.approx(66 * 0.1) and res.expected_false_pairs == pytest.approx(66 / 401)
    one = H.correlation_matrix_method(ev, np.arange(12), 0.0, T_end, dt, n_random=1, seed=1)
    assert np.array_equal(one.correlated, (one.matrix > one.reference) & ~np.eye(12, dtype=bool))
    with pytest.raises(ValueError, match="quantile"):
        H.correlation_matrix_method(ev, np.arange(12), 0.0, T_end, dt, quantile=1.5)
    with pytest.warns(UserWarning, match="only 1 of 12 ions hop"):
        H.correlation_matrix_method(ev[ev["atom_id"] == 0], np.arange(12), 0.0, T_end, dt, n_random=2)


def _fcc_octahedral_walk(n=3, a=1.0, steps=2000, ions=10, seed=1, long_every=7):
    """Random walk of `ions` on the octahedral sites of an n^3 fcc cell: nearest-neighbour
    hops (a/sqrt 2, 12 per site) and every `long_every`-th hop a jump of length a (6 per site)."""
    from ionsitu.io.cell import min_image_frac as _min_image_frac

    base = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]])
    frac = np.array([b + [i, j, k] for i in range(n) for j in range(n) for k in range(n) for b in base]) / n
    cell = np.eye(3) * n * a
    rng = np.random.default_rng(seed)
    site = rng.choice(len(frac), ions, replace=False)
    rows = []
    for step in range(1, steps + 1):
        i = rng.integers(0, ions)
        d = np.linalg.norm(_min_image_frac(frac - frac[site[i]], cell), axis=1)
        want = a if step % long_every == 0 else a / np.sqrt(2)
        j = rng.choice(np.flatnonzero(np.abs(d - want) < 1e-9))
        rows.append((step, i, site[i], j, *_min_image_frac(frac[j] - frac[site[i]], cell)))
        site[i] = j
    r = np.array(rows)
    ev = H.make_events(r[:, 1].astype(int), r[:, 2].astype(int), r[:, 3].astype(int), r[:, 4:7],
                       step=r[:, 0].astype(int), timestep=0.01)
    return ev, frac, cell


def test_jump_classes_group_equivalent_jumps_of_a_crystal():
    ev, frac, cell = _fcc_octahedral_walk()
    t, N = 20.0, 10
    cl = H.jump_classes(ev)
    np.testing.assert_allclose(cl.length, [1 / np.sqrt(2), 1.0])
    cs = H.jump_class_rates(ev, N, t, site_frac=frac, cell=cell)
    long = np.arange(1, 2001) % 7 == 0
    assert cs.count.tolist() == [int((~long).sum()), int(long.sum())] and cs.unclassified == 0
    np.testing.assert_allclose(cs.multiplicity, [12, 6])            # fcc octahedral neighbours
    assert cs.multiplicity_source == "sites"
    np.testing.assert_allclose(cs.rate, cs.count / (N * t))
    np.testing.assert_allclose(cs.rate_per_direction, cs.count / (t * cs.n_participating * cs.multiplicity))
    assert cs.D.sum() == pytest.approx(H.jump_diffusivity(ev, N, t).D, rel=1e-12)
    # the per-pair view is kept and maps onto the classes
    js = H.jump_rates(ev, N, t)
    np.testing.assert_array_equal(js.pairs, cs.pairs)
    np.testing.assert_array_equal(np.bincount(cs.pair_class, weights=js.count), cs.count)
    # E_a per class: the per-direction rate of the class; one value per class
    nu = 1e3
    ea = H.activation_energies(ev, t, 600.0, nu, by="class", site_frac=frac, cell=cell)
    want = -KB * 600 * np.log(cs.count / (t * cs.n_participating * cs.multiplicity * nu))
    np.testing.assert_allclose(ea.Ea, want, rtol=1e-12)
    assert ea.by == "class" and len(ea.Ea) == 2
    # without site positions the multiplicity is what was observed (<= the geometric one)
    obs = H.jump_class_rates(ev, N, t)
    assert obs.multiplicity_source == "observed" and np.all(obs.multiplicity <= cs.multiplicity + 1e-12)
    # classes from one set of events label another (shared over a campaign); lengths within tolerance
    other, *_ = _fcc_octahedral_walk(seed=2, steps=300)
    lab = cl.assign(other)
    assert np.all(lab >= 0)
    far = H.make_events([1], [0], [1], [[0.6, 0, 0]], step=[1], timestep=1.0)   # 15 % off a/sqrt 2
    assert cl.assign(far).tolist() == [-1]
    # site kinds split a class by (origin kind, destination kind), with forward/backward asymmetry
    kind = np.arange(len(frac)) % 2
    eak = H.activation_energies(ev, t, 600.0, nu, by="class", site_frac=frac, cell=cell, site_kind=kind)
    assert len(eak.Ea) == 6 and len(eak.asymmetry) >= 1
    with pytest.raises(ValueError, match="by must be"):
        H.activation_energies(ev, t, 600.0, nu, by="type")


def _write_event_log(path, ev, natoms, step_first, step_last, dt, nevery, box):
    """An event log of fix hop/events (format '# ionsitu-hops 1') holding ``ev`` (site-free)."""
    import json

    meta = {"format": "ionsitu-hops", "version": 1, "producer": "test", "fix_id": "h", "group": "mobile",
            "mode": "free", "threshold": 0.5, "window": 5, "residence": 3, "nevery": nevery, "dt": dt, "units": "lj",
            "natoms": natoms, "nsamples": (step_last - step_first) // nevery + 1, "step_first": step_first,
            "step_last": step_last, "nhops": len(ev), "nhopped": int(len(np.unique(ev["atom_id"]))),
            "cell": [box, 0, 0, 0, box, 0, 0, 0, box], "origin": [0, 0, 0]}
    lines = ["# ionsitu-hops 1", "# meta " + json.dumps(meta), "# columns " + " ".join(H.EVENT_LOG_COLUMNS)]
    for e in ev:
        xyz = [repr(float(e[k])) for k in ("fx", "fy", "fz", "tx", "ty", "tz", "dx", "dy", "dz")]
        lines.append(" ".join([str(int(e["step"])), str(int(e["atom_id"])), "-1", "-1", *xyz,
                               str(int(e["step"]) - 100), str(int(e["step"]) - nevery), "0"]))
    path.write_text("\n".join(lines) + "\n")


def test_cli_reports_correlated_hops_with_their_chance_level(tmp_path, capsys):
    """`ionsitu hops`: observed, chance (± sd), excess and z of the module on the log's
    interval and sampling grid; the histogram observed vs chance; seeded."""
    import json

    from ionsitu.cli import main

    rng = np.random.default_rng(8)
    n_ions, box, nevery, dt, steps = 60, 15.0, 10, 0.005, 40_000
    homes = rng.random((n_ions, 3)) * box
    st, ids, mids = [], [], []
    for a in range(n_ions):
        for s in rng.integers(0, steps // nevery + 1, rng.poisson(8)) * nevery:
            st.append(s)
            ids.append(a)
            mids.append(homes[a] + rng.uniform(-0.5, 0.5, 3))
    for p in range(40):  # planted pairs
        s = int(rng.integers(0, steps // nevery + 1)) * nevery
        base = rng.random(3) * box
        st += [s, s]
        ids += [1000 + 2 * p, 1001 + 2 * p]
        mids += [base, base + [0.4, 0, 0]]
    d = np.tile([0.8, 0, 0], (len(st), 1))
    mids = np.array(mids)
    ev0 = H.make_events(ids, -1, -1, d, step=np.array(st) + 1000, timestep=dt, from_pos=mids - 0.5 * d,
                        to_pos=mids + 0.5 * d)
    _write_event_log(tmp_path / "hops.txt", ev0, n_ions + 80, 1000, 1000 + steps, dt, nevery, box)
    ev, meta = H.read_events(tmp_path / "hops.txt")
    assert main(["hops", str(tmp_path / "hops.txt"), "--corr-window", str(3 * nevery * dt), "--corr-cutoff", "2",
                 "--corr-random", "25", "--corr-seed", "5", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "chance level" in out and "excess" in out and "observed / chance" in out
    c = json.loads((tmp_path / "s.json").read_text())[str(tmp_path / "hops.txt")]["correlated"]
    ref = H.correlated_hops(ev, 3 * nevery * dt, 2.0, cell=np.diag([box] * 3), n_random=25, seed=5,
                            time_span=(1000 * dt, (1000 + steps) * dt), time_quantum=nevery * dt)
    assert c["fraction_collective"] == ref.fraction_collective
    assert c["chance_fraction"] == ref.chance.fraction_mean and c["chance_fraction_sd"] == ref.chance.fraction_sd
    assert c["excess_fraction"] == ref.chance.excess and c["z"] == ref.chance.z
    assert c["reference"]["time_quantum"] == pytest.approx(nevery * dt) and c["reference"]["n_random"] == 25
    assert c["reference"]["time_span"] == pytest.approx([1000 * dt, (1000 + steps) * dt])
    h2 = c["ions_per_event_chance"]["2"]
    assert h2["observed"] == ref.n_counts[1] and h2["chance_mean"] == ref.chance.n_counts_mean[1]
    # the planted pairs stand out: 80 of the hops collective beyond chance
    assert c["excess_fraction"] == pytest.approx(80 / len(ev) * (1 - c["chance_fraction"]), abs=0.03)
    assert c["z"] > 5


# ----------------------------------------------------------------- vectorised paths vs direct loops


def _random_site_events(n_sites=60, n_ev=800, seed=3, skew=True):
    """Events between random sites of a (skewed) cell, displacement = minimum image."""
    from ionsitu.io.cell import min_image_frac as _min_image_frac

    rng = np.random.default_rng(seed)
    cell = np.array([[6.0, 0, 0], [2.5 if skew else 0, 5.5, 0], [1.0 if skew else 0, -1.5 if skew else 0, 7.0]])
    frac = rng.random((n_sites, 3)) * 1.2 - 0.1          # some outside [0, 1): callers may pass them
    a = rng.integers(0, n_sites, n_ev)
    b = (a + rng.integers(1, 6, n_ev)) % n_sites
    d = _min_image_frac(frac[b] - frac[a], cell)
    ev = H.make_events(rng.integers(0, 40, n_ev), a, b, d, step=np.arange(n_ev) * 10, timestep=0.01)
    return ev, frac, cell, rng.integers(0, 2, n_sites)


def _multiplicity_loop(classes, sf, cell, kind, origins):
    """The direct definition: for each origin site, count the sites at a class distance."""
    from ionsitu.io.cell import min_image_frac as _min_image_frac

    z = np.zeros(len(classes))
    for i in range(len(classes)):
        org = origins[i]
        if kind is not None and classes.kinds[i, 0] >= 0:
            org = [s for s in range(len(sf)) if kind[s] == classes.kinds[i, 0]] or org
        if not len(org):
            continue
        thr = classes._thr(classes.length_max[i])
        tot = 0
        for s in org:
            d = np.linalg.norm(_min_image_frac(sf - sf[s], cell), axis=1)
            ok = (d >= classes.length_min[i] - thr) & (d <= classes.length_max[i] + thr)
            ok[s] = False
            if kind is not None and classes.kinds[i, 1] >= 0:
                ok &= kind == classes.kinds[i, 1]
            tot += int(ok.sum())
        z[i] = tot / len(org)
    return z


@pytest.mark.parametrize("skew", [True, False])
def test_class_rates_equal_the_direct_loops(skew):
    """Multiplicity (k-d tree over periodic images), classes, participating ions: the same
    numbers as the per-site and per-class loops that define them."""
    ev, frac, cell, kind = _random_site_events(skew=skew)
    for sk in (None, kind):
        cl = H.jump_classes(ev, rel_tol=0.02, site_kind=sk)
        assert len(cl) > 3
        cs = H.jump_class_rates(ev, 40, 8.0, classes=cl, site_frac=frac, cell=cell, site_kind=sk)
        key = {(int(c), int(a), int(b)): i for i, (c, (a, b)) in enumerate(zip(cl.cluster, cl.kinds))}
        ka, kb = _kinds(ev, sk)
        lab = [key.get((int(c), int(a), int(b)), -1)
               for c, a, b in zip(cl.length_cluster(np.linalg.norm(_disp(ev), axis=1)), ka, kb)]
        np.testing.assert_array_equal(cs.label, lab)
        origins = [np.unique(ev["from_site"][cs.label == i]).tolist() for i in range(len(cl))]
        want = _multiplicity_loop(cl, frac, cell, sk, origins)
        assert want.max() > 1
        np.testing.assert_array_equal(cs.multiplicity, want)
        np.testing.assert_array_equal(cs.n_participating,
                                      [len(np.unique(ev["atom_id"][cs.label == i])) for i in range(len(cl))])
    js = H.jump_rates(ev, 40, 8.0)
    _, inv = _jump_types(ev)
    np.testing.assert_array_equal(js.n_participating,
                                  [len(np.unique(ev["atom_id"][inv == i])) for i in range(len(js.pairs))])


def test_event_log_reader_fast_path_and_errors(tmp_path):
    """The C parser gives what float() gives; a bad line is still named."""
    ev, frac, cell, _ = _random_site_events(n_ev=50)
    _write_event_log(tmp_path / "hops.txt", ev, 40, 0, 10_000, 0.01, 10, 6.0)
    text = (tmp_path / "hops.txt").read_text().splitlines()
    rows = np.array([[float(v) for v in line.split()] for line in text[3:]])
    got, _ = H.read_events(tmp_path / "hops.txt")
    assert got.tobytes() == H.events_from_core(rows, 0.01).tobytes()
    for bad, msg in ((text[7] + " 1", "bad.txt:8: expected 16 values, found 17"),
                     (text[7].replace(" 0", " x", 1), "bad.txt:8: bad number")):
        (tmp_path / "bad.txt").write_text("\n".join(text[:7] + [bad] + text[8:]) + "\n")
        with pytest.raises(ValueError, match=msg):
            H.read_events(tmp_path / "bad.txt")


def test_one_attempt_frequency_default_for_every_hop_summary():
    # given (override), else the run's VDOS, else 1e13 Hz in the run's time unit; none in lj
    assert H.attempt_frequency("metal") == (pytest.approx(10.0), "default 1e+13 Hz", None)
    assert H.attempt_frequency("real")[0] == pytest.approx(1e-2)
    assert H.attempt_frequency("metal", 3.0)[:2] == (3.0, "given")
    assert H.attempt_frequency("lj")[0] is None
    # never the Arrhenius prefactor of the hop rate (circular): no such argument any more
    with pytest.raises(TypeError):
        H.attempt_frequency("lj", rates_by_T={0.5: 1.0, 0.7: 2.0})
    # correlated hops: 1/nu* only when nu* is given, else 5 samples; 10 A (3 sigma_LJ in lj)
    assert H.correlation_defaults("metal", 10, 0.001)[0::2] == (pytest.approx(0.05), pytest.approx(10.0))
    assert H.correlation_defaults("metal", 10, 0.001, attempt_frequency=40.0)[0] == pytest.approx(0.025)
    assert H.correlation_defaults("lj", 10, 0.002)[2] == 3.0


def _atom_vacf(units, nu_per_ion, dt=0.002, nlags=400, types=None):
    """Per-atom VACFs cos(2 pi nu_i t) exp(-(t/tau)^2) at lags k dt (time unit of ``units``)."""
    from ionsitu.analysis.vibrations import AtomVACF

    t = np.arange(nlags) * dt
    tau = 0.25 * t[-1]
    vacf = np.cos(2 * np.pi * np.asarray(nu_per_ion)[:, None] * t) * np.exp(-(t / tau) ** 2)
    n = len(nu_per_ion)
    return AtomVACF({"units": units, "nevery": 1, "dt": dt}, np.arange(1, n + 1),
                    np.ones(n, int) if types is None else np.asarray(types), vacf)


def test_attempt_frequency_from_the_vdos_of_the_run_sets_the_jump_Ea():
    from ionsitu.analysis.vibrations import attempt_frequency as vdos_nu

    nus = np.array([3.0, 3.5, 4.0, 4.5])     # 1/ps
    atoms = _atom_vacf("metal", nus)
    af = vdos_nu(atoms)
    nu, src, got = H.attempt_frequency("metal", vacf_atoms=atoms)
    assert nu == pytest.approx(af.mean, rel=1e-12)      # metal: THz = 1/ps, the run's 1/time
    assert got is not None and got.n == 4 and src.startswith("VDOS of the run")
    assert nu == pytest.approx(nus.mean(), rel=0.05) and got.sd == pytest.approx(nus.std(ddof=1), rel=0.1)
    # real units: 1/fs = 1000 THz
    nu_r, _, _ = H.attempt_frequency("real", vacf_atoms=_atom_vacf("real", nus * 1e-3, dt=2.0))
    assert nu_r == pytest.approx(vdos_nu(_atom_vacf("real", nus * 1e-3, dt=2.0)).mean * 1e-3, rel=1e-12)
    # a given one overrides; other units are refused
    assert H.attempt_frequency("metal", 7.0, vacf_atoms=atoms)[:2] == (7.0, "given")
    with pytest.raises(ValueError, match="units 'metal'.*'real'"):
        H.attempt_frequency("real", vacf_atoms=atoms)
    # E_a,i = -kB T ln(J_i/(t N_i nu*)) with N_i the ions that made jump type i (seed 000)
    disp = np.array([[1, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0]], float)
    frm = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0]], float)
    ev = H.make_events([1, 2, 1, 3], [0, 0, 1, 1], [1, 1, 0, 2], disp, time=[1.0, 2.0, 3.0, 4.0],
                       from_pos=frm, to_pos=frm + disp)
    meta = {"units": "metal", "natoms": 10, "mode": "sites", "step_first": 0, "step_last": 10000, "dt": 0.001,
            "nevery": 10, "threshold": None, "cell": (10.0 * np.eye(3)).ravel().tolist()}
    t = H.observed_time(meta)
    s = H.hop_summary(ev, meta, temperature=500.0, vacf_atoms=atoms, corr_random=0)
    assert s.attempt_frequency == pytest.approx(af.mean, rel=1e-12) and s.attempt_frequency_vdos.n == 4
    want = {(0, 1): 2 / (t * 2), (1, 0): 1 / (t * 1), (1, 2): 1 / (t * 1)}
    got_ea = {tuple(p): e for p, e in zip(s.Ea_pair.pairs.tolist(), s.Ea_pair.Ea)}
    assert set(got_ea) == set(want)
    for k, x in want.items():
        assert got_ea[k] == pytest.approx(-KB * 500.0 * np.log(x / af.mean), rel=1e-12), k
    n_i = {tuple(p): n for p, n in zip(s.Ea_pair.pairs.tolist(), s.Ea_pair.n_ions_used)}
    assert n_i == {(0, 1): 2.0, (1, 0): 1.0, (1, 2): 1.0}
    # the default would shift every E_a by kB T ln(1e13 Hz / nu*)
    s0 = H.hop_summary(ev, meta, temperature=500.0, corr_random=0)
    np.testing.assert_allclose(s0.Ea_pair.Ea - s.Ea_pair.Ea, KB * 500.0 * np.log(10.0 / af.mean), rtol=1e-9)

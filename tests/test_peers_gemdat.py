"""Side by side with GEMDAT (gemdat on PyPI): the same planted trajectory and the same sites.

A simple-cubic lattice of 64 sites (a = 2.5 Å, 10 Å cell), 8 Li ions vibrating (σ = 0.1 Å)
about their sites and hopping to free nearest-neighbour sites at random frames. GEMDAT's
``transitions_between_sites`` + ``jumps`` and ionsitu's site-based detector (the core of
``fix hop/events``, r_in = r_out = GEMDAT's site radius) must find the same hops (ion,
origin, destination, arrival frame), the same jump rates per jump type, the same jump
diffusivity and the same residence times. How the definitions differ (GEMDAT's residence
is on the destination, ionsitu's on the origin; GEMDAT's total time counts frames, not
intervals; jump types by site label vs by site index) is in docs/hops_peers.md.
"""

import numpy as np
import pytest

gemdat = pytest.importorskip("gemdat")
pymatgen_core = pytest.importorskip("pymatgen.core")

from ionsitu.analysis import hops as H  # noqa: E402
from ionsitu.core import hops_from_frames  # noqa: E402

L, N_SIDE, N_IONS, N_FRAMES, DT_PS, SITE_RADIUS = 10.0, 4, 8, 3000, 0.01, 0.8


def _planted(seed=2):
    rng = np.random.default_rng(seed)
    grid = np.array([[i, j, k] for i in range(N_SIDE) for j in range(N_SIDE) for k in range(N_SIDE)])
    site_frac = (grid + 0.5) / N_SIDE
    site = rng.choice(len(grid), N_IONS, replace=False)
    occupied = set(site.tolist())
    nbr = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    pos = np.empty((N_FRAMES, N_IONS, 3))
    for t in range(N_FRAMES):
        for i in range(N_IONS):
            if t > 0 and rng.random() < 0.01:
                g = (grid[site[i]] + nbr[rng.integers(6)]) % N_SIDE
                s2 = int(g[0] * N_SIDE**2 + g[1] * N_SIDE + g[2])
                if s2 not in occupied:
                    occupied.discard(int(site[i]))
                    occupied.add(s2)
                    site[i] = s2
            pos[t, i] = site_frac[site[i]] * L + rng.normal(0, 0.1, 3)
    return pos, site_frac, grid


@pytest.fixture(scope="module")
def both():
    from gemdat import Trajectory
    from pymatgen.core import Element, Lattice, Structure

    pos, site_frac, grid = _planted()
    cell = np.eye(3) * L
    # two site labels (checkerboard): every nearest-neighbour hop is A->B or B->A
    label = np.where(grid.sum(axis=1) % 2 == 0, "Li", "Na")
    traj = Trajectory(species=[Element("Li")] * N_IONS, coords=pos / L % 1.0, lattice=Lattice(cell),
                      time_step=DT_PS * 1e-12, coords_are_displacement=False)
    sites = Structure(Lattice(cell), label.tolist(), site_frac)
    trans = traj.transitions_between_sites(sites=sites, floating_specie="Li", site_radius=SITE_RADIUS)
    jumps = trans.jumps()
    ev, _ = hops_from_frames(pos, np.arange(N_FRAMES), sites=site_frac, r_in=SITE_RADIUS, r_out=SITE_RADIUS,
                             residence=1, cells=cell, timestep=DT_PS)
    return dict(traj=traj, jumps=jumps, ev=ev, label=label, site_frac=site_frac)


def test_same_hops_as_gemdat(both):
    ev, df = both["ev"], both["jumps"].data
    assert len(ev) == len(df) > 100
    ours = sorted(zip((ev["atom_id"] - 1).tolist(), ev["from_site"].tolist(), ev["to_site"].tolist(),
                      ev["step"].tolist()))
    theirs = sorted(zip(df["atom index"].tolist(), df["start site"].tolist(), df["destination site"].tolist(),
                        df["stop time"].tolist()))
    assert ours == theirs


def test_same_rates_and_jump_diffusivity_as_gemdat(both):
    ev, jumps, label = both["ev"], both["jumps"], both["label"]
    total_time_ps = N_FRAMES * DT_PS          # GEMDAT's total time: frames x time step
    js = H.jump_rates(ev, N_IONS, total_time_ps)
    rates = jumps.rates()                      # 1/s per (label, label), mean over 10 parts
    assert {("Li", "Na"), ("Na", "Li")} <= set(rates.index.tolist())
    assert rates.loc[[("Li", "Na"), ("Na", "Li")], "rates"].min() > 0 and rates["rates"].sum() > 0
    for (a, b), row in rates.iterrows():
        ours = js.rate[(label[js.pairs[:, 0]] == a) & (label[js.pairs[:, 1]] == b)].sum() * 1e12
        assert ours == pytest.approx(row["rates"], rel=1e-12)
    jd = H.jump_diffusivity(ev, N_IONS, total_time_ps)   # Å²/ps; GEMDAT: m²/s
    assert jd.D * 1e-20 / 1e-12 == pytest.approx(float(jumps.jump_diffusivity(3)), rel=1e-10)


def test_same_residence_times_as_gemdat(both):
    """GEMDAT's residence_time of a jump is the time spent on its destination (to the next
    jump, or the end); ionsitu's ``residence`` is the time on the origin (from the arrival
    there). So ionsitu's residence of an ion's jump k+1 = GEMDAT's of its jump k."""
    ev, df = both["ev"], both["jumps"].data
    n = 0
    for i in range(N_IONS):
        ours = ev[ev["atom_id"] == i + 1]
        theirs = df[df["atom index"] == i].sort_values("stop time")
        np.testing.assert_allclose(ours["residence"][1:] / DT_PS, theirs["residence_time"].to_numpy()[:-1],
                                   atol=1e-9)
        n += len(ours) - 1
    assert n > 90


def test_same_site_assignment_as_site_analysis(both):
    """site-analysis (spherical sites, the same centres and radius) against ionsitu's site of
    each ion per frame (:func:`ionsitu.analysis.hops.site_trajectory` of the detected hops,
    the first frame's site from the nearest centre, minimum image), on the first 600 frames."""
    sa = pytest.importorskip("site_analysis")
    from pymatgen.core import Lattice, Structure

    from ionsitu.io.cell import min_image_frac

    pos, site_frac = _planted()[0][:600], both["site_frac"]
    cell = np.eye(3) * L
    structs = [Structure(Lattice(cell), ["Li"] * N_IONS, p / L % 1.0) for p in pos]
    tr = sa.create_trajectory_with_spherical_sites(structs[0], "Li", site_frac.tolist(), SITE_RADIUS)
    tr.trajectory_from_structures(structs)
    theirs = np.array(tr.atoms_trajectory)                       # (frames, ions), site index
    d = min_image_frac(pos[0][:, None, :] / L - site_frac[None], cell)
    first = np.argmin(np.sum(d * d, axis=2), axis=1)
    ours = H.site_trajectory(both["ev"], np.arange(1, N_IONS + 1), np.arange(600) * DT_PS, initial_sites=first)
    assert theirs.shape == ours.shape == (600, N_IONS)
    assert np.array_equal(ours, theirs)
    assert len(np.unique(ours)) > N_IONS                          # the ions moved

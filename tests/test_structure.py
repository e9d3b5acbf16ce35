"""[analysis.rdf] and [analysis.doas]: LAMMPS's compute rdf / fix ave/time and compute pe/atom /
fix ave/histo as the campaign writes them, read by ionsitu.io.lammps_ave and analysed by
ionsitu.analysis.structure, against numpy on the dumped positions (1 and 2 ranks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ionsitu.analysis import structure as S
from ionsitu.campaign.analyses import ANALYSES
from ionsitu.io.lammps_ave import read_ave_histo, read_ave_time_vector
from lammps_helpers import read_dump, run_lmp

LJ_2TYPES = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 4 0 4 0 4
create_box 2 box
create_atoms 1 box
set type 1 type/fraction 2 0.25 4242
mass * 1.0
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
velocity all create {T} 87287 loop geom
fix md all nvt temp {T} {T} 0.1
group ionsitu_mobile type 2
"""


def numpy_rdf(pos, types, L, pairs, r_max, bins):
    """g(r) and the cumulative coordination of compute rdf (its normalisation: N_j - 1 partners for
    i == j, shell volumes of the bins), from positions of one frame in a cubic box of edge L."""
    d = pos[:, None, :] - pos[None, :, :]
    d -= L * np.round(d / L)
    r = np.sqrt((d ** 2).sum(-1))
    dr = r_max / bins
    edges = np.arange(bins + 1) * dr
    shell = 4.0 * np.pi / 3.0 * (edges[1:] ** 3 - edges[:-1] ** 3) / L ** 3
    g, c = [], []
    for a, b in pairs:
        ia, ib = types == a, types == b
        rr = r[np.ix_(ia, ib)]
        if a == b:
            rr = rr[~np.eye(ia.sum(), dtype=bool)]
        k = np.floor(rr[rr < r_max] / dr).astype(int)
        hist = np.bincount(k[k < bins], minlength=bins).astype(float)
        partners = ib.sum() - (1 if a == b else 0)
        g.append(hist / (shell * partners * ia.sum()))
        c.append(np.cumsum(hist) / ia.sum())
    return np.array(g), np.array(c)


def rdf_script(tmp: Path, T, steps, cfg, dump_every):
    cmds = ANALYSES["rdf"].commands(cfg, {}, tmp)
    return (LJ_2TYPES.format(T=T) + "\n".join(cmds) +
            f"\ndump d all custom {dump_every} dump.txt id type x y z\ndump_modify d sort id format float %.17g\n"
            f"run {steps}\n")


@pytest.mark.parametrize("nprocs", [1, 2])
def test_rdf_equals_numpy_rdf_of_the_dumped_positions(tmp_path, nprocs):
    cfg = {"pairs": [[1, 1], [1, 2], [2, 2]], "r_max": 2.4, "bins": 48, "nevery": 20, "block": 100}
    run_lmp(tmp_path, rdf_script(tmp_path, 1.5, 300, cfg, 20), nprocs=nprocs)
    blocks = read_ave_time_vector(tmp_path / "rdf.dat")
    np.testing.assert_array_equal(blocks.steps, [100, 200, 300])
    frames, names, steps = read_dump(tmp_path / "dump.txt")
    L = (4 / 0.8442) ** (1 / 3) * 4
    ref = [numpy_rdf(f[:, 2:5], f[:, 1].astype(int), L, cfg["pairs"], cfg["r_max"], cfg["bins"]) for f in frames]
    nrep = cfg["block"] // cfg["nevery"]
    for b, step in enumerate(blocks.steps):
        sel = [k for k, s in enumerate(steps) if step - cfg["block"] < s <= step]
        assert len(sel) == nrep
        g = np.mean([ref[k][0] for k in sel], axis=0)
        c = np.mean([ref[k][1] for k in sel], axis=0)
        np.testing.assert_allclose(blocks.rows[b, :, 1::2].T, g, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(blocks.rows[b, :, 2::2].T, c, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(blocks.rows[b, :, 0], (np.arange(cfg["bins"]) + 0.5) * cfg["r_max"] / cfg["bins"],
                                   rtol=1e-12)
    run = S.rdf_from_blocks(blocks.rows)
    np.testing.assert_allclose(run.g, blocks.rows[:, :, 1::2].mean(0).T, rtol=1e-12)
    np.testing.assert_allclose(run.g_err, blocks.rows[:, :, 1::2].std(0, ddof=1).T / np.sqrt(3), rtol=1e-12, atol=1e-15)
    assert run.n_blocks == [3]


def test_first_shell_of_an_fcc_crystal_has_12_neighbours(tmp_path):
    cfg = {"pairs": [[1, 1], [2, 2]], "r_max": 2.0, "bins": 80, "nevery": 10, "block": 50}
    script = rdf_script(tmp_path, 0.02, 100, cfg, 1000).replace("set type 1 type/fraction 2 0.25 4242", "")
    run_lmp(tmp_path, script)
    run = S.rdf_from_blocks(read_ave_time_vector(tmp_path / "rdf.dat").rows)
    kT = 0.02
    shell = S.first_shell(run.r, run.g[0], run.coord[0], kT)
    assert shell.n == pytest.approx(12.0, abs=1e-12)
    a = (4 / 0.8442) ** (1 / 3)
    assert abs(shell.r_peak - a / np.sqrt(2)) < 2 * cfg["r_max"] / cfg["bins"]
    assert shell.g_min == 0.0 and shell.barrier is None           # nobody leaves the shell of a crystal
    W = S.potential_of_mean_force(run.g[0], kT)
    assert np.isnan(W[run.g[0] == 0]).all() and np.nanmin(W) == pytest.approx(-kT * np.log(run.g[0].max()))
    with pytest.raises(ValueError, match="no first shell"):      # type 2 has no atoms: g = 0
        S.first_shell(run.r, run.g[1], run.coord[1], kT)


def test_first_shell_barrier_of_a_liquid_is_kT_ln_of_the_peak_over_the_minimum():
    r = np.linspace(0.05, 3.0, 60)
    g = 1 + 1.5 * np.exp(-((r - 1.1) / 0.15) ** 2) - 0.6 * np.exp(-((r - 1.55) / 0.2) ** 2)
    g[r < 0.8] = 0.0
    coord = np.cumsum(g) * 0.1
    s = S.first_shell(r, g, coord, 1.3)
    ip, im = int(np.argmax(g)), int(np.argmin(np.where(r > 1.1, g, np.inf)))
    assert (s.r_peak, s.r_min, s.n) == (r[ip], r[im], coord[im])
    assert s.barrier == pytest.approx(1.3 * np.log(g[ip] / g[im]), rel=1e-14)
    W = S.potential_of_mean_force(g, 1.3)
    assert s.barrier == pytest.approx(W[im] - W[ip], rel=1e-12)


def test_replica_average_and_error():
    rng = np.random.default_rng(1)
    runs = [S.rdf_from_blocks(np.concatenate([np.tile(np.arange(5.0)[None, :, None], (4, 1, 1)),
                                              rng.random((4, 5, 4))], axis=2)) for _ in range(3)]
    avg = S.average_rdfs(runs)
    g = np.array([x.g for x in runs])
    np.testing.assert_allclose(avg.g, g.mean(0), rtol=1e-14)
    np.testing.assert_allclose(avg.g_err, g.std(0, ddof=1) / np.sqrt(3), rtol=1e-14)
    assert avg.n_replicas == 3 and avg.g.shape == (2, 5)
    with pytest.raises(ValueError, match="replica 1: bins or pairs differ"):
        S.average_rdfs([runs[0], S.rdf_from_blocks(np.ones((2, 6, 3)))])


def test_repeated_blocks_of_a_resumed_run_are_taken_once(tmp_path):
    """A resumed member appends the blocks after its restart again: the last copy is kept, a block
    cut short by a kill is dropped."""
    p = tmp_path / "rdf.dat"
    head = "# Time-averaged data for fix x\n# TimeStep Number-of-rows\n# Row c_r[1] c_r[2] c_r[3]\n"
    blk = lambda s, v: f"{s} 2\n1 0.5 {v} 1\n2 1.5 {v + 1} 2\n"  # noqa: E731
    p.write_text(head + blk(100, 1.0) + blk(200, 2.0) + "300 2\n1 0.5 9 9\n" + head + blk(200, 2.0) + blk(300, 3.0))
    b = read_ave_time_vector(p)
    np.testing.assert_array_equal(b.steps, [100, 200, 300])
    np.testing.assert_array_equal(b.rows[:, 0, 1], [1.0, 2.0, 3.0])
    assert b.columns == ["c_r[1]", "c_r[2]", "c_r[3]"]
    with pytest.raises(FileNotFoundError, match="fix ave/histo file not found"):
        read_ave_histo(tmp_path / "none.dat")


# ---------------------------------------------------------------------------------------- DOAS
from ionsitu.analysis import doas as D  # noqa: E402


def test_doas_histograms_equal_numpy_histograms_of_the_dumped_energies(tmp_path):
    """fix ave/histo of compute pe/atom per type (the commands of [analysis.doas]) = numpy on the
    per-atom energies dumped at the same steps; the offline path (ionsitu.analysis.doas.histogram)
    gives the same counts."""
    cfg = {"types": [1, 2], "range": [-7.0, -4.5], "bins": 25, "nevery": 10, "block": 50}
    cmds = ANALYSES["doas"].commands(cfg, {}, tmp_path)
    script = (LJ_2TYPES.format(T=1.2) + "group ionsitu_mobile type 1 2\n" + "\n".join(cmds) +
              "\ndump d all custom 10 dump.txt id type c_ionsitu_doas x y z\ndump_modify d sort id format float %.17g\n"
              "run 150\n")
    run_lmp(tmp_path, script)
    frames, names, steps = read_dump(tmp_path / "dump.txt")
    for t in (1, 2):
        h = read_ave_histo(tmp_path / f"doas_t{t}.dat")
        np.testing.assert_array_equal(h.steps, [50, 100, 150])
        assert h.counts.shape == (3, 27) and (h.missing == 0).all()
        for b, step in enumerate(h.steps):
            sel = [k for k, s in enumerate(steps) if step - 50 < s <= step]
            e = np.concatenate([frames[k][frames[k][:, 1] == t, 2] for k in sel])
            np.testing.assert_array_equal(h.counts[b], D.histogram(e, -7.0, -4.5, 25))
            assert h.total[b] == len(e)
        d = D.doas_from_counts(h.counts, -7.0, -4.5)
        assert d.density.sum() * d.de + d.below + d.above == pytest.approx(1.0, rel=1e-12)
        e_all = np.concatenate([frames[k][frames[k][:, 1] == t, 2] for k in range(1, len(steps))])
        inr = e_all[(e_all >= -7.0) & (e_all <= -4.5)]
        assert abs(d.mean - inr.mean()) < d.de / 2 and d.width == pytest.approx(inr.std(), abs=d.de)
    assert D.overlap(d, d) == pytest.approx(1.0 - d.below - d.above, rel=1e-12)
    # offline: the same DOAS from the dumped energies (frames of the histogrammed steps)
    off = D.doas_from_dump(tmp_path / "dump.txt", [1, 2], -7.0, -4.5, 25, column="c_ionsitu_doas", min_step=10,
                           blocks=3)
    for t in (1, 2):
        d = D.doas_from_counts(read_ave_histo(tmp_path / f"doas_t{t}.dat").counts, -7.0, -4.5)
        np.testing.assert_array_equal(off[t].density, d.density)
        assert (off[t].mean, off[t].mean_err, off[t].n_values) == (d.mean, d.mean_err, d.n_values)
    with pytest.raises(ValueError, match="missing column 'c_pe'"):
        D.doas_from_dump(tmp_path / "dump.txt", [1], -7.0, -4.5, 25)


def test_per_atom_energies_sum_to_the_potential_energy_deepmd():
    """pair_style deepmd fills compute pe/atom: their sum is the total energy of the model (in a
    subprocess: loading DeePMD changes the environment of the process)."""
    import subprocess
    import sys

    ex = Path(__file__).resolve().parents[1] / "examples" / "dpmd"
    code = f"""
import numpy as np, ionsitu
lmp = ionsitu.lammps_instance(deepmd=True)
for c in ("units metal", "atom_style atomic", "boundary p p p", 'read_data "{ex / "data.fwli"}"',
          'pair_style deepmd "{ex / "model1.pb"}"', "pair_coeff * * Fw Li",
          "compute a all pe/atom", "compute t all pe", "thermo_style custom step c_t", "run 0"):
    lmp.command(c)
e = np.array(lmp.numpy.extract_compute("a", 1, 1))[: lmp.extract_global("nlocal")]
print("SUM", repr(float(e.sum())), repr(float(lmp.numpy.extract_compute("t", 0, 0))), int((e != 0).sum()))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s, tot, nonzero = next(ln for ln in proc.stdout.splitlines() if ln.startswith("SUM")).split()[1:]
    assert float(s) == pytest.approx(float(tot), rel=1e-10) and float(tot) != 0.0 and int(nonzero) == 320


def test_onset_temperature_of_a_kinked_mean_energy():
    T = np.array([300.0, 400, 500, 600, 700, 800, 900, 1000])
    E = np.where(T < 620, -2.0 + 1e-4 * (T - 620), -2.0 + 5e-4 * (T - 620))
    fit = D.onset_temperature(T, E + np.array([1, -1, 1, -1, 1, -1, 1, -1]) * 1e-6)
    assert fit.x_c == pytest.approx(620, abs=5) and fit.preferred == "two"
    assert fit.x_c_range[0] <= fit.x_c <= fit.x_c_range[1]
    v, lo, hi = fit.extrapolate_low(250.0)
    assert lo < v < hi and v == pytest.approx(-2.0 + 1e-4 * (250 - 620), abs=1e-5)
    with pytest.raises(ValueError, match="need 5 points"):
        D.onset_temperature(T[:4], E[:4])


# ------------------------------------------------------------------------------- quenched DOAS
CRYSTAL = '''
[system]
commands = """
lattice         fcc 1.05
region          box block 0 3 0 3 0 3
create_box      2 box
create_atoms    1 box
set             type 1 type/fraction 2 0.25 4242
"""
masses = { 1 = 1.0, 2 = 1.0 }
'''
CRYSTAL_PAIR = '''
[potential]
pair = """
pair_style      lj/cut 2.5
pair_coeff      * * 1.0 1.0 2.5
pair_modify     shift yes
"""
'''


def test_quenched_energies_of_a_crystal_equal_the_minimised_lattice_energy(tmp_path):
    """A cold fcc crystal, snapshots every 1000 steps quenched after the production run (2 ranks):
    every per-atom energy is the per-atom energy of the minimised perfect lattice."""
    import json

    import ionsitu
    from ionsitu.io.quench import quenched_files, read_quenched
    from test_campaign import EQ, campaign_toml, run_campaign

    extra = "[analysis.doas]\nrange = [-9.0, -6.0]\nbins = 30\nnevery = 100\nquench_every = 1000\nquench_ftol = 1e-10\n"
    (tmp_path / "campaign.toml").write_text(campaign_toml(temps=(0.05,), replicas=1, prod=2000, system=CRYSTAL,
                                                          potential=CRYSTAL_PAIR, analyses=extra))
    proc = run_campaign(tmp_path / "campaign.toml", args=["--ranks-per-run", "2"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lmp = ionsitu.lammps_instance()
    try:
        lmp.commands_string(CRYSTAL.split('"""')[1] + "mass * 1.0\n" + CRYSTAL_PAIR.split('"""')[1] +
                            "compute pe all pe/atom\nminimize 0 1e-12 1000 10000\nrun 0\n")
        e0 = np.array(lmp.numpy.extract_compute("pe", 1, 1))[: lmp.extract_global("nlocal")]
    finally:
        lmp.close()
    assert np.ptp(e0) < 1e-12
    member = tmp_path / "out" / "T0.05" / "r0"
    files = quenched_files(member)
    assert [read_quenched(p)["step"] for p in files] == [EQ, EQ + 1000, EQ + 2000]
    for p in files:
        q = read_quenched(p)
        assert len(q["energies"]) == 108 and q["meta"]["ftol"] == 1e-10
        np.testing.assert_allclose(q["energies"], e0[0], rtol=1e-9)
        assert q["meta"]["pe_total"] == pytest.approx(q["energies"].sum(), rel=1e-12)
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    qd = rep["doas"]["temperatures"][0]["quenched"]["2"]
    assert qd["n_snapshots"] == 3 and qd["mean"] == pytest.approx(e0[0], abs=qd["de"] / 2)
    assert qd["width"] < rep["doas"]["temperatures"][0]["types"]["2"]["width"]   # thermal noise removed
    # resumable: a quench lost to a kill is redone, the others are kept as they are
    from ionsitu.campaign import Campaign

    camp = Campaign.from_toml(tmp_path / "campaign.toml")
    a, cfg = camp.analyses["doas"]
    lost = files[1]
    before = read_quenched(lost)["energies"]
    kept = {p: p.stat().st_mtime_ns for p in files if p != lost}
    lost.unlink()
    setup = camp._system_commands() + camp._potential_commands(None, 1) + camp._extra_commands()
    a.finish(cfg, camp.conf, member, lambda: camp._new_lammps(None, None), setup, None)
    assert quenched_files(member) == files and {p: p.stat().st_mtime_ns for p in kept} == kept
    np.testing.assert_allclose(read_quenched(lost)["energies"], before, rtol=1e-12)


def test_missing_per_atom_energies_are_an_error():
    """The check [analysis.doas] makes at the start of production: the sum of pe/atom equals pe (LJ),
    else a clear error (here fix spring adds energy to pe that no atom carries)."""
    import ionsitu
    from ionsitu.campaign.analyses import check_per_atom_energies

    lmp = ionsitu.lammps_instance()
    try:
        lmp.commands_string(LJ_2TYPES.format(T=1.0))
        s, tot = check_per_atom_energies(lmp)
        assert s == pytest.approx(tot, rel=1e-12) and tot < 0
        lmp.commands_string("displace_atoms ionsitu_mobile move 0.3 0 0\n"
                            "fix sp ionsitu_mobile spring tether 50.0 0.0 0.0 0.0 0.0\nfix_modify sp energy yes")
        with pytest.raises(ValueError, match=r"sum of compute pe/atom \(.*\) differs from the potential energy"):
            check_per_atom_energies(lmp)
    finally:
        lmp.close()

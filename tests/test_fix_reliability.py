"""Bad inputs of the three fixes in real LAMMPS: restart records that refuse changed
arguments, integer limits, schedule checks, empty selections, output files (duplicates,
unwritable paths at setup, write errors on every rank of a 2-rank run)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ionsitu.io.sites import sites_from_array, write_sites
from lammps_helpers import BASE_LJ, MPIRUN, lammps_error, run_lmp

# 3x3x3 fcc (108 atoms, box 5.0): ions 1..27 are type 2 ("mobile"), the rest type 1 ("host");
# "other" has as many atoms as "mobile", but other ones.
SYSTEM = BASE_LJ + """
group mobile id 1:27
set group mobile type 2
group host type 1
group other id 28:54
group none type 3
"""

MSD = "fix m mobile msd/cross 2 block 4 levels 3 drift host charges 2 1.0"
MSD_PLAIN = "fix m2 mobile msd/cross 2"
OCC = "fix o mobile occupancy/grid 2 grid 4 4 4 types 2 start 0 stop 1000"
OCC_SPACING = "fix o2 all occupancy/grid 2 spacing 0.8"
FREE = "fix h mobile hop/events 2 free 0.5 3 residence 2"
SITES = "fix s mobile hop/events 2 sites {sites}/a.txt 0.3 0.6"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One restart file holding a record of each fix (defined as above, 10 steps run)."""
    d = tmp_path_factory.mktemp("restart")
    grid = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)]) / 2.0
    for name, shift in (("a", 0.25), ("b", 0.3)):
        write_sites(d / f"{name}.txt", sites_from_array(grid + shift, np.eye(3) * 5.04, fractional=True, units="lj"))
    fixes = "\n".join([MSD, MSD_PLAIN, OCC, OCC_SPACING, FREE, SITES.format(sites=d)])
    run_lmp(d, SYSTEM + fixes + "\nrun 10\nwrite_restart r.restart\n")
    return d


def after_restart(d, line):
    return lammps_error(f"read_restart {d}/r.restart\n{line}\nrun 0")    # groups come from the file


CHANGED = [
    # (fix line after read_restart, expected text)
    (MSD.replace("msd/cross 2", "msd/cross 4"), "Nevery was 2 when the restart file was written, now 4"),
    (MSD.replace("block 4", "block 5"), "block was 4 when the restart file was written, now 5"),
    (MSD.replace("levels 3", "levels 2"), "levels was 3 when the restart file was written, now 2"),
    (MSD.replace("drift host", "drift all"), "drift was host when the restart file was written, now all"),
    (MSD.replace("drift host", "drift none"), "drift was host when the restart file was written, now none"),
    (MSD.replace(" charges 2 1.0", ""), "charges was 2 1 when the restart file was written, now (none)"),
    (MSD.replace("charges 2 1.0", "charges 2 2.0"), "charges was 2 1 when the restart file was written, now 2 2"),
    (MSD_PLAIN + " charges 2 1.0", "charges was (none) when the restart file was written, now 2 1"),
    (MSD.replace("m mobile", "m other"), "group was mobile when the restart file was written, now other"),
    ("group mobile delete\ngroup mobile id 28:54\n" + MSD, "group atom-ID checksum was"),
    ("group host delete\ngroup host id 100:108\n" + MSD, "group host atoms was 81 when the restart file was written, now 9"),
    ("timestep 0.001\n" + MSD, "timestep was 0.005 when the restart file was written, now 0.001"),
    ("timestep 0.001\n" + FREE, "timestep was 0.005 when the restart file was written, now 0.001"),
    (OCC.replace("grid 2", "grid 1"), "Nevery was 2 when the restart file was written, now 1"),
    (OCC.replace("grid 4 4 4", "grid 5 4 4"), "grid was 4 4 4 when the restart file was written, now 5 4 4"),
    (OCC.replace(" types 2", ""), "types was 2 when the restart file was written, now (all atoms of the group)"),
    (OCC.replace("start 0", "start 4"), "start was 0 when the restart file was written, now 4"),
    (OCC.replace("stop 1000", "stop 500"), "stop was 1000 when the restart file was written, now 500"),
    (OCC.replace(" stop 1000", ""), "stop was 1000 when the restart file was written, now (none)"),
    (OCC.replace("o mobile", "o other"), "group was mobile when the restart file was written, now other"),
    (OCC_SPACING.replace("0.8", "0.9"), "grid was spacing 0.8 when the restart file was written, now spacing 0.9"),
    (OCC_SPACING.replace("spacing 0.8", "grid 6 6 6"), "grid was spacing 0.8 when the restart file was written, now 6 6 6"),
    (FREE.replace("events 2", "events 1"), "Nevery was 2 when the restart file was written, now 1"),
    (FREE.replace("free 0.5", "free 0.6"), "threshold was 0.5 when the restart file was written, now 0.6"),
    (FREE.replace("0.5 3", "0.5 4"), "window was 3 when the restart file was written, now 4"),
    (FREE.replace("residence 2", "residence 1"), "residence was 2 when the restart file was written, now 1"),
    (FREE.replace(" residence 2", ""), "residence was 2 when the restart file was written, now 1"),
    (FREE.replace("h mobile", "h other"), "group was mobile when the restart file was written, now other"),
    ("fix h mobile hop/events 2 sites {sites}/a.txt 0.3 0.6 residence 2", "mode was free when the restart file was written, now sites"),
    (SITES.replace("a.txt", "b.txt"), "sites was 8 sites, coordinates digest"),
    (SITES.replace("0.3 0.6", "0.35 0.6"), "r_in was 0.3 when the restart file was written, now 0.35"),
    (SITES.replace("0.3 0.6", "0.3 0.7"), "r_out was 0.6 when the restart file was written, now 0.7"),
]


@pytest.mark.parametrize("line, message", CHANGED, ids=[f"{c[0].split()[1]}-{i}" for i, c in enumerate(CHANGED)])
def test_restart_with_a_changed_argument_is_refused(written, line, message):
    got = after_restart(written, line.format(sites=written))
    assert "cannot continue the statistics of the restart file" in got and message in got, got
    assert "new fix ID to start afresh" in got


def test_restart_with_the_same_arguments_and_other_outputs_is_accepted(written, tmp_path, monkeypatch):
    """Output keywords (file, every, norm) may change; the statistics arguments are equal."""
    import ionsitu

    monkeypatch.chdir(tmp_path)

    fixes = [MSD + " file m.dat every 4", MSD_PLAIN, OCC + " norm counts", OCC_SPACING, FREE,
             SITES.format(sites=written)]
    lmp = ionsitu.lammps_instance()
    try:
        lmp.commands_string(f"read_restart {written}/r.restart\n" + "\n".join(fixes) + "\nrun 0")
        assert lmp.extract_fix("o", 0, 0) == 6.0         # the 6 samples of the first run (steps 0..10)
    finally:
        lmp.close()


INTEGERS = [
    ("fix m all msd/cross 4294967306", "Nevery must be in 1..2147483647, got 4294967306"),
    ("fix m all msd/cross 2147483648", "Nevery must be in 1..2147483647, got 2147483648"),
    ("fix m all msd/cross 99999999999999999999", "Nevery must be in 1..2147483647, got 99999999999999999999"),
    ("fix m all msd/cross -3", "Nevery must be in 1..2147483647, got -3"),
    ("fix m all msd/cross 1 levels 4294967297", "levels must be in 1..64, got 4294967297"),
    ("fix m all msd/cross 1 block 99999999999999999999", "block must be in 2..100000, got 99999999999999999999"),
    ("fix m all msd/cross 1 block 100000", "block x levels need 2100000 values (16406 KiB) of state per atom; the limit is 65536 values (512 KiB) per atom"),
    ("fix m all msd/cross 1 block 5000 levels 5", "block x levels need 75000 values"),
    ("fix m all msd/cross 1000 block 1000 levels 7", "reach lags of 9.99e+23 steps; at most 9e18"),
    ("fix m all msd/cross 1 file f every 99999999999999999999", "every must be >= 0, got 99999999999999999999"),
    ("fix m all msd/cross 1 charges 4294967297 1.0", "charges: atom type must be in 1..3, got 4294967297"),
    ("fix m all msd/cross 1 charges 1 1e999", "charges: charge must be finite, got 1e999"),
    ("fix h all hop/events 1 free 1 2 residence 4294967297", "residence must be in 1..1000000, got 4294967297"),
    ("fix h all hop/events 1 free 1 99999999999999999999", "free window must be in 1..1000000, got 99999999999999999999"),
    ("fix h all hop/events 1 free 1 0", "free window must be in 1..1000000, got 0"),
    ("fix h all hop/events 1 free 1e999 2", "free threshold must be finite, got 1e999"),
    ("fix h all hop/events 4294967306 free 1 2", "Nevery must be in 1..2147483647, got 4294967306"),
    ("fix o all occupancy/grid 1 grid 99999999999999999999 2 2", "grid count must be in 1..100000, got 99999999999999999999"),
    ("fix o all occupancy/grid 1 grid 100000 100000 2", "a 100000x100000x2 grid for 1 type(s) needs 149 GiB of counts on every MPI rank; the limit is 134217728 voxels x types (1 GiB)"),
    ("fix o all occupancy/grid 1 grid 512 512 257 types 1 2", "needs 1.004 GiB"),
    ("fix o all occupancy/grid 1 spacing 1e-30", "voxels along a box edge (at most 100000)"),
    ("fix o all occupancy/grid 1 grid 2 2 2 types 4294967297", "types: atom type must be in 1..3, got 4294967297"),
    ("fix o all occupancy/grid 1 grid 2 2 2 start 99999999999999999999", "start must be >= 0, got 99999999999999999999"),
    ("fix o all occupancy/grid 2147483648 grid 2 2 2", "Nevery must be in 1..2147483647, got 2147483648"),
]


@pytest.mark.parametrize("line, message", INTEGERS)
def test_integers_are_range_checked(line, message):
    got = lammps_error(BASE_LJ + line)
    assert message in got, got


SCHEDULE = [
    ("fix h all hop/events 2 free 1 2\nrun 2\ntimestep 0.001\nrun 2", "the timestep changed from 0.005 to 0.001"),
    ("fix h all hop/events 2 free 1 2\nrun 2\nreset_timestep 100\nrun 2", "sample at step 100 does not follow the previous one (step 2) by Nevery = 2"),
    ("fix h all hop/events 2 free 1 2\nrun 2\nreset_timestep 5\nrun 4", "sample at step 6 does not follow the previous one (step 2)"),
    ("group none type 3\nfix o none occupancy/grid 1 grid 2 2 2\nrun 0", "fix occupancy/grid: group none is empty"),
    ("fix o all occupancy/grid 1 grid 2 2 2 types 1 2\nrun 0", "types: atom type 2 has no atoms in group all"),
    ("fix a all msd/cross 1 file out.dat\nfix b all hop/events 1 free 1 2 file ./out.dat\nrun 0",
     "fix msd/cross a and fix hop/events b both write out.dat; give each fix its own file"),
    ("fix a all occupancy/grid 1 grid 2 2 2 file g\nfix b all msd/cross 1 file g.npz\nrun 0", "both write g.npz"),
    ("fix a all occupancy/grid 1 grid 2 2 2 types 1 file g\nfix b all occupancy/grid 2 grid 3 3 3 file g\nrun 0",
     "fix occupancy/grid a and fix occupancy/grid b both write g.cube"),
]


@pytest.mark.parametrize("line, message", SCHEDULE)
def test_schedule_selection_and_duplicate_files(tmp_path, monkeypatch, line, message):
    monkeypatch.chdir(tmp_path)
    got = lammps_error(BASE_LJ + line)
    assert message in got, got


@pytest.mark.parametrize("fix", ["fix m all msd/cross 1 file {p}", "fix h all hop/events 1 free 1 2 file {p}",
                                 "fix o all occupancy/grid 1 grid 2 2 2 file {p}"])
def test_unwritable_outputs_are_found_before_the_run(tmp_path, fix):
    (tmp_path / "plain").write_text("a regular file\n")
    (tmp_path / "dir.cube").mkdir()
    (tmp_path / "dir").mkdir()
    cases = [(f"{tmp_path}/plain/out", f"cannot open {tmp_path}/plain/out"),
             (f"{tmp_path}/dir" + ("" if "occupancy" in fix else ".cube"), "is a directory")]
    for path, message in cases:
        got = lammps_error(BASE_LJ + fix.format(p=path) + "\nrun 1000000000")
        assert message in got and "(checked before the run)" in got, got


WRITE_ERROR = textwrap.dedent("""
    import json, os, sys
    from mpi4py import MPI
    import ionsitu
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    log = open(f"rank{rank}.txt", "w", buffering=1)
    for fix, out in json.loads(sys.argv[1]):
        lmp = ionsitu.lammps_instance(comm=comm)
        lmp.commands_string(fix + "\\nrun 4")
        before = open(out, "rb").read() if rank == 0 else None
        # files replaced atomically: their temp file cannot be opened; hop/events appends to its
        # log in place: the log itself cannot be opened
        blocked = out if "hop/events" in fix else out + ".tmp"
        if rank == 0:
            if blocked == out:
                os.rename(out, out + ".kept")
            os.mkdir(blocked)
        comm.Barrier()
        try:
            lmp.command("run 4 pre no")        # no init(), so no check at setup: the write fails
            print(f"{out} rank {rank}: no error", file=log)
        except Exception as exc:
            print(f"{out} rank {rank} caught: {exc}", file=log)
        lmp.close()
        if rank == 0:
            os.rmdir(blocked)
            if blocked == out:
                os.rename(out + ".kept", out)
            print(out, "intact" if open(out, "rb").read() == before else "changed", file=log)
        lmp = ionsitu.lammps_instance(comm=comm)    # the process goes on: a new instance runs
        lmp.commands_string(fix.replace(out, out + "2") + "\\nrun 2")
        lmp.close()
        print(f"{out} rank {rank} went on", file=log)
""")


def test_write_error_raises_on_every_rank(tmp_path):
    """A write error on rank 0 (a directory where it must open a file) is an exception on both ranks
    of a 2-rank instance; the earlier output stays intact and the process can go on."""
    cases = []
    for fix in ["fix m all msd/cross 1 file {p} every 2", "fix h all hop/events 1 free 1 2 file {p} every 2",
                "fix o all occupancy/grid 1 grid 2 2 2 file {p} every 2"]:
        out = tmp_path / fix.split()[1]
        cases.append((BASE_LJ + fix.format(p=out), str(out) + (".npz" if "occupancy" in fix else "")))
    (tmp_path / "w.py").write_text(WRITE_ERROR)
    proc = subprocess.run([MPIRUN, "-np", "2", sys.executable, "w.py", json.dumps(cases)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = (tmp_path / "rank0.txt").read_text().splitlines() + (tmp_path / "rank1.txt").read_text().splitlines()
    for fix, path in cases:
        for rank in (0, 1):
            caught = [x for x in lines if x.startswith(f"{path} rank {rank} caught: ")]
            assert len(caught) == 1, lines
            blocked = path if "hop/events" in fix else path + ".tmp"
            assert f"cannot open {blocked} " in caught[0] and "earlier outputs are intact" in caught[0], caught
            assert f"{path} rank {rank} went on" in lines
        assert f"{path} intact" in lines

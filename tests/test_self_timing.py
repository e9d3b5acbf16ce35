"""fix_modify ID timing yes: each ionsitu fix prints its own seconds per run (sampling, the
part in MPI collectives, outputs at every M steps, end-of-run output), in the line that
bench/bench_suite.py reads, without changing any result."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lammps_helpers import BASE_LJ, lammps_error, run_lmp

ROOT = Path(__file__).parents[1]

FIXES = """
velocity all create 1.5 4928 loop geom
fix m all msd/cross 2 block 4 levels 3 file msd.dat every 10
fix h all hop/events 2 free 0.5 4 residence 1 file hops.txt
"""
TIMING = """
fix_modify m timing yes
fix_modify h timing yes
"""
RUNS = """
run 40
fix_modify m timing no
run 20
"""


def bench_suite():
    spec = importlib.util.spec_from_file_location("bench_suite", ROOT / "bench" / "bench_suite.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("nprocs", [1, 2])
def test_timing_lines_per_run_and_results_unchanged(tmp_path, nprocs):
    log = run_lmp(tmp_path / "timed", BASE_LJ + FIXES + TIMING + RUNS, nprocs)
    run_lmp(tmp_path / "plain", BASE_LJ + FIXES + RUNS, nprocs)
    for name in ("msd.dat", "hops.txt"):
        assert (tmp_path / "timed" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name

    bench = bench_suite()
    runs = log.split("Loop time of")[:-1]     # each run's lines come before its "Loop time"
    assert len(runs) == 2
    first = [ln for ln in runs[0].splitlines() if ln.startswith("ionsitu timing")]
    second = [ln for ln in runs[1].splitlines() if ln.startswith("ionsitu timing")]
    assert [ln.split()[4] for ln in first] == ["m", "h"] and [ln.split()[4] for ln in second] == ["h"]
    for ln in first + second:
        m = bench.TIMING_LINE.match(ln)
        assert m, ln
        assert int(m.group(3)) == nprocs
        sampling, collectives, output, final = (float(m.group(i)) for i in (5, 6, 8, 9))
        assert sampling > 0 and 0 <= collectives <= sampling and output >= 0 and final > 0, ln
    # samples at steps 2..40 of the first run (the setup sample is not timed), outputs at 10..40
    counts = [tuple(int(bench.TIMING_LINE.match(ln).group(i)) for i in (4, 7)) for ln in first + second]
    assert counts == [(20, 4), (20, 0), (10, 0)]

    st = bench.self_timing(runs[0].splitlines(), nprocs)
    assert st["fixes"] == 2 and set(st["per_fix"]) == {"msd/cross m", "hop/events h"}
    assert st["sampling"] >= st["collectives"] >= 0


def test_timing_value_is_checked():
    got = lammps_error(BASE_LJ + FIXES + "fix_modify m timing maybe")
    assert "maybe" in got, got

"""Bad input files for the Python readers and commands: each an error naming the file and
the problem (no numpy, JSON or LAPACK traceback, no silent result).

`ionsitu.read_msd` / `ionsitu analyze` on truncated, short-row or corrupt MSD files, a
header without units, NaN or negative squared displacements, dt = 0; `ionsitu hops` on
event logs with NaN positions or a bad timestep.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ionsitu
from ionsitu.analysis import hops as H
from lammps_helpers import BIN

IONSITU = str(BIN / "ionsitu")


@pytest.fixture(scope="module")
def msd_text(tmp_path_factory):
    """A valid MSD file (the offline core, same format as fix msd/cross) with charges."""
    from ionsitu.core import MSDCorrelator

    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(scale=0.1, size=(60, 8, 3)), axis=0)
    corr = MSDCorrelator(8, block=4, levels=3, types=np.array([1, 1, 1, 1, 2, 2, 2, 2]), charges={1: 1.0, 2: -1.0},
                         nevery=10, dt=0.002, units="lj")
    for f in x:
        corr.add_frame(f, cell=np.eye(3) * 5.0, drift=np.zeros(3))
    path = tmp_path_factory.mktemp("msd") / "msd.dat"
    corr.write(path)
    res = ionsitu.read_msd(path)  # the valid file reads
    assert len(res.lag_steps) == 9 and res.onsager is not None
    return path.read_text()


def _meta_edit(**changes):
    def edit(text):
        lines = text.splitlines(keepends=True)
        i = next(i for i, ln in enumerate(lines) if ln.startswith("# meta "))
        meta = json.loads(lines[i][len("# meta "):])
        for k, v in changes.items():
            if v is None:
                meta.pop(k)
            else:
                meta[k] = v
        lines[i] = "# meta " + json.dumps(meta) + "\n"
        return "".join(lines)
    return edit


def _names_and_rows(lines):
    """Column names and the indices of the data rows of an MSD file of version 1 or 2."""
    if lines[0].startswith("# ionsitu-msd 1"):
        names = next(ln for ln in lines if ln.startswith("# columns ")).split()[2:]
        first = 1
    else:  # version 2: the names are the first line
        names, first = lines[0].split(), 1
    return names, [i for i, ln in enumerate(lines) if i >= first and ln.strip() and not ln.startswith("#")]


def _cell_edit(row, col, value):
    """Replace the value of column `col` in data row `row` (0-based)."""
    def edit(text):
        lines = text.splitlines(keepends=True)
        names, data = _names_and_rows(lines)
        vals = lines[data[row]].split()
        vals[names.index(col)] = value
        lines[data[row]] = " ".join(vals) + "\n"
        return "".join(lines)
    return edit


def _data_line_no(text, row):
    return _names_and_rows(text.splitlines())[1][row] + 1


def _as_version_1(text):
    """The same file in the layout of format version 1 (tag, meta, '# columns ...', rows)."""
    lines = text.splitlines(keepends=True)
    assert lines[1] == "# ionsitu-msd 2\n"
    return "# ionsitu-msd 1\n" + lines[2] + "# columns " + lines[0] + "".join(lines[3:])


MSD_CASES = {
    # name: (edit of the valid text, expected message part; "{L<k>}" = line number of data row k)
    "truncated mid-row": (lambda t: t[: t.rindex("\n", 0, len(t) - 1) + 30],
                          "values, expected 28 (one per column; truncated or corrupt file)"),
    "rows missing": (lambda t: "".join(t.splitlines(keepends=True)[:-3]),
                     "6 rows, expected (block - 1) x levels = 9 (truncated file?)"),
    "header only": (lambda t: "".join(t.splitlines(keepends=True)[:3]), "no data rows"),
    "short row": (lambda t: _cell_edit(2, "msd", "")(t), ":{L2}: 27 values, expected 28"),
    "not a number": (_cell_edit(4, "coll_y", "1.2.3"), ":{L4}: not a number in"),
    "corrupt meta JSON": (lambda t: t.replace('"natoms": 8', '"natoms": 8,,', 1), ":3: bad JSON in the '# meta' line"),
    "meta without units": (_meta_edit(units=None), "the '# meta' header lacks 'units'"),
    "meta without dt": (_meta_edit(dt=None), "the '# meta' header lacks 'dt'"),
    "unknown units": (_meta_edit(units="imperial"), "unknown units 'imperial'"),
    "dt = 0": (_meta_edit(dt=0.0), "meta dt (the timestep) must be a positive number, got 0.0"),
    "natoms = 0": (_meta_edit(natoms=0), "meta natoms must be a positive integer, got 0"),
    "NaN in the MSD": (_cell_edit(3, "msd", "nan"), ":{L3}: nan in column msd"),
    "inf in msd4": (_cell_edit(5, "msd4", "inf"), ":{L5}: inf in column msd4"),
    "negative msd_y": (_cell_edit(1, "msd_y", "-0.01"), ":{L1}: negative msd_y = -0.01"),
    "negative collective": (_cell_edit(6, "coll", "-2.5"), ":{L6}: negative coll = -2.5"),
    "negative charge MSD": (_cell_edit(0, "charge_z", "-1e-3"), ":{L0}: negative charge_z = -0.001"),
    "bad version line": (lambda t: t.replace("# ionsitu-msd 2", "# ionsitu-msd two", 1), ":2: bad format line"),
    "unknown version": (lambda t: t.replace("# ionsitu-msd 2", "# ionsitu-msd 3", 1), "MSD format version 3, this "
                        "ionsitu reads 1, 2"),
    "binary garbage": (None, "not a text file"),
    "no column names": (lambda t: "".join(t.splitlines(keepends=True)[1:]),
                        ":1: a version-2 MSD file has its '# ionsitu-msd' line after the column names (line 2)"),
    "commented column names": (lambda t: "# " + t, ":1: a version-2 MSD file starts with the column names"),
    "version 1 without '# columns'": (lambda t: "".join(ln for ln in _as_version_1(t).splitlines(keepends=True)
                                                        if not ln.startswith("# columns")),
                                      ":3: data before the '# columns' line"),
    "version 1, negative msd": (lambda t: _cell_edit(2, "msd", "-1")(_as_version_1(t)), ":{L2}: negative msd = -1.0"),
}


@pytest.mark.parametrize("name", sorted(MSD_CASES))
def test_read_msd_names_the_file_and_the_problem(tmp_path, msd_text, name):
    edit, expected = MSD_CASES[name]
    path = tmp_path / "bad_msd.dat"
    if edit is None:
        path.write_bytes(b"# ionsitu-msd 1\n\xff\xfe\x00\x81garbage")
    else:
        path.write_text(edit(msd_text))
    for k in range(9):
        expected = expected.replace(f"{{L{k}}}", str(_data_line_no(msd_text, k)))
    with pytest.raises(ValueError) as exc:
        ionsitu.read_msd(path)
    msg = str(exc.value)
    assert msg.startswith(str(path)) and expected in msg, msg


def test_negative_onsager_cross_term_is_valid(tmp_path, msd_text):
    """<dR_A . dR_B> for A != B may be negative: not an error."""
    path = tmp_path / "msd.dat"
    path.write_text(_cell_edit(2, "onsager_1_2", "-0.5")(msd_text))
    assert ionsitu.read_msd(path).onsager[0, 1, 2, 3] == -0.5


@pytest.mark.parametrize("name", ["truncated mid-row", "NaN in the MSD", "meta without units", "dt = 0"])
def test_analyze_reports_bad_msd_files_without_traceback(tmp_path, msd_text, name):
    edit, expected = MSD_CASES[name]
    path = tmp_path / "msd.dat"
    path.write_text(edit(msd_text))
    proc = subprocess.run([IONSITU, "analyze", str(path), "-T", "1.0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"ionsitu analyze: error: {path}" in proc.stderr and expected.split("{")[0] in proc.stderr


# ---------------------------------------------------------------------------------------
# ionsitu hops: NaN positions, bad timestep
# ---------------------------------------------------------------------------------------
def _event_log(path, rows, dt=0.002):
    meta = {"format": "ionsitu-hops", "version": 1, "producer": "test", "fix_id": "h", "group": "mobile",
            "mode": "free", "threshold": 0.5, "window": 5, "residence": 3, "nevery": 10, "dt": dt, "units": "lj",
            "natoms": 4, "nsamples": 101, "step_first": 0, "step_last": 1000, "nhops": len(rows), "nhopped": 2,
            "cell": [5, 0, 0, 0, 5, 0, 0, 0, 5], "origin": [0, 0, 0]}
    lines = ["# ionsitu-hops 1", "# meta " + json.dumps(meta), "# columns " + " ".join(H.EVENT_LOG_COLUMNS)]
    lines += [" ".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = [[100, 1, -1, -1, 0.1, 0.2, 0.3, 1.1, 0.2, 0.3, 1.0, 0.0, 0.0, 0, 90, 0],
        [300, 2, -1, -1, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 0, 290, 0],
        [500, 1, -1, -1, 1.1, 0.2, 0.3, 1.1, 1.2, 0.3, 0.0, 1.0, 0.0, 100, 490, 0]]


@pytest.mark.parametrize("case", ["nan position", "inf displacement", "dt = 0", "nan dt"])
def test_hops_rejects_nan_positions_and_bad_timestep(tmp_path, case):
    rows = [list(r) for r in GOOD]
    dt = 0.002
    if case == "nan position":
        rows[1][7] = "nan"        # tx of event 2
        expected = "event 2 (step 300, atom 2) has tx = nan"
    elif case == "inf displacement":
        rows[2][10] = "-inf"      # dx of event 3
        expected = "event 3 (step 500, atom 1) has dx = -inf"
    else:
        dt = 0.0 if case == "dt = 0" else float("nan")
        expected = "timestep must be > 0"
    path = _event_log(tmp_path / "hops.txt", rows, dt=dt if case != "nan dt" else 0.002)
    if case == "nan dt":
        path.write_text(path.read_text().replace('"dt": 0.002', '"dt": NaN'))
    proc = subprocess.run([IONSITU, "hops", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"ionsitu hops: {path}: ") and expected in proc.stderr, proc.stderr


def test_hops_accepts_the_valid_log(tmp_path):
    path = _event_log(tmp_path / "hops.txt", GOOD)
    proc = subprocess.run([IONSITU, "hops", str(path), "--corr-random", "0"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr

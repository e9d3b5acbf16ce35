"""The fix pages in docs/ against the fixes' parse code: every keyword the parser accepts is
documented (and nothing else), and the stated limits and defaults are the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def constant(text: str, name: str) -> int:
    return int(re.search(rf"constexpr long long {name} = (\d+)", text).group(1))


@pytest.mark.parametrize("style", ["msd_cross", "occupancy_grid", "hop_events", "vacf", "vanhove"])
def test_fix_page_documents_exactly_the_parsed_keywords(style):
    src = (ROOT / "src" / "lammps" / f"fix_{style}.cpp").read_text()
    page = (ROOT / "docs" / f"fix_{style}.md").read_text()
    parsed = set(re.findall(r'key == "(\w+)"', src)) | {"file", "every"}    # + FixSampled's output keywords
    line = next(ln for ln in page.splitlines() if ln.startswith("- keyword = "))
    assert set(re.findall(r"`(\w+)`", line)) == parsed
    for key in parsed:
        assert re.search(rf"^{key} values? = ", page, re.M), f"no syntax line for {key}"
    common = (ROOT / "src" / "lammps" / "fix_common.h").read_text()
    assert f"(integer, 1..{constant(common, 'MAX_NEVERY')})" in page
    for section in ("Syntax", "Examples", "Description", "Restart, fix_modify, output, run start/stop, minimize info",
                    "Restrictions", "Related commands", "Default"):
        assert f"\n## {section}\n" in page, section


def test_fix_pages_state_the_limits_and_defaults_of_the_code():
    msd = (ROOT / "src" / "lammps" / "fix_msd_cross.cpp").read_text()
    page = (ROOT / "docs" / "fix_msd_cross.md").read_text()
    assert f"(integer, 2..{constant(msd, 'MAX_BLOCK')})" in page and f"(integer, 1..{constant(msd, 'MAX_LEVELS')})" in page
    block, levels = re.search(r"int block = (\d+), levels = (\d+);", msd).groups()
    assert f"block = {block}, levels = {levels}, drift = all" in page and 'drift_name("all")' in msd

    occ = (ROOT / "src" / "lammps" / "fix_occupancy_grid.cpp").read_text()
    page = (ROOT / "docs" / "fix_occupancy_grid.md").read_text()
    assert f"(integers, each 1..{constant(occ, 'MAX_GRID_COUNT')})" in page
    assert int(float(re.search(r"MAX_GRID_VALUES = (\d+)", occ).group(1))) == 2 ** 27 and "2²⁷" in page
    assert 'norm_name("probability")' in occ and "norm = probability" in page

    vh = (ROOT / "src" / "lammps" / "fix_vanhove.cpp").read_text()
    page = (ROOT / "docs" / "fix_vanhove.md").read_text()
    assert f"(integer, 1..{constant(vh, 'MAX_BINS')})" in page and f"(integer, 2..{constant(vh, 'MAX_BLOCK')})" in page
    assert f"(integer, 1..{constant(vh, 'MAX_LEVELS')})" in page
    block, levels = re.search(r"int block = (\d+), levels = (\d+);", vh).groups()
    assert f"block = {block}, levels = {levels}, no lags (no G_d), origins = Nevery, no file" in page
    assert "if (origin_steps == 0) origin_steps = nevery;" in vh

    hop = (ROOT / "src" / "lammps" / "fix_hop_events.cpp").read_text()
    page = (ROOT / "docs" / "fix_hop_events.md").read_text()
    nmax = constant((ROOT / "src" / "lammps" / "fix_common.h").read_text(), "MAX_SAMPLES")
    assert "ionsitu::MAX_SAMPLES" in hop and page.count(f"(integer, 1..{nmax})") == 2
    assert re.search(r"long long window = 0, residence = (\d+);", hop).group(1) == "1" and "residence = 1" in page

"""ionsitu.core.close_pairs (src/core/space_time_pairs): pairs of events close in space and
time, against all pairs checked directly with numpy."""

import numpy as np
import pytest

from ionsitu import core
from ionsitu.sites import _min_image_frac


def _all_pairs(x, t, g, w, rc2, cell):
    i, j = np.triu_indices(len(t), 1)
    keep = (g[i] != g[j]) & (np.abs(t[j] - t[i]) <= w)
    i, j = i[keep], j[keep]
    d = x[j] - x[i] if cell is None else _min_image_frac(x[j] - x[i], cell)
    close = np.einsum("ij,ij->i", d, d) <= rc2
    return {(int(a), int(b)) for a, b in zip(i[close], j[close])}


def _as_set(a, b):
    assert len(a) == len(b) and a.dtype == np.int64
    s = {(int(min(p, q)), int(max(p, q))) for p, q in zip(a, b)}
    assert len(s) == len(a)  # each pair once
    return s


def _cells():
    rot = np.array([[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])
    skew = np.array([[9.0, 0, 0], [2.5, 8.0, 0], [-1.5, 2.0, 10.0]])
    return {"orthogonal": np.diag([9.0, 11.0, 10.0]), "triclinic": skew, "rotated": skew @ rot.T, "open": None}


@pytest.mark.parametrize("name", ["orthogonal", "triclinic", "rotated", "open"])
@pytest.mark.parametrize("integer_times", [False, True])
def test_close_pairs_equal_all_pairs(name, integer_times):
    cell = _cells()[name]
    rng = np.random.default_rng(7)
    n = 1500
    x = rng.random((n, 3)) * 3 - 1 if cell is not None else rng.random((n, 3)) * 15
    # duplicated positions and times: ties in time and at distance 0
    x[-20:] = x[:20]
    t = np.floor(rng.random(n) * 200) if integer_times else rng.random(n) * 200
    t[-10:] = t[:10]
    g = rng.integers(0, 300, n)
    w = 3.0 if integer_times else 2.5
    for rc in (1.2, 3.0, 6.0):  # 6: beyond half the smallest width of the cells
        a, b = core.close_pairs(x, t, g, w, rc * rc, cell=cell)
        want = _all_pairs(x, t, g, w, rc * rc, cell)
        assert _as_set(a, b) == want
        assert len(want) > 20


def test_close_pairs_window_is_inclusive_and_groups_excluded():
    x = np.array([[0.0, 0, 0], [1.0, 0, 0], [0.0, 1.0, 0], [5.0, 5, 5]])
    t = np.array([0, 2, 3, 2])
    g = np.array([0, 1, 0, 2])
    a, b = core.close_pairs(x, t, g, 2, 1.0)  # |dt| <= 2 and d <= 1
    assert _as_set(a, b) == {(0, 1)}           # (0, 2): same ion; (1, 2): d = sqrt 2
    a, b = core.close_pairs(x, t, g, 1, 2.0)
    assert _as_set(a, b) == {(1, 2)}
    a, b = core.close_pairs(x[:1], t[:1], g[:1], 1.0, 1.0)
    assert len(a) == 0 and len(b) == 0
    # through the periodic boundary of a 10-cell: 0.05 and 0.95 are 1 apart
    f = np.array([[0.05, 0.5, 0.5], [0.95, 0.5, 0.5]])
    a, b = core.close_pairs(f, [0.0, 0.0], [0, 1], 0.0, 1.0 + 1e-9, cell=np.eye(3) * 10)
    assert _as_set(a, b) == {(0, 1)}


def test_close_pairs_bad_input():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="same length"):
        core.close_pairs(x, [0.0], [0, 1], 1.0, 1.0)
    with pytest.raises(ValueError, match="time of event 1 is not finite"):
        core.close_pairs(x, [0.0, np.nan], [0, 1], 1.0, 1.0)
    with pytest.raises(ValueError, match="time window"):
        core.close_pairs(x, [0.0, 0.0], [0, 1], -1.0, 1.0)
    with pytest.raises(ValueError, match="singular"):
        core.close_pairs(x, [0.0, 0.0], [0, 1], 1.0, 1.0, cell=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"cell must be \(3, 3\)"):
        core.close_pairs(x, [0.0, 0.0], [0, 1], 1.0, 1.0, cell=np.eye(2))


def test_components_equal_scipy():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(3)
    for n, m in ((1, 0), (50, 0), (200, 150), (2000, 1900), (500, 3000)):
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        labels, nc = core.components(n, a, b)
        ng, want = connected_components(coo_matrix((np.ones(m), (a, b)), shape=(n, n)), directed=False)
        assert nc == ng and np.array_equal(labels, want)
    with pytest.raises(ValueError, match=r"edge 1 \(2, 5\) has a node outside 0..4"):
        core.components(5, [0, 2], [1, 5])

# Binding of ionsitu::space_time_pairs (src/core/space_time_pairs.h): pairs of events close
# in space and time, periodic (any cell shape) or open boundaries.

cdef extern from "space_time_pairs.h" namespace "ionsitu":
    void space_time_pairs(int, const double *, const double *, const double *, const int64_t *, double, double,
                          vector[int64_t] &, vector[int64_t] &) except +
    int pair_components(int, int64_t, const int64_t *, const int64_t *, int64_t *) except +


def close_pairs(points, times, groups, double window, double cutoff_sq, cell=None):
    """Pairs (a, b) of events of different groups close in time and space, each pair once.

    points (n, 3): fractional coordinates of ``cell`` (rows a, b, c, any shape; any image)
    when a cell is given, else Cartesian positions (open boundaries); times (n,): time keys
    (time units or integer sample numbers); groups (n,): integer labels (the ion). A pair
    has groups[a] != groups[b], |times[b] - times[a]| <= window and distance^2 <= cutoff_sq
    (minimum image; in a skewed cell the shortest of the 27 images around the rounded one
    when that one is not close). Returns two int64 arrays of indices into the inputs, in no
    particular order. O(n log n) for cutoffs small against the cell.
    """
    cdef double[:, ::1] x = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    cdef double[::1] t = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    cdef int64_t[::1] g = np.ascontiguousarray(groups, dtype=np.int64).reshape(-1)
    n = x.shape[0]
    if t.shape[0] != n or g.shape[0] != n:
        raise ValueError(f"points ({n}), times ({t.shape[0]}) and groups ({g.shape[0]}) must have the same length")
    if n >= 2 ** 31:
        raise ValueError(f"at most 2^31 - 1 events, got {n}")
    cdef double[:, ::1] c
    cdef const double *cp = NULL
    if cell is not None:
        c = np.ascontiguousarray(cell, dtype=np.float64)
        if c.shape[0] != 3 or c.shape[1] != 3:
            raise ValueError(f"cell must be (3, 3) rows a, b, c; got shape {np.shape(cell)}")
        cp = &c[0, 0]
    cdef vector[int64_t] a, b
    cdef const double *xp = &x[0, 0] if n > 0 else NULL
    cdef const double *tp = &t[0] if n > 0 else NULL
    cdef const int64_t *gp = &g[0] if n > 0 else NULL
    space_time_pairs(<int>n, xp, cp, tp, gp, window, cutoff_sq, a, b)
    out_a = np.empty(a.size(), dtype=np.int64)
    out_b = np.empty(b.size(), dtype=np.int64)
    cdef int64_t[::1] oa = out_a, ob = out_b
    cdef size_t k
    for k in range(a.size()):
        oa[k] = a[k]
        ob[k] = b[k]
    return out_a, out_b


def components(int n, a, b):
    """Connected components of the undirected graph of nodes 0..n-1 with edges (a[k], b[k]):
    (labels (n,) int64, numbered in the order of each component's lowest node, and their
    number), as scipy.sparse.csgraph.connected_components labels them."""
    cdef int64_t[::1] aa = np.ascontiguousarray(a, dtype=np.int64).reshape(-1)
    cdef int64_t[::1] bb = np.ascontiguousarray(b, dtype=np.int64).reshape(-1)
    if aa.shape[0] != bb.shape[0]:
        raise ValueError(f"a ({aa.shape[0]}) and b ({bb.shape[0]}) must have the same length")
    if n < 0:
        raise ValueError(f"number of nodes must be >= 0, got {n}")
    labels = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] lab = labels
    cdef int64_t m = aa.shape[0]
    cdef int nc = pair_components(n, m, &aa[0] if m > 0 else NULL, &bb[0] if m > 0 else NULL,
                                  &lab[0] if n > 0 else NULL)
    return labels, nc

"""Correlation-matrix method (ionsitu.analysis.hops.correlation_matrix_method) on N ions x
T grid points with ~k hops per ion: seconds per call, printed.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_correlation_matrix.py [N] [T] [n_random]
"""

import sys
import time

import numpy as np

from ionsitu.analysis import hops as H


def main(n_ions=1000, n_grid=10_000, n_random=10, hops_per_ion=100, seed=0):
    rng = np.random.default_rng(seed)
    dt = 1.0
    ion = np.repeat(np.arange(n_ions), hops_per_ion)
    t = rng.random(len(ion)) * (n_grid - 10) + 5
    ev = H.make_events(ion, np.zeros(len(ion), int), np.ones(len(ion), int), np.tile([1.0, 0, 0], (len(ion), 1)),
                       time=t, duration=np.full(len(ion), 2.0))
    t0 = time.perf_counter()
    res = H.correlation_matrix_method(ev, np.arange(n_ions), 0.0, n_grid * dt, dt, n_random=n_random)
    el = time.perf_counter() - t0
    print(f"correlation_matrix_method: {n_ions} ions x {n_grid} grid points, {len(ev)} hops, n_random {n_random}: "
          f"{el:.1f} s; correlated pairs {int(res.correlated.sum() // 2)} (expected by chance "
          f"{res.expected_false_pairs:.0f})")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))

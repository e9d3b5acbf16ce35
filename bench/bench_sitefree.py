"""Speed of the site-free (k-means + silhouette) hop detection, next to IonDiff 1.6.

Synthetic trajectory: N ions vibrating (sigma 0.1 Å) on a cubic grid of sites 2.5 Å apart,
every ion hopping to a random neighbour site at random times (Poisson, `--rate` hops per
ion over the run, stays of at least 50 frames). Prints ionsitu's time for all ions, IonDiff's (scikit-learn KMeans +
silhouette_score, the same K range and threshold) per ion on the first `--peer-ions`
ions with the same clustering frames, and the ratio.

    OMP_NUM_THREADS=1 python bench/bench_sitefree.py --ions 1000 --frames 10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ionsitu.analysis.hops.sitefree import detect_hops


def synthetic(n_ions, n_frames, rate, seed=0, min_gap=50):
    """Positions (T, N, 3) and the planted hops [(ion, first frame on the new site)]."""
    rng = np.random.default_rng(seed)
    g = int(np.ceil(n_ions ** (1 / 3)))
    base = 5.0 * np.stack(np.unravel_index(np.arange(n_ions), (g, g, g)), axis=1).astype(float)
    centre = np.repeat(base[None], n_frames, axis=0)
    planted = []
    for i in range(n_ions):
        times = np.sort(rng.integers(min_gap, n_frames - min_gap, rng.poisson(rate)))
        times = times[np.diff(times, prepend=-min_gap) >= min_gap]      # stays of >= min_gap frames
        for tm in times:
            v = np.zeros(3)
            v[rng.integers(3)] = rng.choice([-2.5, 2.5])
            centre[tm:, i] += v
            planted.append((i, tm))
    return centre + rng.normal(0, 0.1, centre.shape), planted


def score(res, planted, tol=2):
    """(planted hops found within tol frames of the planted frame, extra hops)."""
    frames = np.rint((res.events["time"] - 0.0) / 0.01).astype(int)
    found = {}
    for a, f in zip(res.events["atom_id"].tolist(), frames.tolist()):
        found.setdefault(a, []).append(f)
    hit = sum(any(abs(f - tm) <= tol for f in found.get(i, [])) for i, tm in planted)
    return hit, len(res.events) - hit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ions", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--rate", type=float, default=2.0)
    ap.add_argument("--max-samples", type=int, default=500)
    ap.add_argument("--peer-ions", type=int, default=5)
    ap.add_argument("--peer-full", type=int, default=1, help="ions IonDiff clusters on all frames (as it does)")
    a = ap.parse_args()
    pos, planted = synthetic(a.ions, a.frames, a.rate)
    t = np.arange(a.frames) * 0.01
    t0 = time.perf_counter()
    res = detect_hops(pos, t, max_samples=a.max_samples)
    ours = time.perf_counter() - t0
    hit, extra = score(res, planted)
    print(f"ionsitu detect_hops: {a.ions} ions x {a.frames} frames (clustering on {len(res.sample_frames)} frames): "
          f"{ours:.1f} s, {ours / a.ions * 1e3:.1f} ms/ion; {len(planted)} hops planted, {hit} found within 2 "
          f"frames, {extra} other hops")
    try:
        from IonDiff import common_library as CL
    except ImportError:
        print("IonDiff not installed: no peer timing")
        return
    import contextlib
    import io
    if a.peer_ions < 1:
        return
    xs = pos[res.sample_frames]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for i in range(a.peer_ions):
            k = CL.calculate_silhouette(xs[:, i], "K-means", 10, 0.7)
            CL.calculate_clusters(pos[:, i], k, "K-means", 0.4) if k > 1 else None
    peer = (time.perf_counter() - t0) / a.peer_ions
    print(f"IonDiff 1.6 (same frames): {peer * 1e3:.0f} ms/ion on {a.peer_ions} ions -> {peer * a.ions:.0f} s "
          f"for {a.ions} ions; ratio IonDiff/ionsitu {peer * a.ions / ours:.1f}")
    if a.peer_full:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            for i in range(a.peer_full):
                CL.calculate_silhouette(pos[:, i], "K-means", 10, 0.7)
        full = (time.perf_counter() - t0) / a.peer_full
        print(f"IonDiff 1.6 on all {a.frames} frames (its own mode): {full:.1f} s/ion -> {full * a.ions / 3600:.1f} h "
              f"for {a.ions} ions; ratio IonDiff/ionsitu {full * a.ions / ours:.0f}")


if __name__ == "__main__":
    main()

"""Site-free hop detection by k-means + silhouette (ionsitu.analysis.hops.sitefree).

1. Planted hops: ions vibrating (Gaussian, sigma = 0.08 per coordinate) around sites with
   jumps of known vector at known frames (5-frame linear transit): every hop found, its
   arrival frame within 3 frames of the planted transit midpoint, its displacement within
   0.05 of the planted vector, the path ends around the transit; non-hopping ions get K = 1
   and no hop; the vectorised k-means / silhouette agree with scikit-learn.
2. A real LAMMPS run of the model ion conductor (tests/test_estimator_validation.py), side
   by side with the IonDiff package (PyPI ``iondiff`` 1.6, its own XDATCAR reader and
   ``xdatcar.get_diffusion``) on the same frames and parameters: >= 95 % of IonDiff's hops
   matched by an ionsitu hop of the same ion whose path start and end are within 2 frames.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from ionsitu.analysis.hops import sitefree
from ionsitu.analysis.hops.sitefree import detect_hops
from ionsitu.io.events import EVENT_DTYPE

SIGMA = 0.08


def planted_trajectory(seed=1, T=1500, dt=0.01):
    """(positions (T, N, 3), times, planted) with planted = [(ion, mid_frame, vector)]."""
    rng = np.random.default_rng(seed)
    base = np.array([[0.0, 0, 0], [5, 0, 0], [0, 5, 0], [5, 5, 0], [0, 0, 5], [5, 0, 5], [0, 5, 5]])
    jumps = {0: [(300, (2.5, 0, 0))],
             1: [(400, (0, 2.2, 0)), (1100, (2.2, 0, 0))],
             2: [(600, (0, 0, 2.6)), (1000, (0, 0, -2.6))],          # there and back
             3: [(200, (1.8, 1.8, 0)), (700, (0, 0, 2.5)), (1300, (-2.5, 0, 0))]}
    N = len(base)
    centre = np.repeat(base[None], T, axis=0).astype(float)
    planted = []
    for i, js in jumps.items():
        for mid, v in js:
            v = np.asarray(v, float)
            ramp = np.clip((np.arange(T) - (mid - 2.5)) / 5.0, 0, 1)           # 5-frame transit
            centre[:, i] += ramp[:, None] * v
            planted.append((i, mid, v))
    pos = centre + rng.normal(0, SIGMA, size=(T, N, 3))
    return pos, np.arange(T) * dt, planted


def test_planted_hops_found_with_times_and_vectors():
    pos, t, planted = planted_trajectory()
    res = detect_hops(pos, t, atom_ids=np.arange(1, pos.shape[1] + 1))
    ev = res.events
    assert ev.dtype == EVENT_DTYPE and len(ev) == len(planted)
    np.testing.assert_array_equal(res.n_clusters, [2, 3, 2, 4, 1, 1, 1])
    assert np.all(res.silhouette[4:].max(axis=1) < 0.7)                      # vibration only: K = 1
    dt = t[1] - t[0]
    for ion, mid, v in planted:
        k = np.flatnonzero((ev["atom_id"] == ion + 1) & (np.abs(ev["time"] - mid * dt) <= 3 * dt))
        assert len(k) == 1, (ion, mid, ev)
        k = k[0]
        np.testing.assert_allclose([ev["dx"][k], ev["dy"][k], ev["dz"][k]], v, atol=0.05)
        # path: leaves the origin's 0.4 sphere and enters the destination's within the transit +- 3
        assert mid - 8 <= res.path_start[k] <= mid and mid <= res.path_end[k] <= mid + 8, (res.path_start[k], mid)
        assert ev["duration"][k] == pytest.approx((res.path_end[k] - res.path_start[k] + 2) * dt)
    # the return hop of ion 2 goes back to its first cluster; clusters numbered by first visit
    e2 = ev[ev["atom_id"] == 3]
    assert list(zip(e2["from_site"], e2["to_site"])) == [(0, 1), (1, 0)]
    assert e2["censored"].tolist() == [True, False]
    assert e2["residence"][1] == pytest.approx(e2["time"][1] - e2["time"][0])
    d = res.descriptors
    assert d["n_hops"] == 8 and d["n_ions_hopping"] == 4
    assert d["dr"]["min"] == pytest.approx(2.2, abs=0.05) and d["dr"]["max"] == pytest.approx(2.6, abs=0.05)
    assert d["nu"]["max"] == pytest.approx(3 / (t[-1] - t[0])) and d["nu"]["min"] == 0
    # gamma: residence between consecutive hops (ion 1: 1100 - 400 frames, minus a path)
    assert 6.8 <= d["gamma"]["max"] <= 7.0 and d["gamma"]["n"] == 4


def test_jumps_between_vibrating_frames_are_separate_hops():
    # instantaneous jumps (no frame outside both 0.4 spheres): each is its own hop with an empty
    # path; IonDiff's path rule merges consecutive ones into one vibrating stretch
    rng = np.random.default_rng(4)
    T = 900
    centre = np.zeros((T, 1, 3))
    centre[300:, 0, 0] += 2.5
    centre[600:, 0, 1] += 2.5
    pos = centre + rng.normal(0, SIGMA, centre.shape)
    t = np.arange(T) * 0.01
    res = detect_hops(pos, t)
    assert res.events["time"].tolist() == pytest.approx([3.0, 6.0])
    np.testing.assert_array_equal(res.path_start, [300, 600])
    np.testing.assert_array_equal(res.path_end, [299, 599])
    assert res.events["duration"].tolist() == pytest.approx([0.01, 0.01])
    merged = detect_hops(pos, t, iondiff_path_start=True)
    assert len(merged.events) < 2


def test_subsampled_clustering_and_wrapped_input_give_the_same_hops():
    pos, t, planted = planted_trajectory(seed=2)
    full = detect_hops(pos, t, max_samples=len(t))
    sub = detect_hops(pos, t, max_samples=300)
    assert len(sub.sample_frames) == 300 and len(full.sample_frames) == len(t)
    for key in ("atom_id", "step", "from_site", "to_site"):
        np.testing.assert_array_equal(sub.events[key], full.events[key])
    np.testing.assert_allclose(sub.events["time"], full.events["time"])
    box = np.array([8.0, 9.0, 10.0])
    wrapped = detect_hops(np.mod(pos, box), t, cell=box, max_samples=300)
    np.testing.assert_allclose(wrapped.events["dx"], sub.events["dx"], atol=1e-9)
    np.testing.assert_array_equal(wrapped.path_start, sub.path_start)
    # lattice vs interstitial: reference = the initial sites only
    kinds = detect_hops(pos, t, max_samples=300, reference_sites=pos[0], lattice_tolerance=0.5)
    ev = kinds.events
    first = ev["censored"]
    assert np.all(kinds.from_kind[first] == "lattice") and np.all(kinds.to_kind[first] == "interstitial")


def test_batched_kmeans_and_silhouette_match_scikit_learn():
    pytest.importorskip("sklearn")
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    pos, _, _ = planted_trajectory(seed=3)
    x = pos[::4].transpose(1, 0, 2)                                          # 375 frames
    dist = np.linalg.norm(x[:, :, None] - x[:, None], axis=3)
    true_k = [2, 3, 2, 4, 1, 1, 1]
    for k in (2, 3, 4):
        lab, cen, inertia = sitefree.kmeans_batch(x, k, rng=np.random.default_rng(5))
        s = sitefree.silhouette_batch(dist, lab, k)
        for i in range(len(x)):
            np.testing.assert_allclose(s[i], silhouette_score(x[i], lab[i]), rtol=1e-10)
            ref = KMeans(n_clusters=k, init="random", n_init=10, random_state=0).fit(x[i])
            if k == true_k[i]:     # separated clusters: the same partition as scikit-learn
                pairs = set(zip(lab[i].tolist(), ref.labels_.tolist()))
                assert len(pairs) == k, (i, k, pairs)
                np.testing.assert_allclose(inertia[i], ref.inertia_, rtol=1e-9)
            else:                  # no true partition: local optima of other random starts, within 15 %
                assert inertia[i] <= 1.15 * ref.inertia_, (i, k, inertia[i], ref.inertia_)


def test_bad_input_is_named():
    pos, t, _ = planted_trajectory(T=50)
    with pytest.raises(ValueError, match="shape"):
        detect_hops(pos[:, :, :2], t)
    with pytest.raises(ValueError, match="increasing"):
        detect_hops(pos, t[::-1])
    with pytest.raises(ValueError, match="silhouette_threshold"):
        detect_hops(pos, t, silhouette_threshold=1.5)
    with pytest.raises(ValueError, match="cell"):
        detect_hops(pos, t, cell=[1.0, 2.0])


# --- side by side with IonDiff on a real LAMMPS trajectory -------------------------------------------------

def _xdatcar(path, frac, box):
    lines = ["conductor", "1.0"] + [" ".join(f"{v:.10f}" for v in row) for row in np.diag(box)]
    lines += ["Li", str(frac.shape[1])]
    for f, fr in enumerate(frac, start=1):
        lines.append(f"Direct configuration= {f:6d}")
        lines += [f"{a:.10f} {b:.10f} {c:.10f}" for a, b, c in fr]
    (path / "XDATCAR").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def conductor(tmp_path_factory):
    from lammps_helpers import run_lmp
    from test_estimator_validation import conductor_script

    from ionsitu.io.trajectory import iter_lammps_dump

    d = tmp_path_factory.mktemp("sitefree")
    # one 20-tau replica at T = 0.55 dumped every 25 steps (401 frames); the "long" run is minimal
    run_lmp(d, conductor_script(0.55, 1, 10000, 25, 25, 25, equil=1000, pre=500), timeout=600)
    frames = list(iter_lammps_dump(d / "dump.1.lammpstrj"))
    mobile = frames[0].types == 2
    pos = np.array([f.positions[mobile] for f in frames])
    box = np.diag(frames[0].cell)
    return d, pos, np.array([f.step for f in frames]), box


def test_conductor_hops_match_iondiff(conductor, monkeypatch):
    pytest.importorskip("sklearn")
    identify = pytest.importorskip("IonDiff.identify_diffusion")
    d, pos, steps, box = conductor
    T, N, _ = pos.shape
    res = detect_hops(pos, steps * 0.002, steps=steps)
    assert res.descriptors["n_hops"] >= 10 and res.descriptors["n_ions_hopping"] >= 8

    # IonDiff on the same frames (wrapped fractional coordinates, its own unwrapping), the ions that
    # ionsitu found hopping plus as many non-hopping ones (its run time is ~1 s per ion)
    hop_ions = np.unique(res.events["atom_id"])
    quiet = np.setdiff1d(np.arange(N), hop_ions)[:len(hop_ions) // 2 + 1]
    sel = np.concatenate([hop_ions, quiet]).astype(int)
    sel = sel[:24]
    _xdatcar(d, np.mod(pos[:, sel] / box, 1.0), box)
    (d / "INCAR").write_text("POTIM = 1\nNBLOCK = 1\n")
    args = types.SimpleNamespace(MD_path=str(d), classifier="K-means", distance_thd=0.4, silhouette_thd=0.7,
                                 make_plot=False, n_attempts=10)
    monkeypatch.setattr("builtins.print", lambda *a, **k: None)
    theirs = identify.xdatcar(args).get_diffusion(args)
    monkeypatch.undo()
    assert len(theirs) >= 10
    compat = detect_hops(pos, steps * 0.002, steps=steps, iondiff_path_start=True)

    def paths(r):
        out = {}
        for k in range(len(r.events)):
            out.setdefault(int(r.events["atom_id"][k]), []).append((int(r.path_start[k]), int(r.path_end[k])))
        return out

    same_def = paths(compat)
    change = {}
    for k in range(len(res.events)):
        change.setdefault(int(res.events["atom_id"][k]), []).append(int(np.searchsorted(steps, res.events["step"][k])))
    matched, within, unmatched = 0, 0, []
    for p, s, e in theirs:
        e = T - 1 if e == -1 else e
        if any(abs(s - s2) <= 2 and abs(e - e2) <= 2 for s2, e2 in same_def.get(int(sel[p]), [])):
            matched += 1
        else:
            unmatched.append((int(sel[p]), s, e, same_def.get(int(sel[p]))))
        # the default paths (the excursion around the change): the same cluster change (first
        # frame in the destination cluster) inside IonDiff's path
        within += any(s - 2 <= c <= e + 2 for c in change.get(int(sel[p]), []))
    n_ours = sum(len(same_def.get(int(i), [])) for i in sel)
    n_default = sum(len(change.get(int(i), [])) for i in sel)
    print(f"\nIonDiff {len(theirs)} hops on {len(sel)} ions, ionsitu {n_ours} (same path definition); matched "
          f"{matched} ({matched / len(theirs):.1%}) within 2 frames at both path ends; unmatched {unmatched}; "
          f"default paths: {n_default} hops, {within} of IonDiff's hold one of their cluster changes")
    assert matched >= 0.95 * len(theirs)
    assert n_ours <= 1.05 * len(theirs) + 1
    assert within >= 0.95 * len(theirs)


def test_cli_hops_sitefree_reads_a_trajectory(tmp_path):
    """``ionsitu hops DUMP --sitefree TYPE --timestep DT``: the planted hops of a LAMMPS dump
    (mobile type 1 and a fixed atom of type 2), the same events as detect_hops on the arrays."""
    import json

    from ionsitu.cli import main

    pos, t, planted = planted_trajectory()
    T, N = pos.shape[:2]
    box = 30.0
    lines = []
    for k in range(T):
        lines += [f"ITEM: TIMESTEP\n{10 * k}\nITEM: NUMBER OF ATOMS\n{N + 1}\n",
                  f"ITEM: BOX BOUNDS pp pp pp\n0 {box}\n0 {box}\n0 {box}\nITEM: ATOMS id type xu yu zu\n"]
        lines += [f"{i + 1} 1 {x:.6f} {y:.6f} {z:.6f}\n" for i, (x, y, z) in enumerate(pos[k] + 10.0)]
        lines.append(f"{N + 1} 2 1.0 1.0 1.0\n")
    dump = tmp_path / "traj.lammpstrj"
    dump.write_text("".join(lines))
    out = tmp_path / "hops.json"
    assert main(["hops", str(dump), "--sitefree", "1", "--timestep", "0.001", "--corr-random", "0",
                 "--json", str(out)]) == 0
    s = json.loads(out.read_text())[str(dump)]
    ref = detect_hops(np.round(pos + 10.0, 6), np.arange(T) * 0.01, atom_ids=np.arange(1, N + 1)).events
    assert len(ref) == len(planted) and s["n_hops"] == len(ref)
    assert s["n_ions"] == N and s["n_ions_hopped"] == 4 and s["total_time"] == pytest.approx((T - 1) * 0.01)
    assert main(["hops", str(dump), "--sitefree", "1"]) == 2                # no --timestep
    assert main(["hops", str(dump), "--sitefree", "7", "--timestep", "0.001"]) == 2

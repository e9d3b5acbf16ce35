"""Exact numpy reference of the order-n multiple-window MSD (``fix msd/cross``).

Given unwrapped positions, :func:`reference_msd` returns an
:class:`ionsitu.io.msd.MSDResult` with exactly the lag structure and averages that the
in-situ correlator produces:

- samples s = 0..S-1 (taken every ``nevery`` MD steps, ``dt`` time units per step);
- level l = 0..L-1 holds the samples with s % m**l == 0, J_l = (S-1)//m**l + 1 of them;
- the lags of level l are k*m**l samples, k = 1..m-1 (lag_steps = k*m**l*nevery),
  averaged over the J_l - k origin pairs (j-k, j) of that level, so
  ``n_origins = max(0, J_l - k)``; a lag with no origin has every value 0.

Averages (N = number of atoms given, dr_i = r_i(origin + lag) - r_i(origin)):

- ``msd_xyz``   1/N sum_i <dr_i,d^2>  (d = x, y, z; column 3 = sum)
- ``msd4``      1/N sum_i <|dr_i|^4>
- ``coll_xyz``  1/N <(sum_i dr_i,d)^2>
- with charges: ``charge_xyz`` 1/N <(sum_a q_a dR_a,d)^2>, dR_a = sum_{i in a} dr_i,
  and ``onsager[a, b]`` 1/N <dR_a,d dR_b,d>

where <.> is the mean over the origins of the lag. Drift: positions are used as given,
or minus ``drift`` (an (S, 3) array, e.g. the centre of mass of the whole system).
"""

from __future__ import annotations

import numpy as np

from ionsitu.io.msd import MSDResult


def lag_structure(S: int, m: int, L: int):
    """(lag in samples, level, k, n_origins) for every lag of the correlator, in order."""
    rows = []
    for level in range(L):
        h = m ** level
        J = (S - 1) // h + 1
        for k in range(1, m):
            rows.append((k * h, level, k, max(0, J - k)))
    return rows


def reference_msd(positions, m: int, L: int, nevery: int = 1, dt: float = 1.0, *,
                  types=None, charges=None, units: str = "lj", volume: float = 1.0,
                  drift=None) -> MSDResult:
    """All-origin-per-level MSD of unwrapped ``positions`` (S, N, 3), direct numpy.

    ``types``: per-atom integer types (N,) (default: all 1). ``charges``: charge of each
    distinct type, in the order of ``sorted(set(types))``; when given, ``charge_xyz`` and
    ``onsager`` are computed. ``drift``: optional (S, 3) array subtracted from every atom.
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must have shape (S, N, 3), got {pos.shape}")
    if m < 2 or L < 1:
        raise ValueError(f"need block m >= 2 and levels L >= 1, got m={m}, L={L}")
    S, N, _ = pos.shape
    if drift is not None:
        drift = np.asarray(drift, dtype=float)
        pos = pos - drift[:, None, :]
    atom_types = np.ones(N, dtype=int) if types is None else np.asarray(types, dtype=int)
    species = np.unique(atom_types)
    onehot = (atom_types[None, :] == species[:, None]).astype(float)  # (ns, N)
    q = None if charges is None else np.asarray(charges, dtype=float)
    if q is not None and q.shape != species.shape:
        raise ValueError(f"need one charge per type {species.tolist()}, got {q.tolist()}")

    rows = lag_structure(S, m, L)
    nl = len(rows)
    msd_xyz = np.zeros((nl, 4))
    msd4 = np.zeros(nl)
    coll_xyz = np.zeros((nl, 4))
    charge_xyz = np.zeros((nl, 4)) if q is not None else None
    onsager = np.zeros((len(species), len(species), nl, 4)) if q is not None else None
    for i, (lag, level, k, n_orig) in enumerate(rows):
        if n_orig == 0:
            continue
        sub = pos[:: m ** level]                      # the J_l samples of this level
        dr = sub[k:] - sub[:-k]                       # (J_l - k, N, 3): pairs (j-k, j)
        sq = dr ** 2
        msd_xyz[i, :3] = sq.mean(axis=(0, 1))
        r2 = sq.sum(axis=2)
        msd4[i] = (r2 ** 2).mean()
        tot = dr.sum(axis=1)                          # (origins, 3)
        coll_xyz[i, :3] = (tot ** 2).mean(axis=0) / N
        if q is not None:
            dR = np.einsum("an,ond->oad", onehot, dr)  # (origins, ns, 3)
            Q = np.einsum("a,oad->od", q, dR)
            charge_xyz[i, :3] = (Q ** 2).mean(axis=0) / N
            onsager[:, :, i, :3] = np.einsum("oad,obd->abd", dR, dR) / (N * dR.shape[0])
    for arr in (msd_xyz, coll_xyz, charge_xyz):
        if arr is not None:
            arr[:, 3] = arr[:, :3].sum(axis=1)
    if onsager is not None:
        onsager[..., 3] = onsager[..., :3].sum(axis=-1)

    lag_steps = np.array([r[0] for r in rows], dtype=np.int64) * nevery
    meta = {
        "natoms": N,
        "dt": float(dt),
        "units": units,
        "volume": float(volume),
        "types": species.tolist(),
        "charges": [] if q is None else q.tolist(),
        "species_counts": onehot.sum(axis=1).astype(int).tolist(),
        "block": int(m),
        "levels": int(L),
        "nevery": int(nevery),
        "nsamples": int(S),
        "drift": "none" if drift is None else "given",
        "source": "tests/msd_reference.py",
    }
    return MSDResult(
        lag_steps=lag_steps,
        time=lag_steps * float(dt),
        n_origins=np.array([r[3] for r in rows], dtype=np.int64),
        msd_xyz=msd_xyz,
        msd4=msd4,
        coll_xyz=coll_xyz,
        charge_xyz=charge_xyz,
        onsager=onsager,
        meta=meta,
    )


def random_walk(rng, S: int, N: int, D, tau: float, pairs: bool = False):
    """Gaussian random walk positions (S, N, 3), per-direction diffusion D (scalar or 3).

    Step variance per direction 2 D_d tau. ``pairs=True``: atoms 2j and 2j+1 move
    identically (perfectly correlated pairs; N must be even).
    """
    D = np.broadcast_to(np.asarray(D, dtype=float), (3,))
    n_indep = N // 2 if pairs else N
    steps = rng.standard_normal((S - 1, n_indep, 3)) * np.sqrt(2.0 * D * tau)
    pos = np.concatenate([np.zeros((1, n_indep, 3)), np.cumsum(steps, axis=0)])
    if pairs:
        pos = np.repeat(pos, 2, axis=1)
    return pos


FIELDS = ("msd_xyz", "msd4", "coll_xyz", "charge_xyz", "onsager")


def assert_same_msd(got: MSDResult, want: MSDResult, rtol: float = 1e-10, atol_frac: float = 1e-3):
    """Every column of two MSD results equal: lags and origin counts exactly, values to
    `rtol` (and an absolute floor of rtol * atol_frac * the column's largest value, for
    entries near zero)."""
    np.testing.assert_array_equal(got.lag_steps, want.lag_steps)
    np.testing.assert_array_equal(got.n_origins, want.n_origins)
    np.testing.assert_allclose(got.time, want.time, rtol=1e-14)
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        if b is None:
            assert a is None, name
            continue
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * atol_frac * np.abs(b).max(), err_msg=name)

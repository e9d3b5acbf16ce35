"""Analysis of hop (jump) events: rates, residence, jump diffusion, E_a, networks, correlations.

METHODS.md sections 3 and 4. Events come from ``fix hop/events`` / the offline core
(:func:`events_from_core`) or any other detector (:func:`make_events`).

Event table: a numpy structured array of dtype :data:`EVENT_DTYPE`, sorted by (step,
atom_id), one row per hop:

=============  ======  ==================================================================
field          type    meaning (units: those of the run; time e.g. ps, length e.g. Å)
=============  ======  ==================================================================
step           int64   MD step of arrival at the destination (back-dated, see the core)
time           float   time of arrival (= step * timestep)
atom_id        int64   atom tag
from_site      int64   origin site index (-1 in site-free mode)
to_site        int64   destination site index (-1 in site-free mode)
dx, dy, dz     float   displacement vector travelled (unwrapped), length
fx, fy, fz     float   origin position (site centre / vibration centre), NaN if unknown
tx, ty, tz     float   destination position, NaN if unknown
residence      float   time on the origin site, arrival to arrival (time units)
duration       float   hop duration: last sample on the origin to arrival (time units)
censored       bool    the arrival on the origin was not observed (ion there at start)
=============  ======  ==================================================================

Conventions (stated once here, repeated in each function):

- N is the number of mobile ions, t the observed time (time units). Jump type = ordered
  site pair (a, b) (``directed=True``) or unordered {a, b}.
- Jump rate Γ_i = J_i / (N t): jumps of type i per ion per time (1/time).
- Jump diffusivity (Einstein–Smoluchowski, tracer-like, no correlations):
  D_j = Σ_i Γ_i <a_i²> / (2 d) = Σ_hops |Δr|² / (2 d N t) (length²/time), d = 3; per
  direction D_j,x = Σ Δx² / (2 N t). With <a_i²> the mean squared jump length of type i.
- E_a,i = -kB T ln(J_i / (t N_i ν*)), N_i = ions that made a jump of type i (or all N);
  energy units of kB T (eV with kB in eV/K, the default).
- Backjump: hop k of an ion whose destination is the origin of its previous hop k-1.
- Times of correlated-hop windows and Gaussian widths are in time units. The window is
  inclusive (|Δt| <= window; on a sampling grid compared in whole samples). The window
  method's fraction of collective hops comes with its chance level (:func:`correlated_hops`:
  each ion's hop train circularly shifted in time at random, seeded): report observed,
  chance and excess together.
- Jump classes (:func:`jump_classes`): symmetry-equivalent jump types of a crystal share
  the hop length (and, when given, the kinds of their origin and destination sites). Hop
  lengths are clustered 1-D by single linkage: sorted lengths split where the gap to the
  next exceeds ``rel_tol`` x the length (default 5 %) or ``tol`` (absolute). The
  per-site-pair view (``jump_rates``, ``activation_energies(by="pair")``) stays available.
  For a class c: Γ_c = J_c/(N t) (rate per ion), multiplicity z_c = mean number of class-c
  destinations per origin site (from the site geometry when given, else the distinct
  destinations observed), E_a,c = -kB T ln(J_c/(t N_c z_c ν*)) with N_c ions taking part:
  the per-direction rate of the class in the METHODS formula, so that a crystal's
  equivalent jumps give one E_a.
- Event logs of ``fix hop/events`` are read by :func:`read_events`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .sites import _min_image_frac
from .units import KB_EV

__all__ = [
    "EVENT_DTYPE",
    "CORE_EVENT_DOUBLES",
    "EVENT_LOG_MAGIC",
    "EVENT_LOG_COLUMNS",
    "is_event_file",
    "read_events",
    "observed_time",
    "JumpClasses",
    "jump_classes",
    "JumpClassStats",
    "jump_class_rates",
    "make_events",
    "events_from_core",
    "JumpStats",
    "jump_rates",
    "ResidenceStats",
    "residence_times",
    "residence_time_distribution",
    "JumpDiffusivity",
    "jump_diffusivity",
    "ActivationEnergies",
    "activation_energies",
    "estimate_attempt_frequency",
    "BackjumpStats",
    "backjump_fraction",
    "site_trajectory",
    "ResidenceACF",
    "residence_autocorrelation",
    "chudley_elliott_length",
    "jump_network",
    "Connectivity",
    "network_connectivity",
    "graph_order_parameter",
    "ExpFit",
    "fit_exponential_decay",
    "ChanceReference",
    "CorrelatedHops",
    "correlated_hops",
    "log_time_grid",
    "correlated_hops_of_log",
    "CorrelationGroups",
    "correlation_matrix_method",
]

EVENT_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("time", np.float64),
        ("atom_id", np.int64),
        ("from_site", np.int64),
        ("to_site", np.int64),
        ("dx", np.float64),
        ("dy", np.float64),
        ("dz", np.float64),
        ("fx", np.float64),
        ("fy", np.float64),
        ("fz", np.float64),
        ("tx", np.float64),
        ("ty", np.float64),
        ("tz", np.float64),
        ("residence", np.float64),
        ("duration", np.float64),
        ("censored", np.bool_),
    ]
)

#: doubles per event in the C++ core's serialisation (HopEvent::kDoubles)
CORE_EVENT_DOUBLES = 16

#: first word(s) of an event log of fix hop/events, and its data columns (version 1)
EVENT_LOG_MAGIC = "# ionsitu-hops"
EVENT_LOG_COLUMNS = ("step atom_id from_site to_site fx fy fz tx ty tz dx dy dz origin_arrival_step "
                     "origin_last_step flags").split()


# --------------------------------------------------------------------------- construction


def _positive(name, v, allow_zero=False):
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v}")
    return float(v)


def _vec(name, v, n, dtype=float, fill=None):
    if v is None:
        return np.full(n, fill, dtype=dtype)
    a = np.asarray(v, dtype=dtype)
    if a.shape == ():
        a = np.full(n, a, dtype=dtype)
    if a.shape != (n,):
        raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
    return a


def make_events(atom_id, from_site, to_site, displacement, *, step=None, time=None, timestep=None,
                residence=None, duration=None, censored=None, from_pos=None, to_pos=None) -> np.ndarray:
    """Build an event table (:data:`EVENT_DTYPE`), sorted by (step, atom_id).

    Give ``time`` (time units) and/or ``step`` (+ ``timestep``: time = step * timestep).
    ``displacement``: (n, 3) length units. Optional per-event arrays: residence and duration
    (time units, NaN if absent), censored (bool), from_pos / to_pos ((n, 3), NaN if absent).
    """
    ids = np.atleast_1d(np.asarray(atom_id, dtype=np.int64))
    n = len(ids)
    disp = np.asarray(displacement, dtype=float).reshape(-1, 3) if n else np.zeros((0, 3))
    if disp.shape != (n, 3):
        raise ValueError(f"displacement has shape {np.shape(displacement)}, expected ({n}, 3)")
    if time is None and step is None:
        raise ValueError("give time (time units) or step (with timestep)")
    if step is not None:
        step = _vec("step", step, n, np.int64)
    if time is None:
        if timestep is None:
            raise ValueError("time not given: timestep is needed to convert steps to time")
        _positive("timestep", timestep)
        time = step.astype(float) * timestep
    time = _vec("time", time, n)
    if step is None:
        step = np.zeros(n, dtype=np.int64) if timestep is None else np.rint(time / timestep).astype(np.int64)
    if not np.all(np.isfinite(time)):
        raise ValueError("event times must be finite")
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["step"] = step
    ev["time"] = time
    ev["atom_id"] = ids
    ev["from_site"] = _vec("from_site", from_site, n, np.int64)
    ev["to_site"] = _vec("to_site", to_site, n, np.int64)
    ev["dx"], ev["dy"], ev["dz"] = disp.T
    for name, pos, keys in (("from_pos", from_pos, "fx fy fz"), ("to_pos", to_pos, "tx ty tz")):
        if pos is None:
            p = np.full((n, 3), np.nan)
        else:
            p = np.asarray(pos, dtype=float).reshape(-1, 3)
            if p.shape != (n, 3):
                raise ValueError(f"{name} has shape {np.shape(pos)}, expected ({n}, 3)")
        for k, key in enumerate(keys.split()):
            ev[key] = p[:, k]
    ev["residence"] = _vec("residence", residence, n, fill=np.nan)
    ev["duration"] = _vec("duration", duration, n, fill=np.nan)
    ev["censored"] = _vec("censored", censored, n, np.bool_, fill=False)
    return np.sort(ev, order=["step", "time", "atom_id"], kind="stable")


def events_from_core(data, timestep: float) -> np.ndarray:
    """Event table from the C++ core's serialised events (HopEvent::kDoubles = 16 doubles each).

    Layout per event: step, atom_id, from_site, to_site, from_x[3], to_x[3], disp[3],
    origin_arrival_step, origin_last_step, flags. ``timestep``: MD time step (time units).
    residence = (step - origin_arrival_step) * timestep, duration = (step - origin_last_step)
    * timestep, censored = flags & 1.
    """
    d = np.asarray(data, dtype=float)
    if d.ndim == 1:
        if d.size % CORE_EVENT_DOUBLES:
            raise ValueError(f"core event data has {d.size} values, not a multiple of {CORE_EVENT_DOUBLES}")
        d = d.reshape(-1, CORE_EVENT_DOUBLES)
    if d.ndim != 2 or d.shape[1] != CORE_EVENT_DOUBLES:
        raise ValueError(f"core event data must be (n, {CORE_EVENT_DOUBLES}), got {d.shape}")
    _positive("timestep", timestep)
    step = np.rint(d[:, 0]).astype(np.int64)
    return make_events(
        np.rint(d[:, 1]).astype(np.int64), np.rint(d[:, 2]).astype(np.int64), np.rint(d[:, 3]).astype(np.int64),
        d[:, 10:13], step=step, timestep=timestep,
        residence=(step - np.rint(d[:, 13])) * timestep, duration=(step - np.rint(d[:, 14])) * timestep,
        censored=(np.rint(d[:, 15]).astype(np.int64) & 1).astype(bool), from_pos=d[:, 4:7], to_pos=d[:, 7:10],
    )


# --------------------------------------------------------------------------- event logs


def is_event_file(path) -> bool:
    """True if ``path`` starts like an event log of fix hop/events."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(EVENT_LOG_MAGIC)).decode(errors="replace") == EVENT_LOG_MAGIC
    except OSError:
        return False


def read_events(path):
    """Read an event log of fix hop/events (format ``# ionsitu-hops 1``, see
    docs/fixes_occupancy_hops.md) -> (event table :data:`EVENT_DTYPE`, meta dict).

    The observation time for rates is ``observed_time(meta)`` = (step_last - step_first) *
    dt and N = ``meta["natoms"]``. Raises ValueError naming the file and line on a
    malformed file.
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    if not lines or lines[0].split()[:2] != ["#", "ionsitu-hops"]:
        raise ValueError(f"{path}:1: not an ionsitu hop-event log (first line must be '# ionsitu-hops 1')")
    version = lines[0].split()[2] if len(lines[0].split()) > 2 else "?"
    if version != "1":
        raise ValueError(f"{path}:1: unsupported event-log version {version} (this reader knows 1)")
    if len(lines) < 3 or not lines[1].startswith("# meta ") or not lines[2].startswith("# columns "):
        raise ValueError(f"{path}:2: expected '# meta {{json}}' and '# columns ...' header lines")
    try:
        meta = json.loads(lines[1][len("# meta "):])
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:2: bad meta JSON: {err}") from None
    if lines[2].split()[2:] != EVENT_LOG_COLUMNS:
        raise ValueError(f"{path}:3: unexpected columns {lines[2].split()[2:]}")
    ncol = len(EVENT_LOG_COLUMNS)
    body = [line for line in lines[3:] if line.strip()]
    try:  # fast path (numpy's C parser): every row well formed
        data = np.loadtxt(body, dtype=float, ndmin=2, comments=None) if body else np.zeros((0, ncol))
        ok = data.shape == (len(body), ncol)
    except ValueError:
        ok = False
    if not ok:  # find and name the first bad line
        for i, line in enumerate(lines[3:], start=4):
            if not line.strip():
                continue
            vals = line.split()
            if len(vals) != ncol:
                raise ValueError(f"{path}:{i}: expected {ncol} values, found {len(vals)}")
            try:
                [float(v) for v in vals]
            except ValueError:
                raise ValueError(f"{path}:{i}: bad number in {line!r}") from None
        data = np.array([[float(v) for v in line.split()] for line in body], dtype=float)  # what float() reads
    data = data.reshape(-1, ncol)
    return events_from_core(data, float(meta["dt"])), meta


def observed_time(meta) -> float:
    """Observation time of an event log: (step_last - step_first) * dt (time units)."""
    return (int(meta["step_last"]) - int(meta["step_first"])) * float(meta["dt"])


def _check_events(events) -> np.ndarray:
    ev = np.asarray(events)
    if ev.dtype != EVENT_DTYPE:
        missing = [f for f in EVENT_DTYPE.names if ev.dtype.names is None or f not in ev.dtype.names]
        if missing:
            raise ValueError(f"events must be an EVENT_DTYPE table (see make_events); missing fields {missing}")
        ev = ev.astype(EVENT_DTYPE)
    return ev.ravel()


def _disp(ev) -> np.ndarray:
    return np.stack([ev["dx"], ev["dy"], ev["dz"]], axis=1)


def _by_atom(ev):
    """Indices of ev grouped by atom, each group in time order."""
    order = np.lexsort((ev["atom_id"], ev["time"], ev["step"]))
    order = order[np.argsort(ev["atom_id"][order], kind="stable")]
    ids = ev["atom_id"][order]
    cuts = np.flatnonzero(np.diff(ids)) + 1
    return np.split(order, cuts) if len(order) else []


# --------------------------------------------------------------------------- rates


@dataclass
class JumpStats:
    """Per jump type: pairs (m, 2) [from, to] (sorted pair if undirected), count J (m,),
    rate Γ = J/(N t) (1/time), n_participating (m,) distinct ions, mean_length <|Δr|>
    and mean_sq_length <|Δr|²> (length, length²), mean_displacement (m, 3)."""

    pairs: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    n_participating: np.ndarray
    mean_length: np.ndarray
    mean_sq_length: np.ndarray
    mean_displacement: np.ndarray
    n_ions: int
    total_time: float


def _n_distinct(label, atom_id, m) -> np.ndarray:
    """(m,) number of distinct atoms among the events of each label 0..m-1 (label -1: none)."""
    ok = label >= 0
    lab, ids = label[ok], atom_id[ok]
    o = np.lexsort((ids, lab))
    lab, ids = lab[o], ids[o]
    new = np.ones(len(lab), dtype=bool)
    new[1:] = (lab[1:] != lab[:-1]) | (ids[1:] != ids[:-1])
    return np.bincount(lab[new], minlength=m).astype(np.int64)


def _jump_types(ev, directed=True):
    a, b = ev["from_site"], ev["to_site"]
    if not directed:
        a, b = np.minimum(a, b), np.maximum(a, b)
    pairs, inv = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    return pairs.reshape(-1, 2), np.asarray(inv).ravel()


def jump_rates(events, n_ions: int, total_time: float, directed: bool = True) -> JumpStats:
    """Jump rates per jump type: Γ_i = J_i / (N t) (1/time), N = ``n_ions``, t = ``total_time``."""
    ev = _check_events(events)
    n_ions = int(_positive("n_ions", n_ions))
    total_time = _positive("total_time", total_time)
    pairs, inv = _jump_types(ev, directed)
    m = len(pairs)
    count = np.bincount(inv, minlength=m)
    d = _disp(ev)
    r2 = np.sum(d * d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_len = np.bincount(inv, weights=np.sqrt(r2), minlength=m) / count
        mean_sq = np.bincount(inv, weights=r2, minlength=m) / count
        mean_d = np.stack([np.bincount(inv, weights=d[:, k], minlength=m) for k in range(3)], axis=1) / count[:, None]
    npart = _n_distinct(inv, ev["atom_id"], m)
    return JumpStats(pairs=pairs, count=count, rate=count / (n_ions * total_time), n_participating=npart,
                     mean_length=mean_len, mean_sq_length=mean_sq, mean_displacement=mean_d,
                     n_ions=n_ions, total_time=total_time)


# --------------------------------------------------------------------------- jump classes


@dataclass
class JumpClasses:
    """Jump classes: hop-length clusters (x site kinds), from :func:`jump_classes`.

    length (k,) mean hop length of each class; cluster (k,) its length cluster;
    cluster_min, cluster_max (c,) range of the lengths that formed each cluster; kinds (k, 2)
    (origin kind, destination kind), -1 when no site kinds were given; rel_tol, tol: the
    clustering tolerances. Classes are ordered by length, then kinds. :meth:`assign`
    labels events (-1: no class within tolerance).
    """

    length: np.ndarray
    cluster: np.ndarray
    cluster_min: np.ndarray
    cluster_max: np.ndarray
    kinds: np.ndarray
    rel_tol: float
    tol: float

    def __len__(self):
        return len(self.length)

    @property
    def length_min(self):
        return self.cluster_min[self.cluster]

    @property
    def length_max(self):
        return self.cluster_max[self.cluster]

    def _thr(self, L):
        return np.maximum(self.tol, self.rel_tol * np.asarray(L, dtype=float))

    def length_cluster(self, lengths) -> np.ndarray:
        """Length cluster of each length (nearest within tolerance) or -1."""
        L = np.asarray(lengths, dtype=float)
        out = np.full(L.shape, -1, dtype=np.int64)
        best = np.full(L.shape, np.inf)
        thr = self._thr(L)
        for c in range(len(self.cluster_min)):
            d = np.maximum(np.maximum(self.cluster_min[c] - L, L - self.cluster_max[c]), 0.0)
            ok = (d <= thr) & (d < best)
            out[ok], best[ok] = c, d[ok]
        return out

    def assign(self, events, site_kind=None) -> np.ndarray:
        """Class label (n,) of every event (-1: none fits); ``site_kind`` as for jump_classes."""
        ev = _check_events(events)
        cl = self.length_cluster(np.linalg.norm(_disp(ev), axis=1))
        ka, kb = _kinds(ev, site_kind)
        out = np.full(len(ev), -1, dtype=np.int64)
        for i, (c, (a, b)) in enumerate(zip(self.cluster, self.kinds)):  # (cluster, kinds) are unique
            out[(cl == c) & (ka == a) & (kb == b)] = i
        return out

    def describe(self, i) -> str:
        k = "" if self.kinds[i, 0] < 0 else f" kind {self.kinds[i, 0]}->{self.kinds[i, 1]}"
        return f"|dr| = {self.length[i]:.4g}{k}"


def _kinds(ev, site_kind):
    if site_kind is None:
        return np.full(len(ev), -1, np.int64), np.full(len(ev), -1, np.int64)
    sk = np.asarray(site_kind, dtype=np.int64)
    if np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0):
        raise ValueError("site_kind needs site indices; events contain site -1 (site-free mode)")
    if len(ev) and max(ev["from_site"].max(), ev["to_site"].max()) >= len(sk):
        raise ValueError(f"site_kind has {len(sk)} entries; events name site {max(ev['from_site'].max(), ev['to_site'].max())}")
    return sk[ev["from_site"]], sk[ev["to_site"]]


def jump_classes(events, rel_tol: float = 0.05, tol: float = 0.0, site_kind=None) -> JumpClasses:
    """Symmetry-equivalent jump classes: hop lengths clustered within a tolerance.

    ``events``: one event table or a list of them (e.g. every replica and temperature of a
    campaign, so all share the classes). Hop lengths |Δr| are sorted and split where the gap
    between neighbours exceeds max(``tol``, ``rel_tol`` x length) (single linkage); each
    cluster is one class. With ``site_kind`` (n_sites,) int (e.g. the Wyckoff position or
    species of each site) a class is further split by (origin kind, destination kind).
    In a crystal all equivalent jumps have one length, so they form one class.
    """
    tables = [events] if isinstance(events, np.ndarray) else list(events)
    tables = [_check_events(e) for e in tables]
    rel_tol = _positive("rel_tol", rel_tol, allow_zero=True)
    tol = _positive("tol", tol, allow_zero=True)
    L = np.concatenate([np.linalg.norm(_disp(e), axis=1) for e in tables]) if tables else np.zeros(0)
    ks = [_kinds(e, site_kind) for e in tables]
    ka = np.concatenate([k[0] for k in ks]) if ks else np.zeros(0, np.int64)
    kb = np.concatenate([k[1] for k in ks]) if ks else np.zeros(0, np.int64)
    if len(L) == 0:
        z = np.zeros(0)
        return JumpClasses(z, np.zeros(0, np.int64), z, z, np.zeros((0, 2), np.int64), rel_tol, tol)
    order = np.argsort(L, kind="stable")
    Ls = L[order]
    gap = np.diff(Ls) > np.maximum(tol, rel_tol * Ls[:-1])
    cl_sorted = np.r_[0, np.cumsum(gap)]
    cl = np.empty(len(L), np.int64)
    cl[order] = cl_sorted
    lo = np.array([Ls[cl_sorted == c].min() for c in range(cl_sorted[-1] + 1)])
    hi = np.array([Ls[cl_sorted == c].max() for c in range(cl_sorted[-1] + 1)])
    keys = np.unique(np.stack([cl, ka, kb], axis=1), axis=0)
    length = np.array([L[(cl == c) & (ka == a) & (kb == b)].mean() for c, a, b in keys])
    return JumpClasses(length=length, cluster=keys[:, 0].astype(np.int64), cluster_min=lo, cluster_max=hi,
                       kinds=keys[:, 1:3].astype(np.int64), rel_tol=rel_tol, tol=tol)


@dataclass
class JumpClassStats:
    """Per jump class (see :func:`jump_class_rates`): classes (the :class:`JumpClasses`),
    label (n_events,) class of each hop (-1 unclassified); per class (k,): count J, rate
    Γ_c = J/(N t) (1/time, per ion), n_participating N_c, multiplicity z_c (mean class-c
    destinations per origin site) and its source ("sites" or "observed"), rate_per_direction
    J/(t N_c z_c) (0 for a class without hops), mean_length, mean_sq_length, n_pairs (distinct ordered site pairs seen),
    D (k,) contribution Σ_c |Δr|²/(2 d N t) to D_j; pairs (m, 2) and pair_class (m,) link the
    per-site-pair view to the classes; unclassified: hops in no class."""

    classes: JumpClasses
    label: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    n_participating: np.ndarray
    multiplicity: np.ndarray
    multiplicity_source: str
    rate_per_direction: np.ndarray
    mean_length: np.ndarray
    mean_sq_length: np.ndarray
    n_pairs: np.ndarray
    D: np.ndarray
    pairs: np.ndarray
    pair_class: np.ndarray
    unclassified: int
    n_ions: int
    total_time: float


def _site_pairs(sf, cell, origins, r_max):
    """Site pairs (s, t, d) with s in ``origins``, t != s and minimum-image distance d <=
    ``r_max``, sorted by (s, t): candidates from :func:`ionsitu.core.close_pairs` (periodic
    cell list, any cell shape; cutoff widened by rounding), d then exactly as
    :func:`_min_image_frac` gives it."""
    from .core import close_pairs

    origins = np.asarray(origins, dtype=np.int64)
    n = len(sf)
    r = r_max * (1 + 1e-9) + 1e-12                    # candidates only: the exact test comes last
    a, b = close_pairs(sf, np.zeros(n), np.arange(n), 0.0, r * r, cell=cell)
    s, t = np.concatenate([a, b]), np.concatenate([b, a])
    mine = np.isin(s, origins)
    s, t = s[mine], t[mine]
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    d = np.linalg.norm(_min_image_frac(sf[t] - sf[s], cell), axis=1)
    keep = d <= r_max
    return s[keep], t[keep], d[keep]


def _site_multiplicity(classes: JumpClasses, site_frac, cell, site_kind, origins) -> np.ndarray:
    sf = np.asarray(site_frac, dtype=float)
    c = np.asarray(cell, dtype=float)
    if sf.ndim != 2 or sf.shape[1] != 3 or c.shape != (3, 3):
        raise ValueError(f"site_frac must be (n, 3) and cell (3, 3); got {sf.shape}, {c.shape}")
    sk = None if site_kind is None else np.asarray(site_kind, dtype=np.int64)
    z = np.zeros(len(classes))
    orgs = []
    for i in range(len(classes)):
        org = np.asarray(origins[i], dtype=np.int64)
        if sk is not None and classes.kinds[i, 0] >= 0:
            of_kind = np.flatnonzero(sk[: len(sf)] == classes.kinds[i, 0])
            org = of_kind if len(of_kind) else org
        orgs.append(org)
    used = [i for i in range(len(classes)) if len(orgs[i])]
    if not used:
        return z
    hi = classes.length_max + classes._thr(classes.length_max)
    s, t, d = _site_pairs(sf, c, np.unique(np.concatenate([orgs[i] for i in used])), float(hi[used].max()))
    for i in used:
        lo = classes.length_min[i] - classes._thr(classes.length_max[i])
        ok = np.isin(s, orgs[i]) & (d >= lo) & (d <= hi[i])
        if sk is not None and classes.kinds[i, 1] >= 0:
            ok &= sk[t] == classes.kinds[i, 1]
        z[i] = int(ok.sum()) / len(orgs[i])
    return z


def jump_class_rates(events, n_ions: int, total_time: float, classes: JumpClasses | None = None,
                     site_frac=None, cell=None, site_kind=None, rel_tol: float = 0.05, tol: float = 0.0,
                     dim: int = 3) -> JumpClassStats:
    """Jump rates per jump class (hop-length cluster x site kinds), METHODS section 3.

    ``classes``: from :func:`jump_classes` (e.g. shared by all runs of a campaign); default:
    the classes of these events with ``rel_tol``/``tol``/``site_kind``. Γ_c = J_c/(N t) per
    ion (1/time); D_c = Σ_{hops in c} |Δr|²/(2 d N t), so Σ_c D_c = D_j of
    :func:`jump_diffusivity` when every hop is classified. Multiplicity z_c: with site
    positions (``site_frac`` (n, 3) and ``cell`` (3, 3)) the mean number of sites at a class-c
    distance (and kind) from the origin sites of class-c hops; else the mean number of
    distinct destinations observed per origin site (a lower bound for rare classes).
    """
    ev = _check_events(events)
    n_ions = int(_positive("n_ions", n_ions))
    total_time = _positive("total_time", total_time)
    if classes is None:
        classes = jump_classes(ev, rel_tol=rel_tol, tol=tol, site_kind=site_kind)
    lab = classes.assign(ev, site_kind=site_kind)
    k = len(classes)
    ok = lab >= 0
    count = np.bincount(lab[ok], minlength=k).astype(np.int64)
    d = _disp(ev)
    r2 = np.sum(d * d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_len = np.bincount(lab[ok], weights=np.sqrt(r2[ok]), minlength=k) / count
        mean_sq = np.bincount(lab[ok], weights=r2[ok], minlength=k) / count
    npart = _n_distinct(lab, ev["atom_id"], k)
    site_mode = len(ev) == 0 or not (np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0))
    if site_mode:
        pairs, inv = _jump_types(ev, directed=True)
        pair_class = np.full(len(pairs), -1, np.int64)
        pair_class[inv] = lab
        n_pairs = np.bincount(pair_class[pair_class >= 0], minlength=k).astype(np.int64)
        origins = [np.unique(ev["from_site"][lab == i]).tolist() for i in range(k)]
    else:
        pairs, pair_class, n_pairs = np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(k, np.int64)
        origins = [[] for _ in range(k)]
    if site_mode and site_frac is not None and cell is not None:
        z = _site_multiplicity(classes, site_frac, cell, site_kind, origins)
        src = "sites"
    elif site_mode:
        z = np.array([len(pairs[pair_class == i]) / max(1, len(origins[i])) for i in range(k)], dtype=float)
        src = "observed"
    else:
        z = np.ones(k)
        src = "none (site-free events: 1)"
    with np.errstate(invalid="ignore", divide="ignore"):
        per_dir = np.where(count > 0, count / (total_time * npart * z), 0.0)  # no hops of a class: rate 0
    Dc = np.bincount(lab[ok], weights=r2[ok], minlength=k) / (2 * dim * n_ions * total_time)
    return JumpClassStats(classes=classes, label=lab, count=count, rate=count / (n_ions * total_time),
                          n_participating=npart, multiplicity=z, multiplicity_source=src,
                          rate_per_direction=per_dir, mean_length=mean_len, mean_sq_length=mean_sq,
                          n_pairs=n_pairs, D=Dc, pairs=pairs, pair_class=pair_class,
                          unclassified=int((~ok).sum()), n_ions=n_ions, total_time=total_time)


# --------------------------------------------------------------------------- residence


@dataclass
class ResidenceStats:
    """Residence times per origin site (time units): site (k,), count, mean, std (k,),
    values {site: array}; all_values: every residence time used."""

    site: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    values: dict
    all_values: np.ndarray


def residence_times(events, include_censored: bool = False) -> ResidenceStats:
    """Residence time on the origin site of every hop (arrival to arrival), per site.

    Censored residences (ion already on the origin at the start; their true length is
    unknown and the recorded one too short) are left out unless ``include_censored``.
    """
    ev = _check_events(events)
    keep = np.isfinite(ev["residence"])
    if not include_censored:
        keep &= ~ev["censored"]
    ev = ev[keep]
    if np.any(ev["residence"] < 0):
        bad = ev["residence"][ev["residence"] < 0]
        raise ValueError(f"negative residence times in events: {bad[:5]}")
    sites = np.unique(ev["from_site"])
    values = {int(s): ev["residence"][ev["from_site"] == s] for s in sites}
    return ResidenceStats(
        site=sites,
        count=np.array([len(values[int(s)]) for s in sites], dtype=np.int64),
        mean=np.array([values[int(s)].mean() for s in sites]),
        std=np.array([values[int(s)].std(ddof=1) if len(values[int(s)]) > 1 else np.nan for s in sites]),
        values=values,
        all_values=ev["residence"].copy(),
    )


def residence_time_distribution(events, bins=50, site=None, include_censored: bool = False):
    """Normalised histogram (probability density, 1/time) of residence times.

    ``site``: only hops leaving that site. Returns (density (nb,), edges (nb+1,)).
    """
    r = residence_times(events, include_censored)
    vals = r.all_values if site is None else r.values.get(int(site))
    if vals is None or len(vals) == 0:
        raise ValueError(f"no residence times{'' if site is None else f' for site {site}'}")
    return np.histogram(vals, bins=bins, density=True)


# --------------------------------------------------------------------------- jump diffusion


@dataclass
class JumpDiffusivity:
    """D (length²/time) = Σ|Δr|²/(2 d N t); D_xyz (3,) per direction = ΣΔr_k²/(2 N t)."""

    D: float
    D_xyz: np.ndarray
    n_hops: int
    dim: int


def jump_diffusivity(events, n_ions: int, total_time: float, dim: int = 3) -> JumpDiffusivity:
    """Jump-rate diffusivity (Einstein–Smoluchowski): D_j = Σ_i Γ_i <a_i²>/(2d).

    Summed over jump types i with Γ_i = J_i/(N t) this is Σ_hops |Δr|²/(2 d N t): every
    hop's squared displacement counts once, assuming uncorrelated hops (tracer-like; compare
    with the MSD tracer D to see correlation effects). ``dim``: dimensionality d (3, or 1/2
    for lower-dimensional conductors with the displacement in those directions).
    """
    ev = _check_events(events)
    n_ions = int(_positive("n_ions", n_ions))
    total_time = _positive("total_time", total_time)
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    d = _disp(ev)
    sq = np.sum(d * d, axis=0)
    return JumpDiffusivity(D=float(sq.sum() / (2 * dim * n_ions * total_time)),
                           D_xyz=sq / (2 * n_ions * total_time), n_hops=len(ev), dim=dim)


# --------------------------------------------------------------------------- activation energies


@dataclass
class ActivationEnergies:
    """E_a per jump type (energy units of kB T): pairs (m, 2), count J, n_ions_used N_i,
    Ea (m,), and over types: mean, std (ddof=1), min, max. asymmetry_pairs (k, 2) [a, b]
    with a < b and both directions observed; asymmetry (k,) = E_a(a→b) - E_a(b→a).

    ``by == "class"``: one entry per jump class instead (``pairs`` then holds the class
    labels twice, ``class_stats`` the :class:`JumpClassStats`, asymmetry between classes of
    reversed site kinds and equal length)."""

    pairs: np.ndarray
    count: np.ndarray
    n_ions_used: np.ndarray
    Ea: np.ndarray
    mean: float
    std: float
    min: float
    max: float
    asymmetry_pairs: np.ndarray
    asymmetry: np.ndarray
    attempt_frequency: float
    temperature: float
    by: str = "pair"
    class_stats: JumpClassStats | None = None


def activation_energies(events, total_time: float, temperature: float, attempt_frequency: float,
                        n_ions: int | None = None, kB: float = KB_EV, by: str = "pair",
                        classes: JumpClasses | None = None, site_frac=None, cell=None, site_kind=None,
                        rel_tol: float = 0.05, tol: float = 0.0) -> ActivationEnergies:
    """Effective activation energy per (directed) jump type, or per jump class, from its frequency.

    ``by="pair"``: E_a,i = -kB T ln(J_i / (t N_i ν*)): J_i jumps of type i in time t
    (``total_time``), N_i ions taking part (distinct ions that made a type-i jump; or
    ``n_ions`` for all types), ν* the attempt frequency (1/time; give it, or estimate it with
    :func:`estimate_attempt_frequency`). Units: kB * temperature (eV by default).
    ``by="class"``: E_a,c = -kB T ln(J_c / (t N_c z_c ν*)) per jump class c of
    :func:`jump_class_rates` (``classes``, ``site_frac``/``cell``, ``site_kind``, tolerances
    passed on), z_c its multiplicity: the per-direction rate, so equivalent jumps of a
    crystal give one E_a. Raises if the argument of ln is >= 1 for some type (ν* too small:
    E_a would be <= 0).
    """
    ev = _check_events(events)
    t = _positive("total_time", total_time)
    T = _positive("temperature", temperature)
    nu = _positive("attempt_frequency", attempt_frequency)
    _positive("kB", kB)
    if by not in ("pair", "class"):
        raise ValueError(f"by must be 'pair' or 'class', got {by!r}")
    if len(ev) == 0:
        raise ValueError("no events")
    cs = None
    if by == "class":
        cs = jump_class_rates(ev, 1 if n_ions is None else n_ions, t, classes=classes, site_frac=site_frac,
                              cell=cell, site_kind=site_kind, rel_tol=rel_tol, tol=tol)
        seen = cs.count > 0
        lab = np.flatnonzero(seen)
        N_i = (cs.n_participating[seen].astype(float) if n_ions is None else np.full(len(lab), float(n_ions)))
        count = cs.count[seen]
        x = count / (t * N_i * cs.multiplicity[seen] * nu)
        pairs = np.stack([lab, lab], axis=1).astype(np.int64)
    else:
        js = jump_rates(ev, 1 if n_ions is None else n_ions, t, directed=True)
        N_i = js.n_participating.astype(float) if n_ions is None else np.full(len(js.pairs), float(n_ions))
        count = js.count
        x = count / (t * N_i * nu)
        pairs = js.pairs
    if np.any(x >= 1):
        i = int(np.argmax(x))
        what = (f"jump class {pairs[i, 0]} ({cs.classes.describe(pairs[i, 0])})" if by == "class"
                else f"jump type {pairs[i].tolist()}")
        raise ValueError(f"{what}: J/(t N nu*) = {x[i]:.4g} >= 1; "
                         f"attempt_frequency {nu} is too small for {count[i]} jumps in {t}")
    Ea = -kB * T * np.log(x)
    ap, asym = [], []
    if by == "pair":
        key = {tuple(p): i for i, p in enumerate(pairs.tolist())}
        for (a, b), i in key.items():
            if a < b and (b, a) in key:
                ap.append((a, b))
                asym.append(Ea[i] - Ea[key[(b, a)]])
    else:
        cls = cs.classes
        key = {(int(cls.cluster[c]), int(cls.kinds[c, 0]), int(cls.kinds[c, 1])): i for i, c in enumerate(pairs[:, 0])}
        for (cl, a, b), i in key.items():
            if a < b and (cl, b, a) in key:
                ap.append((int(pairs[i, 0]), int(pairs[key[(cl, b, a)], 0])))
                asym.append(Ea[i] - Ea[key[(cl, b, a)]])
    return ActivationEnergies(
        pairs=pairs, count=count, n_ions_used=N_i, Ea=Ea, mean=float(Ea.mean()),
        std=float(Ea.std(ddof=1)) if len(Ea) > 1 else float("nan"), min=float(Ea.min()), max=float(Ea.max()),
        asymmetry_pairs=np.array(ap, dtype=np.int64).reshape(-1, 2), asymmetry=np.array(asym, dtype=float),
        attempt_frequency=nu, temperature=T, by=by, class_stats=cs)


def estimate_attempt_frequency(velocities, dt: float, max_frequency: float | None = None) -> float:
    """Attempt frequency ν* as the mean frequency of the vibrational density of states.

    ``velocities``: (n_frames, n_ions, 3) (or (n_frames, n_ions)) of the mobile ions, ideally
    while resident; ``dt``: time between frames. The VDOS g(ν) is the power spectrum of the
    velocities (Fourier transform of the velocity autocorrelation, Wiener–Khinchin), summed
    over ions and directions; ν* = ∫ν g(ν) dν / ∫g(ν) dν over 0 < ν <= max_frequency
    (default: Nyquist). Units: 1/time (not angular). The velocity mean (drift) is removed.
    """
    v = np.asarray(velocities, dtype=float)
    if v.ndim < 2 or v.shape[0] < 4:
        raise ValueError(f"velocities must be (n_frames >= 4, n_ions[, 3]), got shape {v.shape}")
    dt = _positive("dt", dt)
    v = v.reshape(v.shape[0], -1)
    v = v - v.mean(axis=0)
    spec = np.sum(np.abs(np.fft.rfft(v, axis=0)) ** 2, axis=1)
    nu = np.fft.rfftfreq(v.shape[0], d=dt)
    m = nu > 0
    if max_frequency is not None:
        m &= nu <= _positive("max_frequency", max_frequency)
    if spec[m].sum() <= 0:
        raise ValueError("velocities have no fluctuation in the frequency range")
    return float(np.sum(nu[m] * spec[m]) / np.sum(spec[m]))


# --------------------------------------------------------------------------- backjumps


@dataclass
class BackjumpStats:
    """fraction = n_backjumps / n_considered (hops that have a previous hop of the same ion);
    is_backjump (n,) aligned with the event table."""

    fraction: float
    n_backjumps: int
    n_considered: int
    is_backjump: np.ndarray


def backjump_fraction(events, tol: float | None = None) -> BackjumpStats:
    """Fraction of hops that return to the previous site next.

    Hop k of an ion is a backjump if its destination is the origin of the ion's hop k-1
    (site events: to_site[k] == from_site[k-1]). For site-free events (site -1) give
    ``tol`` (length): backjump if |Δr_k + Δr_{k-1}| < tol.
    """
    ev = _check_events(events)
    isb = np.zeros(len(ev), dtype=bool)
    considered = 0
    sitefree = np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0)
    if sitefree and tol is None:
        raise ValueError("events without site indices (site-free mode): give tol (length) for backjumps")
    if tol is not None:
        _positive("tol", tol)
    d = _disp(ev)
    for idx in _by_atom(ev):
        if len(idx) < 2:
            continue
        cur, prev = idx[1:], idx[:-1]
        considered += len(cur)
        if sitefree:
            isb[cur] = np.linalg.norm(d[cur] + d[prev], axis=1) < tol
        else:
            isb[cur] = ev["to_site"][cur] == ev["from_site"][prev]
    nb = int(isb.sum())
    return BackjumpStats(fraction=nb / considered if considered else float("nan"), n_backjumps=nb,
                         n_considered=considered, is_backjump=isb)


# --------------------------------------------------------------------------- residence ACF


def site_trajectory(events, atom_ids, times, initial_sites=None) -> np.ndarray:
    """Site occupied by each ion at each time, reconstructed from its hops.

    ``atom_ids`` (N,), ``times`` (T,) sample times (time units). Site at time t = to_site of
    the ion's last hop with arrival time <= t; before its first hop, ``initial_sites`` (N,)
    if given, else the from_site of its first hop (-1 for an ion that never hopped and has
    no initial site). Returns (T, N) int64.
    """
    ev = _check_events(events)
    ids = np.asarray(atom_ids, dtype=np.int64).ravel()
    times = np.asarray(times, dtype=float).ravel()
    if len(np.unique(ids)) != len(ids):
        raise ValueError("atom_ids contains duplicates")
    unknown = np.setdiff1d(np.unique(ev["atom_id"]), ids)
    if len(unknown):
        raise ValueError(f"events of atoms not in atom_ids: {unknown[:10].tolist()}")
    init = None if initial_sites is None else _vec("initial_sites", initial_sites, len(ids), np.int64)
    out = np.empty((len(times), len(ids)), dtype=np.int64)
    col = {int(a): j for j, a in enumerate(ids)}
    out[:] = -1 if init is None else init[None, :]
    for idx in _by_atom(ev):
        j = col[int(ev["atom_id"][idx[0]])]
        if init is None:
            out[:, j] = ev["from_site"][idx[0]]
        k = np.searchsorted(ev["time"][idx], times, side="right")  # hops arrived by t
        has = k > 0
        out[has, j] = ev["to_site"][idx][k[has] - 1]
    return out


@dataclass
class ResidenceACF:
    """lag (L,) time; c (L,) residence autocorrelation; T = 2 ∫c dτ (time units);
    integral = ∫c dτ."""

    lag: np.ndarray
    c: np.ndarray
    T: float
    integral: float


def residence_autocorrelation(site_traj, dt: float, max_lag: int | None = None) -> ResidenceACF:
    """Residence-time autocorrelation c(τ) = <β(t) β(t+τ)> / <β(t)>.

    ``site_traj`` (T, N) int: site of each ion per sample (-1: on no site), samples ``dt``
    apart. β_t(t') = 1 while the ion stays continuously on the site it occupied at t, so c(τ)
    is the probability that an ion on a site at t is still (without leaving) there at t+τ;
    c(0) = 1. Counted exactly from run lengths L of consecutive samples on one site:
    c(τ) = Σ max(L - τ, 0) / Σ L (runs cut by the ends of the record are included, which
    biases c slightly low at long lags). Residence time T = 2∫c(τ)dτ (METHODS section 3; for
    c = exp(-τ/τ0) the integral is τ0), trapezoid rule up to max_lag samples (default T-1).
    """
    s = np.asarray(site_traj)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] < 2:
        raise ValueError(f"site_traj must be (n_samples >= 2, n_ions), got shape {s.shape}")
    dt = _positive("dt", dt)
    nT = s.shape[0]
    L = nT - 1 if max_lag is None else int(max_lag)
    if not 1 <= L <= nT - 1:
        raise ValueError(f"max_lag must be in [1, {nT - 1}], got {max_lag}")
    runs = []
    for j in range(s.shape[1]):
        col = s[:, j]
        change = np.flatnonzero(np.diff(col)) + 1
        starts = np.r_[0, change]
        lens = np.diff(np.r_[starts, nT])
        runs.append(lens[col[starts] >= 0])
    runs = np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)
    if runs.sum() == 0:
        raise ValueError("no samples on any site (site_traj is all -1)")
    tau = np.arange(L + 1)
    hist = np.bincount(runs, minlength=nT + 1).astype(float)  # number of runs of each length
    lengths = np.arange(len(hist))
    # Σ_runs max(L - τ, 0) for every τ
    c = np.array([np.sum(hist[lengths > k] * (lengths[lengths > k] - k)) for k in tau]) / runs.sum()
    integral = float(np.trapezoid(c, dx=dt)) if hasattr(np, "trapezoid") else float(np.trapz(c, dx=dt))
    return ResidenceACF(lag=tau * dt, c=c, T=2 * integral, integral=integral)


def chudley_elliott_length(D, tau, dim: int = 3) -> float:
    """Chudley–Elliott jump length l = sqrt(2 d D τ) (= sqrt(6 D τ) in 3D).

    D: tracer diffusion coefficient (length²/time), τ: residence time (time units)."""
    D = _positive("D", D, allow_zero=True)
    tau = _positive("tau", tau, allow_zero=True)
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    return float(np.sqrt(2 * dim * D * tau))


# --------------------------------------------------------------------------- jump network


def _nx():
    try:
        import networkx as nx
    except ImportError as err:  # pragma: no cover
        raise ImportError("the jump network needs the 'networkx' package (pip install networkx)") from err
    return nx


def jump_network(events, n_sites: int | None = None, site_positions=None):
    """Directed jump network (networkx.DiGraph).

    Nodes: site indices (0..n_sites-1 if given, else the sites seen in the events), with
    attribute ``pos`` from ``site_positions`` (n_sites, 3) if given. Edge i→j attributes:
    ``count`` J_ij and ``weight`` = P(i→j) = J_ij / Σ_k J_ik (probability that a hop leaving
    i goes to j). Site-free events (site -1) are refused.
    """
    nx = _nx()
    ev = _check_events(events)
    if np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0):
        raise ValueError("the jump network needs site indices; events contain site -1 (site-free mode)")
    G = nx.DiGraph()
    seen = np.unique(np.r_[ev["from_site"], ev["to_site"]])
    if n_sites is not None:
        if len(seen) and seen.max() >= n_sites:
            raise ValueError(f"site index {int(seen.max())} >= n_sites {n_sites}")
        nodes = range(int(n_sites))
    else:
        nodes = seen.tolist()
    pos = None if site_positions is None else np.asarray(site_positions, dtype=float)
    for s in nodes:
        if pos is not None:
            G.add_node(int(s), pos=pos[int(s)])
        else:
            G.add_node(int(s))
    pairs, inv = _jump_types(ev, directed=True)
    count = np.bincount(inv, minlength=len(pairs))
    out_tot = {}
    for (a, _b), c in zip(pairs.tolist(), count.tolist()):
        out_tot[a] = out_tot.get(a, 0) + c
    for (a, b), c in zip(pairs.tolist(), count.tolist()):
        G.add_edge(a, b, count=int(c), weight=c / out_tot[a])
    return G


@dataclass
class Connectivity:
    """Connectivity of the jump network (undirected, weakly connected components).

    component (n_sites,) component label per site; sizes (c,) sites per component;
    largest_fraction: largest component / all sites; dimensionality (c,): number of
    independent lattice directions in which the component winds around the periodic cell
    (0: finite cluster, 1: percolating channel, 2: layer, 3: 3D network; -1 unknown without
    site positions); percolating: any dimensionality >= 1; windings {component: (k, 3) int}
    independent cell-translation vectors spanned by its cycles.
    """

    component: np.ndarray
    sizes: np.ndarray
    largest_fraction: float
    dimensionality: np.ndarray
    percolating: bool
    windings: dict


def network_connectivity(events, n_sites: int, site_frac=None, cell=None) -> Connectivity:
    """Connectivity and percolation of the jump network.

    With ``site_frac`` (n_sites, 3) and ``cell`` (3, 3) rows a, b, c, every hop gets the cell
    translation it crosses, n = round(s_from + Δr·cell⁻¹ - s_to) ∈ Z³ (Δr: the recorded
    unwrapped displacement). Walking the component's spanning tree assigns an image vector p
    to each site; every further edge closes a cycle of winding p_u + n - p_v. The rank of
    those windings is the component's dimensionality (percolation through the periodic
    system in that many directions).
    """
    ev = _check_events(events)
    if np.any(ev["from_site"] < 0) or np.any(ev["to_site"] < 0):
        raise ValueError("connectivity needs site indices; events contain site -1 (site-free mode)")
    n_sites = int(_positive("n_sites", n_sites))
    if len(ev) and max(ev["from_site"].max(), ev["to_site"].max()) >= n_sites:
        raise ValueError(f"site index {int(max(ev['from_site'].max(), ev['to_site'].max()))} >= n_sites {n_sites}")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b = ev["from_site"], ev["to_site"]
    A = coo_matrix((np.ones(len(ev)), (a, b)), shape=(n_sites, n_sites))
    ncomp, label = connected_components(A, directed=True, connection="weak")
    sizes = np.bincount(label, minlength=ncomp)
    dims = np.full(ncomp, -1, dtype=np.int64)
    windings = {}
    if site_frac is not None and cell is not None:
        sf = np.asarray(site_frac, dtype=float)
        if sf.shape != (n_sites, 3):
            raise ValueError(f"site_frac has shape {sf.shape}, expected ({n_sites}, 3)")
        c = np.asarray(cell, dtype=float)
        if c.shape != (3, 3):
            raise ValueError(f"cell must be (3, 3) rows a, b, c; got shape {c.shape}")
        dfrac = np.linalg.solve(c.T, _disp(ev).T).T
        shift = np.rint(sf[a] + dfrac - sf[b]).astype(np.int64)
        resid = np.abs(sf[a] + dfrac - sf[b] - shift).max() if len(ev) else 0.0
        if resid > 0.05:
            raise ValueError(f"hop displacements do not join the given site positions (fractional mismatch {resid:.3g});"
                             " are site_frac and cell those of the events?")
        # adjacency lists with shifts (both directions); plain Python ints in the walk
        adj = [[] for _ in range(n_sites)]
        for u, v, (x, y, z) in zip(a.tolist(), b.tolist(), shift.tolist()):
            adj[u].append((v, x, y, z))
            adj[v].append((u, -x, -y, -z))
        img = [None] * n_sites
        cyc = {k: {} for k in range(ncomp)}   # distinct windings in order of discovery
        lab = label.tolist()
        for root in range(n_sites):
            if img[root] is not None:
                continue
            img[root] = (0, 0, 0)
            stack = [root]
            while stack:
                u = stack.pop()
                pu = img[u]
                for v, x, y, z in adj[u]:
                    pv = (pu[0] + x, pu[1] + y, pu[2] + z)
                    if img[v] is None:
                        img[v] = pv
                        stack.append(v)
                    else:
                        w = (pv[0] - img[v][0], pv[1] - img[v][1], pv[2] - img[v][2])
                        if w != (0, 0, 0):
                            cyc[lab[u]].setdefault(w)
        for k in range(ncomp):
            if cyc[k]:
                W = np.array(list(cyc[k]), dtype=np.int64)
                r = int(np.linalg.matrix_rank(W.astype(float)))
                # a basis: greedy independent rows
                basis = []
                for w in W:
                    if np.linalg.matrix_rank(np.array(basis + [w], dtype=float)) > len(basis):
                        basis.append(w)
                    if len(basis) == r:
                        break
                windings[k] = np.array(basis, dtype=np.int64)
                dims[k] = r
            else:
                dims[k] = 0
                windings[k] = np.zeros((0, 3), dtype=np.int64)
    return Connectivity(component=label, sizes=sizes, largest_fraction=float(sizes.max() / n_sites),
                        dimensionality=dims, percolating=bool(np.any(dims >= 1)), windings=windings)


def graph_order_parameter(G, k: float = 1.0, decimals: int = 6, weight: str = "weight") -> float:
    """Graph order parameter (GOP) of a (jump) network, Chapman, Goldman & Wood,
    npj Comput. Mater. 8, 37 (2022).

    Node degree d = sum of the weights of the edges into the node (in a jump network with
    weights P(i→j), Σ_i P(i→j): the normalised probability flux into j; undirected graphs:
    the weighted degree). For each (weakly) connected subgraph s, with P(d_m) the fraction of
    its nodes whose degree (rounded to ``decimals``) is d_m:
        g_s = Σ_m [P(d_m) ln P(d_m) + d_m P(d_m)]
    and GOP = Σ_s g_s^k (k = 1 by default), as in the authors' reference implementation:
    a negative degree-entropy term plus the mean degree of each subgraph.
    """
    nx = _nx()
    if G.number_of_nodes() == 0:
        raise ValueError("graph has no nodes")
    if G.is_directed():
        deg = dict(G.in_degree(weight=weight))
        comps = nx.weakly_connected_components(G)
    else:
        deg = dict(G.degree(weight=weight))
        comps = nx.connected_components(G)
    total = 0.0
    for comp in comps:
        d = np.round(np.array([deg[v] for v in comp], dtype=float), decimals)
        vals, cnt = np.unique(d, return_counts=True)
        p = cnt / cnt.sum()
        g = float(np.sum(p * np.log(p) + vals * p))
        total += g**k
    return float(total)


# --------------------------------------------------------------------------- correlated hops


@dataclass
class ExpFit:
    """f(n) = A exp(-b n): A, b and their standard errors; n, f the fitted points."""

    A: float
    b: float
    A_err: float
    b_err: float
    n: np.ndarray
    f: np.ndarray


def fit_exponential_decay(n, f, sigma=None) -> ExpFit:
    """Least-squares fit of f(n) = A exp(-b n) (scipy curve_fit, start from a log-linear fit).

    Points with f <= 0 are dropped; at least 2 points are needed.
    """
    from scipy.optimize import curve_fit

    n = np.asarray(n, dtype=float).ravel()
    f = np.asarray(f, dtype=float).ravel()
    if n.shape != f.shape:
        raise ValueError(f"n and f differ in length: {n.shape} vs {f.shape}")
    m = f > 0
    if m.sum() < 2:
        raise ValueError(f"need at least 2 points with f > 0 to fit A exp(-b n), got {int(m.sum())}")
    slope, icpt = np.polyfit(n[m], np.log(f[m]), 1)
    p0 = (float(np.exp(icpt)), float(-slope))
    if m.sum() == 2:
        return ExpFit(A=p0[0], b=p0[1], A_err=np.nan, b_err=np.nan, n=n[m], f=f[m])
    s = None if sigma is None else np.asarray(sigma, dtype=float).ravel()[m]
    popt, pcov = curve_fit(lambda x, A, b: A * np.exp(-b * x), n[m], f[m], p0=p0, sigma=s, maxfev=10000)
    err = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(2, np.nan)
    return ExpFit(A=float(popt[0]), b=float(popt[1]), A_err=float(err[0]), b_err=float(err[1]), n=n[m], f=f[m])


def _hist_n(sizes, n_min):
    sizes = np.asarray(sizes, dtype=np.int64)
    if len(sizes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), None
    n_vals = np.arange(1, sizes.max() + 1)
    counts = np.bincount(sizes, minlength=sizes.max() + 1)[1:]
    fit = None
    m = (n_vals >= n_min) & (counts > 0)
    if m.sum() >= 2:
        fit = fit_exponential_decay(n_vals[m], counts[m] / counts.sum())
    return n_vals, counts, fit


@dataclass
class ChanceReference:
    """Chance level of the distance/time-window method (see :func:`correlated_hops`).

    The same hops with each ion's hop train circularly shifted in time by an independent
    random offset, ``n_random`` times (seed ``seed``). ``time_span`` (t_start, t_end) and
    ``time_quantum`` (0: continuous shifts) as used; ``period`` the circular period.

    fractions (R,): fraction of collective hops of each shuffled realisation;
    fraction_mean, fraction_sd (ddof=1): the chance level and its spread over realisations;
    excess = observed - fraction_mean; z = excess / fraction_sd (NaN if the sd is 0);
    p_value = (1 + #{fractions >= observed}) / (R + 1), one-sided.
    n_values (1, 2, ... n_max over observed and shuffled): ions per event; n_counts_observed,
    n_counts_mean, n_counts_sd (ddof=1), n_counts_z = (observed - mean) / sd (NaN where sd = 0):
    the histogram of ions per event (number of groups with n ions), observed vs chance."""

    n_random: int
    seed: int | None
    time_span: tuple
    time_quantum: float
    period: float
    fractions: np.ndarray
    fraction_mean: float
    fraction_sd: float
    excess: float
    z: float
    p_value: float
    n_values: np.ndarray
    n_counts_observed: np.ndarray
    n_counts_mean: np.ndarray
    n_counts_sd: np.ndarray
    n_counts_z: np.ndarray


@dataclass
class CorrelatedHops:
    """Hops grouped into collective events (distance/time-window method).

    group (n_events,) event label per hop; group_ions (g,) distinct ions per group;
    group_hops (g,) hops per group; fraction_collective: fraction of hops in groups with >= 2
    ions; n_values, n_counts: histogram of ions per group (n = 1, 2, ...); fit: A e^(-b n) of
    n_counts / n_counts.sum() over n >= n_min (None if < 2 points); chance: the randomised
    reference (:class:`ChanceReference`, None with ``n_random=0``)."""

    group: np.ndarray
    group_ions: np.ndarray
    group_hops: np.ndarray
    fraction_collective: float
    n_values: np.ndarray
    n_counts: np.ndarray
    fit: ExpFit | None
    chance: ChanceReference | None = None

    @property
    def chance_fraction(self) -> float:
        """Mean collective fraction of the shuffled realisations (NaN without a reference)."""
        return np.nan if self.chance is None else self.chance.fraction_mean

    @property
    def excess_fraction(self) -> float:
        """Observed minus chance collective fraction (NaN without a reference)."""
        return np.nan if self.chance is None else self.chance.excess


def _close_pairs(tkey, frac, pos, ion, w, rc2, cell):
    """Pairs (a, b) of hops, indices into the inputs, of different ions with |tkey_a - tkey_b|
    <= w and distance <= sqrt(rc2) (minimum image when ``cell`` is given; ``frac`` the
    fractional positions then, else ``pos``): :func:`ionsitu.core.close_pairs`, a periodic
    cell list in space (any cell shape) with each cell's hops searched in time order."""
    from .core import close_pairs

    if cell is None:
        return close_pairs(pos, tkey, ion, float(w), rc2)
    return close_pairs(frac, tkey, ion, float(w), rc2, cell=cell)


def _groups(n, a, b, ion, n_ions):
    """Connected components of the pair graph -> (group (n,), group_ions, group_hops); groups
    numbered by their first member (index order of the input)."""
    from .core import components

    group, ng = components(n, a, b)
    group_hops = np.bincount(group, minlength=ng)
    key = np.unique(group * n_ions + ion)
    group_ions = np.bincount(key // n_ions, minlength=ng).astype(np.int64)
    return group, group_ions, group_hops


def _time_grid(ev, time_span, time_quantum):
    """(times as the window search keys, window scale, t_start, t_end, quantum, slot info).

    Quantised times (every hop on a grid of spacing q, from ``time_quantum`` or the events'
    steps) become integer slot numbers so that the observed and the shifted times are
    compared alike; continuous times stay as they are."""
    t = ev["time"].astype(float)
    if time_span is None:
        t0, t1 = float(t.min()), float(t.max())
    else:
        t0, t1 = (float(x) for x in time_span)
        if not (np.isfinite(t0) and np.isfinite(t1) and t1 >= t0):
            raise ValueError(f"time_span must be (t_start, t_end) with t_end >= t_start, got {time_span}")
        tol = 1e-9 * max(1.0, abs(t0), abs(t1))
        if t.min() < t0 - tol or t.max() > t1 + tol:
            raise ValueError(f"hops at times {t.min():g}..{t.max():g} outside time_span ({t0:g}, {t1:g})")
    q = time_quantum
    if q is None:
        q = _detect_quantum(ev)
    q = _positive("time_quantum", q, allow_zero=True)
    if q > 0:
        rel = (t - t.min()) / q
        k = np.rint(rel)
        if np.max(np.abs(rel - k)) > 1e-6:
            raise ValueError(f"hop times are not on a grid of time_quantum {q:g}")
        k = k.astype(np.int64)
        k_lo = int(np.ceil((t0 - t.min()) / q - 1e-6))
        k_hi = int(np.floor((t1 - t.min()) / q + 1e-6))
        return k - k_lo, (t0, t1), q, k_hi - k_lo + 1
    return t - t0, (t0, t1), 0.0, None


def _detect_quantum(ev) -> float:
    """Sampling grid of the hop times from their steps: gcd of the step differences x the
    time step (when time = step x timestep holds), else 0 (continuous)."""
    st = ev["step"]
    t = ev["time"]
    if len(ev) < 2 or st.min() == st.max():
        return 0.0
    i0, i1 = int(np.argmin(st)), int(np.argmax(st))
    ts = (t[i1] - t[i0]) / float(st[i1] - st[i0])
    if not ts > 0 or not np.allclose(t, t[i0] + (st - st[i0]) * ts, rtol=1e-9, atol=1e-9 * abs(ts)):
        return 0.0
    g = int(np.gcd.reduce(np.diff(np.unique(st))))
    return g * ts


def correlated_hops(events, time_window: float, cutoff: float, cell=None, position: str = "midpoint",
                    n_min: int = 1, n_random: int = 30, seed: int | None = 0, time_span=None,
                    time_quantum: float | None = None) -> CorrelatedHops:
    """Correlated (concerted) hops by a distance and time window (METHODS section 4), with
    their chance level.

    Two hops of DIFFERENT ions are correlated when their arrival times differ by at most
    ``time_window`` (time units) and their positions are at most ``cutoff`` apart (length;
    minimum image if ``cell`` (3, 3) is given). Position of a hop: ``"midpoint"`` (origin +
    Δr/2, the middle of the travelled vector), ``"from"`` or ``"to"``; needs the fx.. / tx..
    fields. Correlated hops are grouped transitively (connected components). Returns the
    groups, the fraction of hops that are collective, the histogram of ions per group and
    its exponential fit over n >= n_min.

    Chance reference (``chance``, :class:`ChanceReference`): uncorrelated ions also hop
    within the window and cutoff of one another by coincidence, the more so the more hops
    per time and volume; the observed fraction means nothing without it. The reference
    keeps every hop (its ion, position, displacement) and each ion's hop train (number of
    hops, their spacing in time) but shifts the train of every ion in time by an
    independent random offset, circularly over the observed span ``time_span`` = (t_start,
    t_end) (default: first to last hop; give the observation interval when known), so that
    correlations between ions are destroyed and everything of each ion is kept. It is
    repeated ``n_random`` times (generator seeded with ``seed``: the same seed gives the
    same numbers) and reports the chance fraction (mean and sd over the realisations), the
    excess = observed - chance, z = excess / sd, a one-sided p-value and the same for the
    histogram of ions per event. Hop times on a sampling grid (``time_quantum`` q, default:
    detected from the events' steps, 0 = continuous) are shifted by whole samples on a
    circle of (t_end - t_start)/q + 1 samples, and the window is compared in samples, so a
    pair exactly one window apart counts the same in the observed and the shifted data;
    continuous times are shifted on a circle of length t_end - t_start. ``n_random=0``:
    no reference. The pairs come from a cell list in space with each cell's hops in time
    order (:func:`ionsitu.core.close_pairs`), O(n log n), for 10^5 hops and more.
    """
    ev = _check_events(events)
    tw = _positive("time_window", time_window, allow_zero=True)
    rc = _positive("cutoff", cutoff)
    if position not in ("midpoint", "from", "to"):
        raise ValueError(f"position must be 'midpoint', 'from' or 'to', got {position!r}")
    if int(n_random) < 0:
        raise ValueError(f"n_random must be >= 0, got {n_random}")
    n_random = int(n_random)
    n = len(ev)
    if n == 0:
        raise ValueError("no events")
    fpos = np.stack([ev["fx"], ev["fy"], ev["fz"]], axis=1)
    tpos = np.stack([ev["tx"], ev["ty"], ev["tz"]], axis=1)
    pos = {"midpoint": fpos + 0.5 * _disp(ev), "from": fpos, "to": tpos}[position]
    if not np.all(np.isfinite(pos)):
        raise ValueError(f"events lack the positions needed for position={position!r} (NaN in fx/fy/fz or tx/ty/tz)")
    c = frac = None
    if cell is not None:
        c = np.asarray(cell, dtype=float)
        if c.shape != (3, 3):
            raise ValueError(f"cell must be (3, 3) rows a, b, c; got shape {c.shape}")
        frac = pos @ np.linalg.inv(c)
    tkey, span, q, nslots = _time_grid(ev, time_span, time_quantum)
    if q > 0:
        w = int(np.floor(tw / q + 1e-9))
    else:  # inclusive window, robust to rounding of the times (e.g. step * dt)
        w = tw * (1 + 1e-9) + 8 * np.finfo(float).eps * float(np.abs(ev["time"]).max())
    uid, ion = np.unique(ev["atom_id"], return_inverse=True)
    ion = np.asarray(ion, dtype=np.int64).ravel()
    m = len(uid)
    rc2 = rc * rc

    def analyse(keys):
        a, b = _close_pairs(keys, frac, pos, ion, w, rc2, c)
        return _groups(n, a, b, ion, m)

    group, group_ions, group_hops = analyse(tkey)
    fraction = float((group_ions[group] >= 2).mean())
    n_values, n_counts, fit = _hist_n(group_ions, n_min)
    res = CorrelatedHops(group=group, group_ions=group_ions, group_hops=group_hops, fraction_collective=fraction,
                         n_values=n_values, n_counts=n_counts, fit=fit)
    if n_random == 0:
        return res
    rng = np.random.default_rng(seed)
    period = nslots * q if q > 0 else span[1] - span[0]
    fr = np.empty(n_random)
    hists = []
    for r in range(n_random):
        if q > 0:
            keys = (tkey + rng.integers(0, nslots, size=m)[ion]) % nslots
        else:
            keys = np.mod(tkey + (rng.random(m) * period)[ion], period) if period > 0 else tkey
        g, gi, _ = analyse(keys)
        fr[r] = (gi[g] >= 2).mean()
        hists.append(np.bincount(gi, minlength=2)[1:])
    nmax = max(len(n_counts), max(len(h) for h in hists))
    H = np.zeros((n_random, nmax))
    for r, h in enumerate(hists):
        H[r, :len(h)] = h
    obs = np.zeros(nmax)
    obs[:len(n_counts)] = n_counts
    sd = float(fr.std(ddof=1)) if n_random > 1 else np.nan
    hsd = H.std(axis=0, ddof=1) if n_random > 1 else np.full(nmax, np.nan)
    mean = float(fr.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        hz = np.where(hsd > 0, (obs - H.mean(axis=0)) / np.where(hsd > 0, hsd, 1.0), np.nan)
    res.chance = ChanceReference(
        n_random=n_random, seed=seed, time_span=span, time_quantum=q, period=float(period), fractions=fr,
        fraction_mean=mean, fraction_sd=sd, excess=fraction - mean,
        z=(fraction - mean) / sd if sd > 0 else np.nan,
        p_value=float((1 + np.sum(fr >= fraction - 1e-12)) / (n_random + 1)),
        n_values=np.arange(1, nmax + 1), n_counts_observed=obs.astype(np.int64), n_counts_mean=H.mean(axis=0),
        n_counts_sd=hsd, n_counts_z=hz)
    return res


def log_time_grid(meta) -> tuple[tuple[float, float], float]:
    """Observation interval (step_first x dt, step_last x dt) and sampling interval nevery x dt
    (time units) of an event log's meta (:func:`read_events`): the ``time_span`` and
    ``time_quantum`` of the chance reference of :func:`correlated_hops`."""
    dt = float(meta["dt"])
    return (int(meta["step_first"]) * dt, int(meta["step_last"]) * dt), int(meta["nevery"]) * dt


def correlated_hops_of_log(events, meta, time_window: float, cutoff: float, cell=None, n_random: int = 30,
                           seed: int | None = 0, **kw) -> CorrelatedHops:
    """:func:`correlated_hops` of the events of one event log, the chance reference over the
    log's observation interval on its sampling grid (:func:`log_time_grid`; the steps' own
    grid if the hops are not on it). ``cell``: default the log's (last) cell."""
    if cell is None and meta.get("cell"):
        cell = np.array(meta["cell"], dtype=float).reshape(3, 3)
    span, q = log_time_grid(meta)
    try:
        return correlated_hops(events, time_window, cutoff, cell=cell, n_random=n_random, seed=seed, time_span=span,
                               time_quantum=q, **kw)
    except ValueError as err:
        if "not on a grid" not in str(err):
            raise
        return correlated_hops(events, time_window, cutoff, cell=cell, n_random=n_random, seed=seed, time_span=span,
                               **kw)


@dataclass
class CorrelationGroups:
    """Correlation-matrix method. atom_ids (N,); matrix (N, N) Pearson correlation of the
    smoothed hop series; threshold: the reference quantile; correlated (N, N) bool;
    group (N,) label of each ion's connected group (-1: correlated with no one); sizes (g,)
    ions per group (>= 2); n_values, n_counts: histogram of group sizes; fit over n >= n_min;
    fwhm (time units) of the Gaussian smoothing."""

    atom_ids: np.ndarray
    matrix: np.ndarray
    threshold: float
    correlated: np.ndarray
    group: np.ndarray
    sizes: np.ndarray
    n_values: np.ndarray
    n_counts: np.ndarray
    fit: ExpFit | None
    fwhm: float


def _hop_series(starts, ends, t0, dt, nT):
    """Binary (nT,) series: 1 at grid points within any [start, end] interval (>= one point)."""
    s = np.zeros(nT)
    i0 = np.clip(np.floor((starts - t0) / dt + 1e-9).astype(np.int64), 0, nT - 1)
    i1 = np.clip(np.floor((ends - t0) / dt + 1e-9).astype(np.int64), 0, nT - 1)
    diff = np.zeros(nT + 1)
    np.add.at(diff, i0, 1)
    np.add.at(diff, np.maximum(i1, i0) + 1, -1)
    s[:] = np.cumsum(diff)[:nT] > 0
    return s


def _corr(X):
    Xc = X - X.mean(axis=1, keepdims=True)
    nrm = np.sqrt(np.sum(Xc * Xc, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        C = (Xc @ Xc.T) / np.outer(nrm, nrm)
    C[~np.isfinite(C)] = 0.0
    return C


def correlation_matrix_method(events, atom_ids, t_start: float, t_end: float, dt: float,
                              fwhm: float | None = None, n_random: int = 20, quantile: float = 0.99,
                              seed: int = 0, n_min: int = 2) -> CorrelationGroups:
    """Concerted hops by the correlation-matrix method (METHODS section 4).

    Per ion (``atom_ids``, N) a binary series on the grid t_start, t_start+dt, ... < t_end
    (time units): 1 while hopping (from the last sample on the origin, time - duration, to
    the arrival time; at least one grid point per hop), 0 while vibrating. Each series is
    smoothed with a Gaussian of full width at half maximum ``fwhm`` (default: the mean hop
    duration, at least dt), and the N x N Pearson correlation matrix is formed. Reference:
    ``n_random`` realisations with every ion's hops (same number, same durations) placed at
    uniformly random times (seeded); ``threshold`` = the ``quantile`` of their off-diagonal
    coefficients. Pairs above the threshold are correlated; connected groups give the
    number of concerted ions n; the distribution of n is fitted by A e^(-b n) over n >= n_min.
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.sparse.csgraph import connected_components

    ev = _check_events(events)
    ids = np.asarray(atom_ids, dtype=np.int64).ravel()
    if len(ids) < 2:
        raise ValueError(f"need at least 2 ions, got {len(ids)}")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("atom_ids contains duplicates")
    dt = _positive("dt", dt)
    if not (np.isfinite(t_start) and np.isfinite(t_end) and t_end > t_start):
        raise ValueError(f"need t_end > t_start, got t_start={t_start}, t_end={t_end}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    if int(n_random) < 1:
        raise ValueError(f"n_random must be >= 1, got {n_random}")
    unknown = np.setdiff1d(np.unique(ev["atom_id"]), ids)
    if len(unknown):
        raise ValueError(f"events of atoms not in atom_ids: {unknown[:10].tolist()}")
    nT = int(np.floor((t_end - t_start) / dt + 1e-9))
    if nT < 3:
        raise ValueError(f"grid too short: {nT} points from t_start={t_start}, t_end={t_end}, dt={dt}")
    dur = np.nan_to_num(ev["duration"], nan=0.0)
    if np.any(dur < 0):
        raise ValueError(f"negative hop durations: {dur[dur < 0][:5]}")
    if fwhm is None:
        fwhm = max(float(dur.mean()) if len(dur) else dt, dt)
    fwhm = _positive("fwhm", fwhm)
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2))) / dt
    col = {int(a): j for j, a in enumerate(ids)}
    per_ion = [[] for _ in ids]
    for i, a in enumerate(ev["atom_id"].tolist()):
        per_ion[col[a]].append(i)

    def matrix(starts_of, ends_of):
        X = np.zeros((len(ids), nT))
        for j in range(len(ids)):
            if len(starts_of[j]):
                X[j] = gaussian_filter1d(_hop_series(starts_of[j], ends_of[j], t_start, dt, nT), sigma, mode="constant")
        return _corr(X)

    ends = [ev["time"][np.array(ix, dtype=np.int64)] for ix in per_ion]
    starts = [e - dur[np.array(ix, dtype=np.int64)] for e, ix in zip(ends, per_ion)]
    C = matrix(starts, ends)
    rng = np.random.default_rng(seed)
    ref = []
    iu = np.triu_indices(len(ids), 1)
    span = t_end - t_start
    for _ in range(int(n_random)):
        rs, re = [], []
        for j in range(len(ids)):
            d = dur[np.array(per_ion[j], dtype=np.int64)]
            st = t_start + rng.random(len(d)) * np.maximum(span - d, 0.0)
            rs.append(st)
            re.append(st + d)
        R = matrix(rs, re)
        ref.append(R[iu])
    thr = float(np.quantile(np.concatenate(ref), quantile))
    corr = C > thr
    np.fill_diagonal(corr, False)
    ncomp, lab = connected_components(corr.astype(np.int8), directed=False)
    sizes_all = np.bincount(lab, minlength=ncomp)
    group = np.where(sizes_all[lab] >= 2, lab, -1)
    # relabel groups 0..g-1
    uniq = np.unique(group[group >= 0])
    remap = {int(u): k for k, u in enumerate(uniq)}
    group = np.array([remap.get(int(g), -1) for g in group], dtype=np.int64)
    sizes = np.bincount(group[group >= 0], minlength=len(uniq)).astype(np.int64)
    n_values, n_counts, fit = _hist_n(sizes, n_min)
    return CorrelationGroups(atom_ids=ids, matrix=C, threshold=thr, correlated=corr, group=group, sizes=sizes,
                             n_values=n_values, n_counts=n_counts, fit=fit, fwhm=float(fwhm))

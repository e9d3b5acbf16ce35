"""Hop-event tables and the event log of ``fix hop/events`` (format ``# ionsitu-hops 1``).

The normative description of the log is in docs/file_formats.md.  Events come from
``fix hop/events`` (:func:`read_events`), the offline core (:func:`events_from_core`) or any
other detector (:func:`make_events`).

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
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["EVENT_DTYPE", "CORE_EVENT_DOUBLES", "EVENT_LOG_MAGIC", "EVENT_LOG_COLUMNS", "make_events",
           "events_from_core", "is_event_file", "read_events", "observed_time"]


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


def is_event_file(path) -> bool:
    """True if ``path`` starts like an event log of fix hop/events."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(EVENT_LOG_MAGIC)).decode(errors="replace") == EVENT_LOG_MAGIC
    except OSError:
        return False


def read_events(path):
    """Read an event log of fix hop/events (format ``# ionsitu-hops 1``, see
    docs/file_formats.md) -> (event table :data:`EVENT_DTYPE`, meta dict).

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


def resolve_site_file(log_path, site_file) -> Path:
    """The site file ``site_file`` (as given, or as named in a log's header) of the event log
    at ``log_path``: the path itself when absolute or existing, else next to the log."""
    sp = Path(site_file)
    return sp if sp.is_absolute() or sp.exists() else Path(log_path).parent / sp


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

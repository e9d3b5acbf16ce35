"""Vibrational density of states (VDOS) and attempt frequency nu* from ``fix vacf`` output.

Files (docs/file_formats.md): the VACF table (``file``, tag ``ionsitu-vacf``, one row per
lag with the group and per-type columns) and the per-atom VACFs (``atoms``, tag
``ionsitu-vacf-atoms``, one row per atom). ``ionsitu.core.VACFCorrelator`` computes the
same from velocities of a trajectory.

VDOS. With c(t) = C(t)/C(0) the normalised VACF at the lags t_k = k dt_s (k = 0 .. n-1,
dt_s the time between samples), the one-sided Hann window w_k = cos^2(pi k / (2n))
(1 at t = 0, falling to 0 at the first lag beyond the data) and zero padding to
``pad`` times the length (at least) before the FFT,

    g(nu) = 4 dt_s [ c_0 / 2 + sum_{k>=1} w_k c_k cos(2 pi nu t_k) ]     (nu >= 0),

the trapezoidal cosine transform of the windowed, even-extended VACF, normalised so that
the integral of g over 0 .. Nyquist is c(0) = 1 (up to the discretisation). The window
trades resolution (main-lobe half width ~ 1/T, T = n dt_s the reach of the lags) for
suppressed truncation ripples. From g:

- mean frequency  <nu> = int nu g dnu / int g dnu (over 0 .. Nyquist),
- peak frequency  the nu of the largest g,
- nu* = <nu> of each ion's own VDOS (from its per-atom VACF), reported as the mean over
  the ions with its standard deviation (the spread over ions) and standard error.

A spectrum is marked unresolved when its peak lies below two resolution widths (2/T):
then the lags do not reach two vibration periods and ``block`` (or Nevery) must grow (a
diffusive, liquid-like VDOS with its maximum at nu = 0 is marked so too: its peak
frequency means nothing, its mean frequency still does).

Units: the lag times are in the time unit of the run's ``units`` style; frequencies are
reported in THz for every physical style (metal: 1/ps, real: 1/fs = 1000 THz, ...) and
in 1/tau for ``lj``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ionsitu.units import get_style

from ..io.tagged import read_tagged_table

VACF_TAG = "# ionsitu-vacf"
ATOMS_TAG = "# ionsitu-vacf-atoms"
READ_VERSIONS = (1,)


def frequency_unit(units: str) -> tuple[float, str]:
    """(factor, name): frequency in 1/(time unit of ``units``) times factor is in `name`."""
    style = get_style(units)
    if style.reduced:
        return 1.0, "1/tau"
    return 1.0 / style.time_s / 1e12, "THz"


@dataclass
class VACFResult:
    """The VACF table of ``fix vacf`` (or ``VACFCorrelator.write``); arrays indexed by lag."""

    meta: dict
    columns: dict

    @property
    def time(self) -> np.ndarray:
        """Lag times (time unit of the run)."""
        return self.columns["time"]

    @property
    def n_origins(self) -> np.ndarray:
        return self.columns["n_origins"]

    @property
    def units(self) -> str:
        return self.meta["units"]

    @property
    def types(self) -> list[int]:
        return [int(t) for t in self.meta["types"]]

    def _prefix(self, atom_type):
        if atom_type is None:
            return "vacf"
        if int(atom_type) not in self.types:
            raise ValueError(f"atom type {atom_type} has no VACF columns; the file has types {self.types}")
        return f"vacf_{int(atom_type)}"

    def vacf(self, atom_type=None) -> np.ndarray:
        """(nlags, 4) VACF <v_d(t0) v_d(t0+t)> per direction x, y, z and total (velocity^2)."""
        p = self._prefix(atom_type)
        return np.stack([self.columns[p + d] for d in ("_x", "_y", "_z", "")], axis=1)

    def normalised(self, atom_type=None) -> np.ndarray:
        """C(t)/C(0) of the total VACF."""
        return self.columns[self._prefix(atom_type) + "_norm"]


@dataclass
class AtomVACF:
    """Per-atom VACFs of ``fix vacf ... atoms``: ``vacf`` is (natoms, nlags), rows sorted by ID."""

    meta: dict
    ids: np.ndarray
    types: np.ndarray
    vacf: np.ndarray

    @property
    def time(self) -> np.ndarray:
        m = self.meta
        return np.arange(self.vacf.shape[1]) * m["nevery"] * m["dt"]


def read_vacf(path) -> VACFResult:
    """Read the VACF table (tag ``ionsitu-vacf``); errors name the file and the problem."""
    names, meta, table = read_tagged_table(path, VACF_TAG, READ_VERSIONS)
    return VACFResult(meta, {n: table[:, i] for i, n in enumerate(names)})


def read_vacf_atoms(path) -> AtomVACF:
    """Read the per-atom VACF file (tag ``ionsitu-vacf-atoms``)."""
    names, meta, table = read_tagged_table(path, ATOMS_TAG, READ_VERSIONS)
    if names[:2] != ["id", "type"]:
        raise ValueError(f"{path}: the first columns must be 'id type', got {names[:2]}")
    return AtomVACF(meta, table[:, 0].astype(np.int64), table[:, 1].astype(int), table[:, 2:])


@dataclass
class VDOS:
    """A VDOS and its frequencies; ``frequency`` and the scalars in ``unit``."""

    frequency: np.ndarray
    g: np.ndarray
    mean_frequency: float
    peak_frequency: float
    resolution: float       #: 1/T, T the reach of the lags
    resolved: bool
    unit: str


def vdos(time, c, units="lj", pad=4) -> VDOS:
    """VDOS of the VACF ``c`` at equally spaced lags ``time`` (starting at 0), see the module doc.

    ``c`` may be (nlags,) or (nseries, nlags); it is normalised by its value at lag 0.
    """
    time = np.asarray(time, dtype=float)
    c = np.asarray(c, dtype=float)
    single = c.ndim == 1
    c = np.atleast_2d(c)
    n = c.shape[-1]
    if time.shape != (n,) or n < 4:
        raise ValueError(f"need at least 4 lags and one time per lag, got {time.shape} times for {n} lags")
    dt = time[1] - time[0]
    if time[0] != 0.0 or dt <= 0 or not np.allclose(np.diff(time), dt, rtol=1e-9):
        raise ValueError("lag times must start at 0 and be equally spaced")
    if pad < 1:
        raise ValueError(f"pad must be >= 1, got {pad}")
    if np.any(c[:, 0] <= 0):
        raise ValueError("the VACF at lag 0 must be > 0 (no samples, or atoms at rest?)")
    a = c / c[:, :1] * np.cos(0.5 * np.pi * np.arange(n) / n) ** 2
    a[:, 0] *= 0.5
    nfft = 1 << int(np.ceil(np.log2(pad * 2 * n)))
    g = 4.0 * dt * np.fft.rfft(a, n=nfft, axis=-1).real
    nu = np.fft.rfftfreq(nfft, dt)
    norm = np.trapezoid(g, nu, axis=-1)
    mean = np.trapezoid(g * nu, nu, axis=-1) / norm
    peak = nu[np.argmax(g, axis=-1)]
    factor, unit = frequency_unit(units)
    resolution = 1.0 / (n * dt)
    pick = (lambda x: x[0]) if single else (lambda x: x)
    return VDOS(nu * factor, pick(g), pick(mean * factor), pick(peak * factor), resolution * factor,
                bool(np.all(peak >= 2 * resolution)), unit)


def spectrum(result: VACFResult, atom_type=None, pad=4) -> VDOS:
    """VDOS of the group (``atom_type`` None) or one type of a VACF table."""
    if np.any(result.n_origins <= 0):
        raise ValueError("some lags have no origins yet: the run is shorter than the block of lags")
    return vdos(result.time, result.normalised(atom_type), result.units, pad)


@dataclass
class AttemptFrequency:
    """nu*: the mean over ions of each ion's mean VDOS frequency, with its spread."""

    mean: float
    sd: float               #: standard deviation over the ions
    sem: float              #: standard error of the mean, sd / sqrt(n)
    n: int
    per_ion: np.ndarray
    unit: str
    resolved: bool


def attempt_frequency(atoms: AtomVACF, atom_type=None, pad=4) -> AttemptFrequency:
    """nu* from the per-atom VACFs of all atoms (``atom_type`` None) or of one type."""
    sel = np.ones(len(atoms.ids), bool) if atom_type is None else atoms.types == int(atom_type)
    if sel.sum() < 2:
        raise ValueError(f"need at least 2 atoms for a spread, got {int(sel.sum())} of type {atom_type}")
    v = vdos(atoms.time, atoms.vacf[sel], atoms.meta["units"], pad)
    per_ion = np.atleast_1d(v.mean_frequency)
    sd = float(np.std(per_ion, ddof=1))
    return AttemptFrequency(float(per_ion.mean()), sd, sd / np.sqrt(len(per_ion)), len(per_ion), per_ion,
                            v.unit, v.resolved)


def attempt_frequencies(atoms: AtomVACF, pad=4) -> dict:
    """nu* per atom type present in the per-atom file: {type: AttemptFrequency}."""
    return {int(t): attempt_frequency(atoms, t, pad) for t in np.unique(atoms.types)}


def find_vacf_atoms_file(folder) -> Path | None:
    """The one per-atom VACF file (line 2 '# ionsitu-vacf-atoms') in ``folder``; None if none or several."""
    found = []
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and p.suffix in (".dat", ".txt"):
            try:
                with open(p) as fh:
                    fh.readline()
                    if fh.readline().startswith(ATOMS_TAG + " "):
                        found.append(p)
            except (OSError, UnicodeDecodeError):
                continue
    return found[0] if len(found) == 1 else None

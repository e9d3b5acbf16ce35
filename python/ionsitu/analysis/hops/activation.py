"""Effective activation energies per jump type or jump class, and the attempt frequency ν*.

E_a,i = -kB T ln(J_i / (t N_i ν*)); energy units of kB T (eV with kB in eV/K, the default)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...io.events import _check_events, _positive
from ... import units as _units
from ...units import KB_EV
from .classes import JumpClasses, JumpClassStats, jump_class_rates
from .rates import jump_rates


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


#: default attempt frequency ν* of every hop analysis (``ionsitu hops``, the campaign report,
#: :func:`attempt_frequency`): 1e13 Hz, a typical optical-phonon frequency of solid electrolytes
DEFAULT_ATTEMPT_FREQUENCY_HZ = 1e13


def default_attempt_frequency(units) -> float | None:
    """:data:`DEFAULT_ATTEMPT_FREQUENCY_HZ` in 1/time of the LAMMPS unit style ``units``;
    None for ``lj`` (a reduced time has no default frequency)."""
    st = _units.get_style(units)
    return None if st.reduced else DEFAULT_ATTEMPT_FREQUENCY_HZ * st.time_s


def attempt_frequency(units, given: float | None = None, vacf_atoms=None,
                      atom_type: int | None = None) -> tuple[float | None, str, object]:
    """The attempt frequency ν* (1/time of the run) of the hop analyses, and its source.

    The one rule every hop summary follows (``ionsitu hops`` and the campaign report):
    ``given`` when given (an override); else the VDOS of the same run, ``vacf_atoms`` (the
    per-atom VACFs of ``fix vacf ... atoms``, :class:`ionsitu.analysis.vibrations.AtomVACF`):
    ν* = the mean over its ions (of ``atom_type``, default all) of each ion's mean VDOS
    frequency (:func:`ionsitu.analysis.vibrations.attempt_frequency`); else
    :data:`DEFAULT_ATTEMPT_FREQUENCY_HZ` (1e13 Hz) converted to the run's time unit; in ``lj``
    units (no default) None (E_a is then not computed). Never the Arrhenius prefactor of the
    hop rate: E_a from ν* = that prefactor would only restate the rate's own fit.
    Returns (ν*, source text, the :class:`~ionsitu.analysis.vibrations.AttemptFrequency` with
    its spread over ions, or None).
    """
    if given is not None:
        return float(_positive("attempt_frequency", given)), "given", None
    if vacf_atoms is not None:
        from ..vibrations import attempt_frequency as _vdos_nu
        from ..vibrations import frequency_unit

        if _units.get_style(vacf_atoms.meta["units"]).name != _units.get_style(units).name:
            raise ValueError(f"the per-atom VACF is in units {vacf_atoms.meta['units']!r}, the hops in {units!r}")
        af = _vdos_nu(vacf_atoms, atom_type)
        factor, unit = frequency_unit(units)
        what = "all ions" if atom_type is None else f"type {int(atom_type)}"
        return af.mean / factor, (f"VDOS of the run (fix vacf atoms, {what}): {af.mean:.4g} +- {af.sd:.2g} {unit} "
                                  f"(sd over {af.n} ions)"), af
    nu = default_attempt_frequency(units)
    if nu is not None:
        return nu, f"default {DEFAULT_ATTEMPT_FREQUENCY_HZ:g} Hz", None
    return None, "none: no default in lj units; give the attempt frequency or a fix vacf per-atom file", None

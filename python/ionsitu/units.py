"""LAMMPS unit styles and their conversion to SI / cgs transport units.

One table (:data:`UNIT_STYLES`) holds, for every LAMMPS ``units`` style, the SI value of
one distance, time, energy and charge unit of that style. Every conversion in ionsitu
goes through it; there are no other scattered constants. Physical constants come from
:mod:`scipy.constants` (CODATA 2018), so values differ from LAMMPS' own hard-coded
constants (e.g. ``force->boltz`` in ``metal`` is 8.617343e-5) in the 6th-7th digit.

Output units of the transport analysis:

- diffusion coefficient: cm^2/s
- ionic conductivity: S/cm
- temperatures: K (the caller gives T in K for every style but ``lj``)

The ``lj`` style is reduced: nothing is converted, diffusion stays in sigma_LJ^2/tau_LJ,
conductivity in reduced units q_LJ^2/(sigma_LJ tau_LJ epsilon_LJ) (k_B = 1, T reduced), and
every result says so through :func:`diffusion_unit` / :func:`conductivity_unit`. The LJ
length is always written ``sigma_LJ`` so that it is never confused with a conductivity.

Unit strings are data: :func:`labels` gives, for a style, the machine-readable unit of every
quantity ionsitu reports (the strings the JSON outputs carry in their ``*_unit`` keys) and
:func:`arrhenius_prefactor_unit` the unit of an Arrhenius prefactor; plots and tables take
their labels from there, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import constants as _c

#: Boltzmann constant, J/K
KB_SI = _c.k
#: elementary charge, C
E_SI = _c.e
#: Boltzmann constant, eV/K (used for activation energies in eV)
KB_EV = _c.k / _c.e
#: one statcoulomb (esu) in C
STATCOULOMB = 0.1 / _c.c

#: centimetre in metres
CM = 1e-2
#: bohr in metres: the CODATA 2018 value src/core writes cube files with (fix occupancy/grid)
BOHR_M = 0.529177210903e-10


@dataclass(frozen=True)
class UnitStyle:
    """One LAMMPS unit style: SI value of one unit of each quantity.

    ``reduced`` is True for ``lj``: then no conversion is done at all and the
    SI fields are 1.0 placeholders.
    """

    name: str
    length_m: float
    time_s: float
    energy_J: float
    charge_C: float
    reduced: bool = False
    description: str = ""
    #: unit symbols of the style (machine-readable, ASCII)
    length: str = ""
    time: str = ""
    energy: str = ""
    charge: str = ""

    @property
    def kB(self) -> float:
        """Boltzmann constant in energy units of the style per K (1 for ``lj``)."""
        return 1.0 if self.reduced else KB_SI / self.energy_J


# The one table of unit styles (LAMMPS `units` command documentation).
UNIT_STYLES: dict[str, UnitStyle] = {
    s.name: s
    for s in (
        UnitStyle("metal", _c.angstrom, _c.pico, _c.eV, _c.e,
                  description="Angstrom, ps, eV, charge e", length="Angstrom", time="ps", energy="eV",
                  charge="e"),
        UnitStyle("real", _c.angstrom, _c.femto, _c.kilo * _c.calorie / _c.N_A, _c.e,
                  description="Angstrom, fs, kcal/mol, charge e", length="Angstrom", time="fs",
                  energy="kcal/mol", charge="e"),
        UnitStyle("si", 1.0, 1.0, 1.0, 1.0,
                  description="m, s, J, C", length="m", time="s", energy="J", charge="C"),
        UnitStyle("cgs", _c.centi, 1.0, 1e-7, STATCOULOMB,
                  description="cm, s, erg, statcoulomb (esu)", length="cm", time="s", energy="erg",
                  charge="statC"),
        UnitStyle("electron", _c.physical_constants["Bohr radius"][0], _c.femto,
                  _c.physical_constants["Hartree energy"][0], _c.e,
                  description="Bohr, fs, Hartree, charge e", length="Bohr", time="fs", energy="Hartree",
                  charge="e"),
        UnitStyle("micro", _c.micro, _c.micro, 1e-15, 1e-12,
                  description="micrometre, microsecond, picogram um^2/us^2 (1e-15 J), picocoulomb",
                  length="um", time="us", energy="pg um^2/us^2", charge="pC"),
        UnitStyle("nano", _c.nano, _c.nano, 1e-21, _c.e,
                  description="nm, ns, attogram nm^2/ns^2 (1e-21 J), charge e", length="nm", time="ns",
                  energy="ag nm^2/ns^2", charge="e"),
        UnitStyle("lj", 1.0, 1.0, 1.0, 1.0, reduced=True,
                  description="reduced LJ units: sigma_LJ, tau_LJ, epsilon_LJ, k_B = 1; no conversion",
                  length="sigma_LJ", time="tau_LJ", energy="epsilon_LJ", charge="q_LJ"),
    )
}


def get_style(style: str | UnitStyle) -> UnitStyle:
    """Return the :class:`UnitStyle` for a LAMMPS ``units`` name (case-insensitive)."""
    if isinstance(style, UnitStyle):
        return style
    key = str(style).strip().lower()
    if key not in UNIT_STYLES:
        raise ValueError(
            f"unknown LAMMPS unit style {style!r}; known: {', '.join(sorted(UNIT_STYLES))}"
        )
    return UNIT_STYLES[key]


def is_reduced(style: str | UnitStyle) -> bool:
    return get_style(style).reduced


def diffusion_factor(style: str | UnitStyle) -> float:
    """Factor turning a diffusion coefficient in distance^2/time of the style into cm^2/s.

    1.0 for ``lj`` (stays in sigma^2/tau).
    """
    s = get_style(style)
    if s.reduced:
        return 1.0
    return s.length_m ** 2 / s.time_s / CM ** 2


def diffusion_unit(style: str | UnitStyle) -> str:
    """Unit of the diffusion coefficients ionsitu reports: cm^2/s (lj: reduced, unconverted)."""
    return "sigma_LJ^2/tau_LJ (lj reduced units)" if get_style(style).reduced else "cm^2/s"


def to_cm2_per_s(D, style: str | UnitStyle):
    """Diffusion coefficient(s) in run units (distance^2/time) -> cm^2/s (lj: unchanged)."""
    factor = diffusion_factor(style)
    if np.ndim(D) == 0:
        return float(D) * factor
    return np.asarray(D, dtype=float) * factor


def conductivity_unit(style: str | UnitStyle) -> str:
    """Unit of the conductivities ionsitu reports: S/cm (lj: reduced, unconverted)."""
    return ("q_LJ^2/(sigma_LJ tau_LJ epsilon_LJ) (lj reduced units)" if get_style(style).reduced
            else "S/cm")


def conductivity_factor(style: str | UnitStyle, volume: float, T: float) -> float:
    """Factor F with  sigma = F * N * q^2 * D  (Nernst-Einstein / Einstein-Helfand).

    ``volume`` in distance^3 of the style, ``T`` in K (reduced for ``lj``), ``q`` in
    charge units of the style (e for metal/real, i.e. the charge number z), ``D`` in
    distance^2/time of the style, ``N`` the number of ions. Result in S/cm (reduced for
    ``lj``, where k_B = 1)::

        sigma = N/V * (q e_unit)^2 * D / (k_B T)
    """
    s = get_style(style)
    volume = float(volume)
    T = float(T)
    if not np.isfinite(volume) or volume <= 0:
        raise ValueError(f"volume must be positive, got {volume!r}")
    if not np.isfinite(T) or T <= 0:
        raise ValueError(f"temperature must be positive, got T={T!r}")
    if s.reduced:
        return 1.0 / (volume * T)
    v_m3 = volume * s.length_m ** 3
    d_m2s = s.length_m ** 2 / s.time_s
    sigma_S_per_m = s.charge_C ** 2 * d_m2s / (v_m3 * KB_SI * T)
    return sigma_S_per_m * CM  # S/m -> S/cm


def concentration(style: str | UnitStyle, natoms: int, volume: float) -> float:
    """Number density N/V in cm^-3 (sigma^-3 for lj)."""
    s = get_style(style)
    if s.reduced:
        return natoms / volume
    return natoms / (volume * (s.length_m / CM) ** 3)


def concentration_unit(style: str | UnitStyle) -> str:
    return "sigma_LJ^-3 (lj reduced units)" if get_style(style).reduced else "cm^-3"


def temperature_unit(style: str | UnitStyle) -> str:
    """K, or ``reduced (k_B = 1)`` for lj."""
    return "reduced (k_B = 1)" if get_style(style).reduced else "K"


def activation_energy_unit(style: str | UnitStyle) -> str:
    """Unit of the activation energies ionsitu reports: eV (kB in eV/K), epsilon_LJ for lj."""
    return "epsilon_LJ (reduced)" if get_style(style).reduced else "eV"


def boltzmann(style: str | UnitStyle) -> float:
    """k_B in the unit of :func:`activation_energy_unit` per temperature unit (1 for lj)."""
    return 1.0 if get_style(style).reduced else KB_EV


def length_to_bohr(style: str | UnitStyle) -> float:
    """Factor from the style's length unit to bohr (cube files); 1 for lj (unconverted)."""
    s = get_style(style)
    return 1.0 if s.reduced else s.length_m / BOHR_M


def labels(style: str | UnitStyle) -> dict:
    """Machine-readable unit strings of every quantity ionsitu reports in this style.

    Keys: length, time, energy, charge (the run's own units), temperature, D, conductivity,
    concentration, Ea, rate (1/time of the run), D_run (length^2/time of the run, e.g. the
    jump diffusivity before conversion). lj units are written sigma_LJ, tau_LJ, epsilon_LJ.
    """
    s = get_style(style)
    return {"style": s.name, "length": s.length, "time": s.time, "energy": s.energy, "charge": s.charge,
            "temperature": temperature_unit(s), "D": diffusion_unit(s), "conductivity": conductivity_unit(s),
            "concentration": concentration_unit(s), "Ea": activation_energy_unit(s), "rate": f"1/{s.time}",
            "D_run": f"{s.length}^2/{s.time}"}


def arrhenius_prefactor_unit(kind: str, style: str | UnitStyle) -> str:
    """Unit of the prefactor of an Arrhenius fit of ``kind`` (see :mod:`ionsitu.analysis.arrhenius`):
    D -> unit of D, sigma (sigma T) -> conductivity unit x temperature unit, sigma_plain ->
    conductivity unit, rate -> 1/time of the run."""
    s = get_style(style)
    lab = labels(s)
    if kind == "D":
        return lab["D"]
    if kind == "sigma":
        return ("q_LJ^2/(sigma_LJ tau_LJ epsilon_LJ) x T (lj reduced units)" if s.reduced else "S K/cm")
    if kind == "sigma_plain":
        return lab["conductivity"]
    if kind == "rate":
        return lab["rate"]
    raise ValueError(f"unknown Arrhenius kind {kind!r}; known: D, sigma, sigma_plain, rate")

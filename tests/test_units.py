"""ionsitu.units: conversions checked against hand calculations."""

import math

import numpy as np
import pytest

import ionsitu.units as u

# CODATA 2018 exact values (SI redefinition), written out by hand
E = 1.602176634e-19      # C
KB = 1.380649e-23        # J/K
NA = 6.02214076e23       # 1/mol
KCAL = 4184.0            # J (thermochemical calorie x 1000)


def test_diffusion_metal_by_hand():
    # 1 A^2/ps = (1e-8 cm)^2 / 1e-12 s = 1e-16 / 1e-12 cm^2/s = 1e-4 cm^2/s
    assert u.diffusion_factor("metal") == pytest.approx(1e-4, rel=1e-12)
    assert u.to_cm2_per_s(0.25, "metal") == pytest.approx(2.5e-5, rel=1e-12)
    assert u.diffusion_unit("metal") == "cm^2/s"


def test_diffusion_real_by_hand():
    # 1 A^2/fs = 1e-16 cm^2 / 1e-15 s = 0.1 cm^2/s
    assert u.diffusion_factor("real") == pytest.approx(0.1, rel=1e-12)
    np.testing.assert_allclose(u.to_cm2_per_s([1.0, 2.0], "real"), [0.1, 0.2], rtol=1e-12)


def test_diffusion_si_cgs_lj():
    assert u.diffusion_factor("si") == pytest.approx(1e4)      # m^2/s -> cm^2/s
    assert u.diffusion_factor("cgs") == pytest.approx(1.0)
    assert u.diffusion_factor("lj") == 1.0                     # no conversion
    assert "reduced" in u.diffusion_unit("lj")
    assert "reduced" in u.conductivity_unit("lj")
    assert u.is_reduced("lj") and not u.is_reduced("metal")


def test_boltzmann_by_hand():
    assert u.get_style("metal").kB == pytest.approx(KB / E, rel=1e-12)          # 8.617333e-5 eV/K
    assert u.get_style("metal").kB == pytest.approx(8.617333262e-5, rel=1e-9)
    # kcal/mol per K: 1.380649e-23 J/K * 6.02214076e23 /mol / 4184 J/kcal = 1.987204e-3
    assert u.get_style("real").kB == pytest.approx(KB * NA / KCAL, rel=1e-12)
    assert u.get_style("real").kB == pytest.approx(1.987204259e-3, rel=1e-9)
    assert u.get_style("lj").kB == 1.0
    assert u.KB_EV == pytest.approx(KB / E)


def test_conductivity_metal_by_hand():
    # N = 100 ions, V = 1e4 A^3, D = 1 A^2/ps, T = 1000 K, z = 1:
    # c = 100 / (1e4 * 1e-30 m^3) = 1e28 m^-3, D = 1e-20 m^2 / 1e-12 s = 1e-8 m^2/s
    # sigma = c e^2 D / (kB T) = 1e28 * (1.602176634e-19)^2 * 1e-8 / (1.380649e-23 * 1000)
    #       = 2.566969932e-18 / 1.380649e-20 = 185.9248778 S/m = 1.859248778 S/cm
    by_hand = 1e28 * E ** 2 * 1e-8 / (KB * 1000.0) / 100.0
    assert by_hand == pytest.approx(1.859248778, rel=1e-9)
    sigma = u.conductivity_factor("metal", 1e4, 1000.0) * 100 * 1.0 ** 2 * 1.0
    assert sigma == pytest.approx(by_hand, rel=1e-12)


def test_conductivity_real_by_hand():
    # same numbers but D = 1 A^2/fs = 1e-20 m^2 / 1e-15 s = 1e-5 m^2/s (1000x the metal case)
    by_hand = 1e28 * E ** 2 * 1e-5 / (KB * 1000.0) / 100.0
    assert by_hand == pytest.approx(1859.248778, rel=1e-9)
    assert u.conductivity_factor("real", 1e4, 1000.0) * 100 == pytest.approx(by_hand, rel=1e-12)


def test_conductivity_cgs_and_si_and_lj():
    # si: N=1 in 1 m^3, q = 1 C, D = 1 m^2/s, T = 1 K: sigma = 1/kB S/m = 1/kB/100 S/cm
    assert u.conductivity_factor("si", 1.0, 1.0) == pytest.approx(1 / KB / 100, rel=1e-12)
    # cgs: charge unit statC = 0.1/c C
    statc = 0.1 / 299792458.0
    expect = statc ** 2 * 1e-4 / (1e-6 * KB * 1.0) / 100  # V = 1 cm^3, D = 1 cm^2/s
    assert u.conductivity_factor("cgs", 1.0, 1.0) == pytest.approx(expect, rel=1e-12)
    assert u.conductivity_factor("lj", 8.0, 0.5) == pytest.approx(1 / (8.0 * 0.5))


def test_concentration():
    # 100 ions in 1e4 A^3 = 1e-20 cm^3 -> 1e22 cm^-3
    assert u.concentration("metal", 100, 1e4) == pytest.approx(1e22)
    assert u.concentration("lj", 10, 5.0) == 2.0
    assert u.concentration_unit("metal") == "cm^-3"


def test_one_table_covers_lammps_styles():
    assert set(u.UNIT_STYLES) >= {"lj", "real", "metal", "si", "cgs", "electron", "micro", "nano"}
    bohr = 0.529177210903e-10
    assert u.get_style("electron").length_m == pytest.approx(bohr, rel=1e-9)
    assert u.get_style("METAL").name == "metal"  # case-insensitive
    assert u.get_style(u.UNIT_STYLES["real"]) is u.UNIT_STYLES["real"]
    assert math.isclose(u.CM, 0.01)


def test_bad_input_names_the_value():
    with pytest.raises(ValueError, match="'furlong'"):
        u.get_style("furlong")
    with pytest.raises(ValueError, match="-5"):
        u.conductivity_factor("metal", -5.0, 300.0)
    with pytest.raises(ValueError, match="T=-300"):
        u.conductivity_factor("metal", 100.0, -300.0)


@pytest.mark.parametrize("style, D, sigma, length, time, Ea, pre_sigma", [
    ("metal", "cm^2/s", "S/cm", "Angstrom", "ps", "eV", "S K/cm"),
    ("real", "cm^2/s", "S/cm", "Angstrom", "fs", "eV", "S K/cm"),
    ("lj", "sigma_LJ^2/tau_LJ (lj reduced units)", "q_LJ^2/(sigma_LJ tau_LJ epsilon_LJ) (lj reduced units)",
     "sigma_LJ", "tau_LJ", "epsilon_LJ (reduced)", "q_LJ^2/(sigma_LJ tau_LJ epsilon_LJ) x T (lj reduced units)"),
])
def test_unit_labels(style, D, sigma, length, time, Ea, pre_sigma):
    lab = u.labels(style)
    assert (lab["D"], lab["conductivity"], lab["length"], lab["time"], lab["Ea"]) == (D, sigma, length, time, Ea)
    assert lab["rate"] == f"1/{time}" and lab["D_run"] == f"{length}^2/{time}"
    assert u.arrhenius_prefactor_unit("D", style) == D and u.arrhenius_prefactor_unit("sigma", style) == pre_sigma
    assert u.arrhenius_prefactor_unit("rate", style) == f"1/{time}"
    # the LJ length is never written plain "sigma", the symbol of the conductivity
    for v in lab.values():
        assert not any(w == "sigma" or w.startswith("sigma^") or w.startswith("sigma ") for w in v.split("(")[0].split())


def test_arrhenius_prefactor_unit_follows_the_style():
    from ionsitu.analysis import arrhenius

    T = np.array([0.5, 0.6, 0.8])
    D = 0.1 * np.exp(-1.0 / T)
    assert arrhenius.fit(T, D, "D", kB=1.0).prefactor_unit == "sigma_LJ^2/tau_LJ (lj reduced units)"
    assert arrhenius.fit(T, D, "D", kB=1.0, units="lj").prefactor_unit == u.diffusion_unit("lj")
    assert arrhenius.fit(T * 1000, D, "D").prefactor_unit == "cm^2/s"
    assert arrhenius.fit(T * 1000, D, "rate", units="metal").prefactor_unit == "1/ps"


def test_length_to_bohr_is_the_cube_writers():
    bohr_A = 0.529177210903   # the value of src/core (fix occupancy/grid)
    assert u.length_to_bohr("metal") == pytest.approx(1 / bohr_A, rel=1e-14)
    assert u.length_to_bohr("nano") == pytest.approx(10 / bohr_A, rel=1e-14)
    assert u.length_to_bohr("electron") == pytest.approx(1.0, rel=1e-9) and u.length_to_bohr("lj") == 1.0

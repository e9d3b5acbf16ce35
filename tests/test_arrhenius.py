"""ionsitu.analysis.arrhenius: recovery of Ea, conventions, two regimes, extrapolation, bad input."""

import warnings

import numpy as np
import pytest

import ionsitu.analysis.arrhenius as ar
from ionsitu.units import KB_EV

T_LADDER = np.array([450.0, 550.0, 650.0, 750.0, 850.0, 950.0, 1050.0, 1150.0])
EA, D0 = 0.30, 1e-3          # eV, cm^2/s


def _D(T):
    return D0 * np.exp(-EA / (KB_EV * T))


def test_exact_data_recovered():
    f = ar.fit(T_LADDER, _D(T_LADDER), "D", 0.01 * _D(T_LADDER))
    assert f.Ea == pytest.approx(EA, rel=1e-10)
    assert f.prefactor == pytest.approx(D0, rel=1e-10)
    assert f.r2 == pytest.approx(1.0)
    assert f.cov.shape == (2, 2) and f.weighted
    assert "ln D" in f.convention and f.prefactor_unit == "cm^2/s"


@pytest.mark.filterwarnings("ignore:Arrhenius fit. chi2_red")  # rare large-chi2 draws
def test_weighted_noisy_recovery_and_interval_coverage():
    rng = np.random.default_rng(1)
    truth300 = _D(300.0)
    pulls, covered = [], []
    for _ in range(300):
        rel = rng.uniform(0.03, 0.15, len(T_LADDER))            # heteroscedastic errors
        y = _D(T_LADDER) * np.exp(rel * rng.standard_normal(len(T_LADDER)))
        f = ar.fit(T_LADDER, y, "D", y_err=rel * y)
        pulls.append((f.Ea - EA) / f.Ea_err)
        ex = f.extrapolate(300.0, level=0.95)
        covered.append(ex.lo <= truth300 <= ex.hi)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.25                 # unbiased within error
    assert 0.8 < pulls.std() < 1.25                 # Ea_err matches the scatter
    assert 0.90 < np.mean(covered) <= 0.99          # 95 % interval covers the truth


def test_single_noisy_fit_within_error_and_extrapolation():
    rng = np.random.default_rng(2)
    y = _D(T_LADDER) * (1 + 0.05 * rng.standard_normal(len(T_LADDER)))
    f = ar.fit(T_LADDER, y, "D", 0.05 * y)
    assert abs(f.Ea - EA) < 3 * f.Ea_err
    assert abs(np.log(f.prefactor / D0)) < 3 * f.ln_prefactor_err
    value, lo, hi = f.extrapolate(300.0)
    assert lo < _D(300.0) < hi and lo < value < hi
    vals = f.extrapolate(np.array([300.0, 400.0]))
    assert vals.value.shape == (2,) and np.all(vals.lo < vals.hi)
    assert f.predict(T_LADDER) == pytest.approx(f.extrapolate(T_LADDER).value)


def test_unweighted_fit_uses_residual_scatter():
    rng = np.random.default_rng(3)
    pulls, covered = [], []
    for _ in range(300):
        y = _D(T_LADDER) * np.exp(0.05 * rng.standard_normal(len(T_LADDER)))
        f = ar.fit(T_LADDER, y, "D")
        pulls.append((f.Ea - EA) / f.Ea_err)
        ex = f.extrapolate(300.0)
        covered.append(ex.lo <= _D(300.0) <= ex.hi)
    assert not f.weighted and np.isnan(f.chi2_red)
    assert abs(np.mean(pulls)) < 0.25
    assert 0.90 < np.mean(covered) <= 0.99          # Student-t interval


def test_sigma_conventions_differ_as_documented():
    # sigma T = A exp(-Ea/kB T)  <=>  sigma = A/T exp(-Ea/kB T)
    A = 5e4
    sigma = A / T_LADDER * np.exp(-EA / (KB_EV * T_LADDER))
    f_st = ar.fit(T_LADDER, sigma, "sigma")
    f_plain = ar.fit(T_LADDER, sigma, "sigma_plain")
    assert f_st.Ea == pytest.approx(EA, rel=1e-10)          # ln(sigma T): the Ea of D
    assert f_st.prefactor == pytest.approx(A, rel=1e-10) and f_st.prefactor_unit == "S K/cm"
    assert "sigma T" in f_st.convention and "plain" in f_plain.convention
    # ln sigma = ln(sigma T) - ln T: Ea_plain = Ea - (LS slope of ln T against -1/(kB T))
    X = -1.0 / (KB_EV * T_LADDER)
    slope = np.polyfit(X, np.log(T_LADDER), 1)[0]
    assert f_plain.Ea == pytest.approx(EA - slope, rel=1e-9)
    # ... which is about kB T at the centre of the range: smaller by 0.04-0.1 eV here
    assert KB_EV * T_LADDER.min() < EA - f_plain.Ea < KB_EV * T_LADDER.max()
    assert f_plain.Ea < f_st.Ea
    # both give back the same sigma at the data points
    np.testing.assert_allclose(f_st.predict(T_LADDER), sigma, rtol=1e-9)
    np.testing.assert_allclose(f_plain.predict(T_LADDER), sigma, rtol=0.1)  # a curved law, approx.


def test_sigma_from_ea():
    s = ar.sigma_from_ea(300.0, 100.0, 0.3)
    assert s == pytest.approx(100.0 * np.exp(-0.3 / (8.617333262e-5 * 300.0)), rel=1e-9)
    arr = ar.sigma_from_ea(T_LADDER, 100.0, 0.3)
    f = ar.fit(T_LADDER, arr, "sigma_plain")
    assert f.Ea == pytest.approx(0.3, rel=1e-10) and f.prefactor == pytest.approx(100.0, rel=1e-10)


def _bent(T, Tc=800.0, E_low=0.5, E_high=0.2):
    x, xc = 1 / (KB_EV * T), 1 / (KB_EV * Tc)
    return 1e-3 * np.exp(-E_high * np.minimum(x - xc, 0) - E_low * np.maximum(x - xc, 0))


def test_two_regime_finds_tc():
    rng = np.random.default_rng(4)
    T = np.linspace(450.0, 1150.0, 12)
    y = _bent(T) * (1 + 0.02 * rng.standard_normal(len(T)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the single line does not fit: expected
        f = ar.fit_two_regime(T, y, "D", 0.02 * y)
    assert f.criterion == "BIC" and f.preferred == "two" and f.ic_two < f.ic_one
    assert abs(f.Tc - 800.0) < 3 * f.Tc_err and f.Tc_err < 30
    assert f.Tc_range[0] <= f.Tc <= f.Tc_range[1]
    assert abs(f.Ea_low - 0.5) < 3 * f.Ea_low_err
    assert abs(f.Ea_high - 0.2) < 3 * f.Ea_high_err
    np.testing.assert_allclose(f.predict(T), _bent(T), rtol=0.05)
    g = ar.fit_two_regime(T, y, "D", 0.02 * y, criterion="aic")
    assert g.criterion == "AIC" and g.Tc == pytest.approx(f.Tc)


def test_two_regime_straight_line_prefers_one():
    rng = np.random.default_rng(5)
    T = np.linspace(450.0, 1150.0, 10)
    y = _D(T) * (1 + 0.03 * rng.standard_normal(len(T)))
    f = ar.fit_two_regime(T, y, "D", 0.03 * y)
    assert f.preferred == "one" and f.ic_one < f.ic_two
    assert f.single.Ea == pytest.approx(EA, abs=3 * f.single.Ea_err)


def test_bad_input_names_the_value():
    T = T_LADDER[:4]
    y = _D(T)
    with pytest.raises(ValueError, match=r"T\[1\] = -300"):
        ar.fit([450.0, -300.0, 600.0], [1e-6, 2e-6, 3e-6])
    with pytest.raises(ValueError, match=r"y\[2\] = 0.0"):
        ar.fit(T, [1e-6, 2e-6, 0.0, 3e-6])
    with pytest.raises(ValueError, match=r"y\[0\] = -1"):
        ar.fit(T, [-1.0, 2e-6, 1e-6, 3e-6], "sigma")
    with pytest.raises(ValueError, match="T has 4 values but y has 3"):
        ar.fit(T, y[:3])
    with pytest.raises(ValueError, match="at least 2 points"):
        ar.fit([500.0], [1e-6])
    with pytest.raises(ValueError, match="2 distinct temperatures"):
        ar.fit([500.0, 500.0], [1e-6, 2e-6])
    with pytest.raises(ValueError, match=r"y_err\[3\] = 0.0"):
        ar.fit(T, y, y_err=[1e-8, 1e-8, 1e-8, 0.0])
    with pytest.raises(ValueError, match="'conductivity'"):
        ar.fit(T, y, "conductivity")
    with pytest.raises(ValueError, match="at least 5 points"):
        ar.fit_two_regime(T, y)
    with pytest.raises(ValueError, match="'HQIC'"):
        ar.fit_two_regime(T_LADDER, _D(T_LADDER), criterion="HQIC")
    with pytest.raises(ValueError, match="T = -5"):
        ar.sigma_from_ea(-5.0, 1.0, 0.3)
    with pytest.raises(ValueError, match="sigma0 must be positive, got -1"):
        ar.sigma_from_ea(300.0, -1.0, 0.3)
    f = ar.fit(T, y)
    with pytest.raises(ValueError, match=r"T\[1\] = 0.0"):
        f.extrapolate([300.0, 0.0])


def test_two_points_without_errors_warns():
    with pytest.warns(RuntimeWarning, match="no uncertainty"):
        f = ar.fit([500.0, 600.0], [1e-6, 3e-6])
    assert np.isnan(f.Ea_err) and f.Ea > 0

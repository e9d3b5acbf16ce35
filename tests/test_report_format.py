"""Campaign report rendering without a campaign: the rounding of every number shown with an
error, the unit labels per unit style (lj, metal, real), the summary card, figure files in
PNG/SVG/PDF and the CSV tables. (The report of a real campaign: tests/test_campaign.py.)"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ionsitu import units
from ionsitu.analysis import arrhenius
from ionsitu.measurement import format_with_error
from ionsitu.report import html as rhtml
from ionsitu.report import plots, sitemaps, tables


@pytest.mark.parametrize("value, error, text", [
    (1.23456, 0.0123, "1.235 ± 0.012"),      # error digits 123: two figures
    (1.23456, 0.0456, "1.23 ± 0.05"),        # 456: one figure
    (0.2715, 0.0123, "0.272 ± 0.012"),
    (1234.5, 27.0, "1234 ± 27"),
    (98765.0, 4321.0, "(9.9 ± 0.4)e+04"),
    (1.23456e-5, 3.4e-7, "(1.235 ± 0.034)e-05"),
    (0.5, 0.0296, "0.500 ± 0.030"),          # PDG: digits 296 -> two figures
    (0.5, 0.0099, "0.500 ± 0.010"),          # 990 -> rounded up to 1000, two figures
])
def test_numbers_with_an_error_are_rounded_to_the_error(value, error, text):
    assert rhtml._pm(value, error) == text == format_with_error(value, error)
    assert rhtml._pm(value, error, unit="eV") == text + " eV"


def test_numbers_without_an_error_keep_four_figures():
    assert rhtml._pm(1.23456, None) == "1.235" and rhtml._pm(None, 0.1) == "–"
    assert rhtml._pm(2.0, 0.0) == "2"


@pytest.mark.parametrize("style, D, cond, T", [
    ("lj", "sigma_LJ^2/tau_LJ", "q_LJ^2/(sigma_LJ tau_LJ epsilon_LJ)", "T (reduced (k_B = 1))"),
    ("metal", "cm^2/s", "S/cm", "T (K)"),
    ("real", "cm^2/s", "S/cm", "T (K)"),
])
def test_arrhenius_axis_labels_per_unit_style(style, D, cond, T):
    lab = plots.axis_labels(style)
    assert lab["D"] == f"D ({D})" and lab["conductivity"] == f"conductivity ({cond})" and lab["T"] == T
    assert lab["inv_T"] == ("1/T (reduced)" if style == "lj" else "1000/T (1/K)")
    assert "sigma" not in lab["conductivity"].replace("sigma_LJ", "")   # conductivity, never "sigma"


def _report(style: str) -> dict:
    """A report dict of two temperatures with the conventions of ``style`` (as results.build writes them)."""
    kB = units.boltzmann(style)
    T = np.array([600.0, 800.0, 1000.0]) if style != "lj" else np.array([0.6, 0.8, 1.0])
    y = 1e-5 * np.exp(-0.3 / (kB * T))
    fit = arrhenius.fit(T, y, "D", 0.05 * y, kB=kB, units=style)
    ex = fit.extrapolate(300.0 if style != "lj" else 0.3)

    def summ(f):
        return {"kind": f.kind, "convention": f.convention, "Ea": f.Ea, "Ea_err": f.Ea_err, "prefactor": f.prefactor,
                "prefactor_err": f.prefactor_err, "prefactor_unit": f.prefactor_unit, "r2": f.r2,
                "chi2_red": f.chi2_red, "Tc": None, "two_regime": None,
                "extrapolation": {"T": ex.T, "value": ex.value, "lo": ex.lo, "hi": ex.hi, "level": ex.level}}

    temps = [{"T": t, "n_replicas": 2, "status": "ok", "members": [],
              "tracer": {"D": v, "D_err": 0.05 * v, "resolved": True, "t_start": 1.0, "t_end": 10.0},
              "collective": {"D": 2 * v, "D_err": 0.5 * v, "resolved": True},
              "haven": {"H": 0.5123, "H_err": 0.0234, "resolved": True},
              "conductivity": {"sigma": 3 * v, "sigma_err": 0.3 * v, "resolved": True}} for t, v in zip(T, y)]
    conv = {"D_unit": units.diffusion_unit(style), "sigma_unit": units.conductivity_unit(style),
            "temperature_unit": units.temperature_unit(style), "Ea_unit": units.activation_energy_unit(style)}
    return {"conventions": conv, "temperatures": temps, "arrhenius": {"tracer": summ(fit), "conductivity": summ(fit)},
            "members": [{"name": "T1_r0", "T": 1.0, "replica": 0, "seed": 1, "state": "completed",
                         "step": 10, "target_step": 10, "attempts": 1, "wall_seconds": 1.5}], "hops": None}, fit


@pytest.mark.parametrize("style", ["lj", "metal", "real"])
def test_summary_card_per_unit_style(style):
    d, fit = _report(style)
    card = "\n".join(rhtml.html_summary_card(d, {}))
    ea_unit = units.activation_energy_unit(style)
    assert card.startswith("<div class=card id=summary>")
    assert f"{format_with_error(fit.Ea, fit.Ea_err, ea_unit)}" in card       # E_a rounded to its error
    assert "conductivity at T = " in card and units.conductivity_unit(style) in card
    assert "Haven ratio" in card and "0.512 ± 0.023" in card                 # H_R per temperature
    assert "unresolved (no two-regime fit" in card                           # T_c without a bent fit
    assert "sigma" not in card.replace("sigma_LJ", "").replace("σT", "")
    # T_c of a preferred two-regime fit, and of one where one regime wins
    d["arrhenius"]["tracer"]["two_regime"] = {"preferred": "two", "Tc": 712.3456, "Tc_err": 12.34, "criterion": "BIC"}
    d["arrhenius"]["conductivity"]["two_regime"] = {"preferred": "one", "Tc": 700.0, "Tc_err": 50.0,
                                                    "criterion": "BIC"}
    card = "\n".join(rhtml.html_summary_card(d, {}))
    assert "712 ± 12" in card and "unresolved (one regime preferred, BIC)" in card


def test_csv_tables_hold_the_report_numbers(tmp_path):
    d, fit = _report("metal")
    paths = tables.write_tables(d, tmp_path)
    assert sorted(paths) == ["arrhenius", "members", "temperatures"]     # no hops table without hops
    rows = list(csv.DictReader(paths["temperatures"].open()))
    assert [float(r["T"]) for r in rows] == [600.0, 800.0, 1000.0]
    assert float(rows[1]["D_tracer [cm^2/s]"]) == d["temperatures"][1]["tracer"]["D"]   # full precision
    arr = {r["quantity"]: r for r in csv.DictReader(paths["arrhenius"].open())}
    assert float(arr["tracer"]["Ea [eV]"]) == fit.Ea and arr["tracer"]["Tc"] == ""
    assert not list(tmp_path.glob("tables/*.tmp"))


def test_figures_in_png_svg_pdf(tmp_path):
    d, fit = _report("real")
    series = [{"label": "D*", "T": fit.T, "y": fit.y, "y_err": fit.y_err, "fit": fit, "panel": 0, "unit": "cm^2/s"}]
    png = plots.plot_arrhenius(series, tmp_path / "arr.png", units="real", formats=("png", "svg", "pdf"))
    files = plots.figure_files(png, ("svg", "pdf"))
    assert sorted(files) == ["pdf", "png", "svg"]
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(files["svg"]).getroot().tag.endswith("svg")
    assert files["pdf"].read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="'gif'"):
        plots.save_figure(None, tmp_path / "x.png", ("png", "gif"))


def test_residence_fit_is_the_exponential_maximum_likelihood():
    r = np.array([1.0, 2.0, 3.5, np.nan])
    tau, err = sitemaps.exponential_residence_fit(r)
    assert tau == pytest.approx(6.5 / 3, rel=1e-14) and err == pytest.approx(tau / np.sqrt(3), rel=1e-14)
    # the likelihood sum(log p) of exp(-t/tau)/tau is largest at tau
    ll = [np.sum(-r[:3] / t - np.log(t)) for t in (0.9 * tau, tau, 1.1 * tau)]
    assert ll[1] > ll[0] and ll[1] > ll[2]
    assert all(np.isnan(sitemaps.exponential_residence_fit([])))

"""A value with its 1-sigma error and unit, and the one rule that rounds a number to its error.

:func:`round_to_error` / :func:`format_with_error` are the rounding of every number shown with
an error (the result objects of :mod:`ionsitu.api`, the report): the error keeps 2 significant
figures when its three highest-order digits are 100-354 or 950-999 (rounded up to 1000),
else 1 (the Particle Data Group's rule, Review of Particle Physics, Introduction, "Rounding"),
and the value is rounded to the same decimal place.

>>> format_with_error(1.23456e-5, 3.4e-7, "cm^2/s")
'(1.235 ± 0.034)e-05 cm^2/s'
>>> f"{Measurement(0.2715, 0.0123, 'eV')}"
'0.272 ± 0.012 eV'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Measurement", "error_figures", "round_to_error", "format_with_error"]

#: values whose decimal exponent lies outside [SCI_MIN, SCI_MAX) are written as (v ± e)e±XX
SCI_MIN, SCI_MAX = -3, 4


def _leading_three(error: float) -> tuple[int, int]:
    """(the error's three highest-order digits as 100..999, its decimal exponent)."""
    e = abs(float(error))
    exp = math.floor(math.log10(e))
    d3 = int(round(e / 10.0 ** (exp - 2)))
    if d3 >= 1000:  # 9995 -> 1000: the next decade
        d3, exp = 100, exp + 1
    return d3, exp


def error_figures(error: float) -> int:
    """Significant figures kept of ``error`` by its three highest-order digits: 100-354: 2,
    355-949: 1, 950-999: rounded up to 1000 and 2 kept (0.0099 -> 0.010)."""
    d3, _ = _leading_three(error)
    return 1 if 355 <= d3 <= 949 else 2


def round_to_error(value: float, error: float) -> tuple[float, float, int]:
    """(value, error, decimals): both rounded to the decimal place of the error's last kept
    figure (:func:`error_figures`); ``decimals`` may be negative (tens, hundreds).

    A non-finite or non-positive error leaves the value unrounded (decimals None)."""
    value, error = float(value), float(error)
    if not (math.isfinite(error) and error > 0) or not math.isfinite(value):
        return value, error, None
    d3, exp = _leading_three(error)
    figs = error_figures(error)
    if d3 >= 950:
        exp += 1   # 950..999 -> 1.0 x 10^(exp+1)
        e_round = 10.0 ** exp
    else:
        e_round = round(d3, figs - 3) * 10.0 ** (exp - 2)
    decimals = figs - 1 - exp
    return round(value, decimals), round(e_round, decimals), decimals


def format_with_error(value: float, error: float, unit: str = "") -> str:
    """``value ± error unit`` rounded by :func:`round_to_error`; large or small values as
    ``(v ± e)e-05``. Without a usable error: the value to 4 significant figures."""
    tail = f" {unit}" if unit else ""
    value, error = float(value), float(error)
    if not math.isfinite(value):
        return f"{value}{tail}"
    if not (math.isfinite(error) and error > 0):
        return f"{value:.4g}{tail}"
    ref = abs(value) if value != 0 else error
    exp = math.floor(math.log10(ref))
    if SCI_MIN <= exp < SCI_MAX:
        exp = 0
    v, e, d = round_to_error(value / 10.0 ** exp, error / 10.0 ** exp)
    d = max(d, 0)
    body = f"{v:.{d}f} ± {e:.{d}f}"
    return (f"({body})e{exp:+03d}" if exp else body) + tail


@dataclass(frozen=True)
class Measurement:
    """A value with its 1-sigma ``error`` and ``unit`` (a :mod:`ionsitu.units` string).

    ``format(m)`` / ``str(m)`` round to the error (:func:`format_with_error`); a format spec
    (``f"{m:.3e}"``) formats value and error with it instead. ``float(m)`` is the value.
    ``resolved`` False: the value is not significantly positive (a diffusion coefficient
    with D - 2 err <= 0); it is shown as its 95 % upper bound ``upper_95``."""

    value: float
    error: float = float("nan")
    unit: str = ""
    resolved: bool = True
    upper_95: float = float("nan")

    def __format__(self, spec: str) -> str:
        if not self.resolved:
            tail = f" {self.unit}" if self.unit else ""
            return f"< {self.upper_95:.3g}{tail} (unresolved)" if math.isfinite(self.upper_95) else "unresolved"
        if not spec:
            return format_with_error(self.value, self.error, self.unit)
        tail = f" {self.unit}" if self.unit else ""
        return f"{self.value:{spec}} ± {self.error:{spec}}{tail}"

    def __str__(self) -> str:
        return format(self, "")

    def __repr__(self) -> str:
        return f"Measurement({self})"

    def __float__(self) -> float:
        return float(self.value)

    @property
    def relative_error(self) -> float:
        return abs(self.error / self.value) if self.value else float("nan")

"""Every number of one hop-event log, computed once: the summary ``ionsitu hops`` prints and
the campaign report pools over replicas.

Defaults (the same for both, and for the Python API):

- attempt frequency ν*: :func:`ionsitu.analysis.hops.activation.attempt_frequency` (given, else
  the VDOS of the same run from fix vacf's per-atom VACFs, else 1e13 Hz in the run's time
  unit; lj: no default);
- E_a per ordered site pair (jump type i, as seed 000 defines it): -kB T ln(J_i/(t N_i ν*)),
  N_i the ions that made a type-i jump; per jump class: -kB T ln(J_c/(t N_c z_c ν*)), N_c the
  ions taking part; kB in eV/K (E_a in eV) for every physical unit style, 1 for lj;
- correlated hops (:func:`correlation_defaults`): window given, else 1/ν* when ν* is given,
  else 5 samples of the fix; cutoff given, else 10 Å (3 sigma_LJ in lj); the chance level
  from 30 shuffles seeded 0;
- backjumps: site mode exact, site-free within half the fix's threshold;
- residence times: uncensored, finite ones;
- replicas (the report): :func:`mean_se` of every per-replica number, :func:`pool_correlated`
  for the chance reference of the correlated hops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ... import units as _units
from ...io.events import observed_time
from .activation import ActivationEnergies, activation_energies
from .activation import attempt_frequency as _attempt_frequency
from .classes import JumpClasses, JumpClassStats, jump_class_rates, jump_classes
from .correlated import CorrelatedHops, correlated_hops_of_log
from .rates import BackjumpStats, JumpDiffusivity, JumpStats, backjump_fraction, jump_diffusivity, jump_rates

__all__ = ["HopSummary", "hop_summary", "correlation_defaults", "mean_se", "pool_correlated", "ratio_with_error",
           "CORR_RANDOM", "CORR_SEED"]

#: chance reference of the correlated hops: shuffles per log and their seed
CORR_RANDOM = 30
CORR_SEED = 0


def correlation_defaults(units, nevery: int, dt: float, corr_window: float | None = None,
                         corr_cutoff: float | None = None, attempt_frequency: float | None = None):
    """(window, window source, cutoff, cutoff source) of the correlated-hop analysis:
    ``corr_window`` if given, else 1/``attempt_frequency`` if that is given (not a default),
    else 5 samples of the fix (``5 nevery dt``); ``corr_cutoff`` if given, else 10 Å in the
    run's length unit (3 sigma_LJ in lj)."""
    st = _units.get_style(units)
    if corr_window is not None:
        window, wsrc = float(corr_window), "given"
    elif attempt_frequency is not None:
        window, wsrc = 1.0 / float(attempt_frequency), "1/nu* (the given attempt frequency)"
    else:
        window, wsrc = 5 * int(nevery) * float(dt), "5 samples of the fix (default)"
    if corr_cutoff is not None:
        cutoff, csrc = float(corr_cutoff), "given"
    elif st.reduced:
        cutoff, csrc = 3.0, "3 sigma_LJ (lj default)"
    else:
        cutoff, csrc = 10e-10 / st.length_m, "10 A (default)"
    return window, wsrc, cutoff, csrc


@dataclass
class HopSummary:
    """The hop numbers of one event log (units of the run unless named otherwise).

    n_ions N, time t (observed), n_hops, n_ions_hopped, hop_rate = hops/(N t) (None without
    time); jump_types (site mode) and classes (:class:`JumpClassStats`); diffusivity D_j;
    residence (uncensored, finite residence times); backjumps (or backjump_skipped);
    correlated (:class:`CorrelatedHops` with its chance level) and the window/cutoff used;
    attempt_frequency ν* and its source (attempt_frequency_vdos: its spread over ions when it
    comes from the VDOS); Ea_class (per jump class) and Ea_pair (per ordered site pair, N_i the
    ions that made that jump) or the reason they were skipped."""

    site_mode: bool
    n_ions: int
    time: float
    n_hops: int
    n_ions_hopped: int
    hop_rate: float | None
    kB: float
    jump_types: JumpStats | None = None
    classes: JumpClassStats | None = None
    diffusivity: JumpDiffusivity | None = None
    residence: np.ndarray | None = None
    n_censored: int = 0
    backjumps: BackjumpStats | None = None
    backjump_skipped: str | None = None
    correlated: CorrelatedHops | None = None
    corr_window: float | None = None
    corr_window_source: str = ""
    corr_cutoff: float | None = None
    corr_cutoff_source: str = ""
    attempt_frequency: float | None = None
    attempt_frequency_source: str = ""
    attempt_frequency_vdos: object = None
    temperature: float | None = None
    Ea_class: ActivationEnergies | None = None
    Ea_pair: ActivationEnergies | None = None
    Ea_skipped: str | None = None
    Ea_pair_skipped: str | None = None


def hop_summary(events, meta, *, temperature: float | None = None, attempt_frequency: float | None = None,
                attempt_frequency_source: str | None = None, classes: JumpClasses | None = None,
                rel_tol: float = 0.05, site_frac=None, corr_window: float | None = None,
                corr_cutoff: float | None = None, corr_random: int = CORR_RANDOM,
                corr_seed: int = CORR_SEED, vacf_atoms=None, vacf_type: int | None = None) -> HopSummary:
    """Every hop number of one event log ``events`` with its header ``meta`` (:func:`read_events`).

    ``temperature`` (K; reduced in lj) for E_a; ``attempt_frequency`` ν* (1/time; an override;
    ``attempt_frequency_source`` names where a given one came from), else from ``vacf_atoms``
    (the run's per-atom VACFs, ions of ``vacf_type``, default all) by :func:`attempt_frequency`;
    ``classes``: jump classes (default: this log's hop lengths clustered within ``rel_tol``);
    ``site_frac`` the sites (multiplicities); correlated hops as :func:`correlation_defaults`.
    See the module docstring for the conventions.
    """
    units = meta.get("units", "lj")
    kB = _units.boltzmann(units)
    N = int(meta["natoms"])
    t = observed_time(meta)
    site_mode = meta.get("mode") == "sites"
    nu_given = attempt_frequency
    nu, nu_src, nu_vdos = _attempt_frequency(units, attempt_frequency, vacf_atoms, vacf_type)
    if nu_given is not None and attempt_frequency_source:
        nu_src = attempt_frequency_source
    s = HopSummary(site_mode=site_mode, n_ions=N, time=t, n_hops=int(len(events)),
                   n_ions_hopped=int(len(np.unique(events["atom_id"]))),
                   hop_rate=len(events) / (N * t) if t > 0 else None, kB=kB,
                   attempt_frequency=nu, attempt_frequency_source=nu_src, attempt_frequency_vdos=nu_vdos,
                   temperature=temperature)
    if t <= 0:
        return s
    cell = np.array(meta["cell"], dtype=float).reshape(3, 3) if meta.get("cell") else None
    sf = site_frac if site_mode else None
    s.diffusivity = jump_diffusivity(events, N, t)
    res = events["residence"][~events["censored"] & np.isfinite(events["residence"])]
    s.residence, s.n_censored = res, int(events["censored"].sum())
    if classes is None:
        classes = jump_classes(events, rel_tol=rel_tol)
    s.classes = jump_class_rates(events, N, t, classes=classes, site_frac=sf, cell=cell)
    if len(events) == 0:
        return s
    if site_mode:
        s.jump_types = jump_rates(events, N, t, directed=True)
    try:
        tol = None if site_mode else 0.5 * float(meta.get("threshold") or 1.0)
        s.backjumps = backjump_fraction(events, tol=tol)
    except ValueError as exc:
        s.backjump_skipped = str(exc)
    (s.corr_window, s.corr_window_source, s.corr_cutoff,
     s.corr_cutoff_source) = correlation_defaults(units, meta["nevery"], meta["dt"], corr_window, corr_cutoff,
                                                  nu_given)
    s.correlated = correlated_hops_of_log(events, meta, s.corr_window, s.corr_cutoff, cell=cell,
                                          n_random=corr_random, seed=corr_seed)
    if not site_mode:
        s.Ea_skipped = "site-free events have no jump types"
    elif temperature is None:
        s.Ea_skipped = "no temperature given"
    elif nu is None:
        s.Ea_skipped = nu_src
    else:
        try:
            s.Ea_class = activation_energies(events, t, temperature, nu, kB=kB, by="class", classes=classes,
                                             site_frac=sf, cell=cell)
        except ValueError as exc:
            s.Ea_skipped = str(exc)
        try:
            s.Ea_pair = activation_energies(events, t, temperature, nu, kB=kB, by="pair")
        except ValueError as exc:
            s.Ea_pair_skipped = str(exc)
    return s


# --------------------------------------------------------------------------- replicas


def mean_se(vals):
    """Mean and standard error over replicas (finite values, None skipped; error None for < 2);
    (None, None) without values. The pooling of every per-replica hop number of the report."""
    v = np.array([x for x in vals if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None)


def pool_correlated(reps) -> dict:
    """Replicas' correlated-hop chance reference pooled (the report's per-replica dicts, keys
    ``correlated_*``): z of the mean excess against the
    chance spread of the mean, sqrt(sum sd_r^2)/n; ions-per-event histograms summed (chance
    sd: sqrt of the summed variances)."""
    r = [x for x in reps if x.get("correlated_excess_fraction") is not None]
    if not r:
        return {}
    sd = np.sqrt(sum(x["correlated_chance_fraction_sd"] ** 2 for x in r)) / len(r)
    exc = float(np.mean([x["correlated_excess_fraction"] for x in r]))
    nmax = max(len(x["correlated_ions_per_event"]["n"]) for x in r)
    obs, ch, var = np.zeros(nmax), np.zeros(nmax), np.zeros(nmax)
    for x in r:
        h = x["correlated_ions_per_event"]
        k = len(h["n"])
        obs[:k] += h["observed"]
        ch[:k] += h["chance"]
        var[:k] += np.nan_to_num(np.asarray(h["chance_sd"], float)) ** 2
    return {"correlated_z": exc / sd if sd > 0 else None,
            "correlated_ions_per_event": {"n": np.arange(1, nmax + 1), "observed": obs.astype(np.int64),
                                          "chance": ch, "chance_sd": np.sqrt(var)}}


def ratio_with_error(a, a_err, b, b_err):
    """(a/b, its 1-sigma error from the relative errors added in quadrature; None where an
    error is None, both None if a or b is None or b is 0)."""
    if a is None or not b:
        return None, None
    r = a / b
    rel = [(e, v) for e, v in ((a_err, a), (b_err, b)) if e is not None]
    return r, (abs(r) * math.sqrt(sum((e / v) ** 2 for e, v in rel)) if rel else None)

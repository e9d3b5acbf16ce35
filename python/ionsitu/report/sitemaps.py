"""Campaign report, the inputs of the site-map figure: per temperature the jump network of the
members' hop logs (site pairs and hop counts, over the sites of the members' ``sites.txt``) and
the residence times with their exponential fit. Plot inputs only (not in the JSON: the
numbers of the JSON are in ``temperatures[].hops``).

Residence-time fit: an exponential p(t) = exp(-t/τ)/τ, whose maximum-likelihood τ is the mean
uncensored residence time (``hops.residence_mean`` of the report pools the replicas' means;
here the replicas' residences are pooled), error τ/√n.
"""

from __future__ import annotations

import numpy as np

from ..analysis.hops import jump_rates, residence_times

__all__ = ["build_site_maps", "exponential_residence_fit"]


def exponential_residence_fit(residence) -> tuple[float, float]:
    """(τ, error of τ) of p(t) = exp(-t/τ)/τ fitted by maximum likelihood to ``residence``
    (time units of the run): τ = mean, error τ/√n; (nan, nan) without residences."""
    r = np.asarray(residence, float)
    r = r[np.isfinite(r)]
    if not len(r):
        return float("nan"), float("nan")
    tau = float(r.mean())
    return tau, tau / np.sqrt(len(r))


def build_site_maps(runs_by_T: dict) -> dict:
    """{T: {"site_frac" (n, 3) or None, "pairs" (k, 2) undirected site pairs, "counts" (k,) hops
    per pair (replicas summed), "cell" (3, 3), "residence" (m,) uncensored residence times
    pooled over the replicas, "tau", "tau_err"}} from :func:`ionsitu.report.results.load_hop_runs`
    per temperature; temperatures without hops are left out."""
    out = {}
    for T, runs in runs_by_T.items():
        evs = [r["events"] for r in runs if len(r["events"])]
        if not evs:
            continue
        res = np.concatenate([residence_times(ev).all_values for ev in evs])
        tau, tau_err = exponential_residence_fit(res)
        entry = {"site_frac": runs[0]["site_frac"], "cell": runs[0]["cell"], "residence": res, "tau": tau,
                 "tau_err": tau_err, "pairs": np.zeros((0, 2), int), "counts": np.zeros(0, int)}
        if runs[0]["site_frac"] is not None:
            ev = np.concatenate(evs)
            ev = ev[(ev["from_site"] >= 0) & (ev["to_site"] >= 0)]
            if len(ev):
                js = jump_rates(ev, runs[0]["N"], 1.0, directed=False)
                entry["pairs"], entry["counts"] = js.pairs, js.count
        out[T] = entry
    return out

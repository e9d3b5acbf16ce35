"""Campaign report, vibrations ([analysis.vacf]): per temperature the VDOS of the mobile ions
and the attempt frequency ν* per species, from each member's ``vacf.dat`` / ``vacf_atoms.dat``
(:mod:`ionsitu.analysis.vibrations`), replicas pooled.

Per temperature ``vibrations``: ``unit`` (THz, 1/tau in lj), ``mean_frequency`` /
``peak_frequency`` of the group VDOS (mean and ``_err`` over replicas), ``resolved`` (all
replicas' spectra peak beyond two resolution widths), and per species ``species[type]``:
``nu_star`` (mean over replicas of the mean over ions of each ion's mean VDOS frequency, with
``_err`` over replicas), ``sd_over_ions`` (mean over replicas of the spread over ions) and
``n_ions``. The replica-mean VDOS curves go to the figure (:func:`ionsitu.report.plots.plot_vdos`), the HTML in
:func:`ionsitu.report.html.html_vibrations`.
"""

from __future__ import annotations

import numpy as np

from ..analysis import vibrations as _vib
from ..analysis.hops import mean_se


def build_vibrations(camp, by_T) -> tuple[dict, dict, list[str]]:
    """({T: per-temperature 'vibrations' entry}, {T: (frequency, replica-mean g, unit)}, warnings);
    empty without [analysis.vacf]."""
    if "vacf" not in camp.conf["analysis"]:
        return {}, {}, []
    per_T, curves, warns = {}, {}, []
    for T in camp.temperatures:
        spectra, nus = [], []
        for m in by_T[T]:
            out = camp.outputs(m)
            if not (out["vacf"].is_file() and out["vacf_atoms"].is_file()):
                warns.append(f"T={T:g}: no vacf.dat / vacf_atoms.dat in {m.name}")
                continue
            try:
                spectra.append(_vib.spectrum(_vib.read_vacf(out["vacf"])))
                nus.append(_vib.attempt_frequencies(_vib.read_vacf_atoms(out["vacf_atoms"])))
            except ValueError as exc:
                warns.append(f"T={T:g}, {m.name}: VDOS skipped: {exc}")
        if not spectra:
            continue
        e = {"n_replicas": len(spectra), "unit": spectra[0].unit, "resolved": all(s.resolved for s in spectra)}
        for k in ("mean_frequency", "peak_frequency"):
            e[k], e[k + "_err"] = mean_se([getattr(s, k) for s in spectra])
        species = {}
        for t in sorted({t for n in nus for t in n}):
            af = [n[t] for n in nus if t in n]
            sp = {"n_ions": af[0].n}
            sp["nu_star"], sp["nu_star_err"] = mean_se([a.mean for a in af])
            sp["sd_over_ions"] = mean_se([a.sd for a in af])[0]
            species[str(t)] = sp
        e["species"] = species
        per_T[T] = e
        same = all(np.array_equal(s.frequency, spectra[0].frequency) for s in spectra)
        g = np.mean([s.g for s in spectra], axis=0) if same else spectra[0].g
        curves[T] = (spectra[0].frequency, g, spectra[0].unit)
    return per_T, curves, warns


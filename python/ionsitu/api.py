"""Result objects for notebooks: transport of a run, Arrhenius across temperatures, hops,
occupancy/sites, and :func:`load_campaign`.

Each object is built by one of its constructors -- ``from_file`` (the fix output files),
``from_run`` (a run or member folder), ``from_campaign`` (a campaign file or
:class:`CampaignResults`, one temperature), and for transport ``from_trajectory`` (a LAMMPS
dump or any trajectory :func:`ionsitu.io.trajectory.msd_from_trajectory` reads) and
``from_ase`` (a list of ``ase.Atoms`` or a file ``ase.io.read`` reads) -- and holds what the
analysis function returned, unchanged: the numbers are those of ``ionsitu analyze``,
``ionsitu hops`` and the campaign report, computed by the same functions with the same
defaults (:func:`ionsitu.analysis.transport.analyse`, :func:`ionsitu.analysis.arrhenius.fit_weighted`,
:func:`ionsitu.analysis.hops.hop_summary` through :func:`ionsitu.report.results.member_hop_summary`,
:func:`ionsitu.report.results.occupancy_summary`). Nothing here computes a number itself.

Every object has read-only numpy array properties, values with errors as
:class:`ionsitu.measurement.Measurement` (``f"{t.D}"`` rounds to the error), ``plot(ax=None)``
returning the matplotlib figure, ``to_dataframe()`` (pandas), ``_repr_html_`` (a table in
Jupyter) and a one-line ``repr``.

>>> camp = ionsitu.load_campaign("campaign.toml")          # doctest: +SKIP
>>> camp.transport[600.0].D, camp.arrhenius("tracer").Ea   # doctest: +SKIP
(Measurement(1.23 ± 0.05 cm^2/s), Measurement(0.31 ± 0.02 eV))
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path

import numpy as np

from . import units as _units
from .analysis import arrhenius as _arr
from .analysis import transport as _tr
from .io.events import is_event_file, resolve_site_file
from .io.msd import is_msd_file, read_msd
from .io.occupancy import merge_grids, read_occupancy, write_cube
from .measurement import Measurement

__all__ = ["Transport", "Arrhenius", "Hops", "Occupancy", "CampaignResults", "load_campaign", "Measurement"]

#: [report] defaults of a campaign file, used by the constructors that have no campaign
_REPORT_DEFAULTS = None


def _report_defaults() -> dict:
    """The ``[report]`` defaults of the campaign schema (one source of the defaults)."""
    global _REPORT_DEFAULTS
    if _REPORT_DEFAULTS is None:
        from .campaign.schema import SCHEMA

        _REPORT_DEFAULTS = {k: key.default for k, key in SCHEMA["report"].items()}
    return _REPORT_DEFAULTS


def _ro(a) -> np.ndarray:
    """A read-only view of ``a`` (the object's data cannot be changed through it)."""
    v = np.asarray(a).view()
    v.flags.writeable = False
    return v


def _m(value, error, unit="", resolved=True, upper_95=float("nan")) -> Measurement:
    return Measurement(float("nan") if value is None else float(value),
                       float("nan") if error is None else float(error), unit, bool(resolved), float(upper_95))


class _Result:
    """Shared display: ``_rows()`` -> [(name, value)] is the summary every view shows."""

    _title = "result"

    def _rows(self) -> list[tuple[str, object]]:
        raise NotImplementedError

    def summary(self):
        """The headline numbers as a pandas DataFrame (quantity, value, error, unit)."""
        import pandas as pd

        rows = []
        for name, v in self._rows():
            if isinstance(v, Measurement):
                rows.append({"quantity": name, "value": v.value, "error": v.error, "unit": v.unit})
            else:
                rows.append({"quantity": name, "value": v, "error": np.nan, "unit": ""})
        return pd.DataFrame(rows).set_index("quantity")

    def _repr_html_(self) -> str:
        cells = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(str(v))}</td></tr>" for n, v in self._rows())
        return (f"<table><caption>{html.escape(self._title)}</caption>"
                f"<tr><th>quantity</th><th>value</th></tr>{cells}</table>")

    def __str__(self) -> str:
        return "\n".join([self._title] + [f"  {n}: {v}" for n, v in self._rows()])


def _figure(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        return fig, ax
    return ax.figure, ax


# --------------------------------------------------------------------------------------
# Transport of one state point
# --------------------------------------------------------------------------------------
class Transport(_Result):
    """MSDs, D* (tracer), D_sigma (collective), Haven ratio and conductivity of one
    temperature: :func:`ionsitu.analysis.transport.analyse` of the run's MSD results (the
    replicas pooled: mean and standard error), as ``ionsitu analyze`` and the report.

    ``report`` is the :class:`ionsitu.analysis.transport.TransportReport`; ``msd_results``
    the :class:`ionsitu.io.msd.MSDResult` replicas. D in :func:`ionsitu.units.diffusion_unit`
    (cm^2/s; reduced for lj), sigma in :func:`ionsitu.units.conductivity_unit`.
    """

    def __init__(self, msd_results, report: _tr.TransportReport, source: str = ""):
        self.msd_results = list(msd_results)
        self.report = report
        self.source = source

    # constructors ----------------------------------------------------------------------
    @classmethod
    def from_msd(cls, results, T: float, *, z: float = 1.0, window=None, source: str = "") -> "Transport":
        """From MSD results (one or a list of replicas) at temperature ``T`` (K; reduced in lj);
        ``z`` the charge number of the Nernst-Einstein sigma, ``window`` (t_start, t_end) in time
        units of the run (default automatic)."""
        results = [results] if not isinstance(results, (list, tuple)) else list(results)
        if not results:
            raise ValueError(f"no MSD results to analyse at T = {T}")
        rep = _tr.analyse(results if len(results) > 1 else results[0], T, z=z,
                          window=None if window is None else tuple(window))
        return cls(results, rep, source)

    @classmethod
    def from_file(cls, paths, T: float, **kw) -> "Transport":
        """From ``fix msd/cross`` files (one path or a list of replicas)."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        return cls.from_msd([read_msd(p) for p in paths], T, source=", ".join(map(str, paths)), **kw)

    @classmethod
    def from_run(cls, folder, T: float, **kw) -> "Transport":
        """Every MSD file below ``folder`` (recognised by its ``# ionsitu-msd`` line), as replicas."""
        folder = Path(folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and is_msd_file(p))
        if not files:
            raise FileNotFoundError(f"no MSD file (fix msd/cross output) below {folder}")
        return cls.from_file(files, T, **kw)

    @classmethod
    def from_campaign(cls, campaign, T: float) -> "Transport":
        """The completed replicas of a campaign at ``T``, analysed as the campaign report does
        (:func:`ionsitu.report.results.analyse_temperature`: its window and charges)."""
        return load_campaign(campaign).transport[float(T)]

    @classmethod
    def from_trajectory(cls, source, species, T: float, timestep: float | None = None, *, z: float = 1.0,
                        window=None, **kw) -> "Transport":
        """From a trajectory (LAMMPS dump, ASE or MDAnalysis formats) through the offline
        correlator: :func:`ionsitu.io.trajectory.msd_from_trajectory` (``species``, ``timestep``
        and its keywords: stride, units, drift, charges, ...), then :meth:`from_msd`."""
        from .io.trajectory import msd_from_trajectory

        res = msd_from_trajectory(source, species, timestep, **kw)
        name = str(source) if isinstance(source, (str, Path)) else "ase.Atoms list"
        return cls.from_msd(res, T, z=z, window=window, source=name)

    @classmethod
    def from_ase(cls, atoms, species, T: float, timestep: float | None = None, **kw) -> "Transport":
        """From a list of ``ase.Atoms`` (or a file, read with ``ase.io.read(path, ":")``);
        positions in Å, time in ps (metal) unless ``units`` says otherwise."""
        if isinstance(atoms, (str, Path)):
            import ase.io

            atoms = ase.io.read(str(atoms), ":")
        return cls.from_trajectory(list(atoms), species, T, timestep, **kw)

    # properties --------------------------------------------------------------------------
    @property
    def T(self) -> float:
        return self.report.T

    @property
    def units(self) -> str:
        return self.report.tracer.units

    @property
    def time(self) -> np.ndarray:
        """Lag times of the fit arrays (time units of the run)."""
        return _ro(self.report.tracer.time)

    def _mean(self, attr) -> np.ndarray:
        """Replica mean of an MSD array on the lags of the first replica with origins."""
        r0 = self.msd_results[0]
        ok = r0.valid()
        arrs = [getattr(r, attr)[ok] for r in self.msd_results if len(r.lag_steps) == len(r0.lag_steps)]
        return np.mean(arrs, axis=0)

    @property
    def lag_time(self) -> np.ndarray:
        """Lag times of :attr:`msd_xyz` (lags with time origins)."""
        r0 = self.msd_results[0]
        return _ro(r0.time[r0.valid()])

    @property
    def msd_xyz(self) -> np.ndarray:
        """(nlags, 4) self MSD per ion, columns x, y, z, total (replica mean; distance^2)."""
        return _ro(self._mean("msd_xyz"))

    @property
    def msd(self) -> np.ndarray:
        return self.msd_xyz[:, 3]

    @property
    def collective_msd(self) -> np.ndarray:
        """Total collective MSD 1/N <|sum_i dr_i|^2> (replica mean)."""
        return _ro(self._mean("coll_xyz")[:, 3])

    @property
    def alpha2(self) -> np.ndarray:
        """Non-Gaussian parameter alpha_2(t) on :attr:`time`."""
        return _ro(self.report.tracer.alpha2)

    @property
    def window(self) -> tuple[float, float]:
        return (self.report.tracer.t_start, self.report.tracer.t_end)

    @property
    def D(self) -> Measurement:
        """Tracer diffusion coefficient D*."""
        f = self.report.tracer
        return _m(f.D, f.D_err, f.unit, f.resolved, f.upper_95)

    @property
    def D_xyz(self) -> np.ndarray:
        return _ro(self.report.tracer.D_xyz)

    @property
    def D_collective(self) -> Measurement:
        """Collective diffusion coefficient D_sigma (same window as D*)."""
        f = self.report.collective
        return _m(f.D, f.D_err, f.unit, f.resolved, f.upper_95)

    @property
    def haven_ratio(self) -> Measurement:
        h = self.report.haven
        return _m(h.H, h.H_err, "", h.resolved)

    @property
    def conductivity(self) -> Measurement | None:
        """sigma: from the charge MSD when the run has charges, else Nernst-Einstein from
        D_sigma (the report's choice); None without a cell volume."""
        c = self.report.charge_conductivity or self.report.conductivity
        return None if c is None else _m(c.sigma, c.sigma_err, c.unit, c.resolved, c.upper_95)

    def _rows(self):
        rows = [("T", self.T), ("D*", self.D), ("D_sigma", self.D_collective), ("H_R", self.haven_ratio)]
        if self.conductivity is not None:
            rows.append(("sigma", self.conductivity))
        rows.append(("window", f"{self.window[0]:.4g} .. {self.window[1]:.4g}"))
        return rows

    @property
    def _title(self) -> str:
        return f"Transport at T = {self.T:g} ({len(self.msd_results)} replica(s), {self.units} units)"

    def __repr__(self) -> str:
        return f"<Transport T={self.T:g} D*={self.D} H_R={self.haven_ratio}>"

    def to_dataframe(self):
        """The MSD curves per lag: time, msd_x, msd_y, msd_z, msd, collective (replica means)."""
        import pandas as pd

        m = self.msd_xyz
        return pd.DataFrame({"time": self.lag_time, "msd_x": m[:, 0], "msd_y": m[:, 1], "msd_z": m[:, 2],
                             "msd": m[:, 3], "collective": self.collective_msd})

    def plot(self, ax=None):
        """Self and collective MSD, log-log, with the fitted line over the fit window."""
        fig, ax = _figure(ax)
        t = self.lag_time
        keep = t > 0
        ax.loglog(t[keep], self.msd[keep], label="self MSD")
        ax.loglog(t[keep], self.collective_msd[keep], label="collective MSD", alpha=0.7)
        f = self.report.tracer
        tw = np.geomspace(f.t_start, f.t_end, 20)
        ax.loglog(tw, 6.0 * f.D_run * tw + f.offset, "k--", label=f"fit, D* = {self.D}")
        ax.axvspan(f.t_start, f.t_end, color="0.9", zorder=0)
        lab = _units.labels(self.units)
        ax.set_xlabel(f"t ({lab['time']})")
        ax.set_ylabel(f"MSD ({lab['length']}$^2$)")
        ax.set_title(f"T = {self.T:g}")
        ax.legend()
        return fig


# --------------------------------------------------------------------------------------
# Arrhenius across temperatures
# --------------------------------------------------------------------------------------
#: kind of result -> (Arrhenius kind, getter of (value, error, resolved) on a TransportReport)
_SERIES = {
    "tracer": ("D", lambda r: (r.tracer.D, r.tracer.D_err, r.tracer.resolved)),
    "collective": ("D", lambda r: (r.collective.D, r.collective.D_err, r.collective.resolved)),
    "sigma": ("sigma", lambda r: ((c := r.charge_conductivity or r.conductivity).sigma, c.sigma_err, c.resolved)),
}


class Arrhenius(_Result):
    """Arrhenius fit of D*, D_sigma or sigma across temperatures:
    :func:`ionsitu.analysis.arrhenius.fit_weighted` of the resolved points
    (:func:`ionsitu.analysis.arrhenius.resolved_points`), as in the report. ``fit`` is the
    :class:`ionsitu.analysis.arrhenius.ArrheniusFit`; ``skipped_T`` the unresolved temperatures."""

    def __init__(self, fit: _arr.ArrheniusFit, quantity: str, units: str, skipped_T=()):
        self.fit = fit
        self.quantity = quantity
        self.units = units
        self.skipped_T = _ro(np.asarray(skipped_T, float))

    @classmethod
    def from_transport(cls, transports, quantity: str = "tracer") -> "Arrhenius":
        """From :class:`Transport` objects at two or more temperatures; ``quantity`` one of
        "tracer", "collective", "sigma"."""
        if quantity not in _SERIES:
            raise ValueError(f"quantity must be one of {sorted(_SERIES)}, got {quantity!r}")
        kind, get = _SERIES[quantity]
        ts = [t for t in transports if quantity != "sigma" or t.conductivity is not None]
        if not ts:
            raise ValueError(f"no temperature has a {quantity} result")
        vals = [get(t.report) for t in ts]
        T, y, err, skipped = _arr.resolved_points([t.T for t in ts], *zip(*vals))
        units = ts[0].units
        if len(np.unique(T)) < 2:
            raise ValueError(f"Arrhenius {quantity}: needs >= 2 temperatures with a resolved value, "
                             f"have T = {T.tolist()} (unresolved: {skipped.tolist()})")
        fit = _arr.fit_weighted(T, y, kind, err, kB=_units.boltzmann(units), units=units)
        return cls(fit, quantity, units, skipped)

    @classmethod
    def from_file(cls, files_by_T: dict, quantity: str = "tracer", **kw) -> "Arrhenius":
        """From MSD files: ``{T: path or [replica paths]}``; keywords of :meth:`Transport.from_msd`."""
        return cls.from_transport([Transport.from_file(p, T, **kw) for T, p in files_by_T.items()], quantity)

    @classmethod
    def from_run(cls, folders_by_T: dict, quantity: str = "tracer", **kw) -> "Arrhenius":
        """From run folders: ``{T: folder}`` (every MSD file below a folder is a replica)."""
        return cls.from_transport([Transport.from_run(d, T, **kw) for T, d in folders_by_T.items()], quantity)

    @classmethod
    def from_campaign(cls, campaign, quantity: str = "tracer") -> "Arrhenius":
        return load_campaign(campaign).arrhenius(quantity)

    @property
    def T(self) -> np.ndarray:
        return _ro(self.fit.T)

    @property
    def y(self) -> np.ndarray:
        """The fitted values (D or sigma per temperature, in :attr:`unit`)."""
        return _ro(self.fit.y)

    @property
    def y_err(self) -> np.ndarray:
        return _ro(np.full(len(self.fit.T), np.nan) if self.fit.y_err is None else self.fit.y_err)

    @property
    def unit(self) -> str:
        return (_units.conductivity_unit if self.quantity == "sigma" else _units.diffusion_unit)(self.units)

    @property
    def Ea(self) -> Measurement:
        return _m(self.fit.Ea, self.fit.Ea_err, _units.activation_energy_unit(self.units))

    @property
    def prefactor(self) -> Measurement:
        return _m(self.fit.prefactor, self.fit.prefactor_err, self.fit.prefactor_unit)

    def extrapolate(self, T: float, level: float = 0.95):
        """:meth:`ionsitu.analysis.arrhenius.ArrheniusFit.extrapolate` (value, lo, hi at ``level``)."""
        return self.fit.extrapolate(T, level=level)

    def _rows(self):
        return [("quantity", self.quantity), ("convention", self.fit.convention), ("Ea", self.Ea),
                ("prefactor", self.prefactor), ("R^2", f"{self.fit.r2:.4f}"), ("points", self.fit.n)]

    @property
    def _title(self) -> str:
        return f"Arrhenius fit of {self.quantity} ({self.fit.n} temperatures, {self.units} units)"

    def __repr__(self) -> str:
        return f"<Arrhenius {self.quantity}: Ea={self.Ea}, n={self.fit.n}>"

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame({"T": self.T, "inv_T": 1.0 / self.T, "value": self.y, "error": self.y_err,
                             "fit": self.fit.predict(self.T)})

    def plot(self, ax=None):
        """The values against 1000/T (log scale) with the fitted line."""
        fig, ax = _figure(ax)
        x = 1000.0 / self.T
        ax.errorbar(x, self.y, yerr=self.y_err, fmt="o", label=self.quantity)
        Tg = np.linspace(self.T.min(), self.T.max(), 50)
        ax.plot(1000.0 / Tg, self.fit.predict(Tg), "k--", label=f"Ea = {self.Ea}")
        ax.set_yscale("log")
        ax.set_xlabel(f"1000 / T (1/{_units.temperature_unit(self.units)})")
        ax.set_ylabel(f"{self.quantity} ({self.unit})")
        ax.legend()
        return fig


# --------------------------------------------------------------------------------------
# Hops
# --------------------------------------------------------------------------------------
_HOP_KEYS = ("hop_rate", "D_j", "residence_mean", "backjump_fraction", "correlated_fraction",
             "correlated_chance_fraction", "correlated_excess_fraction")


class Hops(_Result):
    """Hop summary of one temperature: the numbers of
    :func:`ionsitu.analysis.hops.hop_summary` per event log (``replicas``: the report's
    per-member dicts, :func:`ionsitu.report.results.member_hop_summary`) and, from a campaign,
    the report's pooled entry (mean and standard error over replicas). Rates per ion per time
    (1/time of the run); D_j in distance^2/time of the run."""

    def __init__(self, entry: dict, units: str, T: float | None):
        self.entry = entry
        self.units = units
        self.T = T

    @classmethod
    def from_file(cls, path, T: float | None = None, *, sites=None, attempt_frequency: float | None = None,
                  corr_window: float | None = None, corr_cutoff: float | None = None, vacf_atoms=None) -> "Hops":
        """From a ``fix hop/events`` log; ``sites`` the site file (default: the one the log
        names, next to it); ``vacf_atoms`` the run's fix vacf per-atom file whose VDOS gives ν*
        (default: the one next to the log); the other arguments and their defaults as
        ``ionsitu hops``."""
        from .analysis import hops as _hops
        from .analysis.vibrations import find_vacf_atoms_file
        from .report.results import hop_run, member_hop_summary

        path = Path(path)
        vacf = vacf_atoms if vacf_atoms is not None else find_vacf_atoms_file(path.parent)
        run = hop_run(path, None, member=path.parent.name, T=T, vacf_atoms_path=vacf)
        site_path = sites or run["meta"].get("site_file")
        if site_path:
            run = hop_run(path, resolve_site_file(path, site_path), member=path.parent.name, T=T, vacf_atoms_path=vacf)
        classes = _hops.jump_classes([run["events"]], rel_tol=_report_defaults()["jump_rel_tol"])
        rep = member_hop_summary(run, classes, T, attempt_frequency, None, corr_window, corr_cutoff)
        entry = {k: rep.get(k) for k in _HOP_KEYS}
        entry.update({k + "_err": None for k in _HOP_KEYS}, n_hops=rep["n_hops"], n_replicas=1, replicas=[rep],
                     n_ions=rep["n_ions"], n_sites=rep["n_sites"])
        return cls(entry, run["meta"].get("units", "lj"), T)

    @classmethod
    def from_run(cls, folder, T: float | None = None, **kw) -> "Hops":
        """The one hop-event log in ``folder`` (a member folder: ``hops.txt``)."""
        files = sorted(p for p in Path(folder).iterdir() if p.is_file() and is_event_file(p))
        if len(files) != 1:
            raise ValueError(f"{folder}: expected one hop-event log, found {len(files)} ({[p.name for p in files]})")
        return cls.from_file(files[0], T, **kw)

    @classmethod
    def from_campaign(cls, campaign, T: float) -> "Hops":
        return load_campaign(campaign).hops[float(T)]

    def _get(self, key) -> Measurement:
        return _m(self.entry.get(key), self.entry.get(key + "_err"))

    @property
    def hop_rate(self) -> Measurement:
        """Hops per ion per time (1/time of the run)."""
        m = self._get("hop_rate")
        return Measurement(m.value, m.error, _units.labels(self.units)["rate"])

    @property
    def n_hops(self) -> int:
        return int(self.entry["n_hops"])

    @property
    def residence_mean(self) -> Measurement:
        return self._get("residence_mean")

    @property
    def backjump_fraction(self) -> Measurement:
        return self._get("backjump_fraction")

    @property
    def correlated_fraction(self) -> Measurement:
        return self._get("correlated_fraction")

    @property
    def correlated_excess_fraction(self) -> Measurement:
        return self._get("correlated_excess_fraction")

    @property
    def residence_mean_per_replica(self) -> np.ndarray:
        """Mean residence time of each replica (the per-member values pooled)."""
        return _ro(np.array([np.nan if r.get("residence_mean") is None else r["residence_mean"]
                             for r in self.entry["replicas"]], float))

    def _rows(self):
        return [("T", self.T), ("hops", self.n_hops), ("hop rate per ion", self.hop_rate),
                ("mean residence", self.residence_mean), ("backjump fraction", self.backjump_fraction),
                ("correlated fraction", self.correlated_fraction),
                ("correlated excess over chance", self.correlated_excess_fraction)]

    @property
    def _title(self) -> str:
        return f"Hops at T = {self.T} ({self.entry.get('n_replicas', 1)} log(s))"

    def __repr__(self) -> str:
        return f"<Hops T={self.T} n_hops={self.n_hops} rate={self.hop_rate}>"

    def to_dataframe(self):
        """One row per replica (event log) with its numbers."""
        import pandas as pd

        return pd.DataFrame([{k: r.get(k) for k in ("member", "n_hops", "time") + _HOP_KEYS}
                             for r in self.entry["replicas"]])

    def plot(self, ax=None):
        """Hop rate per replica."""
        fig, ax = _figure(ax)
        reps = self.entry["replicas"]
        ax.bar([str(r["member"]) for r in reps], [r.get("hop_rate") or 0.0 for r in reps])
        ax.set_ylabel(f"hops per ion per time ({self.hop_rate.unit})")
        ax.set_title(f"T = {self.T}")
        return fig


# --------------------------------------------------------------------------------------
# Occupancy and sites
# --------------------------------------------------------------------------------------
class Occupancy(_Result):
    """An occupancy grid (``fix occupancy/grid``; replicas merged by
    :func:`ionsitu.io.occupancy.merge_grids`) and its sites
    (:func:`ionsitu.report.results.occupancy_summary`: the report's site search)."""

    def __init__(self, grid: dict, units: str, T: float | None = None, *, threshold: float | None = None,
                 min_distance: float | None = None):
        from .report.results import occupancy_summary

        self.grid = grid
        self.units = units
        self.T = T
        thr = _report_defaults()["site_threshold"] if threshold is None else threshold
        self.entry, self.search = occupancy_summary(grid, thr, min_distance)

    @classmethod
    def from_file(cls, paths, T: float | None = None, **kw) -> "Occupancy":
        """From ``occupancy.npz`` files (one or replicas, merged)."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        grids = [read_occupancy(p) for p in paths]
        units = grids[0]["meta"].get("units", "lj")
        return cls(merge_grids(grids), units, T, **kw)

    @classmethod
    def from_run(cls, folder, T: float | None = None, **kw) -> "Occupancy":
        files = sorted(Path(folder).rglob("occupancy*.npz"))
        if not files:
            raise FileNotFoundError(f"no occupancy*.npz (fix occupancy/grid output) below {folder}")
        return cls.from_file(files, T, **kw)

    @classmethod
    def from_campaign(cls, campaign, T: float) -> "Occupancy":
        return load_campaign(campaign).occupancy[float(T)]

    @property
    def counts(self) -> np.ndarray:
        """(nx, ny, nz) counts summed over the grids' types and replicas."""
        return _ro(self.grid["counts"])

    @property
    def density(self) -> np.ndarray:
        """Probability density (1/length^3) of the site search."""
        from .analysis.sites import density_from_counts

        return _ro(self.search.density if self.search is not None else
                   density_from_counts(self.grid["counts"], self.grid["cell"]))

    @property
    def cell(self) -> np.ndarray:
        return _ro(self.grid["cell"])

    @property
    def origin(self) -> np.ndarray:
        return _ro(self.grid["origin"])

    @property
    def site_positions(self) -> np.ndarray:
        """(n, 3) Cartesian positions of the sites (length units of the run)."""
        return _ro(np.zeros((0, 3)) if self.search is None else self.search.sites.cart)

    @property
    def site_occupancy(self) -> np.ndarray:
        return _ro(np.zeros(0) if self.search is None else self.search.sites.occupancy)

    @property
    def n_sites(self) -> int:
        return int(self.entry.get("n_sites_found", 0))

    def write_cube(self, path, *, norm: str = "probability", atoms=None, per_angstrom3: bool = False,
                   comment: str = "") -> Path:
        """The merged grid as a Gaussian cube (:func:`ionsitu.io.occupancy.write_cube`, the
        fix's layout): ``norm`` probability/density/counts, ``atoms`` (an ``ase.Atoms``, e.g.
        the framework) in the header, ``per_angstrom3`` for VESTA/OVITO."""
        to_bohr = float(self.grid["meta"].get("cube_length_to_bohr", _units.length_to_bohr(self.units)))
        return write_cube(path, self.grid["counts"], self.grid["cell"], self.grid["origin"], to_bohr=to_bohr,
                          comment=comment or f"ionsitu occupancy, T = {self.T}", nframes=self.grid["nframes"],
                          norm=norm, atoms=atoms, per_angstrom3=per_angstrom3)

    def _rows(self):
        return [("T", self.T), ("grid", "x".join(map(str, self.entry["shape"]))), ("frames", self.entry["nframes"]),
                ("sites found", self.n_sites), ("occupancy in sites", self.entry.get("occupancy_in_sites"))]

    @property
    def _title(self) -> str:
        return f"Occupancy at T = {self.T} ({self.units} units)"

    def __repr__(self) -> str:
        return f"<Occupancy T={self.T} grid={self.entry['shape']} sites={self.n_sites}>"

    def to_dataframe(self):
        """The sites: Cartesian x, y, z and occupancy."""
        import pandas as pd

        p = self.site_positions
        return pd.DataFrame({"x": p[:, 0], "y": p[:, 1], "z": p[:, 2], "occupancy": self.site_occupancy})

    def plot(self, ax=None):
        """Maximum projection of the density along c, with the sites."""
        fig, ax = _figure(ax)
        ax.imshow(self.density.max(axis=2).T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        if self.search is not None and self.n_sites:
            f = self.search.sites.frac % 1.0
            ax.plot(f[:, 0], f[:, 1], "r+", ms=6)
        ax.set_xlabel("a (fractional)")
        ax.set_ylabel("b (fractional)")
        ax.set_title(f"T = {self.T}: {self.n_sites} sites")
        return fig


# --------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------
class CampaignResults(_Result):
    """The per-temperature results of a campaign's completed members, each computed on first
    use: ``transport[T]`` (:class:`Transport`), ``hops[T]``, ``occupancy[T]`` and
    ``arrhenius(quantity)``; :meth:`report` is the report dictionary
    (:func:`ionsitu.report.build`, the numbers of ``report.json``)."""

    def __init__(self, campaign):
        self.campaign = campaign
        self._transport = self._hops = self._occupancy = None

    @property
    def units(self) -> str:
        return self.campaign.units

    @property
    def completed(self) -> dict:
        """{T: [completed members with an MSD file]} (the members the report uses)."""
        st = self.campaign.statuses()
        by_T = {T: [] for T in self.campaign.temperatures}
        for m in self.campaign.members:
            if (st.get(m.name) or {}).get("state") == "completed" and self.campaign.outputs(m)["msd"].is_file():
                by_T[m.T].append(m)
        return by_T

    @property
    def temperatures(self) -> np.ndarray:
        return _ro(np.array([T for T, ms in self.completed.items() if ms], float))

    @property
    def transport(self) -> dict:
        if self._transport is None:
            from .report.results import analyse_temperature

            out = {}
            for T, ms in self.completed.items():
                if ms:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        rep, results = analyse_temperature(self.campaign, T, ms)
                    out[T] = Transport(results, rep, f"campaign {self.campaign.path}, T = {T:g}")
            self._transport = out
        return self._transport

    def arrhenius(self, quantity: str = "tracer") -> Arrhenius:
        """Arrhenius fit of "tracer", "collective" or "sigma" over the temperatures."""
        return Arrhenius.from_transport(list(self.transport.values()), quantity)

    @property
    def hops(self) -> dict:
        """{T: :class:`Hops`}: the report's pooled hop entries ([analysis.hop_events])."""
        if self._hops is None:
            from .report.results import build_hops

            _, per_T, _ = build_hops(self.campaign, self.completed, _units.boltzmann(self.units))
            self._hops = {T: Hops(e, self.units, T) for T, e in per_T.items()}
        return self._hops

    @property
    def occupancy(self) -> dict:
        """{T: :class:`Occupancy`}: the replicas' grids merged, sites as in the report."""
        if self._occupancy is None:
            out = {}
            if "occupancy_grid" in self.campaign.conf["analysis"]:
                rc = self.campaign.conf["report"]
                for T, ms in self.completed.items():
                    files = [self.campaign.outputs(m)["grid"] for m in ms if self.campaign.outputs(m)["grid"].is_file()]
                    if files:
                        out[T] = Occupancy(merge_grids([read_occupancy(p) for p in files]), self.units, T,
                                           threshold=rc["site_threshold"], min_distance=rc.get("site_min_distance"))
            self._occupancy = out
        return self._occupancy

    def report(self) -> dict:
        """The report dictionary (:func:`ionsitu.report.build`; nothing written)."""
        from .report import build

        data = build(self.campaign)
        data.pop("_plot_inputs", None)
        return data

    def to_dataframe(self):
        """One row per temperature: D*, D_sigma, H_R, sigma with their errors."""
        import pandas as pd

        rows = []
        for T, t in self.transport.items():
            row = {"T": T}
            for name, m in (("D", t.D), ("D_sigma", t.D_collective), ("H_R", t.haven_ratio),
                            ("sigma", t.conductivity)):
                if m is not None:
                    row[name], row[name + "_err"] = m.value, m.error
            rows.append(row)
        return pd.DataFrame(rows).set_index("T")

    def plot(self, ax=None):
        """Arrhenius plot of D* (and D_sigma when it can be fitted)."""
        fig, ax = _figure(ax)
        for q in ("tracer", "collective"):
            try:
                self.arrhenius(q).plot(ax)
            except ValueError:
                pass
        return fig

    def _rows(self):
        rows = []
        for T, t in self.transport.items():
            rows += [(f"D* (T={T:g})", t.D), (f"H_R (T={T:g})", t.haven_ratio)]
        try:
            rows.append(("Ea (D*)", self.arrhenius("tracer").Ea))
        except ValueError as exc:
            rows.append(("Ea (D*)", str(exc)))
        return rows

    @property
    def _title(self) -> str:
        c = self.campaign
        return f"Campaign {c.conf['campaign']['name']} ({c.units} units)"

    def __repr__(self) -> str:
        return f"<CampaignResults {self.campaign.conf['campaign']['name']!r} T={self.temperatures.tolist()}>"


def load_campaign(path) -> CampaignResults:
    """The results of a campaign: ``path`` its TOML file, a folder holding ``campaign.toml``,
    a :class:`ionsitu.campaign.Campaign` or a :class:`CampaignResults` (returned as is)."""
    if isinstance(path, CampaignResults):
        return path
    from .campaign import Campaign

    if isinstance(path, Campaign):
        return CampaignResults(path)
    p = Path(path)
    if p.is_dir():
        p = p / "campaign.toml"
    if not p.is_file():
        raise FileNotFoundError(f"campaign file not found: {p}")
    return CampaignResults(Campaign.from_toml(p))

"""Temperature x replica campaigns: one TOML file, many LAMMPS runs under one ``mpirun``.

    mpirun -np P ionsitu campaign run campaign.toml      # run (or resume) every member
    ionsitu campaign report campaign.toml                # report from what is finished

A *member* is one (temperature, replica) MD run: equilibration (NVT or NpT) and an NVT
production run with the in-situ analyses switched on: ``fix msd/cross`` (always),
``fix occupancy/grid`` ([analysis.occupancy_grid]: ``occupancy.npz``/``.cube``) and
``fix hop/events`` ([analysis.hop_events]: ``hops.txt``, with the sites written to the
member's ``sites.txt`` right before the fix is defined). Each member has its own folder
``<output>/T<T>/r<replica>/`` with the LAMMPS log, the fix outputs, two alternating restart
files and ``status.json``. New analyses subclass :class:`Analysis` (keys, check, prepare,
commands, outputs, fingerprint) and are listed in ``ANALYSES``.

Scheduling: ``MPI.COMM_WORLD`` is split into groups of ``ranks_per_run`` ranks, one LAMMPS
instance per group (``lammps(comm=subcomm)``). Rank 0 leads group 0 and runs members like
every other group; a coordinator thread on rank 0 hands out the next member to any
group leader that asks (MPI messages polled with ``Iprobe``, so it costs no CPU while the
LAMMPS of rank 0 runs), and prints the progress. Members go out replica-major (replica 0
of every temperature first) so a partial campaign already gives a full Arrhenius plot.

Failure: every LAMMPS call is wrapped; a LAMMPS error (``error->all``: every rank of the
group raises it together) is recorded in the member's ``status.json`` with the command
that failed and its class: *transient* (I/O: disk full, a file that cannot be opened or
written) or *permanent* (lost atoms, bad input); the group goes on with the next member.
Work that only rank 0 does (folders, status files, decisions) runs through
:func:`on_root`: its exception reaches every rank of the communicator as
:class:`CampaignError`, so no rank waits in a collective for a rank that failed (a
member's folder: the member fails; the campaign's output folder: every rank ends with the
message). An ``error->one`` on a single rank of a multi-rank group cannot be recovered
(the other ranks of that group wait inside LAMMPS): the member is recorded as failed and
the whole job aborts; the next invocation skips it. With ``ranks_per_run = 1`` every
error is recoverable.

Resume: running the same command again skips completed (and failed, unless
``retry_failed``) members. An interrupted member (stop signal, kill) restarts from its
newest readable restart file (``read_restart``, then the same fixes with the same IDs, so
``fix msd/cross`` and the thermostat restore their state) and runs only the remaining
steps. ``retry_failed`` resumes a transient failure the same way and starts a permanent
one over. Raising ``production.steps`` later extends completed members the same way
(from ``restart.end``). Settings that change the physics of a member that already ran
are refused (with the list of changed keys).

Batch schedulers: the MD runs in ``run N upto`` chunks ending at multiples of
``campaign.chunk_steps`` (the same boundaries in every attempt). After each chunk rank 0
of the group writes a heartbeat (step, time, the chunk's wall time) into ``status.json``
and the group checks for a stop signal (``campaign.stop_signals``, default SIGTERM and
SIGUSR1; an allreduce over the group, so every rank stops at the same step): then it
writes ``restart.stop``, records ``interrupted``, no new member starts and the job exits
with status 4. The latency is one chunk's wall time plus the restart write. The output
folder is locked for the run (:class:`CampaignLock`, ``campaign.lock``).

GPUs (not testable here): with ``campaign.gpus_per_node = K > 0`` each rank sets
``CUDA_VISIBLE_DEVICES`` before LAMMPS or TensorFlow start, to ``(local_rank //
ranks_per_run) % K`` with ``gpu_mapping = "group"`` (one GPU per run, default) or to
``local_rank % K`` with ``gpu_mapping = "rank"`` (one GPU per rank, for multi-rank
DeePMD runs); ``local_rank`` is the rank within the node (``MPI_COMM_TYPE_SHARED``).
Launch ``mpirun -np <K x ranks_per_run per node>`` for one run per GPU.
"""

from __future__ import annotations

import difflib
import errno
import fcntl
import hashlib
import json
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import units as _units

__all__ = ["Campaign", "ConfigError", "Member", "SCHEMA", "load_config", "schema_text",
           "STATUS_SCHEMA", "STATUS_VERSION"]

STATUS_SCHEMA = "ionsitu-campaign-member"
STATUS_VERSION = 1
_REQUIRED = object()

# fix IDs: stable across restarts (fixes restore their state by ID after read_restart)
FIX_EQ, FIX_MD, FIX_PROGRESS = "ionsitu_eq", "ionsitu_md", "ionsitu_progress"
GROUP_MOBILE = "ionsitu_mobile"


class ConfigError(ValueError):
    """Every problem found in a campaign file: ``errors`` is a list of (key, reason)."""

    def __init__(self, errors, source=""):
        self.errors = list(errors)
        self.source = source
        lines = "\n".join(f"  {k}: {r}" for k, r in self.errors)
        super().__init__(f"{source}: {len(self.errors)} error(s) in the campaign file\n{lines}")


# ======================================================================================
# Schema
# ======================================================================================
@dataclass(frozen=True)
class Key:
    """One key of the campaign file: its kind, default and documentation."""

    kind: str  # str int float bool path floats ints strs text table seeds types window grid3
    doc: str
    default: object = None
    positive: bool = False
    nonneg: bool = False
    choices: tuple = ()

    @property
    def required(self):
        return self.default is _REQUIRED


# a section -> {key: Key}; "analysis" holds one sub-table per analysis (see ANALYSES)
SCHEMA: dict[str, dict[str, Key]] = {
    "campaign": {
        "name": Key("str", "campaign name (default: the TOML file's name)"),
        "output": Key("path", "output folder, relative to the TOML file", "campaign_out"),
        "units": Key("str", "LAMMPS unit style (metal for DeePMD)", _REQUIRED,
                     choices=tuple(_units.UNIT_STYLES)),
        "timestep": Key("float", "MD timestep in time units of the style (metal: ps)", _REQUIRED,
                        positive=True),
        "temperatures": Key("floats", "temperatures (K; reduced for lj)", _REQUIRED, positive=True),
        "replicas": Key("int", "replicas per temperature (differing only in the velocity seed)", 1,
                        positive=True),
        "seed": Key("int", "velocity seed of replica 0; replica r uses seed + r", 4928, positive=True),
        "seeds": Key("ints", "explicit velocity seed per replica (overrides seed)", positive=True),
        "ranks_per_run": Key("int", "MPI ranks per LAMMPS instance (overridden by --ranks-per-run)", 1,
                             positive=True),
        "restart_every": Key("int", "write a restart file every this many steps (0: none; then an "
                             "interrupted member starts over)", 10000, nonneg=True),
        "thermo_every": Key("int", "thermo output and progress every this many steps", 1000, positive=True),
        "progress_every": Key("float", "seconds between progress lines on the terminal", 30.0,
                              positive=True),
        "stop_signals": Key("strs", "signals that stop the campaign cleanly: every running member writes a "
                            "restart (restart.stop) at its next chunk end and is recorded 'interrupted' "
                            "(overridden by --stop-signals; e.g. Slurm --signal=USR1@300)", ["TERM", "USR1"]),
        "chunk_steps": Key("int", "LAMMPS runs in `run` commands of at most this many steps; a stop signal is "
                           "acted on, and status.json's heartbeat written, at the end of each chunk (latency: "
                           "one chunk's wall time)", 1000, positive=True),
        "gpus_per_node": Key("int", "GPUs per node: sets CUDA_VISIBLE_DEVICES per rank (0: leave it)", 0,
                             nonneg=True),
        "gpu_mapping": Key("str", "'group': one GPU per run; 'rank': one GPU per rank", "group",
                           choices=("group", "rank")),
    },
    "system": {
        "data": Key("path", "LAMMPS data file (read_data)"),
        "lammps": Key("path", "file of LAMMPS commands that create the box and atoms"),
        "commands": Key("text", "inline LAMMPS commands that create the box and atoms"),
        "structure": Key("path", "any ASE-readable structure (needs type_map)"),
        "format": Key("str", "ASE format of structure (default: guessed from the name)"),
        "type_map": Key("strs", "element of each atom type 1, 2, ... (DeePMD pair_coeff, ASE)"),
        "masses": Key("table", "mass per type ('1' = 20.0) or element ('Li' = 6.94)"),
        "atom_style": Key("str", "LAMMPS atom_style", "atomic"),
        "boundary": Key("str", "LAMMPS boundary", "p p p"),
    },
    "potential": {
        "deepmd": Key("strs", "DeePMD model file(s) (.pb); >= 2 models record the model deviation"),
        "pair": Key("text", "pair_style / pair_coeff (/ pair_modify, kspace) commands of a classical "
                    "potential"),
        "model_devi_every": Key("int", "with >= 2 models: write the model deviation every this many "
                                "steps", 100, positive=True),
    },
    "mobile": {
        "types": Key("types", "mobile atom types (numbers, or elements of system.type_map)", _REQUIRED),
        "charges": Key("floats", "charge of each mobile type (charge units of the style; default 1)"),
    },
    "equilibration": {
        "ensemble": Key("str", "nvt or npt (Nose-Hoover)", "nvt", choices=("nvt", "npt")),
        "steps": Key("int", "equilibration steps", 0, nonneg=True),
        "tdamp": Key("float", "thermostat damping time (default 100 timesteps)", positive=True),
        "pressure": Key("float", "npt: target pressure (pressure units of the style)"),
        "pdamp": Key("float", "npt: barostat damping time (default 1000 timesteps)", positive=True),
        "barostat": Key("str", "npt: iso, aniso or tri", "iso", choices=("iso", "aniso", "tri")),
    },
    "production": {
        "steps": Key("int", "production (NVT) steps with the analyses on", _REQUIRED, positive=True),
        "tdamp": Key("float", "thermostat damping time (default 100 timesteps)", positive=True),
    },
    "lammps": {
        "commands": Key("text", "extra LAMMPS settings issued after the potential, also on restart "
                        "(neighbor, neigh_modify, group, ...)"),
    },
    "report": {
        "window": Key("window", "fit window [t_start, t_end] in time units of the run (default: "
                      "automatic, the Fickian range)"),
        "extrapolate_to": Key("float", "temperature of the Arrhenius extrapolation (default 300 K; "
                              "none for lj)", positive=True),
        "confidence": Key("float", "level of the extrapolation interval", 0.95, positive=True),
        "model_devi_threshold": Key("float", "max force deviation threshold (eV/A)", 1.0, positive=True),
        "model_devi_max_fraction": Key("float", "flag a temperature when more frames than this "
                                       "fraction exceed the threshold", 1e-4, nonneg=True),
        "two_regime": Key("bool", "try a two-regime (bent) Arrhenius fit (needs >= 5 temperatures)",
                          True),
        "attempt_frequency": Key("float", "hop_events: attempt frequency nu* for E_a (1/time of the run's "
                                 "units; default: estimated as the Arrhenius prefactor of the per-direction "
                                 "rate of the most frequent jump class, >= 2 temperatures)", positive=True),
        "jump_rel_tol": Key("float", "hop_events: hop lengths within this relative gap form one jump class",
                            0.05, nonneg=True),
        "corr_window": Key("float", "hop_events: correlated hops within this time (default 1/attempt_frequency "
                           "when given, else 5 samples of the fix)", positive=True),
        "corr_cutoff": Key("float", "hop_events: ... and this distance (default 10 A; 3 sigma in lj)",
                           positive=True),
        "site_threshold": Key("float", "occupancy_grid: sites of the merged grid are maxima above this "
                              "fraction of the densest voxel", 0.05, positive=True),
        "site_min_distance": Key("float", "occupancy_grid: maxima closer than this merge (default: 2 voxel "
                                 "edges)", nonneg=True),
    },
}
_REQUIRED_SECTIONS = ("campaign", "system", "potential", "mobile", "production")


# --------------------------------------------------------------------------------------
# Analyses: the extension point. Each in-situ analysis is one [analysis.<name>] table,
# one fix with a stable ID, its output files and the keys it takes.
# --------------------------------------------------------------------------------------
class Analysis:
    """Base of an in-situ analysis the driver switches on for the production run."""

    name = ""          # [analysis.<name>]
    fix_style = ""     # LAMMPS fix style
    fix_id = ""        # stable fix ID (restart)
    keys: dict[str, Key] = {}
    default_on = False  # enabled when its table is absent

    def check(self, cfg: dict, conf: dict, err) -> None:
        """Cross-checks beyond the key types; report with err(key, reason)."""

    def commands(self, cfg: dict, conf: dict, member_dir: Path) -> list[str]:
        raise NotImplementedError

    def outputs(self, member_dir: Path) -> dict[str, Path]:
        return {}

    def prepare(self, cfg: dict, conf: dict, member_dir: Path, lmp, comm=None) -> None:
        """Called on every rank of the member's group right before its fix is defined (the
        system exists in ``lmp``): write input files the fix needs. Rank 0 writes; an error
        is raised on every rank (so a multi-rank group fails together)."""

    def fingerprint(self, cfg: dict) -> dict:
        """What of ``cfg`` determines a member's results (compared when it resumes)."""
        return {k: v for k, v in cfg.items() if k != "every"}


class MsdCross(Analysis):
    name, fix_style, fix_id, default_on = "msd_cross", "msd/cross", "ionsitu_msd", True
    keys = {
        "nevery": Key("int", "sample every this many steps", 10, positive=True),
        "block": Key("int", "ring length of each level (>= 2)", 10, positive=True),
        "levels": Key("int", "number of levels", 7, positive=True),
        "drift": Key("str", "centre of mass removed: all, none or a group ID", "all"),
        "charges": Key("floats", "charges of the mobile types (default: mobile.charges)"),
        "every": Key("int", "also write msd.dat every this many steps (default: restart_every, "
                     "rounded to a multiple of nevery)", nonneg=True),
    }

    def check(self, cfg, conf, err):
        if cfg.get("block") is not None and cfg["block"] < 2:
            err("analysis.msd_cross.block", f"must be >= 2, got {cfg['block']}")
        ch = cfg.get("charges")
        ntypes = len(conf["mobile"].get("types") or [])
        if ch is not None and ntypes and len(ch) != ntypes:
            err("analysis.msd_cross.charges", f"{len(ch)} charges for {ntypes} mobile types")
        ev = cfg.get("every")
        if ev and cfg.get("nevery") and ev % cfg["nevery"]:
            err("analysis.msd_cross.every", f"{ev} is not a multiple of nevery {cfg['nevery']}")

    def charges(self, cfg, conf):
        return cfg.get("charges") or conf["mobile"]["charges"]

    def commands(self, cfg, conf, member_dir):
        types = conf["mobile"]["types"]
        charges = self.charges(cfg, conf)
        every = cfg.get("every")
        if every is None:
            r = conf["campaign"]["restart_every"]
            every = (r // cfg["nevery"]) * cfg["nevery"] if r else 0
        line = (f"fix {self.fix_id} {GROUP_MOBILE} msd/cross {cfg['nevery']} block {cfg['block']} "
                f"levels {cfg['levels']} drift {cfg['drift']} charges "
                + " ".join(f"{t} {q!r}" for t, q in zip(types, charges))
                + f" file {_q(member_dir / 'msd.dat')}")
        if every:
            line += f" every {every}"
        return [line]

    def outputs(self, member_dir):
        return {"msd": member_dir / "msd.dat"}


def _default_every(cfg, conf):
    every = cfg.get("every")
    if every is None:
        r = conf["campaign"]["restart_every"]
        every = (r // cfg["nevery"]) * cfg["nevery"] if r else 0
    return every


def _check_every(name, cfg, err):
    ev = cfg.get("every")
    if ev and cfg.get("nevery") and ev % cfg["nevery"]:
        err(f"analysis.{name}.every", f"{ev} is not a multiple of nevery {cfg['nevery']}")


def _mobile_subset(key, types, conf, err):
    """Atom types (numbers or elements of system.type_map) that must be mobile types."""
    tm = conf["system"].get("type_map")
    mob = conf["mobile"].get("types") or []
    out = []
    for i, t in enumerate(types):
        if isinstance(t, str):
            if not tm or t not in tm:
                err(f"{key}[{i}]", f"element {t!r} is not in system.type_map {tm}" if tm else
                    f"element {t!r} needs system.type_map")
                continue
            t = tm.index(t) + 1
        if mob and t not in mob:
            err(f"{key}[{i}]", f"type {t} is not a mobile type (mobile.types = {mob})")
            continue
        out.append(t)
    return out if len(out) == len(types) else None


class OccupancyGrid(Analysis):
    """``fix occupancy/grid`` on the mobile ions: ``occupancy.npz`` and ``occupancy*.cube``."""

    name, fix_style, fix_id = "occupancy_grid", "occupancy/grid", "ionsitu_occ"
    keys = {
        "nevery": Key("int", "count the positions every this many steps", 10, positive=True),
        "grid": Key("grid3", "voxels along the box edges a, b, c: [nx, ny, nz] (or give spacing)"),
        "spacing": Key("float", "target voxel edge (distance units; or give grid)", positive=True),
        "types": Key("types", "one grid per listed mobile type (numbers or elements; default: one grid of "
                     "all mobile ions)"),
        "norm": Key("str", "what the cube files hold", "probability", choices=("probability", "density", "counts")),
        "every": Key("int", "also write the grid every this many steps (default: restart_every, rounded to a "
                     "multiple of nevery)", nonneg=True),
    }

    def check(self, cfg, conf, err):
        key = f"analysis.{self.name}"
        given = conf.get("_raw_analysis", {}).get(self.name, {})
        if ("grid" in given) == ("spacing" in given):
            err(key, "give exactly one of grid = [nx, ny, nz] or spacing = d")
        if cfg.get("types") is not None:
            cfg["types"] = _mobile_subset(f"{key}.types", cfg["types"], conf, err)
        _check_every(self.name, cfg, err)

    def commands(self, cfg, conf, member_dir):
        line = f"fix {self.fix_id} {GROUP_MOBILE} occupancy/grid {cfg['nevery']} "
        line += ("grid " + " ".join(str(n) for n in cfg["grid"])) if cfg.get("grid") else f"spacing {cfg['spacing']!r}"
        if cfg.get("types"):
            line += " types " + " ".join(str(t) for t in cfg["types"])
        line += f" norm {cfg['norm']} file {_q(member_dir / 'occupancy')}"
        every = _default_every(cfg, conf)
        if every:
            line += f" every {every}"
        return [line]

    def outputs(self, member_dir):
        return {"grid": member_dir / "occupancy.npz", "cube": member_dir / "occupancy.cube"}


#: fractional positions in the unit cell of the lattices that sites_from.lattice knows
LATTICES = {
    "sc": [[0.0, 0.0, 0.0]],
    "bcc": [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]],
    "fcc": [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]],
    "diamond": [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5],
                [0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]],
}
_SITES_FROM_KEYS = ("lattice", "basis", "origin", "cells", "structure", "species", "format")
SITE_FILE = "sites.txt"


class HopEvents(Analysis):
    """``fix hop/events`` on the mobile ions: ``hops.txt`` (and the member's ``sites.txt``)."""

    name, fix_style, fix_id = "hop_events", "hop/events", "ionsitu_hops"
    keys = {
        "nevery": Key("int", "sample every this many steps", 10, positive=True),
        "mode": Key("str", "'sites': hops between sites (sites or sites_from); 'free': site-free detection "
                    "(threshold, window)", "sites", choices=("sites", "free")),
        "sites": Key("path", "mode sites: an ionsitu site file (ionsitu.sites.write_sites), relative to the TOML"),
        "sites_from": Key("table", "mode sites: generate the sites. A lattice filling the box: { lattice = "
                          "'fcc'|'bcc'|'sc'|'diamond' (or basis = [[x, y, z], ...] fractions of the unit cell), "
                          "origin = [x, y, z] (shift, unit-cell fractions, like LAMMPS' lattice origin), cells = "
                          "[nx, ny, nz] unit cells along a, b, c }; or the positions of a species in a structure "
                          "file: { species = 'Li' (or a list), structure = file (default system.structure), "
                          "format = ASE format }. Written to <member>/sites.txt (cell: the box at the start of "
                          "production; fractional coordinates are what the fix uses)"),
        "r_in": Key("float", "mode sites: an ion enters a site within r_in", positive=True),
        "r_out": Key("float", "mode sites: ... and leaves it only beyond r_out (>= r_in; < half the box width)",
                     positive=True),
        "threshold": Key("float", "mode free: hop = move of the vibration centre by more than this", positive=True),
        "window": Key("int", "mode free: samples of the vibration-centre running mean (>= 1)", positive=True),
        "residence": Key("int", "minimum residence on the destination (samples) before a hop counts", 1,
                         positive=True),
        "every": Key("int", "also write hops.txt every this many steps (default: restart_every, rounded to a "
                     "multiple of nevery)", nonneg=True),
    }

    def check(self, cfg, conf, err):
        key = f"analysis.{self.name}"
        given = conf.get("_raw_analysis", {}).get(self.name, {})
        if cfg["mode"] == "sites":
            for k in ("threshold", "window"):
                if k in given:
                    err(f"{key}.{k}", "only used with mode = 'free'")
            if ("sites" in given) == ("sites_from" in given):
                err(key, "mode = 'sites' needs exactly one of sites (a site file) or sites_from (a lattice or "
                    "the positions of a species in a structure)")
            for k in ("r_in", "r_out"):
                if k not in given:
                    err(f"{key}.{k}", "missing (required with mode = 'sites')")
            if cfg.get("r_in") is not None and cfg.get("r_out") is not None and cfg["r_out"] < cfg["r_in"]:
                err(f"{key}.r_out", f"must be >= r_in = {cfg['r_in']!r}, got {cfg['r_out']!r}")
            if cfg.get("sites") is not None:
                p = Path(cfg["sites"])
                if not p.is_file():
                    err(f"{key}.sites", f"site file not found: {p}")
                else:
                    try:
                        from .sites import read_sites

                        n = read_sites(p).n
                        if n == 0:
                            err(f"{key}.sites", f"{p}: the site file has no sites")
                    except (ValueError, OSError) as exc:
                        err(f"{key}.sites", str(exc))
            if cfg.get("sites_from") is not None:
                self._check_sites_from(cfg["sites_from"], conf, err)
        else:
            for k in ("sites", "sites_from", "r_in", "r_out"):
                if k in given:
                    err(f"{key}.{k}", "only used with mode = 'sites'")
            for k in ("threshold", "window"):
                if k not in given:
                    err(f"{key}.{k}", "missing (required with mode = 'free')")
        _check_every(self.name, cfg, err)

    def _check_sites_from(self, sf, conf, err):
        key = f"analysis.{self.name}.sites_from"
        for k in sf:
            if k not in _SITES_FROM_KEYS:
                err(f"{key}.{k}", "unknown key" + _suggest(k, _SITES_FROM_KEYS))
        lat = "lattice" in sf or "basis" in sf
        struct = "species" in sf or "structure" in sf
        if lat == struct:
            err(key, "give a lattice (lattice or basis, cells[, origin]) or a species of a structure "
                "(species[, structure, format]), not both or neither")
            return
        if lat:
            for k in ("structure", "species", "format"):
                if k in sf:
                    err(f"{key}.{k}", "not used with a lattice")
            if "lattice" in sf and "basis" in sf:
                err(key, "give lattice or basis, not both")
            elif "lattice" in sf and sf["lattice"] not in LATTICES:
                err(f"{key}.lattice", f"must be one of {', '.join(LATTICES)}, got {sf['lattice']!r}")
            elif "basis" in sf:
                b = sf["basis"]
                if not (isinstance(b, list) and b and all(isinstance(r, list) and len(r) == 3 and all(_is_num(x) for x in r)
                                                          for r in b)):
                    err(f"{key}.basis", f"must be a list of [x, y, z] (unit-cell fractions), got {b!r}")
            c = sf.get("cells")
            if c is None:
                err(f"{key}.cells", "missing: unit cells along a, b, c of the box, e.g. [5, 5, 5]")
            elif not (isinstance(c, list) and len(c) == 3 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                   and x > 0 for x in c)):
                err(f"{key}.cells", f"must be 3 positive integers [nx, ny, nz], got {c!r}")
            o = sf.get("origin", [0.0, 0.0, 0.0])
            if not (isinstance(o, list) and len(o) == 3 and all(_is_num(x) for x in o)):
                err(f"{key}.origin", f"must be [x, y, z] (unit-cell fractions), got {o!r}")
            return
        for k in ("cells", "origin"):
            if k in sf:
                err(f"{key}.{k}", "only used with a lattice")
        sp = sf.get("species")
        if sp is None or not (isinstance(sp, str) and sp.strip() or isinstance(sp, list) and sp
                              and all(isinstance(x, str) and x.strip() for x in sp)):
            err(f"{key}.species", f"must be a chemical symbol or a list of them, got {sp!r}")
            return
        path = sf.get("structure")
        if path is None:
            path = conf["system"].get("structure")
            if path is None:
                err(f"{key}.structure", "missing: give the structure file (system has no structure)")
                return
        else:
            path = Path(path).expanduser()
            path = path if path.is_absolute() else Path(conf["_path"]).parent / path
            sf["structure"] = str(path)
        if not Path(path).is_file():
            err(f"{key}.structure", f"file not found: {path}")
            return
        try:
            from .sites import sites_from_structure

            sites_from_structure(_read_structure(path, sf.get("format")), sp)
        except ImportError:
            err(f"{key}.structure", "reading a structure needs ASE (pip install ase)")
        except Exception as exc:  # noqa: BLE001 - ASE reader errors, missing species
            err(f"{key}", f"{path}: {exc}")

    def site_file(self, member_dir: Path) -> Path:
        return member_dir / SITE_FILE

    def make_sites(self, cfg, conf, cell, origin):
        """The sites (ionsitu.sites.Sites) of mode sites, in a box with this cell and origin."""
        import numpy as np

        from . import sites as _sites

        if cfg.get("sites") is not None:
            return _sites.read_sites(cfg["sites"])
        sf = cfg["sites_from"]
        if "lattice" in sf or "basis" in sf:
            basis = np.array(LATTICES[sf["lattice"]] if "lattice" in sf else sf["basis"], dtype=float)
            basis = basis + np.array(sf.get("origin", [0.0, 0.0, 0.0]), dtype=float)
            n = np.array(sf["cells"], dtype=int)
            ijk = np.array([[i, j, k] for i in range(n[0]) for j in range(n[1]) for k in range(n[2])], dtype=float)
            frac = ((ijk[:, None, :] + basis[None, :, :]) / n).reshape(-1, 3)
            s = _sites.sites_from_array(frac, cell, origin=origin, fractional=True, units=conf["campaign"]["units"])
            s.meta = {"source": "campaign sites_from lattice", **{k: sf[k] for k in sf}}
            return s
        s = _sites.sites_from_structure(_read_structure(sf.get("structure") or conf["system"]["structure"],
                                                        sf.get("format")), sf["species"],
                                        units=conf["campaign"]["units"])
        s.meta.update(source=str(sf.get("structure") or conf["system"]["structure"]))
        return s

    def prepare(self, cfg, conf, member_dir, lmp, comm=None):
        if cfg["mode"] != "sites":
            return
        box = lmp.extract_box()  # collective-free; every rank has the box
        path = self.site_file(member_dir)

        def write():
            if not path.is_file():  # kept across restarts: the fix checks the number of sites
                from .sites import lammps_cell, write_sites

                lo, hi, xy, yz, xz = box[0], box[1], box[2], box[3], box[4]
                cell = lammps_cell(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], yz, xz, xy)
                write_sites(path, self.make_sites(cfg, conf, cell, lo))

        on_root(comm, f"cannot write the site file {path}", write)

    def commands(self, cfg, conf, member_dir):
        line = f"fix {self.fix_id} {GROUP_MOBILE} hop/events {cfg['nevery']} "
        if cfg["mode"] == "sites":
            line += f"sites {_q(self.site_file(member_dir))} {cfg['r_in']!r} {cfg['r_out']!r}"
        else:
            line += f"free {cfg['threshold']!r} {cfg['window']}"
        line += f" residence {cfg['residence']} file {_q(member_dir / 'hops.txt')}"
        every = _default_every(cfg, conf)
        if every:
            line += f" every {every}"
        return [line]

    def outputs(self, member_dir):
        return {"events": member_dir / "hops.txt", "sites": self.site_file(member_dir)}

    def fingerprint(self, cfg):
        fp = super().fingerprint(cfg)
        if cfg.get("sites") is not None and Path(cfg["sites"]).is_file():
            fp["sites_sha256"] = _file_digest(cfg["sites"])
        sf = cfg.get("sites_from") or {}
        if sf.get("structure") and Path(sf["structure"]).is_file():
            fp["sites_from_structure_sha256"] = _file_digest(sf["structure"])
        return fp


def _read_structure(path, fmt=None):
    from ase.io import read as ase_read

    return ase_read(str(path), format=fmt)


#: analyses the driver knows ([analysis.<name>] tables)
ANALYSES: dict[str, Analysis] = {a.name: a for a in (MsdCross(), OccupancyGrid(), HopEvents())}
#: analyses being written: a clear message instead of "unknown" (none at present)
PLANNED: dict[str, str] = {}


def schema_text() -> str:
    """The documented keys of a campaign file (``ionsitu campaign keys``)."""
    out = ["# campaign.toml keys (required keys marked *)"]

    def sec(name, keys):
        out.append(f"\n[{name}]")
        for k, spec in keys.items():
            d = "" if spec.default in (None, _REQUIRED) else f" (default {spec.default!r})"
            star = "*" if spec.required else " "
            ch = f" one of {', '.join(spec.choices)}" if spec.choices and len(spec.choices) < 10 else ""
            out.append(f"{star} {k:<24} {spec.kind:<7} {spec.doc}{d}{ch}")

    for name, keys in SCHEMA.items():
        sec(name, keys)
    for a in ANALYSES.values():
        sec(f"analysis.{a.name}", a.keys)
        out.append(f"  (fix {a.fix_style}; " + ("on by default)" if a.default_on else "on when the table is given)"))
    for name, fix in PLANNED.items():
        out.append(f"\n[analysis.{name}]  planned ({fix}); not available in this version")
    out.append("\nsystem: exactly one of data, lammps, commands, structure; "
               "potential: exactly one of deepmd, pair.")
    return "\n".join(out) + "\n"


# ======================================================================================
# Validation
# ======================================================================================
def _q(path) -> str:
    """A path quoted for a LAMMPS command."""
    s = str(path)
    if '"' in s:
        raise ValueError(f"path {s!r} contains a double quote")
    return f'"{s}"'


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _suggest(word, options):
    m = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean '{m[0]}'?" if m else f"; known: {', '.join(options)}"


class _Checker:
    def __init__(self, base_dir: Path):
        self.errors: list[tuple[str, str]] = []
        self.base = base_dir

    def err(self, key, reason):
        self.errors.append((key, reason))

    def value(self, key, spec: Key, v):
        """Type-check and normalise one value; None after an error."""
        k = spec.kind
        if k in ("str", "text"):
            if not isinstance(v, str):
                return self.err(key, f"must be a string, got {type(v).__name__} {v!r}")
            if k == "str" and spec.choices and v not in spec.choices:
                return self.err(key, f"must be one of {', '.join(spec.choices)}, got {v!r}")
            if k == "str" and not v.strip():
                return self.err(key, "must not be empty")
            return v
        if k == "path":
            if not isinstance(v, str) or not v.strip():
                return self.err(key, f"must be a file or folder name (string), got {v!r}")
            p = Path(v).expanduser()
            return p if p.is_absolute() else (self.base / p)
        if k == "bool":
            if not isinstance(v, bool):
                return self.err(key, f"must be true or false, got {v!r}")
            return v
        if k in ("int", "float"):
            if k == "int" and not (isinstance(v, int) and not isinstance(v, bool)):
                return self.err(key, f"must be an integer, got {type(v).__name__} {v!r}")
            if k == "float" and not _is_num(v):
                return self.err(key, f"must be a number, got {type(v).__name__} {v!r}")
            if not math.isfinite(v):
                return self.err(key, f"must be finite, got {v!r}")
            if spec.positive and v <= 0:
                return self.err(key, f"must be positive, got {v!r}")
            if spec.nonneg and v < 0:
                return self.err(key, f"must not be negative, got {v!r}")
            return float(v) if k == "float" else v
        if k in ("floats", "ints", "strs", "types"):
            if k == "strs" and isinstance(v, str):
                v = [v]
            if not isinstance(v, list) or not v:
                return self.err(key, f"must be a non-empty list, got {v!r}")
            item = {"floats": "float", "ints": "int", "strs": "str"}.get(k)
            out, ok = [], True
            for i, x in enumerate(v):
                if k == "types":
                    if isinstance(x, str) and x.strip():
                        out.append(x)
                        continue
                    if not (isinstance(x, int) and not isinstance(x, bool)) or x < 1:
                        self.err(f"{key}[{i}]", f"must be an atom type number >= 1 or an element name, got {x!r}")
                        ok = False
                        continue
                    out.append(x)
                    continue
                r = self.value(f"{key}[{i}]", Key(item, "", positive=spec.positive), x)
                ok &= r is not None
                out.append(r)
            if ok and len(set(map(str, out))) != len(out):
                dup = sorted({str(x) for x in out if list(map(str, out)).count(str(x)) > 1})
                self.err(key, f"repeated values {', '.join(dup)}")
                return None
            return out if ok else None
        if k == "table":
            if not isinstance(v, dict):
                return self.err(key, f"must be a table (key = value), got {v!r}")
            return v
        if k == "grid3":
            if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, int) and not isinstance(x, bool)
                                                               and x > 0 for x in v)):
                return self.err(key, f"must be 3 positive integers [nx, ny, nz], got {v!r}")
            return list(v)
        if k == "window":
            if not (isinstance(v, list) and len(v) == 2 and all(_is_num(x) for x in v)):
                return self.err(key, f"must be [t_start, t_end], got {v!r}")
            if not (0 <= v[0] < v[1]):
                return self.err(key, f"needs 0 <= t_start < t_end, got {v!r}")
            return [float(x) for x in v]
        raise AssertionError(k)  # pragma: no cover

    def section(self, name, table, keys):
        out = {}
        if not isinstance(table, dict):
            self.err(name, f"must be a table [{name}], got {table!r}")
            table = {}
        for k in table:
            if k not in keys:
                self.err(f"{name}.{k}", "unknown key" + _suggest(k, keys))
        for k, spec in keys.items():
            if k in table:
                out[k] = self.value(f"{name}.{k}", spec, table[k])
            elif spec.required:
                self.err(f"{name}.{k}", "missing (required)")
                out[k] = None
            else:
                out[k] = spec.default
        return out

    def file(self, key, path, what="file"):
        if path is not None and not Path(path).is_file():
            self.err(key, f"{what} not found: {path}")


def load_config(path, *, raw: dict | None = None) -> dict:
    """Read and validate a campaign file; returns the normalised configuration.

    Raises :class:`ConfigError` listing every problem (key and reason), not just the
    first. ``raw``: an already parsed TOML dictionary (``path`` then only gives the base
    folder for relative file names).
    """
    path = Path(path)
    if raw is None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError([("(file)", f"campaign file not found: {path}")], str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([("(file)", f"not valid TOML: {exc}")], str(path)) from None
    c = _Checker(path.resolve().parent)
    conf: dict = {}
    known = list(SCHEMA) + ["analysis"]
    for sec in raw:
        if sec not in known:
            c.err(sec, "unknown section" + _suggest(sec, known))
    for sec in _REQUIRED_SECTIONS:
        if sec not in raw:
            c.err(sec, f"missing section [{sec}]")
    for sec, keys in SCHEMA.items():
        conf[sec] = c.section(sec, raw.get(sec, {}), keys)

    # analyses ---------------------------------------------------------------------
    araw = raw.get("analysis", {})
    conf["analysis"] = {}
    if not isinstance(araw, dict):
        c.err("analysis", f"must be a table of [analysis.<name>] tables, got {araw!r}")
        araw = {}
    for name, sub in araw.items():
        if name in PLANNED:
            c.err(f"analysis.{name}", f"{PLANNED[name]} is not available in this version of the "
                  f"campaign driver (available: {', '.join(ANALYSES)})")
        elif name not in ANALYSES:
            c.err(f"analysis.{name}", "unknown analysis" + _suggest(name, list(ANALYSES) + list(PLANNED)))
    for name, a in ANALYSES.items():
        if name in araw or a.default_on:
            conf["analysis"][name] = c.section(f"analysis.{name}", araw.get(name, {}), a.keys)

    conf["_path"] = str(path.resolve())
    conf["_raw_analysis"] = {k: v for k, v in araw.items() if isinstance(v, dict)}
    _cross_checks(c, conf, raw)
    for name, a in ANALYSES.items():
        if name in conf["analysis"]:
            a.check(conf["analysis"][name], conf, c.err)
    conf.pop("_raw_analysis", None)
    if c.errors:
        raise ConfigError(c.errors, str(path))
    return conf


def _cross_checks(c: _Checker, conf: dict, raw: dict):
    cam, sysc, pot, mob = conf["campaign"], conf["system"], conf["potential"], conf["mobile"]
    eq, prod, rep = conf["equilibration"], conf["production"], conf["report"]
    units = cam["units"]
    if cam["name"] is None:
        cam["name"] = Path(conf.get("_path", "campaign")).stem

    # seeds
    if cam["seeds"] is not None and cam["replicas"] is not None and "replicas" in raw.get("campaign", {}):
        if len(cam["seeds"]) != cam["replicas"]:
            c.err("campaign.seeds", f"{len(cam['seeds'])} seeds for {cam['replicas']} replicas")
    if cam["seeds"] is not None and "replicas" not in raw.get("campaign", {}):
        cam["replicas"] = len(cam["seeds"])
    if cam["seeds"] is None and cam["seed"] is not None and cam["replicas"] is not None:
        cam["seeds"] = [cam["seed"] + r for r in range(cam["replicas"])]
    for i, s in enumerate(cam["seeds"] or []):
        if s is not None and s >= 2 ** 31 - 1:
            c.err(f"campaign.seeds[{i}]", f"LAMMPS seeds must be < 2^31 - 1, got {s}")

    # system: exactly one source
    sources = [k for k in ("data", "lammps", "commands", "structure") if sysc.get(k) is not None]
    given = [k for k in ("data", "lammps", "commands", "structure") if k in raw.get("system", {})]
    if not given:
        c.err("system", "give exactly one of data, lammps, commands, structure")
    elif len(given) > 1:
        c.err("system", f"give exactly one of data, lammps, commands, structure (got {', '.join(given)})")
    for k in ("data", "lammps"):
        c.file(f"system.{k}", sysc.get(k))
    tm = sysc.get("type_map")
    if "structure" in sources:
        c.file("system.structure", sysc["structure"])
        if tm is None and "type_map" not in raw.get("system", {}):
            c.err("system.type_map", "required with system.structure (element of each atom type)")
        elif tm and Path(sysc["structure"]).is_file():
            try:
                from ase.io import read as ase_read

                atoms = ase_read(str(sysc["structure"]), format=sysc.get("format"))
                missing = sorted(set(atoms.get_chemical_symbols()) - set(tm))
                if missing:
                    c.err("system.type_map", f"elements {', '.join(missing)} of the structure are not in "
                          f"the type map {tm}")
                sysc["_natoms"] = len(atoms)
            except ImportError:
                c.err("system.structure", "reading a structure needs ASE (pip install ase)")
            except Exception as exc:  # noqa: BLE001 - any ASE reader error
                c.err("system.structure", f"ASE cannot read it: {exc}")
        if tm and units is not None and units not in ("metal", "real"):
            given = set((sysc.get("masses") or {}).keys())
            lacking = [e for i, e in enumerate(tm) if e not in given and str(i + 1) not in given]
            if lacking:
                c.err("system.masses", f"units {units!r}: give the mass of {', '.join(lacking)} (ASE masses "
                      "are in g/mol, for metal and real units only)")
    elif sysc.get("format") is not None:
        c.err("system.format", "only used with system.structure")
    if sysc.get("masses") is not None:
        norm = {}
        for k, v in sysc["masses"].items():
            key = f"system.masses.{k}"
            if not _is_num(v) or v <= 0:
                c.err(key, f"mass must be a positive number, got {v!r}")
                continue
            if k.isdigit() and int(k) >= 1:
                norm[int(k)] = float(v)
            elif tm and k in tm:
                norm[tm.index(k) + 1] = float(v)
            else:
                c.err(key, "not an atom type number" + (f" or an element of the type map {tm}" if tm else
                                                         " (element names need system.type_map)"))
        sysc["masses"] = norm

    # potential: exactly one of deepmd / pair
    pgiven = [k for k in ("deepmd", "pair") if k in raw.get("potential", {})]
    if len(pgiven) != 1:
        c.err("potential", "give exactly one of deepmd (model files) or pair (pair_style/pair_coeff "
              f"commands){' (got both)' if len(pgiven) > 1 else ''}")
    if pot.get("deepmd"):
        pot["deepmd"] = [c.value(f"potential.deepmd[{i}]", Key("path", ""), m) for i, m in enumerate(pot["deepmd"])]
        for i, m in enumerate(pot["deepmd"]):
            if m is None:
                continue
            c.file(f"potential.deepmd[{i}]", m, "model file")
            if m.suffix not in (".pb", ".pbtxt"):
                c.err(f"potential.deepmd[{i}]", f"{m.name}: only TensorFlow .pb models run in the PyPI "
                      "LAMMPS (the PyTorch backend does not load there)")
        if units is not None and units != "metal":
            c.err("campaign.units", f"DeePMD models use metal units, got {units!r}")
        try:
            from .deepmd import deepmd_available

            if not deepmd_available():
                c.err("potential.deepmd", "DeePMD-kit's LAMMPS plugin (or TensorFlow) is not installed: "
                      "pip install 'deepmd-kit[cpu]'")
        except ImportError as exc:  # pragma: no cover - ionsitu.deepmd missing
            c.err("potential.deepmd", f"ionsitu.deepmd unavailable: {exc}")
    elif "model_devi_every" in raw.get("potential", {}):
        c.err("potential.model_devi_every", "only used with deepmd models")
    if pot.get("pair") is not None and "pair_style" not in pot["pair"]:
        c.err("potential.pair", "must contain a pair_style command")

    # mobile species
    types = mob.get("types")
    if types:
        norm = []
        for i, t in enumerate(types):
            if isinstance(t, str):
                if not tm:
                    c.err(f"mobile.types[{i}]", f"element {t!r} needs system.type_map")
                    continue
                if t not in tm:
                    c.err(f"mobile.types[{i}]", f"element {t!r} is not in the type map {tm}")
                    continue
                norm.append(tm.index(t) + 1)
            else:
                if tm and t > len(tm):
                    c.err(f"mobile.types[{i}]", f"type {t} is not in the structure (type map has {len(tm)} types)")
                norm.append(t)
        mob["types"] = norm if len(norm) == len(types) else None
        if mob["types"] and len(set(mob["types"])) != len(mob["types"]):
            c.err("mobile.types", "a type is given twice")
    if mob.get("charges") is None and types:
        mob["charges"] = [1.0] * len(types)
    elif mob.get("charges") is not None and types and len(mob["charges"]) != len(types):
        c.err("mobile.charges", f"{len(mob['charges'])} charges for {len(types)} mobile types")

    # ensembles
    if eq["ensemble"] != "npt":
        for k in ("pressure", "pdamp"):
            if k in raw.get("equilibration", {}):
                c.err(f"equilibration.{k}", "only used with ensemble = 'npt'")
        if "barostat" in raw.get("equilibration", {}):
            c.err("equilibration.barostat", "only used with ensemble = 'npt'")
    elif eq["pressure"] is None and "pressure" not in raw.get("equilibration", {}):
        eq["pressure"] = 0.0 if units == "lj" else 1.0
    if eq["ensemble"] == "npt" and eq.get("steps") == 0:
        c.err("equilibration.steps", "ensemble = 'npt' with 0 steps: give the NpT length")
    dt = cam["timestep"]
    if dt:
        for sec in (eq, prod):
            if sec.get("tdamp") is None:
                sec["tdamp"] = 100 * dt
        if eq.get("pdamp") is None:
            eq["pdamp"] = 1000 * dt

    for i, name in enumerate(cam.get("stop_signals") or []):
        try:
            signal_number(name)
        except ValueError as exc:
            c.err(f"campaign.stop_signals[{i}]", str(exc))
    # report
    if rep.get("extrapolate_to") is None and units is not None and units != "lj":
        rep["extrapolate_to"] = 300.0
    if rep.get("confidence") is not None and not (0 < rep["confidence"] < 1):
        c.err("report.confidence", f"must be in (0, 1), got {rep['confidence']}")


# ======================================================================================
# Members and their status
# ======================================================================================
@dataclass
class Member:
    """One (temperature, replica) run."""

    index: int
    T: float
    replica: int
    seed: int
    dir: Path

    @property
    def name(self) -> str:
        return f"{self.dir.parent.name}_{self.dir.name}"

    @property
    def status_path(self) -> Path:
        return self.dir / "status.json"


def _tname(T: float) -> str:
    s = f"{T:.6g}"
    return s.replace("+", "")


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def read_status(member: Member) -> dict | None:
    try:
        return json.loads(member.status_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


_DIGESTS: dict = {}


def _file_digest(path) -> str:
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _file_digest_uncached(p)
    return _DIGESTS[key]


def _file_digest_uncached(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


# ======================================================================================
# Failure on one rank -> failure on every rank
# ======================================================================================
class CampaignError(RuntimeError):
    """A campaign-level failure, raised on every rank of the communicator together."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if exc.filename is not None else ""
        return f"{exc.strerror}{': ' + str(name) if name != '' else ''}"
    return _lammps_message(exc)


def on_root(comm, what: str, fn, *args, **kw):
    """Run ``fn`` on rank 0 of ``comm`` and hand its result to every rank.

    The one mechanism for steps that only rank 0 does (files, decisions): rank 0's
    exception is broadcast and :class:`CampaignError` ("<what>: <reason>") is raised on
    every rank, so no rank is left waiting in a collective. ``comm`` None: serial.
    """
    rank = 0 if comm is None else comm.Get_rank()
    result = error = None
    if rank == 0:
        try:
            result = fn(*args, **kw)
        except CampaignError as exc:  # already says what failed
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes collective
            error = f"{what}: {_describe(exc)}"
    if comm is not None and comm.Get_size() > 1:
        result, error = comm.bcast((result, error), root=0)
    if error is not None:
        raise CampaignError(error)
    return result


def on_all(comm, what: str, fn, *args, **kw):
    """Run ``fn`` on every rank of ``comm``; if it fails on any rank, raise
    :class:`CampaignError` on every rank with the message of the first failing rank."""
    result = error = None
    try:
        result = fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001
        error = f"{what}: {_describe(exc)}"
    if comm is not None and comm.Get_size() > 1:
        errors = comm.allgather(error)
        error = next((f"{e} (rank {i})" for i, e in enumerate(errors) if e is not None), None)
    if error is not None:
        raise CampaignError(error)
    return result


# ======================================================================================
# Stop signals (batch-scheduler wall time), heartbeat, lock of the campaign folder
# ======================================================================================
def signal_number(name) -> int:
    """'TERM', 'SIGUSR1', 'usr1' or 10 -> the signal number (ValueError if unknown or not catchable)."""
    if isinstance(name, int) and not isinstance(name, bool):
        sig = name
    else:
        n = str(name).strip().upper()
        n = n if n.startswith("SIG") else "SIG" + n
        sig = getattr(signal, n, None)
        if not isinstance(sig, int) or n.startswith("SIG_"):
            raise ValueError(f"unknown signal {name!r} (e.g. TERM, USR1, USR2, INT)")
    if sig in (signal.SIGKILL, signal.SIGSTOP):
        raise ValueError(f"signal {name!r} cannot be caught")
    try:
        signal.Signals(sig)
    except ValueError:
        raise ValueError(f"unknown signal {name!r}") from None
    return int(sig)


class StopRequest:
    """Set by the stop signals: the number of the first signal received (0: none).

    The handler only records the signal (Python runs it between two LAMMPS commands,
    never inside a ``run``); members check it at the end of every chunk.
    """

    def __init__(self):
        self.signum = 0
        self._old: dict[int, object] = {}

    def _handler(self, signum, frame):  # noqa: ARG002
        if not self.signum:
            self.signum = signum

    def install(self, names) -> None:
        for name in names:
            sig = signal_number(name)
            if sig not in self._old:
                self._old[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum else None


def stop_requested(stop: StopRequest | None, comm) -> int:
    """Signal number any rank of ``comm`` received (0: none); collective on ``comm``."""
    s = stop.signum if stop is not None else 0
    if comm is not None and comm.Get_size() > 1:
        from mpi4py import MPI

        s = comm.allreduce(s, op=MPI.MAX)
    return s


def _pid_alive(pid) -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    except (TypeError, ValueError, OSError):
        return False
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


HOST = socket.gethostname()
LOCK_FILE = "campaign.lock"


class CampaignLocked(CampaignError):
    """The campaign folder is in use by another run."""


def _holder_text(h: dict) -> str:
    return (f"pid {h.get('pid')} on host {h.get('host')} (started {h.get('started')}"
            + (f", {' '.join(h['command'])}" if h.get("command") else "") + ")")


class CampaignLock:
    """Exclusive lock of a campaign folder: ``<output>/campaign.lock``.

    ``flock`` on the lock file (released by the kernel when the holder dies); the file
    holds the holder's host, pid and start time. A lock file left by a dead process of
    this host is stale and taken over; one of another host is refused unless forced
    (``--force-unlock``), since its holder cannot be checked from here.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self.fd = None

    def holder(self) -> dict | None:
        try:
            text = self.path.read_text()
        except OSError:
            return None
        try:
            h = json.loads(text)
            return h if isinstance(h, dict) else None
        except json.JSONDecodeError:
            return {"host": "?", "pid": "?", "started": "?", "unreadable": text[:80]} if text.strip() else None

    def acquire(self, force: bool = False) -> str | None:
        """Take the lock (CampaignLocked if held); returns a note on a stale or forced lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        note = None
        old = self.holder()
        if force and old is not None:
            self.path.unlink(missing_ok=True)  # a holder still alive keeps only the unlinked file
            note = f"--force-unlock: took over the lock of {_holder_text(old)}"
            old = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flock = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            h = self.holder() or {}
            raise CampaignLocked(
                f"the campaign folder {self.path.parent} is in use by {_holder_text(h)}; lock file "
                f"{self.path}. Wait for that run to end (or stop it); if it is not running any more, "
                "re-run with --force-unlock") from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                os.close(fd)
                raise
            flock = False  # file system without flock: the file's content is the lock
        old = self.holder() if old is not None else None
        if old is not None and old.get("pid") != os.getpid():
            same_host = old.get("host") == HOST
            if same_host and (flock or not _pid_alive(old.get("pid"))):
                note = (f"stale lock of {_holder_text(old)} removed (that process is not running)"
                        if not _pid_alive(old.get("pid")) else
                        f"stale lock of {_holder_text(old)} removed (it holds no lock)")
            else:
                os.close(fd)
                where = "another host" if not same_host else "a process still running"
                raise CampaignLocked(
                    f"the campaign folder {self.path.parent} is locked by {_holder_text(old)} on {where}; "
                    f"lock file {self.path}. If that run has ended, re-run with --force-unlock")
        info = {"host": HOST, "pid": os.getpid(), "started": _now(), "command": list(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return note

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if (self.holder() or {}).get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = None


def liveness(st: dict | None, now: float | None = None) -> tuple[str, str]:
    """(state, detail) of a member from its status: a 'running' member whose process is gone
    (same host) or whose heartbeat is overdue (3 chunk intervals + 60 s) is 'dead'."""
    st = st or {}
    state = st.get("state", "pending")
    if state != "running":
        if state == "interrupted":
            return state, f"by {st.get('signal')}; resumes from {st.get('restart')}"
        if state == "failed":
            return state, f"({st.get('failure', 'permanent')}) {st.get('error')}"
        return state, ""
    hb = st.get("heartbeat") or {}
    now = time.time() if now is None else now
    age = now - float(hb.get("unix", 0.0) or 0.0)
    if st.get("host") == HOST and st.get("pid") is not None and not _pid_alive(st["pid"]):
        return "dead", f"process {st['pid']} on {HOST} is not running (last heartbeat {age:.0f} s ago)"
    limit = 3 * float(hb.get("interval_s") or 0.0) + 60.0
    if hb and age > limit:
        return "dead", f"no heartbeat for {age:.0f} s (expected every {hb.get('interval_s') or 0:.0f} s)"
    return "running", f"heartbeat {age:.0f} s ago" + (f" (pid {st.get('pid')} on {st.get('host')})"
                                                       if st.get("host") else "")


#: LAMMPS / OS messages of failures that a re-run can get past (disk full, I/O errors, files
#: that could not be opened or written); every other failure (lost atoms, bad input) is permanent
_TRANSIENT = ("no space left", "input/output error", "disk quota", "read-only file system", "cannot open",
              "cannot write", "cannot rename", "could not write", "could not open", "error writing", "write error",
              "permission denied", "is a directory", "not a directory", "stale file handle", "too many open files")


def classify_failure(msg: str, exc: BaseException | None = None) -> str:
    """'transient' (I/O: resume from the newest restart) or 'permanent' (start over)."""
    if isinstance(exc, OSError):
        return "transient"
    low = (msg or "").lower()
    return "transient" if any(p in low for p in _TRANSIENT) else "permanent"


# ======================================================================================
# The campaign
# ======================================================================================
# Thread settings the user gave, read when this module is imported: importing deepmd-kit
# (e.g. in the trial build before the runs) sets some of them itself, on some ranks only.
_THREAD_VARS = ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS", "DP_INTER_OP_PARALLELISM_THREADS")
_USER_SET_THREADS = any(n in os.environ for n in _THREAD_VARS)


class Campaign:
    """A temperature x replica campaign described by a TOML file.

    >>> c = Campaign.from_toml("campaign.toml")       # validates (ConfigError lists all problems)
    >>> c.run()                                        # under mpirun: every rank calls it
    >>> c.report()                                     # dict; also writes report.json/.html
    """

    def __init__(self, conf: dict, path: Path):
        self.conf = conf
        self.path = Path(path).resolve()
        self.output = Path(conf["campaign"]["output"]).resolve()
        cam = conf["campaign"]
        self.units = cam["units"]
        self.temperatures = list(cam["temperatures"])
        self.members: list[Member] = []
        for r, seed in enumerate(cam["seeds"]):
            for T in self.temperatures:
                d = self.output / f"T{_tname(T)}" / f"r{r}"  # `ionsitu analyze <output>` reads this layout
                self.members.append(Member(len(self.members), float(T), r, int(seed), d))
        eq, prod = conf["equilibration"], conf["production"]
        self.eq_steps = int(eq["steps"])
        self.target_step = self.eq_steps + int(prod["steps"])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_toml(cls, path, *, check_lammps: bool = False) -> "Campaign":
        """Read and validate ``path``; with ``check_lammps`` also build the system and the
        potential once in LAMMPS (serial) to check types, masses and the pair style."""
        conf = load_config(path)
        camp = cls(conf, path)
        if check_lammps:
            errors = camp.check_lammps()
            if errors:
                raise ConfigError(errors, str(path))
        return camp

    @property
    def analyses(self) -> dict[str, tuple[Analysis, dict]]:
        return {n: (ANALYSES[n], cfg) for n, cfg in self.conf["analysis"].items()}

    def member(self, T: float, replica: int) -> Member:
        for m in self.members:
            if abs(m.T - T) <= 1e-12 * max(1.0, abs(T)) and m.replica == replica:
                return m
        raise KeyError((T, replica))

    def statuses(self) -> dict[str, dict | None]:
        return {m.name: read_status(m) for m in self.members}

    # ------------------------------------------------------------------ fingerprint
    def settings(self, member: Member) -> dict:
        """What determines a member's physics; compared when a member resumes."""
        c = self.conf
        sysc = {k: v for k, v in c["system"].items() if not k.startswith("_")}
        for k in ("data", "lammps", "structure"):
            if sysc.get(k) is not None:
                sysc[k + "_sha256"] = _file_digest(sysc[k])
                sysc[k] = str(sysc[k])
        pot = dict(c["potential"])
        if pot.get("deepmd"):
            pot["deepmd_sha256"] = [_file_digest(m) for m in pot["deepmd"]]
            pot["deepmd"] = [str(m) for m in pot["deepmd"]]
        ana = {n: ANALYSES[n].fingerprint(cfg) for n, cfg in c["analysis"].items()}
        return json.loads(json.dumps({
            "units": self.units, "timestep": c["campaign"]["timestep"], "T": member.T,
            "seed": member.seed, "system": sysc, "potential": pot, "mobile": c["mobile"],
            "equilibration": c["equilibration"], "production_tdamp": c["production"]["tdamp"],
            "lammps": c["lammps"], "analysis": ana,
        }, default=str))

    def _settings_cache(self):
        if not hasattr(self, "_settings_memo"):
            self._settings_memo = {}
        return self._settings_memo

    def member_settings(self, m: Member) -> dict:
        memo = self._settings_cache()
        if m.name not in memo:
            memo[m.name] = self.settings(m)
        return memo[m.name]

    def changed_settings(self) -> list[tuple[str, str]]:
        """(member key, reason) for members that ran with different physics settings."""
        errs = []
        for m in self.members:
            st = read_status(m)
            if not st or "settings" not in st:
                continue
            now = self.member_settings(m)
            diff = _diff_keys(st["settings"], now)
            if diff:
                errs.append((f"member {m.name}", "ran with different settings (changed: "
                             + ", ".join(diff) + "); restore them, or delete its folder to start it over"))
        return errs

    # ------------------------------------------------------------------ LAMMPS input
    def _system_commands(self) -> list[tuple[str, str]]:
        """(config key, command) that create the system (fresh start)."""
        s = self.conf["system"]
        cmds = [("campaign.units", f"units {self.units}"), ("system.atom_style", f"atom_style {s['atom_style']}"),
                ("system.boundary", f"boundary {s['boundary']}")]
        if s.get("data") is not None:
            cmds.append(("system.data", f"read_data {_q(s['data'])}"))
        elif s.get("structure") is not None:
            try:
                data = self.structure_data()
            except Exception as exc:  # noqa: BLE001 - ASE writer errors
                raise ConfigError([("system.structure", f"cannot write it as a LAMMPS data file: {exc!r}")],
                                  str(self.path)) from exc
            cmds.append(("system.structure", f"read_data {_q(data)}"))
        else:
            text = Path(s["lammps"]).read_text() if s.get("lammps") is not None else s["commands"]
            key = "system.lammps" if s.get("lammps") is not None else "system.commands"
            cmds += [(key, line) for line in _lines(text)]
        for t, m in sorted((s.get("masses") or {}).items()):
            cmds.append((f"system.masses.{t}", f"mass {t} {m!r}"))
        return cmds

    def structure_data(self) -> Path:
        """The ASE structure written as a LAMMPS data file (once, in the output folder)."""
        s = self.conf["system"]
        out = self.output / "system.data"
        if out.exists() and out.stat().st_mtime >= Path(s["structure"]).stat().st_mtime:
            return out
        from ase.io import read as ase_read
        from ase.io.lammpsdata import write_lammps_data

        atoms = ase_read(str(s["structure"]), format=s.get("format"))
        self.output.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name("system.data.tmp")
        with open(tmp, "w") as f:
            # positions are written as given (A for metal and real); ASE knows no other
            # styles, whose masses must then come from system.masses (checked)
            write_lammps_data(f, atoms, specorder=list(s["type_map"]), masses=True,
                              units=self.units if self.units in ("metal", "real") else "metal",
                              atom_style=s["atom_style"])
        os.replace(tmp, out)
        return out

    def _potential_commands(self, member_dir: Path | None, attempt: int) -> list[tuple[str, str]]:
        p = self.conf["potential"]
        if p.get("pair") is not None:
            return [("potential.pair", line) for line in _lines(p["pair"])]
        models = " ".join(_q(m) for m in p["deepmd"])
        line = f"pair_style deepmd {models}"
        if len(p["deepmd"]) >= 2 and member_dir is not None:
            name = "model_devi.out" if attempt <= 1 else f"model_devi.{attempt}.out"
            line += f" out_freq {p['model_devi_every']} out_file {_q(member_dir / name)}"
        tm = self.conf["system"].get("type_map")
        return [("potential.deepmd", line), ("potential.deepmd", "pair_coeff * *" + (" " + " ".join(tm) if tm else ""))]

    def _extra_commands(self):
        return [("lammps.commands", line) for line in _lines(self.conf["lammps"].get("commands") or "")]

    def _thermostat(self, fix_id, T, section) -> str:
        c = self.conf[section]
        if section == "equilibration" and c["ensemble"] == "npt":
            P = c["pressure"]
            return (f"fix {fix_id} all npt temp {T!r} {T!r} {c['tdamp']!r} {c['barostat']} {P!r} {P!r} "
                    f"{c['pdamp']!r}")
        return f"fix {fix_id} all nvt temp {T!r} {T!r} {c['tdamp']!r}"

    def _common_commands(self, m: Member) -> list[tuple[str, str]]:
        cam = self.conf["campaign"]
        types = " ".join(str(t) for t in self.conf["mobile"]["types"])
        cmds = [("campaign.timestep", f"timestep {cam['timestep']!r}"),
                ("mobile.types", f"group {GROUP_MOBILE} type {types}"),
                ("campaign.thermo_every", f"thermo {cam['thermo_every']}"),
                ("campaign.thermo_every", "thermo_style custom step temp pe press vol"),
                ("campaign.thermo_every", "thermo_modify flush yes"),
                ("campaign.thermo_every", f'fix {FIX_PROGRESS} all print {cam["thermo_every"]} '
                 f'"$(step) $(temp:%.6g)" append {_q(m.dir / "progress.txt")} screen no')]
        if cam["restart_every"]:
            cmds.append(("campaign.restart_every",
                         f"restart {cam['restart_every']} {_q(m.dir / 'restart.a')} {_q(m.dir / 'restart.b')}"))
        return cmds

    def _production_commands(self, m: Member) -> list[tuple[str, str]]:
        cmds = [("production", self._thermostat(FIX_MD, m.T, "production"))]
        for name, (a, cfg) in self.analyses.items():
            cmds += [(f"analysis.{name}", line) for line in a.commands(cfg, self.conf, m.dir)]
        return cmds

    def input_script(self, m: Member, start_step: int = 0, restart_file: Path | None = None,
                     attempt: int = 1) -> list[tuple[str, str]]:
        """The member's LAMMPS commands (config key, command): fresh or from a restart."""
        cmds = [("campaign.output", f"log {_q(m.dir / 'log.lammps')} append")]
        if restart_file is None:
            cmds += self._system_commands()
        else:
            cmds += [("restart", f"read_restart {_q(restart_file)}")]
        cmds += self._potential_commands(m.dir, attempt) + self._extra_commands() + self._common_commands(m)
        if restart_file is None:
            cmds.append(("campaign.seeds", f"velocity all create {m.T!r} {m.seed} mom yes rot yes dist gaussian"))
        if start_step < self.eq_steps:
            cmds += [("equilibration", self._thermostat(FIX_EQ, m.T, "equilibration")),
                     ("equilibration", f"run {self.eq_steps} upto"),
                     ("equilibration", f"unfix {FIX_EQ}")]
        cmds += self._production_commands(m)
        cmds.append(("production", f"run {self.target_step} upto"))
        cmds.append(("production", f"write_restart {_q(m.dir / 'restart.end')}"))
        return cmds

    # ------------------------------------------------------------------ validation in LAMMPS
    def check_lammps(self) -> list[tuple[str, str]]:
        """Build the system and potential once in a serial LAMMPS and run 0 steps.

        Returns (key, reason) errors: failing commands (with the key they come from),
        mobile types absent from the structure, missing masses.
        """
        errors = []
        lmp = None
        try:
            lmp = self._new_lammps(None, log=None)
        except Exception as exc:  # noqa: BLE001
            return errors + [("potential" if self.conf["potential"].get("deepmd") else "(lammps)", str(exc))]
        key = "(lammps)"
        try:
            try:
                setup = self._system_commands() + self._potential_commands(None, 1) + self._extra_commands()
            except ConfigError as exc:
                return errors + exc.errors
            for key, cmd in setup:
                lmp.command(cmd)
            key = "system"
            ntypes = int(lmp.extract_global("ntypes"))
            natoms = int(lmp.get_natoms())
            counts = {}
            if natoms:
                import numpy as np

                t = np.asarray(lmp.numpy.extract_atom("type"))[: lmp.extract_global("nlocal")]
                counts = {int(k): int(v) for k, v in zip(*np.unique(t, return_counts=True))}
            bad = False
            for i, t in enumerate(self.conf["mobile"]["types"]):
                if t > ntypes:
                    errors.append((f"mobile.types[{i}]", f"type {t} is not in the structure ({ntypes} atom types)"))
                    bad = True
                elif counts.get(t, 0) == 0:
                    errors.append((f"mobile.types[{i}]", f"the structure has no atom of type {t}"))
                    bad = True
            tm = self.conf["system"].get("type_map")
            if tm and len(tm) != ntypes:
                errors.append(("system.type_map", f"{len(tm)} elements for {ntypes} atom types"))
            if not bad:
                key = "mobile.types"
                lmp.command(f"group {GROUP_MOBILE} type " + " ".join(map(str, self.conf["mobile"]["types"])))
                with tempfile.TemporaryDirectory() as tmp:
                    for name, (a, cfg) in self.analyses.items():
                        key = f"analysis.{name}"
                        a.prepare(cfg, self.conf, Path(tmp), lmp, None)
                        for cmd in a.commands(cfg, self.conf, Path(tmp)):
                            lmp.command(cmd)
                    key = "potential"
                    lmp.command("run 0 post no")
        except Exception as exc:  # noqa: BLE001 - the LAMMPS error text
            msg = _lammps_message(exc)
            if "mass" in msg.lower() and key in ("potential", "system"):
                key = "system.masses"
            errors.append((key, msg))
        finally:
            lmp.close()
        return errors

    def check_output(self) -> list[tuple[str, str]]:
        """(key, reason) if the output folder or an existing member folder cannot be written."""
        out = self.output
        p = out
        while not p.exists() and p != p.parent:
            p = p.parent
        if not p.is_dir():
            return [("campaign.output", f"cannot create the output folder {out}: {p} is not a folder")]
        folders = [p] + [m.dir for m in self.members if m.dir.exists()]
        for d in folders:
            if not d.is_dir():
                return [("campaign.output", f"{d} exists and is not a folder")]
            try:
                fd, probe = tempfile.mkstemp(dir=d, prefix=".ionsitu-probe-")
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                what = "the output folder" if d == p else "a member folder"
                return [("campaign.output", f"cannot write in {d} ({what} of {out}): {exc.strerror}")]
        return []

    def _new_lammps(self, comm, log):
        """A LAMMPS instance on ``comm`` (None: serial) that sees ionsitu's (and DeePMD's) styles."""
        deep = bool(self.conf["potential"].get("deepmd"))
        if deep:
            from .deepmd import preload_deepmd

            preload_deepmd()
        from ._libs import import_lammps  # libmpi preloaded by ionsitu; no TensorFlow unless deep

        lammps = import_lammps(deepmd=deep).lammps

        args = ["-screen", "none", "-nocite", "-log", "none" if log is None else str(log)]
        if comm is None:
            try:
                from mpi4py import MPI

                comm = MPI.COMM_SELF
            except ImportError:  # pragma: no cover
                comm = None
        lmp = lammps(comm=comm, cmdargs=args) if comm is not None else lammps(cmdargs=args)
        if deep:
            from .deepmd import load_deepmd_plugin

            load_deepmd_plugin(lmp)
        return lmp

    # ------------------------------------------------------------------ one member
    RESTART_FILES = ("restart.a", "restart.b", "restart.stop", "restart.end")

    def restarts(self, m: Member) -> list[Path]:
        """The member's restart files, newest first."""
        files = [m.dir / n for n in self.RESTART_FILES if (m.dir / n).is_file()]
        return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)

    def plan(self, m: Member, retry_failed: bool = False) -> dict:
        """What to do with a member: {'action': skip|fresh|resume, 'restarts': [...], 'reason'}.

        Interrupted (signal, kill) members resume from their newest readable restart. Failed
        members are skipped unless ``retry_failed``: then a transient failure (I/O, disk
        full) resumes from the newest readable restart, a permanent one starts over.
        """
        st = read_status(m)
        if st is None:
            return {"action": "fresh", "restarts": []}
        state = st.get("state")
        if state == "failed" and not retry_failed:
            return {"action": "skip", "reason": "failed", "restarts": []}
        restarts = [str(p) for p in self.restarts(m)]
        if state == "failed":
            if st.get("failure") == "transient" and restarts:
                return {"action": "resume", "restarts": restarts, "retry": True}
            return {"action": "fresh", "restarts": [], "retry": True}
        if state == "completed" and int(st.get("step", -1)) >= self.target_step:
            return {"action": "skip", "reason": "completed", "restarts": []}
        if restarts:
            return {"action": "resume", "restarts": restarts}
        return {"action": "fresh", "restarts": []}

    def _begin_member(self, m: Member, retry_failed: bool):
        """Rank 0: the plan, the member's folder (cleared for a fresh start) and its history."""
        plan = self.plan(m, retry_failed)
        if plan["action"] == "skip":
            return plan, read_status(m), [], None
        st = read_status(m) or {}
        m.dir.mkdir(parents=True, exist_ok=True)
        if plan["action"] == "fresh":  # from scratch: keep the old log and the history
            for p in m.dir.iterdir():
                if p.name == "log.lammps" and st:
                    p.rename(m.dir / f"log.attempt{len(st.get('attempts', []))}.lammps")
                elif p.name not in ("status.json",) and not p.name.startswith("log.attempt") and p.is_file():
                    p.unlink()
            st = {"attempts": st.get("attempts", []), "step": 0}
        return plan, st, list(st.get("attempts", [])), self.member_settings(m)

    def run_member(self, m: Member, comm=None, retry_failed: bool = False, group: int = 0,
                   stop: StopRequest | None = None) -> dict:
        """Run (or resume) one member on the ranks of ``comm``; returns its final status.

        Every rank of ``comm`` calls this, and it returns on every rank together: LAMMPS
        errors and the failures of rank 0's file work are recorded (state 'failed', with
        ``failure`` transient or permanent); a stop signal (``stop``) ends it at the next
        chunk end with a restart file and state 'interrupted'.
        """
        rank = 0 if comm is None else comm.Get_rank()
        t0 = time.time()
        status = {
            "schema": STATUS_SCHEMA, "version": STATUS_VERSION, "member": m.name, "temperature": m.T,
            "replica": m.replica, "seed": m.seed, "units": self.units, "state": "running", "step": 0,
            "equilibration_steps": self.eq_steps, "target_step": self.target_step,
            "error": None, "error_key": None, "error_command": None, "failure": None,
            "ranks": 1 if comm is None else comm.Get_size(), "group": group, "host": HOST, "pid": os.getpid(),
        }
        attempts: list = []
        warned = []

        def write(state, **kw):
            """Rank 0 records the state (best effort: a status that cannot be written is said)."""
            status.update(state=state, updated=_now(), attempts=attempts, **kw)
            if rank != 0:
                return
            try:
                _write_json(m.status_path, status)
            except OSError as exc:
                if not warned:
                    warned.append(1)
                    sys.stderr.write(f"[ionsitu campaign] {m.name}: cannot write {m.status_path}: {_describe(exc)}\n")

        def fail(msg, exc=None, **kw):
            write("failed", error=msg, failure=classify_failure(msg, exc),
                  wall_seconds=round(time.time() - t0, 3), **kw)
            return status

        try:
            plan, st, attempts, settings = on_root(comm, f"member {m.name}", self._begin_member, m, retry_failed)
        except CampaignError as exc:
            return fail(str(exc), error_key="campaign.output")
        if plan["action"] == "skip":
            return st if rank == 0 else {}
        n_attempt = len(attempts) + 1
        status["step"] = int(st.get("step", 0))
        status["settings"] = settings

        # the restart file: the newest that LAMMPS reads (a kill may leave a partial one)
        lmp = None
        start_step = 0
        used = None
        for cand in [Path(p) for p in plan["restarts"]] + [None]:  # None: from scratch
            if comm is not None and comm.Get_size() > 1 and cand is not None:
                # serial trial read first: a multi-rank read_restart that fails on one rank hangs
                if not on_root(comm, "restart check", _readable_restart, self, cand):
                    continue
            try:
                lmp = self._new_lammps(comm, None)
                if cand is not None:
                    lmp.command(f"log {_q(m.dir / 'log.lammps')} append")
                    lmp.command(f"read_restart {_q(cand)}")
                    start_step = int(lmp.extract_global("ntimestep"))
                used = cand
                break
            except Exception as exc:  # noqa: BLE001 - unreadable restart: try the older one
                _close(lmp)
                lmp = None
                if cand is None:
                    attempts.append({"attempt": n_attempt, "started": _now(), "from_step": 0})
                    return fail(_lammps_message(exc), exc, error_key="(lammps)")
        attempts.append({"attempt": n_attempt, "started": _now(), "from_step": start_step,
                         "restart": None if used is None else used.name, "ranks": status["ranks"]})
        status["step"] = start_step
        status["heartbeat"] = {"step": start_step, "time": _now(), "unix": time.time(), "interval_s": None}
        try:  # a member folder that cannot be written fails the member, on every rank
            on_root(comm, f"member {m.name}", _write_json, m.status_path,
                    {**status, "state": "running", "updated": _now(), "attempts": attempts})
        except CampaignError as exc:
            _close(lmp)
            return fail(str(exc), error_key="campaign.output")
        cmds = self.input_script(m, start_step, used, n_attempt)
        if used is not None:  # log + read_restart already done
            cmds = [c for c in cmds if not c[1].startswith(("log ", "read_restart "))]
        key = cmd = None
        chunk = int(self.conf["campaign"]["chunk_steps"])
        try:
            prepared = set()
            for key, cmd in cmds:
                if key.startswith("analysis.") and key not in prepared:  # before the analysis' first fix
                    prepared.add(key)
                    a, cfg = self.analyses[key.split(".", 1)[1]]
                    a.prepare(cfg, self.conf, m.dir, lmp, comm)
                upto = cmd.split()
                if len(upto) == 3 and upto[0] == "run" and upto[2] == "upto":
                    signum = self._run_chunks(lmp, int(upto[1]), chunk, comm, stop, status, write)
                    if signum:
                        cmd = f"write_restart {_q(m.dir / 'restart.stop')}"
                        lmp.command(cmd)
                        step = int(lmp.extract_global("ntimestep"))
                        write("interrupted", step=step, signal=signal.Signals(signum).name,
                              restart="restart.stop", wall_seconds=round(time.time() - t0, 3))
                        return status
                else:
                    lmp.command(cmd)
            step = int(lmp.extract_global("ntimestep"))
            write("completed", step=step, wall_seconds=round(time.time() - t0, 3))
        except Exception as exc:  # noqa: BLE001 - LAMMPS error: record it, go on
            msg = _lammps_message(exc)
            try:
                step = int(lmp.extract_global("ntimestep"))
            except Exception:  # noqa: BLE001
                step = status["step"]
            fail(msg, exc, step=step, error_key=key, error_command=cmd)
            if type(exc).__name__ == "MPIAbortException" and comm is not None and comm.Get_size() > 1:
                # error->one on one rank: the others of this group wait in a collective forever
                sys.stderr.write(f"[ionsitu campaign] {m.name}: unrecoverable LAMMPS error on one rank "
                                 f"of a {comm.Get_size()}-rank group ({msg}); recorded; aborting the job\n")
                sys.stderr.flush()
                from mpi4py import MPI

                MPI.COMM_WORLD.Abort(3)
        finally:
            _close(lmp)
        return status

    def _run_chunks(self, lmp, target: int, chunk: int, comm, stop, status, write) -> int:
        """``run target upto`` as runs ending at multiples of ``chunk`` (the same boundaries
        in every attempt); after each: heartbeat, then the stop check. Returns the signal
        number that stopped it (0: reached ``target``)."""
        step = int(lmp.extract_global("ntimestep"))
        while True:
            nxt = min(target, (step // chunk + 1) * chunk)
            t = time.time()
            lmp.command(f"run {nxt} upto")
            step = int(lmp.extract_global("ntimestep"))
            write("running", step=step, heartbeat={"step": step, "time": _now(), "unix": time.time(),
                                                   "interval_s": round(time.time() - t, 3)})
            if step >= target:
                return 0
            signum = stop_requested(stop, comm)
            if signum:
                return signum

    # ------------------------------------------------------------------ the whole campaign
    def run(self, comm=None, ranks_per_run: int | None = None, *, retry_failed: bool = False,
            progress: bool = True, progress_every: float | None = None, write_report: bool = True,
            stream=None, stop_signals=None, force_unlock: bool = False, stop: StopRequest | None = None) -> dict:
        """Run every member not done yet, distributing them over groups of ranks.

        Every rank of ``comm`` (default ``MPI.COMM_WORLD``) calls this. Returns (on
        rank 0; {} elsewhere) {'members': {name: state}, 'report': paths or None,
        'interrupted': signal name or None}. The campaign folder is locked for the run
        (:class:`CampaignLocked` if another run holds it; ``force_unlock`` takes it over).
        ``stop_signals`` (default ``campaign.stop_signals``) stop it cleanly: every
        running member writes ``restart.stop`` at its next chunk end and is recorded
        'interrupted', no new member starts, no report is written. A failure of rank 0's
        file work raises :class:`CampaignError` on every rank.
        """
        from mpi4py import MPI

        world = (comm or MPI.COMM_WORLD).Dup()
        rank, size = world.Get_rank(), world.Get_size()
        rpr = int(ranks_per_run or self.conf["campaign"]["ranks_per_run"])
        stream = stream or sys.stdout
        if size % rpr:
            world.Free()
            raise CampaignError(f"{size} MPI ranks do not split into groups of ranks_per_run = {rpr}")
        own_stop = stop is None
        stop = StopRequest() if stop is None else stop
        try:
            on_all(world, "stop signals", stop.install,
                   self.conf["campaign"]["stop_signals"] if stop_signals is None else stop_signals)
            lock = CampaignLock(self.output)
            note = on_root(world, f"campaign output {self.output}", lock.acquire, force_unlock)
            try:
                if note and rank == 0 and progress:
                    print(f"[ionsitu campaign] {note}", file=stream, flush=True)
                return self._run_locked(world, rpr, retry_failed, progress, progress_every, write_report,
                                        stream, stop)
            finally:
                if rank == 0:
                    lock.release()
        finally:
            if own_stop:
                stop.restore()
            world.Free()

    def _start(self, retry_failed: bool) -> list[int]:
        """Rank 0, before the work loop: the output folder, campaign.json, the members to run."""
        self.output.mkdir(parents=True, exist_ok=True)
        _write_json(self.output / "campaign.json", {
            "schema": "ionsitu-campaign", "version": 1, "config": str(self.path),
            "name": self.conf["campaign"]["name"], "units": self.units,
            "temperatures": self.temperatures, "members": [m.name for m in self.members]})
        todo = [m.index for m in self.members if self.plan(m, retry_failed)["action"] != "skip"]
        if self.conf["system"].get("structure") is not None:
            self.structure_data()
        return todo

    def _run_locked(self, world, rpr, retry_failed, progress, progress_every, write_report, stream, stop):
        from mpi4py import MPI

        rank, size = world.Get_rank(), world.Get_size()
        ngroups = size // rpr
        group = rank // rpr
        sub = world.Split(group, rank)
        self._set_gpu(world, rpr)
        self._set_threads(world)

        # rank 0 decides what is left to do (all ranks see the same files, but decide once)
        todo = on_root(world, f"campaign output {self.output}", self._start, retry_failed)
        threaded = size == 1 or MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        coord = None
        if rank == 0:
            coord = _Coordinator(self, world, todo, ngroups, rpr, threaded, stream if progress else None,
                                 progress_every or self.conf["campaign"]["progress_every"])
            coord.start()

        # ------------------------------------------------------------ worker loop
        # threaded (MPI_THREAD_MULTIPLE): leaders ask rank 0's coordinator thread for the
        # next member; otherwise a static round-robin split (no MPI from the thread).
        leader = sub.Get_rank() == 0
        static = None if threaded else [i for k, i in enumerate(todo) if k % ngroups == group]
        finished = None
        while True:
            idx = None
            halt = stop_requested(stop, sub)  # a signal on any rank of the group: no new member
            if leader:
                if static is not None:
                    idx = static.pop(0) if static and not halt else -1
                elif rank == 0:
                    idx = coord.next_member(0, finished, halt)
                else:
                    world.send({"group": group, "finished": finished, "stop": halt}, dest=0, tag=_TAG_REQ)
                    idx = world.recv(source=0, tag=_TAG_ASSIGN)
            idx = sub.bcast(idx, root=0)
            if rank == 0 and static is not None:
                coord.record(finished)
            finished = None
            if idx < 0:
                break
            m = self.members[idx]
            if rank == 0:
                coord.started(m, group)
            st = self.run_member(m, sub, retry_failed, group, stop)
            finished = {"index": idx, "state": st.get("state"), "step": st.get("step"),
                        "error": st.get("error"), "group": group} if leader else None
        if rank == 0:
            coord.finish_local()
            coord.join()
        world.Barrier()
        signum = stop_requested(stop, world)
        result = {}
        if rank == 0:
            states = {m.name: (read_status(m) or {}).get("state", "pending") for m in self.members}
            if all(s in ("completed", "failed") for s in states.values()):
                signum = 0  # the signal came after the last member: nothing to resume
            result = {"members": states, "report": None,
                      "interrupted": signal.Signals(signum).name if signum else None}
            if signum and progress:
                print(f"[ionsitu campaign] stopped by {result['interrupted']}: running members wrote "
                      "restart.stop; run the same command again to resume", file=stream, flush=True)
            if write_report and not signum:
                try:
                    from . import report as _report

                    data = _report.build(self)
                    result["report"] = _report.write(self, data)
                    if progress:
                        print(_report.summary_text(data), file=stream)
                        print(f"[ionsitu campaign] report: {result['report']['html']}", file=stream, flush=True)
                except Exception as exc:  # noqa: BLE001 - the runs are done; say what failed
                    traceback.print_exc()
                    print(f"[ionsitu campaign] report failed: {exc}", file=stream, flush=True)
                    result["report_error"] = str(exc)
        world.Barrier()
        sub.Free()
        return result

    def _set_gpu(self, world, rpr):
        k = self.conf["campaign"]["gpus_per_node"]
        if not k:
            return
        from mpi4py import MPI

        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        local = node.Get_rank()
        node.Free()
        dev = (local // rpr) % k if self.conf["campaign"]["gpu_mapping"] == "group" else local % k
        os.environ["CUDA_VISIBLE_DEVICES"] = str(dev)

    def _set_threads(self, world):
        """DeePMD/TensorFlow threads per rank, when the user set none: the node's cores
        shared by its ranks (TensorFlow otherwise starts threads for every core in every
        rank, and concurrent runs fight over them)."""
        if not self.conf["potential"].get("deepmd"):    # the same on every rank
            return
        from mpi4py import MPI

        # collective on every rank, before any rank-local decision
        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        nlocal = node.Get_size()
        node.Free()
        if _USER_SET_THREADS:
            return
        names = _THREAD_VARS
        try:
            ncpu = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            ncpu = os.cpu_count() or 1
        per = max(1, ncpu // nlocal)
        os.environ.update({names[0]: str(per), names[1]: str(per), names[2]: "1"})

    def report(self, write: bool = True, out_dir=None) -> dict:
        """The campaign report from the finished members (dict; written as JSON + HTML)."""
        from . import report as _report

        data = _report.build(self)
        if write:
            _report.write(self, data, out_dir)
        return data


# ======================================================================================
# Helpers
# ======================================================================================
_TAG_REQ, _TAG_ASSIGN = 71, 72


def _lines(text: str) -> list[str]:
    """LAMMPS command lines of a block: '&' continuations joined, comments and blanks kept out."""
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("&"):
            cur += line[:-1] + " "
            continue
        line = cur + line
        cur = ""
        body = line.split("#", 1)[0].strip() if '"' not in line and "'" not in line else line.strip()
        if body and not body.startswith("#"):
            out.append(body)
    if cur.strip():
        out.append(cur.strip())
    return out


def _lammps_message(exc) -> str:
    msg = str(exc).strip()
    lines = [ln for ln in msg.splitlines() if not ln.startswith("For more information")]
    return " ".join(lines).replace("ERROR: ", "").strip() or type(exc).__name__


def _close(lmp):
    if lmp is None:
        return
    try:
        lmp.close()
    except Exception:  # noqa: BLE001 - a failed instance may not close cleanly
        pass


def _readable_restart(camp: Campaign, path: Path) -> bool:
    """Serial trial read (before a multi-rank read_restart, whose errors on one rank hang)."""
    lmp = None
    try:
        lmp = camp._new_lammps(None, None)
        lmp.command(f"read_restart {_q(path)}")
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        _close(lmp)


def _diff_keys(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else k)
        return out
    return [] if a == b else [prefix or "(all)"]


def _fmt_dur(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _last_step(path: Path):
    """Last step in a progress file written by fix print (None if absent/empty)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            n = f.tell()
            f.seek(max(0, n - 256))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        parts = line.split()
        if parts and parts[0].isdigit():
            return int(parts[0])
    return None


class _Coordinator:
    """Rank 0: hands out members to group leaders and prints progress (own thread).

    The thread polls for requests with ``Iprobe`` every 50 ms (a blocking receive would
    spin a core that rank 0's LAMMPS needs). Rank 0's own group takes members through
    :meth:`next_member` directly. Without MPI_THREAD_MULTIPLE (static split) the thread
    makes no MPI calls and only prints progress.
    """

    def __init__(self, camp: Campaign, world, todo, ngroups, rpr, threaded, stream, every):
        self.camp, self.world, self.ngroups, self.rpr = camp, world, ngroups, rpr
        self.queue = list(todo)
        self.todo = list(todo)
        self.threaded, self.stream, self.every = threaded, stream, every
        self.lock = threading.Lock()
        self.told_done: set[int] = set()
        self.running: dict[int, dict] = {}  # member index -> {group, t0, step0}
        self.done = {"completed": 0, "failed": 0, "interrupted": 0}
        self.stopping = False  # a stop signal reached some group: hand out no more members
        self.t_start = time.time()
        self.steps_done = 0
        self.local_finished = False
        total = len(camp.members)
        skipped = total - len(todo)
        self._say(f"{camp.conf['campaign']['name']}: {total} members ({len(camp.temperatures)} T x "
                  f"{len(camp.conf['campaign']['seeds'])} replicas), {len(todo)} to run"
                  + (f", {skipped} already completed or failed" if skipped else "")
                  + f"; {ngroups} group(s) of {rpr} rank(s)"
                  + ("" if threaded or ngroups == 1 else "; static split (MPI has no THREAD_MULTIPLE)"))

    def _say(self, text):
        if self.stream is not None:
            print(f"[ionsitu campaign {time.strftime('%H:%M:%S')}] {text}", file=self.stream, flush=True)

    def start(self):
        self.thread = threading.Thread(target=self._loop, name="ionsitu-campaign", daemon=True)
        self.thread.start()

    def finish_local(self):
        """Rank 0's own group has no more members."""
        self.local_finished = True

    def join(self):
        self.thread.join()
        try:
            self.progress(final=True)
        except Exception as exc:  # noqa: BLE001 - the other ranks wait in the barrier
            self._say(f"progress line failed: {exc}")

    # -- scheduling --------------------------------------------------------------------
    def next_member(self, group, finished, stop=0) -> int:
        with self.lock:
            self._record(finished)
            self.stopping = self.stopping or bool(stop)
            if self.queue and not self.stopping:
                idx = self.queue.pop(0)
                self._started(idx, group)
                return idx
            self.told_done.add(group)
            return -1

    def record(self, finished):
        with self.lock:
            self._record(finished)

    def _record(self, finished):
        if not finished:
            return
        idx = finished["index"]
        info = self.running.pop(idx, None)
        state = finished.get("state") or "failed"
        self.stopping = self.stopping or state == "interrupted"
        self.done[state if state in self.done else "failed"] += 1
        m = self.camp.members[idx]
        if info is not None and finished.get("step") is not None:
            self.steps_done += max(0, int(finished["step"]) - info["step0"])
        tail = "" if state == "completed" else f": {finished.get('error')}"
        self._say(f"{m.name} {state} at step {finished.get('step')}{tail}")

    def started(self, m: Member, group: int):
        with self.lock:
            if m.index not in self.running:
                self._started(m.index, group)

    def _started(self, idx, group):
        try:
            st = read_status(self.camp.members[idx]) or {}
        except OSError:  # rank 0 only: never raise here (the other ranks do not wait for it)
            st = {}
        step0 = int(st.get("step", 0) or 0) if st.get("state") in ("running", "interrupted") else 0
        self.running[idx] = {"group": group, "t0": time.time(), "step0": step0}

    def _loop(self):
        try:
            self._loop_body()
        except BaseException:  # noqa: BLE001 - the leaders wait for this thread: end the job, say why
            sys.stderr.write("[ionsitu campaign] the coordinator on rank 0 failed; aborting the job\n"
                             + traceback.format_exc())
            sys.stderr.flush()
            from mpi4py import MPI

            MPI.COMM_WORLD.Abort(3)

    def _loop_body(self):
        from mpi4py import MPI

        last = time.time()
        while True:
            got = False
            if self.threaded and self.ngroups > 1:
                while self.world.Iprobe(source=MPI.ANY_SOURCE, tag=_TAG_REQ):
                    got = True
                    self._serve()
            if not got:
                time.sleep(0.05)
            if time.time() - last >= self.every:
                last = time.time()
                try:
                    self.progress()
                except Exception as exc:  # noqa: BLE001 - progress is a courtesy
                    self._say(f"progress line failed: {exc}")
            if self.threaded and len(self.told_done) >= self.ngroups:
                return
            if not self.threaded and self.local_finished:
                return

    def _serve(self):
        from mpi4py import MPI

        status = MPI.Status()
        msg = self.world.recv(source=MPI.ANY_SOURCE, tag=_TAG_REQ, status=status)
        idx = self.next_member(msg["group"], msg["finished"], msg.get("stop", 0))
        self.world.send(idx, dest=status.Get_source(), tag=_TAG_ASSIGN)

    # -- progress ------------------------------------------------------------------------
    def progress(self, final=False):
        if self.stream is None:
            return
        with self.lock:
            running = dict(self.running)
            steps_done = self.steps_done
        now = time.time()
        per_member = self.camp.target_step
        states = [(read_status(self.camp.members[i]) or {}).get("state") for i in self.todo]
        n_ok, n_fail = states.count("completed"), states.count("failed")
        parts, rates, steps_now, remaining = [], [], steps_done, 0
        for idx, info in running.items():
            m = self.camp.members[idx]
            s = _last_step(m.dir / "progress.txt")
            s = info["step0"] if s is None or s < info["step0"] else s
            el = now - info["t0"]
            if el > 1 and s > info["step0"]:
                rates.append((s - info["step0"]) / el)
            steps_now += s - info["step0"]
            remaining += max(0, per_member - s)
            parts.append(f"{m.name} {s}/{per_member}")
        remaining += max(0, len(self.todo) - n_ok - n_fail - len(running)) * per_member
        elapsed = now - self.t_start
        rate = steps_now / elapsed if elapsed > 0 else 0.0  # campaign steps/s, all groups
        per_run = (sum(rates) / len(rates)) if rates else rate / max(1, self.ngroups)
        eta = remaining / rate if rate > 0 else float("nan")
        dt = self.camp.conf["campaign"]["timestep"]
        style = _units.get_style(self.camp.units)
        if style.reduced:
            speed = f"{per_run * dt * 86400:.4g} tau/day"
        else:
            speed = f"{per_run * dt * style.time_s * 86400 / 1e-9:.4g} ns/day"
        line = (f"{'finished' if final else 'progress'}: {n_ok + n_fail}/{len(self.todo)} members done "
                f"({n_fail} failed), {steps_now} steps in {_fmt_dur(elapsed)}, "
                f"{per_run:.4g} steps/s = {speed} per run")
        if not final:
            line += f", ETA {_fmt_dur(eta)}"
            if parts:
                line += "; running " + ", ".join(parts)
        self._say(line)

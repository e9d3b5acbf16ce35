"""The campaign file's schema: its keys (:class:`Key`), sections, fix IDs and the error type."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .. import units as _units


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


@dataclass(frozen=True)
class Key:
    """One key of the campaign file: its kind, default and documentation."""

    kind: str  # str int float bool path floats ints strs text table seeds types window grid3 pairs
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
        "figure_formats": Key("strs", "files of each report figure in plots/ (the page embeds the PNG, always "
                              "written)", ["png", "svg"], choices=("png", "svg", "pdf")),
        "two_regime": Key("bool", "try a two-regime (bent) Arrhenius fit (needs >= 5 temperatures)",
                          True),
        "attempt_frequency": Key("float", "hop_events: attempt frequency nu* for E_a (1/time of the run's "
                                 "units; an override; default as in `ionsitu hops`: each member's VDOS with "
                                 "[analysis.vacf], else 1e13 Hz; lj: none)", positive=True),
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


class CampaignError(RuntimeError):
    """A campaign-level failure, raised on every rank of the communicator together."""

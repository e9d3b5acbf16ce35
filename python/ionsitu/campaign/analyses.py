"""In-situ analyses of a campaign: the extension point. Each is one [analysis.<name>] table,
one fix with a stable ID, its output files and the keys it takes; listed in :data:`ANALYSES`."""

from __future__ import annotations

from pathlib import Path

from .members import _file_digest
from .scheduler import on_root
from .schema import _REQUIRED, GROUP_MOBILE, Key, _is_num, _q, _suggest



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

    def prepare(self, cfg: dict, conf: dict, member_dir: Path, lmp, comm=None, trial=False) -> None:
        """Called on every rank of the member's group right before its fix is defined (the
        system exists in ``lmp``): write input files the fix needs. Rank 0 writes; an error
        is raised on every rank (so a multi-rank group fails together). ``trial``: the serial
        check of the input (check_lammps), which runs no equilibration."""

    def equilibration_commands(self, cfg: dict, conf: dict, member_dir: Path) -> list[str]:
        """Fixes this analysis runs during the member's equilibration (unfixed after it)."""
        return []

    def finish(self, cfg: dict, conf: dict, member_dir: Path, new_lammps, setup, comm=None) -> None:
        """Called on every rank of the member's group after its production run, before it is
        recorded completed (so a kill in here is resumed): work in a separate LAMMPS instance
        (``new_lammps()``, set up by the (key, command) pairs ``setup``: system, potential, extra
        commands), the production trajectory untouched."""

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
        "segments": Key("int", "also cut production into this many consecutive segments, each with its own "
                        "fix and msd.seg<k>.dat; the report averages D, D_sigma and the conductivity over "
                        "segments x replicas (0: none; else >= 2)", 0, nonneg=True),
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
        n = cfg.get("segments") or 0
        if n == 1:
            err("analysis.msd_cross.segments", "must be 0 (none) or >= 2, got 1")
        elif n and cfg.get("nevery") and isinstance(conf["production"].get("steps"), int) \
                and conf["production"]["steps"] < 10 * n * cfg["nevery"]:
            err("analysis.msd_cross.segments", f"{n} segments of {conf['production']['steps']} production steps "
                f"give fewer than 10 samples (every {cfg['nevery']}) per segment")

    def segment_ends(self, cfg, eq_steps: int, target_step: int) -> list[int]:
        """Last step of each production segment (multiples of nevery; the last = target_step)."""
        n, nev = cfg.get("segments") or 0, cfg["nevery"]
        if not n:
            return []
        prod = target_step - eq_steps
        return [eq_steps + (round(k * prod / n / nev) * nev if k < n else prod) for k in range(1, n + 1)]

    def segment_file(self, member_dir: Path, k: int) -> Path:
        from ..io.msd import segment_file_name

        return member_dir / segment_file_name(k)

    def segment_commands(self, cfg, conf, member_dir, k: int) -> list[str]:
        """The fix of segment k (1-based): this analysis' fix under its own ID and file, no every."""
        line = self.commands({**cfg, "every": 0}, conf, member_dir)[0]
        line = line.replace(f"fix {self.fix_id} ", f"fix {self.fix_id}_seg{k} ", 1)
        return [line.replace(_q(member_dir / "msd.dat"), _q(self.segment_file(member_dir, k)))]

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


def _with_every(line: str, cfg, conf) -> str:
    """The fix line with `` every M`` appended when the analysis writes every M steps."""
    every = _default_every(cfg, conf)
    return line + f" every {every}" if every else line


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
        return [_with_every(line, cfg, conf)]

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
_OCCUPANCY_KEYS = ("occupancy", "grid", "spacing", "nevery", "threshold", "min_distance")
SITE_FILE = "sites.txt"
#: the equilibration grid of sites_from = { occupancy = 'equilibration', ... } (<member>/EQ_GRID.npz)
EQ_GRID, FIX_EQ_GRID = "occupancy_equilibration", "ionsitu_occ_eq"


class HopEvents(Analysis):
    """``fix hop/events`` on the mobile ions: ``hops.txt`` (and the member's ``sites.txt``)."""

    name, fix_style, fix_id = "hop_events", "hop/events", "ionsitu_hops"
    keys = {
        "nevery": Key("int", "sample every this many steps", 10, positive=True),
        "mode": Key("str", "'sites': hops between sites (sites or sites_from); 'free': site-free detection "
                    "(threshold, window)", "sites", choices=("sites", "free")),
        "sites": Key("path", "mode sites: an ionsitu site file (ionsitu.io.sites.write_sites), relative to the TOML"),
        "sites_from": Key("table", "mode sites: generate the sites. A lattice filling the box: { lattice = "
                          "'fcc'|'bcc'|'sc'|'diamond' (or basis = [[x, y, z], ...] fractions of the unit cell), "
                          "origin = [x, y, z] (shift, unit-cell fractions, like LAMMPS' lattice origin), cells = "
                          "[nx, ny, nz] unit cells along a, b, c }; or the positions of a species in a structure "
                          "file: { species = 'Li' (or a list), structure = file (default system.structure), "
                          "format = ASE format }; or the density maxima of the mobile ions during the member's own "
                          "equilibration (one pass: occupancy grid -> sites -> hops): { occupancy = 'equilibration', "
                          "grid = [nx, ny, nz] (or spacing = d), nevery = 10, threshold = 0.05 (fraction of the "
                          "largest density), min_distance = 0.0 (maxima closer than this merge) }. Written to "
                          "<member>/sites.txt (cell: the box at the start of production; fractional coordinates "
                          "are what the fix uses)"),
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
                        from ..io.sites import read_sites

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
        if "occupancy" in sf:
            return self._check_sites_from_occupancy(sf, conf, err)
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
            from ..io.sites import sites_from_structure

            sites_from_structure(_read_structure(path, sf.get("format")), sp)
        except ImportError:
            err(f"{key}.structure", "reading a structure needs ASE (pip install ase)")
        except Exception as exc:  # noqa: BLE001 - ASE reader errors, missing species
            err(f"{key}", f"{path}: {exc}")

    def _check_sites_from_occupancy(self, sf, conf, err):
        key = f"analysis.{self.name}.sites_from"
        for k in sf:
            if k not in _OCCUPANCY_KEYS:
                err(f"{key}.{k}", "unknown key with occupancy" + _suggest(k, _OCCUPANCY_KEYS))
        if sf["occupancy"] != "equilibration":
            err(f"{key}.occupancy", f"must be 'equilibration' (the member's own equilibration run), "
                f"got {sf['occupancy']!r}")
        if ("grid" in sf) == ("spacing" in sf):
            err(key, "occupancy sites need exactly one of grid = [nx, ny, nz] or spacing = d")
        g = sf.get("grid")
        if g is not None and not (isinstance(g, list) and len(g) == 3 and all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in g)):
            err(f"{key}.grid", f"must be 3 positive integers [nx, ny, nz], got {g!r}")
        sp = sf.get("spacing")
        if sp is not None and not (_is_num(sp) and sp > 0):
            err(f"{key}.spacing", f"must be a positive distance, got {sp!r}")
        nev = sf.setdefault("nevery", 10)
        if not (isinstance(nev, int) and not isinstance(nev, bool) and nev > 0):
            err(f"{key}.nevery", f"must be a positive integer, got {nev!r}")
        thr = sf.setdefault("threshold", 0.05)
        if not (_is_num(thr) and 0 <= thr <= 1):
            err(f"{key}.threshold", f"must be a fraction of the largest density in [0, 1], got {thr!r}")
        md = sf.setdefault("min_distance", 0.0)
        if not (_is_num(md) and md >= 0):
            err(f"{key}.min_distance", f"must be a distance >= 0, got {md!r}")
        eq = conf["equilibration"].get("steps")
        if isinstance(nev, int) and nev > 0 and isinstance(eq, int) and eq < 10 * nev:
            err(f"{key}.occupancy", f"the equilibration ({eq} steps) gives fewer than 10 samples every {nev} "
                "steps: too few to locate the sites (lengthen equilibration.steps or lower sites_from.nevery)")

    def _occupancy_sites(self, cfg) -> bool:
        return cfg["mode"] == "sites" and "occupancy" in (cfg.get("sites_from") or {})

    def eq_grid_file(self, member_dir: Path) -> Path:
        return member_dir / f"{EQ_GRID}.npz"

    def equilibration_commands(self, cfg, conf, member_dir) -> list[str]:
        """Fixes that run during the member's equilibration: the occupancy grid its sites come
        from (sites_from occupancy); kept across restarts by its fix ID."""
        if not self._occupancy_sites(cfg):
            return []
        sf = cfg["sites_from"]
        line = f"fix {FIX_EQ_GRID} {GROUP_MOBILE} occupancy/grid {sf['nevery']} "
        line += ("grid " + " ".join(str(n) for n in sf["grid"])) if sf.get("grid") else f"spacing {sf['spacing']!r}"
        return [line + f" norm counts file {_q(member_dir / EQ_GRID)}"]

    def sites_from_occupancy(self, cfg, conf, member_dir: Path):
        """The sites of the member's equilibration grid: ionsitu.analysis.sites.find_sites of its
        counts (all mobile ions), threshold relative to the largest density, min_distance."""
        from ..analysis.sites import find_sites
        from ..io.occupancy import read_occupancy

        path = self.eq_grid_file(member_dir)
        if not path.is_file():
            raise ValueError(f"{path}: the equilibration occupancy grid is missing (its sites cannot be found)")
        g = read_occupancy(path)
        sf = cfg["sites_from"]
        counts = g["counts"].sum(axis=0) if g["counts"].ndim == 4 else g["counts"]
        s = find_sites(counts, g["cell"], g["origin"], threshold=float(sf["threshold"]),
                       min_distance=float(sf["min_distance"]), units=conf["campaign"]["units"]).sites
        if s.n == 0:
            raise ValueError(f"{path}: no density maximum above threshold {sf['threshold']!r} of the largest")
        s.meta.update(source=f"campaign sites_from occupancy: {path.name}", nframes=int(g["nframes"]))
        return s

    def site_file(self, member_dir: Path) -> Path:
        return member_dir / SITE_FILE

    def make_sites(self, cfg, conf, cell, origin):
        """The sites (ionsitu.sites.Sites) of mode sites, in a box with this cell and origin."""
        import numpy as np

        from ..io import sites as _sites

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

    def prepare(self, cfg, conf, member_dir, lmp, comm=None, trial=False):
        if cfg["mode"] != "sites":
            return
        box = lmp.extract_box()  # collective-free; every rank has the box
        path = self.site_file(member_dir)
        if trial and self._occupancy_sites(cfg):  # no equilibration ran: any valid site file checks the fix
            cfg = {**cfg, "sites_from": {"lattice": "sc", "cells": [1, 1, 1]}}

        def write():
            if not path.is_file():  # kept across restarts: the fix checks the number of sites
                from ..io.cell import lammps_cell
                from ..io.sites import write_sites

                if self._occupancy_sites(cfg):
                    write_sites(path, self.sites_from_occupancy(cfg, conf, member_dir))
                    return
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
        return [_with_every(line, cfg, conf)]

    def outputs(self, member_dir):
        return {"events": member_dir / "hops.txt", "sites": self.site_file(member_dir),
                "equilibration_grid": self.eq_grid_file(member_dir)}

    def fingerprint(self, cfg):
        fp = super().fingerprint(cfg)
        if cfg.get("sites") is not None and Path(cfg["sites"]).is_file():
            fp["sites_sha256"] = _file_digest(cfg["sites"])
        sf = cfg.get("sites_from") or {}
        if sf.get("structure") and Path(sf["structure"]).is_file():
            fp["sites_from_structure_sha256"] = _file_digest(sf["structure"])
        return fp


class Vacf(Analysis):
    """``fix vacf`` on the mobile ions: ``vacf.dat`` (VACF per direction, per listed type) and
    ``vacf_atoms.dat`` (each ion's VACF: its VDOS gives the attempt frequency ν* of the hops)."""

    name, fix_style, fix_id = "vacf", "vacf", "ionsitu_vacf"
    keys = {
        "nevery": Key("int", "sample the velocities every this many steps (well below a vibration period)", 2,
                      positive=True),
        "block": Key("int", "lags 0 .. block-1 samples (2..16384; reach them past a few vibration periods)", 200,
                     positive=True),
        "types": Key("types", "also a VACF of each listed mobile type (numbers or elements; default: every "
                     "mobile type)"),
        "every": Key("int", "also write the files every this many steps (default: restart_every, rounded to a "
                     "multiple of nevery)", nonneg=True),
    }

    def check(self, cfg, conf, err):
        key = f"analysis.{self.name}"
        b = cfg.get("block")
        if b is not None and not 2 <= b <= 16384:
            err(f"{key}.block", f"must be in 2..16384, got {b}")
        if cfg.get("types") is not None:
            cfg["types"] = _mobile_subset(f"{key}.types", cfg["types"], conf, err)
        _check_every(self.name, cfg, err)

    def commands(self, cfg, conf, member_dir):
        types = cfg.get("types") or conf["mobile"].get("types") or []
        line = f"fix {self.fix_id} {GROUP_MOBILE} vacf {cfg['nevery']} block {cfg['block']}"
        if types:
            line += " types " + " ".join(str(t) for t in types)
        out = self.outputs(member_dir)
        line += f" file {_q(out['vacf'])} atoms {_q(out['vacf_atoms'])}"
        return [_with_every(line, cfg, conf)]

    def outputs(self, member_dir):
        return {"vacf": member_dir / "vacf.dat", "vacf_atoms": member_dir / "vacf_atoms.dat"}


def _read_structure(path, fmt=None):
    from ase.io import read as ase_read

    return ase_read(str(path), format=fmt)


def _type_number(key, t, conf, err):
    """An atom type given as a number or an element of system.type_map: its number (None after an error)."""
    if isinstance(t, str):
        tm = conf["system"].get("type_map")
        if not tm or t not in tm:
            err(key, f"element {t!r} is not in system.type_map {tm}" if tm else f"element {t!r} needs system.type_map")
            return None
        return tm.index(t) + 1
    return t


def _check_block(name, cfg, conf, err):
    """block: a multiple of nevery; restart_every a multiple of block (a restart never splits a block).
    Sets cfg['block'] to its default (restart_every, else the production steps)."""
    key = f"analysis.{name}.block"
    r = conf["campaign"]["restart_every"]
    if cfg.get("block") is None:
        cfg["block"] = r or conf["production"]["steps"]
    b, nev = cfg["block"], cfg.get("nevery")
    if b and nev and b % nev:
        err(key, f"{b} is not a multiple of nevery {nev}")
    if b and r and r % b:
        err(key, f"campaign.restart_every {r} is not a multiple of block {b} (a restart would split a block)")


_BLOCK_DOC = ("steps of each block written to the file (the average of block/nevery samples; default: "
              "restart_every, else the production steps); a multiple of nevery that divides restart_every")


class Rdf(Analysis):
    """LAMMPS's ``compute rdf`` averaged by ``fix ave/time ... mode vector`` in blocks: ``rdf.dat``."""

    name, fix_style, fix_id = "rdf", "ave/time", "ionsitu_rdf"
    keys = {
        "pairs": Key("pairs", "pairs of atom types [[i, j], ...] (numbers or elements of system.type_map)", _REQUIRED),
        "r_max": Key("float", "largest distance (distance units; <= the force cutoff + skin, or set comm_modify "
                     "cutoff in [lammps] commands)", _REQUIRED, positive=True),
        "bins": Key("int", "number of bins of width r_max/bins", 100, positive=True),
        "nevery": Key("int", "compute g(r) every this many steps", 100, positive=True),
        "block": Key("int", _BLOCK_DOC, positive=True),
    }

    def check(self, cfg, conf, err):
        key = f"analysis.{self.name}.pairs"
        if cfg.get("pairs") is not None:
            pairs = [[_type_number(f"{key}[{i}][{j}]", t, conf, err) for j, t in enumerate(p)]
                     for i, p in enumerate(cfg["pairs"])]
            cfg["pairs"] = pairs if all(None not in p for p in pairs) else None
        _check_block(self.name, cfg, conf, err)

    def commands(self, cfg, conf, member_dir):
        pairs = " ".join(f"{i} {j}" for i, j in cfg["pairs"])
        nrep = cfg["block"] // cfg["nevery"]
        return [f"compute {self.fix_id} all rdf {cfg['bins']} {pairs} cutoff {cfg['r_max']!r}",
                f"fix {self.fix_id} all ave/time {cfg['nevery']} {nrep} {cfg['block']} c_{self.fix_id}[*] mode vector "
                f"ave one format \" %.15g\" append {_q(self.outputs(member_dir)['rdf'])}"]

    def outputs(self, member_dir):
        return {"rdf": member_dir / "rdf.dat"}


def check_per_atom_energies(lmp, comm=None, rel: float = 1e-8) -> tuple[float, float]:
    """(sum of compute pe/atom, compute pe) of the current configuration (``run 0``); raises
    ValueError when they differ: LAMMPS does not check that a pair style tallies per-atom
    energies (some stop with their own error, others leave them zero or partial)."""
    import numpy as np

    cid = "ionsitu_doas_check"
    lmp.command(f"compute {cid}_atom all pe/atom")
    lmp.command(f"compute {cid}_total all pe")
    try:
        lmp.command("run 0 post no")
        n = int(lmp.extract_global("nlocal"))
        local = float(np.asarray(lmp.numpy.extract_compute(f"{cid}_atom", 1, 1))[:n].sum()) if n else 0.0
        total = float(lmp.extract_compute(f"{cid}_total", 0, 0))
    finally:
        lmp.command(f"uncompute {cid}_atom")
        lmp.command(f"uncompute {cid}_total")
    s = local if comm is None else comm.allreduce(local)
    if not abs(s - total) <= rel * max(abs(total), 1e-300) + 1e-12 * int(lmp.get_natoms()):
        raise ValueError(f"[analysis.doas] needs per-atom energies, but the sum of compute pe/atom ({s!r}) differs "
                         f"from the potential energy ({total!r}): the pair style does not (fully) tally "
                         "per-atom energies")
    return s, total


class Doas(Analysis):
    """Thermal density of atomistic states: ``compute pe/atom`` of the mobile ions histogrammed
    per type by ``fix ave/histo`` in blocks: ``doas_t<type>.dat``."""

    name, fix_style, fix_id = "doas", "ave/histo", "ionsitu_doas"
    keys = {
        "types": Key("types", "one histogram per listed mobile type (numbers or elements; default: every mobile type)"),
        "range": Key("floats", "[e_min, e_max]: energy range of the histogram (energy units of the style); "
                     "values outside are counted in the first / last bin", _REQUIRED),
        "bins": Key("int", "number of bins in the range", 200, positive=True),
        "nevery": Key("int", "histogram the energies every this many steps", 100, positive=True),
        "block": Key("int", _BLOCK_DOC, positive=True),
        "quench_every": Key("int", "quenched DOAS: write a snapshot every this many production steps and quench "
                            "each (minimize, same potential, in a separate LAMMPS instance on the member's ranks) "
                            "after the production run; 0: no quenched DOAS", 0, nonneg=True),
        "quench_etol": Key("float", "minimize: energy tolerance (relative)", 0.0, nonneg=True),
        "quench_ftol": Key("float", "minimize: force tolerance (force units of the style)", 1e-8, positive=True),
        "quench_maxiter": Key("int", "minimize: maximum iterations", 10000, positive=True),
        "quench_maxeval": Key("int", "minimize: maximum force evaluations", 100000, positive=True),
    }

    def check(self, cfg, conf, err):
        key = f"analysis.{self.name}"
        if cfg.get("types") is not None:
            cfg["types"] = _mobile_subset(f"{key}.types", cfg["types"], conf, err)
        elif conf["mobile"].get("types"):
            cfg["types"] = list(conf["mobile"]["types"])
        rg = cfg.get("range")
        if rg is not None and (len(rg) != 2 or not rg[0] < rg[1]):
            err(f"{key}.range", f"must be [e_min, e_max] with e_min < e_max, got {rg!r}")
        _check_block(self.name, cfg, conf, err)

    def group(self, t: int) -> str:
        return f"{self.fix_id}_t{t}"

    def commands(self, cfg, conf, member_dir):
        lo, hi = cfg["range"]
        nrep = cfg["block"] // cfg["nevery"]
        cmds = [f"compute {self.fix_id} {GROUP_MOBILE} pe/atom"]
        for t in cfg["types"]:
            cmds += [f"group {self.group(t)} type {t}",
                     f"fix {self.group(t)} {self.group(t)} ave/histo {cfg['nevery']} {nrep} {cfg['block']} "
                     f"{lo!r} {hi!r} {cfg['bins']} c_{self.fix_id} mode vector ave one beyond extra "
                     f"append {_q(str(self.outputs(member_dir)['doas']).format(type=t))}"]
        if cfg.get("quench_every"):
            snap = self.snapshot_dir(member_dir) / "snap.*.txt"
            cmds += [f"dump {self.fix_id}_snap all custom {cfg['quench_every']} {_q(snap)} id type x y z ix iy iz",
                     f"dump_modify {self.fix_id}_snap sort id format float %.17g"]
        return cmds

    def snapshot_dir(self, member_dir: Path) -> Path:
        return member_dir / "snapshots"

    def prepare(self, cfg, conf, member_dir, lmp, comm=None, trial=False):
        if cfg.get("quench_every"):
            for d in (self.snapshot_dir(member_dir), member_dir / "quench"):
                on_root(comm, f"cannot create {d}", d.mkdir, parents=True, exist_ok=True)
        check_per_atom_energies(lmp, comm)

    def finish(self, cfg, conf, member_dir, new_lammps, setup, comm=None):
        """Quench every snapshot not yet quenched (resumable: one result file per snapshot)."""
        if not cfg.get("quench_every"):
            return
        import numpy as np

        from ..io.quench import write_quenched

        snaps = sorted(self.snapshot_dir(member_dir).glob("snap.*.txt"), key=lambda p: int(p.name.split(".")[1]))
        todo = [p for p in snaps if not (member_dir / "quench" / f"quench_{p.name.split('.')[1]}.npz").is_file()]
        if not todo:
            return
        lmp = new_lammps()
        try:
            for _key, c in setup:
                lmp.command(c)
            lmp.command(f"compute {self.fix_id}_qpe all pe/atom")
            lmp.command(f"compute {self.fix_id}_qtot all pe")
            lmp.command(f"thermo_style custom step c_{self.fix_id}_qtot")
            lmp.command("min_style cg")
            tol = (cfg["quench_etol"], cfg["quench_ftol"], cfg["quench_maxiter"], cfg["quench_maxeval"])
            for p in todo:
                step = int(p.name.split(".")[1])
                lmp.command(f"read_dump {_q(p)} {step} x y z ix iy iz box yes replace yes")
                n0 = int(lmp.extract_global("ntimestep"))
                lmp.command(f"minimize {tol[0]!r} {tol[1]!r} {tol[2]} {tol[3]}")
                n_iter = int(lmp.extract_global("ntimestep")) - n0
                lmp.command("run 0 post no")
                pe = np.array(lmp.gather(f"c_{self.fix_id}_qpe", 1, 1), float)
                types = np.array(lmp.gather_atoms("type", 0, 1), np.int64)
                meta = {"etol": tol[0], "ftol": tol[1], "maxiter": tol[2], "maxeval": tol[3], "min_style": "cg",
                        "pe_total": float(lmp.extract_compute(f"{self.fix_id}_qtot", 0, 0)), "iterations": n_iter}
                on_root(comm, f"cannot write the quenched snapshot of step {step}", write_quenched,
                        member_dir / "quench" / f"quench_{step}.npz", step, types, pe, meta)
        finally:
            lmp.close()

    def outputs(self, member_dir):
        """``doas``: the histogram file of a type, a template: ``str(path).format(type=t)``."""
        return {"doas": member_dir / "doas_t{type}.dat"}


#: analyses the driver knows ([analysis.<name>] tables)
ANALYSES: dict[str, Analysis] = {a.name: a for a in (MsdCross(), OccupancyGrid(), HopEvents(), Vacf(), Rdf(), Doas())}
#: analyses being written: a clear message instead of "unknown" (none at present)
PLANNED: dict[str, str] = {}

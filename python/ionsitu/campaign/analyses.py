"""In-situ analyses of a campaign: the extension point. Each is one [analysis.<name>] table,
one fix with a stable ID, its output files and the keys it takes; listed in :data:`ANALYSES`."""

from __future__ import annotations

from pathlib import Path

from .members import _file_digest
from .scheduler import on_root
from .schema import GROUP_MOBILE, Key, _is_num, _q, _suggest



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
SITE_FILE = "sites.txt"


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

    def prepare(self, cfg, conf, member_dir, lmp, comm=None):
        if cfg["mode"] != "sites":
            return
        box = lmp.extract_box()  # collective-free; every rank has the box
        path = self.site_file(member_dir)

        def write():
            if not path.is_file():  # kept across restarts: the fix checks the number of sites
                from ..io.cell import lammps_cell
                from ..io.sites import write_sites

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
        return {"events": member_dir / "hops.txt", "sites": self.site_file(member_dir)}

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


#: analyses the driver knows ([analysis.<name>] tables)
ANALYSES: dict[str, Analysis] = {a.name: a for a in (MsdCross(), OccupancyGrid(), HopEvents(), Vacf())}
#: analyses being written: a clear message instead of "unknown" (none at present)
PLANNED: dict[str, str] = {}

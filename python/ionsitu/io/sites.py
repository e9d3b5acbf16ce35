"""Site files (format ``# ionsitu-sites 1``) and site sets from arrays or structures.

Site file format, version 1 (written by :func:`write_sites`, read by :func:`read_sites`
and by the C++ ``read_site_file`` in src/core/hop_detector.h, which ``fix hop/events``
uses). Plain ASCII text, whitespace-separated, one record per line::

    # ionsitu-sites 1
    # free comment lines start with '#'; blank lines are ignored
    units metal
    cell ax ay az bx by bz cx cy cz
    origin ox oy oz
    meta {"source": "find_sites", ...}
    nsites N
    columns index sx sy sz x y z [extra column names ...]
    0 sx sy sz x y z [extra values ...]
    ...                                     (exactly N data rows)

Rules:

1. The first line is exactly ``# ionsitu-sites 1`` (the version is the third word).
2. Header keywords, before ``columns``, in any order: ``cell`` (required: 9 numbers, rows
   a, b, c, Cartesian, length unit of the run), ``nsites`` (required, integer >= 0),
   ``origin`` (optional, 3 numbers, default 0 0 0), ``units`` (optional, one word, the
   LAMMPS unit style or a length unit; informational), ``meta`` (optional, rest of the line
   is one JSON object; ignored by the C++ reader). Any other keyword is an error.
3. ``columns`` ends the header. Its first seven names are exactly
   ``index sx sy sz x y z``; further names (e.g. ``occupancy density volume``) add numeric
   columns, one value per row (``nan`` allowed).
4. Then exactly ``nsites`` data rows; ``index`` is 0, 1, 2, ... in order. ``sx sy sz`` are
   fractional coordinates in [0, 1) of ``cell``; they are authoritative: ``fix hop/events``
   places the sites at these fractional coordinates of the CURRENT box at every sample
   (so NPT and triclinic boxes work). ``x y z`` = origin + s @ cell, informational.
5. Numbers are decimal (``%.12g``). A different version number is refused.

Two readers keep this grammar: the C++ one (sites for ``fix hop/events``, also bound as
:func:`ionsitu.core.read_site_file_core`) and :func:`read_sites` (which also keeps ``meta`` and
the extra columns, which the C++ reader skips). tests/test_sites.py reads one set of valid and
invalid files with both: the same cell, origin, units and sites, the same line named in each error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import write_atomic
from .cell import as_cell as _as_cell
from .jsonsafe import json_safe
from .cell import min_image_frac as _min_image_frac

__all__ = ["Sites", "SITE_FILE_VERSION", "sites_from_array", "sites_from_structure", "write_sites", "read_sites"]

SITE_FILE_VERSION = 1
_MAGIC = "ionsitu-sites"
_REQUIRED_COLUMNS = ("index", "sx", "sy", "sz", "x", "y", "z")


@dataclass
class Sites:
    """A set of sites in a periodic cell.

    frac: (n, 3) fractional coordinates in [0, 1); cart: (n, 3) Cartesian positions
    (origin + frac @ cell, length units); cell: (3, 3) rows a, b, c; origin: (3,).
    Per-site arrays (NaN where unknown, e.g. sites from a structure):
    density: peak probability density (1/length^3); occupancy: fraction of all grid counts
    in the site's basin (probability that a given ion is on this site; times the number of
    ions = mean occupation number); volume: volume (length^3) of the basin's voxels above
    the threshold density (accessible volume). extra: further per-site columns
    {name: (n,) array} of a site file.
    """

    frac: np.ndarray
    cart: np.ndarray
    cell: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    density: np.ndarray | None = None
    occupancy: np.ndarray | None = None
    volume: np.ndarray | None = None
    units: str = ""
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.frac)
        for name in ("density", "occupancy", "volume"):
            if getattr(self, name) is None:
                setattr(self, name, np.full(n, np.nan))

    def __len__(self) -> int:
        return len(self.frac)

    @property
    def n(self) -> int:
        return len(self.frac)

    def distance_matrix(self) -> np.ndarray:
        """(n, n) minimum-image distances between sites (length units)."""
        d = _min_image_frac(self.frac[:, None, :] - self.frac[None, :, :], self.cell)
        return np.linalg.norm(d, axis=-1)



def sites_from_array(positions, cell, origin=(0.0, 0.0, 0.0), fractional: bool = False, units: str = "") -> Sites:
    """Sites from an (n, 3) array of positions (Cartesian, or fractional with ``fractional``)."""
    c = _as_cell(cell)
    org = np.asarray(origin, dtype=float).reshape(3)
    p = np.asarray(positions, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"positions must have shape (n, 3), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("positions contain non-finite values")
    frac = p if fractional else np.linalg.solve(c.T, (p - org).T).T
    frac = frac - np.floor(frac)
    frac[frac >= 1.0] = 0.0
    return Sites(frac=frac, cart=org + frac @ c, cell=c.copy(), origin=org.copy(), units=units,
                 meta={"source": "array"})


def sites_from_structure(structure, species, index=-1, units: str = "") -> Sites:
    """Sites from a crystal structure: the positions of the given species.

    structure: a path to any file ASE can read (CIF, POSCAR, extxyz, LAMMPS data with
    ``format`` guessed by ASE, ...) or an ``ase.Atoms``; species: a chemical symbol or a
    list of them (e.g. "Li"); index: which frame of a multi-frame file (default last).
    The cell of the structure is kept (ASE's origin is 0). Needs the ``ase`` package.
    """
    try:
        import ase
        import ase.io
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("sites_from_structure needs the 'ase' package (pip install ase)") from err
    if isinstance(structure, ase.Atoms):
        atoms = structure
        src = "ase.Atoms"
    else:
        atoms = ase.io.read(str(structure), index=index)
        src = str(structure)
    want = [species] if isinstance(species, str) else list(species)
    sym = np.array(atoms.get_chemical_symbols())
    mask = np.isin(sym, want)
    if not mask.any():
        raise ValueError(f"no atoms of species {want} in {src} (species present: {sorted(set(sym.tolist()))})")
    if not np.all(atoms.pbc):
        raise ValueError(f"structure {src} is not periodic in all directions (pbc={atoms.pbc.tolist()})")
    s = sites_from_array(atoms.get_scaled_positions(wrap=True)[mask], np.array(atoms.cell), fractional=True,
                         units=units)
    s.meta = {"source": src, "species": want}
    return s


# --------------------------------------------------------------------------- site files


def _fmt(v) -> str:
    return "%.12g" % float(v)


def write_sites(path, sites: Sites, units: str | None = None, meta: dict | None = None,
                extra: dict | None = None) -> Path:
    """Write sites in the site-file format (version 1, see the module docstring), atomically.

    Columns written after ``index sx sy sz x y z``: occupancy density volume, plus
    ``sites.extra`` and ``extra`` {name: (n,) array}. ``meta`` is merged into ``sites.meta`` (JSON).
    Returns the path.
    """
    path = Path(path)
    n = sites.n
    unit = sites.units if units is None else units
    if unit and (any(ch.isspace() for ch in unit)):
        raise ValueError(f"units must be one word, got {unit!r}")
    cols = {"occupancy": sites.occupancy, "density": sites.density, "volume": sites.volume}
    for name, arr in {**sites.extra, **(extra or {})}.items():
        if not name or any(ch.isspace() for ch in name) or name in _REQUIRED_COLUMNS or name in cols:
            raise ValueError(f"bad or duplicate extra column name {name!r}")
        arr = np.asarray(arr, dtype=float)
        if arr.shape != (n,):
            raise ValueError(f"extra column {name!r} has shape {arr.shape}, expected ({n},)")
        cols[name] = arr
    m = dict(sites.meta)
    m.update(meta or {})
    lines = [f"# {_MAGIC} {SITE_FILE_VERSION}", "# written by ionsitu.io.sites.write_sites; format: docs/file_formats.md"]
    if unit:
        lines.append(f"units {unit}")
    lines.append("cell " + " ".join(_fmt(v) for v in np.asarray(sites.cell).ravel()))
    lines.append("origin " + " ".join(_fmt(v) for v in sites.origin))
    lines.append("meta " + json.dumps(json_safe(m), sort_keys=True))
    lines.append(f"nsites {n}")
    lines.append("columns " + " ".join(list(_REQUIRED_COLUMNS) + list(cols)))
    for i in range(n):
        vals = [str(i)] + [_fmt(v) for v in sites.frac[i]] + [_fmt(v) for v in sites.cart[i]]
        vals += [_fmt(cols[k][i]) for k in cols]
        lines.append(" ".join(vals))
    return write_atomic(path, "\n".join(lines) + "\n")


def read_sites(path) -> Sites:
    """Read a site file (format version 1, module docstring). Raises ValueError with the line."""
    path = Path(path)
    text = path.read_text().splitlines()

    def fail(lineno, why):
        raise ValueError(f"{path}:{lineno}: {why}")

    def numbers(lineno, key, rest, count):
        try:
            vals = np.array(rest.split(), dtype=float)
        except ValueError:
            fail(lineno, f"bad number in {key}: {rest!r}")
        if vals.size != count:
            fail(lineno, f"'{key}' needs {count} numbers, got {vals.size}")
        return vals

    if not text:
        fail(1, "empty file")
    head = text[0].split()
    if len(head) < 3 or head[0] != "#" or head[1] != _MAGIC:
        fail(1, f"first line must be '# {_MAGIC} {SITE_FILE_VERSION}', got {text[0]!r}")
    if head[2] != str(SITE_FILE_VERSION):
        fail(1, f"unsupported site-file version {head[2]!r} (this reader knows {SITE_FILE_VERSION})")
    units, cell, origin, meta, nsites, columns = "", None, np.zeros(3), {}, None, None
    rows = []
    for lineno, line in enumerate(text[1:], start=2):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if columns is None:
            key, _, rest = s.partition(" ")
            rest = rest.strip()
            if key == "units":
                units = rest
            elif key == "cell":
                cell = numbers(lineno, key, rest, 9).reshape(3, 3)
            elif key == "origin":
                origin = numbers(lineno, key, rest, 3)
            elif key == "meta":
                try:
                    meta = json.loads(rest)
                except json.JSONDecodeError as err:
                    fail(lineno, f"meta is not JSON: {err}")
            elif key == "nsites":
                try:
                    nsites = int(rest)
                except ValueError:
                    fail(lineno, f"'nsites' needs an integer, got {rest!r}")
                if nsites < 0:
                    fail(lineno, f"'nsites' must be >= 0, got {nsites}")
            elif key == "columns":
                columns = rest.split()
                if tuple(columns[:7]) != _REQUIRED_COLUMNS:
                    fail(lineno, f"'columns' must start with {' '.join(_REQUIRED_COLUMNS)}, got {rest!r}")
                if cell is None:
                    fail(lineno, "'cell' must come before 'columns'")
                if nsites is None:
                    fail(lineno, "'nsites' must come before 'columns'")
            else:
                fail(lineno, f"unknown keyword {key!r}")
            continue
        f = s.split()
        if len(rows) >= nsites:
            fail(lineno, f"more data rows than nsites = {nsites}")
        if len(f) != len(columns):
            fail(lineno, f"expected {len(columns)} fields, found {len(f)}")
        if f[0] != str(len(rows)):
            fail(lineno, f"site index {f[0]!r}, expected {len(rows)}")
        try:
            rows.append([float(v) for v in f[1:]])
        except ValueError:
            fail(lineno, f"bad number in data row: {s!r}")
    if columns is None:
        fail(len(text), "no 'columns' line")
    if len(rows) != nsites:
        fail(len(text), f"found {len(rows)} data rows, nsites = {nsites}")
    data = np.array(rows, dtype=float).reshape(nsites, len(columns) - 1)
    extra = {name: data[:, 6 + k] for k, name in enumerate(columns[7:])}
    frac = data[:, 0:3] - np.floor(data[:, 0:3])  # "%.12g" may print 0.9999999999999 as 1
    frac[frac >= 1.0] = 0.0
    sites = Sites(
        frac=frac,
        cart=data[:, 3:6].copy(),
        cell=_as_cell(cell),
        origin=origin,
        density=extra.pop("density", None),
        occupancy=extra.pop("occupancy", None),
        volume=extra.pop("volume", None),
        units=units,
        meta=meta,
        extra=extra,
    )
    return sites

r"""Reader of the MSD files written by ``fix msd/cross`` and by the offline core.

File format, plain text, written atomically (temp file + rename); docs/file_formats.md is
the normative description. Version 2 (what ionsitu writes)::

    lag_steps time n_origins msd_x ...                 column names, bare (first line)
    # ionsitu-msd 2
    # meta {"fix_id": ..., "natoms": ..., ...}          one line of JSON
    <one row per lag, whitespace separated>

so ``numpy.genfromtxt(path, names=True)`` and ``pandas.read_csv(path, sep=r"\s+",
comment="#")`` name the columns with no arguments about the header. Version 1 (older
files, still read) had the tag first and the names in a comment line::

    # ionsitu-msd 1
    # meta {...}
    # columns lag_steps time n_origins msd_x ...
    <rows>

Column meanings (distance units of the run, ``time`` in its time units):

- ``lag_steps``  lag in MD steps; ``time`` = lag_steps * dt
- ``n_origins``  number of time origins averaged at this lag (0: not reached yet)
- ``msd_x msd_y msd_z msd``  self MSD per ion, <|r_i(t0+t) - r_i(t0)|^2> (per direction)
- ``msd4``       self <|dr|^4> per ion (non-Gaussian parameter)
- ``coll_x coll_y coll_z coll``  collective MSD 1/N <|sum_i dr_i|^2>
- ``charge_x ... charge``  (with charges) 1/N <|sum_a q_a dR_a|^2>, dR_a = sum_{i in a} dr_i
- ``onsager_A_B_x ... onsager_A_B``  (with charges) 1/N <dR_A . dR_B> for types A <= B

N is the number of atoms in the group. Displacements are of unwrapped positions with
the drift named in ``meta["drift"]`` removed ("all": mass-weighted centre of mass of the
whole system; a group name: of that group; "none").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT_TAG = "# ionsitu-msd"
FORMAT_VERSION = 2          #: the version the writers write
READ_VERSIONS = (1, 2)      #: the versions this reader reads
DIRECTIONS = ("x", "y", "z", "")


@dataclass
class MSDResult:
    """MSD results of one run; arrays are indexed by lag.

    Arrays ending in ``_xyz`` have shape (nlags, 4): columns x, y, z, total.
    ``onsager`` has shape (nspecies, nspecies, nlags, 4) and is symmetric.
    """

    lag_steps: np.ndarray
    time: np.ndarray
    n_origins: np.ndarray
    msd_xyz: np.ndarray
    msd4: np.ndarray
    coll_xyz: np.ndarray
    meta: dict
    charge_xyz: np.ndarray | None = None
    onsager: np.ndarray | None = None
    columns: dict = field(default_factory=dict, repr=False)

    # Convenience views -------------------------------------------------
    @property
    def msd(self) -> np.ndarray:
        """Total self MSD per ion (distance^2)."""
        return self.msd_xyz[:, 3]

    @property
    def coll(self) -> np.ndarray:
        """Total collective MSD, 1/N <|sum_i dr_i|^2> (distance^2)."""
        return self.coll_xyz[:, 3]

    @property
    def natoms(self) -> int:
        return int(self.meta["natoms"])

    @property
    def dt(self) -> float:
        return float(self.meta["dt"])

    @property
    def units(self) -> str:
        return str(self.meta["units"])

    @property
    def volume(self) -> float:
        """Mean volume of the simulation box over the samples (distance^3)."""
        return float(self.meta["volume"])

    @property
    def types(self) -> np.ndarray:
        return np.asarray(self.meta.get("types", []), dtype=int)

    @property
    def charges(self) -> np.ndarray:
        return np.asarray(self.meta.get("charges", []), dtype=float)

    @property
    def species_counts(self) -> np.ndarray:
        return np.asarray(self.meta.get("species_counts", []), dtype=int)

    @property
    def exact(self) -> np.ndarray:
        """True for lags averaged over every time origin (the finest level)."""
        return self.lag_steps <= (int(self.meta["block"]) - 1) * int(self.meta["nevery"])

    def valid(self) -> np.ndarray:
        """True for lags with at least one time origin."""
        return self.n_origins > 0


@dataclass
class IonGroups:
    """The MSD of G disjoint groups of the mobile ions, on the lags of the full result.

    ``size``: (G,) ions per group; ``msd_xyz``: (G, nlags, 4) self MSD per ion of each
    group (x, y, z, total); ``pair``: (K, K, nlags, 4) <dR_a . dR_b> (summed, not divided
    by N) between the K units a, b — a unit is the ions of one species in one group, so
    that the collective and charge MSDs of any set of groups are sums over unit pairs;
    ``unit_group``: (K,) the group of each unit; ``unit_charge``: (K,) its charge (None
    without charges). All from the same correlator origins as the full result, so that
    the all-group sums are the full MSDs (summation order aside).
    """

    size: np.ndarray
    msd_xyz: np.ndarray
    pair: np.ndarray
    unit_group: np.ndarray
    unit_charge: np.ndarray | None = None

    @property
    def ngroups(self) -> int:
        return len(self.size)

    def self_msd(self, counts: np.ndarray, lag_idx) -> np.ndarray:
        """Self MSD (nres, k, 4) of resamples that take group g ``counts[:, g]`` times."""
        w = np.asarray(counts, float) * self.size
        return np.einsum("rg,gkc->rkc", w, self.msd_xyz[:, lag_idx]) / w.sum(axis=1)[:, None, None]

    def group_pairs(self, quantity: str, lag_idx) -> np.ndarray:
        """(G, G, k, 4) sums over the unit pairs of two groups (charge: weighted q_a q_b)."""
        P = self.pair[:, :, lag_idx]
        if quantity == "charge":
            if self.unit_charge is None:
                raise ValueError("the ion groups carry no charges")
            P = P * np.outer(self.unit_charge, self.unit_charge)[:, :, None, None]
        G = self.ngroups
        onehot = (self.unit_group[:, None] == np.arange(G)[None, :]).astype(float)  # (K, G)
        return np.einsum("ag,bh,abkc->ghkc", onehot, onehot, P)

    def collective_msd(self, quantity: str, lag_idx, drop=None) -> np.ndarray:
        """Collective (or charge) MSD 1/N <|sum dR|^2> on ``lag_idx`` of all groups
        (``drop`` None: (k, 4)) or of all groups but one, for each (``drop="each"``: (G, k, 4))."""
        Q = self.group_pairs(quantity, lag_idx)
        total = Q.sum(axis=(0, 1))
        N = self.size.sum()
        if drop is None:
            return total / N
        row = Q.sum(axis=1)
        diag = np.einsum("ggkc->gkc", Q)
        return (total[None] - 2.0 * row + diag) / (N - self.size)[:, None, None]


def from_table(meta: dict, names: list[str], table: np.ndarray) -> MSDResult:
    """Build an MSDResult from column names and a (nlags, ncols) table."""
    table = np.atleast_2d(np.asarray(table, dtype=float))
    cols = {name: table[:, i] for i, name in enumerate(names)}
    missing = [n for n in ("lag_steps", "time", "n_origins", "msd", "msd4", "coll") if n not in cols]
    if missing:
        raise ValueError(f"MSD table lacks the columns {missing}")

    def xyz(prefix):
        return np.column_stack([cols[prefix + ("_" + d if d else "")] for d in DIRECTIONS])

    charge = xyz("charge") if "charge" in cols else None
    onsager = None
    types = list(meta.get("types", []))
    if types and charge is not None:
        ns = len(types)
        onsager = np.zeros((ns, ns, table.shape[0], 4))
        for a in range(ns):
            for b in range(a, ns):
                block = xyz(f"onsager_{types[a]}_{types[b]}")
                onsager[a, b] = onsager[b, a] = block
    return MSDResult(
        lag_steps=cols["lag_steps"].astype(np.int64),
        time=cols["time"],
        n_origins=cols["n_origins"].astype(np.int64),
        msd_xyz=xyz("msd"),
        msd4=cols["msd4"],
        coll_xyz=xyz("coll"),
        charge_xyz=charge,
        onsager=onsager,
        meta=meta,
        columns=cols,
    )


#: meta keys every reader of an MSD file relies on
REQUIRED_META = ("natoms", "nevery", "block", "dt", "units")
#: columns that are sums of squares (never negative); Onsager cross terms may be negative
_NONNEG = ("msd", "msd4", "coll", "charge")


def _check_meta(meta, src: str) -> None:
    from ..units import UNIT_STYLES

    if not isinstance(meta, dict):
        raise ValueError(f"{src}: the '# meta' line must hold a JSON object, got {type(meta).__name__}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ValueError(f"{src}: the '# meta' header lacks {', '.join(repr(k) for k in missing)} "
                         f"(an MSD file names {', '.join(REQUIRED_META)})")
    if meta["units"] not in UNIT_STYLES:
        raise ValueError(f"{src}: unknown units {meta['units']!r} in the '# meta' header "
                         f"(one of {', '.join(UNIT_STYLES)})")
    for k in ("natoms", "nevery", "block"):
        v = meta[k]
        if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            raise ValueError(f"{src}: meta {k} must be a positive integer, got {v!r}")
    dt = meta["dt"]
    if not (isinstance(dt, (int, float)) and not isinstance(dt, bool) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"{src}: meta dt (the timestep) must be a positive number, got {dt!r}")


def _check_table(names, table, src: str, lines) -> None:
    """Every value finite, the squared-displacement columns non-negative, lags counted."""
    def where(i):
        return f"{src}:{lines[i]}" if lines is not None else f"{src}: row {i + 1}"

    bad = ~np.isfinite(table)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{where(i)}: {float(table[i, j])} in column {names[j]} ({int(bad.sum())} non-finite "
                         "value(s) in the file)")
    for j, name in enumerate(names):
        base = name.rsplit("_", 1)[0] if name.endswith(("_x", "_y", "_z")) else name
        if base in _NONNEG or name in ("lag_steps", "n_origins"):
            neg = np.flatnonzero(table[:, j] < 0)
            if neg.size:
                i = neg[0]
                raise ValueError(f"{where(i)}: negative {name} = {float(table[i, j])!r} (a mean of squares; "
                                 "the file is corrupt)")


def segment_file_name(k: int) -> str:
    """File name of production segment k (1-based) of a campaign member ([analysis.msd_cross]
    segments): a part of the run whose whole is the member's msd.dat, not another replica."""
    return f"msd.seg{int(k)}.dat"


def is_segment_file(path) -> bool:
    name = Path(path).name
    return name.startswith("msd.seg") and name.endswith(".dat") and name[7:-4].isdigit()


def is_msd_file(path) -> bool:
    """True when ``path`` starts like an MSD file of any version (its tag on line 1 or 2)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return False
    lines = head.decode("ascii", "replace").splitlines()[:2]
    return any(line.startswith(FORMAT_TAG) for line in lines)


def parse_msd_text(text: str, source: str = "<string>") -> MSDResult:
    """Parse the text of an MSD file (version 1 or 2); ValueError naming ``source`` (and the
    line) on a truncated, short-row or corrupt file, a header without units or timestep,
    dt <= 0, NaN or negative squared displacements."""
    lines = text.splitlines()
    tag_at = next((i for i, line in enumerate(lines[:2]) if line.startswith(FORMAT_TAG)), None)
    if tag_at is None:
        raise ValueError(f"{source}: not an ionsitu MSD file (no '{FORMAT_TAG} N' line first or after the "
                         f"column names; first lines {lines[:2]!r})")
    head = lines[tag_at].split()
    try:
        version = int(head[2])
    except (IndexError, ValueError):
        raise ValueError(f"{source}:{tag_at + 1}: bad format line {lines[tag_at]!r} (expected "
                         f"'{FORMAT_TAG} {FORMAT_VERSION}')") from None
    if version not in READ_VERSIONS:
        raise ValueError(f"{source}: MSD format version {version}, this ionsitu reads "
                         f"{', '.join(map(str, READ_VERSIONS))}")
    if (version == 1) != (tag_at == 0):
        raise ValueError(f"{source}:{tag_at + 1}: a version-{version} MSD file has its '{FORMAT_TAG}' line "
                         f"{'first' if version == 1 else 'after the column names (line 2)'}")
    meta, names, rows, where = None, None, [], []
    if version == 2:
        names = lines[0].split()
        if not names or lines[0].startswith("#"):
            raise ValueError(f"{source}:1: a version-2 MSD file starts with the column names, got {lines[0][:80]!r}")
    for lineno, line in enumerate(lines[tag_at + 1:], start=tag_at + 2):
        if line.startswith("# meta "):
            try:
                meta = json.loads(line[len("# meta "):])
            except json.JSONDecodeError as exc:
                raise ValueError(f"{source}:{lineno}: bad JSON in the '# meta' line ({exc.msg} at column "
                                 f"{exc.colno + len('# meta ')})") from None
        elif line.startswith("# columns ") and version == 1:
            names = line.split()[2:]
        elif line.strip() and not line.startswith("#"):
            if names is None:
                raise ValueError(f"{source}:{lineno}: data before the '# columns' line")  # version 1
            vals = line.split()
            if len(vals) != len(names):
                raise ValueError(f"{source}:{lineno}: {len(vals)} values, expected {len(names)} (one per column"
                                 "; truncated or corrupt file)")
            try:
                rows.append([float(v) for v in vals])
            except ValueError:
                raise ValueError(f"{source}:{lineno}: not a number in {line.strip()[:80]!r}") from None
            where.append(lineno)
    if meta is None or names is None:
        raise ValueError(f"{source}: MSD file lacks its '# meta' line"
                         + (" or its '# columns' line" if version == 1 else ""))
    _check_meta(meta, source)
    if not rows:
        raise ValueError(f"{source}: no data rows (truncated file?)")
    levels = meta.get("levels")
    if isinstance(levels, int) and len(rows) != (meta["block"] - 1) * levels:
        raise ValueError(f"{source}: {len(rows)} rows, expected (block - 1) x levels = "
                         f"{(meta['block'] - 1) * levels} (truncated file?)")
    table = np.array(rows, dtype=float)
    _check_table(names, table, source, where)
    return from_table(meta, names, table)


def read_msd(path) -> MSDResult:
    """Read an MSD file written by ``fix msd/cross`` (or the offline core), version 1 or 2.

    Returns an :class:`MSDResult` with lags in steps (``lag_steps``) and in time units
    of the run (``time``), and named arrays for every column. Raises ValueError naming
    the file and the problem for anything but a complete, valid file.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (not an ionsitu MSD file)") from None
    return parse_msd_text(text, str(path))

"""Reader of the MSD files written by ``fix msd/cross`` and by the offline core.

File format (version 1), plain text, written atomically (temp file + rename)::

    # ionsitu-msd 1
    # meta {"fix_id": ..., "natoms": ..., ...}          one line of JSON
    # columns lag_steps time n_origins msd_x ...        column names
    <one row per lag, whitespace separated>

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
FORMAT_VERSION = 1
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


def parse_msd_text(text: str, source: str = "<string>") -> MSDResult:
    lines = text.splitlines()
    if not lines or not lines[0].startswith(FORMAT_TAG):
        raise ValueError(f"{source}: not an ionsitu MSD file (first line {lines[:1]!r})")
    version = int(lines[0].split()[2])
    if version != FORMAT_VERSION:
        raise ValueError(f"{source}: MSD format version {version}, this ionsitu reads {FORMAT_VERSION}")
    meta, names, rows = None, None, []
    for line in lines[1:]:
        if line.startswith("# meta "):
            meta = json.loads(line[len("# meta "):])
        elif line.startswith("# columns "):
            names = line.split()[2:]
        elif line.strip() and not line.startswith("#"):
            rows.append([float(v) for v in line.split()])
    if meta is None or names is None:
        raise ValueError(f"{source}: MSD file lacks its '# meta' or '# columns' line")
    table = np.array(rows, dtype=float).reshape(-1, len(names))
    return from_table(meta, names, table)


def read_msd(path) -> MSDResult:
    """Read an MSD file written by ``fix msd/cross`` (or the offline core).

    Returns an :class:`MSDResult` with lags in steps (``lag_steps``) and in time units
    of the run (``time``), and named arrays for every column.
    """
    path = Path(path)
    return parse_msd_text(path.read_text(), str(path))

"""MSD results from existing trajectories (LAMMPS text dumps, anything ASE reads).

The MSD itself is always computed by :class:`ionsitu.core.MSDCorrelator`, the same C++
accumulator as ``fix msd/cross``; this module only reads frames, unwraps positions,
selects the mobile species and removes the drift, one frame at a time (memory O(N)).

Readers
-------
:func:`iter_lammps_dump` streams a LAMMPS text dump (``dump custom``/``dump atom``),
orthogonal or triclinic (restricted ``xy xz yz`` and general ``abc origin`` boxes),
sorted by id or not. Unwrapped positions come from, in this order of preference:

=====================  ================================================================
columns                 position
=====================  ================================================================
``xu yu zu``            used as they are
``xsu ysu zsu``         origin + s @ cell
``x y z ix iy iz``      x + image @ cell
``xs ys zs ix iy iz``   origin + (s + image) @ cell
=====================  ================================================================

A dump with only wrapped positions (``x y z`` or ``xs ys zs`` without image flags) is an
error unless ``unwrap="minimum-image"`` is given (then as for ASE, below).

:func:`iter_ase` reads any format ASE reads (extended XYZ, VASP XDATCAR, ...) with
``ase.io.iread`` (streaming), or takes a list of ``ase.Atoms``. ASE positions may be
wrapped into the cell (XDATCAR always is), so they are **unwrapped by following the
minimum-image jump between consecutive frames**: in fractional coordinates of each
frame's cell, the image count of every atom changes by ``-round(s_k - s_{k-1})`` along
periodic directions, and the position is ``x_k + image @ cell_k`` (as LAMMPS unwraps).
This is exact when no atom moves by half a cell vector or more between two frames
(a :class:`UserWarning` is issued when some atom moves by more than 0.3 of one);
positions that are already unwrapped come back unchanged.

MSD
---
:func:`msd_from_trajectory` selects the mobile species (element symbols, or LAMMPS atom
types for dumps), removes the drift (``"all"``: mass-weighted centre of mass of the whole
system, the default and the fix's convention; ``"framework"``: mass-weighted centre of
mass of every atom that is not mobile; ``"none"``) and feeds the frames to the core. The
lag time is ``stride * timestep``: ``timestep`` is the MD timestep in the time unit of
``units`` (a LAMMPS units style: ``metal`` ps, ``real`` fs, ``lj`` tau, ...), ``stride``
the number of MD steps between frames (from the dump's TIMESTEP values, checked).
"""

from __future__ import annotations

import io
import itertools
import numbers
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from . import units as _units

__all__ = [
    "Frame",
    "iter_lammps_dump",
    "iter_ase",
    "iter_frames",
    "msd_from_trajectory",
    "MinimumImageUnwrapper",
    "UNWRAP_JUMP_WARN",
]

#: a fractional jump between consecutive frames above this triggers a warning
UNWRAP_JUMP_WARN = 0.3

DRIFTS = ("all", "framework", "none")


@dataclass
class Frame:
    """One frame of a trajectory, atoms in a fixed order (by id for dumps).

    ``cell``: (3, 3), rows are the box vectors a, b, c; ``origin``: (3,) box origin;
    ``positions``: (N, 3) **unwrapped** Cartesian positions; ``types``: LAMMPS atom types
    (dumps) or atomic numbers (ASE); ``symbols``/``masses``: when the source has them.
    ``unwrap`` says how the positions were unwrapped.
    """

    step: int | None
    cell: np.ndarray
    origin: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    positions: np.ndarray
    symbols: np.ndarray | None = None
    masses: np.ndarray | None = None
    pbc: np.ndarray | None = None
    unwrap: str = ""
    units: str | None = None
    kind: str = ""  # "lammps-dump" or "ase"

    @property
    def natoms(self) -> int:
        return len(self.ids)


# --------------------------------------------------------------------------------------
# Minimum-image unwrapping (ASE, wrapped dumps)
# --------------------------------------------------------------------------------------
class MinimumImageUnwrapper:
    """Unwrap wrapped positions by following minimum-image jumps between frames.

    Keeps, per atom, the fractional position of the previous frame and an integer image
    count (O(N) memory). ``pbc``: periodic directions (others are never shifted).
    """

    def __init__(self, pbc=(True, True, True), source: str = "trajectory"):
        self.pbc = np.asarray(pbc, dtype=bool)
        self.prev = None
        self.image = None
        self.source = source
        self.max_jump = 0.0
        self._warned = False

    def __call__(self, x: np.ndarray, cell: np.ndarray, frame_index: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.pbc.any():
            return x
        inv = np.linalg.inv(cell)
        s = x @ inv
        if self.prev is None:
            self.image = np.zeros_like(s)
        else:
            if s.shape != self.prev.shape:
                raise ValueError(f"{self.source}: frame {frame_index} has {len(s)} atoms, the previous one "
                                 f"{len(self.prev)}")
            ds = s - self.prev
            jump = np.rint(ds)
            jump[:, ~self.pbc] = 0.0
            self.image -= jump
            rest = np.abs(ds - jump)[:, self.pbc]
            m = float(rest.max()) if rest.size else 0.0
            self.max_jump = max(self.max_jump, m)
            if m > UNWRAP_JUMP_WARN and not self._warned:
                self._warned = True
                warnings.warn(
                    f"{self.source}: between frames {frame_index - 1} and {frame_index} an atom moved by "
                    f"{m:.2f} of a cell vector; minimum-image unwrapping is unreliable when atoms move by "
                    "half a cell vector or more between frames (write frames more often)",
                    UserWarning, stacklevel=3)
        self.prev = s
        return x + self.image @ cell


# --------------------------------------------------------------------------------------
# LAMMPS text dumps
# --------------------------------------------------------------------------------------
def _box_from_header(header: str, lines: list[str], path, step) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell rows a, b, c; origin; pbc) from the BOX BOUNDS item."""
    words = header.split()[3:]  # after "ITEM: BOX BOUNDS"
    try:
        vals = np.array([[float(v) for v in ln.split()] for ln in lines])
    except ValueError:
        raise ValueError(f"{path}: step {step}: cannot read the box bounds {lines!r}") from None
    if "abc" in words:  # general triclinic: "ax ay az ox" per line
        if vals.shape != (3, 4):
            raise ValueError(f"{path}: step {step}: general triclinic box needs 3 lines of 4 numbers, got {lines!r}")
        cell, origin = vals[:, :3].copy(), vals[:, 3].copy()
        flags = [w for w in words if w not in ("abc", "origin")]
    elif "xy" in words:  # restricted triclinic: bounding box + tilt factors
        if vals.shape != (3, 3):
            raise ValueError(f"{path}: step {step}: triclinic box needs 3 lines of 3 numbers, got {lines!r}")
        (xlob, xhib, xy), (ylob, yhib, xz), (zlo, zhi, yz) = vals
        xlo = xlob - min(0.0, xy, xz, xy + xz)
        xhi = xhib - max(0.0, xy, xz, xy + xz)
        ylo = ylob - min(0.0, yz)
        yhi = yhib - max(0.0, yz)
        cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
        origin = np.array([xlo, ylo, zlo])
        flags = [w for w in words if w not in ("xy", "xz", "yz")]
    else:
        if vals.shape[0] != 3 or vals.shape[1] < 2:
            raise ValueError(f"{path}: step {step}: box needs 3 lines of 'lo hi', got {lines!r}")
        cell = np.diag(vals[:, 1] - vals[:, 0])
        origin = vals[:, 0].copy()
        flags = words
    pbc = np.array([f.startswith("p") for f in flags[:3]]) if len(flags) >= 3 else np.ones(3, bool)
    return cell, origin, pbc


_POSITION_SCHEMES = (
    # (columns, image columns or None, scaled?, description)
    (("xu", "yu", "zu"), None, False, "unwrapped columns xu yu zu"),
    (("xsu", "ysu", "zsu"), None, True, "scaled unwrapped columns xsu ysu zsu"),
    (("x", "y", "z"), ("ix", "iy", "iz"), False, "x y z + image flags ix iy iz"),
    (("xs", "ys", "zs"), ("ix", "iy", "iz"), True, "scaled xs ys zs + image flags ix iy iz"),
)


def _choose_scheme(names: list[str], unwrap: str, path):
    have = set(names)
    if unwrap == "minimum-image":
        for cols, scaled in ((("x", "y", "z"), False), (("xs", "ys", "zs"), True),
                             (("xu", "yu", "zu"), False), (("xsu", "ysu", "zsu"), True)):
            if have.issuperset(cols):
                return cols, None, scaled, f"minimum image between frames (from {' '.join(cols)})"
    else:
        for cols, img, scaled, desc in _POSITION_SCHEMES:
            if have.issuperset(cols) and (img is None or have.issuperset(img)):
                return cols, img, scaled, desc
    missing = "" if have.intersection({"x", "xs", "xu", "xsu"}) else " (no position columns at all)"
    raise ValueError(
        f"{path}: missing columns for unwrapped positions{missing}: the dump has {names}; need xu yu zu, or "
        "xsu ysu zsu, or x y z with ix iy iz, or xs ys zs with ix iy iz (or pass unwrap='minimum-image' "
        "to unwrap wrapped positions by following minimum-image jumps)")


def iter_lammps_dump(path, unwrap: str = "auto") -> Iterator[Frame]:
    """Stream the frames of a LAMMPS text dump, atoms sorted by id (memory O(N)).

    ``unwrap``: ``"auto"`` (unwrapped or image-flag columns, else an error) or
    ``"minimum-image"`` (follow minimum-image jumps of whatever positions there are).
    Raises ValueError naming the offending value for missing columns, atom counts or
    ids that change between frames, or a malformed file.
    """
    if unwrap not in ("auto", "minimum-image"):
        raise ValueError(f"unwrap must be 'auto' or 'minimum-image', got {unwrap!r}")
    path = Path(path)
    ref_ids = None
    scheme = None
    unwrapper = None
    nframe = 0
    units = None
    with path.open() as fh:
        line = fh.readline()
        while line:
            if not line.strip():
                line = fh.readline()
                continue
            if not line.startswith("ITEM: TIMESTEP"):
                raise ValueError(f"{path}: expected 'ITEM: TIMESTEP' at frame {nframe}, got {line.strip()[:80]!r}"
                                 " (not a LAMMPS text dump?)")
            step_line = fh.readline()
            try:
                step = int(step_line.split()[0])
            except (ValueError, IndexError):
                raise ValueError(f"{path}: frame {nframe}: bad TIMESTEP value {step_line.strip()!r}") from None
            natoms = cell = origin = pbc = None
            names = None
            line = fh.readline()
            while line and not line.startswith("ITEM: ATOMS"):
                if line.startswith("ITEM: NUMBER OF ATOMS"):
                    natoms = int(fh.readline().split()[0])
                    line = fh.readline()
                elif line.startswith("ITEM: BOX BOUNDS"):
                    box = [fh.readline() for _ in range(3)]
                    cell, origin, pbc = _box_from_header(line, box, path, step)
                    line = fh.readline()
                elif line.startswith("ITEM: UNITS"):
                    units = fh.readline().split()[0]
                    line = fh.readline()
                elif line.startswith("ITEM:"):  # e.g. ITEM: TIME; skip its value lines
                    line = fh.readline()
                    while line and not line.startswith("ITEM:"):
                        line = fh.readline()
                else:
                    raise ValueError(f"{path}: step {step}: unexpected line {line.strip()[:80]!r}")
            if not line:
                raise ValueError(f"{path}: step {step}: file ends before 'ITEM: ATOMS' (truncated frame)")
            names = line.split()[2:]
            if natoms is None or cell is None:
                raise ValueError(f"{path}: step {step}: frame lacks 'NUMBER OF ATOMS' or 'BOX BOUNDS'")
            for need in ("id", "type"):
                if need not in names:
                    raise ValueError(f"{path}: missing column {need!r} (the dump has {names})")
            rows = list(itertools.islice(fh, natoms))
            if len(rows) != natoms or (rows and not rows[-1].strip()):
                raise ValueError(f"{path}: step {step}: expected {natoms} atom lines, got {len(rows)} "
                                 "(truncated file?)")
            if scheme is None:
                scheme = _choose_scheme(names, unwrap, path)
                if unwrap == "minimum-image":
                    unwrapper = MinimumImageUnwrapper(pbc, source=str(path))
            cols, img, scaled, desc = scheme
            col = {n: i for i, n in enumerate(names)}
            for n in cols + (img or ()):
                if n not in col:
                    raise ValueError(f"{path}: step {step}: missing column {n!r} (this frame has {names})")
            numeric = [col["id"], col["type"]] + [col[n] for n in cols + (img or ())]
            has_mass = "mass" in col
            if has_mass:
                numeric.append(col["mass"])
            try:
                data = np.loadtxt(io.StringIO("".join(rows)), dtype=np.float64, usecols=numeric, ndmin=2)
            except ValueError as exc:
                raise ValueError(f"{path}: step {step}: cannot read the atom lines: {exc}") from None
            symbols = None
            if "element" in col:
                symbols = np.array([r.split()[col["element"]] for r in rows])
            ids = data[:, 0].astype(np.int64)
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            data = data[order]
            if symbols is not None:
                symbols = symbols[order]
            if ref_ids is None:
                if len(np.unique(ids)) != len(ids):
                    raise ValueError(f"{path}: step {step}: duplicate atom ids")
                ref_ids = ids
            elif len(ids) != len(ref_ids):
                raise ValueError(f"{path}: inconsistent atom counts: step {step} has {len(ids)} atoms, the first "
                                 f"frame {len(ref_ids)}")
            elif not np.array_equal(ids, ref_ids):
                bad = ids[np.flatnonzero(ids != ref_ids)[0]]
                raise ValueError(f"{path}: step {step}: atom ids differ from the first frame's (e.g. id {bad})")
            x = data[:, 2:5]
            if scaled:
                x = origin + x @ cell
            if img is not None:
                x = x + data[:, 5:8] @ cell
            if unwrapper is not None:
                x = unwrapper(x - origin, cell, nframe) + origin
            yield Frame(step=step, cell=cell, origin=origin, ids=ids, types=data[:, 1].astype(np.int64),
                        positions=x, symbols=symbols, masses=data[:, -1] if has_mass else None, pbc=pbc,
                        unwrap=desc, units=units, kind="lammps-dump")
            nframe += 1
            line = fh.readline()
    if nframe == 0:
        raise ValueError(f"{path}: no frames")


def is_lammps_dump(path) -> bool:
    """True when the file starts like a LAMMPS text dump."""
    try:
        with Path(path).open() as fh:
            for line in fh:
                if line.strip():
                    return line.startswith("ITEM: TIMESTEP")
    except (UnicodeDecodeError, IsADirectoryError):
        return False
    return False


# --------------------------------------------------------------------------------------
# ASE
# --------------------------------------------------------------------------------------
_STEP_KEYS = ("step", "timestep", "Step", "Timestep", "time_step")


def iter_ase(source, format: str | None = None, index=":") -> Iterator[Frame]:
    """Stream frames through ASE: a file name (``ase.io.iread``) or a list of ``ase.Atoms``.

    Positions are unwrapped by following minimum-image jumps between consecutive frames
    (see the module docstring). ``types`` are atomic numbers, ``symbols`` the element
    symbols, ``masses`` ASE's masses, ``step`` the frame's ``info["step"]`` (or
    ``timestep``) when present.
    """
    if isinstance(source, (str, Path)):
        try:
            import ase.io
        except ImportError as exc:  # pragma: no cover - ase is a dependency
            raise ImportError("reading this trajectory needs ASE (pip install ase)") from exc
        name = str(source)
        if not Path(source).exists():
            raise FileNotFoundError(f"trajectory file not found: {name}")
        atoms_iter = ase.io.iread(name, index=index, format=format)
    else:
        name = "ase.Atoms list"
        atoms_iter = iter(source)
    unwrapper = None
    first = None
    for k, atoms in enumerate(atoms_iter):
        cell = np.asarray(atoms.cell.array, dtype=np.float64)
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if first is None:
            first = atoms
            if pbc.any() and abs(np.linalg.det(cell)) < 1e-12:
                raise ValueError(f"{name}: frame 0 is periodic ({pbc.tolist()}) but has no cell")
            unwrapper = MinimumImageUnwrapper(pbc, source=name)
        elif len(atoms) != len(first):
            raise ValueError(f"{name}: inconsistent atom counts: frame {k} has {len(atoms)} atoms, frame 0 "
                             f"{len(first)}")
        elif not np.array_equal(atoms.numbers, first.numbers):
            i = int(np.flatnonzero(atoms.numbers != first.numbers)[0])
            raise ValueError(f"{name}: frame {k}: atom {i} is {atoms.get_chemical_symbols()[i]}, in frame 0 it "
                             f"was {first.get_chemical_symbols()[i]} (the atom order must not change)")
        step = None
        for key in _STEP_KEYS:
            if key in atoms.info:
                step = int(atoms.info[key])
                break
        x = unwrapper(atoms.positions, cell, k)
        yield Frame(step=step, cell=cell, origin=np.zeros(3), ids=np.arange(1, len(atoms) + 1),
                    types=np.asarray(atoms.numbers, dtype=np.int64), positions=x,
                    symbols=np.asarray(atoms.get_chemical_symbols()), masses=np.asarray(atoms.get_masses()),
                    pbc=pbc, unwrap="minimum image between consecutive frames (ASE positions may be wrapped)",
                    kind="ase")
    if first is None:
        raise ValueError(f"{name}: no frames")


def iter_frames(source, format: str | None = None, unwrap: str = "auto") -> Iterator[Frame]:
    """Frames of ``source``: a LAMMPS text dump (detected, or ``format="lammps-dump"``),
    any file ASE reads (``format`` passed to ASE), or a list of ``ase.Atoms``."""
    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise FileNotFoundError(f"trajectory file not found: {source}")
        if format in ("lammps-dump", "lammps-dump-text", "lammpstrj") or (format is None and is_lammps_dump(source)):
            return iter_lammps_dump(source, unwrap=unwrap)
        return iter_ase(source, format=format)
    return iter_ase(source)


# --------------------------------------------------------------------------------------
# Species, masses, charges
# --------------------------------------------------------------------------------------
def _is_type_label(s) -> bool:
    return isinstance(s, numbers.Integral) or (isinstance(s, str) and s.strip().isdigit())


def _species_list(species) -> list:
    if species is None:
        raise ValueError("species is required: element symbol(s) (e.g. 'Li') or LAMMPS atom type(s) (e.g. 2)")
    if isinstance(species, (str, numbers.Integral)):
        items = [species]
    else:
        items = list(species)
    out = []
    for s in items:
        if isinstance(s, str):
            out += [w for w in s.replace(",", " ").split()]
        else:
            out.append(s)
    if not out:
        raise ValueError(f"empty species selection {species!r}")
    return out


def _match(frame: Frame, label, what: str) -> np.ndarray:
    """Boolean mask of the atoms of ``label`` (LAMMPS type or element symbol)."""
    if _is_type_label(label):
        if frame.kind != "lammps-dump":
            raise ValueError(f"unknown {what} {label!r}: this trajectory is read through ASE; name species by "
                             f"element symbol ({sorted(set(frame.symbols.tolist()))})")
        t = int(label)
        mask = frame.types == t
        if not mask.any():
            raise ValueError(f"unknown {what} {label!r}: the trajectory has atom types "
                             f"{sorted(set(frame.types.tolist()))}")
        return mask
    if frame.symbols is None:
        raise ValueError(f"unknown {what} {label!r}: this dump has no 'element' column, so name species by "
                         f"LAMMPS atom type ({sorted(set(frame.types.tolist()))})")
    mask = frame.symbols == str(label)
    if not mask.any():
        raise ValueError(f"unknown {what} {label!r}: the trajectory has elements {sorted(set(frame.symbols.tolist()))}")
    return mask


def _masses(frame: Frame, masses, need: bool) -> np.ndarray | None:
    n = frame.natoms
    if isinstance(masses, str):
        if masses != "equal":
            raise ValueError(f"masses must be 'equal', a mapping or an array, got {masses!r}")
        return np.ones(n)
    if masses is None:
        if frame.masses is not None:
            return np.asarray(frame.masses, dtype=float)
        if need:
            raise ValueError(
                "drift removal is mass-weighted but the trajectory has no masses (no 'mass' column in the dump): "
                "give masses={type: mass, ...} (CLI: --masses 1:20 2:1), masses='equal', or drift='none'")
        return None
    if isinstance(masses, dict):
        m = np.full(n, np.nan)
        for label, value in masses.items():
            m[_match(frame, label, "species in masses")] = float(value)
        if np.isnan(m).any():
            i = int(np.flatnonzero(np.isnan(m))[0])
            missing = frame.types[i] if frame.kind == "lammps-dump" else frame.symbols[i]
            raise ValueError(f"masses: no mass given for atom type/element {missing!r} (got {masses})")
        return m
    m = np.asarray(masses, dtype=float)
    if m.shape != (n,):
        raise ValueError(f"masses must have one value per atom ({n}), got shape {m.shape}")
    return m


# --------------------------------------------------------------------------------------
# MSD of a trajectory
# --------------------------------------------------------------------------------------
def msd_from_trajectory(source, species, timestep: float, *, stride: int | None = None,
                        units: str | None = None, drift: str = "all", masses=None, charges=None,
                        block: int = 10, levels: int = 7, format: str | None = None,
                        unwrap: str = "auto", write=None):
    """MSD results (:class:`ionsitu.msd_file.MSDResult`) of an existing trajectory.

    source : LAMMPS text dump, any file ASE reads, or a list of ``ase.Atoms``.
    species : mobile species: element symbol(s) ("Li", "Li Na") or, for LAMMPS dumps,
        atom type(s) (2, "2", [2, 3]).
    timestep : MD timestep in time units of ``units``.
    stride : MD steps between frames. Dumps: taken from the TIMESTEP values (an error if
        a given stride disagrees); ASE: from ``info["step"]`` when present, else 1.
    units : LAMMPS units style of positions and time (dumps: from ``ITEM: UNITS`` when
        present, else required; ASE: default "metal", i.e. Angstrom and ps).
    drift : "all" (mass-weighted centre of mass of the whole system, default), "framework"
        (mass-weighted centre of mass of the non-mobile atoms) or "none".
    masses : None (from the dump's ``mass`` column or ASE), "equal", {type or symbol:
        mass} or an (N,) array.
    charges : {type or symbol: charge} of the mobile species for the charge MSD and the
        Onsager terms (every mobile species needs one).
    block, levels : correlator geometry (as ``fix msd/cross``).
    write : optional path: also write the results in the fix's file format.

    The lag times are lag_steps * timestep with lag_steps multiples of ``stride``.
    ``meta`` records the source, species, unwrapping and drift.
    """
    from .core import MSDCorrelator  # compiled; imported lazily so readers work without it

    if drift not in DRIFTS:
        raise ValueError(f"drift must be one of {DRIFTS}, got {drift!r}")
    timestep = float(timestep)
    if not np.isfinite(timestep) or timestep <= 0:
        raise ValueError(f"timestep must be positive, got {timestep!r}")
    if stride is not None and (int(stride) != stride or stride <= 0):
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    labels = _species_list(species)
    name = str(source) if isinstance(source, (str, Path)) else "ase.Atoms list"

    frames = iter_frames(source, format=format, unwrap=unwrap)
    corr = None
    steps_seen = []
    spacing = None
    nframes = 0
    for k, fr in enumerate(frames):
        if corr is None:
            first = fr
            mobile = np.zeros(fr.natoms, bool)
            for lab in labels:
                mobile |= _match(fr, lab, "species")
            frame_units = fr.units
            if fr.kind == "lammps-dump":
                if units is None and frame_units is None:
                    raise ValueError(f"{name}: the dump does not state its units (no ITEM: UNITS); pass units= "
                                     "(a LAMMPS units style: metal, real, lj, ...)")
                if units is not None and frame_units is not None and units != frame_units:
                    raise ValueError(f"{name}: units={units!r} but the dump says ITEM: UNITS {frame_units}")
                units = units or frame_units
            else:
                units = units or "metal"
            _units.get_style(units)  # unknown style -> ValueError naming it
            need_m = drift != "none"
            m = _masses(fr, masses, need_m)
            ref = None if drift in ("all", "none") else ~mobile
            if ref is not None and not ref.any():
                raise ValueError("drift='framework' but every atom is mobile (no framework atoms)")
            gtypes = fr.types[mobile]
            qmap = None
            if charges:
                qmap = {}
                for lab, q in dict(charges).items():
                    hit = _match(fr, lab, "species in charges") & mobile
                    if not hit.any():
                        raise ValueError(f"charges: species {lab!r} has no mobile atoms")
                    for t in np.unique(fr.types[hit]):
                        qmap[int(t)] = float(q)
                missing = sorted(set(gtypes.tolist()) - set(qmap))
                if missing:
                    raise ValueError(f"charges: no charge given for mobile atom type(s) {missing} (got {charges})")
            nmob = int(mobile.sum())
            corr_args = dict(block=block, levels=levels, types=gtypes if qmap else None, charges=qmap, dt=timestep,
                             units=units)
            corr = "pending"  # created once the stride is known (needs the second frame's step)
            pending = fr
        else:
            if fr.natoms != first.natoms:  # readers check too; keep the message here for any source
                raise ValueError(f"{name}: inconsistent atom counts: frame {k} has {fr.natoms}, frame 0 {first.natoms}")
        # frame spacing
        if fr.step is not None:
            steps_seen.append(fr.step)
            if len(steps_seen) >= 2:
                d = steps_seen[-1] - steps_seen[-2]
                if spacing is None:
                    spacing = d
                    if d <= 0:
                        raise ValueError(f"{name}: non-uniform frame spacing: step {steps_seen[-1]} follows step "
                                         f"{steps_seen[-2]} (frames must be in time order, no repeats)")
                elif d != spacing:
                    raise ValueError(f"{name}: non-uniform frame spacing: steps {steps_seen[-3]}, {steps_seen[-2]}, "
                                     f"{steps_seen[-1]} (spacing {spacing} then {d} at frame {k})")
        elif steps_seen:
            raise ValueError(f"{name}: frame {k} has no step number but earlier frames do")
        if corr == "pending" and (k >= 1 or fr.step is None):
            nevery = _resolve_stride(stride, spacing, name)
            corr = MSDCorrelator(nmob, nevery=nevery, **corr_args)
            _add(corr, pending, mobile, m, drift, ref)
            if k >= 1:
                _add(corr, fr, mobile, m, drift, ref)
        elif corr != "pending":
            _add(corr, fr, mobile, m, drift, ref)
        nframes += 1
    if corr is None:
        raise ValueError(f"{name}: no frames")
    if corr == "pending" or nframes < 2:
        raise ValueError(f"{name}: only {nframes} frame(s); an MSD needs at least 2")
    corr.drift = drift
    res = corr.result()
    res.meta.update({
        "producer": "ionsitu.trajectory",
        "source": name,
        "source_format": first.kind if format is None else format,
        "species": [str(s) for s in labels],
        "unwrap": first.unwrap,
        "drift_note": {"all": "mass-weighted centre of mass of the whole system removed",
                       "framework": "mass-weighted centre of mass of the non-mobile atoms removed",
                       "none": "no drift removed"}[drift],
        "masses": "equal" if isinstance(masses, str) else ("none" if m is None else "given/from file"),
        "nframes": nframes,
        "step_first": int(steps_seen[0]) if steps_seen else 0,
        "step_last": int(steps_seen[-1]) if steps_seen else int((nframes - 1) * corr.nevery),
    })
    if write is not None:
        corr.write(write)
    return res


def _resolve_stride(stride, spacing, name) -> int:
    if spacing is None:
        return int(stride) if stride is not None else 1
    if stride is not None and int(stride) != spacing:
        raise ValueError(f"{name}: stride={stride} but the frames are {spacing} steps apart")
    return int(spacing)


def _add(corr, fr: Frame, mobile, m, drift, ref):
    x = fr.positions
    if drift == "none":
        com = np.zeros(3)
    else:
        w = m if ref is None else m[ref]
        xs = x if ref is None else x[ref]
        com = (w[:, None] * xs).sum(axis=0) / w.sum()
    corr.add_frame(x[mobile], cell=fr.cell, drift=com)

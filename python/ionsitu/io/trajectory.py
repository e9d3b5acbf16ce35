"""MSD results from existing trajectories (LAMMPS text dumps, ASE formats, DCD/XTC/TRR/H5MD).

The MSD itself is always computed by :class:`ionsitu.core.MSDCorrelator`, the same C++
accumulator as ``fix msd/cross``; this module only reads frames, unwraps positions,
selects the mobile species and removes the drift, one frame at a time.

Formats
-------
:func:`trajectory_format` tells the reader from the file: a LAMMPS text dump by its first
line (any name), else by the extension (:data:`EXTENSIONS`: ``.lammpstrj``/``.dump``,
``.extxyz``/``.exyz``/``.xyz``, ``.traj``, ``vasprun.xml``, ``XDATCAR*``, ``OUTCAR*``;
``.dcd``/``.xtc``/``.trr``/``.h5md`` through MDAnalysis, the optional extra
``ionsitu[mdanalysis]``). An unknown extension or an ionsitu MSD file is an error saying
what to give instead; ``format=`` overrides the choice.

Readers
-------
:func:`iter_lammps_dump` streams a LAMMPS text dump (``dump custom``/``dump atom``),
orthogonal or triclinic (restricted ``xy xz yz`` and general ``abc origin`` boxes),
sorted by id or not; the atom lines of each frame are parsed by numpy in one call.
Unwrapped positions come from, in this order of preference:

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
``ase.io.iread`` (streaming), or takes a list of ``ase.Atoms``; :func:`iter_mdanalysis`
reads DCD, XTC, TRR and H5MD with a topology (e.g. the LAMMPS data file of the run).
Their positions may be wrapped into the cell (XDATCAR always is), so they are **unwrapped
by following the minimum-image jump between consecutive frames**: in fractional
coordinates of each frame's cell, the image count of every atom changes by
``-round(s_k - s_{k-1})`` along periodic directions, and the position is
``x_k + image @ cell_k`` (as LAMMPS unwraps). This is exact when no atom moves by half a
cell vector or more between two frames (a :class:`UserWarning` is issued when some atom
moves by more than 0.3 of one); positions that are already unwrapped come back unchanged.

MSD
---
:func:`msd_from_trajectory` selects the mobile species (element symbols, or LAMMPS atom
types), removes the drift (``"all"``: mass-weighted centre of mass of the whole system,
the default and the fix's convention; ``"framework"``: of every atom that is not mobile;
``"none"``; with ``masses="equal"`` the plain centroid) and feeds the frames to the core.

Time base: the lag time is ``stride * timestep``: ``timestep`` is the MD timestep in the
time unit of ``units`` (a LAMMPS units style: ``metal`` ps, ``real`` fs, ``lj`` tau, ...),
``stride`` the number of MD steps between frames, read from the file's step numbers where
it has them (dump TIMESTEP, extended XYZ ``step``/``Timestep``, XTC/TRR/H5MD steps, the
DCD header) and checked to be uniform. Without step numbers, ``stride`` (with
``timestep``) or ``frame_interval`` (the time between frames) must be given: the time
base is never assumed.

Correlator: by default every time origin at every lag (block = number of frames,
levels 1: the exact all-origin MSD) while nframes² · N_mobile ≤ :data:`EXACT_MAX_WORK`
(a 150-frame AIMD run always), else the fix's bounded multiple-window scheme (block 10,
levels 7). Frames are buffered (mobile atoms only) until the choice is made, so memory
stays that of the chosen correlator.
"""

from __future__ import annotations

import io
import numbers
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import units as _units
from .cell import lammps_cell

__all__ = [
    "Frame",
    "iter_lammps_dump",
    "iter_ase",
    "iter_frames",
    "msd_from_trajectory",
    "MinimumImageUnwrapper",
    "iter_mdanalysis",
    "trajectory_format",
    "describe_drift",
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
    kind: str = ""  # "lammps-dump", "ase" or "mdanalysis"
    lammps_types: bool | None = None  # types are LAMMPS atom types (default: kind == "lammps-dump")
    values: dict | None = None  # further per-atom columns asked of iter_lammps_dump (name -> (N,))

    def __post_init__(self):
        if self.lammps_types is None:
            self.lammps_types = self.kind == "lammps-dump"

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
        cell = lammps_cell(xhi - xlo, yhi - ylo, zhi - zlo, yz=yz, xz=xz, xy=xy)
        origin = np.array([xlo, ylo, zlo])
        flags = [w for w in words if w not in ("xy", "xz", "yz")]
    else:
        if vals.shape[0] != 3 or vals.shape[1] < 2:
            raise ValueError(f"{path}: step {step}: box needs 3 lines of 'lo hi', got {lines!r}")
        cell = lammps_cell(*(vals[:, 1] - vals[:, 0]))
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


class _ByteReader:
    """Buffered binary reader of a text dump: header lines one at a time, atom blocks whole.

    Reads ``_CHUNK`` bytes at a time, so the atom lines of a frame are located with
    ``bytes.find``/``bytes.count`` and parsed by one ``np.loadtxt`` call (no Python work
    per atom).
    """

    def __init__(self, fh):
        self._fh = fh
        self._buf = b""
        self._pos = 0

    def _more(self) -> bool:
        data = self._fh.read(_CHUNK)
        if not data:
            return False
        self._buf = self._buf[self._pos:] + data
        self._pos = 0
        return True

    def readline(self) -> bytes:
        """The next line with its newline; b"" at the end of the file."""
        while True:
            i = self._buf.find(b"\n", self._pos)
            if i >= 0:
                line = self._buf[self._pos:i + 1]
                self._pos = i + 1
                return line
            if not self._more():
                line = self._buf[self._pos:]
                self._pos = len(self._buf)
                return line

    def block(self) -> bytes:
        """Every byte up to the next line that starts with ``ITEM:`` (or to the end of the file)."""
        rel = 0  # search offset from self._pos, kept across buffer refills
        while True:
            if self._buf.startswith(b"ITEM:", self._pos):
                return b""
            i = self._buf.find(b"\nITEM:", self._pos + rel)
            if i >= 0:
                out = self._buf[self._pos:i + 1]
                self._pos = i + 1
                return out
            rel = max(0, len(self._buf) - self._pos - 6)
            if not self._more():
                out = self._buf[self._pos:]
                self._pos = len(self._buf)
                return out


#: bytes the dump reader reads at a time
_CHUNK = 1 << 22


def _parse_atoms(block: bytes, natoms: int, usecols: list[int], path, step) -> np.ndarray:
    """(natoms, len(usecols)) float64 columns of the atom lines of one frame (one numpy call;
    other columns, numeric or not, are skipped)."""
    text = block.rstrip()
    nlines = text.count(b"\n") + 1 if text else 0
    if nlines != natoms:
        raise ValueError(f"{path}: step {step}: expected {natoms} atom lines, got {nlines} (truncated file?)")
    try:
        return np.loadtxt(io.BytesIO(text), dtype=np.float64, usecols=usecols, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: step {step}: cannot read the atom lines: {exc}") from None


def iter_lammps_dump(path, unwrap: str = "auto", columns: tuple[str, ...] = ()) -> Iterator[Frame]:
    """Stream the frames of a LAMMPS text dump, atoms sorted by id (memory O(N)).

    ``unwrap``: ``"auto"`` (unwrapped or image-flag columns, else an error) or
    ``"minimum-image"`` (follow minimum-image jumps of whatever positions there are).
    ``columns``: further per-atom columns (e.g. ``c_pe``) read into ``Frame.values``.
    Raises ValueError naming the offending value for missing columns, atom counts or
    ids that change between frames, or a malformed file.
    """
    if unwrap not in ("auto", "minimum-image"):
        raise ValueError(f"unwrap must be 'auto' or 'minimum-image', got {unwrap!r}")
    path = Path(path)
    ref_ids = None
    scheme = None
    unwrapper = None
    layout = None  # (names, usecols, column indices) of the previous frame
    nframe = 0
    units = None
    with path.open("rb") as raw:
        fh = _ByteReader(raw)
        line = fh.readline()
        while line:
            if not line.strip():
                line = fh.readline()
                continue
            if not line.startswith(b"ITEM: TIMESTEP"):
                raise ValueError(f"{path}: expected 'ITEM: TIMESTEP' at frame {nframe}, got "
                                 f"{line.decode(errors='replace').strip()[:80]!r} (not a LAMMPS text dump?)")
            step_line = fh.readline().decode(errors="replace")
            try:
                step = int(step_line.split()[0])
            except (ValueError, IndexError):
                raise ValueError(f"{path}: frame {nframe}: bad TIMESTEP value {step_line.strip()!r}") from None
            natoms = cell = origin = pbc = None
            line = fh.readline().decode(errors="replace")
            while line and not line.startswith("ITEM: ATOMS"):
                if line.startswith("ITEM: NUMBER OF ATOMS"):
                    natoms = int(fh.readline().split()[0])
                    line = fh.readline().decode(errors="replace")
                elif line.startswith("ITEM: BOX BOUNDS"):
                    box = [fh.readline().decode(errors="replace") for _ in range(3)]
                    cell, origin, pbc = _box_from_header(line, box, path, step)
                    line = fh.readline().decode(errors="replace")
                elif line.startswith("ITEM: UNITS"):
                    units = fh.readline().split()[0].decode()
                    line = fh.readline().decode(errors="replace")
                elif line.startswith("ITEM:"):  # e.g. ITEM: TIME; skip its value lines
                    fh.block()
                    line = fh.readline().decode(errors="replace")
                else:
                    raise ValueError(f"{path}: step {step}: unexpected line {line.strip()[:80]!r}")
            if not line:
                raise ValueError(f"{path}: step {step}: file ends before 'ITEM: ATOMS' (truncated frame)")
            names = line.split()[2:]
            if natoms is None or cell is None:
                raise ValueError(f"{path}: step {step}: frame lacks 'NUMBER OF ATOMS' or 'BOX BOUNDS'")
            if layout is None or layout[0] != names:
                for need in ("id", "type"):
                    if need not in names:
                        raise ValueError(f"{path}: missing column {need!r} (the dump has {names})")
                if scheme is None:
                    scheme = _choose_scheme(names, unwrap, path)
                    if unwrap == "minimum-image":
                        unwrapper = MinimumImageUnwrapper(pbc, source=str(path))
                cols, img, scaled, desc = scheme
                col = {n: i for i, n in enumerate(names)}
                for n in cols + (img or ()):
                    if n not in col:
                        raise ValueError(f"{path}: step {step}: missing column {n!r} (this frame has {names})")
                usecols = [col["id"], col["type"]] + [col[n] for n in cols + (img or ())]
                if "mass" in col:
                    usecols.append(col["mass"])
                for n in columns:
                    if n not in col:
                        raise ValueError(f"{path}: step {step}: missing column {n!r} (this frame has {names})")
                usecols += [col[n] for n in columns]
                layout = (names, usecols, col)
            names, usecols, col = layout
            cols, img, scaled, desc = scheme
            block = fh.block()
            data = _parse_atoms(block, natoms, usecols, path, step)
            symbols = None
            if "element" in col:
                symbols = np.loadtxt(io.StringIO(block.decode()), dtype=str, usecols=col["element"], ndmin=1)
            idf = data[:, 0]
            ids = idf.astype(np.int64)
            if not np.array_equal(ids, idf):
                raise ValueError(f"{path}: step {step}: non-integer atom id {idf[np.flatnonzero(ids != idf)[0]]!r}")
            if ref_ids is None or not np.array_equal(ids, ref_ids):  # else: the first frame's (sorted) order
                if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
                    order = np.argsort(ids, kind="stable")
                    ids, data = ids[order], data[order]
                    if symbols is not None:
                        symbols = symbols[order]
                if ref_ids is None:
                    if len(np.unique(ids)) != len(ids):
                        raise ValueError(f"{path}: step {step}: duplicate atom ids")
                    ref_ids = ids
                elif len(ids) != len(ref_ids):
                    raise ValueError(f"{path}: inconsistent atom counts: step {step} has {len(ids)} atoms, the "
                                     f"first frame {len(ref_ids)}")
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
            yield Frame(step=step, cell=cell, origin=origin, ids=ref_ids, types=data[:, 1].astype(np.int64),
                        positions=np.ascontiguousarray(x), symbols=symbols,
                        masses=data[:, -1 - len(columns)].copy() if "mass" in col else None, pbc=pbc, unwrap=desc,
                        units=units, kind="lammps-dump",
                        values={n: data[:, len(usecols) - len(columns) + k].copy() for k, n in enumerate(columns)})
            nframe += 1
            line = fh.readline()
    if nframe == 0:
        raise ValueError(f"{path}: no frames")


def is_lammps_dump(path) -> bool:
    """True when the file starts like a LAMMPS text dump."""
    return _first_line(path).startswith(b"ITEM: TIMESTEP")


def _first_line(path) -> bytes:
    """The first non-blank line of a file (b"" for binary or empty files)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(4096)
    except (IsADirectoryError, PermissionError):
        return b""
    for line in head.splitlines():
        if line.strip():
            return line.strip()
    return b""


# --------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------
#: trajectory formats read through MDAnalysis (optional extra ``ionsitu[mdanalysis]``)
MDANALYSIS_FORMATS = ("DCD", "XTC", "TRR", "H5MD")

#: file-name endings -> (reader, format): "lammps-dump", ASE format names, MDAnalysis formats
EXTENSIONS = {
    ".lammpstrj": ("lammps-dump", "lammps-dump"), ".lammpsdump": ("lammps-dump", "lammps-dump"),
    ".dump": ("lammps-dump", "lammps-dump"),
    ".extxyz": ("ase", "extxyz"), ".exyz": ("ase", "extxyz"), ".xyz": ("ase", "extxyz"),
    ".traj": ("ase", "traj"), ".xml": ("ase", "vasp-xml"),
    ".dcd": ("mdanalysis", "DCD"), ".xtc": ("mdanalysis", "XTC"), ".trr": ("mdanalysis", "TRR"),
    ".h5md": ("mdanalysis", "H5MD"),
}
#: file names (VASP's, which have no extension) -> (reader, format)
NAMES = {"XDATCAR": ("ase", "vasp-xdatcar"), "OUTCAR": ("ase", "vasp-out"), "vasprun": ("ase", "vasp-xml")}


def trajectory_format(path, format: str | None = None) -> tuple[str, str]:
    """(reader, format) of a trajectory file: reader is "lammps-dump", "ase" or "mdanalysis".

    ``format`` given: "lammps-dump", an MDAnalysis format (dcd, xtc, trr, h5md) or an ASE
    format name. Else a LAMMPS text dump is recognised by its first line, anything else by
    its extension (:data:`EXTENSIONS`) or name (XDATCAR, OUTCAR, vasprun.xml). An ionsitu MSD
    file or an unknown extension is a ValueError saying what to do.
    """
    from .msd import is_msd_file

    p = Path(path)
    if format is not None:
        f = str(format)
        if f.lower() in ("lammps-dump", "lammps-dump-text", "lammpstrj"):
            return "lammps-dump", "lammps-dump"
        if f.upper() in MDANALYSIS_FORMATS:
            return "mdanalysis", f.upper()
        return "ase", f
    first = _first_line(p)
    if is_msd_file(p):
        raise ValueError(f"{p}: this is an ionsitu MSD file (output of fix msd/cross or ionsitu.core), not a "
                         "trajectory: give it to `ionsitu analyze` as an input file (without --trajectory), or read "
                         "it with ionsitu.read_msd")
    if first.startswith(b"ITEM: TIMESTEP"):
        return "lammps-dump", "lammps-dump"
    ext = p.suffix.lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    for stem, fmt in NAMES.items():
        if p.name.startswith(stem):
            return fmt
    known = ", ".join(sorted(EXTENSIONS)) + ", XDATCAR*, OUTCAR*, vasprun*.xml"
    raise ValueError(f"{p}: cannot tell the trajectory format from the file name (extension {ext or 'none'!r}); "
                     f"known: {known} and LAMMPS text dumps (any name); give the format (CLI --format, Python "
                     "format=): 'lammps-dump', an ASE format name (e.g. extxyz, vasp-xdatcar, traj) or an MDAnalysis "
                     f"format ({', '.join(f.lower() for f in MDANALYSIS_FORMATS)})")


# --------------------------------------------------------------------------------------
# ASE
# --------------------------------------------------------------------------------------
_STEP_KEYS = ("step", "timestep", "Step", "Timestep", "time_step")


def _checked_frames(frames, name: str, what: str):
    """Iterate a third-party reader, turning its parse errors into ValueErrors naming the file."""
    it = iter(frames)
    k = 0
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except (FileNotFoundError, PermissionError, IsADirectoryError, ImportError):
            raise
        except Exception as exc:  # readers raise anything from KeyError to IOError subclasses on bad files
            raise ValueError(f"{name}: {what} could not read frame {k}: {type(exc).__name__}: {exc}") from exc
        yield item
        k += 1


def iter_ase(source, format: str | None = None, index=":") -> Iterator[Frame]:
    """Stream frames through ASE: a file name (``ase.io.iread``) or a list of ``ase.Atoms``.

    Positions are unwrapped by following minimum-image jumps between consecutive frames
    (see the module docstring). ``types`` are atomic numbers, ``symbols`` the element
    symbols, ``masses`` ASE's masses, ``step`` the frame's ``info["step"]`` (or
    ``timestep``) when present. ``format``: an ASE format name (default: from the file
    name, :func:`trajectory_format`).
    """
    if isinstance(source, (str, Path)):
        import ase.io

        name = str(source)
        if not Path(source).exists():
            raise FileNotFoundError(f"trajectory file not found: {name}")
        if format is None:
            reader, format = trajectory_format(source)
            if reader != "ase":
                raise ValueError(f"{name}: a {format} file, not one ASE reads (use iter_frames)")
        try:
            atoms_iter = _checked_frames(ase.io.iread(name, index=index, format=format), name,
                                         f"ASE (format {format!r})")
        except Exception as exc:  # unknown format name, ...
            raise ValueError(f"{name}: ASE cannot read format {format!r}: {type(exc).__name__}: {exc}") from exc
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


# --------------------------------------------------------------------------------------
# MDAnalysis (DCD, XTC, TRR, H5MD)
# --------------------------------------------------------------------------------------
def _import_mdanalysis(name: str, fmt: str):
    try:
        import MDAnalysis
    except ImportError:
        raise ImportError(f"{name}: reading {fmt} trajectories needs MDAnalysis, an optional extra: "
                          "pip install 'ionsitu[mdanalysis]' (or pip install MDAnalysis)") from None
    return MDAnalysis


def iter_mdanalysis(path, format: str | None = None, topology=None) -> Iterator[Frame]:
    """Stream a DCD, XTC, TRR or H5MD trajectory through MDAnalysis (optional extra).

    ``topology``: a file naming the atoms in trajectory order (a LAMMPS data file — then
    ``types`` are LAMMPS atom types and masses come from its Masses section —, PDB, GRO,
    PSF, ...), required. H5MD needs h5py (in the extra). Positions (MDAnalysis
    gives Angstrom) are unwrapped by following minimum-image jumps, as for ASE (positions
    already unwrapped, e.g. ``dump dcd`` with ``dump_modify unwrap yes``, come back
    unchanged). ``step`` is the MD step the file stores for each frame (XTC, TRR, H5MD;
    DCD: its header's first step and steps between frames), else None.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(f"trajectory file not found: {name}")
    fmt = (format or trajectory_format(path)[1]).upper()
    mda = _import_mdanalysis(name, fmt)
    if topology is None:
        raise ValueError(f"{name}: a {fmt} file stores positions only: give the topology that names its atoms "
                         "(CLI --topology FILE, Python topology=): the LAMMPS data file of the run, or a PDB/GRO/PSF "
                         "file with the atoms in the same order")
    top = Path(topology)
    if not top.exists():
        raise FileNotFoundError(f"topology file not found: {topology}")
    kw = {"format": fmt}
    if _is_lammps_data(top):
        kw.update(topology_format="DATA", atom_style=_lammps_atom_style(top))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "DCDReader currently makes independent timesteps", DeprecationWarning)
            u = mda.Universe(str(top), name, **kw)
    except Exception as exc:
        raise ValueError(f"{name}: MDAnalysis cannot open it as {fmt} with topology {topology}: "
                         f"{type(exc).__name__}: {exc}") from exc
    atoms = u.atoms
    raw_types = np.asarray(atoms.types).astype(str) if hasattr(atoms, "types") else None
    lammps_types = raw_types is not None and all(t.isdigit() for t in raw_types)
    types = raw_types.astype(np.int64) if lammps_types else np.zeros(len(atoms), np.int64)
    if hasattr(atoms, "elements") and all(str(e).strip() for e in atoms.elements):
        symbols = np.asarray(atoms.elements).astype(str)
    else:
        symbols = None if lammps_types else raw_types
    masses = np.asarray(atoms.masses, dtype=np.float64) if hasattr(atoms, "masses") else None
    if masses is not None and not np.all(masses > 0):
        masses = None
    dcd_steps = _dcd_steps(u.trajectory) if fmt == "DCD" else None
    from MDAnalysis.lib.mdamath import triclinic_vectors

    unwrapper = None
    for k, ts in enumerate(_checked_frames(u.trajectory, name, f"MDAnalysis ({fmt})")):
        if ts.dimensions is None:
            raise ValueError(f"{name}: frame {k} has no box (an MSD of a periodic system needs the cell)")
        cell = np.asarray(triclinic_vectors(ts.dimensions), dtype=np.float64)
        if unwrapper is None:
            unwrapper = MinimumImageUnwrapper((True, True, True), source=name)
        x = unwrapper(np.asarray(ts.positions, dtype=np.float64), cell, k)
        if dcd_steps is not None:
            step = dcd_steps[0] + k * dcd_steps[1]
        else:
            step = ts.data.get("step")
            step = None if step is None else int(step)
        yield Frame(step=step, cell=cell, origin=np.zeros(3), ids=np.arange(1, len(atoms) + 1), types=types,
                    positions=x, symbols=symbols, masses=masses, pbc=np.ones(3, bool),
                    unwrap=f"minimum image between consecutive frames ({fmt} through MDAnalysis)",
                    kind="mdanalysis", lammps_types=lammps_types)
    if unwrapper is None:
        raise ValueError(f"{name}: no frames")


def _dcd_steps(reader) -> tuple[int, int] | None:
    """(first step, steps between frames) from a DCD header, or None when it has none."""
    header = getattr(getattr(reader, "_file", None), "header", None)
    if not header or int(header.get("nsavc", 0)) <= 0:
        return None
    return int(header["istart"]), int(header["nsavc"])


def _is_lammps_data(path: Path) -> bool:
    try:
        text = path.read_text(errors="replace")[:20000]
    except OSError:
        return False
    return " atoms\n" in text and "\nAtoms" in text


def _lammps_atom_style(path: Path) -> str:
    """MDAnalysis column spec of a LAMMPS data file's Atoms section (its '# style' comment)."""
    styles = {"atomic": "id type x y z", "charge": "id type charge x y z", "full": "id resid type charge x y z",
              "molecular": "id resid type x y z", "bond": "id resid type x y z", "angle": "id resid type x y z"}
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("Atoms"):
            style = line.partition("#")[2].strip() or "full"
            if style not in styles:
                raise ValueError(f"{path}: atom style {style!r} of the data file is not supported as a topology "
                                 f"(supported: {', '.join(styles)})")
            return styles[style]
    raise ValueError(f"{path}: no Atoms section in the LAMMPS data file")


def iter_frames(source, format: str | None = None, unwrap: str = "auto", topology=None) -> Iterator[Frame]:
    """Frames of ``source``: a file (format from :func:`trajectory_format`: LAMMPS text dump,
    ASE, MDAnalysis) or a list of ``ase.Atoms``."""
    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise FileNotFoundError(f"trajectory file not found: {source}")
        reader, fmt = trajectory_format(source, format)
        if reader == "lammps-dump":
            return iter_lammps_dump(source, unwrap=unwrap)
        if reader == "mdanalysis":
            return iter_mdanalysis(source, format=fmt, topology=topology)
        return iter_ase(source, format=fmt)
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
        if not frame.lammps_types:
            via = "ASE" if frame.kind == "ase" else "MDAnalysis with a topology without LAMMPS types"
            raise ValueError(f"unknown {what} {label!r}: this trajectory is read through {via}; name species by "
                             f"element symbol ({sorted(set(frame.symbols.tolist()))})")
        t = int(label)
        mask = frame.types == t
        if not mask.any():
            raise ValueError(f"unknown {what} {label!r}: the trajectory has atom types "
                             f"{sorted(set(frame.types.tolist()))}")
        return mask
    if frame.symbols is None:
        where = "this dump has no 'element' column" if frame.kind == "lammps-dump" else "the topology has no elements"
        raise ValueError(f"unknown {what} {label!r}: {where}, so name species by LAMMPS atom type "
                         f"({sorted(set(frame.types.tolist()))})")
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
            missing = frame.types[i] if frame.lammps_types else frame.symbols[i]
            raise ValueError(f"masses: no mass given for atom type/element {missing!r} (got {masses})")
        return m
    m = np.asarray(masses, dtype=float)
    if m.shape != (n,):
        raise ValueError(f"masses must have one value per atom ({n}), got shape {m.shape}")
    return m


# --------------------------------------------------------------------------------------
# MSD of a trajectory
# --------------------------------------------------------------------------------------
#: offline block/levels: every origin at every lag (block = number of frames, levels 1) while
#: nframes^2 * N_mobile stays below this (work and memory of the exact scheme); beyond,
#: the fix's bounded multiple-window scheme (LONG_BLOCK, LONG_LEVELS)
EXACT_MAX_WORK = 1e9
LONG_BLOCK, LONG_LEVELS = 10, 7
ION_GROUPS = 16                 # default number of random ion groups for the ion bootstrap
ION_GROUPS_MIN_IONS = 32        # automatic: ion groups only with at least this many mobile ions ...
ION_GROUPS_MAX_WORK = 5e8       # ... while their estimated extra work stays below this (~3 s here)
ION_GROUPS_SEED = 20240917


class _IonGroupAccumulator:
    """The MSD of G random groups of the mobile ions, for the ion bootstrap of
    :mod:`ionsitu.analysis.transport` (:class:`ionsitu.io.msd.IonGroups`).

    One correlator per group for the self MSD, and one over all mobile ions whose
    "species" are the units (species x group) for the pair terms <dR_a . dR_b>, from which
    the collective and charge MSDs of any set of groups follow. Same block/levels and
    frames as the full correlator, so the all-group sums are the full MSDs.
    """

    def __init__(self, MSDCorrelator, ngroups, gtypes, qmap, block, levels, nevery, dt, units):
        n = len(gtypes)
        rng = np.random.default_rng(ION_GROUPS_SEED)
        group = np.empty(n, dtype=int)
        group[rng.permutation(n)] = np.arange(n) % ngroups
        self.members = [np.flatnonzero(group == g) for g in range(ngroups)]
        self.self_corr = [MSDCorrelator(len(m), block=block, levels=levels, nevery=nevery, dt=dt, units=units)
                          for m in self.members]
        spec = np.zeros(n, dtype=int) if not qmap else np.searchsorted(sorted(qmap), gtypes)
        unit_key = spec * ngroups + group
        keys, unit = np.unique(unit_key, return_inverse=True)
        self.unit_group_of_ion = unit
        self.unit_group = keys % ngroups
        qs = sorted(qmap) if qmap else None
        self.unit_charge = None if not qmap else np.array([float(qmap[qs[k // ngroups]]) for k in keys])
        self.pair_corr = MSDCorrelator(n, block=block, levels=levels, types=unit,
                                       charges={int(k): 1.0 for k in range(len(keys))},
                                       nevery=nevery, dt=dt, units=units)

    def work_per_frame(self, nlags: int) -> float:
        """Estimated extra work of one frame (operations): per lag, the ions twice (group
        correlators, pair correlator) and the unit pairs."""
        k = len(self.unit_group)
        return float(nlags) * (2.0 * len(self.unit_group_of_ion) + 1.5 * k * (k + 1))

    def add(self, x, cell, com):
        for corr, m in zip(self.self_corr, self.members):
            corr.add_frame(x[m], cell=cell, drift=com)
        self.pair_corr.add_frame(x, cell=cell, drift=com)

    def result(self):
        from .msd import IonGroups

        rs = [c.result() for c in self.self_corr]
        pr = self.pair_corr.result()
        return IonGroups(size=np.array([len(m) for m in self.members], dtype=float),
                         msd_xyz=np.stack([r.msd_xyz for r in rs]), pair=pr.onsager * pr.natoms,
                         unit_group=self.unit_group, unit_charge=self.unit_charge)


def exact_scheme_fits(nframes: int, nmobile: int) -> bool:
    """True when the automatic scheme of :func:`msd_from_trajectory` averages every origin
    at every lag for ``nframes`` frames of ``nmobile`` analysed atoms."""
    return float(nframes) ** 2 * nmobile <= EXACT_MAX_WORK


def msd_from_trajectory(source, species, timestep: float | None = None, *, stride: int | None = None,
                        frame_interval: float | None = None, units: str | None = None, drift: str = "all",
                        masses=None, charges=None, block: int | None = None, levels: int | None = None,
                        format: str | None = None, unwrap: str = "auto", topology=None, write=None,
                        ion_groups: int | None = None):
    """MSD results (:class:`ionsitu.msd_file.MSDResult`) of an existing trajectory.

    source : a trajectory file (format from :func:`trajectory_format`: LAMMPS text dump,
        anything ASE reads, DCD/XTC/TRR/H5MD through MDAnalysis) or a list of ``ase.Atoms``.
    species : mobile species: element symbol(s) ("Li", "Li Na") or, for LAMMPS dumps (and
        MDAnalysis with a LAMMPS data file as topology), atom type(s) (2, "2", [2, 3]).
    timestep : MD timestep in time units of ``units``.
    stride : MD steps between frames. Files with step numbers (dumps, ``info["step"]`` in
        extended XYZ, XTC/TRR/H5MD, DCD headers): taken from them (an error if a given
        stride disagrees).
    frame_interval : time between frames in time units of ``units`` (instead of
        ``timestep``, or with it as a check). Frames without step numbers need ``stride``
        (with ``timestep``) or ``frame_interval``: the time base is never assumed.
    units : LAMMPS units style of positions and time (dumps: from ``ITEM: UNITS`` when
        present, else required; ASE and MDAnalysis: default "metal", i.e. Angstrom and ps;
        MDAnalysis needs a style with Angstrom lengths, metal or real).
    drift : "all" (mass-weighted centre of mass of the whole system, default), "framework"
        (mass-weighted centre of mass of the non-mobile atoms) or "none".
    masses : None (from the dump's ``mass`` column, ASE, or the topology), "equal" (then the
        drift is the plain centroid), {type or symbol: mass} or an (N,) array.
    charges : {type or symbol: charge} of the mobile species for the charge MSD and the
        Onsager terms (every mobile species needs one).
    block, levels : correlator geometry (as ``fix msd/cross``). Default (both None): every
        origin at every lag — block = number of frames, levels 1, the exact all-origin MSD —
        when nframes^2 * N_mobile <= :data:`EXACT_MAX_WORK` (e.g. 1000 frames of 1000 ions);
        else the fix's multiple-window scheme, block 10 and levels 7. One of them given: the
        other takes the fix's default.
    format : reader format (see :func:`trajectory_format`); topology : MDAnalysis formats:
        the file naming the atoms (a LAMMPS data file, PDB, ...).
    write : optional path: also write the results in the fix's file format.
    ion_groups : number G of random groups of the mobile ions (seeded) whose MSDs are kept
        in ``res.ion_groups`` for the model-free ion bootstrap/jackknife error of
        :mod:`ionsitu.transport`; 0: none. Default (None): :data:`ION_GROUPS` groups when
        there are at least :data:`ION_GROUPS_MIN_IONS` mobile ions and their estimated
        extra work stays below :data:`ION_GROUPS_MAX_WORK` (they cost 2-6x the plain MSD:
        the ions pass two more correlators, plus the group pairs at every lag; every
        origin at every lag: on for 500 frames x 500 ions, +2.7 s; off for 2000 frames x
        200 ions, which would add 21 s), else none; ``meta["ion_groups_note"]`` says why.

    The lag times are lag_steps * timestep with lag_steps multiples of the stride.
    ``meta`` records the source, format, species, unwrapping, drift and the block/levels choice.
    """
    from ..core import MSDCorrelator  # compiled; imported lazily so readers work without it

    if drift not in DRIFTS:
        raise ValueError(f"drift must be one of {DRIFTS}, got {drift!r}")
    timestep = _positive(timestep, "timestep")
    frame_interval = _positive(frame_interval, "frame_interval")
    if stride is not None and (int(stride) != stride or stride <= 0):
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    for v, what in ((block, "block"), (levels, "levels")):
        if v is not None and (int(v) != v or v < (2 if what == "block" else 1)):
            raise ValueError(f"{what} must be an integer >= {2 if what == 'block' else 1}, got {v!r}")
    auto = block is None and levels is None
    if ion_groups is not None and (int(ion_groups) != ion_groups or ion_groups < 0 or ion_groups in (1, 2)):
        raise ValueError(f"ion_groups must be 0 (none) or an integer >= 3, got {ion_groups!r}")
    labels = _species_list(species)
    name = str(source) if isinstance(source, (str, Path)) else "ase.Atoms list"
    fmt_name = "ase"
    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise FileNotFoundError(f"trajectory file not found: {source}")
        reader, fmt = trajectory_format(source, format)
        fmt_name = reader if reader == fmt else f"{reader}:{fmt}"

    frames = iter_frames(source, format=format, unwrap=unwrap, topology=topology)
    corr = groups = None
    note = "" if ion_groups is None or ion_groups else "ion_groups=0"
    frame_work = 0.0

    def make(b, lv):  # the full correlator (and the group correlators), fed the pending frames
        nonlocal corr, groups, pending, note, frame_work
        corr = MSDCorrelator(nmob, block=b, levels=lv, types=gtypes if qmap else None, charges=qmap,
                             nevery=nevery, dt=dt, units=units)
        ng = ION_GROUPS if ion_groups is None else int(ion_groups)
        if ion_groups is None and nmob < ION_GROUPS_MIN_IONS:
            ng = 0
            note = f"automatic: no ion groups with {nmob} < {ION_GROUPS_MIN_IONS} mobile ions"
        if ng > nmob:
            raise ValueError(f"ion_groups={ng} exceeds the {nmob} mobile ions")
        if ng:
            groups = _IonGroupAccumulator(MSDCorrelator, ng, gtypes, qmap, b, lv, nevery, dt, units)
            frame_work = groups.work_per_frame(corr.result().lag_steps.size)
            if ion_groups is None and frame_work * max(nframes, 1) > ION_GROUPS_MAX_WORK:
                groups = None
                note = (f"automatic: no ion groups (their extra work for {nframes} frames of {nmob} ions would exceed "
                        f"{ION_GROUPS_MAX_WORK:g}; ion_groups= / --ion-groups forces them)")
        for x, cell, com in pending:
            corr.add_frame(x, cell=cell, drift=com)
            if groups is not None:
                groups.add(x, cell, com)
        pending = []

    pending = []  # samples (x_mobile, cell, com) read before the correlator exists
    steps_seen = []
    spacing = None
    nevery = dt = None
    nframes = 0
    for k, fr in enumerate(frames):
        if k == 0:
            first = fr
            mobile = np.zeros(fr.natoms, bool)
            for lab in labels:
                mobile |= _match(fr, lab, "species")
            units = _frame_units(fr, units, name)
            m = _masses(fr, masses, drift != "none")
            ref = None if drift in ("all", "none") else ~mobile
            if ref is not None and not ref.any():
                raise ValueError("drift='framework' but every atom is mobile (no framework atoms)")
            gtypes = fr.types[mobile]
            qmap = _charge_map(fr, charges, mobile, gtypes)
            nmob = int(mobile.sum())
            if fr.step is None and stride is None and frame_interval is None:
                _time_base(name, None, timestep, stride, frame_interval, units)  # raises: no time base
        elif fr.natoms != first.natoms:  # readers check too; keep the message here for any source
            raise ValueError(f"{name}: inconsistent atom counts: frame {k} has {fr.natoms}, frame 0 {first.natoms}")
        # frame spacing
        if fr.step is not None:
            if k > 0 and not steps_seen:
                raise ValueError(f"{name}: frame {k} has a step number but earlier frames do not")
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
        if k == 1:
            nevery, dt = _time_base(name, spacing, timestep, stride, frame_interval, units)
        sample = _sample(fr, mobile, m, drift, ref)
        nframes += 1
        if corr is not None:
            corr.add_frame(sample[0], cell=sample[1], drift=sample[2])
            if groups is not None:
                groups.add(*sample)
                if ion_groups is None and frame_work * nframes > ION_GROUPS_MAX_WORK:
                    groups = None  # automatic: too long a run for the extra cost
                    note = (f"automatic: ion groups dropped after {nframes} frames of {nmob} ions (extra work > "
                            f"{ION_GROUPS_MAX_WORK:g}; ion_groups= / --ion-groups forces them)")
            continue
        pending.append(sample)
        if nframes >= 2 and not (auto and exact_scheme_fits(nframes, nmob)):
            make(*((LONG_BLOCK, LONG_LEVELS) if auto else (block or LONG_BLOCK, levels or LONG_LEVELS)))
    if nframes < 2:
        raise ValueError(f"{name}: only {nframes} frame(s); an MSD needs at least 2")
    if corr is None:  # the automatic exact scheme: every origin at every lag
        make(nframes, 1)
        choice = f"automatic: every origin at every lag (block = {nframes} frames, levels 1)"
    elif auto:
        choice = (f"automatic: multiple-window (block {LONG_BLOCK}, levels {LONG_LEVELS}): {nframes} frames of "
                  f"{nmob} atoms exceed nframes^2 * N <= {EXACT_MAX_WORK:g} of the exact scheme")
    else:
        choice = "given"
    del pending
    corr.drift = drift
    res = corr.result()
    if groups is not None:
        res.ion_groups = groups.result()
    equal = isinstance(masses, str)
    res.meta.update({
        "producer": "ionsitu.trajectory",
        "source": name,
        "source_format": fmt_name,
        "species": [str(s) for s in labels],
        "unwrap": first.unwrap,
        "drift_note": describe_drift(drift, equal),
        "masses": "equal" if equal else ("none" if m is None else "given/from file"),
        "nframes": nframes,
        "block_levels": choice,
        "ion_groups": 0 if groups is None else len(groups.members),
        "ion_groups_note": note,
        "step_first": int(steps_seen[0]) if steps_seen else 0,
        "step_last": int(steps_seen[-1]) if steps_seen else int((nframes - 1) * corr.nevery),
    })
    if write is not None:
        corr.write(write)
    return res


def describe_drift(drift: str, equal_masses: bool = False) -> str:
    """The drift reference of an MSD result (its ``meta["drift"]``) in words; with equal
    masses (``masses="equal"``) the centre of mass is the plain centroid."""
    centre = "centroid (equal masses)" if equal_masses else "mass-weighted centre of mass"
    return {"all": f"{centre} of the whole system", "framework": f"{centre} of the non-mobile atoms",
            "none": "nothing removed", "given": "a drift given by the caller",
            "group": "centre of mass of a reference group"}.get(drift, f"centre of mass of group '{drift}'")


def _positive(v, what):
    if v is None:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive number, got {v!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{what} must be positive, got {v!r}")
    return v


def _frame_units(fr: Frame, units, name) -> str:
    """The LAMMPS units style of the trajectory (checked against what the file says)."""
    if fr.kind == "lammps-dump":
        if units is None and fr.units is None:
            raise ValueError(f"{name}: the dump does not state its units (no ITEM: UNITS); pass units= "
                             "(CLI --units; a LAMMPS units style: metal, real, lj, ...)")
        if units is not None and fr.units is not None and units != fr.units:
            raise ValueError(f"{name}: units={units!r} but the dump says ITEM: UNITS {fr.units}")
        units = units or fr.units
    else:
        units = units or "metal"
    style = _units.get_style(units)  # unknown style -> ValueError naming it
    if fr.kind == "mdanalysis" and (style.reduced or not np.isclose(style.length_m, 1e-10, rtol=1e-12)):
        raise ValueError(f"{name}: MDAnalysis gives positions in Angstrom, so units must be a style with Angstrom "
                         f"lengths (metal, real), got {units!r}")
    return units


def _time_base(name, spacing, timestep, stride, frame_interval, units) -> tuple[int, float]:
    """(MD steps between frames, MD timestep) from the file's step spacing and the options."""
    opts = "CLI --timestep, Python timestep="
    if spacing is not None:  # step numbers in the file
        if stride is not None and int(stride) != spacing:
            raise ValueError(f"{name}: stride={stride} but the frames are {spacing} steps apart")
        nevery = int(spacing)
    elif stride is not None:
        nevery = int(stride)
    elif frame_interval is not None:
        if timestep is None:
            return 1, frame_interval  # lags counted in frames, "timestep" = time between frames
        r = frame_interval / timestep
        if round(r) < 1 or abs(r - round(r)) > 1e-9 * r:
            raise ValueError(f"{name}: frame_interval={frame_interval:g} is not a whole number of timesteps "
                             f"({timestep:g})")
        return int(round(r)), timestep
    else:
        raise ValueError(
            f"{name}: the frames carry no step numbers, so the time between frames is unknown (it is never "
            "assumed): give the MD steps between frames (CLI --stride N, Python stride=) with the timestep, or the "
            f"time between frames (CLI --frame-interval T, Python frame_interval=), in time units of {units}")
    if timestep is None:
        if frame_interval is None:
            raise ValueError(f"{name}: frames are {nevery} MD steps apart; give the MD timestep ({opts}) or the "
                             "time between frames (CLI --frame-interval, Python frame_interval=)")
        return nevery, frame_interval / nevery
    if frame_interval is not None and not np.isclose(frame_interval, nevery * timestep, rtol=1e-9, atol=0):
        raise ValueError(f"{name}: frame_interval={frame_interval:g} but {nevery} steps x timestep {timestep:g} = "
                         f"{nevery * timestep:g}")
    return nevery, timestep


def _charge_map(fr: Frame, charges, mobile, gtypes):
    if not charges:
        return None
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
    return qmap


def _sample(fr: Frame, mobile, m, drift, ref):
    """(mobile positions, cell, drift vector) of one frame."""
    x = fr.positions
    if drift == "none":
        com = np.zeros(3)
    else:
        w = m if ref is None else m[ref]
        xs = x if ref is None else x[ref]
        com = (w[:, None] * xs).sum(axis=0) / w.sum()
    return x[mobile], fr.cell, com

# Binding of ionsitu::MsdCorrelator (src/core/msd_correlator.h).
import json

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

from ionsitu.msd_file import from_table, parse_msd_text

cnp.import_array()


cdef extern from "msd_correlator.h" namespace "ionsitu":
    cdef cppclass MsdCorrelator:
        MsdCorrelator(int, int, int) except +
        int block()
        int levels()
        int nspecies()
        int nlags()
        int peratom_doubles()
        int64_t nsamples()
        double volume_sum()
        void begin_sample(double)
        void add_atom(double *, const double *, int)
        void add_atoms(int, double *const *, const double *, const int *)
        vector[double] &collective_partial()
        void end_sample(const double *)
        vector[double] &self_sums()
        vector[string] column_names(const vector[int] &) except +
        void fill_table(const vector[double] &, const vector[double] &, int64_t, double,
                        vector[double] &) except +
        vector[double] serialize(const vector[double] &) except +
        void deserialize(const double *, size_t, cbool) except +

    string format_msd_text(const string &, const vector[string] &, const vector[double] &) except +
    void write_file_atomic(const string &, const string &) except +


def unwrap_positions(x, image=None, cell=None):
    """Unwrapped Cartesian positions x + image @ cell.

    x: (N, 3) wrapped positions; image: (N, 3) integer image flags; cell: (3, 3) rows are
    the box vectors a, b, c (LAMMPS: a = (xprd, 0, 0), b = (xy, yprd, 0), c = (xz, yz, zprd)).
    """
    x = np.asarray(x, dtype=np.float64)
    if image is None:
        return x
    if cell is None:
        raise ValueError("image flags need the cell (3x3 box vectors) to unwrap positions")
    return x + np.asarray(image, dtype=np.float64) @ np.asarray(cell, dtype=np.float64)


cdef class MSDCorrelator:
    """Multiple-window MSD accumulator, identical to ``fix msd/cross``.

    Parameters
    ----------
    natoms : number of atoms in the analysed group (every frame gives their positions in
        the same order).
    block, levels : ring length and number of levels (defaults as in the fix: 10, 7).
    types : (natoms,) integer atom types of the group's atoms (needed with ``charges``).
    charges : mapping {atom type: charge} of the species for the charge MSD and Onsager terms.
    nevery : MD steps between frames; dt : MD timestep (time units of the run);
    units : LAMMPS units style, recorded in the results.

    Feed frames with :meth:`add_frame`; :meth:`result` returns an
    :class:`ionsitu.msd_file.MSDResult` with exactly the fix's columns.
    """

    cdef MsdCorrelator *c
    cdef double[:, ::1] history
    cdef int[::1] species
    cdef readonly int natoms
    cdef readonly long nevery
    cdef readonly double dt
    cdef readonly str units
    cdef public str drift
    cdef list species_types
    cdef list species_charges
    cdef list species_counts

    def __cinit__(self, int natoms, int block=10, int levels=7, types=None, charges=None,
                  long nevery=1, double dt=1.0, str units="lj"):
        if natoms <= 0:
            raise ValueError(f"natoms must be > 0, got {natoms}")
        if nevery <= 0:
            raise ValueError(f"nevery must be > 0, got {nevery}")
        charges = dict(charges or {})
        self.species_types = [int(t) for t in charges]
        self.species_charges = [float(charges[t]) for t in charges]
        species = np.full(natoms, -1, dtype=np.intc)
        if charges:
            if types is None:
                raise ValueError("charges need the atom types of the group's atoms (types=...)")
            types = np.asarray(types)
            if types.shape != (natoms,):
                raise ValueError(f"types must have shape ({natoms},), got {types.shape}")
            for s, t in enumerate(self.species_types):
                hit = types == t
                if not hit.any():
                    raise ValueError(f"charges: atom type {t} has no atoms in the group")
                species[hit] = s
        self.species_counts = [int(np.sum(species == s)) for s in range(len(self.species_types))]
        self.c = new MsdCorrelator(block, levels, len(self.species_types))
        self.history = np.zeros((natoms, self.c.peratom_doubles()), dtype=np.float64)
        self.species = species
        self.natoms = natoms
        self.nevery = nevery
        self.dt = dt
        self.units = units
        self.drift = "none"

    def __dealloc__(self):
        del self.c

    @property
    def nsamples(self):
        return self.c.nsamples()

    @property
    def lag_steps(self):
        return self.result().lag_steps

    def add_frame(self, x, image=None, cell=None, masses=None, drift="all"):
        """Add one frame.

        x : (natoms, 3) positions of the group's atoms, unwrapped (or wrapped with
            ``image`` flags and ``cell``).
        masses, drift : drift removal as in the fix.  ``drift="all"`` removes the
            mass-weighted centre of mass of the positions given (pass ``x`` of the whole
            system to :func:`ionsitu.core.msd_from_frames` to use the whole system);
            ``drift="none"`` removes nothing; an (3,) array is subtracted as the drift
            position of this frame.
        """
        xu = np.ascontiguousarray(unwrap_positions(x, image, cell), dtype=np.float64)
        if xu.shape != (self.natoms, 3):
            raise ValueError(f"frame must have shape ({self.natoms}, 3), got {xu.shape}")
        if isinstance(drift, str):
            if drift == "all":
                m = np.ones(self.natoms) if masses is None else np.asarray(masses, dtype=np.float64)
                com = (m[:, None] * xu).sum(axis=0) / m.sum()
            elif drift == "none":
                com = np.zeros(3)
            else:
                raise ValueError(f"drift must be 'all', 'none' or a 3-vector, got {drift!r}")
            self.drift = drift
        else:
            com = np.asarray(drift, dtype=np.float64).reshape(3)
            self.drift = "given"
        xu = np.ascontiguousarray(xu - com)
        volume = abs(float(np.linalg.det(np.asarray(cell)))) if cell is not None else 0.0
        self._add(xu, volume)

    cdef _add(self, double[:, ::1] xu, double volume):
        cdef int i
        cdef vector[double *] rows
        rows.resize(self.natoms)
        for i in range(self.natoms):
            rows[i] = &self.history[i, 0]
        self.c.begin_sample(volume)
        if self.natoms > 0:
            self.c.add_atoms(self.natoms, rows.data(), &xu[0, 0], &self.species[0])
        cdef vector[double] *partial = &self.c.collective_partial()
        self.c.end_sample(partial.data())

    def _table(self):
        cdef vector[double] table
        self.c.fill_table(self.c.self_sums(), self.species_charges, self.nevery, self.dt, table)
        names = [n.decode() for n in self.c.column_names(self.species_types)]
        return names, np.asarray(table, dtype=np.float64).reshape(-1, len(names))

    def meta(self):
        n = self.c.nsamples()
        return {
            "format": "ionsitu-msd", "version": 1, "producer": "ionsitu.core",
            "natoms": self.natoms, "nevery": int(self.nevery), "block": self.c.block(),
            "levels": self.c.levels(), "dt": self.dt, "units": self.units, "drift": self.drift,
            "types": self.species_types, "charges": self.species_charges,
            "species_counts": self.species_counts,
            "volume": self.c.volume_sum() / n if n else 0.0, "nsamples": int(n),
            "step_first": 0, "step_last": int((n - 1) * self.nevery) if n else -1,
        }

    def result(self):
        """The accumulated results as an :class:`ionsitu.msd_file.MSDResult`."""
        names, table = self._table()
        return from_table(self.meta(), names, table)

    def write(self, path):
        """Write the results in the fix's file format (atomically)."""
        names, table = self._table()
        cdef vector[string] cnames = [n.encode() for n in names]
        cdef vector[double] flat = table.ravel()
        text = format_msd_text(json.dumps(self.meta()).encode(), cnames, flat)
        write_file_atomic(str(path).encode(), text)


def msd_from_frames(frames, masses=None, group=None, types=None, charges=None, block=10,
                    levels=7, nevery=1, dt=1.0, units="lj", drift="all", cell=None):
    """MSD results of a trajectory of unwrapped positions, as the fix computes them.

    frames : (nframes, natoms_all, 3) unwrapped positions of the whole system.
    masses : (natoms_all,) masses for the drift (default equal masses).
    group : boolean mask or index array of the analysed atoms (default all).
    types : (natoms_all,) atom types (needed with charges).
    drift : "all" (centre of mass of the whole system), "none", or a boolean mask /
        index array of the reference group.
    cell : optional (nframes, 3, 3) or (3, 3) box vectors, for the mean volume.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3 or frames.shape[2] != 3:
        raise ValueError(f"frames must have shape (nframes, natoms, 3), got {frames.shape}")
    nall = frames.shape[1]
    m = np.ones(nall) if masses is None else np.asarray(masses, dtype=np.float64)
    sel = np.arange(nall) if group is None else np.arange(nall)[group]
    gtypes = None if types is None else np.asarray(types)[sel]
    corr = MSDCorrelator(len(sel), block=block, levels=levels, types=gtypes, charges=charges,
                         nevery=nevery, dt=dt, units=units)
    if isinstance(drift, str) and drift not in ("all", "none"):
        raise ValueError(f"drift must be 'all', 'none' or a group mask, got {drift!r}")
    ref = None if isinstance(drift, str) else np.arange(nall)[drift]
    for f, x in enumerate(frames):
        if isinstance(drift, str) and drift == "none":
            com = np.zeros(3)
        else:
            idx = slice(None) if ref is None else ref
            com = (m[idx, None] * x[idx]).sum(axis=0) / m[idx].sum()
        box = None if cell is None else (cell if np.ndim(cell) == 2 else cell[f])
        corr.add_frame(x[sel], cell=box, drift=com)
    corr.drift = drift if isinstance(drift, str) else "group"
    return corr.result()

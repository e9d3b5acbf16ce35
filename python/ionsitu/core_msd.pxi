# Binding of ionsitu::MsdCorrelator (src/core/msd_correlator.h).
import json

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

from ionsitu.io.cell import unwrap
from ionsitu.io.msd import from_table

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
        void set_distance_histogram(int, double) except +
        vector[double] &distance_histogram()
        vector[string] column_names(const vector[int] &) except +
        void fill_table(const vector[double] &, const vector[double] &, int64_t, double,
                        vector[double] &) except +
        vector[double] serialize(const vector[double] &) except +
        void deserialize(const double *, size_t, cbool) except +

    string format_msd_text(const string &, const vector[string] &, const vector[double] &) except +
    void write_file_atomic(const string &, const string &) except +


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
    :class:`ionsitu.io.msd.MSDResult` with exactly the fix's columns.
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

    def add_frame(self, x, image=None, cell=None, drift=None):
        """Add one frame.

        x : (natoms, 3) positions of the group's atoms, unwrapped (or wrapped with
            ``image`` flags and ``cell``, :func:`ionsitu.io.cell.unwrap`).
        drift : (3,) drift position of this frame, subtracted from every position (e.g. the
            mass-weighted centre of mass of the whole system,
            :func:`ionsitu.analysis.msd.centre_of_mass`); None removes nothing.
        cell : (3, 3) box of the frame (its volume enters the mean volume).
        """
        xu = np.ascontiguousarray(unwrap(x, image, cell), dtype=np.float64)
        if xu.shape != (self.natoms, 3):
            raise ValueError(f"frame must have shape ({self.natoms}, 3), got {xu.shape}")
        if drift is None:
            com = np.zeros(3)
        elif isinstance(drift, str):
            raise ValueError(f"drift must be a 3-vector (the drift position of this frame) or None, got {drift!r}; "
                             "ionsitu.analysis.msd.centre_of_mass gives the centre of mass")
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
            "format": "ionsitu-msd", "version": 2, "producer": "ionsitu.core",
            "natoms": self.natoms, "nevery": int(self.nevery), "block": self.c.block(),
            "levels": self.c.levels(), "dt": self.dt, "units": self.units, "drift": self.drift,
            "types": self.species_types, "charges": self.species_charges,
            "species_counts": self.species_counts,
            "volume": self.c.volume_sum() / n if n else 0.0, "nsamples": int(n),
            "step_first": 0, "step_last": int((n - 1) * self.nevery) if n else -1,
        }

    def result(self):
        """The accumulated results as an :class:`ionsitu.io.msd.MSDResult`."""
        names, table = self._table()
        return from_table(self.meta(), names, table)

    def write(self, path):
        """Write the results in the fix's file format (atomically)."""
        names, table = self._table()
        cdef vector[string] cnames = [n.encode() for n in names]
        cdef vector[double] flat = table.ravel()
        text = format_msd_text(json.dumps(self.meta()).encode(), cnames, flat)
        write_file_atomic(str(path).encode(), text)

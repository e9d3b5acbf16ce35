# Binding of ionsitu::VacfCorrelator (src/core/vacf_correlator.h).


cdef extern from "vacf_correlator.h" namespace "ionsitu":
    cdef cppclass VacfCorrelator:
        VacfCorrelator(int, int) except +
        int block()
        int nspecies()
        int peratom_doubles()
        int64_t nsamples()
        void begin_sample()
        void add_atom(double *, const double *, int)
        void end_sample()
        const vector[double] &sums()
        vector[string] column_names(const vector[int] &) except +
        void fill_table(const vector[double] &, int64_t, const vector[int64_t] &, int64_t, double,
                        vector[double] &) except +
        void atom_vacf(const double *, double *)

    string format_tagged_table(const string &, int, const string &, const vector[string] &,
                               const vector[double] &) except +


cdef class VACFCorrelator:
    """Velocity autocorrelation over every time origin, identical to ``fix vacf``.

    Parameters
    ----------
    natoms : number of atoms of the group (every frame gives their velocities in the same order).
    block : lags 0 .. block-1 frames (default 100, as in the fix).
    types : (natoms,) integer atom types of the group's atoms (needed with ``species``).
    species : atom types reported separately (the fix's ``types`` keyword).
    nevery : MD steps between frames; dt : MD timestep; units : LAMMPS units style.

    Feed frames with :meth:`add_frame`; :meth:`table` gives the fix's columns,
    :meth:`atom_vacf` the per-atom VACFs of its ``atoms`` file, :meth:`write` its file.
    """

    cdef VacfCorrelator *c
    cdef double[:, ::1] history
    cdef int[::1] species_index
    cdef readonly int natoms
    cdef readonly long nevery
    cdef readonly double dt
    cdef readonly str units
    cdef list species_types
    cdef list species_counts

    def __cinit__(self, int natoms, int block=100, types=None, species=(), long nevery=1,
                  double dt=1.0, str units="lj"):
        if natoms <= 0:
            raise ValueError(f"natoms must be > 0, got {natoms}")
        if block < 2:
            raise ValueError(f"block must be >= 2, got {block}")
        if nevery <= 0:
            raise ValueError(f"nevery must be > 0, got {nevery}")
        self.species_types = [int(t) for t in species]
        if len(set(self.species_types)) != len(self.species_types):
            raise ValueError(f"species: an atom type is given twice in {self.species_types}")
        index = np.full(natoms, -1, dtype=np.intc)
        if self.species_types:
            if types is None:
                raise ValueError("species need the atom types of the group's atoms (types=...)")
            types = np.asarray(types)
            if types.shape != (natoms,):
                raise ValueError(f"types must have shape ({natoms},), got {types.shape}")
            for s, t in enumerate(self.species_types):
                hit = types == t
                if not hit.any():
                    raise ValueError(f"species: atom type {t} has no atoms in the group")
                index[hit] = s
        self.species_counts = [int(np.sum(index == s)) for s in range(len(self.species_types))]
        self.c = new VacfCorrelator(block, len(self.species_types))
        self.history = np.zeros((natoms, self.c.peratom_doubles()), dtype=np.float64)
        self.species_index = index
        self.natoms = natoms
        self.nevery = nevery
        self.dt = dt
        self.units = units

    def __dealloc__(self):
        del self.c

    @property
    def nsamples(self):
        return self.c.nsamples()

    def add_frame(self, v):
        """Add one frame: v is (natoms, 3) velocities (velocity units of the run)."""
        vv = np.ascontiguousarray(v, dtype=np.float64)
        if vv.shape != (self.natoms, 3):
            raise ValueError(f"frame must have shape ({self.natoms}, 3), got {vv.shape}")
        self._add(vv)

    cdef _add(self, double[:, ::1] v):
        cdef int i
        self.c.begin_sample()
        for i in range(self.natoms):
            self.c.add_atom(&self.history[i, 0], &v[i, 0], self.species_index[i])
        self.c.end_sample()

    def sums(self):
        """Raw sums (block, 1 + nspecies, 3) of v_d(t0) v_d(t0+k) over atoms and origins."""
        return np.asarray(self.c.sums(), dtype=np.float64).reshape(self.c.block(), -1, 3)

    def table(self):
        """(column names, (block, ncols) array): the fix's global array and file columns."""
        cdef vector[double] table
        cdef vector[int64_t] counts = self.species_counts
        self.c.fill_table(self.c.sums(), self.natoms, counts, self.nevery, self.dt, table)
        names = [n.decode() for n in self.c.column_names(self.species_types)]
        return names, np.asarray(table, dtype=np.float64).reshape(-1, len(names))

    def atom_vacf(self):
        """(natoms, block) per-atom VACF <v_i(t0).v_i(t0+k)> over the origins."""
        out = np.zeros((self.natoms, self.c.block()), dtype=np.float64)
        cdef double[:, ::1] o = out
        cdef int i
        for i in range(self.natoms):
            self.c.atom_vacf(&self.history[i, 0], &o[i, 0])
        return out

    def meta(self):
        n = self.c.nsamples()
        return {
            "format": "ionsitu-vacf", "version": 1, "producer": "ionsitu.core",
            "natoms": self.natoms, "nevery": int(self.nevery), "block": self.c.block(),
            "dt": self.dt, "units": self.units, "types": self.species_types,
            "species_counts": self.species_counts, "nsamples": int(n),
            "step_first": 0, "step_last": int((n - 1) * self.nevery) if n else -1,
        }

    def write(self, path):
        """Write the results in the fix's ``file`` format (atomically)."""
        names, table = self.table()
        cdef vector[string] cnames = [n.encode() for n in names]
        cdef vector[double] flat = table.ravel()
        text = format_tagged_table(b"ionsitu-vacf", 1, json.dumps(self.meta()).encode(), cnames, flat)
        write_file_atomic(str(path).encode(), text)

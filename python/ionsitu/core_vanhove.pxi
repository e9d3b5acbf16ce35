# Binding of the self part of the van Hove function (src/core/van_hove.h): MsdCorrelator
# with its displacement histogram, as fix vanhove drives it.

from ionsitu.io.vanhove import from_table as vanhove_from_table


cdef extern from "van_hove.h" namespace "ionsitu":
    vector[string] van_hove_self_columns(int)
    void fill_van_hove_self_table(const MsdCorrelator &, const vector[double] &, const vector[double] &,
                                  int64_t, double, vector[double] &) except +


cdef class VanHoveSelf:
    """Self part of the van Hove function G_s(r, t), identical to ``fix vanhove``.

    Parameters
    ----------
    natoms : number of atoms of the group (every frame gives their positions in the same order).
    rmax, bins : histogram of |r_i(t0 + t) - r_i(t0)| over [0, rmax) (distance units) in ``bins`` bins.
    block, levels : multiple-window scheme of ``fix msd/cross`` (defaults 10, 7).
    nevery : MD steps between frames; dt : MD timestep; units : LAMMPS units style.

    Feed frames with :meth:`add_frame`; :meth:`result` returns an
    :class:`ionsitu.io.vanhove.VanHoveResult` with exactly the fix's columns.
    """

    cdef MsdCorrelator *c
    cdef double[:, ::1] history
    cdef int[::1] species
    cdef readonly int natoms, bins
    cdef readonly long nevery
    cdef readonly double dt, rmax
    cdef readonly str units

    def __cinit__(self, int natoms, double rmax, int bins, int block=10, int levels=7, long nevery=1,
                  double dt=1.0, str units="lj"):
        if natoms <= 0:
            raise ValueError(f"natoms must be > 0, got {natoms}")
        if nevery <= 0:
            raise ValueError(f"nevery must be > 0, got {nevery}")
        self.c = new MsdCorrelator(block, levels, 0)
        self.c.set_distance_histogram(bins, rmax)
        self.history = np.zeros((natoms, self.c.peratom_doubles()), dtype=np.float64)
        self.species = np.full(natoms, -1, dtype=np.intc)
        self.natoms, self.bins, self.rmax = natoms, bins, rmax
        self.nevery, self.dt, self.units = nevery, dt, units

    def __dealloc__(self):
        del self.c

    @property
    def nsamples(self):
        return self.c.nsamples()

    def add_frame(self, x, image=None, cell=None):
        """Add one frame: x (natoms, 3) unwrapped positions (or wrapped with ``image`` and ``cell``)."""
        xu = np.ascontiguousarray(unwrap(x, image, cell), dtype=np.float64)
        if xu.shape != (self.natoms, 3):
            raise ValueError(f"frame must have shape ({self.natoms}, 3), got {xu.shape}")
        self._add(xu)

    cdef _add(self, double[:, ::1] xu):
        cdef int i
        cdef vector[double *] rows
        rows.resize(self.natoms)
        for i in range(self.natoms):
            rows[i] = &self.history[i, 0]
        self.c.begin_sample(0.0)
        self.c.add_atoms(self.natoms, rows.data(), &xu[0, 0], &self.species[0])
        cdef vector[double] *partial = &self.c.collective_partial()
        self.c.end_sample(partial.data())

    def table(self):
        """(column names, (nlags, 5 + bins) table) as in the fix's file."""
        cdef vector[double] table
        fill_van_hove_self_table(self.c[0], self.c.self_sums(), self.c.distance_histogram(), self.nevery,
                                 self.dt, table)
        names = [n.decode() for n in van_hove_self_columns(self.bins)]
        return names, np.asarray(table, dtype=np.float64).reshape(-1, len(names))

    def meta(self):
        n = self.c.nsamples()
        return {
            "format": "ionsitu-vanhove", "version": 1, "producer": "ionsitu.core",
            "natoms": self.natoms, "nevery": int(self.nevery), "block": self.c.block(),
            "levels": self.c.levels(), "rmax": self.rmax, "bins": self.bins, "dt": self.dt,
            "units": self.units, "nsamples": int(n),
            "step_first": 0, "step_last": int((n - 1) * self.nevery) if n else -1,
        }

    def result(self):
        """The accumulated results as an :class:`ionsitu.io.vanhove.VanHoveResult`."""
        names, table = self.table()
        return vanhove_from_table(self.meta(), names, table)

    def write(self, path):
        """Write the results in the fix's file format (atomically)."""
        names, table = self.table()
        cdef vector[string] cnames = [n.encode() for n in names]
        cdef vector[double] flat = table.ravel()
        text = format_tagged_table(b"ionsitu-vanhove", 1, json.dumps(self.meta()).encode(), cnames, flat)
        write_file_atomic(str(path).encode(), text)


cdef extern from "van_hove.h" namespace "ionsitu":
    cdef cppclass VanHoveDistinct:
        VanHoveDistinct(vector[int64_t], int64_t, int, double, int) except +
        void add_sample(const double *, const Box &, int, int) except +
        int nlags()
        int64_t nsamples()
        vector[double] &histogram()
        vector[string] columns()
        void fill_table(const vector[double] &, int64_t, double, vector[double] &) except +


cdef class VanHoveDistinctPart:
    """Distinct part of the van Hove function G_d(r, t), identical to ``fix vanhove ... lags``.

    Parameters
    ----------
    natoms : atoms of the group (every frame gives their positions in atom-ID order).
    lags : lags in MD steps (multiples of ``nevery``, ascending); origins : MD steps between
        reference snapshots (multiple of ``nevery``; default ``nevery``).
    rmax, bins : histogram of the minimum-image |r_j(t0 + t) - r_i(t0)|, j != i, over [0, rmax)
        (distance units) in ``bins`` bins; rmax below half the shortest box width.
    nevery : MD steps between frames; dt : MD timestep; units : LAMMPS units style.

    :meth:`add_frame` takes positions (natoms, 3) and the box (a (3, 3) lower-triangular cell
    or ``h`` = (xprd, yprd, zprd, yz, xz, xy), and its origin); :meth:`table` returns the
    fix's ``dfile`` columns; :attr:`counts` the integer histogram (nlags, bins).
    """

    cdef VanHoveDistinct *c
    cdef readonly int natoms, bins
    cdef readonly long nevery, origins
    cdef readonly double dt, rmax
    cdef readonly str units
    cdef readonly object lags

    def __cinit__(self, int natoms, lags, double rmax, int bins, long nevery=1, origins=None,
                  double dt=1.0, str units="lj"):
        if nevery <= 0:
            raise ValueError(f"nevery must be > 0, got {nevery}")
        lags = np.asarray(lags, dtype=np.int64)
        if origins is None:
            origins = nevery
        if np.any(lags % nevery) or origins % nevery:
            raise ValueError(f"lags {lags.tolist()} and origins {origins} must be multiples of nevery {nevery}")
        cdef vector[int64_t] lag_samples = [int(l) // nevery for l in lags]
        self.c = new VanHoveDistinct(lag_samples, origins // nevery, bins, rmax, natoms)
        self.natoms, self.bins, self.rmax, self.lags = natoms, bins, rmax, lags
        self.nevery, self.origins, self.dt, self.units = nevery, origins, dt, units

    def __dealloc__(self):
        del self.c

    @property
    def nsamples(self):
        return self.c.nsamples()

    @property
    def counts(self):
        """(nlags, bins) integer histogram of the pair distances (pairs per bin)."""
        return np.asarray(self.c.histogram(), dtype=np.float64).reshape(self.c.nlags(), self.bins).astype(np.int64)

    def add_frame(self, x, cell=None, origin=(0.0, 0.0, 0.0), h=None):
        """Add one frame: x (natoms, 3) positions (any image) and its box."""
        xu = np.ascontiguousarray(x, dtype=np.float64)
        if xu.shape != (self.natoms, 3):
            raise ValueError(f"frame must have shape ({self.natoms}, 3), got {xu.shape}")
        lo, hh = lammps_box(cell, origin, h)
        cdef Box b = _box(lo, hh)
        cdef double[:, ::1] xv = xu
        self.c.add_sample(&xv[0, 0], b, 0, self.natoms)

    def table(self):
        """(column names, (nlags, 3 + bins) table) as in the fix's ``dfile``."""
        cdef vector[double] table
        self.c.fill_table(self.c.histogram(), self.nevery, self.dt, table)
        names = [n.decode() for n in self.c.columns()]
        return names, np.asarray(table, dtype=np.float64).reshape(-1, len(names))

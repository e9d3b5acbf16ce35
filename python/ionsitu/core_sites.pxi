# Binding of ionsitu::OccupancyGrid (src/core/occupancy_grid.h) and ionsitu::HopDetector
# (src/core/hop_detector.h): the code fix occupancy/grid and fix hop/events run, on numpy
# arrays.  Boxes are given as LAMMPS boxes: origin lo (3,) and h = (xprd, yprd, zprd, yz,
# xz, xy), or as a lower-triangular (3, 3) cell whose rows are a, b, c (LAMMPS convention:
# a = (xprd, 0, 0), b = (xy, yprd, 0), c = (xz, yz, zprd)) plus an origin (ionsitu.io.cell).

from ionsitu.io.cell import lammps_box, lammps_cell
from ionsitu.io.events import events_from_core
from ionsitu.units import length_to_bohr

cdef extern from "box_geometry.h" namespace "ionsitu":
    cdef cppclass Box:
        double lo[3]
        double h[6]
        Box()

cdef extern from "occupancy_grid.h" namespace "ionsitu":
    cdef enum class Norm "ionsitu::OccupancyGrid::Norm":
        Probability "ionsitu::OccupancyGrid::Norm::Probability"
        NumberDensity "ionsitu::OccupancyGrid::Norm::NumberDensity"
        Counts "ionsitu::OccupancyGrid::Norm::Counts"

    cdef cppclass CubeAtoms "ionsitu::OccupancyGrid::CubeAtoms":
        vector[int] z
        vector[double] x

    cdef cppclass CppOccupancyGrid "ionsitu::OccupancyGrid":
        CppOccupancyGrid(int, int, int, int) except +
        int nx()
        int ny()
        int nz()
        int ntypes()
        size_t nvoxels()
        void add_positions(const Box &, int, const double *, const int *) except +
        void add_frame(const Box &)
        void merge(const CppOccupancyGrid &) except +
        void reset()
        vector[double] &counts()
        double nframes()
        Box mean_box()
        vector[double] density(int, Norm) except +
        void write_cube(const string &, int, Norm, double, const CubeAtoms *, const string &, cbool) except +
        vector[double] serialize()
        void deserialize(const double *, size_t) except +

cdef extern from "hop_detector.h" namespace "ionsitu":
    cdef cppclass HopEvent:
        pass

    cdef cppclass CppHopDetector "ionsitu::HopDetector":
        CppHopDetector()
        @staticmethod
        CppHopDetector site_based(double, double, int) except +
        @staticmethod
        CppHopDetector site_free(double, int, int) except +
        double r_in()
        double r_out()
        int min_residence()
        double threshold()
        int window()
        void set_sites_fractional(int, const double *) except +
        int nsites()
        const vector[double] &sites_fractional()
        int peratom_doubles()
        void update_atom(const Box &, const double *, int64_t, double *, int64_t)
        void check_box(const Box &) except +
        const vector[HopEvent] &events()
        double nhops()
        double count_hopped(int, const double *)
        vector[double] serialize()
        void deserialize(const double *, size_t) except +

    vector[double] serialize_events(const vector[HopEvent] &)
    void sort_events(vector[HopEvent] &)

    cdef cppclass SiteFile:
        int version
        string units
        double cell[9]
        double origin[3]
        vector[double] frac
        vector[double] cart

    SiteFile read_site_file(const string &) except +


_NORMS = {"probability": Norm.Probability, "density": Norm.NumberDensity, "counts": Norm.Counts}


cdef Box _box(lo, h):
    cdef Box b
    cdef int k
    for k in range(3):
        b.lo[k] = lo[k]
    for k in range(6):
        b.h[k] = h[k]
    return b


cdef class OccupancyGrid:
    """Time-averaged occupancy grid, identical to ``fix occupancy/grid``.

    shape : (nx, ny, nz) voxels along a, b, c; ntypes : number of grids (types index 0..).
    :meth:`add_frame` counts one frame; :attr:`counts` is (ntypes, nx, ny, nz); :meth:`cell`
    and :attr:`origin` give the mean cell over the frames (the cell of the cube files).
    """

    cdef CppOccupancyGrid *c

    def __cinit__(self, shape, int ntypes=1):
        nx, ny, nz = (int(v) for v in shape)
        self.c = new CppOccupancyGrid(nx, ny, nz, ntypes)

    def __dealloc__(self):
        del self.c

    @property
    def shape(self):
        return (self.c.nx(), self.c.ny(), self.c.nz())

    @property
    def ntypes(self):
        return self.c.ntypes()

    @property
    def nframes(self):
        return self.c.nframes()

    @property
    def counts(self):
        """(ntypes, nx, ny, nz) counts (a copy)."""
        return np.array(self.c.counts(), dtype=np.float64).reshape((self.c.ntypes(),) + self.shape)

    @property
    def cell(self):
        """Mean cell over the frames, (3, 3) rows a, b, c."""
        cdef Box b = self.c.mean_box()
        return lammps_cell(*[b.h[k] for k in range(6)])

    @property
    def origin(self):
        cdef Box b = self.c.mean_box()
        return np.array([b.lo[0], b.lo[1], b.lo[2]])

    def add_frame(self, x, cell=None, origin=(0.0, 0.0, 0.0), h=None, types=None):
        """Count the positions x (n, 3) (Cartesian, any periodic image) of one frame.

        types : (n,) grid index per atom (0..ntypes-1; negative: skip); default all 0.
        The box: ``cell`` (lower-triangular rows a, b, c) or LAMMPS ``h``, and ``origin``.
        """
        lo, hh = lammps_box(cell, origin, h)
        cdef Box b = _box(lo, hh)
        cdef double[:, ::1] xx = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, 3)
        cdef int n = xx.shape[0]
        cdef int[::1] tt
        if types is None:
            tt = np.zeros(max(n, 1), dtype=np.intc)
        else:
            tt = np.ascontiguousarray(types, dtype=np.intc)
            if tt.shape[0] != n:
                raise ValueError(f"types has {tt.shape[0]} entries for {n} positions")
        if n:
            self.c.add_positions(b, n, &xx[0, 0], &tt[0])
        self.c.add_frame(b)

    def merge(self, OccupancyGrid other):
        self.c.merge(other.c[0])

    def density(self, int type=-1, str norm="probability"):
        """(nx, ny, nz) normalised density of grid ``type`` (-1: all) on the mean cell."""
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {sorted(_NORMS)}, got {norm!r}")
        return np.array(self.c.density(type, _NORMS[norm]), dtype=np.float64).reshape(self.shape)

    def write_cube(self, path, int type=-1, str norm="probability", units="metal",
                   comment="ionsitu occupancy grid", atom_numbers=None, atom_positions=None,
                   cbool per_angstrom3=False):
        """Gaussian cube file (atomic write), lengths converted to bohr from ``units``
        (a LAMMPS unit style, or a number: the factor to bohr). ``atom_numbers`` (n,) and
        ``atom_positions`` (n, 3) (length units of the run): atoms listed in the header;
        ``per_angstrom3``: densities per cubic angstrom instead of per bohr^3."""
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {sorted(_NORMS)}, got {norm!r}")
        f = float(units) if not isinstance(units, str) else length_to_bohr(units)
        cdef CubeAtoms atoms
        if (atom_numbers is None) != (atom_positions is None):
            raise ValueError("atom_numbers and atom_positions go together")
        if atom_numbers is not None:
            z = np.asarray(atom_numbers, dtype=np.intc).ravel()
            xyz = np.asarray(atom_positions, dtype=np.float64).reshape(-1, 3)
            if len(z) != len(xyz):
                raise ValueError(f"{len(z)} atom numbers for {len(xyz)} positions")
            atoms.z = z.tolist()
            atoms.x = xyz.ravel().tolist()
        self.c.write_cube(str(path).encode(), type, _NORMS[norm], f, &atoms if atom_numbers is not None else NULL,
                          str(comment).encode(), per_angstrom3)

    def serialize(self):
        return np.array(self.c.serialize(), dtype=np.float64)

    def deserialize(self, data):
        cdef double[::1] d = np.ascontiguousarray(data, dtype=np.float64)
        self.c.deserialize(&d[0], d.shape[0])


def occupancy_from_frames(frames, cells=None, origins=None, hs=None, shape=(20, 20, 20), types=None,
                          ntypes=None):
    """OccupancyGrid of a trajectory: frames (S, n, 3), per-frame cells (S, 3, 3) or one (3, 3)
    (or LAMMPS ``hs`` (S, 6)), origins (S, 3) or (3,); types (n,) grid index per atom."""
    frames = np.asarray(frames, dtype=np.float64)
    nt = ntypes if ntypes is not None else (1 if types is None else int(np.max(types)) + 1)
    g = OccupancyGrid(shape, nt)
    for f in range(len(frames)):
        cell = None if cells is None else (cells if np.ndim(cells) == 2 else cells[f])
        h = None if hs is None else (hs if np.ndim(hs) == 1 else hs[f])
        org = (0.0, 0.0, 0.0) if origins is None else (origins if np.ndim(origins) == 1 else origins[f])
        g.add_frame(frames[f], cell=cell, origin=org, h=h, types=types)
    return g


def read_site_file_core(path):
    """The C++ site-file reader (the one fix hop/events uses): dict with units, cell (3, 3),
    origin (3,), frac (n, 3), cart (n, 3).  Raises RuntimeError naming file and line."""
    cdef SiteFile f = read_site_file(str(path).encode())
    return {"units": f.units.decode(), "cell": np.array([f.cell[k] for k in range(9)]).reshape(3, 3),
            "origin": np.array([f.origin[k] for k in range(3)]),
            "frac": np.array(f.frac, dtype=np.float64).reshape(-1, 3),
            "cart": np.array(f.cart, dtype=np.float64).reshape(-1, 3)}


cdef class HopDetector:
    """Hop detector, identical to ``fix hop/events``.

    Build with :meth:`site_based` (sites: fractional (n, 3) array, or a site-file path) or
    :meth:`site_free`; feed frames with :meth:`add_frame` (positions of the tracked ions,
    Cartesian, any image; ``ids`` = atom tags, matched to per-ion state by id); read
    :meth:`events` (an :data:`ionsitu.io.events.EVENT_DTYPE` table sorted by (step, atom_id)).
    """

    cdef CppHopDetector c
    cdef object slots          # (n, peratom) state, rows in the order of self.ids
    cdef object ids
    cdef object row_of
    cdef readonly long nsamples

    def __cinit__(self):
        self.slots = None
        self.ids = None
        self.row_of = None
        self.nsamples = 0

    @staticmethod
    def site_based(sites, double r_in, double r_out, int residence=1):
        """sites: (n, 3) fractional coordinates, or the path of an ionsitu site file."""
        cdef HopDetector d = HopDetector()
        d.c = CppHopDetector.site_based(r_in, r_out, residence)
        if isinstance(sites, (str, bytes)) or hasattr(sites, "__fspath__"):
            frac = read_site_file_core(sites)["frac"]
        else:
            frac = np.asarray(sites, dtype=np.float64).reshape(-1, 3)
        cdef double[:, ::1] s = np.ascontiguousarray(frac, dtype=np.float64)
        if s.shape[0] == 0:
            raise ValueError("no sites")
        d.c.set_sites_fractional(s.shape[0], &s[0, 0])
        return d

    @staticmethod
    def site_free(double threshold, int window, int residence=1):
        cdef HopDetector d = HopDetector()
        d.c = CppHopDetector.site_free(threshold, window, residence)
        return d

    @property
    def mode(self):
        return "sites" if self.c.peratom_doubles() == 10 else "free"   # kSiteSlotSize

    @property
    def nsites(self):
        return self.c.nsites()

    @property
    def nhops(self):
        return int(self.c.nhops())

    @property
    def nhopped(self):
        """Distinct ions that hopped."""
        if self.slots is None:
            return 0
        cdef double[:, ::1] st = self.slots
        return int(self.c.count_hopped(st.shape[0], &st[0, 0]))

    @property
    def state(self):
        """Per-ion detector slots (n, peratom) in the order of :attr:`atom_ids` (a copy)."""
        return None if self.slots is None else np.array(self.slots)

    @property
    def atom_ids(self):
        return None if self.ids is None else np.array(self.ids)

    @property
    def current_sites(self):
        """Confirmed site of each ion (site mode; -1 none), in the order of :attr:`atom_ids`."""
        if self.slots is None or self.mode != "sites":
            return None
        return np.rint(self.slots[:, 2]).astype(np.int64)

    def add_frame(self, x, long step, ids=None, cell=None, origin=(0.0, 0.0, 0.0), h=None):
        """One sample at MD step ``step``: x (n, 3) positions, ids (n,) atom tags (default
        1..n; the same set every frame, any order)."""
        lo, hh = lammps_box(cell, origin, h)
        cdef Box b = _box(lo, hh)
        self.c.check_box(b)
        cdef double[:, ::1] xx = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, 3)
        cdef int n = xx.shape[0]
        tags = np.arange(1, n + 1, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if tags.shape != (n,):
            raise ValueError(f"ids has shape {tags.shape}, expected ({n},)")
        if self.slots is None:
            if len(np.unique(tags)) != n:
                raise ValueError("ids are not unique")
            self.ids = tags.copy()
            self.row_of = {int(t): i for i, t in enumerate(tags.tolist())}
            self.slots = np.zeros((n, self.c.peratom_doubles()), dtype=np.float64)
        elif n != len(self.ids):
            raise ValueError(f"frame has {n} ions, the first frame had {len(self.ids)}")
        try:
            rows = np.fromiter((self.row_of[int(t)] for t in tags.tolist()), dtype=np.int64, count=n)
        except KeyError as err:
            raise ValueError(f"atom id {err.args[0]} was not in the first frame") from None
        cdef double[:, ::1] st = self.slots
        cdef long[::1] r = rows.astype(np.int_)
        cdef int64_t[::1] tg = tags
        cdef int i
        for i in range(n):
            self.c.update_atom(b, &xx[i, 0], tg[i], &st[r[i], 0], step)
        self.nsamples += 1

    def core_events(self):
        """Events as the core's doubles (nevents, 16), sorted by (step, atom_id)."""
        cdef vector[HopEvent] ev = self.c.events()
        sort_events(ev)
        return np.array(serialize_events(ev), dtype=np.float64).reshape(-1, 16)

    def events(self, double timestep=1.0):
        """Event table (ionsitu.io.events.EVENT_DTYPE), sorted by (step, atom_id); ``timestep``:
        MD time step, for the time, residence and duration columns."""
        return events_from_core(self.core_events(), timestep)

    def serialize(self):
        return np.array(self.c.serialize(), dtype=np.float64)


def hops_from_frames(frames, steps, sites=None, r_in=None, r_out=None, threshold=None, window=None,
                     residence=1, ids=None, cells=None, origins=None, hs=None, timestep=1.0):
    """Events of a trajectory, as fix hop/events finds them: frames (S, n, 3) positions of
    the tracked ions, steps (S,), the box per frame (``cells`` (S, 3, 3) or (3, 3), or LAMMPS
    ``hs`` (S, 6)/(6,), ``origins``); ``sites`` + ``r_in``/``r_out`` (site-based) or
    ``threshold`` + ``window`` (site-free).  Returns (events table, detector)."""
    if sites is not None:
        det = HopDetector.site_based(sites, r_in, r_out, residence)
    else:
        det = HopDetector.site_free(threshold, window, residence)
    frames = np.asarray(frames, dtype=np.float64)
    for f in range(len(frames)):
        cell = None if cells is None else (cells if np.ndim(cells) == 2 else cells[f])
        h = None if hs is None else (hs if np.ndim(hs) == 1 else hs[f])
        org = (0.0, 0.0, 0.0) if origins is None else (origins if np.ndim(origins) == 1 else origins[f])
        fid = None if ids is None else (ids if np.ndim(ids) == 1 else ids[f])
        det.add_frame(frames[f], int(steps[f]), ids=fid, cell=cell, origin=org, h=h)
    return det.events(timestep), det

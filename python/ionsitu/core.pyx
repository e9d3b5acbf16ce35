# cython: language_level=3, boundscheck=False, wraparound=False
# distutils: language = c++
"""ionsitu.core: the C++ accumulators of src/core on numpy arrays.

The same code the LAMMPS fixes run, for existing trajectories and for tests that compare
in-situ with offline results.  Each accumulator lives in its own .pxi file.
"""

include "core_msd.pxi"
include "core_sites.pxi"
include "core_vacf.pxi"
include "core_vanhove.pxi"
include "core_neighbours.pxi"

// ionsitu core: time-averaged occupancy grid (TAOG): the ions' probability density (Deng et al., Chem. Mater. 29 (2017) 281);
// docs/fix_occupancy_grid.md.
//
// Voxel histogram of atom positions in fractional coordinates of the (possibly triclinic,
// possibly changing) periodic box: every position is mapped to s in [0,1)^3 and counted in
// voxel (floor(s0*nx), floor(s1*ny), floor(s2*nz)). Voxel (i,j,k) covers
// [i/nx,(i+1)/nx) x [j/ny,(j+1)/ny) x [k/nz,(k+1)/nz); its centre is ((i+1/2)/nx, ...).
//
// Counts are kept per type index t in [0, ntypes) as doubles (exact integers up to 2^53)
// in one flat array in C order (type, ix, iy, iz), i.e. numpy shape (ntypes, nx, ny, nz);
// the cube file order (x slowest, z fastest) is the same.
//
// Frames and positions are counted separately so that MPI partial results merge by plain
// summation:  add_positions() adds the atoms a rank owns; add_frame() counts one sample and
// adds the current cell to the cell sums (used for the mean cell of the cube file).
// add_sample() = add_positions() + add_frame(). In a LAMMPS fix, every rank calls
// add_positions() with its local atoms and exactly one rank (rank 0) calls add_frame();
// then the reduction of all ranks (merge(), or an MPI_SUM of counts() and of the frame
// fields in serialize()) is the same object a single process would have built. merge() of
// two halves of a trajectory is the whole trajectory for the same reason.
//
// No LAMMPS, no MPI, C++17.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "box_geometry.h"

namespace ionsitu {

class OccupancyGrid {
 public:
  // What write_cube()/density() put into each voxel.
  enum class Norm {
    Probability,    // counts / (sum of counts * V_voxel): integrates to 1 over the cell
    NumberDensity,  // counts / (nframes * V_voxel): mean number of atoms per volume
    Counts          // raw counts
  };

  struct CubeAtoms {  // optional atoms written into the cube file header
    std::vector<int> z;     // atomic numbers
    std::vector<double> x;  // Cartesian positions, 3 per atom, in box length units
  };

  OccupancyGrid(int nx, int ny, int nz, int ntypes = 1);

  int nx() const { return n_[0]; }
  int ny() const { return n_[1]; }
  int nz() const { return n_[2]; }
  int ntypes() const { return ntypes_; }
  std::size_t nvoxels() const { return static_cast<std::size_t>(n_[0]) * n_[1] * n_[2]; }

  // Adds n positions x[3*i..3*i+2] (Cartesian, any periodic image). type[i] is the type
  // index in [0, ntypes); a negative type skips that atom (e.g. not in the group); type may
  // be nullptr (all type 0). Throws std::invalid_argument on type >= ntypes.
  void add_positions(const Box &box, int n, const double *x, const int *type);
  // Counts one sample (frame) and adds box.lo and box.h to the cell sums.
  void add_frame(const Box &box);
  void add_sample(const Box &box, int n, const double *x, const int *type) {
    add_positions(box, n, x, type);
    add_frame(box);
  }

  // Sum of partial results (same grid shape and ntypes, else std::invalid_argument).
  void merge(const OccupancyGrid &other);
  void reset();

  // Flat voxel index of (ix, iy, iz) within one type block.
  std::size_t voxel_index(int ix, int iy, int iz) const {
    return (static_cast<std::size_t>(ix) * n_[1] + iy) * n_[2] + iz;
  }
  // Voxel of a Cartesian position (wrapped), as flat index within a type block.
  std::size_t voxel_of(const Box &box, const double x[3]) const;

  const std::vector<double> &counts() const { return counts_; }
  std::vector<double> &counts() { return counts_; }  // for MPI_Reduce in place
  double count(int type, int ix, int iy, int iz) const {
    return counts_[static_cast<std::size_t>(type) * nvoxels() + voxel_index(ix, iy, iz)];
  }
  // Counts of one type (type >= 0) or summed over all types (type == -1), nvoxels values.
  std::vector<double> type_counts(int type) const;

  double nframes() const { return nframes_; }
  // Mean cell over the counted frames: arithmetic mean of lo and of h (xprd..xy).
  // With no frames, returns the unit box.
  Box mean_box() const;
  // Volume of one voxel of the mean cell.
  double voxel_volume() const;

  // Normalised density of type (or -1: all types) on the mean cell, nvoxels values.
  std::vector<double> density(int type, Norm norm = Norm::Probability) const;

  // Writes a Gaussian cube file of density(type, norm) on the mean cell, atomically
  // (temporary file + rename). Lengths are multiplied by length_to_bohr (cube files are in
  // bohr: 1/0.529177210903 for LAMMPS metal/real units in angstrom, 1.0 to keep the units
  // as they are, e.g. LJ) and densities divided by length_to_bohr^3 accordingly.
  // With per_angstrom3 the densities are per cubic angstrom instead (lengths stay in bohr),
  // the unit VESTA and OVITO show; atoms (e.g. the framework) are listed in the header.
  // Throws std::runtime_error if the file cannot be written.
  void write_cube(const std::string &path, int type, Norm norm = Norm::Probability,
                  double length_to_bohr = 1.0 / 0.529177210903,
                  const CubeAtoms *atoms = nullptr,
                  const std::string &comment = "ionsitu occupancy grid", bool per_angstrom3 = false) const;
  static constexpr double kBohrAngstrom = 0.529177210903;  // CODATA 2018

  // Global state for restarts: [version, nx, ny, nz, ntypes, nframes, sum_lo[3], sum_h[6],
  // counts...]; size 15 + ntypes*nvoxels. deserialize() throws std::invalid_argument on a
  // wrong version, size or shape.
  std::vector<double> serialize() const;
  void deserialize(const double *data, std::size_t n);
  static constexpr int kSerialVersion = 1;
  static constexpr std::size_t kHeaderDoubles = 15;

 private:
  int n_[3];
  int ntypes_;
  double nframes_ = 0.0;
  double sum_lo_[3] = {0.0, 0.0, 0.0};
  double sum_h_[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  std::vector<double> counts_;
};

}  // namespace ionsitu

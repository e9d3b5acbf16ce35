// ionsitu core: time-averaged occupancy grid. See occupancy_grid.h.
#include "occupancy_grid.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace ionsitu {

OccupancyGrid::OccupancyGrid(int nx, int ny, int nz, int ntypes) : n_{nx, ny, nz}, ntypes_(ntypes) {
  if (nx < 1 || ny < 1 || nz < 1)
    throw std::invalid_argument("OccupancyGrid: grid shape must be >= 1 in each direction, got " +
                                std::to_string(nx) + " " + std::to_string(ny) + " " + std::to_string(nz));
  if (ntypes < 1)
    throw std::invalid_argument("OccupancyGrid: ntypes must be >= 1, got " + std::to_string(ntypes));
  counts_.assign(static_cast<std::size_t>(ntypes_) * nvoxels(), 0.0);
}

std::size_t OccupancyGrid::voxel_of(const Box &box, const double x[3]) const {
  double s[3];
  box.to_frac(x, s);
  int idx[3];
  for (int k = 0; k < 3; ++k) {
    const double w = Box::wrap01(s[k]);
    int i = static_cast<int>(w * n_[k]);
    if (i >= n_[k]) i = n_[k] - 1;  // w just below 1 rounding up
    if (i < 0) i = 0;
    idx[k] = i;
  }
  return voxel_index(idx[0], idx[1], idx[2]);
}

void OccupancyGrid::add_positions(const Box &box, int n, const double *x, const int *type) {
  const std::size_t nv = nvoxels();
  for (int i = 0; i < n; ++i) {
    const int t = type ? type[i] : 0;
    if (t < 0) continue;
    if (t >= ntypes_)
      throw std::invalid_argument("OccupancyGrid::add_positions: type index " + std::to_string(t) +
                                  " of atom " + std::to_string(i) + " >= ntypes " + std::to_string(ntypes_));
    counts_[static_cast<std::size_t>(t) * nv + voxel_of(box, x + 3 * i)] += 1.0;
  }
}

void OccupancyGrid::add_frame(const Box &box) {
  nframes_ += 1.0;
  for (int k = 0; k < 3; ++k) sum_lo_[k] += box.lo[k];
  for (int k = 0; k < 6; ++k) sum_h_[k] += box.h[k];
}

void OccupancyGrid::merge(const OccupancyGrid &o) {
  if (o.n_[0] != n_[0] || o.n_[1] != n_[1] || o.n_[2] != n_[2] || o.ntypes_ != ntypes_)
    throw std::invalid_argument("OccupancyGrid::merge: shapes differ");
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  nframes_ += o.nframes_;
  for (int k = 0; k < 3; ++k) sum_lo_[k] += o.sum_lo_[k];
  for (int k = 0; k < 6; ++k) sum_h_[k] += o.sum_h_[k];
}

void OccupancyGrid::reset() {
  std::fill(counts_.begin(), counts_.end(), 0.0);
  nframes_ = 0.0;
  for (double &v : sum_lo_) v = 0.0;
  for (double &v : sum_h_) v = 0.0;
}

std::vector<double> OccupancyGrid::type_counts(int type) const {
  const std::size_t nv = nvoxels();
  if (type < -1 || type >= ntypes_)
    throw std::invalid_argument("OccupancyGrid: type index " + std::to_string(type) +
                                " out of range [-1, " + std::to_string(ntypes_) + ")");
  std::vector<double> out(nv, 0.0);
  for (int t = 0; t < ntypes_; ++t) {
    if (type >= 0 && t != type) continue;
    const double *c = counts_.data() + static_cast<std::size_t>(t) * nv;
    for (std::size_t i = 0; i < nv; ++i) out[i] += c[i];
  }
  return out;
}

Box OccupancyGrid::mean_box() const {
  Box b;
  if (nframes_ <= 0.0) return b;
  for (int k = 0; k < 3; ++k) b.lo[k] = sum_lo_[k] / nframes_;
  for (int k = 0; k < 6; ++k) b.h[k] = sum_h_[k] / nframes_;
  return b;
}

double OccupancyGrid::voxel_volume() const { return mean_box().volume() / static_cast<double>(nvoxels()); }

std::vector<double> OccupancyGrid::density(int type, Norm norm) const {
  std::vector<double> rho = type_counts(type);
  if (norm == Norm::Counts) return rho;
  double denom = 0.0;
  if (norm == Norm::Probability) {
    for (double c : rho) denom += c;
  } else {
    denom = nframes_;
  }
  denom *= voxel_volume();
  if (denom > 0.0)
    for (double &v : rho) v /= denom;
  return rho;
}

void OccupancyGrid::write_cube(const std::string &path, int type, Norm norm, double length_to_bohr,
                               const CubeAtoms *atoms, const std::string &comment, bool per_angstrom3) const {
  if (!(length_to_bohr > 0.0))
    throw std::invalid_argument("OccupancyGrid::write_cube: length_to_bohr must be > 0, got " +
                                std::to_string(length_to_bohr));
  std::vector<double> rho = density(type, norm);
  if (norm != Norm::Counts) {
    const double l = per_angstrom3 ? length_to_bohr * kBohrAngstrom : length_to_bohr;  // per bohr^3 or A^3
    const double f = 1.0 / (l * l * l);
    for (double &v : rho) v *= f;
  }
  const Box b = mean_box();
  const double a[3][3] = {{b.h[0], 0.0, 0.0}, {b.h[5], b.h[1], 0.0}, {b.h[4], b.h[3], b.h[2]}};
  int natoms = 0;
  if (atoms) {
    natoms = static_cast<int>(atoms->z.size());
    if (atoms->x.size() != 3 * atoms->z.size())
      throw std::invalid_argument("OccupancyGrid::write_cube: atoms->x must hold 3 values per atom");
  }
  const std::string tmp = path + ".tmp";
  std::FILE *f = std::fopen(tmp.c_str(), "w");
  if (!f) throw std::runtime_error("OccupancyGrid::write_cube: cannot open " + tmp);
  const char *what = norm == Norm::Probability ? "probability density (integrates to 1)"
                     : norm == Norm::NumberDensity ? "number density (atoms per volume)"
                                                   : "raw counts";
  std::string c1 = comment;
  for (char &ch : c1)
    if (ch == '\n') ch = ' ';
  std::fprintf(f, "%s\n", c1.c_str());
  std::fprintf(f, "%s, type %d, %.0f frames, lengths in bohr (x %.10g)%s\n", what, type, nframes_,
               length_to_bohr, per_angstrom3 && norm != Norm::Counts ? ", values per A^3" : "");
  std::fprintf(f, "%5d %12.6f %12.6f %12.6f\n", natoms, b.lo[0] * length_to_bohr, b.lo[1] * length_to_bohr,
               b.lo[2] * length_to_bohr);
  for (int k = 0; k < 3; ++k)
    std::fprintf(f, "%5d %12.6f %12.6f %12.6f\n", n_[k], a[k][0] / n_[k] * length_to_bohr,
                 a[k][1] / n_[k] * length_to_bohr, a[k][2] / n_[k] * length_to_bohr);
  for (int i = 0; i < natoms; ++i)
    std::fprintf(f, "%5d %12.6f %12.6f %12.6f %12.6f\n", atoms->z[i], static_cast<double>(atoms->z[i]),
                 atoms->x[3 * i] * length_to_bohr, atoms->x[3 * i + 1] * length_to_bohr,
                 atoms->x[3 * i + 2] * length_to_bohr);
  for (int ix = 0; ix < n_[0]; ++ix)
    for (int iy = 0; iy < n_[1]; ++iy) {
      for (int iz = 0; iz < n_[2]; ++iz) {
        std::fprintf(f, " %13.5E", rho[voxel_index(ix, iy, iz)]);
        if (iz % 6 == 5 && iz + 1 < n_[2]) std::fprintf(f, "\n");
      }
      std::fprintf(f, "\n");
    }
  const bool ok = std::ferror(f) == 0;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error("OccupancyGrid::write_cube: error writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("OccupancyGrid::write_cube: cannot rename " + tmp + " to " + path);
  }
}

std::vector<double> OccupancyGrid::serialize() const {
  std::vector<double> out;
  out.reserve(kHeaderDoubles + counts_.size());
  out.push_back(kSerialVersion);
  out.push_back(n_[0]);
  out.push_back(n_[1]);
  out.push_back(n_[2]);
  out.push_back(ntypes_);
  out.push_back(nframes_);
  for (double v : sum_lo_) out.push_back(v);
  for (double v : sum_h_) out.push_back(v);
  out.insert(out.end(), counts_.begin(), counts_.end());
  return out;
}

void OccupancyGrid::deserialize(const double *d, std::size_t n) {
  if (n < kHeaderDoubles || static_cast<int>(d[0]) != kSerialVersion)
    throw std::invalid_argument("OccupancyGrid::deserialize: not a version-" + std::to_string(kSerialVersion) +
                                " occupancy-grid state");
  if (static_cast<int>(d[1]) != n_[0] || static_cast<int>(d[2]) != n_[1] || static_cast<int>(d[3]) != n_[2] ||
      static_cast<int>(d[4]) != ntypes_)
    throw std::invalid_argument("OccupancyGrid::deserialize: stored grid " + std::to_string(int(d[1])) + "x" +
                                std::to_string(int(d[2])) + "x" + std::to_string(int(d[3])) + " with " +
                                std::to_string(int(d[4])) + " types differs from this grid");
  if (n != kHeaderDoubles + counts_.size())
    throw std::invalid_argument("OccupancyGrid::deserialize: size " + std::to_string(n) + ", expected " +
                                std::to_string(kHeaderDoubles + counts_.size()));
  nframes_ = d[5];
  for (int k = 0; k < 3; ++k) sum_lo_[k] = d[6 + k];
  for (int k = 0; k < 6; ++k) sum_h_[k] = d[9 + k];
  std::copy(d + kHeaderDoubles, d + n, counts_.begin());
}

}  // namespace ionsitu

// The self part of the van Hove function, G_s(r, t), from the displacement histograms of
// MsdCorrelator (set_distance_histogram) at the lags of its multiple-window scheme.  No
// LAMMPS, no MPI: fix vanhove and the Cython binding build the same table here.
//
// G_s(r, t) = <delta(r - |r_i(t0 + t) - r_i(t0)|)> over atoms and origins, a density in r
// (length^-3): bin b over [r_b, r_{b+1}) holds count_b / (pairs * 4/3 pi (r_{b+1}^3 - r_b^3)),
// so that sum_b G_s 4/3 pi (r_{b+1}^3 - r_b^3) = fraction of displacements below rmax (1
// when rmax covers them all), i.e. int 4 pi r^2 G_s dr = 1.

#pragma once

#include "box_geometry.h"
#include "msd_correlator.h"

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace ionsitu {

// Columns: lag_steps, time, n_origins, pairs ((atom, origin) pairs), msd, then gs_0 ..
// gs_{bins-1} (G_s in bin b).
std::vector<std::string> van_hove_self_columns(int bins);
// Row-major table nlags x (5 + bins) from the self sums and histogram totalled over ranks.
void fill_van_hove_self_table(const MsdCorrelator &corr, const std::vector<double> &self_total,
                              const std::vector<double> &hist_total, int64_t nevery, double dt,
                              std::vector<double> &table);
// Restart record: the correlator's record (MsdCorrelator::serialize) then the histogram.
std::vector<double> serialize_van_hove_self(const MsdCorrelator &corr, const std::vector<double> &self_total,
                                            const std::vector<double> &hist_total);
// keep_sums = false on all but one rank (rank-local sums must be counted once).
void deserialize_van_hove_self(MsdCorrelator &corr, const double *buf, size_t n, bool keep_sums);

// The distinct part of the van Hove function,
//   G_d(r, t) = (1/N) < sum_i sum_{j != i} delta(r - |r_j(t0 + t) - r_i(t0)|) >,
// over origins t0 = 0, M, 2M, ... samples (M = origin_every) and the lags t of `lags` (in
// samples, ascending, unique, >= 0), from stored reference snapshots of all N atoms.  Distances
// are minimum-image in the box of the later sample (triclinic-safe; rmax below half its
// shortest width, else std::invalid_argument); candidates come from a CellList of the later
// sample's positions, so one (origin, lag) pair costs O(N).  Bin b over [b w, (b + 1) w),
// w = rmax / bins, holds count_b / (n_origins N 4/3 pi ((b+1)^3 - b^3) w^3), so that
// G_d(r, 0) = rho g(r) with rho = (N - 1) / V.
class VanHoveDistinct {
 public:
  VanHoveDistinct(std::vector<int64_t> lags, int64_t origin_every, int bins, double rmax, int natoms);

  // One sample: x = all N atoms' positions (3 N, the same atom order every sample, any image),
  // `box` the current box.  Reference atoms i in [i0, i1) are counted here (a rank's share;
  // 0, N offline); the histogram is rank-local (total it over ranks), everything else global.
  void add_sample(const double *x, const Box &box, int i0, int i1);

  int nlags() const { return (int) lags_.size(); }
  const std::vector<int64_t> &lags() const { return lags_; }
  int64_t origin_every() const { return origin_every_; }
  int bins() const { return bins_; }
  double rmax() const { return rmax_; }
  int natoms() const { return natoms_; }
  int64_t nsamples() const { return nsamples_; }
  const std::vector<int64_t> &n_origins() const { return norigins_; }
  std::vector<double> &histogram() { return hist_; }    // [ilag * bins + b], integer counts
  const std::vector<double> &histogram() const { return hist_; }
  size_t reference_doubles() const { return refs_.size() * 3 * (size_t) natoms_; }
  // Most reference snapshots held at once (max lag / origin_every + 1).
  int64_t max_references() const { return lags_.back() / origin_every_ + 1; }

  // Columns lag_steps, time, n_origins, gd_0 .. gd_{bins-1}.
  std::vector<std::string> columns() const;
  void fill_table(const std::vector<double> &hist_total, int64_t nevery, double dt,
                  std::vector<double> &table) const;
  // Restart: counters, pending reference snapshots and the histogram totalled over ranks.
  std::vector<double> serialize(const std::vector<double> &hist_total) const;
  void deserialize(const double *buf, size_t n, bool keep_sums);

 private:
  std::vector<int64_t> lags_;
  int64_t origin_every_;
  int bins_;
  double rmax_, scale_;
  int natoms_;
  int64_t nsamples_ = 0;
  std::vector<int64_t> norigins_;
  std::vector<double> hist_;
  struct Reference {
    int64_t sample;
    std::vector<double> x;
  };
  std::deque<Reference> refs_;
  std::vector<double> frac_;
};

}  // namespace ionsitu

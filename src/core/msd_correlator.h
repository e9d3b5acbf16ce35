// Order-n multiple-window MSD correlator (Dubbeldam et al., Mol. Simul. 35 (2009) 1084)
// with self, collective and per-species cross terms.  No LAMMPS, no MPI: the fix and the
// Cython binding drive it with the same protocol.
//
// Samples s = 0, 1, 2, ... arrive at a fixed stride.  Level l (0 <= l < levels) holds the
// samples with s % block^l == 0 in a ring buffer of `block` positions per atom; its lags
// are k * block^l samples for k = 1 .. block-1.  Level 0 therefore averages every time
// origin exactly; level l averages the origins spaced block^l samples apart.
//
// Per sample:
//   begin_sample(volume);
//   add_atom(history_i, x_i, species_i)      for every atom (any order, any rank),
//     or add_atoms(n, histories, x, species)  for many at once (the same sums, faster)
//   collective_partial()                      summed over ranks (offline: as is)
//   end_sample(collective_total);
// `x` is the unwrapped position with the drift already removed.  The per-atom history
// (peratom_doubles() doubles) is owned by the caller so that it can migrate with atoms.
//
// Accumulators are split by how they combine across ranks:
//   self sums       rank-local, summed over ranks for results (and restart),
//   collective sums global, identical on every rank (they use the summed vectors).

#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ionsitu {

class MsdCorrelator {
 public:
  // self sums per lag: sum dx^2, dy^2, dz^2, |dr|^4, and the number of (atom, origin) pairs
  static constexpr int SELF_FIELDS = 5;

  MsdCorrelator(int block, int levels, int nspecies);

  int block() const { return block_; }
  int levels() const { return levels_; }
  int nspecies() const { return nspecies_; }
  int nlags() const { return levels_ * (block_ - 1); }
  int64_t lag_samples(int ilag) const;
  int peratom_doubles() const { return levels_ * block_ * 3; }
  int64_t nsamples() const { return nsamples_; }
  double volume_sum() const { return volume_sum_; }

  // Optional histogram of the displacement length |dr| per lag (the self part of the van
  // Hove function, G_s(r, t)): `bins` bins of width rmax / bins over [0, rmax), bin
  // floor(|dr| bins / rmax); |dr| >= rmax is not counted.  Rank-local like the self sums
  // (total them over ranks for results).  Call before the first sample.
  void set_distance_histogram(int bins, double rmax);
  int histogram_bins() const { return hbins_; }
  double histogram_rmax() const { return hrmax_; }
  // counts[ilag * bins + b] (integers held in doubles, exact below 2^53)
  std::vector<double> &distance_histogram() { return hist_; }
  const std::vector<double> &distance_histogram() const { return hist_; }

  // ---- one sample ----
  void begin_sample(double volume);
  // species in [-1, nspecies): -1 takes part in self and group-collective terms only
  void add_atom(double *history, const double x[3], int species);
  // n atoms at once (the same sums, bitwise, as add_atom for each in this order, faster):
  // histories[i] atom i's history, x its 3 coordinates at x[3 i], species[i] as above.
  void add_atoms(int n, double *const *histories, const double *x, const int *species);
  std::vector<double> &collective_partial() { return partial_; }
  void end_sample(const double *collective_total);

  // ---- accumulators ----
  std::vector<double> &self_sums() { return self_; }
  const std::vector<double> &self_sums() const { return self_; }
  const std::vector<double> &collective_sums() const { return coll_; }
  const std::vector<int64_t> &n_origins() const { return norigins_; }

  // ---- results ----
  // Column names; `type_labels` names the species (LAMMPS atom types) for headers.
  std::vector<std::string> column_names(const std::vector<int> &type_labels) const;
  // Fill a row-major table nlags x column_names().size() from self sums totalled over
  // all ranks.  `charges` has nspecies entries (ignored when nspecies == 0).
  void fill_table(const std::vector<double> &self_total, const std::vector<double> &charges,
                  int64_t nevery, double dt, std::vector<double> &table) const;

  // ---- restart ----
  // Global state.  `self_total` replaces the rank-local self sums in the record so that
  // a restart on any number of ranks keeps every statistic exactly once.
  std::vector<double> serialize(const std::vector<double> &self_total) const;
  // keep_self = false on all but one rank (the totals must be counted once).
  void deserialize(const double *buf, size_t n, bool keep_self);

 private:
  int block_, levels_, nspecies_, npairs_;
  int64_t nsamples_ = 0;
  int nactive_ = 0;                  // levels taking part in the current sample
  double volume_sum_ = 0.0;
  std::vector<int64_t> level_count_; // samples held by each level so far
  std::vector<int> level_kmax_;      // current sample: lags with an origin, per active level
  std::vector<int> level_now_;       // current sample: its ring slot, per active level
  int64_t natoms_sample_ = 0;        // atoms added in the current sample
  std::vector<int64_t> norigins_;    // per lag
  std::vector<double> self_;         // per lag, SELF_FIELDS
  std::vector<double> coll_;         // per lag, per species pair (v <= w), xyz
  std::vector<double> partial_;      // per active lag, per vector (group + species), xyz
  int hbins_ = 0;                    // distance histogram (0: none)
  double hrmax_ = 0.0, hscale_ = 0.0;  // hscale_ = bins / rmax
  std::vector<double> hist_;         // per lag, hbins_ counts

  int pair_index(int v, int w) const;  // v <= w over 1 + nspecies vectors
};

// Write `text` to `path` atomically (temporary file in the same folder, then rename).
// Throws std::runtime_error naming the path on failure.
void write_file_atomic(const std::string &path, const std::string &text);

// The versioned text format of MSD results (version 2, docs/file_formats.md; read by
// ionsitu.read_msd).  `meta_json` is one line of JSON.
std::string format_msd_text(const std::string &meta_json, const std::vector<std::string> &names,
                            const std::vector<double> &table);

}  // namespace ionsitu

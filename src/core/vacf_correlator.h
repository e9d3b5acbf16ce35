// Velocity autocorrelation over every time origin at lags 0 .. block-1 samples, per
// direction, for a group and per species, and per atom.  No LAMMPS, no MPI: the fix and
// the Cython binding drive it with the same protocol.
//
// Samples s = 0, 1, 2, ... arrive at a fixed stride.  Each atom keeps a ring of the last
// `block` velocities (owned by the caller, peratom_doubles() doubles, so that it can
// migrate with the atom) followed by its own sums over origins of v(t0).v(t0+k) per lag k.
// At sample s every origin s-k (k = 0 .. min(s, block-1)) is correlated with s, so lag k
// averages the nsamples - k origins exactly (n_origins(k)).
//
// Per sample:
//   begin_sample();
//   add_atom(history_i, v_i, species_i)   for every atom of the group (any order, any rank)
//   end_sample();
//
// The sums are rank-local (each rank adds its own atoms); results and restart records use
// their total over ranks.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ionsitu {

class VacfCorrelator {
 public:
  VacfCorrelator(int block, int nspecies);

  int block() const { return block_; }
  int nspecies() const { return nspecies_; }
  int nlags() const { return block_; }
  int peratom_doubles() const { return 4 * block_; }    // ring (3 block) + per-atom sums (block)
  int64_t nsamples() const { return nsamples_; }
  int64_t n_origins(int k) const { return nsamples_ > k ? nsamples_ - k : 0; }

  // ---- one sample ----
  void begin_sample() {}
  // species in [-1, nspecies): -1 takes part in the group sums only
  void add_atom(double *history, const double v[3], int species);
  void end_sample() { ++nsamples_; }

  // ---- accumulators ----
  // sums[(k * (1 + nspecies) + g) * 3 + d] of v_d(t0) v_d(t0+k) over atoms and origins,
  // g = 0 the group, g = 1 + s species s
  const std::vector<double> &sums() const { return sums_; }
  // per-atom sums over origins of v(t0).v(t0+k), k = 0 .. block-1, inside `history`
  const double *atom_sums(const double *history) const { return history + 3 * block_; }

  // ---- results ----
  std::vector<std::string> column_names(const std::vector<int> &type_labels) const;
  // Row-major table nlags x column_names().size() from `sums_total` (sums() totalled over
  // ranks) and the atom counts of the group and of each species.
  void fill_table(const std::vector<double> &sums_total, int64_t natoms,
                  const std::vector<int64_t> &species_counts, int64_t nevery, double dt,
                  std::vector<double> &table) const;
  // Per-atom VACF <v(t0).v(t0+k)> over the origins, k = 0 .. block-1, into out[block].
  void atom_vacf(const double *history, double *out) const;

  // ---- restart ----
  std::vector<double> serialize(const std::vector<double> &sums_total) const;
  // keep_sums = false on all but one rank (the totals must be counted once).
  void deserialize(const double *buf, size_t n, bool keep_sums);

 private:
  int block_, nspecies_;
  int64_t nsamples_ = 0;
  std::vector<double> sums_;
};

// The versioned text layout of the MSD file (format_msd_text) with another tag: column names on line 1, then
// `# <tag> <version>`, `# meta <meta_json>`, then the rows (%.17g).
std::string format_tagged_table(const std::string &tag, int version, const std::string &meta_json,
                                const std::vector<std::string> &names, const std::vector<double> &table);

}  // namespace ionsitu

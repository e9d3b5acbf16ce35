#include "vacf_correlator.h"

#include "msd_correlator.h"    // format_msd_text

#include <algorithm>
#include <stdexcept>

namespace ionsitu {

static const char *const XYZT[4] = {"_x", "_y", "_z", ""};

VacfCorrelator::VacfCorrelator(int block, int nspecies) : block_(block), nspecies_(nspecies)
{
  if (block < 1) throw std::invalid_argument("block length must be >= 1, got " + std::to_string(block));
  if (nspecies < 0) throw std::invalid_argument("number of species must be >= 0, got " + std::to_string(nspecies));
  sums_.assign((size_t) block * (1 + nspecies) * 3, 0.0);
}

void VacfCorrelator::add_atom(double *history, const double v[3], int species)
{
  const int ngroups = 1 + nspecies_;
  double *ring = history;
  double *own = history + 3 * block_;
  const int now = (int) (nsamples_ % block_);
  const double v0 = v[0], v1 = v[1], v2 = v[2];
  double *dst = ring + 3 * now;
  dst[0] = v0;
  dst[1] = v1;
  dst[2] = v2;
  const int kmax = (int) std::min<int64_t>(block_ - 1, nsamples_);
  // origins k samples back sit at ring slot now - k, wrapping once: two contiguous spans
  auto span = [&](int k0, int k1, int offset) {
    for (int k = k0; k <= k1; ++k) {
      const double *old = ring + 3 * (offset - k);
      const double p0 = old[0] * v0, p1 = old[1] * v1, p2 = old[2] * v2;
      double *s = &sums_[(size_t) k * ngroups * 3];
      s[0] += p0;
      s[1] += p1;
      s[2] += p2;
      own[k] += p0 + p1 + p2;
    }
    if (species < 0) return;
    for (int k = k0; k <= k1; ++k) {
      const double *old = ring + 3 * (offset - k);
      double *s = &sums_[((size_t) k * ngroups + 1 + species) * 3];
      s[0] += old[0] * v0;
      s[1] += old[1] * v1;
      s[2] += old[2] * v2;
    }
  };
  span(0, std::min(now, kmax), now);
  if (kmax > now) span(now + 1, kmax, now + block_);
}

std::vector<std::string> VacfCorrelator::column_names(const std::vector<int> &type_labels) const
{
  if ((int) type_labels.size() != nspecies_)
    throw std::invalid_argument("column_names: need one label per species");
  std::vector<std::string> names = {"lag_steps", "time", "n_origins"};
  for (auto d : XYZT) names.push_back(std::string("vacf") + d);
  names.push_back("vacf_norm");
  for (int s = 0; s < nspecies_; ++s) {
    const std::string t = "vacf_" + std::to_string(type_labels[s]);
    for (auto d : XYZT) names.push_back(t + d);
    names.push_back(t + "_norm");
  }
  return names;
}

void VacfCorrelator::fill_table(const std::vector<double> &sums_total, int64_t natoms,
                                const std::vector<int64_t> &species_counts, int64_t nevery, double dt,
                                std::vector<double> &table) const
{
  if (sums_total.size() != sums_.size()) throw std::invalid_argument("fill_table: sums of wrong size");
  if ((int) species_counts.size() != nspecies_)
    throw std::invalid_argument("fill_table: need one atom count per species");
  const int ngroups = 1 + nspecies_;
  const size_t ncols = 3 + 5 * (size_t) ngroups;
  table.assign((size_t) block_ * ncols, 0.0);
  std::vector<double> c0(ngroups, 0.0);
  for (int k = 0; k < block_; ++k) {
    double *row = &table[k * ncols];
    row[0] = (double) k * (double) nevery;
    row[1] = row[0] * dt;
    row[2] = (double) n_origins(k);
    if (n_origins(k) == 0) continue;
    for (int g = 0; g < ngroups; ++g) {
      const double count = (double) (g == 0 ? natoms : species_counts[g - 1]);
      if (count <= 0) continue;
      const double *s = &sums_total[((size_t) k * ngroups + g) * 3];
      const double scale = 1.0 / (count * (double) n_origins(k));
      double *col = row + 3 + 5 * g;
      col[0] = s[0] * scale;
      col[1] = s[1] * scale;
      col[2] = s[2] * scale;
      col[3] = col[0] + col[1] + col[2];
      if (k == 0) c0[g] = col[3];
      col[4] = c0[g] > 0.0 ? col[3] / c0[g] : 0.0;
    }
  }
}

void VacfCorrelator::atom_vacf(const double *history, double *out) const
{
  const double *own = atom_sums(history);
  for (int k = 0; k < block_; ++k) out[k] = n_origins(k) > 0 ? own[k] / (double) n_origins(k) : 0.0;
}

std::vector<double> VacfCorrelator::serialize(const std::vector<double> &sums_total) const
{
  if (sums_total.size() != sums_.size()) throw std::invalid_argument("serialize: sums of wrong size");
  std::vector<double> buf = {1.0 /* record version */, (double) block_, (double) nspecies_, (double) nsamples_};
  buf.insert(buf.end(), sums_total.begin(), sums_total.end());
  return buf;
}

void VacfCorrelator::deserialize(const double *buf, size_t n, bool keep_sums)
{
  if (n < 4 || buf[0] != 1.0) throw std::runtime_error("VACF restart record: unknown version");
  if ((int) buf[1] != block_ || (int) buf[2] != nspecies_)
    throw std::runtime_error("VACF restart record has block " + std::to_string((int) buf[1]) + " and " +
                             std::to_string((int) buf[2]) + " species; the fix now has " +
                             std::to_string(block_) + " and " + std::to_string(nspecies_));
  if (n != 4 + sums_.size()) throw std::runtime_error("VACF restart record has the wrong size");
  nsamples_ = (int64_t) buf[3];
  for (size_t i = 0; i < sums_.size(); ++i) sums_[i] = keep_sums ? buf[4 + i] : 0.0;
}

std::string format_tagged_table(const std::string &tag, int version, const std::string &meta_json,
                                const std::vector<std::string> &names, const std::vector<double> &table)
{
  // The layout is the MSD file's (version 2, one writer): only its tag line (line 2) differs.
  std::string text = format_msd_text(meta_json, names, table);
  const size_t begin = text.find('\n') + 1, end = text.find('\n', begin);
  return text.replace(begin, end - begin, "# " + tag + " " + std::to_string(version));
}

}  // namespace ionsitu

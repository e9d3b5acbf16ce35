#include "van_hove.h"

#include "cell_list.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace ionsitu {

std::vector<std::string> van_hove_self_columns(int bins)
{
  std::vector<std::string> names = {"lag_steps", "time", "n_origins", "pairs", "msd"};
  for (int b = 0; b < bins; ++b) names.push_back("gs_" + std::to_string(b));
  return names;
}

void fill_van_hove_self_table(const MsdCorrelator &corr, const std::vector<double> &self_total,
                              const std::vector<double> &hist_total, int64_t nevery, double dt,
                              std::vector<double> &table)
{
  const int bins = corr.histogram_bins();
  if (bins < 1) throw std::invalid_argument("fill_van_hove_self_table: the correlator has no histogram");
  if (self_total.size() != corr.self_sums().size() || hist_total.size() != corr.distance_histogram().size())
    throw std::invalid_argument("fill_van_hove_self_table: sums of wrong size");
  const int F = MsdCorrelator::SELF_FIELDS;
  const size_t ncols = 5 + (size_t) bins;
  const double width = corr.histogram_rmax() / bins;
  std::vector<double> shell(bins);
  for (int b = 0; b < bins; ++b) {
    const double lo = b * width, hi = (b + 1) * width;
    shell[b] = 4.0 / 3.0 * M_PI * (hi * hi * hi - lo * lo * lo);
  }
  table.assign((size_t) corr.nlags() * ncols, 0.0);
  for (int ilag = 0; ilag < corr.nlags(); ++ilag) {
    double *row = &table[ilag * ncols];
    const int64_t lag = corr.lag_samples(ilag) * nevery;
    const double *s = &self_total[(size_t) ilag * F];
    row[0] = (double) lag;
    row[1] = (double) lag * dt;
    row[2] = (double) corr.n_origins()[ilag];
    row[3] = s[4];
    if (s[4] == 0.0) continue;
    row[4] = (s[0] + s[1] + s[2]) / s[4];
    const double *h = &hist_total[(size_t) ilag * bins];
    for (int b = 0; b < bins; ++b) row[5 + b] = h[b] / (s[4] * shell[b]);
  }
}

std::vector<double> serialize_van_hove_self(const MsdCorrelator &corr, const std::vector<double> &self_total,
                                            const std::vector<double> &hist_total)
{
  if (hist_total.size() != corr.distance_histogram().size())
    throw std::invalid_argument("serialize_van_hove_self: histogram of wrong size");
  std::vector<double> buf = corr.serialize(self_total);
  buf.insert(buf.end(), hist_total.begin(), hist_total.end());
  return buf;
}

void deserialize_van_hove_self(MsdCorrelator &corr, const double *buf, size_t n, bool keep_sums)
{
  std::vector<double> &hist = corr.distance_histogram();
  if (n < hist.size()) throw std::runtime_error("van Hove restart record has the wrong size");
  const size_t head = n - hist.size();
  corr.deserialize(buf, head, keep_sums);
  for (size_t i = 0; i < hist.size(); ++i) hist[i] = keep_sums ? buf[head + i] : 0.0;
}

/* ---------------- distinct part ---------------- */

VanHoveDistinct::VanHoveDistinct(std::vector<int64_t> lags, int64_t origin_every, int bins, double rmax, int natoms) :
    lags_(std::move(lags)), origin_every_(origin_every), bins_(bins), rmax_(rmax), natoms_(natoms)
{
  if (lags_.empty()) throw std::invalid_argument("distinct lags: need at least one lag");
  for (size_t k = 0; k < lags_.size(); ++k) {
    if (lags_[k] < 0) throw std::invalid_argument("distinct lags must be >= 0, got " + std::to_string(lags_[k]));
    if (k > 0 && lags_[k] <= lags_[k - 1])
      throw std::invalid_argument("distinct lags must be ascending and unique, got " + std::to_string(lags_[k - 1]) +
                                  " then " + std::to_string(lags_[k]));
  }
  if (origin_every_ < 1)
    throw std::invalid_argument("origin interval must be >= 1 sample, got " + std::to_string(origin_every_));
  if (bins_ < 1) throw std::invalid_argument("histogram bins must be >= 1, got " + std::to_string(bins_));
  if (!(rmax_ > 0.0) || !std::isfinite(rmax_))
    throw std::invalid_argument("histogram rmax must be > 0, got " + std::to_string(rmax_));
  if (natoms_ < 1) throw std::invalid_argument("distinct part: need atoms, got " + std::to_string(natoms_));
  scale_ = (double) bins_ / rmax_;
  norigins_.assign(lags_.size(), 0);
  hist_.assign(lags_.size() * (size_t) bins_, 0.0);
}

void VanHoveDistinct::add_sample(const double *x, const Box &box, int i0, int i1)
{
  if (!(rmax_ < box.min_half_width()))
    throw std::invalid_argument("rmax " + std::to_string(rmax_) + " must be below half the shortest box width (" +
                                std::to_string(box.min_half_width()) + ")");
  const int64_t s = nsamples_;
  if (s % origin_every_ == 0) refs_.push_back({s, std::vector<double>(x, x + 3 * (size_t) natoms_)});
  CellList cells;
  CellList::Reach reach;
  for (const Reference &ref : refs_) {
    const int64_t lag = s - ref.sample;
    const auto it = std::lower_bound(lags_.begin(), lags_.end(), lag);
    if (it == lags_.end() || *it != lag) continue;
    const size_t k = (size_t) (it - lags_.begin());
    if (cells.empty()) {
      frac_.resize(3 * (size_t) natoms_);
      for (int j = 0; j < natoms_; ++j) box.to_frac(x + 3 * (size_t) j, &frac_[3 * (size_t) j]);
      cells.build(natoms_, frac_.data(), box, rmax_);
      reach = cells.reach(box, rmax_);
    }
    double *h = &hist_[k * bins_];
    for (int i = i0; i < i1; ++i) {
      const double *xi = &ref.x[3 * (size_t) i];
      double si[3];
      box.to_frac(xi, si);
      cells.for_each_candidate(reach, si, [&](int j) {
        if (j == i) return;
        double d[3];
        box.delta(xi, x + 3 * (size_t) j, d);
        const double b = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) * scale_;
        if (b < (double) bins_) h[(int) b] += 1.0;
      });
    }
    ++norigins_[k];
  }
  while (!refs_.empty() && s - refs_.front().sample >= lags_.back()) refs_.pop_front();
  ++nsamples_;
}

std::vector<std::string> VanHoveDistinct::columns() const
{
  std::vector<std::string> names = {"lag_steps", "time", "n_origins"};
  for (int b = 0; b < bins_; ++b) names.push_back("gd_" + std::to_string(b));
  return names;
}

void VanHoveDistinct::fill_table(const std::vector<double> &hist_total, int64_t nevery, double dt,
                                 std::vector<double> &table) const
{
  if (hist_total.size() != hist_.size()) throw std::invalid_argument("VanHoveDistinct::fill_table: histogram of wrong size");
  const size_t ncols = 3 + (size_t) bins_;
  const double width = rmax_ / bins_;
  table.assign(lags_.size() * ncols, 0.0);
  for (size_t k = 0; k < lags_.size(); ++k) {
    double *row = &table[k * ncols];
    row[0] = (double) (lags_[k] * nevery);
    row[1] = row[0] * dt;
    row[2] = (double) norigins_[k];
    if (norigins_[k] == 0) continue;
    const double norm = (double) norigins_[k] * (double) natoms_;
    for (int b = 0; b < bins_; ++b) {
      const double lo = b * width, hi = (b + 1) * width;
      const double shell = 4.0 / 3.0 * M_PI * (hi * hi * hi - lo * lo * lo);
      row[3 + b] = hist_total[k * bins_ + b] / (norm * shell);
    }
  }
}

std::vector<double> VanHoveDistinct::serialize(const std::vector<double> &hist_total) const
{
  if (hist_total.size() != hist_.size()) throw std::invalid_argument("VanHoveDistinct::serialize: histogram of wrong size");
  std::vector<double> buf = {1.0 /* record version */, (double) lags_.size(), (double) bins_, (double) natoms_,
                             (double) nsamples_, (double) refs_.size()};
  buf.insert(buf.end(), norigins_.begin(), norigins_.end());
  buf.insert(buf.end(), hist_total.begin(), hist_total.end());
  for (const Reference &ref : refs_) {
    buf.push_back((double) ref.sample);
    buf.insert(buf.end(), ref.x.begin(), ref.x.end());
  }
  return buf;
}

void VanHoveDistinct::deserialize(const double *buf, size_t n, bool keep_sums)
{
  if (n < 6 || buf[0] != 1.0) throw std::runtime_error("van Hove distinct restart record: unknown version");
  if ((size_t) buf[1] != lags_.size() || (int) buf[2] != bins_ || (int) buf[3] != natoms_)
    throw std::runtime_error("van Hove distinct restart record has " + std::to_string((int) buf[1]) + " lags, " +
                             std::to_string((int) buf[2]) + " bins, " + std::to_string((int) buf[3]) +
                             " atoms; the fix now has " + std::to_string(lags_.size()) + ", " +
                             std::to_string(bins_) + ", " + std::to_string(natoms_));
  const size_t nrefs = (size_t) buf[5];
  const size_t expected = 6 + norigins_.size() + hist_.size() + nrefs * (1 + 3 * (size_t) natoms_);
  if (n != expected) throw std::runtime_error("van Hove distinct restart record has the wrong size");
  const double *p = buf + 4;
  nsamples_ = (int64_t) *p;
  p = buf + 6;
  for (auto &o : norigins_) o = (int64_t) *p++;
  for (auto &h : hist_) h = keep_sums ? *p : 0.0, ++p;
  refs_.clear();
  for (size_t r = 0; r < nrefs; ++r) {
    Reference ref;
    ref.sample = (int64_t) *p++;
    ref.x.assign(p, p + 3 * (size_t) natoms_);
    p += 3 * (size_t) natoms_;
    refs_.push_back(std::move(ref));
  }
}

}  // namespace ionsitu

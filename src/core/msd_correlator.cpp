#include "msd_correlator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace ionsitu {

static const char *const XYZT[4] = {"_x", "_y", "_z", ""};

MsdCorrelator::MsdCorrelator(int block, int levels, int nspecies)
    : block_(block), levels_(levels), nspecies_(nspecies)
{
  if (block < 2) throw std::invalid_argument("block length must be >= 2, got " + std::to_string(block));
  if (levels < 1) throw std::invalid_argument("number of levels must be >= 1, got " + std::to_string(levels));
  if (nspecies < 0) throw std::invalid_argument("number of species must be >= 0");
  double reach = (block - 1.0);
  for (int l = 1; l < levels; ++l) reach *= block;
  if (reach > 9.0e18) throw std::invalid_argument("block^levels overflows the lag counter");
  const int nvec = 1 + nspecies;
  npairs_ = nvec * (nvec + 1) / 2;
  level_count_.assign(levels, 0);
  level_kmax_.assign(levels, 0);
  level_now_.assign(levels, 0);
  norigins_.assign(nlags(), 0);
  self_.assign((size_t) nlags() * SELF_FIELDS, 0.0);
  coll_.assign((size_t) nlags() * npairs_ * 3, 0.0);
  partial_.assign((size_t) nlags() * nvec * 3, 0.0);
}

int64_t MsdCorrelator::lag_samples(int ilag) const
{
  int64_t stride = 1;
  for (int l = 0; l < ilag / (block_ - 1); ++l) stride *= block_;
  return (ilag % (block_ - 1) + 1) * stride;
}

void MsdCorrelator::set_distance_histogram(int bins, double rmax)
{
  if (bins < 1) throw std::invalid_argument("histogram bins must be >= 1, got " + std::to_string(bins));
  if (!(rmax > 0.0) || !std::isfinite(rmax))
    throw std::invalid_argument("histogram rmax must be > 0, got " + std::to_string(rmax));
  if (nsamples_ != 0) throw std::logic_error("set_distance_histogram after the first sample");
  hbins_ = bins;
  hrmax_ = rmax;
  hscale_ = (double) bins / rmax;
  hist_.assign((size_t) nlags() * bins, 0.0);
}

int MsdCorrelator::pair_index(int v, int w) const
{
  // row-major upper triangle of a (1 + nspecies)^2 matrix
  const int nvec = 1 + nspecies_;
  return v * nvec - v * (v - 1) / 2 + (w - v);
}

void MsdCorrelator::begin_sample(double volume)
{
  nactive_ = 1;
  int64_t stride = block_;
  while (nactive_ < levels_ && nsamples_ % stride == 0) {
    ++nactive_;
    stride *= block_;
  }
  for (int l = 0; l < nactive_; ++l) {
    const int64_t j = level_count_[l];
    level_kmax_[l] = (int) std::min<int64_t>(block_ - 1, j);
    level_now_[l] = (int) (j % block_);
  }
  natoms_sample_ = 0;
  volume_sum_ += volume;
  std::fill(partial_.begin(), partial_.begin() + (size_t) nactive_ * (block_ - 1) * (1 + nspecies_) * 3, 0.0);
}

void MsdCorrelator::add_atom(double *history, const double x[3], int species)
{
  add_atoms(1, &history, x, &species);
}

void MsdCorrelator::add_atoms(int n, double *const *histories, const double *x, const int *species)
{
  // Blocks of atoms, lag by lag: the group and self sums of a lag stay in registers over a
  // block and take the atoms' terms in atom order, exactly as one add_atom per atom did
  // (bitwise the same sums, fewer loads and stores); a block's rings stay in cache.
  constexpr int CHUNK = 64;
  const int pstride = (1 + nspecies_) * 3;
  for (int i0 = 0; i0 < n; i0 += CHUNK) {
    const int i1 = std::min(n, i0 + CHUNK);
    for (int l = 0; l < nactive_; ++l) {
      const int now = level_now_[l];
      const size_t ring0 = (size_t) l * block_ * 3;
      const size_t lag0 = (size_t) l * (block_ - 1);
      for (int k = 1; k <= level_kmax_[l]; ++k) {
        const int slot = now >= k ? now - k : now - k + block_;
        const size_t off = ring0 + 3 * (size_t) slot;
        double *s = &self_[(lag0 + k - 1) * SELF_FIELDS];
        double *p = &partial_[(lag0 + k - 1) * pstride];
        double s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], p0 = p[0], p1 = p[1], p2 = p[2];
        for (int i = i0; i < i1; ++i) {
          const double *old = histories[i] + off;
          const double *xi = x + 3 * (size_t) i;
          const double d0 = xi[0] - old[0], d1 = xi[1] - old[1], d2 = xi[2] - old[2];
          const double q0 = d0 * d0, q1 = d1 * d1, q2 = d2 * d2;
          const double r2 = q0 + q1 + q2;
          s0 += q0;
          s1 += q1;
          s2 += q2;
          s3 += r2 * r2;
          p0 += d0;
          p1 += d1;
          p2 += d2;
          const int sp = species[i];
          if (sp >= 0) {
            double *ps = p + 3 * (1 + sp);
            ps[0] += d0;
            ps[1] += d1;
            ps[2] += d2;
          }
        }
        s[0] = s0;
        s[1] = s1;
        s[2] = s2;
        s[3] = s3;
        p[0] = p0;
        p[1] = p1;
        p[2] = p2;
        if (hbins_ > 0) {
          double *h = &hist_[(lag0 + k - 1) * hbins_];
          for (int i = i0; i < i1; ++i) {
            const double *old = histories[i] + off;
            const double *xi = x + 3 * (size_t) i;
            const double d0 = xi[0] - old[0], d1 = xi[1] - old[1], d2 = xi[2] - old[2];
            const double b = std::sqrt(d0 * d0 + d1 * d1 + d2 * d2) * hscale_;
            if (b < (double) hbins_) h[(int) b] += 1.0;
          }
        }
      }
      for (int i = i0; i < i1; ++i) {
        double *dst = histories[i] + ring0 + 3 * (size_t) now;
        const double *xi = x + 3 * (size_t) i;
        dst[0] = xi[0];
        dst[1] = xi[1];
        dst[2] = xi[2];
      }
    }
  }
  natoms_sample_ += n;
}

void MsdCorrelator::end_sample(const double *total)
{
  const int nvec = 1 + nspecies_;
  for (int l = 0; l < nactive_; ++l) {
    const int64_t j = level_count_[l];
    const int kmax = (int) std::min<int64_t>(block_ - 1, j);
    for (int k = 1; k <= kmax; ++k) {
      const int ilag = l * (block_ - 1) + (k - 1);
      // (atom, origin) pairs of this sample: one per atom added (an integer sum, exact)
      self_[(size_t) ilag * SELF_FIELDS + 4] += (double) natoms_sample_;
      const double *t = total + (size_t) ilag * nvec * 3;
      double *c = &coll_[(size_t) ilag * npairs_ * 3];
      for (int v = 0; v < nvec; ++v)
        for (int w = v; w < nvec; ++w) {
          double *cp = c + 3 * pair_index(v, w);
          for (int d = 0; d < 3; ++d) cp[d] += t[3 * v + d] * t[3 * w + d];
        }
      ++norigins_[ilag];
    }
    ++level_count_[l];
  }
  natoms_sample_ = 0;
  ++nsamples_;
}

std::vector<std::string> MsdCorrelator::column_names(const std::vector<int> &type_labels) const
{
  if ((int) type_labels.size() != nspecies_)
    throw std::invalid_argument("column_names: need one label per species");
  std::vector<std::string> names = {"lag_steps", "time", "n_origins"};
  for (auto d : XYZT) names.push_back(std::string("msd") + d);
  names.push_back("msd4");
  for (auto d : XYZT) names.push_back(std::string("coll") + d);
  if (nspecies_ > 0) {
    for (auto d : XYZT) names.push_back(std::string("charge") + d);
    for (int a = 0; a < nspecies_; ++a)
      for (int b = a; b < nspecies_; ++b)
        for (auto d : XYZT)
          names.push_back("onsager_" + std::to_string(type_labels[a]) + "_" + std::to_string(type_labels[b]) + d);
  }
  return names;
}

void MsdCorrelator::fill_table(const std::vector<double> &self_total, const std::vector<double> &charges,
                               int64_t nevery, double dt, std::vector<double> &table) const
{
  if (self_total.size() != self_.size()) throw std::invalid_argument("fill_table: self sums of wrong size");
  if (nspecies_ > 0 && (int) charges.size() != nspecies_)
    throw std::invalid_argument("fill_table: need one charge per species");
  const int npairs_species = nspecies_ * (nspecies_ + 1) / 2;
  const size_t ncols = 12 + (nspecies_ > 0 ? 4 + 4 * npairs_species : 0);
  table.assign((size_t) nlags() * ncols, 0.0);
  for (int ilag = 0; ilag < nlags(); ++ilag) {
    double *row = &table[ilag * ncols];
    const int64_t lag = lag_samples(ilag) * nevery;
    row[0] = (double) lag;
    row[1] = (double) lag * dt;
    row[2] = (double) norigins_[ilag];
    const double *s = &self_total[(size_t) ilag * SELF_FIELDS];
    if (norigins_[ilag] == 0 || s[4] == 0.0) continue;
    const double pairs = s[4];
    const double natoms = pairs / (double) norigins_[ilag];
    const double cnorm = 1.0 / ((double) norigins_[ilag] * natoms);
    const double *c = &coll_[(size_t) ilag * npairs_ * 3];
    auto put_xyz = [](double *dst, const double *src, double scale) {
      dst[0] = src[0] * scale;
      dst[1] = src[1] * scale;
      dst[2] = src[2] * scale;
      dst[3] = dst[0] + dst[1] + dst[2];
    };
    put_xyz(row + 3, s, 1.0 / pairs);
    row[7] = s[3] / pairs;
    put_xyz(row + 8, c + 3 * pair_index(0, 0), cnorm);
    if (nspecies_ == 0) continue;
    double charge[3] = {0.0, 0.0, 0.0};
    double *col = row + 16;
    for (int a = 0; a < nspecies_; ++a)
      for (int b = a; b < nspecies_; ++b) {
        const double *cp = c + 3 * pair_index(1 + a, 1 + b);
        const double weight = charges[a] * charges[b] * (a == b ? 1.0 : 2.0);
        for (int d = 0; d < 3; ++d) charge[d] += weight * cp[d];
        put_xyz(col, cp, cnorm);
        col += 4;
      }
    put_xyz(row + 12, charge, cnorm);
  }
}

std::vector<double> MsdCorrelator::serialize(const std::vector<double> &self_total) const
{
  if (self_total.size() != self_.size()) throw std::invalid_argument("serialize: self sums of wrong size");
  std::vector<double> buf = {1.0 /* record version */, (double) block_, (double) levels_, (double) nspecies_,
                             (double) nsamples_, volume_sum_};
  for (auto c : level_count_) buf.push_back((double) c);
  for (auto n : norigins_) buf.push_back((double) n);
  buf.insert(buf.end(), self_total.begin(), self_total.end());
  buf.insert(buf.end(), coll_.begin(), coll_.end());
  return buf;
}

void MsdCorrelator::deserialize(const double *buf, size_t n, bool keep_self)
{
  const size_t expected = 6 + level_count_.size() + norigins_.size() + self_.size() + coll_.size();
  if (n < 6 || buf[0] != 1.0) throw std::runtime_error("MSD restart record: unknown version");
  if ((int) buf[1] != block_ || (int) buf[2] != levels_ || (int) buf[3] != nspecies_)
    throw std::runtime_error("MSD restart record has block " + std::to_string((int) buf[1]) + ", levels " +
                             std::to_string((int) buf[2]) + ", species " + std::to_string((int) buf[3]) +
                             "; the fix now has " + std::to_string(block_) + ", " + std::to_string(levels_) +
                             ", " + std::to_string(nspecies_));
  if (n != expected) throw std::runtime_error("MSD restart record has the wrong size");
  const double *p = buf + 4;
  nsamples_ = (int64_t) *p++;
  volume_sum_ = *p++;
  for (auto &c : level_count_) c = (int64_t) *p++;
  for (auto &o : norigins_) o = (int64_t) *p++;
  for (auto &s : self_) s = keep_self ? *p : 0.0, ++p;
  for (auto &c : coll_) c = *p++;
}

void write_file_atomic(const std::string &path, const std::string &text)
{
  const std::string tmp = path + ".tmp";
  FILE *fp = std::fopen(tmp.c_str(), "w");
  if (!fp) throw std::runtime_error("cannot open " + tmp + " for writing");
  const bool ok = std::fwrite(text.data(), 1, text.size(), fp) == text.size();
  if (std::fclose(fp) != 0 || !ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
}

std::string format_msd_text(const std::string &meta_json, const std::vector<std::string> &names,
                            const std::vector<double> &table)
{
  // Version 2: the column names come first, bare, so that numpy.genfromtxt(names=True) and
  // pandas.read_csv(sep=r"\s+", comment="#") name the columns; the tag and meta lines are
  // comments after them (docs/file_formats.md).
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) text += (i ? " " : "") + names[i];
  text += "\n# ionsitu-msd 2\n# meta " + meta_json + "\n";
  char num[32];
  const size_t ncols = names.size();
  for (size_t i = 0; i < table.size(); ++i) {
    std::snprintf(num, sizeof num, "%.17g", table[i]);
    text += num;
    text += (i + 1) % ncols == 0 ? "\n" : " ";
  }
  return text;
}

}  // namespace ionsitu

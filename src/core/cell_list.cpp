// ionsitu core: periodic cell list. See cell_list.h.
#include "cell_list.h"

#include <stdexcept>
#include <string>

namespace ionsitu {

void CellList::build(int n, const double *s, const Box &box, double min_cell_width) {
  double w[3];
  box.widths(w);
  build(n, s, w, min_cell_width);
}

void CellList::build(int n, const double *s, const double w[3], double min_cell_width) {
  if (n < 0) throw std::invalid_argument("CellList: number of points must be >= 0, got " + std::to_string(n));
  if (!(min_cell_width > 0.0))
    throw std::invalid_argument("CellList: cell width must be > 0, got " + std::to_string(min_cell_width));
  double want[3];
  for (int k = 0; k < 3; ++k) want[k] = std::max(1.0, std::floor(w[k] / min_cell_width));
  const double cap = std::max(64.0, 4.0 * n);
  const double total = want[0] * want[1] * want[2];
  const double f = total > cap ? std::cbrt(cap / total) : 1.0;
  for (int k = 0; k < 3; ++k) n_[k] = static_cast<int>(std::max(1.0, std::floor(want[k] * f)));
  const int nc = n_[0] * n_[1] * n_[2];
  std::vector<int> cell(static_cast<std::size_t>(n));
  start_.assign(static_cast<std::size_t>(nc) + 1, 0);
  for (int i = 0; i < n; ++i) {
    const double *p = s + 3 * static_cast<std::size_t>(i);
    cell[i] = (cell_of(p[0], 0) * n_[1] + cell_of(p[1], 1)) * n_[2] + cell_of(p[2], 2);
    ++start_[cell[i] + 1];
  }
  for (int c = 0; c < nc; ++c) start_[c + 1] += start_[c];
  index_.assign(static_cast<std::size_t>(n), 0);
  std::vector<int> fill(start_.begin(), start_.end() - 1);
  for (int i = 0; i < n; ++i) index_[fill[cell[i]]++] = i;  // ascending i within each cell
}

CellList::Reach CellList::reach(const Box &box, double r) const {
  double w[3];
  box.widths(w);
  return reach(w, r);
}

CellList::Reach CellList::reach(const double w[3], double r) const {
  Reach out;
  for (int k = 0; k < 3; ++k) {
    // +1 cell: the point may sit anywhere in its own cell; the relative margin covers
    // rounding in the fractional coordinates of points right at the radius.
    const double cells = r * n_[k] / w[k] * (1.0 + 1e-9) + 1e-9;
    const double rk = std::floor(cells) + 1.0;
    if (!(2.0 * rk + 1.0 < n_[k])) {  // the whole axis (also r = inf / NaN widths)
      out.lo[k] = 0;
      out.span[k] = n_[k];
    } else {
      out.lo[k] = -static_cast<int>(rk);
      out.span[k] = 2 * static_cast<int>(rk) + 1;
    }
  }
  return out;
}

}  // namespace ionsitu

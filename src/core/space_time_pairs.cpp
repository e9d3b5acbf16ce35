// ionsitu core: pairs of events close in space and time. See space_time_pairs.h.
#include "space_time_pairs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <utility>
#include <stdexcept>
#include <string>

#include "cell_list.h"

namespace ionsitu {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Perpendicular widths of the cell with rows a, b, c: |det| / |area of the other two|.
void cell_widths(const double *c, double w[3]) {
  const double *r[3] = {c, c + 3, c + 6};
  double area[3];
  for (int k = 0; k < 3; ++k) {
    const double *u = r[(k + 1) % 3], *v = r[(k + 2) % 3];
    const double x = u[1] * v[2] - u[2] * v[1], y = u[2] * v[0] - u[0] * v[2], z = u[0] * v[1] - u[1] * v[0];
    area[k] = std::sqrt(x * x + y * y + z * z);
  }
  const double det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) -
                     r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
                     r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
  for (int k = 0; k < 3; ++k) w[k] = std::fabs(det) / area[k];
}

// ds . cell, row vector times the rows a, b, c.
inline void frac_to_cart(const double ds[3], const double *c, double d[3]) {
  for (int m = 0; m < 3; ++m) d[m] = ds[0] * c[m] + ds[1] * c[3 + m] + ds[2] * c[6 + m];
}

inline double norm2(const double d[3]) { return d[0] * d[0] + d[1] * d[1] + d[2] * d[2]; }

// std::floor without a library call (exact for |v| < 2^62; fractional differences are small).
inline double floor_fast(double v) {
  const double f = static_cast<double>(static_cast<std::int64_t>(v));
  return f > v ? f - 1.0 : f;
}

}  // namespace

void space_time_pairs(int n, const double *x, const double *cell, const double *t, const std::int64_t *group,
                      double window, double cutoff_sq, std::vector<std::int64_t> &a, std::vector<std::int64_t> &b) {
  if (n < 0) throw std::invalid_argument("space_time_pairs: number of events must be >= 0, got " + std::to_string(n));
  if (!(window >= 0.0) || !std::isfinite(window))
    throw std::invalid_argument("space_time_pairs: time window must be finite and >= 0, got " + num(window));
  if (!(cutoff_sq >= 0.0) || !std::isfinite(cutoff_sq))
    throw std::invalid_argument("space_time_pairs: squared cutoff must be finite and >= 0, got " + num(cutoff_sq));
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(t[i])) throw std::invalid_argument("space_time_pairs: time of event " + std::to_string(i) +
                                                          " is not finite: " + num(t[i]));
    for (int k = 0; k < 3; ++k)
      if (!std::isfinite(x[3 * static_cast<std::size_t>(i) + k]))
        throw std::invalid_argument("space_time_pairs: position of event " + std::to_string(i) + " is not finite");
  }
  if (n < 2) return;
  const double rc = std::sqrt(cutoff_sq);
  const std::size_t N = static_cast<std::size_t>(n);

  // time order (ties: input order), the events' data in that order
  std::vector<std::pair<double, int>> by_time(N);
  for (std::size_t i = 0; i < N; ++i) by_time[i] = {t[i], static_cast<int>(i)};
  std::sort(by_time.begin(), by_time.end());
  std::vector<int> order(N);
  for (std::size_t p = 0; p < N; ++p) order[p] = by_time[p].second;
  std::vector<double> ts(N), xs(3 * N), s(3 * N);
  std::vector<std::int64_t> gs(N);
  for (std::size_t p = 0; p < N; ++p) {
    const std::size_t i = static_cast<std::size_t>(order[p]);
    ts[p] = t[i];
    gs[p] = group[i];
    for (int k = 0; k < 3; ++k) xs[3 * p + k] = x[3 * i + k];
  }

  // fractional coordinates of the grid and the widths they are measured in
  double w[3];
  bool skewed = false;
  if (cell != nullptr) {
    for (int k = 0; k < 9; ++k)
      if (!std::isfinite(cell[k])) throw std::invalid_argument("space_time_pairs: cell is not finite");
    cell_widths(cell, w);
    if (!(w[0] > 0.0 && w[1] > 0.0 && w[2] > 0.0))
      throw std::invalid_argument("space_time_pairs: cell is singular (zero volume)");
    for (int r = 0; r < 3; ++r)
      for (int m = 0; m < 3; ++m)
        if (r != m && cell[3 * r + m] != 0.0) skewed = true;
    s = xs;
  } else {  // open boundaries: a box around the points, wider than the cutoff (no pair wraps)
    for (int k = 0; k < 3; ++k) {
      double lo = xs[k], hi = xs[k];
      for (std::size_t p = 0; p < N; ++p) {
        lo = std::min(lo, xs[3 * p + k]);
        hi = std::max(hi, xs[3 * p + k]);
      }
      w[k] = (hi - lo) + rc + 1.0;
      for (std::size_t p = 0; p < N; ++p) s[3 * p + k] = (xs[3 * p + k] - lo) / w[k];
    }
  }

  CellList cells;
  cells.build(n, s.data(), w, rc > 0.0 ? rc : 1.0);
  const CellList::Reach reach = cells.reach(w, rc);

  // the events cell by cell, as the cell list holds them (contiguous scans below)
  const std::vector<int> &idx = cells.points();
  std::vector<double> ct(N), cx(3 * N);
  std::vector<std::int64_t> cg(N);
  for (std::size_t k = 0; k < N; ++k) {
    const std::size_t p = static_cast<std::size_t>(idx[k]);
    ct[k] = ts[p];
    cg[k] = gs[p];
    for (int m = 0; m < 3; ++m) cx[3 * k + m] = xs[3 * p + m];
  }

  auto close = [&](const double *xp, const double *xq) {
    double d[3];
    if (cell == nullptr) {
      for (int k = 0; k < 3; ++k) d[k] = xq[k] - xp[k];
      return norm2(d) <= cutoff_sq;
    }
    double ds[3];
    for (int k = 0; k < 3; ++k) {
      ds[k] = xq[k] - xp[k];
      ds[k] -= floor_fast(ds[k] + 0.5);
    }
    frac_to_cart(ds, cell, d);
    if (norm2(d) <= cutoff_sq) return true;
    if (!skewed) return false;
    for (int k = 0; k < 3; ++k) ds[k] -= floor_fast(ds[k] + 0.5);
    double best = 0.0;
    bool first = true;
    for (int i = -1; i <= 1; ++i)
      for (int j = -1; j <= 1; ++j)
        for (int k = -1; k <= 1; ++k) {
          const double sh[3] = {ds[0] + i, ds[1] + j, ds[2] + k};
          frac_to_cart(sh, cell, d);
          const double r2 = norm2(d);
          if (first || r2 < best) best = r2;
          first = false;
        }
    return best <= cutoff_sq;
  };

  // Events in time order p = 0, 1, ...: in each cell the events after p start at a cursor
  // that only moves forward (each cell's events are in ascending p, i.e. time).
  std::vector<std::size_t> cursor(static_cast<std::size_t>(cells.ncells()), 0);
  const int *base = idx.data();
  for (std::size_t p = 0; p < N; ++p) {
    const double tp = ts[p];
    const std::int64_t gp = gs[p];
    const double *xp = &xs[3 * p];
    const int ip = static_cast<int>(p);
    cells.for_each_cell(reach, &s[3 * p], [&](int c, const int *first, const int *last) {
      const std::size_t lo = static_cast<std::size_t>(first - base), end = static_cast<std::size_t>(last - base);
      std::size_t k = lo + cursor[c];
      while (k < end && idx[k] <= ip) ++k;
      cursor[c] = k - lo;
      for (; k < end; ++k) {
        if (ct[k] - tp > window) break;
        if (cg[k] == gp || !close(xp, &cx[3 * k])) continue;
        a.push_back(order[p]);
        b.push_back(order[static_cast<std::size_t>(idx[k])]);
      }
    });
  }
}

int pair_components(int n, std::int64_t m, const std::int64_t *a, const std::int64_t *b, std::int64_t *label) {
  if (n < 0) throw std::invalid_argument("pair_components: number of nodes must be >= 0, got " + std::to_string(n));
  std::vector<int> parent(static_cast<std::size_t>(n));
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](int i) {
    while (parent[i] != i) {
      parent[i] = parent[parent[i]];  // path halving
      i = parent[i];
    }
    return i;
  };
  for (std::int64_t k = 0; k < m; ++k) {
    if (a[k] < 0 || a[k] >= n || b[k] < 0 || b[k] >= n)
      throw std::invalid_argument("pair_components: edge " + std::to_string(k) + " (" + std::to_string(a[k]) + ", " +
                                  std::to_string(b[k]) + ") has a node outside 0.." + std::to_string(n - 1));
    int ra = root(static_cast<int>(a[k])), rb = root(static_cast<int>(b[k]));
    if (ra == rb) continue;
    if (ra > rb) std::swap(ra, rb);
    parent[rb] = ra;  // the lower node is the root: roots are their components' lowest nodes
  }
  std::vector<std::int64_t> id(static_cast<std::size_t>(n), -1);
  int nc = 0;
  for (int i = 0; i < n; ++i) {
    const int r = root(i);
    if (id[r] < 0) id[r] = nc++;  // r <= i: the first node met of each component is its root
    label[i] = id[r];
  }
  return nc;
}

}  // namespace ionsitu

// ionsitu core: periodic cell list in fractional coordinates, for neighbour searches in
// triclinic boxes that may change between samples (NPT).
//
// Points are binned once by their fractional coordinates (wrapped into [0,1)) on a grid of
// n0 x n1 x n2 cells. The grid lives in fractional space, so it stays valid when the box
// changes shape; only the search reach follows the current box. For a point at fractional
// s and a Cartesian radius r, every point whose minimum-image distance is <= r lies in a
// cell within reach_k = floor(r n_k / w_k) + 1 cells of s's cell along axis k (w_k: the
// box's perpendicular widths; a displacement d has fractional components d.b_k with
// |b_k| = 1/w_k, so |ds_k| <= r / w_k). for_each_candidate visits a superset of the points
// within r (each once); the caller computes the exact distances, so results do not depend
// on the grid. Cost per query O(points per cell x (2 reach + 1)^3): O(1) for a grid built
// with cell widths >= r, and a full sample of N queries is O(N).
//
// Header + source, C++17, no LAMMPS, no MPI.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "box_geometry.h"

namespace ionsitu {

class CellList {
 public:
  // Search extent along each axis for one box and radius (from reach()).
  struct Reach {
    int lo[3] = {0, 0, 0};  // cell offsets visited: lo_k .. lo_k + span_k - 1 (span_k <= n_k)
    int span[3] = {1, 1, 1};
  };

  // Bins n points at fractional positions s[3*i..] (any image). The grid has about
  // w_k / min_cell_width cells along axis k of `box` (at least 1; at most about
  // max(64, 4 n) cells in all, so a tiny width never allocates a huge grid).
  void build(int n, const double *s, const Box &box, double min_cell_width);
  // The same for a cell given by its perpendicular widths (any cell shape, also one that is
  // not in LAMMPS's lower-triangular convention).
  void build(int n, const double *s, const double widths[3], double min_cell_width);
  bool empty() const { return start_.empty(); }
  int ncells(int k) const { return n_[k]; }
  int ncells() const { return n_[0] * n_[1] * n_[2]; }
  int npoints() const { return static_cast<int>(index_.size()); }
  // All points, cell by cell (each cell's in ascending index): for_each_cell's ranges.
  const std::vector<int> &points() const { return index_; }

  // Reach of radius r in `box` (any box: the one of build() or a changed one).
  Reach reach(const Box &box, double r) const;
  Reach reach(const double widths[3], double r) const;

  // Calls f(j) once for each point j that can be within the radius of `reach` of the point
  // at fractional coordinates s (any image), in cell order (not sorted by j).
  template <class F>
  void for_each_candidate(const Reach &reach, const double s[3], F &&f) const {
    for_each_cell(reach, s, [&](int, const int *first, const int *last) {
      for (const int *p = first; p != last; ++p) f(*p);
    });
  }

  // Calls f(cell, first, last) once for each cell within `reach` of the point at fractional
  // s: cell in 0..ncells()-1, [first, last) its points in ascending index (empty cells too).
  template <class F>
  void for_each_cell(const Reach &reach, const double s[3], F &&f) const {
    int c[3];
    for (int k = 0; k < 3; ++k) c[k] = cell_of(s[k], k);
    for (int a = 0; a < reach.span[0]; ++a) {
      const int i0 = wrap(c[0] + reach.lo[0] + a, n_[0]);
      for (int b = 0; b < reach.span[1]; ++b) {
        const int i1 = wrap(c[1] + reach.lo[1] + b, n_[1]);
        for (int g = 0; g < reach.span[2]; ++g) {
          const int i2 = wrap(c[2] + reach.lo[2] + g, n_[2]);
          const int cell = (i0 * n_[1] + i1) * n_[2] + i2;
          f(cell, index_.data() + start_[cell], index_.data() + start_[cell + 1]);
        }
      }
    }
  }

 private:
  int n_[3] = {1, 1, 1};
  std::vector<int> start_;  // CSR: points of cell c are index_[start_[c] .. start_[c+1])
  std::vector<int> index_;

  // i in (-n, 2n): a cell offset within reach (|lo| <= span <= n) of a cell in [0, n)
  static int wrap(int i, int n) { return i < 0 ? i + n : (i >= n ? i - n : i); }
  int cell_of(double s, int k) const {
    const int c = static_cast<int>(Box::wrap01(s) * n_[k]);
    return std::min(std::max(c, 0), n_[k] - 1);
  }
};

}  // namespace ionsitu

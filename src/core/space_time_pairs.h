// ionsitu core: pairs of events close in space and in time (periodic or open boundaries).
//
// Events i = 0..n-1 have a position (fractional coordinates of a periodic cell, or
// Cartesian without one), a time key t_i and a group label g_i (the ion). The pairs are
// all (i, j), each once, with g_i != g_j, |t_j - t_i| <= window and distance <= cutoff:
//   - periodic cell (rows a, b, c of `cell`, any shape): ds = s_j - s_i rounded to
//     [-1/2, 1/2), d = ds . cell; in a skewed cell a pair that is not close by that image is
//     checked once more against the 27 images around it (the shortest of them), as
//     ionsitu.sites._min_image_frac does;
//   - no cell: d = x_j - x_i.
// |d|^2 <= cutoff_sq decides. Candidates come from a periodic cell list (cell_list.h) in
// fractional space with the events of each cell in time order, scanned within the window
// from a cursor per cell that only moves forward: O(n log n) for the time sort, then
// O(n x (27 + candidates)) for cutoffs small against the cell; the result does not depend
// on the grid (the candidates are a superset).
//
// Header + source, C++17, no LAMMPS, no MPI.
#pragma once

#include <cstdint>
#include <vector>

namespace ionsitu {

// Appends the pairs (a[k], b[k]) described above to a and b (order unspecified).
// x: 3 n positions (fractional if cell != nullptr, else Cartesian); cell: 9 numbers, rows
// a, b, c, or nullptr; t, group: n each. Throws std::invalid_argument on non-finite input,
// a negative window or cutoff, or a singular cell.
void space_time_pairs(int n, const double *x, const double *cell, const double *t, const std::int64_t *group,
                      double window, double cutoff_sq, std::vector<std::int64_t> &a, std::vector<std::int64_t> &b);

// Connected components of the undirected graph of n nodes with edges (a[k], b[k]), k < m:
// label[i] in 0 .. ncomponents-1, components numbered in the order of their lowest node
// (node 0 is in component 0). Returns the number of components. Throws
// std::invalid_argument on a node outside 0..n-1.
int pair_components(int n, std::int64_t m, const std::int64_t *a, const std::int64_t *b, std::int64_t *label);

}  // namespace ionsitu

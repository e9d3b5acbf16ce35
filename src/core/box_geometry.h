// ionsitu core: periodic box geometry in LAMMPS's triclinic convention.
//
// A box is given by its origin lo = (xlo, ylo, zlo) and h = (xprd, yprd, zprd, yz, xz, xy),
// i.e. the edge vectors (rows)
//     a = (xprd, 0,    0   )
//     b = (xy,   yprd, 0   )
//     c = (xz,   yz,   zprd)
// and a point x = lo + s0*a + s1*b + s2*c with fractional coordinates s in [0,1)^3 lies in
// the primary cell. An orthogonal box has yz = xz = xy = 0.
//
// Minimum image: displacements are reduced by rounding each fractional component to
// [-1/2, 1/2). That is the true shortest periodic image whenever the shortest image is
// shorter than half the smallest perpendicular width of the cell (min_half_width()): then
// every fractional component of that image has |s_k| = |d.n_k|/w_k < 1/2. Callers that
// use cutoffs (site radii, thresholds) check cutoff < min_half_width().
//
// Header only, C++17, no LAMMPS, no MPI.
#pragma once

#include <algorithm>
#include <cmath>

namespace ionsitu {

struct Box {
  double lo[3] = {0.0, 0.0, 0.0};
  double h[6] = {1.0, 1.0, 1.0, 0.0, 0.0, 0.0};  // xprd yprd zprd yz xz xy

  Box() = default;
  Box(const double lo_[3], const double h_[6]) {
    for (int k = 0; k < 3; ++k) lo[k] = lo_[k];
    for (int k = 0; k < 6; ++k) h[k] = h_[k];
  }
  // Orthogonal box [0,lx) x [0,ly) x [0,lz).
  static Box orthogonal(double lx, double ly, double lz) {
    Box b;
    b.h[0] = lx; b.h[1] = ly; b.h[2] = lz;
    return b;
  }

  double volume() const { return h[0] * h[1] * h[2]; }

  // Cartesian point -> fractional coordinates (not wrapped).
  void to_frac(const double x[3], double s[3]) const {
    const double dz = x[2] - lo[2], dy = x[1] - lo[1], dx = x[0] - lo[0];
    s[2] = dz / h[2];
    s[1] = (dy - h[3] * s[2]) / h[1];
    s[0] = (dx - h[5] * s[1] - h[4] * s[2]) / h[0];
  }
  // Cartesian displacement -> fractional displacement (no origin shift).
  void vec_to_frac(const double d[3], double s[3]) const {
    s[2] = d[2] / h[2];
    s[1] = (d[1] - h[3] * s[2]) / h[1];
    s[0] = (d[0] - h[5] * s[1] - h[4] * s[2]) / h[0];
  }
  // Fractional -> Cartesian point.
  void to_cart(const double s[3], double x[3]) const {
    vec_to_cart(s, x);
    for (int k = 0; k < 3; ++k) x[k] += lo[k];
  }
  // Fractional displacement -> Cartesian displacement.
  void vec_to_cart(const double s[3], double d[3]) const {
    d[0] = h[0] * s[0] + h[5] * s[1] + h[4] * s[2];
    d[1] = h[1] * s[1] + h[3] * s[2];
    d[2] = h[2] * s[2];
  }

  // Wrap a fractional coordinate into [0,1).
  static double wrap01(double s) {
    double w = s - std::floor(s);
    if (w >= 1.0) w = 0.0;  // s = -tiny gives 1.0 in floating point
    return w;
  }
  // Round a fractional difference into [-1/2, 1/2).
  static double round_half(double s) { return s - std::floor(s + 0.5); }

  // Minimum-image reduction of a Cartesian displacement, in place (see header note).
  void minimum_image(double d[3]) const {
    double s[3];
    vec_to_frac(d, s);
    for (int k = 0; k < 3; ++k) s[k] = round_half(s[k]);
    vec_to_cart(s, d);
  }
  // Minimum-image Cartesian vector from point a to point b (b - a).
  void delta(const double a[3], const double b[3], double d[3]) const {
    for (int k = 0; k < 3; ++k) d[k] = b[k] - a[k];
    minimum_image(d);
  }

  // Perpendicular widths of the cell: volume / |area of the face spanned by the other two|.
  void widths(double w[3]) const {
    // a x b, b x c, c x a for a=(h0,0,0), b=(h5,h1,0), c=(h4,h3,h2)
    const double ax = h[0], bx = h[5], by = h[1], cx = h[4], cy = h[3], cz = h[2];
    // b x c
    const double bc[3] = {by * cz, -bx * cz, bx * cy - by * cx};
    // c x a
    const double ca[3] = {0.0, cz * ax, -cy * ax};
    // a x b
    const double ab[3] = {0.0, 0.0, ax * by};
    const double v = volume();
    auto norm = [](const double *u) { return std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]); };
    w[0] = v / norm(bc);
    w[1] = v / norm(ca);
    w[2] = v / norm(ab);
  }
  double min_half_width() const {
    double w[3];
    widths(w);
    return 0.5 * std::min(w[0], std::min(w[1], w[2]));
  }
};

}  // namespace ionsitu

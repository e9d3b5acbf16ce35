// Standalone tests of src/core: occupancy grid and hop detector.
// Built and run by tests/core/build_and_run.sh. Exit status 0 iff all checks pass.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "append_log.h"
#include "box_geometry.h"
#include "cell_list.h"
#include "hop_detector.h"
#include "msd_correlator.h"
#include "occupancy_grid.h"
#include "space_time_pairs.h"

using namespace ionsitu;

static int g_checks = 0, g_failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    ++g_checks;                                                                  \
    if (!(cond)) {                                                               \
      ++g_failures;                                                              \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                            \
  } while (0)
#define CHECK_NEAR(a, b, tol) CHECK(std::fabs((a) - (b)) <= (tol))
#define CHECK_THROWS(expr)      \
  do {                          \
    bool thrown_ = false;       \
    try {                       \
      expr;                     \
    } catch (const std::exception &) { \
      thrown_ = true;           \
    }                           \
    CHECK(thrown_);             \
  } while (0)

// Small deterministic RNG (LCG) so the test needs nothing else.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  double uniform() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
  }
};

static Box make_box(double xlo, double ylo, double zlo, double xprd, double yprd, double zprd, double yz, double xz,
                    double xy) {
  const double lo[3] = {xlo, ylo, zlo};
  const double h[6] = {xprd, yprd, zprd, yz, xz, xy};
  return Box(lo, h);
}

// Independent fractional coordinates: solve H s = x - lo by Cramer's rule on the full matrix
// whose columns are a, b, c.
static void frac_cramer(const Box &b, const double x[3], double s[3]) {
  const double M[3][3] = {{b.h[0], b.h[5], b.h[4]}, {0.0, b.h[1], b.h[3]}, {0.0, 0.0, b.h[2]}};
  const double r[3] = {x[0] - b.lo[0], x[1] - b.lo[1], x[2] - b.lo[2]};
  auto det = [](const double A[3][3]) {
    return A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) - A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
           A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
  };
  const double D = det(M);
  for (int c = 0; c < 3; ++c) {
    double A[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) A[i][j] = (j == c) ? r[i] : M[i][j];
    s[c] = det(A) / D;
  }
}

// ------------------------------------------------------------------ box
static void test_box() {
  const Box b = make_box(-1.0, 0.5, 2.0, 8.0, 7.0, 6.0, 1.5, -2.0, 2.5);
  const double x[3] = {3.3, -4.1, 17.2};
  double s[3], s2[3], y[3];
  b.to_frac(x, s);
  frac_cramer(b, x, s2);
  for (int k = 0; k < 3; ++k) CHECK_NEAR(s[k], s2[k], 1e-12);
  b.to_cart(s, y);
  for (int k = 0; k < 3; ++k) CHECK_NEAR(y[k], x[k], 1e-12);
  // minimum image against a brute-force search over images
  Rng rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    double d[3] = {(rng.uniform() - 0.5) * 40, (rng.uniform() - 0.5) * 40, (rng.uniform() - 0.5) * 40};
    double m[3] = {d[0], d[1], d[2]};
    b.minimum_image(m);
    double best = 1e300;
    for (int i = -6; i <= 6; ++i)
      for (int j = -6; j <= 6; ++j)
        for (int k = -6; k <= 6; ++k) {
          const double sv[3] = {double(i), double(j), double(k)};
          double L[3];
          b.vec_to_cart(sv, L);
          const double e[3] = {d[0] + L[0], d[1] + L[1], d[2] + L[2]};
          best = std::min(best, std::sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]));
        }
    const double lm = std::sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2]);
    // rounding gives the true minimum image whenever it is shorter than half the min width
    if (best < b.min_half_width()) CHECK_NEAR(lm, best, 1e-9);
    CHECK(lm >= best - 1e-9);
  }
  double w[3];
  Box::orthogonal(3, 4, 5).widths(w);
  CHECK_NEAR(w[0], 3, 1e-12);
  CHECK_NEAR(w[1], 4, 1e-12);
  CHECK_NEAR(w[2], 5, 1e-12);
  CHECK(Box::wrap01(-1e-300) < 1.0);
  CHECK(Box::wrap01(-1e-300) >= 0.0);
}

// ------------------------------------------------------------------ occupancy grid
struct Frame {
  Box box;
  std::vector<double> x;
  std::vector<int> type;
};

static std::vector<Frame> make_frames(int nframes, int natoms, int ntypes) {
  Rng rng(42);
  std::vector<Frame> frames;
  for (int f = 0; f < nframes; ++f) {
    const double g = 1.0 + 0.03 * f;  // changing box (NPT-like)
    Frame fr;
    fr.box = make_box(-1.0 + 0.1 * f, 0.5, 2.0, 8.0 * g, 7.0 * g, 6.0 / g, 1.5, -2.0 + 0.2 * f, 2.5);
    for (int i = 0; i < natoms; ++i) {
      // fractional coordinates in [-2, 3): positions in several periodic images
      double s[3] = {rng.uniform() * 5 - 2, rng.uniform() * 5 - 2, rng.uniform() * 5 - 2};
      double x[3];
      fr.box.to_cart(s, x);
      fr.x.insert(fr.x.end(), x, x + 3);
      fr.type.push_back(static_cast<int>(rng.uniform() * (ntypes + 1)) - 1);  // -1 .. ntypes-1
    }
    frames.push_back(fr);
  }
  return frames;
}

static void test_grid() {
  const int nx = 5, ny = 4, nz = 3, nt = 3, na = 500;
  auto frames = make_frames(4, na, nt);
  OccupancyGrid g(nx, ny, nz, nt);
  std::vector<double> brute(static_cast<std::size_t>(nt) * nx * ny * nz, 0.0);
  for (const auto &fr : frames) {
    g.add_sample(fr.box, na, fr.x.data(), fr.type.data());
    for (int i = 0; i < na; ++i) {
      if (fr.type[i] < 0) continue;
      double s[3];
      frac_cramer(fr.box, &fr.x[3 * i], s);
      int idx[3];
      const int n[3] = {nx, ny, nz};
      for (int k = 0; k < 3; ++k) {
        const double w = s[k] - std::floor(s[k]);
        idx[k] = std::min(n[k] - 1, static_cast<int>(std::floor(w * n[k])));
      }
      brute[((static_cast<std::size_t>(fr.type[i]) * nx + idx[0]) * ny + idx[1]) * nz + idx[2]] += 1.0;
    }
  }
  CHECK(g.counts() == brute);
  CHECK(g.nframes() == 4.0);
  // total over types
  auto tot = g.type_counts(-1);
  double sum = 0.0, nin = 0.0;
  for (double v : tot) sum += v;
  for (const auto &fr : frames)
    for (int t : fr.type) nin += (t >= 0);
  CHECK(sum == nin);
  // mean box
  Box mb = g.mean_box();
  double mh0 = 0.0, mlo0 = 0.0;
  for (const auto &fr : frames) {
    mh0 += fr.box.h[0] / 4.0;
    mlo0 += fr.box.lo[0] / 4.0;
  }
  CHECK_NEAR(mb.h[0], mh0, 1e-12);
  CHECK_NEAR(mb.lo[0], mlo0, 1e-12);
  // probability density integrates to 1
  auto rho = g.density(1);
  double integ = 0.0;
  for (double v : rho) integ += v * g.voxel_volume();
  CHECK_NEAR(integ, 1.0, 1e-12);
  // number density integrates to the mean number of atoms of that type
  auto nd = g.density(-1, OccupancyGrid::Norm::NumberDensity);
  integ = 0.0;
  for (double v : nd) integ += v * g.voxel_volume();
  CHECK_NEAR(integ, nin / 4.0, 1e-9);

  // merge: split by atoms (two "ranks", frames counted once) and by time
  OccupancyGrid r0(nx, ny, nz, nt), r1(nx, ny, nz, nt);
  for (const auto &fr : frames) {
    r0.add_sample(fr.box, na / 2, fr.x.data(), fr.type.data());
    r1.add_positions(fr.box, na - na / 2, fr.x.data() + 3 * (na / 2), fr.type.data() + na / 2);
  }
  r0.merge(r1);
  CHECK(r0.serialize() == g.serialize());
  OccupancyGrid h0(nx, ny, nz, nt), h1(nx, ny, nz, nt);
  for (int f = 0; f < 4; ++f) (f < 2 ? h0 : h1).add_sample(frames[f].box, na, frames[f].x.data(), frames[f].type.data());
  h0.merge(h1);
  CHECK(h0.counts() == g.counts());
  CHECK(h0.nframes() == g.nframes());
  CHECK_NEAR(h0.mean_box().h[4], g.mean_box().h[4], 1e-12);

  // serialize -> deserialize round trip continues identically
  OccupancyGrid a(nx, ny, nz, nt), b(nx, ny, nz, nt);
  for (int f = 0; f < 2; ++f) a.add_sample(frames[f].box, na, frames[f].x.data(), frames[f].type.data());
  auto st = a.serialize();
  b.deserialize(st.data(), st.size());
  for (int f = 2; f < 4; ++f) {
    a.add_sample(frames[f].box, na, frames[f].x.data(), frames[f].type.data());
    b.add_sample(frames[f].box, na, frames[f].x.data(), frames[f].type.data());
  }
  CHECK(a.serialize() == b.serialize());
  CHECK(b.serialize() == g.serialize());
  OccupancyGrid wrong(nx, ny, nz + 1, nt);
  CHECK_THROWS(wrong.deserialize(st.data(), st.size()));
  CHECK_THROWS(g.merge(wrong));
  const int badtype[1] = {nt};
  CHECK_THROWS(g.add_positions(frames[0].box, 1, frames[0].x.data(), badtype));

  // edge positions: exactly on the upper boundary and just below the lower one
  OccupancyGrid e(4, 4, 4, 1);
  const Box cube = Box::orthogonal(2.0, 2.0, 2.0);
  const double edge[9] = {2.0, 0.0, -1e-17, 1.9999999999999998, 0.5, 0.5, -0.0, 4.0, -2.0};
  e.add_sample(cube, 3, edge, nullptr);
  CHECK(e.count(0, 0, 0, 0) == 2.0);  // atom 0 (wraps to 0,0,0) and atom 2 (-0,4,-2 -> 0,0,0)
  CHECK(e.count(0, 3, 1, 1) == 1.0);
}

static void test_cube(const std::string &dir) {
  const int na = 300;
  auto frames = make_frames(3, na, 2);
  OccupancyGrid g(6, 5, 7, 2);
  for (const auto &fr : frames) g.add_sample(fr.box, na, fr.x.data(), fr.type.data());
  OccupancyGrid::CubeAtoms atoms;
  atoms.z = {3, 8};
  atoms.x = {0.0, 0.0, 0.0, 1.0, 2.0, 3.0};
  const std::string path = dir + "/test_grid.cube";
  const double f = 1.0 / 0.529177210903;
  g.write_cube(path, 0, OccupancyGrid::Norm::Probability, f, &atoms);
  std::ifstream in(path);
  CHECK(static_cast<bool>(in));
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  int natoms, n[3];
  double org[3], v[3][3];
  in >> natoms >> org[0] >> org[1] >> org[2];
  CHECK(natoms == 2);
  const Box mb = g.mean_box();
  CHECK_NEAR(org[0], mb.lo[0] * f, 1e-5);
  for (int k = 0; k < 3; ++k) in >> n[k] >> v[k][0] >> v[k][1] >> v[k][2];
  CHECK(n[0] == 6 && n[1] == 5 && n[2] == 7);
  CHECK_NEAR(v[1][0], mb.h[5] / 5 * f, 1e-5);  // b/ny, x component = xy/ny
  CHECK_NEAR(v[2][1], mb.h[3] / 7 * f, 1e-5);  // c/nz, y component = yz/nz
  for (int i = 0; i < 2; ++i) {
    int z;
    double q, x, y, zz;
    in >> z >> q >> x >> y >> zz;
    if (i == 1) CHECK_NEAR(zz, 3.0 * f, 1e-5);
  }
  // voxel volume in bohr^3 from the voxel vectors
  const double vv = v[0][0] * (v[1][1] * v[2][2] - v[1][2] * v[2][1]) - v[0][1] * (v[1][0] * v[2][2] - v[1][2] * v[2][0]) +
                    v[0][2] * (v[1][0] * v[2][1] - v[1][1] * v[2][0]);
  double val, sum = 0.0;
  int count = 0;
  while (in >> val) {
    sum += val;
    ++count;
  }
  CHECK(count == 6 * 5 * 7);
  CHECK_NEAR(sum * vv, 1.0, 1e-4);
  // per_angstrom3: the same lengths (bohr), values per A^3 (integral over the voxels in A^3 = 1)
  g.write_cube(path, 0, OccupancyGrid::Norm::Probability, f, nullptr, "per A^3", true);
  std::ifstream in2(path);
  std::getline(in2, l1);
  std::getline(in2, l2);
  CHECK(l2.find("values per A^3") != std::string::npos);
  for (int k = 0; k < 4; ++k) std::getline(in2, l1);  // origin and voxel lines (no atoms)
  double sum_a = 0.0;
  while (in2 >> val) sum_a += val;
  const double b3 = OccupancyGrid::kBohrAngstrom * OccupancyGrid::kBohrAngstrom * OccupancyGrid::kBohrAngstrom;
  CHECK_NEAR(sum_a * vv * b3, 1.0, 1e-4);
  CHECK_THROWS(g.write_cube(dir + "/no_such_dir/x.cube", 0));
}

// ------------------------------------------------------------------ hop detector, site mode
// Trajectory of one ion: x positions along a line of sites at x = 1,3,5,7,9 (y = z = 5),
// one sample every 10 steps.
struct Traj {
  std::int64_t id;
  std::vector<double> xs;  // x per sample
};

static std::vector<Traj> line_trajs() {
  std::vector<double> a(40, 0.0);
  const double rattle[2] = {0.08, -0.08};
  for (int k = 0; k <= 4; ++k) a[k] = 1.0 + rattle[k % 2];
  a[5] = 1.7;  // between r_in and r_out: rattling near the boundary, not a hop
  a[6] = 1.2;
  a[7] = 1.75;
  a[8] = 1.0;
  a[9] = 2.0;  // transit
  a[10] = 2.9;  // arrival on site 1 (step 100)
  a[11] = 3.1;
  a[12] = 3.0;  // third sample on site 1: hop 0->1 confirmed, back-dated to step 100
  for (int k = 13; k <= 15; ++k) a[k] = 3.0 + rattle[k % 2];
  a[16] = 3.6;  // still site 1 (within r_out)
  a[17] = 4.2;  // transit
  a[18] = 5.0;  // excursion onto site 2 ...
  a[19] = 5.1;
  a[20] = 3.0;  // ... returns before min_residence: no hop
  for (int k = 21; k <= 23; ++k) a[k] = 3.0;
  a[24] = 2.0;  // transit
  a[25] = 1.0;  // back-jump 1->0, arrival step 250
  for (int k = 26; k <= 30; ++k) a[k] = 1.0;
  a[31] = 0.0;   // transit across the periodic boundary
  a[32] = -1.0;  // image of site 4 (x = 9): arrival step 320
  a[33] = 9.05;
  a[34] = -0.95;
  for (int k = 35; k < 40; ++k) a[k] = 9.0 + rattle[k % 2];
  std::vector<double> b(40, 5.0);  // id 3: site 3 -> site 2, arriving at step 100 like id 7
  for (int k = 0; k <= 8; ++k) b[k] = 7.0;
  b[9] = 6.0;
  std::vector<double> c(40, 3.0);  // id 11: starts in transit, settles on site 1: no event
  c[0] = 2.0;
  c[1] = 2.0;
  return {{7, a}, {3, b}, {11, c}};
}

static HopDetector line_detector() {
  HopDetector d = HopDetector::site_based(0.5, 0.9, 3);
  const Box box = Box::orthogonal(10, 10, 10);
  const double sites[15] = {1, 5, 5, 3, 5, 5, 5, 5, 5, 7, 5, 5, 9, 5, 5};
  d.set_sites_cartesian(5, sites, box);
  return d;
}

static void run_line(HopDetector &d, const std::vector<Traj> &trajs, std::vector<std::vector<double>> &states,
                     int k0, int k1, const std::vector<int> &which) {
  const Box box = Box::orthogonal(10, 10, 10);
  const int m = d.peratom_doubles();
  for (int k = k0; k < k1; ++k)
    for (int i : which) {
      if (states[i].empty()) states[i].assign(m, 0.0);
      const double x[3] = {trajs[i].xs[k], 5.0 + 0.05 * ((k + i) % 3 - 1), 5.0};
      d.add_sample(box, 1, x, &trajs[i].id, states[i].data(), 10 * k);
    }
}

static bool same_event(const HopEvent &a, const HopEvent &b) {
  bool ok = a.step == b.step && a.atom_id == b.atom_id && a.from_site == b.from_site && a.to_site == b.to_site &&
            a.origin_arrival_step == b.origin_arrival_step && a.origin_last_step == b.origin_last_step &&
            a.flags == b.flags;
  for (int k = 0; k < 3; ++k)
    ok = ok && a.disp[k] == b.disp[k] && a.from_x[k] == b.from_x[k] && a.to_x[k] == b.to_x[k];
  return ok;
}

static void test_sites_line() {
  auto trajs = line_trajs();
  HopDetector d = line_detector();
  CHECK(d.peratom_doubles() == HopDetector::kSiteSlotSize);
  std::vector<std::vector<double>> st(3);
  run_line(d, trajs, st, 0, 40, {0, 1, 2});
  auto ev = d.events();
  sort_events(ev);
  CHECK(ev.size() == 4);
  CHECK(d.nhops() == 4.0);
  if (ev.size() == 4) {
    // (step, id, from, to, dx, origin arrival, origin last, flags)
    const struct {
      std::int64_t step, id;
      int from, to;
      double dx;
      std::int64_t oarr, olast;
      int flags;
    } want[4] = {{100, 3, 3, 2, -2.0, 0, 80, HopEvent::kCensored},
                 {100, 7, 0, 1, 2.0, 0, 80, HopEvent::kCensored},
                 {250, 7, 1, 0, -2.0, 100, 230, 0},
                 {320, 7, 0, 4, -2.0, 250, 300, 0}};
    for (int i = 0; i < 4; ++i) {
      CHECK(ev[i].step == want[i].step);
      CHECK(ev[i].atom_id == want[i].id);
      CHECK(ev[i].from_site == want[i].from);
      CHECK(ev[i].to_site == want[i].to);
      CHECK_NEAR(ev[i].disp[0], want[i].dx, 1e-12);
      CHECK_NEAR(ev[i].disp[1], 0.0, 1e-12);
      CHECK_NEAR(ev[i].disp[2], 0.0, 1e-12);
      CHECK(ev[i].origin_arrival_step == want[i].oarr);
      CHECK(ev[i].origin_last_step == want[i].olast);
      CHECK(ev[i].flags == want[i].flags);
    }
    CHECK_NEAR(ev[3].to_x[0], 9.0, 1e-12);
    CHECK_NEAR(ev[3].from_x[0], 1.0, 1e-12);
  }
  // per-atom slots
  CHECK(st[0][HopDetector::kNHops] == 3.0);
  CHECK(st[1][HopDetector::kNHops] == 1.0);
  CHECK(st[2][HopDetector::kNHops] == 0.0);
  CHECK(st[2][HopDetector::kCur] == 1.0);          // settled on site 1 without an event
  CHECK(st[2][HopDetector::kCurArrival] == 20.0);  // arrived at sample 2
  CHECK(st[2][HopDetector::kFlags] == 0.0);
  CHECK(d.atom_site(st[0].data()) == 4);
  std::vector<double> all;
  for (auto &s : st) all.insert(all.end(), s.begin(), s.end());
  CHECK(d.count_hopped(3, all.data()) == 2.0);

  // event serialisation round trip
  auto flat = serialize_events(ev);
  CHECK(flat.size() == 4 * HopEvent::kDoubles);
  auto back = deserialize_events(flat.data(), flat.size());
  bool same = back.size() == ev.size();
  for (std::size_t i = 0; same && i < ev.size(); ++i) same = same_event(back[i], ev[i]);
  CHECK(same);
  CHECK_THROWS(deserialize_events(flat.data(), flat.size() - 1));

  // two "ranks" with an atom migrating between them mid-run, merged and sorted == serial
  HopDetector r0 = line_detector(), r1 = line_detector();
  std::vector<std::vector<double>> s2(3);
  run_line(r0, trajs, s2, 0, 21, {0, 1});
  run_line(r1, trajs, s2, 0, 21, {2});
  run_line(r1, trajs, s2, 21, 40, {0, 2});  // atom 0's slot moves to rank 1
  run_line(r0, trajs, s2, 21, 40, {1});
  r0.merge(r1);
  auto mev = r0.events();
  sort_events(mev);
  same = mev.size() == ev.size() && r0.nhops() == 4.0;
  for (std::size_t i = 0; same && i < ev.size(); ++i) same = same_event(mev[i], ev[i]);
  CHECK(same);

  // restart: serialize global state at sample 22, copy per-atom slots, continue identically
  HopDetector a = line_detector();
  std::vector<std::vector<double>> sa(3);
  run_line(a, trajs, sa, 0, 22, {0, 1, 2});
  auto g = a.serialize();
  HopDetector b = line_detector();
  b.deserialize(g.data(), g.size());
  std::vector<std::vector<double>> sb = sa;  // per-atom restart data
  run_line(a, trajs, sa, 22, 40, {0, 1, 2});
  run_line(b, trajs, sb, 22, 40, {0, 1, 2});
  CHECK(a.serialize() == b.serialize());
  CHECK(sa == sb);
  HopDetector free = HopDetector::site_free(1.0, 5, 3);
  CHECK_THROWS(free.deserialize(g.data(), g.size()));
  // take_events empties the list
  auto taken = a.take_events();
  CHECK(taken.size() == 4 && a.events().empty() && a.nhops() == 4.0);
}

static void test_sites_triclinic() {
  // changing triclinic box; sites fixed in fractional coordinates
  auto box_at = [](int k) {
    const double g = 1.0 + 0.002 * k;
    return make_box(-1.0, 0.5, 2.0, 8.0 * g, 7.0 * g, 6.0 * g, 1.5 * g, -2.0 * g, 2.5 * g);
  };
  const double sf[6] = {0.1, 0.1, 0.1, 0.9, 0.95, 0.2};
  HopDetector d = HopDetector::site_based(0.4, 0.7, 2);
  d.set_sites_fractional(2, sf);
  std::vector<double> st(d.peratom_doubles(), 0.0);
  const std::int64_t id = 42;
  for (int k = 0; k < 20; ++k) {
    const Box box = box_at(k);
    double p[3];
    if (k < 8 || k >= 14) {
      // on site 0 (k < 8) or site 1 (k >= 14... via the transit below), in varying images
      const double *s = (k < 8) ? sf : sf + 3;
      const double img[3] = {double(k % 3 - 1), double((k / 3) % 2), double(-(k % 2))};
      const double si[3] = {s[0] + img[0], s[1] + img[1], s[2] + img[2]};
      box.to_cart(si, p);
      p[0] += 0.05 * ((k % 2) ? 1 : -1);
    } else if (k < 11) {
      // transit: midway along the minimum-image path
      double a[3], b[3], dd[3];
      box.to_cart(sf, a);
      box.to_cart(sf + 3, b);
      box.delta(a, b, dd);
      for (int j = 0; j < 3; ++j) p[j] = a[j] + 0.5 * dd[j];
    } else {
      box.to_cart(sf + 3, p);  // arrival on site 1 at sample 11
      p[1] -= 0.3;             // within r_in = 0.4
    }
    d.add_sample(box, 1, p, &id, st.data(), k);
  }
  auto ev = d.events();
  CHECK(ev.size() == 1);
  if (ev.size() == 1) {
    CHECK(ev[0].step == 11);
    CHECK(ev[0].from_site == 0 && ev[0].to_site == 1);
    CHECK(ev[0].origin_last_step == 7);
    // expected displacement: H(k=12) * min-image(sf1 - sf0) = H * (-0.2, -0.15, 0.1)
    const Box box = box_at(12);
    const double ds[3] = {-0.2, -0.15, 0.1};
    double want[3];
    box.vec_to_cart(ds, want);
    for (int j = 0; j < 3; ++j) CHECK_NEAR(ev[0].disp[j], want[j], 1e-12);
    CHECK_NEAR(want[0], (-2.175) * 1.024, 1e-12);
  }
  // r_out too large for the box is refused
  HopDetector big = HopDetector::site_based(1.0, 5.0, 1);
  big.set_sites_fractional(2, sf);
  const double p0[3] = {0, 0, 0};
  CHECK_THROWS(big.add_sample(Box::orthogonal(9, 9, 9), 1, p0, &id, st.data(), 0));
  CHECK_THROWS(HopDetector::site_based(1.0, 0.5, 1));
  CHECK_THROWS(HopDetector::site_based(0.5, 1.0, 0));
  CHECK_THROWS(HopDetector::site_free(1.0, 0, 1));
}



// ------------------------------------------------------------------ append-only log
static std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

static void test_append_log(const std::string &dir) {
  const std::string path = dir + "/log.txt";
  const std::string h1 = "# head A    \n", h2 = "# head B 12 \n";
  std::uint64_t c = append_log_write(path, h1, 0, "r1\nr2\n", "p3\n");
  CHECK(c == h1.size() + 6);
  CHECK(slurp(path) == h1 + "r1\nr2\np3\n");
  // the tail is replaced, the header rewritten in place
  c = append_log_write(path, h2, c, "p3\n", "p4\np5\n");
  CHECK(slurp(path) == h2 + "r1\nr2\np3\np4\np5\n");
  const std::uint64_t checkpoint = c;
  c = append_log_write(path, h2, c, "p4\n", "");
  {  // a killed run: a half-written line after the checkpoint
    std::ofstream o(path, std::ios::app);
    o << "p5 garb";
  }
  c = append_log_write(path, h2, checkpoint, "p4\np5\n", "p6\n");  // resume from the checkpoint
  CHECK(slurp(path) == h2 + "r1\nr2\np3\np4\np5\np6\n");
  CHECK(c == checkpoint + 6);
  CHECK(file_size(path) == static_cast<std::int64_t>(c + 3));
  CHECK_THROWS(append_log_write(path, "# a longer header\n", c, "", ""));   // header size changed (overwrite protection)
  CHECK_THROWS(append_log_write(path, h2, c + 100, "", ""));             // file shorter than committed
  CHECK_THROWS(append_log_write(dir + "/no/such/dir/log.txt", h1, 0, "", ""));
  CHECK(file_size(dir + "/missing.txt") == -1);
}

// ------------------------------------------------------------------ cell list vs brute force
// Random triclinic box with LAMMPS's tilt limits (|xy| <= xprd/2, ...), edges in [lmin, lmax).
static Box random_box(Rng &g, double lmin, double lmax) {
  const double lx = lmin + (lmax - lmin) * g.uniform(), ly = lmin + (lmax - lmin) * g.uniform(),
               lz = lmin + (lmax - lmin) * g.uniform();
  return make_box(-5.0 + 10.0 * g.uniform(), 3.0 * g.uniform(), -2.0 * g.uniform(), lx, ly, lz,
                  (g.uniform() - 0.5) * ly, (g.uniform() - 0.5) * lx, (g.uniform() - 0.5) * lx);
}

static void test_cell_list() {
  Rng g(2024);
  int n_checked = 0, n_found = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const Box box0 = random_box(g, 6.0, 14.0);
    const int nsites = 1 + static_cast<int>(g.uniform() * 300);
    std::vector<double> sf(3 * static_cast<std::size_t>(nsites));
    for (double &v : sf) v = 3.0 * g.uniform() - 1.0;  // any image
    if (nsites > 4) {                                  // exact duplicates: ties go to the lower index
      for (int k = 0; k < 3; ++k) sf[3 * (nsites - 1) + k] = sf[3 + k] + 1.0;
      for (int k = 0; k < 3; ++k) sf[3 * (nsites - 2) + k] = sf[k];
    }
    const double r_in = (0.05 + 0.9 * g.uniform()) * box0.min_half_width() * 0.6;
    HopDetector d = HopDetector::site_based(r_in, r_in * 1.05, 1);
    d.set_sites_fractional(nsites, sf.data());
    // the grid is built in box0 (first search); later boxes change shape as under NPT
    for (int ibox = 0; ibox < 6; ++ibox) {
      Box box = box0;
      if (ibox > 0) {
        for (int k = 0; k < 3; ++k) box.h[k] *= 0.75 + 0.5 * g.uniform();
        for (int k = 3; k < 6; ++k) box.h[k] = (g.uniform() - 0.5) * (k == 3 ? box.h[1] : box.h[0]);
      }
      if (!(d.r_out() < box.min_half_width())) continue;
      for (int q = 0; q < 300; ++q) {
        double x[3];
        if (q % 3 == 0) {  // right at the radius (or within rounding of it) of a random site
          const int j = static_cast<int>(g.uniform() * nsites);
          double c[3], u[3];
          d.site_cartesian(j, box, c);
          double un = 0.0;
          for (double &v : u) v = g.uniform() - 0.5, un += v * v;
          un = std::sqrt(un);
          const double rr = r_in * (q % 2 ? 1.0 : 1.0 - 1e-15);
          for (int k = 0; k < 3; ++k) x[k] = c[k] + u[k] / un * rr + (q % 5 == 0 ? box.h[0] * 3.0 : 0.0);
        } else {
          const double s[3] = {3.0 * g.uniform() - 1.0, 3.0 * g.uniform() - 1.0, 3.0 * g.uniform() - 1.0};
          box.to_cart(s, x);
        }
        for (double r : {r_in, d.r_out(), 0.5 * r_in}) {
          const int a = d.nearest_site_of(box, x, r), b = d.nearest_site_of(box, x, r, true);
          ++n_checked;
          if (b >= 0) ++n_found;
          if (a != b) std::fprintf(stderr, "trial %d box %d query %d r %g: cell list %d, brute force %d\n", trial,
                                   ibox, q, r, a, b);
          CHECK(a == b);
        }
      }
    }
  }
  CHECK(n_checked > 50000 && n_found > n_checked / 10);  // the test really exercises hits

  // CellList alone: each point visited at most once, every point within r visited.
  for (int trial = 0; trial < 20; ++trial) {
    const Box box = random_box(g, 3.0, 10.0);
    const int n = static_cast<int>(g.uniform() * 500);
    std::vector<double> s(3 * static_cast<std::size_t>(n));
    for (double &v : s) v = g.uniform();
    CellList cl;
    const double r = (0.1 + 0.8 * g.uniform()) * box.min_half_width();
    cl.build(n, s.data(), box, 0.2 + 2.0 * g.uniform());
    CHECK(cl.npoints() == n);
    const CellList::Reach reach = cl.reach(box, r);
    for (int q = 0; q < 50; ++q) {
      const double p[3] = {g.uniform() * 2 - 0.5, g.uniform() * 2 - 0.5, g.uniform() * 2 - 0.5};
      std::vector<int> seen(static_cast<std::size_t>(n), 0);
      cl.for_each_candidate(reach, p, [&](int j) { ++seen[j]; });
      for (int j = 0; j < n; ++j) {
        double ds[3], dd[3];
        for (int k = 0; k < 3; ++k) ds[k] = Box::round_half(p[k] - s[3 * j + k]);
        box.vec_to_cart(ds, dd);
        const double dist = std::sqrt(dd[0] * dd[0] + dd[1] * dd[1] + dd[2] * dd[2]);
        CHECK(seen[j] <= 1);
        if (dist <= r) CHECK(seen[j] == 1);
      }
    }
  }
  CHECK_THROWS(CellList().build(1, std::vector<double>(3, 0.5).data(), Box::orthogonal(1, 1, 1), 0.0));
}

// space_time_pairs against all pairs checked directly: random events in random cells (also
// rotated ones, not lower-triangular), open boundaries, integer time keys with pairs right at
// the window, cutoffs up to beyond half the cell; each pair once.
static void test_space_time_pairs() {
  Rng g(4242);
  long n_pairs = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const int mode = trial % 4;  // 0 orthogonal, 1 triclinic, 2 rotated triclinic, 3 open
    const Box box = random_box(g, 4.0, 12.0);
    double cell[9] = {box.h[0], 0, 0, box.h[5], box.h[1], 0, box.h[4], box.h[3], box.h[2]};
    if (mode == 0) cell[3] = cell[6] = cell[7] = 0.0;
    if (mode == 2) {  // rotate the rows about z then x
      const double a = 2 * g.uniform(), b = 2 * g.uniform();
      for (int r = 0; r < 3; ++r) {
        double *v = cell + 3 * r;
        const double x = std::cos(a) * v[0] - std::sin(a) * v[1], y = std::sin(a) * v[0] + std::cos(a) * v[1];
        const double y2 = std::cos(b) * y - std::sin(b) * v[2], z2 = std::sin(b) * y + std::cos(b) * v[2];
        v[0] = x, v[1] = y2, v[2] = z2;
      }
    }
    const int n = static_cast<int>(g.uniform() * 400);
    std::vector<double> x(3 * static_cast<std::size_t>(n)), t(n);
    std::vector<std::int64_t> grp(n);
    const bool integer_times = trial % 3 == 0;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < 3; ++k) x[3 * i + k] = mode == 3 ? 20.0 * g.uniform() : 3.0 * g.uniform() - 1.0;
      t[i] = integer_times ? std::floor(30.0 * g.uniform()) : 30.0 * g.uniform();
      grp[i] = static_cast<std::int64_t>(g.uniform() * 40);
    }
    const double w = integer_times ? std::floor(4.0 * g.uniform()) : 3.0 * g.uniform();
    const double rc = (0.1 + 0.8 * g.uniform()) * (mode == 3 ? 6.0 : box.min_half_width() * (trial % 5 ? 1.0 : 3.0));
    const double rc2 = rc * rc;
    const double *cp = mode == 3 ? nullptr : cell;
    std::vector<std::int64_t> a, b;
    space_time_pairs(n, x.data(), cp, t.data(), grp.data(), w, rc2, a, b);
    CHECK(a.size() == b.size());
    std::vector<std::pair<std::int64_t, std::int64_t>> got, want;
    for (std::size_t k = 0; k < a.size(); ++k) got.emplace_back(std::min(a[k], b[k]), std::max(a[k], b[k]));
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) {
        if (grp[i] == grp[j] || std::fabs(t[j] - t[i]) > w) continue;
        double d2;
        if (cp == nullptr) {
          d2 = 0.0;
          for (int k = 0; k < 3; ++k) d2 += (x[3 * j + k] - x[3 * i + k]) * (x[3 * j + k] - x[3 * i + k]);
        } else {  // the shortest of all images within two cells
          d2 = INFINITY;
          for (int u = -2; u <= 2; ++u)
            for (int v = -2; v <= 2; ++v)
              for (int z = -2; z <= 2; ++z) {
                double ds[3] = {x[3 * j] - x[3 * i], x[3 * j + 1] - x[3 * i + 1], x[3 * j + 2] - x[3 * i + 2]};
                for (int k = 0; k < 3; ++k) ds[k] -= std::floor(ds[k] + 0.5);
                ds[0] += u, ds[1] += v, ds[2] += z;
                double d[3];
                for (int m = 0; m < 3; ++m) d[m] = ds[0] * cell[m] + ds[1] * cell[3 + m] + ds[2] * cell[6 + m];
                d2 = std::min(d2, d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
              }
        }
        // skip pairs within rounding of the cutoff: the direct sum above may differ by an ulp
        if (std::fabs(d2 - rc2) <= 1e-12 * rc2) {
          got.erase(std::remove(got.begin(), got.end(), std::make_pair<std::int64_t, std::int64_t>(i, j)), got.end());
          continue;
        }
        if (d2 <= rc2) want.emplace_back(i, j);
      }
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    if (got != want)
      std::fprintf(stderr, "space_time_pairs trial %d mode %d: %zu pairs, %zu by all pairs\n", trial, mode,
                   got.size(), want.size());
    CHECK(got == want);
    n_pairs += static_cast<long>(want.size());
  }
  CHECK(n_pairs > 1000);  // the cases have pairs
  std::vector<std::int64_t> a, b;
  const double x1[6] = {0, 0, 0, 0.1, 0, 0}, t1[2] = {0, NAN};
  const std::int64_t g1[2] = {0, 1};
  CHECK_THROWS(space_time_pairs(2, x1, nullptr, t1, g1, 1.0, 1.0, a, b));
  const double t2[2] = {0, 0};
  CHECK_THROWS(space_time_pairs(2, x1, nullptr, t2, g1, -1.0, 1.0, a, b));
  const double sing[9] = {1, 0, 0, 2, 0, 0, 0, 0, 1};
  CHECK_THROWS(space_time_pairs(2, x1, sing, t2, g1, 1.0, 1.0, a, b));
  space_time_pairs(2, x1, nullptr, t2, g1, 0.0, 0.0101, a, b);
  CHECK(a.size() == 1 && b.size() == 1);
}

// MsdCorrelator::add_atoms (blocks of atoms, sums in registers) against add_atom per atom:
// bitwise the same sums and histories, for atom counts around the block size and species -1.
static void test_msd_add_atoms() {
  Rng g(99);
  for (int natoms : {1, 63, 64, 65, 150}) {
    MsdCorrelator one(4, 3, 2), many(4, 3, 2);
    const int pd = one.peratom_doubles();
    std::vector<double> h1((size_t) natoms * pd, 0.0), h2 = h1, x(3 * (size_t) natoms);
    std::vector<int> species(natoms);
    std::vector<double *> rows(natoms);
    for (int i = 0; i < natoms; ++i) species[i] = static_cast<int>(g.uniform() * 3) - 1;
    for (int i = 0; i < natoms; ++i) rows[i] = &h2[(size_t) i * pd];
    for (double &v : x) v = 10.0 * g.uniform();
    for (int sample = 0; sample < 70; ++sample) {
      for (double &v : x) v += g.uniform() - 0.5;
      one.begin_sample(1.0);
      many.begin_sample(1.0);
      for (int i = 0; i < natoms; ++i) one.add_atom(&h1[(size_t) i * pd], &x[3 * (size_t) i], species[i]);
      many.add_atoms(natoms, rows.data(), x.data(), species.data());
      CHECK(one.collective_partial() == many.collective_partial());
      std::vector<double> t1 = one.collective_partial(), t2 = many.collective_partial();
      one.end_sample(t1.data());
      many.end_sample(t2.data());
    }
    CHECK(one.self_sums() == many.self_sums());
    CHECK(one.collective_sums() == many.collective_sums());
    CHECK(one.n_origins() == many.n_origins());
    CHECK(h1 == h2);
    CHECK(one.self_sums()[4] == 69.0 * natoms);  // pairs of the first lag: every atom, every later sample
  }
}

// Random walkers among random sites in a changing triclinic box: at every sample the
// detector's assignment equals the brute-force rule (keep within r_out, else nearest within r_in).
static void test_sites_random_walk_vs_brute() {
  Rng g(77);
  for (int trial = 0; trial < 8; ++trial) {
    const Box box0 = random_box(g, 10.0, 16.0);
    const int nsites = 50 + static_cast<int>(g.uniform() * 400);
    std::vector<double> sf(3 * static_cast<std::size_t>(nsites));
    for (double &v : sf) v = g.uniform();
    const double r_in = 0.8 + 0.6 * g.uniform(), r_out = r_in * 1.3;
    HopDetector d = HopDetector::site_based(r_in, r_out, 1 + trial % 3);
    d.set_sites_fractional(nsites, sf.data());
    const int nions = 200;
    std::vector<double> st(static_cast<std::size_t>(nions) * d.peratom_doubles(), 0.0), x(3 * nions);
    for (int i = 0; i < nions; ++i) {  // start on a site (or near one)
      const int j = static_cast<int>(g.uniform() * nsites);
      box0.to_cart(&sf[3 * j], &x[3 * i]);
    }
    int nasg = 0;
    for (int k = 0; k < 60; ++k) {
      Box box = box0;
      const double grow = 1.0 + 0.1 * std::sin(0.3 * k);
      for (int c = 0; c < 6; ++c) box.h[c] *= (c < 3 ? grow : 1.0 + 0.2 * std::sin(0.2 * k + c));
      for (double &v : x) v += 0.7 * (g.uniform() - 0.5);
      std::vector<int> want(nions);
      for (int i = 0; i < nions; ++i) {
        const double *sti = &st[static_cast<std::size_t>(i) * d.peratom_doubles()];
        int a = sti[HopDetector::kInit] != 0.0 ? static_cast<int>(sti[HopDetector::kAsg]) : -1;
        if (a >= 0) {
          double c[3], dd[3];
          d.site_cartesian(a, box, c);
          box.delta(c, &x[3 * i], dd);
          if (!(std::sqrt(dd[0] * dd[0] + dd[1] * dd[1] + dd[2] * dd[2]) <= r_out)) a = -1;
        }
        want[i] = a >= 0 ? a : d.nearest_site_of(box, &x[3 * i], r_in, true);
      }
      d.add_sample(box, nions, x.data(), nullptr, st.data(), 10 * k);
      for (int i = 0; i < nions; ++i) {
        const int got = static_cast<int>(st[static_cast<std::size_t>(i) * d.peratom_doubles() + HopDetector::kAsg]);
        CHECK(got == want[i]);
        if (got >= 0) ++nasg;
      }
    }
    CHECK(nasg > 1000);
  }
}

// ------------------------------------------------------------------ hop detector, site-free mode
static void test_site_free() {
  const double L = 10.0;
  const Box box = Box::orthogonal(L, L, L);
  HopDetector d = HopDetector::site_free(1.0, 5, 3);  // alpha = 1/3
  CHECK(d.peratom_doubles() == HopDetector::kFreeSlotSize);
  std::vector<double> st(d.peratom_doubles(), 0.0);
  const std::int64_t id = 5;
  // x(k): vibrate at 9.5; sample 20: jump +2.0 across the periodic boundary (to 11.5 = 1.5,
  // given wrapped); samples 40,41: an excursion of +2 that returns; sample 60: jump back.
  auto xpos = [](int k) {
    const double noise = 0.04 * ((k * 7) % 5 - 2) / 2.0;
    double x = 9.5;
    if (k >= 20 && k < 60) x = 11.5;
    if (k == 40 || k == 41) x = 13.5;
    return x + noise;
  };
  for (int k = 0; k < 80; ++k) {
    double x[3] = {xpos(k), 5.0, 5.0};
    x[0] -= L * std::floor(x[0] / L);  // wrapped
    d.add_sample(box, 1, x, &id, st.data(), 100 * k);
  }
  auto ev = d.events();
  CHECK(ev.size() == 2);
  if (ev.size() == 2) {
    // EMA with alpha = 1/3 crosses a threshold of half the jump one sample after the jump
    CHECK(ev[0].step == 2100);
    CHECK(ev[0].from_site == -1 && ev[0].to_site == -1);
    CHECK_NEAR(ev[0].disp[0], 2.0, 0.05);
    CHECK_NEAR(ev[0].disp[1], 0.0, 1e-12);
    CHECK_NEAR(ev[0].from_x[0], 9.5, 0.05);
    CHECK_NEAR(ev[0].to_x[0], 1.5, 0.05);  // wrapped into the box
    CHECK(ev[0].flags == HopEvent::kCensored);
    CHECK(ev[0].origin_arrival_step == 0);
    CHECK(ev[0].origin_last_step == 1900);  // last resident sample before the jump
    CHECK(ev[1].origin_last_step == 5900);  // the excursion at 40-41 does not end the residence
    CHECK(ev[1].step == 6100);
    CHECK_NEAR(ev[1].disp[0], -2.0, 0.05);
    CHECK(ev[1].origin_arrival_step == 2100);
    CHECK(ev[1].flags == 0);
    CHECK(ev[0].disp[0] + ev[1].disp[0] < 0.05);  // back-jump returns to the start
  }
  CHECK(st[HopDetector::kNHops] == 2.0);
  // restart round trip in the middle
  HopDetector a = HopDetector::site_free(1.0, 5, 3), b = HopDetector::site_free(1.0, 5, 3);
  std::vector<double> sa(a.peratom_doubles(), 0.0);
  for (int k = 0; k < 50; ++k) {
    double x[3] = {std::fmod(xpos(k), L), 5.0, 5.0};
    a.add_sample(box, 1, x, &id, sa.data(), 100 * k);
  }
  auto g = a.serialize();
  b.deserialize(g.data(), g.size());
  std::vector<double> sb = sa;
  for (int k = 50; k < 80; ++k) {
    double x[3] = {std::fmod(xpos(k), L), 5.0, 5.0};
    a.add_sample(box, 1, x, &id, sa.data(), 100 * k);
    b.add_sample(box, 1, x, &id, sb.data(), 100 * k);
  }
  CHECK(a.serialize() == b.serialize());
  CHECK(sa == sb);
  CHECK(a.serialize() == d.serialize());
}

// ------------------------------------------------------------------ site file
static void test_site_file(const std::string &dir) {
  const std::string path = dir + "/sites.txt";
  {
    std::ofstream o(path);
    o << "# ionsitu-sites 1\n"
         "# written by hand for the test\n"
         "units metal\n"
         "cell 10 0 0 0 10 0 0 0 10\n"
         "origin 0 0 0\n"
         "meta {\"source\": \"test\"}\n"
         "nsites 2\n"
         "columns index sx sy sz x y z occupancy\n"
         "0 0.1 0.5 0.5 1.0 5.0 5.0 0.25\n"
         "\n"
         "1 0.3 0.5 0.5 3.0 5.0 5.0 0.75\n";
  }
  SiteFile f = read_site_file(path);
  CHECK(f.frac.size() == 6 && f.cart.size() == 6);
  CHECK(f.units == "metal");
  CHECK(f.frac[3] == 0.3 && f.cart[3] == 3.0 && f.cell[8] == 10.0);
  {
    std::ofstream o(path);
    o << "# ionsitu-sites 1\ncell 10 0 0 0 10 0 0 0 10\nnsites 2\ncolumns index sx sy sz x y z\n0 0.1 0.5 0.5 1 5 5\n";
  }
  CHECK_THROWS(read_site_file(path));  // one row short
  {
    std::ofstream o(path);
    o << "# ionsitu-sites 2\n";
  }
  CHECK_THROWS(read_site_file(path));
  CHECK_THROWS(read_site_file(dir + "/missing.txt"));
}

int main(int argc, char **argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  test_box();
  test_grid();
  test_cube(dir);
  test_sites_line();
  test_sites_triclinic();
  test_cell_list();
  test_space_time_pairs();
  test_msd_add_atoms();
  test_sites_random_walk_vs_brute();
  test_site_free();
  test_site_file(dir);
  test_append_log(dir);
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

#!/usr/bin/env bash
# Side by side: the MSD correlator (src/core/msd_correlator) of git revision REF against this
# tree's, in one binary, interleaved (3 rounds, best kept), on a synthetic 4000-atom
# trajectory (block 10, levels 7, 2 species and atoms of no species; REF's per-atom
# add_atom against this tree's add_atoms). Prints the time per sample of each and whether
# the sums, origin counts and per-atom histories are bitwise equal.
# Usage: bench/bench_msd_core.sh [REF (default main)] [samples (default 2000)]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ref="${1:-main}"
samples="${2:-2000}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git -C "$root" show "$ref:src/core/msd_correlator.h" | sed 's/namespace ionsitu {/namespace ionsitu_ref {/' > "$tmp/msd_ref.h"
git -C "$root" show "$ref:src/core/msd_correlator.cpp" |
  sed 's/namespace ionsitu {/namespace ionsitu_ref {/; s/#include "msd_correlator.h"/#include "msd_ref.h"/' > "$tmp/msd_ref.cpp"
cat > "$tmp/main.cpp" <<'CPP'
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <type_traits>
#include <vector>
#include "msd_correlator.h"
#include "msd_ref.h"
struct Data {
  int natoms = 4000;
  std::vector<double> traj;  // 64 frames, reused with a drift
  std::vector<int> species;
};
template <class C>
static double run(C &c, const Data &d, int nsamples, std::vector<double> &hist) {
  const int n = d.natoms, pd = c.peratom_doubles();
  hist.assign((size_t) n * pd, 0.0);
  std::vector<double> x(3 * (size_t) n);
  std::vector<double *> rows(n);
  for (int i = 0; i < n; ++i) rows[i] = &hist[(size_t) i * pd];
  const std::clock_t t0 = std::clock();
  for (int s = 0; s < nsamples; ++s) {
    const double *f = &d.traj[(size_t) (s % 64) * n * 3];
    for (int i = 0; i < n; ++i) {
      x[3 * i] = f[3 * i] + 0.01 * s;
      x[3 * i + 1] = f[3 * i + 1];
      x[3 * i + 2] = f[3 * i + 2] - 0.003 * s;
    }
    c.begin_sample(1000.0);
    if constexpr (std::is_same_v<C, ionsitu::MsdCorrelator>) {
      c.add_atoms(n, rows.data(), x.data(), d.species.data());
    } else {
      for (int i = 0; i < n; ++i) c.add_atom(rows[i], &x[3 * i], d.species[i]);
    }
    std::vector<double> total(c.collective_partial());
    c.end_sample(total.data());
  }
  return (double) (std::clock() - t0) / CLOCKS_PER_SEC / nsamples;
}
int main(int argc, char **argv) {
  const int nsamples = argc > 1 ? std::atoi(argv[1]) : 2000;
  Data d;
  std::mt19937_64 g(1);
  std::uniform_real_distribution<double> u(0.0, 20.0);
  d.traj.resize((size_t) 64 * d.natoms * 3);
  for (double &v : d.traj) v = u(g);
  d.species.resize(d.natoms);
  for (int i = 0; i < d.natoms; ++i) d.species[i] = i % 3 - 1;
  double t_ref = 1e9, t_new = 1e9;
  bool same = true;
  std::vector<double> h_ref, h_new;
  for (int round = 0; round < 3; ++round) {
    ionsitu_ref::MsdCorrelator a(10, 7, 2);
    ionsitu::MsdCorrelator b(10, 7, 2);
    t_ref = std::min(t_ref, run(a, d, nsamples, h_ref));
    t_new = std::min(t_new, run(b, d, nsamples, h_new));
    same = same && a.self_sums() == b.self_sums() && a.collective_sums() == b.collective_sums() &&
           a.n_origins() == b.n_origins() && h_ref == h_new;
  }
  std::printf("CPU time per sample (4000 atoms, block 10, levels 7): reference %.1f us, this tree %.1f us, "
              "ratio %.3f; bitwise equal: %s\n", t_ref * 1e6, t_new * 1e6, t_new / t_ref, same ? "yes" : "NO");
  return same ? 0 : 1;
}
CPP
"${CXX:-g++}" -std=c++17 -O3 -I"$root/src/core" -I"$tmp" "$tmp/main.cpp" "$tmp/msd_ref.cpp" \
  "$root/src/core/msd_correlator.cpp" -o "$tmp/bench_msd_core"
"$tmp/bench_msd_core" "$samples"

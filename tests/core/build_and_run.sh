#!/usr/bin/env bash
# Builds and runs the standalone C++ tests of src/core (no LAMMPS, no MPI).
# Usage: tests/core/build_and_run.sh [build-dir]   (default: a temporary directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
CXX="${CXX:-g++}"
# SANITIZE="" builds without AddressSanitizer/UBSan.
SANITIZE="${SANITIZE--fsanitize=address,undefined -fno-sanitize-recover=all}"
"$CXX" -std=c++17 -Wall -Wextra -Werror -O2 -g $SANITIZE -I"$root/src/core" \
  "$here/test_core.cpp" "$root/src/core/occupancy_grid.cpp" "$root/src/core/hop_detector.cpp" \
  "$root/src/core/cell_list.cpp" "$root/src/core/msd_correlator.cpp" "$root/src/core/append_log.cpp" \
  "$root/src/core/space_time_pairs.cpp" \
  -o "$out/test_core"
"$out/test_core" "$out"

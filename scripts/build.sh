#!/usr/bin/env bash
# Configures and builds the project into build/ (or $CASPL_BUILD_DIR). Extra arguments go to CMake's configure
# step, e.g. -DCMAKE_PREFIX_PATH=/path/to/libtorch for a CUDA LibTorch.
#   CASPL_BUILD_DIR    build folder (default build)
#   CASPL_BUILD_TYPE   CMake build type (default Release)
#   CASPL_JOBS         parallel compilations (default: the cores, at most one per 1.5 GB of available memory:
#                      a file that includes LibTorch takes about 1.2 GB to compile)
#   CASPL_TARGETS      what to build, e.g. "caspl caspl-studio" (default: everything, the tests included)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${CASPL_BUILD_DIR:-build}
if [ -z "${CASPL_JOBS:-}" ]; then
  JOBS=$(nproc)
  avail_kb=$(awk '/^MemAvailable:/{print $2}' /proc/meminfo 2>/dev/null || true)
  avail_kb=${avail_kb:-0}
  by_memory=$(( avail_kb / 1500000 ))
  if [ "$by_memory" -lt 1 ]; then by_memory=1; fi
  if [ "$avail_kb" -gt 0 ] && [ "$by_memory" -lt "$JOBS" ]; then JOBS=$by_memory; fi
else
  JOBS=$CASPL_JOBS
fi
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD_DIR/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE="${CASPL_BUILD_TYPE:-Release}" "$@"
targets=()
for t in ${CASPL_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}"

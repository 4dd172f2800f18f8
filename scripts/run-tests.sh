#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds everything and runs every test.
# Extra arguments go to ctest, e.g. `scripts/run-tests.sh -L unit` or `-R Tokenizer`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Most tests compare with reference data kept next to the repository (README, "Tests"): say so before a long build.
# Where the tests look: $CASPL_FIXTURES, else the build's CASPL_FIXTURES_DIR, else ../shared/fixtures.
BUILD_DIR=${CASPL_BUILD_DIR:-build}
if [ -n "${CASPL_FIXTURES:-}" ]; then
  CASPL_FIXTURES=$(realpath -m "$CASPL_FIXTURES")  # the tests run in another folder
  export CASPL_FIXTURES
  fixtures=$CASPL_FIXTURES
else
  fixtures=$(sed -n 's/^CASPL_FIXTURES_DIR:PATH=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
  fixtures=${fixtures:-../shared/fixtures}
fi
if [ ! -d "$fixtures/tokenizer" ] || [ ! -d "$fixtures/clip-tiny-a" ]; then
  echo "run-tests.sh: no reference data in $fixtures (the tests compare with it): place the project's shared" >&2
  echo "fixtures folder there (shared/fixtures next to this repository), or set CASPL_FIXTURES=DIR" >&2
  exit 3
fi
bash scripts/install-deps.sh
# The test build also compiles the CUDA-only code paths against CUDA headers when the machine has them and
# LibTorch has no CUDA (a compile check; nothing runs): see CASPL_CUDA_COMPILE_CHECK in core/CMakeLists.txt.
bash scripts/build.sh -DCASPL_CUDA_COMPILE_CHECK=ON
ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"

#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds everything and runs every test.
# Extra arguments go to ctest, e.g. `scripts/run-tests.sh -L unit` or `-R Tokenizer`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The test build also compiles the CUDA-only code paths against CUDA headers when the machine has them and
# LibTorch has no CUDA (a compile check; nothing runs): see CASPL_CUDA_COMPILE_CHECK in core/CMakeLists.txt.
bash scripts/build.sh -DCASPL_CUDA_COMPILE_CHECK=ON
BUILD_DIR=${CASPL_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"

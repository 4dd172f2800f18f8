#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds everything and runs every test.
# Extra arguments go to ctest, e.g. `scripts/run-tests.sh -L unit` or `-R Tokenizer`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BUILD_DIR=${CASPL_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure "$@"

#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds everything and runs the main job: the demo experiment
# (`caspl demo`): Fashion-MNIST from Debian's dataset-fashion-mnist, two small CLIPs pretrained here (cached after
# the first run), then zero-shot, CoOp and CoOp + CasPL base-to-novel with a base / novel / HM table.
# Extra arguments go to `caspl demo` (e.g. --cache DIR, --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${CASPL_BUILD_DIR:-build}
# The two executables only (the tests are built by run-tests.sh); the desktop one unless this build folder was
# configured without it.
targets="caspl caspl-studio"
if grep -qs '^CASPL_BUILD_GUI:BOOL=OFF' "$BUILD_DIR/CMakeCache.txt"; then targets="caspl"; fi
CASPL_TARGETS="$targets" bash scripts/build.sh
"$BUILD_DIR/app/caspl" --version
"$BUILD_DIR/app/caspl" demo "$@"

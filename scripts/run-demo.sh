#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds everything and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
BUILD_DIR=${CASPL_BUILD_DIR:-build}
"$BUILD_DIR/app/caspl" --version

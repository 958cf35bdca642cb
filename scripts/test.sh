#!/usr/bin/env bash
# Sets up (packages + Release build) and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
[ "${CI:-}" = "true" ] && extra+=(-DCELLFORGE_WERROR=ON)
scripts/setup.sh -DBUILD_TESTING=ON "${extra[@]}"
BUILD_DIR=${BUILD_DIR:-build}
cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
cd "$BUILD_DIR"
ctest --output-on-failure -j "${JOBS:-2}" "$@"

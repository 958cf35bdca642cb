#!/usr/bin/env bash
# Builds the whole test suite with AddressSanitizer + UndefinedBehaviorSanitizer (GCC, -O1 -g,
# build-asan/) and runs it through ctest. Any sanitizer report fails the test that triggered it
# (UBSan does not recover; ASan/LSan exit non-zero), including reports from the cellforge
# processes that the CLI tests start, since they inherit the options below.
# Usage: scripts/test_sanitized.sh [ctest arguments, e.g. -R test_space; then one ctest run with them]
# Needs the packages scripts/setup.sh installs (run that once first).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-asan}
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
built=$(date +%s)
echo "test_sanitized: build took $((built - start)) s"

# No suppression files: oneDNN's JIT and OpenMP run clean under these options (leak checking on).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ctest_run() { (cd "$BUILD_DIR" && ctest --output-on-failure -j "${JOBS:-2}" --timeout 1800 "$@"); }
if (($#)); then
  ctest_run "$@" || status=$?
else
  # The MPI tests without leak checking: every rank of an Open MPI 4.1 job leaks ~120 KB in ~3,350
  # allocations at exit (MPI_Finalize), mostly from MCA plugins that are dlclose'd by then, so
  # their stacks show "<unknown module>" and no suppression pattern can name them (see
  # fuzz/findings/README.md). Address and UB checks stay on there; everything else checks leaks.
  mpi='^test_cli_mpi:'
  ctest_run -E "$mpi" || status=$?
  ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" ctest_run -R "$mpi" || status=$?
fi
echo "test_sanitized: tests took $(( $(date +%s) - built )) s (build + tests $(( $(date +%s) - start )) s)"
exit $status

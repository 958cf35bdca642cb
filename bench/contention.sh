#!/bin/sh
# Training throughput with the cores to itself and next to a busy neighbour (issue 14, item 3):
# step_bench on NASNet-A (cifar stem, N=2, F=16, batch 64, 28x28x1) quiet, then beside one
# `yes >/dev/null`, then beside a second identical training. Prints images/s of each and the
# contended/quiet ratios. Extra arguments go to step_bench (e.g. --threads 2).
#
# usage: bench/contention.sh [--build-dir DIR] [--steps S] [step_bench options...]
# Run it on an otherwise idle machine; it takes about 2 minutes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
steps=20
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ ! -x "$build/bench/step_bench" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target step_bench >/dev/null
fi
bench() {
  "$build/bench/step_bench" --arch nasnet_a --cells-per-stack 2 --filters 16 --batch 64 \
    --input 28x28x1 --steps "$steps" "$@"
}
rate() { echo "$1" | head -n 1 | sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p'; }

quiet=$(bench "$@")
echo "quiet:            $(echo "$quiet" | head -n 1)"

yes >/dev/null &
hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
sleep 1
busy_yes=$(bench "$@")
kill $hog
trap - EXIT
echo "beside yes:       $(echo "$busy_yes" | head -n 1)"

# Two identical trainings started together; the first one's figure (the second runs a little
# longer, so the first is contended for all of its steps).
out=$(mktemp /tmp/contention.XXXXXX)
trap 'rm -f "$out"' EXIT
bench "$@" --steps $((steps * 3 / 2)) >"$out" 2>&1 &
twin=$!
busy_twin=$(bench "$@")
wait $twin
echo "beside training:  $(echo "$busy_twin" | head -n 1)"
echo "  (its twin:      $(head -n 1 "$out"))"

awk -v q="$(rate "$quiet")" -v y="$(rate "$busy_yes")" -v t="$(rate "$busy_twin")" \
  'BEGIN { printf "contended/quiet: beside yes %.0f%%, beside a training %.0f%%\n", 100 * y / q, 100 * t / q }'

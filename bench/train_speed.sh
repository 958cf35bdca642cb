#!/bin/sh
# Training speed of cellforge against PyTorch on the same network (issue 3, item 8): builds the
# benchmark if needed, times both on random data and prints images/s, their ratio and peak memory
# (cellforge in fp32 and in bf16, PyTorch in fp32);
# then both again next to a busy `yes` process, and cellforge next to a second training
# (bench/contention.sh), as fractions of their quiet speed.
#
# usage: bench/train_speed.sh [--arch NAME] [--steps S] [--threads T] [--build-dir DIR]
# Defaults: NASNet-A, cifar stem, N=2, F=16, batch 64, 28x28x1 input, 10 classes, 2 threads.
# Timings move by several percent with other load on the machine: check `uptime` and repeat.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
arch=nasnet_a
steps=15
threads=2
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ ! -x "$build/bench/step_bench" ] || [ ! -x "$build/cellforge" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target step_bench cellforge >/dev/null
fi

common="--cells-per-stack 2 --filters 16 --batch 64 --input 28x28x1 --threads $threads"
ours=$("$build/bench/step_bench" --arch "$arch" --steps "$steps" $common)
ours_bf16=$("$build/bench/step_bench" --arch "$arch" --steps "$steps" $common --precision bf16)
genotype=$(mktemp /tmp/train_speed.XXXXXX.json)
trap 'rm -f "$genotype"' EXIT
"$build/cellforge" show --arch "$arch" > "$genotype"
theirs=$(/usr/bin/python3 "$here/pytorch_nasnet.py" --genotype "$genotype" --steps "$steps" $common)

echo "$ours"
echo "$ours_bf16"
echo "$theirs"
# First line of each: "... X images/s (...) ... peak RSS Y MiB ..."
rate() { echo "$1" | head -n 1 | sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p'; }
rss() { echo "$1" | head -n 1 | sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p'; }
awk -v a="$(rate "$ours")" -v b="$(rate "$theirs")" -v ma="$(rss "$ours")" -v mb="$(rss "$theirs")" \
  'BEGIN { printf "cellforge %.1f images/s, pytorch %.1f images/s: %.2fx; peak RSS %s MiB vs %s MiB\n", a, b, a / b, ma, mb }'
awk -v a="$(rate "$ours_bf16")" -v f="$(rate "$ours")" -v b="$(rate "$theirs")" -v ma="$(rss "$ours_bf16")" \
  'BEGIN { printf "cellforge bf16 %.1f images/s: %.2fx pytorch (fp32), %.2fx cellforge fp32; peak RSS %s MiB\n", a, a / b, a / f, ma }'

# Next to a busy neighbour (issue 14, item 3).
yes >/dev/null &
hog=$!
trap 'rm -f "$genotype"; kill $hog 2>/dev/null || true' EXIT
sleep 1
theirs_busy=$(/usr/bin/python3 "$here/pytorch_nasnet.py" --genotype "$genotype" --steps "$steps" $common)
kill $hog
awk -v b="$(rate "$theirs")" -v y="$(rate "$theirs_busy")" \
  'BEGIN { printf "pytorch beside yes: %.1f images/s, %.0f%% of quiet\n", y, 100 * y / b }'
sh "$here/contention.sh" --build-dir "$build" --steps "$steps" --threads "$threads" | tail -n 1 |
  sed 's/^/cellforge /'

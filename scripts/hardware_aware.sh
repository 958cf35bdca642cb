#!/bin/sh
# Issue 13's experiment: the best cell of a size-capped campaign against NASNet-A at full size,
# two seeds each, then test accuracy, params, MACs and batch-1 latency side by side.
# Resumable: a finished run (result.json) is skipped, an interrupted one continues from its last
# epoch checkpoint (--resume), so it can be run again after a session ends.
#
# usage: scripts/hardware_aware.sh FOUND_GENOTYPE.json [--epochs E] [--filters F] [--seeds "0 1"]
#        [--out DIR] [--build-dir DIR]
# Defaults: configs/fashion-mnist-full.ini with 4@... F=16, 4 epochs, seeds 0 and 1, runs in
# runs/hardware-aware/. Train nothing else meanwhile: two trainings on 2 cores slow each other
# about tenfold, and the latency figures need a quiet machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
found=$1
shift
epochs=4
filters=16
seeds="0 1"
out="$root/runs/hardware-aware"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --filters) filters=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cellforge="$build/cellforge"
mkdir -p "$out"

train() {  # name arch seed
  dir="$out/$1-s$3"
  if [ -f "$dir/result.json" ]; then
    echo "$dir: done"
    return
  fi
  resume=""
  if [ -f "$dir/latest" ]; then  # trainer/checkpoint.h: the newest complete epoch checkpoint
    resume="--resume"
  fi
  echo "$dir: training ($(date -u +%H:%M))"
  "$cellforge" train --arch "$2" --config "$root/configs/fashion-mnist-full.ini" \
    --set train.epochs="$epochs" --set network.filters="$filters" --set train.seed="$3" \
    --out "$dir" $resume --json > "$dir.json.tmp"
  mv "$dir.json.tmp" "$dir.json"
}

for seed in $seeds; do
  train found "$found" "$seed"
  train nasnet_a nasnet_a "$seed"
done

# Latency of both at the full-size stacking (no auxiliary head) and at the proxy stacking.
for arch in "$found" nasnet_a; do
  "$cellforge" latency --arch "$arch" --cells-per-stack 4 --filters "$filters" --input 28x28x1 \
    --runs 200 --json > "$out/latency-full-$(basename "$arch" .json).json"
  "$cellforge" latency --arch "$arch" --cells-per-stack 2 --filters 16 --input 28x28x1 \
    --runs 200 --json > "$out/latency-proxy-$(basename "$arch" .json).json"
done
echo "results in $out"

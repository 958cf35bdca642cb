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
  if [ -f "$dir/checkpoint/latest" ]; then  # trainer/checkpoint.h: the newest complete epoch
    resume="--resume"
  fi
  echo "$dir: training ($(date -u +%H:%M))"
  "$cellforge" train --arch "$2" --config "$root/configs/fashion-mnist-full.ini" \
    --set train.epochs="$epochs" --set network.filters="$filters" --set train.seed="$3" \
    --out "$dir" $resume >> "$dir.log" 2>&1  # the record is $dir/result.json
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
# The table: test accuracy per seed and their mean, params and MACs (with the aux head, as
# trained), training time, batch-1 latency (1 thread) at the full-size and proxy stackings.
/usr/bin/python3 - "$out" "$found" "$seeds" <<'PY'
import json, os, statistics, sys
out, found, seeds = sys.argv[1], sys.argv[2], sys.argv[3].split()
name = os.path.basename(found)[:-5] if found.endswith(".json") else found
print("| network | test accuracy (seeds " + ", ".join(seeds) + ") | mean | params | MACs | "
      "training min | latency full / proxy (ms) |")
print("|---|---|---|---|---|---|---|")
for label, arch in (("found", name), ("nasnet_a", "nasnet_a")):
    runs = [json.load(open(f"{out}/{label}-s{s}/result.json")) for s in seeds]
    accs = [100 * r["test_accuracy"] for r in runs]
    full = json.load(open(f"{out}/latency-full-{arch}.json"))
    proxy = json.load(open(f"{out}/latency-proxy-{arch}.json"))
    acc_text = " / ".join("%.2f%%" % a for a in accs)
    minutes = " / ".join("%.1f" % (r["seconds"] / 60) for r in runs)
    print("| %s | %s | %.2f%% | {:,} | %.1fM | %s | %.3f / %.3f |".format(runs[0]["params"])
          % (label, acc_text, statistics.mean(accs), runs[0]["macs"] / 1e6, minutes,
             full["median_ms"], proxy["median_ms"]))
PY
echo "results in $out"

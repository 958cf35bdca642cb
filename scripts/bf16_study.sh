#!/bin/sh
# Issue 14's accuracy check of bf16 training on the Fashion-MNIST proxy
# (configs/fashion-mnist-proxy.ini: 2@... F=16, one epoch on 10,000 images, 5,000 held out):
#  1. NASNet-A in fp32 and in bf16, the same seeds;
#  2. K cells spread over a campaign's proxy ranking, each trained in fp32 and in bf16 with the
#     same seed (cellforge fidelity), and the Kendall tau-b between the two sets of scores.
# Resumable: finished NASNet-A runs are skipped and cellforge fidelity keeps finished
# retrainings, so it can be run again after a session ends. Train nothing else meanwhile.
#
# usage: scripts/bf16_study.sh CAMPAIGN_RUN_DIR [--sample K] [--seeds "0 1 2"] [--out DIR]
#        [--build-dir DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
run_dir=$1
shift
sample=10
seeds="0 1 2"
out="$root/runs/bf16-study"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --sample) sample=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cellforge="$build/cellforge"
config="$root/configs/fashion-mnist-proxy.ini"
mkdir -p "$out"

for seed in $seeds; do
  for precision in fp32 bf16; do
    dir="$out/nasnet_a-$precision-s$seed"
    if [ -f "$dir/result.json" ]; then continue; fi
    echo "$dir ($(date -u +%H:%M))"
    "$cellforge" train --arch nasnet_a --config "$config" --set train.seed="$seed" \
      --precision "$precision" --out "$dir" > "$dir.log" 2>&1
  done
done

for precision in fp32 bf16; do
  echo "cells in $precision ($(date -u +%H:%M))"
  "$cellforge" fidelity "$run_dir" --sample "$sample" --config "$config" \
    --set train.precision="$precision" | tee "$out/cells-$precision.txt"
done

/usr/bin/python3 - "$out" "$seeds" <<'PY'
import json, math, re, sys
out, seeds = sys.argv[1], sys.argv[2].split()

def tau_b(x, y):
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx * dy > 0:
                concordant += 1
            else:
                discordant += 1
    n0 = concordant + discordant
    return (concordant - discordant) / math.sqrt((n0 + ties_x) * (n0 + ties_y))

print("NASNet-A, 1-epoch proxy (validation accuracy, training seconds):")
print("| seed | fp32 | bf16 | bf16 - fp32 | fp32 s | bf16 s |")
print("|---|---|---|---|---|---|")
diffs = []
for s in seeds:
    r = {p: json.load(open(f"{out}/nasnet_a-{p}-s{s}/result.json")) for p in ("fp32", "bf16")}
    a, b = 100 * r["fp32"]["valid_accuracy"], 100 * r["bf16"]["valid_accuracy"]
    diffs.append(b - a)
    print(f"| {s} | {a:.2f}% | {b:.2f}% | {b - a:+.2f} | {r['fp32']['seconds']:.0f} | "
          f"{r['bf16']['seconds']:.0f} |")
print(f"mean difference {sum(diffs) / len(diffs):+.2f} points over {len(seeds)} seeds\n")

cells = {}
for p in ("fp32", "bf16"):
    d = re.search(r"retrainings in (\S+)", open(f"{out}/cells-{p}.txt").read()).group(1)
    for line in open(f"{out}/cells-{p}.txt"):
        m = re.match(r"(\d+)\s+(\S+)\s+([\d.]+)%\s+([\d.]+)%", line)
        if m:
            rec = json.load(open(f"{d}/{m.group(2)}.json"))
            cells.setdefault(m.group(2), {"id": int(m.group(1))})[p] = rec
print("Campaign cells, trained at the proxy with one seed in both precisions:")
print("| id | campaign proxy | fp32 | bf16 | bf16 - fp32 | fp32 s | bf16 s |")
print("|---|---|---|---|---|---|---|")
xs, ys = [], []
for h, c in cells.items():
    a, b = 100 * c["fp32"]["accuracy"], 100 * c["bf16"]["accuracy"]
    xs.append(a), ys.append(b)
    print(f"| {c['id']} | {100 * c['fp32']['proxy_accuracy']:.2f}% | {a:.2f}% | {b:.2f}% | "
          f"{b - a:+.2f} | {c['fp32']['seconds']:.0f} | {c['bf16']['seconds']:.0f} |")
print(f"Kendall tau-b between fp32 and bf16 over {len(xs)} cells: {tau_b(xs, ys):.3f}; "
      f"mean difference {sum(y - x for x, y in zip(xs, ys)) / len(xs):+.2f} points")
PY

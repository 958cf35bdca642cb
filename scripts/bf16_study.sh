#!/bin/sh
# Issue 14's accuracy check of bf16 training on the Fashion-MNIST proxy
# (configs/fashion-mnist-proxy.ini: 2@... F=16, one epoch on 10,000 images, 5,000 held out):
#  1. NASNet-A in fp32 and in bf16, the same seeds;
#  2. K cells spread over a campaign's proxy ranking, each trained in fp32 and in bf16 with the
#     same seeds (cellforge fidelity), and the Kendall tau-b between the two sets of scores, next
#     to the tau between two seeds of one precision (the proxy's own noise floor).
# Resumable: finished NASNet-A runs are skipped and cellforge fidelity keeps finished
# retrainings, so it can be run again after a session ends. Train nothing else meanwhile.
#
# usage: scripts/bf16_study.sh CAMPAIGN_RUN_DIR [--sample K] [--seeds "0 1 2"]
#        [--cell-seeds "0 1"] [--out DIR] [--build-dir DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
run_dir=$1
shift
sample=10
seeds="0 1 2"
cell_seeds="0 1"
out="$root/runs/bf16-study"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --sample) sample=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --cell-seeds) cell_seeds=$2; shift 2 ;;
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

for seed in $cell_seeds; do
  for precision in fp32 bf16; do
    echo "cells in $precision, seed $seed ($(date -u +%H:%M))"
    "$cellforge" fidelity "$run_dir" --sample "$sample" --config "$config" \
      --set train.precision="$precision" --set train.seed="$seed" |
      tee "$out/cells-$precision-s$seed.txt"
  done
done

/usr/bin/python3 - "$out" "$seeds" "$cell_seeds" "$here" <<'PY'
import json, math, re, sys
out, seeds, cell_seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
sys.path.insert(0, sys.argv[4])
from kendall import tau_b

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

def scores(precision, seed):
    text = open(f"{out}/cells-{precision}-s{seed}.txt").read()
    d = re.search(r"retrainings in (\S+)", text).group(1)
    result = {}
    for m in re.finditer(r"^(\d+)\s+(\S+)\s+([\d.]+)%\s+([\d.]+)%", text, re.M):
        rec = json.load(open(f"{d}/{m.group(2)}.json"))
        result[int(m.group(1))] = (100 * rec["accuracy"], 100 * rec["proxy_accuracy"], rec["seconds"])
    return result

runs = {(p, s): scores(p, s) for p in ("fp32", "bf16") for s in cell_seeds}
ids = list(runs[("fp32", cell_seeds[0])])
def column(p, s):
    return [runs[(p, s)][i][0] for i in ids]
def mean_column(p):
    return [sum(runs[(p, s)][i][0] for s in cell_seeds) / len(cell_seeds) for i in ids]
print("Campaign cells, trained at the proxy in both precisions (validation accuracy per seed):")
print("| id | campaign proxy | " + " | ".join(f"fp32 s{s} | bf16 s{s}" for s in cell_seeds) +
      " | mean fp32 | mean bf16 |")
print("|---|---|" + "---|---|" * len(cell_seeds) + "---|---|")
fm, bm = mean_column("fp32"), mean_column("bf16")
for k, i in enumerate(ids):
    cols = " | ".join(f"{runs[('fp32', s)][i][0]:.2f}% | {runs[('bf16', s)][i][0]:.2f}%"
                      for s in cell_seeds)
    print(f"| {i} | {runs[('fp32', cell_seeds[0])][i][1]:.2f}% | {cols} | {fm[k]:.2f}% | {bm[k]:.2f}% |")
print()
print("Kendall tau-b over", len(ids), "cells:")
for s in cell_seeds:
    print(f"  fp32 vs bf16, seed {s}: {tau_b(column('fp32', s), column('bf16', s)):.3f}")
if len(cell_seeds) > 1:
    a, b = cell_seeds[0], cell_seeds[1]
    print(f"  fp32 seed {a} vs fp32 seed {b} (noise floor): {tau_b(column('fp32', a), column('fp32', b)):.3f}")
    print(f"  bf16 seed {a} vs bf16 seed {b} (noise floor): {tau_b(column('bf16', a), column('bf16', b)):.3f}")
    print(f"  mean of seeds, fp32 vs bf16: {tau_b(fm, bm):.3f}")
campaign = [runs[("fp32", cell_seeds[0])][i][1] for i in ids]
print(f"  campaign's own scores vs mean fp32: {tau_b(campaign, fm):.3f}, vs mean bf16: {tau_b(campaign, bm):.3f}")
diff = [b - a for a, b in zip(fm, bm)]
print(f"mean bf16 - fp32 over cells and seeds: {sum(diff) / len(diff):+.2f} points")
fs = sum(runs[("fp32", s)][i][2] for s in cell_seeds for i in ids)
bs = sum(runs[("bf16", s)][i][2] for s in cell_seeds for i in ids)
print(f"training time over all cell runs: fp32 {fs / 60:.1f} min, bf16 {bs / 60:.1f} min ({fs / bs:.2f}x)")
PY

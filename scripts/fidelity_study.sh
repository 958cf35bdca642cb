#!/bin/sh
# Issue 12's fidelity study: K cells spread over a campaign's proxy ranking, each trained at three
# fidelities of the Fashion-MNIST proxy (configs/fashion-mnist-proxy.ini, 2@... F=16, scored on
# the same 5,000 held-out images), then the Kendall tau-b between every pair of fidelities and
# against the campaign's own scores. The cheapest fidelity is trained with two seeds: the tau
# between them is the noise floor a proxy ranking is read against.
#   proxy   1 epoch on 10,000 images (the campaign proxy), seeds 0 and 1
#   middle  2 epochs on 20,000 images
#   high    4 epochs on 30,000 images (about 12x the proxy's cost)
# Resumable: cellforge fidelity keeps every finished retraining under
# RUN_DIR/fidelity/<config>-<hash>/, so run it again after a session ends. Train nothing else
# meanwhile (two trainings on 2 cores slow each other about tenfold).
#
# usage: scripts/fidelity_study.sh CAMPAIGN_RUN_DIR [--sample K] [--out DIR] [--build-dir DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
run_dir=$1
shift
sample=16
out="$root/runs/fidelity-study"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --sample) sample=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

study() {  # name, then --set arguments
  name=$1
  shift
  echo "$name ($(date -u +%H:%M))"
  "$build/cellforge" fidelity "$run_dir" --sample "$sample" \
    --config "$root/configs/fashion-mnist-proxy.ini" "$@" | tee "$out/$name.txt"
}

study proxy-s0 --set train.seed=0
study proxy-s1 --set train.seed=1
study middle --set train.seed=0 --set data.train_images=20000 --set train.epochs=2
study high --set train.seed=0 --set data.train_images=30000 --set train.epochs=4

/usr/bin/python3 - "$out" "$here" <<'PY'
import json, re, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from kendall import tau_b
names = ["proxy-s0", "proxy-s1", "middle", "high"]

runs = {}
for n in names:
    text = open(f"{out}/{n}.txt").read()
    folder = re.search(r"retrainings in (\S+)", text).group(1)
    runs[n] = {}
    for m in re.finditer(r"^(\d+)\s+(\S+)\s+([\d.]+)%\s+([\d.]+)%", text, re.M):
        rec = json.load(open(f"{folder}/{m.group(2)}.json"))
        runs[n][int(m.group(1))] = rec
ids = list(runs["proxy-s0"])
score = {n: [100 * runs[n][i]["accuracy"] for i in ids] for n in names}
score["campaign"] = [100 * runs["proxy-s0"][i]["proxy_accuracy"] for i in ids]
print("| id | params | campaign | " + " | ".join(names) + " |")
print("|---|---|---|" + "---|" * len(names))
for k, i in enumerate(ids):
    print(f"| {i} | {runs['proxy-s0'][i]['params']:,} | {score['campaign'][k]:.2f}% | " +
          " | ".join(f"{score[n][k]:.2f}%" for n in names) + " |")
print()
cols = ["campaign"] + names
print("Kendall tau-b over", len(ids), "cells:")
print("| | " + " | ".join(cols) + " |")
print("|---|" + "---|" * len(cols))
for a in cols:
    print(f"| {a} | " + " | ".join(f"{tau_b(score[a], score[b]):.3f}" for b in cols) + " |")
for n in names:
    minutes = sum(runs[n][i]["seconds"] for i in ids) / 60
    print(f"{n}: {minutes:.1f} min of training for {len(ids)} cells")
PY

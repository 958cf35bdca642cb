#!/bin/sh
# Issue 17's second ranking figure: do supernet scores (and the 1-epoch proxy) rank cells the way a
# longer stand-alone training does? Works from the committed evidence of scripts/supernet_study.sh
# (EVIDENCE/ranking.csv: the spread cells with their supernet score and 1-epoch accuracy;
# EVIDENCE/scores.json: their genotypes), so it needs no supernet and no rerun of the 1-epoch
# trainings:
#  1. L of the ranking's cells, evenly over the supernet ranking (best and worst included; those
#     not yet done trained farthest-first, so a partial study stays spread), each trained longer
#     stand-alone: configs/fashion-mnist-proxy.ini with 4 epochs on 30,000 images
#     (the fidelity study's "high", about 12x the proxy's cost), seed 0, T threads;
#  2. each finished training's result.json copied to EVIDENCE/long/HASH.json (commit them: an
#     interrupted study continues in a later session from there; an interrupted training resumes
#     from its last epoch's checkpoint in OUT);
#  3. Kendall tau-b of the supernet score, the 1-epoch accuracy and the parameter count against the
#     longer training's accuracy, into EVIDENCE/ranking-long.csv and EVIDENCE/summary-long.txt
#     (over the cells finished so far).
# Train nothing else meanwhile (two trainings on 2 cores slow each other tenfold).
#
# usage: scripts/supernet_long.sh [--long L] [--threads T] [--evidence DIR] [--out DIR]
#        [--build-dir DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
evidence="$root/docs/experiments/supernet"
out="$root/runs/supernet-long"
build="$root/build"
long=10
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --long) long=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --evidence) evidence=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cellforge="$build/cellforge"
mkdir -p "$out/cells" "$evidence/long"

# The L cells, as genotype files in OUT/cells; their hashes in OUT/picked.txt.
/usr/bin/python3 - "$evidence" "$out" "$long" <<'PY'
import csv, json, sys
evidence, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ranking = [r["hash"] for r in csv.DictReader(open(f"{evidence}/ranking.csv"))]
n = min(n, len(ranking))
picked = ([ranking[round(i * (len(ranking) - 1) / (n - 1))] for i in range(n)] if n > 1
          else ranking[:1])
picked = list(dict.fromkeys(picked))
# Trained farthest-first over the ranking (each next cell the one farthest from every cell done),
# so that a study stopped part way has its finished cells spread over the ranking too.
import os
index = {h: i for i, h in enumerate(ranking)}
done = [index[h] for h in ranking if os.path.exists(f"{evidence}/long/{h}.json")]
todo = [h for h in picked if index[h] not in done]
order = []
while todo:
    new = [index[h] for h in order]
    far = lambda h, cells: min((abs(index[h] - c) for c in cells), default=len(ranking))
    # (ties: farthest from this run's cells, so neighbours of the done cells spread out too)
    todo.sort(key=lambda h: (-far(h, done + new), -far(h, new), index[h]))
    order.append(todo.pop(0))
picked = [h for h in picked if index[h] in done] + order
genotypes = {r["hash"]: r["genotype"] for r in json.load(open(f"{evidence}/scores.json"))}
for h in picked:
    g = dict(genotypes[h])
    g["name"] = h
    with open(f"{out}/cells/{h}.json", "w") as f:
        json.dump(g, f, indent=2)
open(f"{out}/picked.txt", "w").write("\n".join(picked) + "\n")
PY

for hash in $(cat "$out/picked.txt"); do
  if [ -f "$evidence/long/$hash.json" ]; then continue; fi
  dir="$out/$hash"
  echo "longer stand-alone $hash ($(date -u +%H:%M))"
  set -- --set train.seed=0 --set data.train_images=30000 --set train.epochs=4 \
    --set train.threads="$threads"
  # (an interrupted training continues from its last epoch's checkpoint)
  if [ -e "$dir/checkpoint/latest" ]; then set -- "$@" --resume; fi
  "$cellforge" train --arch "$out/cells/$hash.json" --config "$root/configs/fashion-mnist-proxy.ini" \
    "$@" --out "$dir" >> "$dir.log" 2>&1
  cp "$dir/result.json" "$evidence/long/$hash.json"
done

/usr/bin/python3 - "$evidence" "$here" <<'PY'
import csv, glob, json, os, sys
evidence = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from kendall import tau_b
ranking = {r["hash"]: r for r in csv.DictReader(open(f"{evidence}/ranking.csv"))}
longer = {}
for path in glob.glob(f"{evidence}/long/*.json"):
    longer[os.path.basename(path)[:-len(".json")]] = json.load(open(path))
both = [h for h in ranking if h in longer]  # (in supernet ranking order)
if len(both) < 3:
    sys.exit(f"only {len(both)} cells trained longer so far: no ranking yet")
with open(f"{evidence}/ranking-long.csv", "w") as f:
    f.write("hash,supernet_accuracy,proxy_accuracy,long_accuracy,params,long_seconds\n")
    for h in both:
        f.write(f"{h},{ranking[h]['supernet_accuracy']},{ranking[h]['standalone_accuracy']},"
                f"{longer[h]['valid_accuracy']:.4f},{longer[h]['params']},"
                f"{longer[h]['seconds']:.1f}\n")
long_acc = [longer[h]["valid_accuracy"] for h in both]
supernet = [float(ranking[h]["supernet_accuracy"]) for h in both]
proxy = [float(ranking[h]["standalone_accuracy"]) for h in both]
params = [longer[h]["params"] for h in both]
lines = [f"{len(both)} of the {len(ranking)} spread cells trained longer (4 epochs, 30,000 images, "
         f"seed 0): {min(long_acc):.4f} .. {max(long_acc):.4f}",
         f"Kendall tau-b supernet vs longer: {tau_b(supernet, long_acc):+.3f}",
         f"Kendall tau-b 1-epoch vs longer:  {tau_b(proxy, long_acc):+.3f}",
         f"Kendall tau-b params vs longer:   {tau_b(params, long_acc):+.3f}",
         f"Kendall tau-b supernet vs 1-epoch over the same cells: {tau_b(supernet, proxy):+.3f}"]
open(f"{evidence}/summary-long.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

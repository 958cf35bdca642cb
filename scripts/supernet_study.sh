#!/bin/sh
# Issue 17's ranking measurement: how well supernet scores (inherited weights, recalibrated batch
# norm) rank cells against their stand-alone training.
#  1. cellforge supernet train CONFIG (resumes an interrupted run);
#  2. N cells sampled uniformly from the space, scored by the supernet (cells/s printed);
#  3. K of them evenly spread over the supernet's ranking, best and worst included, each trained
#     stand-alone with the 1-epoch Fashion-MNIST proxy (configs/fashion-mnist-proxy.ini);
#  4. Kendall tau-b between supernet score and stand-alone validation accuracy, into
#     OUT/ranking.csv and OUT/summary.txt.
# Resumable at every stage: finished trainings are skipped, so run it again after a session ends.
# Train nothing else meanwhile (two trainings on 2 cores slow each other tenfold).
#
# usage: scripts/supernet_study.sh [--config FILE] [--score N] [--sample K]
#        [--standalone TRAIN_CONFIG] [--out DIR] [--build-dir DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
config="$root/configs/fashion-mnist-supernet.ini"
standalone="$root/configs/fashion-mnist-proxy.ini"
score=100
sample=30
out="$root/runs/supernet-study"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --score) score=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --standalone) standalone=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cellforge="$build/cellforge"
mkdir -p "$out/cells" "$out/standalone"

echo "supernet training ($(date -u +%H:%M))"
"$cellforge" supernet train "$config" | tail -n 2
if [ ! -f "$out/scores.json" ]; then
  echo "scoring $score cells ($(date -u +%H:%M))"
  "$cellforge" supernet score "$config" --sample "$score" --out "$out/scores.json" | tail -n 1 |
    tee "$out/scoring.txt"
fi

# The K cells, evenly spaced over the supernet ranking, as genotype files.
/usr/bin/python3 - "$out" "$sample" <<'PY'
import json, sys
out, k = sys.argv[1], int(sys.argv[2])
rows = sorted(json.load(open(f"{out}/scores.json")), key=lambda r: -r["accuracy"])
seen, picked = set(), []
for i in range(k):
    row = rows[round(i * (len(rows) - 1) / (k - 1))]
    if row["hash"] not in seen:
        seen.add(row["hash"])
        picked.append(row)
for row in picked:
    g = dict(row["genotype"])
    g["name"] = row["hash"]
    with open(f"{out}/cells/{row['hash']}.json", "w") as f:
        json.dump(g, f, indent=2)
PY

for cell in "$out"/cells/*.json; do
  hash=$(basename "$cell" .json)
  dir="$out/standalone/$hash"
  if [ -f "$dir/result.json" ]; then continue; fi
  echo "stand-alone $hash ($(date -u +%H:%M))"
  "$cellforge" train --arch "$cell" --config "$standalone" --out "$dir" > "$dir.log" 2>&1
done

/usr/bin/python3 - "$out" "$here" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from kendall import tau_b
scores = {r["hash"]: r for r in json.load(open(f"{out}/scores.json"))}
rows = []
for path in sorted(glob.glob(f"{out}/standalone/*/result.json")):
    h = os.path.basename(os.path.dirname(path))
    r = json.load(open(path))
    rows.append((h, scores[h]["accuracy"], r["valid_accuracy"], r.get("params", 0)))
rows.sort(key=lambda r: -r[1])
with open(f"{out}/ranking.csv", "w") as f:
    f.write("hash,supernet_accuracy,standalone_accuracy,params\n")
    for h, s, a, p in rows:
        f.write(f"{h},{s:.4f},{a:.4f},{p}\n")
sup = [r[1] for r in rows]
alone = [r[2] for r in rows]
params = [r[3] for r in rows]
lines = [f"{len(rows)} cells",
         f"Kendall tau-b supernet vs stand-alone: {tau_b(sup, alone):+.3f}",
         f"Kendall tau-b params vs stand-alone:   {tau_b(params, alone):+.3f}",
         f"best stand-alone {max(alone):.4f}, supernet's top pick {rows[0][2]:.4f}"]
open(f"{out}/summary.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

#!/bin/sh
# Issue 17's ranking measurement: how well supernet scores (inherited weights, recalibrated batch
# norm) rank cells against their stand-alone training.
#  1. cellforge supernet train CONFIG (resumes an interrupted run);
#  2. N cells sampled uniformly from the space, scored by the supernet (cells/s printed);
#  3. K of them evenly spread over the supernet's ranking, best and worst included, plus the
#     supernet's top T, each trained stand-alone with the 1-epoch Fashion-MNIST proxy
#     (configs/fashion-mnist-proxy.ini);
#  4. Kendall tau-b between supernet score and stand-alone validation accuracy over the K spread
#     cells, into OUT/ranking.csv and OUT/summary.txt; and the equal-CPU-time comparison with
#     random search: the best stand-alone accuracy among the supernet's top T against the expected
#     best of as many random cells as the same seconds train (drawn from the K spread cells, a
#     stratified sample of uniform cells), for T = 1, 3, 5.
# The same cells trained longer: scripts/supernet_long.sh, from this study's committed ranking.
# Resumable at every stage: finished trainings are skipped, so run it again after a session ends.
# Train nothing else meanwhile (two trainings on 2 cores slow each other tenfold).
#
# usage: scripts/supernet_study.sh [--config FILE] [--score N] [--sample K] [--top T]
#        [--standalone TRAIN_CONFIG] [--out DIR] [--build-dir DIR]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
config="$root/configs/fashion-mnist-supernet.ini"
standalone="$root/configs/fashion-mnist-proxy.ini"
score=100
sample=30
top=5
out="$root/runs/supernet-study"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --score) score=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
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

# The K cells evenly spaced over the supernet ranking and the top T, as genotype files;
# OUT/spread.txt lists the K.
/usr/bin/python3 - "$out" "$sample" "$top" <<'PY'
import json, sys
out, k, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = sorted(json.load(open(f"{out}/scores.json")), key=lambda r: -r["accuracy"])
spread = []
for i in range(k):
    row = rows[round(i * (len(rows) - 1) / (k - 1))]
    if row["hash"] not in spread:
        spread.append(row["hash"])
open(f"{out}/spread.txt", "w").write("\n".join(spread) + "\n")
picked = [r for r in rows if r["hash"] in spread] + rows[:top]
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

supernet_dir=$(sed -n 's/^dir *= *\([^ #]*\).*/\1/p' "$config" | head -n 1)/supernet
# (campaign.dir is relative to where cellforge runs: here)
SUPERNET_DIR=$supernet_dir /usr/bin/python3 - "$out" "$here" "$top" <<'PY'
import glob, json, os, sys
out, top_n = sys.argv[1], int(sys.argv[3])
sys.path.insert(0, sys.argv[2])
from kendall import tau_b
scores = {r["hash"]: r for r in json.load(open(f"{out}/scores.json"))}
ranked = sorted(scores.values(), key=lambda r: -r["accuracy"])
spread = open(f"{out}/spread.txt").read().split()
alone = {}
for path in glob.glob(f"{out}/standalone/*/result.json"):
    r = json.load(open(path))
    alone[os.path.basename(os.path.dirname(path))] = r
rows = [(h, scores[h]["accuracy"], alone[h]["valid_accuracy"], alone[h]["params"],
         alone[h]["seconds"]) for h in spread if h in alone]
rows.sort(key=lambda r: -r[1])
with open(f"{out}/ranking.csv", "w") as f:
    f.write("hash,supernet_accuracy,standalone_accuracy,params,standalone_seconds\n")
    for h, s, a, p, t in rows:
        f.write(f"{h},{s:.4f},{a:.4f},{p},{t:.1f}\n")
sup = [r[1] for r in rows]
acc = [r[2] for r in rows]
params = [r[3] for r in rows]
lines = [f"{len(rows)} cells spread over the supernet ranking of {len(scores)}",
         f"Kendall tau-b supernet vs stand-alone: {tau_b(sup, acc):+.3f}",
         f"Kendall tau-b params vs stand-alone:   {tau_b(params, acc):+.3f}",
         f"stand-alone accuracy of the spread cells: {min(acc):.4f} .. {max(acc):.4f}"]
# Equal CPU time against random search.
# The supernet's training seconds (all its runs), from its summary, or SUPERNET_TRAIN_SECONDS.
train_s = float(os.environ.get("SUPERNET_TRAIN_SECONDS") or
                json.load(open(os.environ["SUPERNET_DIR"] + "/summary.json"))["seconds_total"])
score_s = float(open(f"{out}/scoring.txt").read().split(" in ")[1].split(" s")[0])
per_cell = sum(r[4] for r in rows) / len(rows)
for t in (1, 3, 5):
    if t > top_n:
        break
    picks = [r["hash"] for r in ranked[:t]]
    if not all(h in alone for h in picks):
        continue
    best = max(alone[h]["valid_accuracy"] for h in picks)
    cost = train_s + score_s + sum(alone[h]["seconds"] for h in picks)
    n = max(1, int(cost // per_cell))
    # Expected best of n draws (with replacement) from the spread cells' accuracies.
    a = sorted(acc)
    m = len(a)
    expected = sum(a[i] * (((i + 1) / m) ** n - (i / m) ** n) for i in range(m))
    lines.append(f"supernet top {t}: best stand-alone {best:.4f} for {cost:.0f} s; random search, "
                 f"{n} cells in that time: expected best {expected:.4f}")
open(f"{out}/summary.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

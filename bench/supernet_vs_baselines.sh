#!/bin/sh
# What a supernet campaign buys (issue 17, item 4): configs/fashion-mnist-supernet.ini (supernet
# training, regularized evolution over 1,000 cells scored with inherited weights, the best 5
# trained stand-alone with the 1-epoch proxy) against two campaigns that train every candidate
# stand-alone with that same proxy (configs/fashion-mnist.ini: 10,000 Fashion-MNIST images,
# 1 epoch, scored on 5,000 held-out images) for the same wall-clock time on the same machine (one
# worker, the same threads: the same CPU time):
#   - random search (controller.strategy = random);
#   - plain regularized evolution (fashion-mnist.ini's population 16, sample 4).
# The supernet campaign runs first; its wall time becomes the others' budget.hours. Prints per
# campaign: candidates looked at, candidates trained stand-alone, the best stand-alone accuracy,
# and the wall time.
#
# usage: bench/supernet_vs_baselines.sh [--out DIR] [--build-dir DIR]
# About 3 x 22 min. Run nothing else meanwhile. The supernet campaign resumes if its directory
# exists (a resumed run's wall time is the sum of its runs, from OUT/supernet.seconds); the
# baselines are time-budgeted from each start, so an interrupted baseline is removed and rerun.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$root/runs/supernet-vs-baselines"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
cellforge="$build/cellforge"

# 1. The supernet campaign, timed (each run's seconds added to OUT/supernet.seconds).
if [ ! -f "$out/supernet.done" ]; then
  echo "supernet campaign ($(date -u +%H:%M))"
  start=$(date +%s)
  if [ -e "$out/supernet/results.sqlite" ]; then
    "$cellforge" resume "$out/supernet"
  else
    "$cellforge" search "$root/configs/fashion-mnist-supernet.ini" \
      --set "campaign.dir=$out/supernet"
  fi
  end=$(date +%s)
  before=$(cat "$out/supernet.seconds" 2>/dev/null || echo 0)
  echo $((before + end - start)) > "$out/supernet.seconds"
  touch "$out/supernet.done"
fi
seconds=$(cat "$out/supernet.seconds")
hours=$(/usr/bin/python3 -c "print($seconds / 3600)")
echo "supernet campaign: $seconds s; baselines get budget.hours = $hours"

# 2. The baselines, each for the same wall time.
baseline() {  # name, then --set arguments
  name=$1
  shift
  if [ -f "$out/$name.done" ]; then return; fi
  rm -rf "${out:?}/$name"
  echo "$name: $hours h ($(date -u +%H:%M))"
  "$cellforge" search "$root/configs/fashion-mnist.ini" --set "campaign.name=$name" \
    --set "campaign.dir=$out/$name" --set "budget.hours=$hours" --set budget.candidates=100000 \
    "$@" || true
  touch "$out/$name.done"
}
baseline random --set controller.strategy=random
baseline evolution

/usr/bin/python3 - "$out" "$seconds" <<'PY'
import json, sqlite3, sys
out, seconds = sys.argv[1], float(sys.argv[2])
rows = []
for name in ["supernet", "random", "evolution"]:
    db = sqlite3.connect(f"file:{out}/{name}/results.sqlite?mode=ro", uri=True)
    looked = db.execute("SELECT count(*) FROM candidates WHERE status = 'done'").fetchone()[0]
    if name == "supernet":
        trained, best = db.execute("SELECT count(*), max(accuracy) FROM evaluations "
                                   "WHERE status = 'done'").fetchone()
        scoring = db.execute("SELECT sum(train_seconds) FROM candidates WHERE reused_from IS NULL"
                             ).fetchone()[0]
        retrain = db.execute("SELECT sum(train_seconds) FROM evaluations").fetchone()[0] or 0
        scoring -= retrain  # (a retrained candidate's row adds its training to its scoring)
        summary = json.load(open(f"{out}/supernet/supernet/summary.json"))
        note = (f"supernet {summary['seconds_total']:.0f} s, scoring {scoring:.0f} s, "
                f"stand-alone {retrain:.0f} s")
        wall = seconds
    else:
        trained, best = db.execute("SELECT count(*), max(accuracy) FROM candidates "
                                   "WHERE status = 'done' AND reused_from IS NULL").fetchone()
        train = db.execute("SELECT sum(train_seconds) FROM candidates").fetchone()[0] or 0
        note = f"stand-alone {train:.0f} s"
        wall = None
    rows.append((name, looked, trained, best, note, wall))
print()
print("| campaign | candidates looked at | trained stand-alone | best stand-alone | time |")
print("|---|---|---|---|---|")
for name, looked, trained, best, note, wall in rows:
    best_text = f"{100 * best:.2f}%" if best is not None else "none"
    time = f"{wall:.0f} s wall ({note})" if wall else f"budget {seconds:.0f} s wall ({note})"
    print(f"| {name} | {looked} | {trained} | {best_text} | {time} |")
PY

#!/bin/sh
# What successive halving buys (issue 12, item 6): plain regularized evolution, every candidate at
# the top fidelity, against the same evolution under ASHA (rungs 1, 3, 9 epochs, eta 3), for the
# same wall-clock budget on the same machine (one worker, the same threads: the same CPU time).
# Both are configs/fashion-mnist-asha.ini (10,000 Fashion-MNIST images, 9-epoch schedule); the
# plain one with scheduler.kind = none. Prints per campaign: candidates evaluated, evaluations at
# the top fidelity (9 epochs), the best accuracy at the top fidelity, and the training time.
#
# usage: bench/asha_vs_evolution.sh [--hours H] [--out DIR] [--build-dir DIR]
# Default 0.5 h each (1 h in all). Run nothing else meanwhile. Each campaign resumes if its
# directory exists (budget.hours counts from each start, so an interrupted pair is not equal-time:
# remove the directories and run it again).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
hours=0.5
out="$root/runs/asha-vs-evolution"
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --hours) hours=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
config="$root/configs/fashion-mnist-asha.ini"

run() {  # name, then --set arguments
  name=$1
  shift
  echo "$name: $hours h ($(date -u +%H:%M))"
  if [ -e "$out/$name/results.sqlite" ]; then
    "$build/cellforge" resume "$out/$name" --set "budget.hours=$hours" || true
  else
    "$build/cellforge" search "$config" --set "campaign.name=$name" --set "campaign.dir=$out/$name" \
      --set "budget.hours=$hours" --set budget.candidates=100000 "$@" || true
  fi
}

run asha-evolution
run plain-evolution --set scheduler.kind=none

/usr/bin/python3 - "$out" <<'PY'
import sqlite3, sys
out = sys.argv[1]
print()
print("| campaign | candidates evaluated | top-fidelity (9-epoch) evaluations | best at 9 epochs | training time |")
print("|---|---|---|---|---|")
for name in ["plain-evolution", "asha-evolution"]:
    db = sqlite3.connect(f"file:{out}/{name}/results.sqlite?mode=ro", uri=True)
    evaluated = db.execute("SELECT count(*) FROM candidates WHERE status = 'done'").fetchone()[0]
    has_evals = db.execute("SELECT count(*) FROM evaluations").fetchone()[0] > 0
    if has_evals:
        top = db.execute("SELECT count(*), max(accuracy) FROM evaluations WHERE epochs = 9 "
                         "AND status = 'done' AND reused_from IS NULL").fetchone()
        seconds = db.execute("SELECT sum(train_seconds) FROM evaluations").fetchone()[0] or 0
    else:
        top = db.execute("SELECT count(*), max(accuracy) FROM candidates WHERE status = 'done' "
                         "AND reused_from IS NULL").fetchone()
        seconds = db.execute("SELECT sum(train_seconds) FROM candidates").fetchone()[0] or 0
    best = f"{100 * top[1]:.2f}%" if top[1] is not None else "none"
    print(f"| {name} | {evaluated} | {top[0]} | {best} | {seconds / 60:.1f} min |")
PY

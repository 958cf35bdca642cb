#!/bin/sh
# A supernet trained under other settings, judged on the committed evidence of
# scripts/supernet_study.sh and scripts/supernet_long.sh, so nothing stand-alone is retrained:
#  1. cellforge supernet train on configs/fashion-mnist-supernet.ini with the given --set
#     overrides, in its own campaign.dir under OUT (resumes an interrupted run);
#  2. the 30 spread cells of EVIDENCE/ranking.csv (genotypes from EVIDENCE/scores.json) scored by
#     it, into EVIDENCE/scores-NAME.json;
#  3. Kendall tau-b of those scores against the 1-epoch stand-alone accuracy (EVIDENCE/ranking.csv)
#     and against the longer training (EVIDENCE/ranking-long.csv), printed.
# Train nothing else meanwhile (two trainings on 2 cores slow each other tenfold).
#
# usage: scripts/supernet_variant.sh NAME [--set section.key=value ...]
#   e.g. scripts/supernet_variant.sh lr-0.02 --set proxy.lr=0.02
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
evidence="$root/docs/experiments/supernet"
config="$root/configs/fashion-mnist-supernet.ini"
cellforge="${BUILD_DIR:-$root/build}/cellforge"
[ $# -ge 1 ] || { echo "usage: $0 NAME [--set section.key=value ...]" >&2; exit 2; }
name=$1
shift
out="$root/runs/supernet-variant/$name"
mkdir -p "$out/cells"
[ -x "$cellforge" ] || { echo "$cellforge: not built (cmake --build build)" >&2; exit 1; }

/usr/bin/python3 - "$evidence" "$out/cells" <<'EOF'
import csv, json, sys
evidence, cells = sys.argv[1:]
genotypes = {r["hash"]: r["genotype"] for r in json.load(open(f"{evidence}/scores.json"))}
for row in csv.DictReader(open(f"{evidence}/ranking.csv")):
    json.dump(genotypes[row["hash"]], open(f"{cells}/{row['hash']}.json", "w"))
EOF

"$cellforge" supernet train "$config" --set "campaign.dir=$out" "$@" | tail -n 1
for cell in "$out"/cells/*.json; do set -- "$@" --arch "$cell"; done
"$cellforge" supernet score "$config" --set "campaign.dir=$out" "$@" \
  --out "$evidence/scores-$name.json" | tail -n 1

/usr/bin/python3 - "$evidence" "$name" <<'EOF'
import csv, json, sys
evidence, name = sys.argv[1:]
sys.path.insert(0, f"{evidence}/../../../scripts")
from kendall import tau_b
score = {r["hash"]: r["accuracy"] for r in json.load(open(f"{evidence}/scores-{name}.json"))}
for file, column in (("ranking.csv", "standalone_accuracy"), ("ranking-long.csv", "long_accuracy")):
    rows = list(csv.DictReader(open(f"{evidence}/{file}")))
    tau = tau_b([score[r["hash"]] for r in rows], [float(r[column]) for r in rows])
    print(f"{name}: tau-b against {column} ({len(rows)} cells): {tau:+.3f}")
print(f"{name}: scores {min(score.values()):.4f} .. {max(score.values()):.4f}")
EOF

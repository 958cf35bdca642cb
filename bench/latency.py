#!/usr/bin/python3
"""Latency stability (issue 13): how much `cellforge latency` moves run to run on this machine.

Runs `cellforge latency --json` REPEATS times for each thread count (NASNet-A at the Fashion-MNIST
proxy stacking by default) and prints, per thread count: the median of each repetition's median,
the spread of those medians across repetitions (coefficient of variation), the mean within-run CV
of the timed passes, and the folded vs unfolded ratio. Quote the machine's load (`uptime`) with the
figures: another busy process on the same cores changes them completely.

usage: bench/latency.py [--build-dir DIR] [--repeats R] [--threads 1,2] [--runs N] [--arch A] [--busy]
                        [stacking options passed through, e.g. --cells-per-stack 2 --filters 16]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)

parser = argparse.ArgumentParser()
parser.add_argument("--build-dir", default=os.path.join(root, "build"))
parser.add_argument("--repeats", type=int, default=10)
parser.add_argument("--threads", default="1,2")
parser.add_argument("--runs", type=int, default=50)
parser.add_argument("--arch", default="nasnet_a")
parser.add_argument("--busy", action="store_true",
                    help="measure next to a competing `yes >/dev/null` (one busy core)")
args, stacking = parser.parse_known_args()
if not stacking:
    stacking = ["--cells-per-stack", "2", "--filters", "16", "--input", "28x28x1"]
binary = os.path.join(args.build_dir, "cellforge")


def measure(threads, fold):
    cmd = [binary, "latency", "--arch", args.arch, "--threads", str(threads), "--runs",
           str(args.runs), "--json"] + stacking + ([] if fold else ["--no-fold"])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def cv(values):
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if args.busy else None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           "unknown CPU")
print(f"CPU: {cpu}; load: {os.getloadavg()[0]:.2f}; {args.arch} {' '.join(stacking)}; "
      f"{args.repeats} repetitions of {args.runs} timed runs"
      f"{'; next to a busy `yes`' if busy else ''}")
print("threads | median of medians (ms) | CV across repetitions | mean CV within a run | "
      "unfolded / folded")
for threads in [int(t) for t in args.threads.split(",")]:
    folded = [measure(threads, True) for _ in range(args.repeats)]
    plain = [measure(threads, False) for _ in range(max(1, args.repeats // 2))]
    medians = [r["median_ms"] for r in folded]
    ratio = statistics.median(r["median_ms"] for r in plain) / statistics.median(medians)
    print(f"{threads} | {statistics.median(medians):.3f} | {100 * cv(medians):.1f}% | "
          f"{100 * statistics.mean(r['cv'] for r in folded):.1f}% | {ratio:.2f}x")
    sys.stdout.flush()
if busy:
    busy.kill()

#!/bin/sh
# Data-parallel training (issue 14, item 4): the same `cellforge train` run as one process with
# T threads and as `mpirun -np K` ranks with T/K threads each (bound to their own cores), on the
# real Fashion-MNIST files; prints each run's training images/s (the epoch line) and the ratio.
# Also the per-step cost of the gradient exchange is visible as the difference on one machine;
# across machines add the network's time for an allgather of 4 x params bytes per rank per step.
#
# usage: bench/data_parallel.sh [--ranks K] [--threads T] [--images N] [--build-dir DIR]
# Defaults: K=2, T=2, 5,120 images, NASNet-A cifar stem N=2 F=16, batch 64, 1 epoch.
# Run it on a quiet machine (check `uptime`); a second busy process skews both sides.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ranks=2
threads=2
images=5120
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
per_rank=$((threads / ranks))
[ "$per_rank" -ge 1 ] || per_rank=1

common="train --arch nasnet_a --cells-per-stack 2 --filters 16 --batch 64 --epochs 1 \
  --train-images $images --valid-images 640 --no-augment --seed 1"
speed() { sed -n 's/.* \([0-9.]*\) images\/s .*/\1/p' | tail -1; }

one=$("$build/cellforge" $common --threads "$threads" | speed)
many=$(mpirun --allow-run-as-root --oversubscribe --bind-to core -np "$ranks" \
  --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
  "$build/cellforge" $common --threads "$per_rank" | speed)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "CPU: $cpu"
echo "one process, $threads threads: $one images/s"
echo "mpirun -np $ranks, $per_rank thread(s) each: $many images/s"
/usr/bin/python3 -c "print(f'ratio: {$many / $one:.2f}x')"

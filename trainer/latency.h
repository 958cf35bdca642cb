#pragma once
// Inference latency of a network on this CPU: the trainer's own inference path (batch 1, batch
// norm folded into the convolutions where it can be, drop path and dropout off), the median of
// repeated timed forward passes after untimed warm-up ones. The weights are random: the time of
// a dense forward pass does not depend on their values.
#include <string>
#include <vector>

#include "space/network.h"
#include "trainer/executor.h"

namespace cf {

struct LatencyOptions {
  int threads = 1;              // OpenMP threads for the measurement
  int warmup = 10;              // untimed passes first (primitive caches, page faults, clocks)
  int runs = 50;                // timed passes
  bool fold_batch_norm = true;  // false: batch norms run as their own primitives (for comparison)
  Precision precision = Precision::fp32;  // bf16 needs bf16_supported()
};

// Throws std::invalid_argument naming the option and its valid range.
void validate(const LatencyOptions& options);

struct LatencyResult {
  double median_ms = 0, min_ms = 0, mean_ms = 0;
  double cv = 0;  // coefficient of variation of the timed runs (sd / mean)
  int runs = 0, threads = 0;
  int folded_batch_norms = 0;
  Precision precision = Precision::fp32;
  std::vector<double> samples_ms;  // every timed run, in order
};

// Build the network as inference runs it: without the auxiliary head (refused here: its layers
// would be timed too) and with head dropout 0 (identity at inference anyway).
LatencyResult measure_latency(const Network& network, const LatencyOptions& options);

}  // namespace cf

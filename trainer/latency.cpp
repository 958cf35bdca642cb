#include "trainer/latency.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "space/rng.h"
#include "trainer/cpus.h"
#include "trainer/executor.h"

namespace cf {

void validate(const LatencyOptions& options) {
  const auto check = [](int value, int low, int high, const char* name) {
    if (value < low || value > high)
      throw std::invalid_argument(std::string("latency ") + name + " " + std::to_string(value) +
                                  " is out of range [" + std::to_string(low) + ", " +
                                  std::to_string(high) + "]");
  };
  check(options.threads, 1, 1024, "threads");
  check(options.warmup, 0, 100000, "warmup");
  check(options.runs, 1, 100000, "runs");
}

namespace {

// Restores the OpenMP thread count of the caller (a campaign worker trains after measuring).
class OmpThreads {
 public:
  explicit OmpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~OmpThreads() { omp_set_num_threads(previous_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_;
};

LatencyResult summarise(std::vector<double> samples, int threads) {
  LatencyResult r;
  r.samples_ms = samples;
  r.runs = static_cast<int>(samples.size());
  r.threads = threads;
  const double n = static_cast<double>(samples.size());
  r.mean_ms = std::accumulate(samples.begin(), samples.end(), 0.0) / n;
  double squares = 0;
  for (double s : samples) squares += (s - r.mean_ms) * (s - r.mean_ms);
  r.cv = samples.size() > 1 && r.mean_ms > 0 ? std::sqrt(squares / (n - 1)) / r.mean_ms : 0.0;
  std::sort(samples.begin(), samples.end());
  const size_t mid = samples.size() / 2;
  r.median_ms = samples.size() % 2 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
  r.min_ms = samples.front();
  return r;
}

}  // namespace

LatencyResult measure_latency(const Network& network, const LatencyOptions& options) {
  validate(options);
  if (network.aux_logits >= 0)
    throw std::invalid_argument(
        "latency is measured without the auxiliary head: build the network with aux_head off");
  const OmpThreads omp_threads(options.threads);
  const ThreadPinning pinning(options.threads);  // trainer/cpus.h: why
  ExecutorOptions executor_options;
  executor_options.batch = 1;
  executor_options.drop_path = false;
  executor_options.fold_batch_norm = options.fold_batch_norm;
  executor_options.precision = options.precision;
  Executor executor(network, executor_options);
  Rng rng(0x1a7e9c7);
  executor.init_params(rng, InitScheme::torch_default);
  const int64_t pixels = network.spec.input.numel();
  float* input = executor.input();
  for (int64_t i = 0; i < pixels; ++i) input[i] = static_cast<float>(rng.uniform01());
  for (int i = 0; i < options.warmup; ++i) executor.forward(false);
  std::vector<double> samples;
  samples.reserve(options.runs);
  for (int i = 0; i < options.runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    executor.forward(false);
    const auto end = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  LatencyResult r = summarise(std::move(samples), options.threads);
  r.folded_batch_norms = executor.folded_batch_norms();
  r.precision = options.precision;
  return r;
}

}  // namespace cf

#include "controller/nb201_benchmark.h"

#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "controller/result_cache.h"

namespace cf {

Nb201SearchResult run_nb201_search(const Nb201Table& table, Nb201Dataset dataset,
                                   std::string_view strategy, const ControllerOptions& options,
                                   int queries, uint64_t seed, const ZeroCostScorer& scorer) {
  const Nb201Evaluator evaluator(table, dataset);
  auto controller = make_controller(strategy, options, table.space(), seed);
  controller->set_scorer(scorer);
  CachedEvaluator cached(
      table.space(), [&](const DecisionSeq& seq) { return evaluator.evaluate(seq); },
      /*cache_failures=*/true);
  Nb201SearchResult result;
  result.incumbent_test.reserve(queries);
  double best_reward = -std::numeric_limits<double>::infinity();
  for (int q = 0; q < queries; ++q) {
    const Candidate candidate = controller->propose();
    const auto outcome = cached.evaluate(candidate.seq);
    controller->observe(candidate.id, outcome.result);
    if (!outcome.result.ok()) {
      ++result.failures;
    } else if (*outcome.result.reward > best_reward) {
      best_reward = *outcome.result.reward;
      const Nb201Row* row = table.find(candidate.seq);
      result.has_result = true;
      result.returned = candidate.seq;
      result.returned_signal = row->of(dataset).valid_12ep;
      result.returned_test = row->of(dataset).test_200ep;
    }
    result.incumbent_test.push_back(result.has_result ? result.returned_test
                                                      : std::numeric_limits<double>::quiet_NaN());
  }
  result.unique = static_cast<int>(cached.evaluations());
  result.scored = static_cast<int64_t>(controller->scored_count());
  return result;
}

uint64_t nb201_run_seed(uint64_t seed, int run) {
  return Rng(seed ^ (0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(run) + 1))).next();
}

Nb201BenchmarkSummary run_nb201_benchmark(const Nb201Table& table,
                                          const Nb201BenchmarkConfig& config) {
  if (config.queries < 1)
    throw ControllerError("queries: must be >= 1, got " + std::to_string(config.queries));
  if (config.runs < 1)
    throw ControllerError("runs: must be >= 1, got " + std::to_string(config.runs));
  if (config.threads < 1)
    throw ControllerError("threads: must be >= 1, got " + std::to_string(config.threads));
  // Fail on bad options before starting threads.
  make_controller(config.strategy, config.options, table.space(), 0);

  Nb201BenchmarkSummary summary;
  summary.runs.resize(config.runs);
  std::atomic<int> next_run{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (int r; (r = next_run++) < config.runs;) {
      try {
        summary.runs[r] =
            run_nb201_search(table, config.dataset, config.strategy, config.options, config.queries,
                             nb201_run_seed(config.seed, r), config.scorer);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next_run = config.runs;
      }
    }
  };
  const int threads = std::min(config.threads, config.runs);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  double sum = 0, sum_signal = 0, sum_unique = 0, sum_scored = 0;
  for (const auto& run : summary.runs) {
    sum_unique += run.unique;
    sum_scored += static_cast<double>(run.scored);
    if (!run.has_result) continue;
    ++summary.runs_with_result;
    sum += run.returned_test;
    sum_signal += run.returned_signal;
  }
  const int n = summary.runs_with_result;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  summary.mean_test = n > 0 ? sum / n : nan;
  summary.mean_signal = n > 0 ? sum_signal / n : nan;
  summary.mean_unique = sum_unique / config.runs;
  summary.mean_scored = sum_scored / config.runs;
  double squares = 0;
  for (const auto& run : summary.runs)
    if (run.has_result)
      squares += (run.returned_test - summary.mean_test) * (run.returned_test - summary.mean_test);
  summary.std_test = n > 1 ? std::sqrt(squares / (n - 1)) : (n == 1 ? 0.0 : nan);
  summary.mean_curve.assign(config.queries, nan);
  for (int q = 0; q < config.queries; ++q) {
    double curve_sum = 0;
    int count = 0;
    for (const auto& run : summary.runs)
      if (!std::isnan(run.incumbent_test[q])) {
        curve_sum += run.incumbent_test[q];
        ++count;
      }
    if (count > 0) summary.mean_curve[q] = curve_sum / count;
  }
  return summary;
}

}  // namespace cf

#pragma once
// Strategies on the NAS-Bench-201 table: R independent searches of Q queries each. A query is
// one proposal; a re-proposed architecture costs a query too (its result comes from the cache),
// which is how the benchmark's simulated time budget counts repeats.
#include <cstdint>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/nb201_table.h"

namespace cf {

struct Nb201SearchResult {
  bool has_result = false;     // false only if every query failed (a partial table)
  DecisionSeq returned;        // the best architecture by the search signal (first on ties)
  double returned_signal = 0;  // its <dataset>_valid_12ep (%)
  double returned_test = 0;    // its <dataset>_test_200ep (%): the reported number
  // incumbent_test[q]: test_200ep of the incumbent after q + 1 queries (NaN before any result).
  std::vector<double> incumbent_test;
  int unique = 0;      // distinct architectures evaluated
  int failures = 0;    // queries whose architecture has no row
  int64_t scored = 0;  // zero-cost scorings (guide options; not queries)
};

// One search with one worker: every proposal is observed before the next one is made. `scorer`
// serves options.guide (zero-cost warm-up and move proposals); it must be safe to call from
// several threads when a benchmark runs them.
Nb201SearchResult run_nb201_search(const Nb201Table& table, Nb201Dataset dataset,
                                   std::string_view strategy, const ControllerOptions& options,
                                   int queries, uint64_t seed, const ZeroCostScorer& scorer = {});

struct Nb201BenchmarkConfig {
  std::string strategy = "random";
  ControllerOptions options;
  Nb201Dataset dataset = Nb201Dataset::cifar10;
  int queries = 100;
  int runs = 500;
  uint64_t seed = 0;
  int threads = 1;        // runs are independent; results do not depend on the thread count
  ZeroCostScorer scorer;  // for options.guide
};

struct Nb201BenchmarkSummary {
  std::vector<Nb201SearchResult> runs;
  int runs_with_result = 0;
  double mean_test = 0;    // mean of returned_test over runs with a result
  double std_test = 0;     // sample standard deviation (n - 1)
  double mean_signal = 0;  // mean of returned_signal
  double mean_unique = 0;
  double mean_scored = 0;  // zero-cost scorings per run
  // mean_curve[q]: mean of incumbent_test[q] over runs that had an incumbent by then.
  std::vector<double> mean_curve;
};

// The seed of run r (0-based) of a benchmark seeded with seed.
uint64_t nb201_run_seed(uint64_t seed, int run);

// Throws ControllerError for bad config values (naming the field).
Nb201BenchmarkSummary run_nb201_benchmark(const Nb201Table& table,
                                          const Nb201BenchmarkConfig& config);

}  // namespace cf

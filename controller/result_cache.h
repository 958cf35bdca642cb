#pragma once
// Re-use of results for architectures proposed more than once. A strategy may propose an
// architecture that was already evaluated (evolution's identity mutation, a converged RL policy);
// the result is looked up by canonical hash and the strategy still observes it.
#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>

#include "controller/controller.h"

namespace cf {

// Failed results (a failure or a crashed worker) are kept only when the cache was made with
// keep_failures (right for deterministic evaluators such as a table; wrong when failures can be
// transient, e.g. a training run that ran out of memory). The rule holds for every way in,
// including a cache pre-filled from a results store on resume.
class ResultCache {
 public:
  explicit ResultCache(bool keep_failures = false) : keep_failures_(keep_failures) {}

  // nullptr when the hash has no result.
  const EvalResult* find(const std::string& hash) const;
  // Keeps the first result stored under a hash; returns false when one was already there or the
  // result is a failure that this cache does not keep.
  bool insert(const std::string& hash, EvalResult result);
  size_t size() const { return results_.size(); }
  bool keeps_failures() const { return keep_failures_; }

 private:
  bool keep_failures_;
  std::unordered_map<std::string, EvalResult> results_;
};

// Evaluates decision sequences through a ResultCache keyed by the space's canonical hash.
class CachedEvaluator {
 public:
  using Evaluate = std::function<EvalResult(const DecisionSeq&)>;

  // cache_failures: store failed results too (see ResultCache).
  CachedEvaluator(const SearchSpace& space, Evaluate evaluate, bool cache_failures = false);

  struct Outcome {
    EvalResult result;
    std::string hash;  // canonical hash of the sequence
    bool cached;       // true when no evaluation ran
  };
  Outcome evaluate(const DecisionSeq& seq);

  // Mutable so a resumed campaign can pre-fill it from its results store.
  ResultCache& cache() { return cache_; }
  const ResultCache& cache() const { return cache_; }
  size_t evaluations() const { return evaluations_; }  // calls of the wrapped evaluator
  size_t hits() const { return hits_; }

 private:
  const SearchSpace& space_;
  Evaluate evaluate_;
  ResultCache cache_;
  size_t evaluations_ = 0;
  size_t hits_ = 0;
};

}  // namespace cf

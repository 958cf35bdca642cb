#include "controller/result_cache.h"

#include <stdexcept>

namespace cf {

const EvalResult* ResultCache::find(const std::string& hash) const {
  auto it = results_.find(hash);
  return it == results_.end() ? nullptr : &it->second;
}

bool ResultCache::insert(const std::string& hash, EvalResult result) {
  if (!result.ok() && !keep_failures_) return false;
  return results_.emplace(hash, std::move(result)).second;
}

CachedEvaluator::CachedEvaluator(const SearchSpace& space, Evaluate evaluate, bool cache_failures)
    : space_(space), evaluate_(std::move(evaluate)), cache_(cache_failures) {
  if (!evaluate_) throw std::invalid_argument("CachedEvaluator: no evaluation function");
}

CachedEvaluator::Outcome CachedEvaluator::evaluate(const DecisionSeq& seq) {
  std::string hash = space_.canonical_hash(seq);
  if (const EvalResult* hit = cache_.find(hash)) {
    ++hits_;
    return {*hit, std::move(hash), true};
  }
  EvalResult result = evaluate_(seq);
  ++evaluations_;
  cache_.insert(hash, result);  // failures only when the cache keeps them
  return {std::move(result), std::move(hash), false};
}

}  // namespace cf

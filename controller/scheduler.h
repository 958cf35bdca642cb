#pragma once
// Successive halving on top of any strategy: ASHA (Li et al., 2020, "A System for Massively
// Parallel Hyperparameter Tuning") and its Hyperband form (several brackets, each an ASHA that
// starts its candidates at a higher rung). The resource is training epochs: rung k trains to
// min_epochs * eta^k epochs (the last rung to max_epochs), always under the learning-rate
// schedule of max_epochs, so that a promoted candidate continues where it stopped.
//
// Pure decision logic, no I/O: the campaign engine (search/campaign.cpp) records every observed
// result and asks for the next promotion. Decisions depend only on the results recorded and the
// promotions made, in the order they were made, so an engine that records in a fixed order (by
// job sequence) makes the same decisions however its workers are timed, and rebuilds the state
// after a restart from its stored rows (`restore`).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cf {

enum class SchedulerKind { none, asha, hyperband };
const char* scheduler_kind_name(SchedulerKind kind);

struct SchedulerOptions {
  SchedulerKind kind = SchedulerKind::none;
  int eta = 3;         // a rung promotes its top 1/eta
  int min_epochs = 1;  // the lowest rung's resource
  int max_epochs = 1;  // the top rung's resource (the learning-rate schedule's length)
};

// The epochs of every rung: min, min*eta, min*eta^2, ... below max, then max. Throws
// std::invalid_argument when min < 1, max < min or eta < 2.
std::vector<int> rung_epochs(const SchedulerOptions& options);

class SuccessiveHalving {
 public:
  explicit SuccessiveHalving(const SchedulerOptions& options);

  const std::vector<int>& rungs() const { return rungs_; }
  int brackets() const { return static_cast<int>(bracket_start_.size()); }
  // Where a new candidate starts: ASHA has one bracket (rung 0); Hyperband assigns brackets in
  // turn by candidate order (the n-th new candidate goes to bracket n mod brackets()), bracket b
  // starting at rung b, so its candidates get eta^b times the resource and compete only there.
  int next_bracket() const { return static_cast<int>(added_ % bracket_start_.size()); }
  int start_rung(int bracket) const { return bracket_start_.at(static_cast<size_t>(bracket)); }

  // A new candidate joins bracket b (it will be evaluated at start_rung(b)).
  void add(int64_t candidate, int bracket);
  // A result of `candidate` at `rung` (nullopt: the evaluation failed; it counts in the rung but
  // is never promoted). Excluded results (reused duplicates) are not passed here.
  void record(int64_t candidate, int rung, std::optional<double> score);
  // The next promotion, if any, marked as made: for each bracket in order, rungs from the top
  // down, the best candidate of the rung that is among its top floor(n / eta) results (n: the
  // results the rung has) and not yet promoted; ties by candidate id. Returns the candidate and
  // the rung it is promoted to.
  struct Promotion {
    int64_t candidate = 0;
    int rung = 0;
  };
  std::optional<Promotion> next_promotion();
  // Marks a promotion made earlier (rebuilding the state from stored rows).
  void mark_promoted(int64_t candidate, int from_rung);

  // Whether `candidate`, with a result at `rung`, can still be promoted from there if the
  // campaign ends with `max_candidates` candidates: false once promoted, failed, or ranked worse
  // than the most the rung can ever promote. Ranks only fall as results arrive, so a false is
  // final (its training checkpoint can be removed).
  bool may_promote(int64_t candidate, int rung, int64_t max_candidates) const;

  int bracket_of(int64_t candidate) const { return bracket_.at(candidate); }
  // Results recorded per rung (all brackets).
  std::vector<int64_t> rung_counts() const;

 private:
  struct Rung {
    std::vector<std::pair<double, int64_t>> results;  // (score, candidate); failures as -inf
    std::set<int64_t> promoted;
  };
  // Rank (0-based) of candidate among the rung's results, best first; -1 when absent.
  static int rank_in(const Rung& rung, int64_t candidate);
  Rung& rung_of(int bracket, int rung) { return table_[{bracket, rung}]; }

  SchedulerOptions options_;
  std::vector<int> rungs_;
  std::vector<int> bracket_start_;
  std::map<std::pair<int, int>, Rung> table_;  // (bracket, rung)
  std::map<int64_t, int> bracket_;
  int64_t added_ = 0;
};

}  // namespace cf

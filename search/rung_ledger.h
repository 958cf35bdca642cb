#pragma once
// The evaluations of a campaign with a [scheduler] (successive halving): every job is one
// evaluation of a candidate at a rung, numbered in the order the scheduler created it. The ledger
// keeps them, decides the next one (a promotion, or a new candidate's first evaluation), finds a
// result to reuse, and says which candidates' training checkpoints are still needed. Decisions
// are made as evaluations are observed in seq order, so they never depend on worker timing, and
// `restore` rebuilds the exact state from the stored rows after any interruption.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "controller/scheduler.h"
#include "results/store.h"

namespace cf {

class RungLedger {
 public:
  RungLedger(const SchedulerOptions& options, std::filesystem::path checkpoint_root);

  // Rebuilds the state from the stored evaluations (by seq).
  void restore(const std::vector<EvaluationRecord>& evaluations);

  const SuccessiveHalving& halving() const { return halving_; }
  std::map<int64_t, EvaluationRecord>& evaluations() { return evaluations_; }
  const std::map<int64_t, EvaluationRecord>& evaluations() const { return evaluations_; }
  int64_t unobserved() const;
  EvaluationRecord* first_unobserved();

  // The next evaluation: the next promotion when there is one, else the first evaluation of a
  // new candidate from `propose` (which returns nullopt when the budget is spent), else nullopt.
  std::optional<EvaluationRecord> next_job(
      const std::function<std::optional<CandidateRecord>()>& propose, CandidateRecord* proposed);

  // Marks `e` observed and records its result for the scheduler (reused and rejected results
  // are not ranked). Whether it was the candidate's first evaluation (what the controller
  // observes) is `is_first(e)`.
  void observe(EvaluationRecord& e);
  bool is_first(const EvaluationRecord& e) const;

  // A finished earlier evaluation of the same architecture at the same epochs that a new
  // candidate's first evaluation can take (`done`, trained, not itself reused), or one still
  // running that it waits for (`pending`); nullopt: train it.
  const EvaluationRecord* duplicate_of(const EvaluationRecord& e,
                                       const std::map<int64_t, CandidateRecord>& candidates) const;

  std::filesystem::path checkpoint_dir(int64_t candidate) const;
  // Candidates whose checkpoint can never be continued (with at most max_candidates in the
  // campaign): their directories are removed by the caller.
  std::vector<int64_t> finished_checkpoints(int64_t max_candidates) const;
  // Bytes under the checkpoint root.
  static int64_t disk_bytes(const std::filesystem::path& checkpoint_root);

 private:
  SchedulerOptions options_;
  SuccessiveHalving halving_;
  std::filesystem::path root_;
  std::map<int64_t, EvaluationRecord> evaluations_;  // by seq
  std::map<int64_t, int64_t> first_of_;              // candidate -> seq of its first evaluation
};

}  // namespace cf

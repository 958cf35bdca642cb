#pragma once
// Internal to search/: one run of the campaign engine over a run directory (run_campaign in
// search/campaign.h). Each step is a method; their definitions are split by what they serve:
// campaign.cpp (the run, the candidate loop), campaign_jobs.cpp ([scheduler] campaigns: jobs are
// evaluations) and campaign_retrain.cpp (supernet campaigns: train the supernet first, retrain
// the best cells after).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "results/store.h"
#include "search/campaign.h"
#include "search/campaign_supernet.h"
#include "search/evaluator.h"
#include "search/run_dir.h"
#include "search/rung_ledger.h"
#include "search/zero_cost_guide.h"
#include "trainer/data.h"
#include "trainer/supernet.h"

namespace cf {

// One run of the engine over a run directory; each step is a method.
class CampaignRun {
 public:
  CampaignRun(const CampaignConfig& config, const CampaignRunOptions& options,
              const CampaignCallbacks& callbacks)
      : config_(config), options_(options), callbacks_(callbacks), dir_(config.dir) {}

  CampaignResult run();

 private:
  using clock = std::chrono::steady_clock;
  void message(const std::string& level, const std::string& text);

  // What a bad config or table breaks is built before the run directory is touched.
  void prepare();
  void open_run_directory();
  void open_log();

  // Only [budget] keys may change on resume, unless forced.
  void accept_resumed_config();
  void restore();
  void make_evaluator();

  // Trains candidates: worker processes, or MPI ranks (rank 0 alone holds a table's evaluator).
  std::unique_ptr<Evaluator> make_training_evaluator();
  CandidateRecord propose();

  // Candidates rejected by an [objective] cap cost no training, so they do not count towards
  // budget.candidates (a tight cap can reject most random cells). Only observed ones are counted:
  // observation is in candidate order, so the count, and with it every proposal, is the same
  // whatever the timing of the workers.
  int64_t rejected_observed() const;
  bool budget_left() const;

  // Keep `workers` candidates proposed and not yet observed, each committed with the checkpoint.
  void fill();

  // A stop request or the time budget (budget.hours, from the start of this run) ends the run:
  // in-flight work is cancelled (redone on resume) and the reason stored.
  std::optional<CampaignOutcome> should_end();
  CampaignOutcome loop();

  // Each pending candidate: reuse a trained duplicate, wait for a running one, or submit.
  void schedule_pending();

  // The job that trains candidate r (id: its own, or an evaluation's seq with a [scheduler]).
  Job make_job(int64_t id, const CandidateRecord& r) const;

  // A candidate over an [objective] cap is marked rejected, untrained, with its proxy network's
  // params and MACs (the dataset's shape is read once, on the first check); the caller stores it.
  bool reject_over_cap(CandidateRecord& r);
  std::optional<int64_t> running_with_hash(const std::string& hash);
  static void copy_result(CandidateRecord& duplicate, const CandidateRecord& source);

  // Finished evaluations are stored at once (observed later, in order), with the duplicates that
  // waited for them: a success is copied to them, a failure sends them to be trained themselves.
  void collect_finished();

  // Observe strictly in candidate order, proposing the next candidate in the same transaction.
  void observe_in_order();

  // What the controller learns from a finished candidate: its reward and, in Pareto mode, its
  // costs. A trained candidate without a latency (its measurement failed, or the run was resumed
  // with --force into a latency objective) has no place among the fronts: the controller sees it
  // as failed, so it never enters the population, while its stored row keeps its accuracy.
  // Derived from the stored row alone, so a resumed run observes the same.
  EvalResult controller_result(const CandidateRecord& r);

  // A trained candidate whose latency an objective needs but was not measured: a warning, and a
  // failure for the controller.
  EvalResult missing_latency(const CandidateRecord& r, const std::string& needed_by);

  // ---- [scheduler]: jobs are evaluations (a candidate at a rung), observed in seq order ----

  void fill_jobs();

  // Keep `workers` evaluations created and not yet observed: promotions first, then new
  // candidates while the budget lasts.
  void top_up(std::vector<CandidateRecord>& candidates, std::vector<EvaluationRecord>& evaluations);

  // Each created evaluation: reject a new candidate over a cap, reuse an earlier evaluation of
  // the same architecture at the same epochs (or wait for it), or submit.
  void schedule_jobs();

  // A duplicate's first evaluation takes an earlier one's result (it is never promoted itself:
  // the earlier candidate is the one that continues).
  void reuse_evaluation(EvaluationRecord& e, const EvaluationRecord& source);
  void collect_jobs();

  // An evaluation row takes a worker's result.
  static void record_result(EvaluationRecord& e, const JobResult& res);

  // The candidate row holds its highest successful rung: a first evaluation sets everything, a
  // promotion's success replaces the accuracy and metrics (keeping the first one's latency); a
  // failed promotion leaves the row as it was (the evaluation row keeps the failure).
  static void apply_evaluation(CandidateRecord& r, const EvaluationRecord& e, const JobResult& res);

  // In seq order: the scheduler ranks the result, the controller observes a candidate's first
  // evaluation, and the evaluations that follow are created, all in one transaction.
  void observe_jobs();

  // ---- supernet campaigns: train the supernet, score candidates with it, retrain the best ----

  // Trains the supernet (or resumes it, or loads it finished) before any candidate is scored;
  // returns an outcome when a stop request or the time budget ended the training (its state is
  // saved: a resumed campaign continues it with the same bits).
  std::optional<CampaignOutcome> train_supernet_first();

  // The supernet's score of a scored candidate (its rung-0 accuracy, kept in metrics.supernet
  // once a retraining replaces the accuracy).
  static std::optional<double> supernet_score(const CandidateRecord& r);

  // One stand-alone evaluation (rung 1, [proxy] epochs) for each of the supernet.retrain best
  // distinct cells by supernet score (ties by id) that has none yet. Chosen from the stored
  // scores alone, so a resumed run chooses the same; a budget extended later may add cells.
  void plan_retraining();

  // Trains the planned cells stand-alone (worker processes or MPI ranks, budget.workers at
  // once); each result is stored as it comes, its candidate row taking the rung-1 accuracy.
  CampaignOutcome retrain_best();

  // Checkpoints that no promotion can continue any more (the directory names are ids).
  void remove_finished_checkpoints();
  void announce_evaluation(const EvaluationRecord& e);
  void announce(const CandidateRecord& r);

  // "candidate 5 (hash) [what]accuracy 81.20% (reused from candidate 2), 123 params, 4.1 s"
  void announce_result(const CandidateRecord& r, const std::string& what, CandidateStatus status,
                       std::optional<double> accuracy, const std::string& failure_reason,
                       std::optional<int64_t> reused_from, double seconds);
  int64_t observed_count() const;

  // The highest rung first (successive halving), then the best accuracy.
  const CandidateRecord* best() const;
  void report_progress();
  CampaignResult finish(CampaignOutcome outcome);
  const CampaignConfig& config_;
  const CampaignRunOptions options_;
  const CampaignCallbacks& callbacks_;
  const std::filesystem::path dir_;
  std::unique_ptr<SearchSpace> space_;
  std::unique_ptr<Controller> controller_;
  std::shared_ptr<CampaignScorer> scorer_;  // zero-cost guidance, when configured
  std::optional<NetworkSpec> proxy_spec_;   // the proxy network's stacking, for [objective] caps
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<RungLedger> ledger_;  // [scheduler]: the evaluations
  // A supernet campaign ([supernet] epochs > 0): the supernet, its data and trained bank (moved
  // into the evaluator), and the stand-alone retrainings of its best cells (by seq).
  std::optional<CampaignSupernet> supernet_;
  std::shared_ptr<const DataSplits> supernet_data_;
  ParamBank supernet_bank_;
  std::map<int64_t, EvaluationRecord> retrain_;
  bool retraining_ = false;
  clock::time_point start_;
  std::set<int64_t> checkpoints_removed_;
  std::unique_ptr<RunLock> lock_;
  std::unique_ptr<ResultsStore> store_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<int64_t, CandidateRecord> records_;
  std::set<int64_t> running_;              // submitted to the evaluator
  std::map<int64_t, int64_t> waiting_on_;  // duplicate candidate -> the running one it waits for
  double eval_seconds_ = 0;
  int eval_count_ = 0;
};

}  // namespace cf

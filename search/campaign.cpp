#include "search/campaign.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "controller/controller.h"
#include "results/store.h"
#include "search/campaign_run.h"
#include "search/campaign_supernet.h"
#include "search/evaluator.h"
#include "search/front.h"
#include "search/mpi_session.h"
#include "search/run_dir.h"
#include "search/rung_ledger.h"
#include "search/zero_cost_guide.h"
#include "space/file_io.h"
#include "space/nb201.h"
#include "space/network.h"
#include "trainer/data.h"

namespace cf {

std::unique_ptr<SearchSpace> make_space(const CampaignConfig& c) {
  if (c.space_type == "nb201") return std::make_unique<Nb201Space>();
  NasnetSpaceConfig sc;
  for (const auto& op : c.ops) sc.ops.push_back(*op_from_name(op));
  sc.blocks = c.blocks;
  sc.combines.clear();
  for (const auto& comb : c.combines)
    sc.combines.push_back(comb == "add" ? Combine::add : Combine::concat);
  return std::make_unique<NasnetSpace>(sc);
}

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// ---- CampaignRun (campaign_run.h): the run and the candidate loop ----

CampaignResult CampaignRun::run() {
  start_ = clock::now();
  prepare();
  open_run_directory();
  restore();
  if (supernet_)
    if (auto ended = train_supernet_first()) return finish(*ended);
  make_evaluator();
  fill();
  CampaignOutcome outcome = loop();
  if (supernet_ && outcome == CampaignOutcome::finished) outcome = retrain_best();
  return finish(outcome);
}

void CampaignRun::message(const std::string& level, const std::string& text) {
  if (level == "error")
    log_->error("{}", text);
  else if (level == "warning")
    log_->warn("{}", text);
  else
    log_->info("{}", text);
  if (callbacks_.on_message) callbacks_.on_message(level, text);
}

void CampaignRun::prepare() {
  space_ = make_space(config_);
  controller_ = make_controller(config_.strategy, config_.controller, *space_, config_.seed);
  if (config_.warmup.count > 0 || config_.proposal.count > 0) {
    scorer_ = std::make_shared<CampaignScorer>(config_, *space_);
    controller_->set_scorer([scorer = scorer_](const DecisionSeq& seq) { return (*scorer)(seq); });
  }
  if (config_.space_type == "nb201") evaluator_ = make_table_evaluator(config_);
  if (config_.scheduler.kind != SchedulerKind::none)
    ledger_ = std::make_unique<RungLedger>(config_.scheduler, dir_ / "checkpoints");
  if (config_.supernet.epochs > 0) supernet_ = campaign_supernet(config_, "[supernet]");
}

void CampaignRun::open_run_directory() {
  if (!options_.resume && std::filesystem::exists(dir_ / "results.sqlite"))
    throw std::runtime_error(dir_.string() +
                             " already holds a campaign; continue it with `cellforge resume " +
                             dir_.string() + "`");
  std::filesystem::create_directories(dir_);
  lock_ = std::make_unique<RunLock>(dir_);
  if (!options_.resume) {
    if (std::filesystem::exists(dir_ / "results.sqlite"))  // created meanwhile by another process
      throw std::runtime_error(dir_.string() + " already holds a campaign");
    create_campaign_files(config_, dir_);
  }
  store_ = std::make_unique<ResultsStore>(dir_ / "results.sqlite", StoreAccess::write);
  if (options_.resume) require_consistent(*store_, dir_);
  open_log();
  if (options_.resume)
    accept_resumed_config();
  else
    message("info", "campaign '" + config_.name + "' in " + dir_.string() + ": " +
                        config_.space_type + " space, " + config_.strategy + " strategy, " +
                        std::to_string(config_.candidates) + " candidates, " +
                        std::to_string(config_.workers) + " worker(s)");
}

void CampaignRun::open_log() {
  auto file_sink =
      std::make_shared<spdlog::sinks::basic_file_sink_mt>((dir_ / "campaign.log").string());
  log_ = std::make_shared<spdlog::logger>("campaign", file_sink);
  log_->set_pattern("%Y-%m-%d %H:%M:%S %l %v");
  log_->flush_on(spdlog::level::info);
}

void CampaignRun::accept_resumed_config() {
  const std::string identity = config_.identity_hash();
  const auto stored = store_->meta("config_identity");
  const bool same = !stored || config_.matches_identity(*stored);
  if (!same && !options_.force)
    throw std::runtime_error(dir_.string() +
                             "/config.ini differs from the config this campaign ran with "
                             "(only [budget] keys may change); use --force to resume anyway");
  if (!same) store_->add_event("force", "resumed with a changed config (--force)");
  // Written in the current version's form (a run made before v2 is upgraded once).
  if (!stored || *stored != identity) store_->set_meta("config_identity", identity);
  write_file_atomic(dir_ / "config.ini", config_.to_ini());
  store_->add_event("resume", "campaign resumed");
  message("info", "resuming campaign '" + config_.name + "' in " + dir_.string());
}

void CampaignRun::restore() {
  if (auto checkpoint = store_->latest_checkpoint()) controller_->restore_state(checkpoint->second);
  for (auto& r : store_->candidates()) records_[r.id] = r;
  require_controller_matches(*controller_, records_, store_->file());
  if (ledger_) {
    ledger_->restore(store_->evaluations());
    remove_finished_checkpoints();
  }
  if (supernet_)
    for (auto& e : store_->evaluations()) retrain_[e.seq] = e;
}

void CampaignRun::make_evaluator() {
  if (supernet_) {
    evaluator_ =
        make_supernet_evaluator(config_, *supernet_, std::move(supernet_bank_), supernet_data_);
    if (const int ranks = mpi_worker_ranks(); ranks > 0)
      message("info", "MPI: candidates are scored with the supernet on rank 0; the " +
                          std::to_string(ranks) + " worker rank(s) train the best ones after");
    return;
  }
  evaluator_ = make_training_evaluator();
}

std::unique_ptr<Evaluator> CampaignRun::make_training_evaluator() {
  const int ranks = mpi_worker_ranks();
  std::unique_ptr<Evaluator> evaluator;
  if (config_.space_type == "nb201") {
    evaluator = std::move(evaluator_);  // the table, opened by prepare()
    if (ranks > 0)
      message("warning", "MPI: the NAS-Bench-201 table is looked up on rank 0; the other " +
                             std::to_string(ranks) + " rank(s) stay idle");
  } else if (ranks > 0) {
    // The worker ranks are the workers (budget.workers was set to their number).
    evaluator = make_mpi_evaluator(config_, dir_ / "workers.log");
    message("info", "MPI: " + std::to_string(ranks) + " worker rank(s) train the candidates, " +
                        std::to_string(std::max(
                            1, config_.proxy.train.threads / std::max(1, config_.workers))) +
                        " thread(s) each");
  } else {
    evaluator = make_process_evaluator(config_, dir_ / "workers.log");
  }
  return evaluator;
}

CandidateRecord CampaignRun::propose() {
  const Candidate c = controller_->propose();
  CandidateRecord r;
  r.id = static_cast<int64_t>(c.id);
  r.hash = space_->canonical_hash(c.seq);
  r.genotype = space_->to_json(c.seq).dump();
  if (c.parent) r.parent = static_cast<int64_t>(*c.parent);
  r.status = CandidateStatus::pending;
  r.proposed_at = utc_now();
  return r;
}

int64_t CampaignRun::rejected_observed() const {
  return std::count_if(records_.begin(), records_.end(), [](const auto& kv) {
    return kv.second.observed && kv.second.status == CandidateStatus::rejected;
  });
}

bool CampaignRun::budget_left() const {
  const int64_t rejected = rejected_observed();
  if (rejected >= config_.max_rejected) return false;
  return static_cast<int64_t>(controller_->proposed_count()) - rejected < config_.candidates;
}

void CampaignRun::fill() {
  if (ledger_) return fill_jobs();
  const int window = std::max(1, config_.workers);
  while (static_cast<int64_t>(controller_->pending().size()) < window && budget_left()) {
    CandidateRecord r = propose();
    records_[r.id] = r;
    store_->commit({r}, controller_->save_state());
  }
}

std::optional<CampaignOutcome> CampaignRun::should_end() {
  if (auto reason = callbacks_.stop_requested ? callbacks_.stop_requested() : std::nullopt) {
    if (evaluator_) evaluator_->cancel_all();
    store_->add_event("interrupted",
                      "stopped by " + *reason + "; running work will be redone on resume");
    message("info", "stopped by " + *reason + ": state saved; continue with `cellforge resume " +
                        dir_.string() + "`");
    return CampaignOutcome::stopped;
  }
  const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
  if (config_.hours > 0 && elapsed > config_.hours * 3600) {
    if (evaluator_) evaluator_->cancel_all();
    store_->add_event("budget", "time budget of " + std::to_string(config_.hours) + " h reached");
    message("info", "time budget of " + std::to_string(config_.hours) + " h reached");
    return CampaignOutcome::time_budget;
  }
  return std::nullopt;
}

CampaignOutcome CampaignRun::loop() {
  while (true) {
    if (const auto ended = should_end()) return *ended;
    if (ledger_) {
      schedule_jobs();
      collect_jobs();
      observe_jobs();
    } else {
      schedule_pending();
      collect_finished();
      observe_in_order();
    }
    if (controller_->pending().empty() && (!ledger_ || ledger_->unobserved() == 0)) {
      if (const int64_t rejected = rejected_observed(); rejected >= config_.max_rejected) {
        const std::string text = "stopped after " + std::to_string(rejected) +
                                 " candidates rejected by [objective] caps "
                                 "(budget.max_rejected): are the caps too tight?";
        store_->add_event("budget", text);
        message("warning", text);
      }
      store_->add_event("finished", std::to_string(observed_count()) + " candidates evaluated");
      return CampaignOutcome::finished;
    }
    report_progress();
  }
}

void CampaignRun::schedule_pending() {
  for (const Candidate& c : controller_->pending()) {
    const auto id = static_cast<int64_t>(c.id);
    CandidateRecord& r = records_[id];
    if (r.status != CandidateStatus::pending || running_.count(id) || waiting_on_.count(id))
      continue;
    if (reject_over_cap(r)) {
      store_->commit({r});
      announce(r);
      continue;
    }
    // Only successful results are reused: a failure may not repeat (a crash, the OOM killer).
    if (auto prior = store_->find_by_hash(r.hash);
        prior && prior->id != id && prior->status == CandidateStatus::done) {
      copy_result(r, *prior);
      store_->commit({r});
      announce(r);
      continue;
    }
    if (auto other = running_with_hash(r.hash)) {
      waiting_on_[id] = *other;
      continue;
    }
    if (evaluator_->in_flight() >= evaluator_->capacity()) continue;
    evaluator_->submit(make_job(id, r));
    running_.insert(id);
  }
}

Job CampaignRun::make_job(int64_t id, const CandidateRecord& r) const {
  Job job;
  job.id = id;
  job.hash = r.hash;
  job.genotype = store_->genotype_json(r);
  return job;
}

bool CampaignRun::reject_over_cap(CandidateRecord& r) {
  if (!config_.objective.has_caps()) return false;
  if (!proxy_spec_) {
    const DataSplits data = load_dataset(config_.proxy.data);
    proxy_spec_ = config_.proxy.network;
    proxy_spec_->input = data.train.shape;
    proxy_spec_->classes = data.train.classes;
  }
  const Network network = build_network(store_->genotype(r), *proxy_spec_);
  const auto reason = cap_violation(config_.objective, network.params(), network.macs());
  if (!reason) return false;
  r.status = CandidateStatus::rejected;
  r.failure_reason = "rejected: " + *reason;
  r.params = network.params();
  r.macs = network.macs();
  r.finished_at = utc_now();
  return true;
}

std::optional<int64_t> CampaignRun::running_with_hash(const std::string& hash) {
  for (int64_t other : running_)
    if (records_[other].hash == hash) return other;
  return std::nullopt;
}

void CampaignRun::copy_result(CandidateRecord& duplicate, const CandidateRecord& source) {
  duplicate.status = source.status;
  duplicate.accuracy = source.accuracy;
  duplicate.params = source.params;
  duplicate.macs = source.macs;
  duplicate.failure_reason = source.failure_reason;
  duplicate.metrics = source.metrics;
  duplicate.reused_from = source.id;
  duplicate.finished_at = utc_now();
}

void CampaignRun::collect_finished() {
  for (const JobResult& res : evaluator_->wait(0.2)) {
    running_.erase(res.id);
    CandidateRecord& r = records_[res.id];
    // A worker rejects a candidate over objective.max_latency_ms before training it.
    r.status = res.ok                     ? CandidateStatus::done
               : res.status == "rejected" ? CandidateStatus::rejected
                                          : CandidateStatus::failed;
    if (res.ok) r.accuracy = res.accuracy;
    r.failure_reason = res.ok ? "" : res.status + ": " + res.reason;
    r.params = res.params;
    r.macs = res.macs;
    r.train_seconds = res.seconds;
    r.metrics = res.metrics.dump();
    r.finished_at = utc_now();
    if (res.seconds > 0) eval_seconds_ += res.seconds, ++eval_count_;
    std::vector<CandidateRecord> changed{r};
    for (auto it = waiting_on_.begin(); it != waiting_on_.end();) {
      if (it->second != res.id) {
        ++it;
        continue;
      }
      if (res.ok) {
        copy_result(records_[it->first], r);
        changed.push_back(records_[it->first]);
      }
      it = waiting_on_.erase(it);
    }
    store_->commit(changed);
    for (const auto& c : changed) announce(c);
  }
}

void CampaignRun::observe_in_order() {
  while (!controller_->pending().empty()) {
    CandidateRecord& r = records_[static_cast<int64_t>(controller_->pending().front().id)];
    if (r.status == CandidateStatus::pending) break;
    controller_->observe(static_cast<uint64_t>(r.id), controller_result(r));
    r.observed = true;
    std::vector<CandidateRecord> changed{r};
    if (budget_left()) {
      CandidateRecord next = propose();
      records_[next.id] = next;
      changed.push_back(next);
    }
    store_->commit(changed, controller_->save_state());
  }
}

EvalResult CampaignRun::controller_result(const CandidateRecord& r) {
  if (r.status != CandidateStatus::done || !r.accuracy)
    return EvalResult::failure(r.failure_reason);
  const ObjectiveOptions& objective = config_.objective;
  if (!objective.pareto_mode() && objective.soft_target_latency_ms <= 0)
    return EvalResult::success(objective_reward(objective, *r.accuracy, r.params, r.macs));
  const nlohmann::json metrics = store_->metrics_json(r);
  const std::optional<double> latency = latency_ms(metrics);
  if (!latency && objective.soft_target_latency_ms > 0)  // (never with Pareto mode)
    return missing_latency(r, "the soft latency reward");
  const double reward = objective_reward(objective, *r.accuracy, r.params, r.macs, latency);
  if (!objective.pareto_mode()) return EvalResult::success(reward);
  std::vector<double> costs;
  for (CostKind kind : config_.objective.pareto) {
    const auto cost = candidate_cost(r, kind, metrics);
    // Params and MACs are always known: only a latency can be missing.
    if (!cost) return missing_latency(r, "objective.pareto");
    costs.push_back(*cost);
  }
  return EvalResult::success(reward, std::move(costs));
}

EvalResult CampaignRun::missing_latency(const CandidateRecord& r, const std::string& needed_by) {
  const std::string reason = "no latency measurement (metrics.latency.median_ms) for " + needed_by;
  message("warning", "candidate " + std::to_string(r.id) + ": " + reason +
                         "; the controller observes it as failed");
  return EvalResult::failure(reason);
}

void CampaignRun::announce(const CandidateRecord& r) {
  announce_result(r, supernet_ ? "supernet " : "", r.status, r.accuracy, r.failure_reason,
                  r.reused_from, r.train_seconds);
}

void CampaignRun::announce_result(const CandidateRecord& r, const std::string& what,
                                  CandidateStatus status, std::optional<double> accuracy,
                                  const std::string& failure_reason,
                                  std::optional<int64_t> reused_from, double seconds) {
  std::ostringstream msg;
  msg << "candidate " << r.id << " (" << r.hash << ") " << what;
  char buf[64];
  if (status == CandidateStatus::done) {
    std::snprintf(buf, sizeof buf, "accuracy %.2f%%", 100 * *accuracy);
    msg << buf;
  } else {
    msg << (status == CandidateStatus::rejected ? "" : "failed: ") << failure_reason;
  }
  if (reused_from) msg << " (reused from candidate " << *reused_from << ")";
  if (r.params) msg << ", " << r.params << " params";
  if (seconds > 0) {
    std::snprintf(buf, sizeof buf, ", %.1f s", seconds);
    msg << buf;
  }
  message("info", msg.str());
  if (callbacks_.on_candidate) callbacks_.on_candidate(r);
}

int64_t CampaignRun::observed_count() const {
  return std::count_if(records_.begin(), records_.end(),
                       [](const auto& kv) { return kv.second.observed; });
}

const CandidateRecord* CampaignRun::best() const {
  const CandidateRecord* out = nullptr;
  for (const auto& [id, r] : records_)
    if (r.status == CandidateStatus::done && r.accuracy &&
        (!out || r.rung > out->rung || (r.rung == out->rung && *r.accuracy > *out->accuracy)))
      out = &r;
  return out;
}

void CampaignRun::report_progress() {
  if (!callbacks_.on_progress) return;
  CampaignCallbacks::Progress p;
  p.observed = observed_count() - rejected_observed();  // what the budget counts
  p.budget = config_.candidates;
  if (const auto* b = best()) p.best_accuracy = *b->accuracy;
  // (With a [scheduler], evaluations differ in length and promotions are not counted in
  // advance: no ETA; the running job is shown by its candidate.)
  if (eval_count_ > 0 && !ledger_)
    p.eta_seconds = (eval_seconds_ / eval_count_) *
                    static_cast<double>(config_.candidates - p.observed) /
                    std::max(1, config_.workers);
  p.running = evaluator_->progress();
  if (p.running && ledger_) p.running->id = ledger_->evaluations().at(p.running->id).candidate;
  if (p.running && retraining_) p.running->id = retrain_.at(p.running->id).candidate;
  callbacks_.on_progress(p);
}

CampaignResult CampaignRun::finish(CampaignOutcome outcome) {
  CampaignResult result;
  result.outcome = outcome;
  result.observed = observed_count();
  if (const auto* b = best()) result.best = *b;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", result.best ? 100 * *result.best->accuracy : 0.0);
  message("info", std::to_string(result.observed) + " candidates observed; best accuracy " +
                      (result.best ? std::string(buf) : std::string("n/a")));
  if (scorer_ && scorer_->count() > 0) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "zero-cost guidance: %lld scorings in %.1f s this session (not candidates)",
                  static_cast<long long>(scorer_->count()), scorer_->seconds());
    message("info", text);
    store_->add_event("zero-cost", text);
  }
  // A campaign whose every finished candidate failed found nothing: say why.
  for (const auto& [id, r] : records_)
    if ((r.status == CandidateStatus::failed || r.status == CandidateStatus::rejected) &&
        !result.first_failure)
      result.first_failure = r;
  if (outcome == CampaignOutcome::finished && !result.best && result.first_failure) {
    result.outcome = CampaignOutcome::all_failed;
    message("error", "every finished candidate failed (candidate " +
                         std::to_string(result.first_failure->id) + ": " +
                         result.first_failure->failure_reason + ")");
  }
  return result;
}

CampaignResult run_campaign(const CampaignConfig& config, const CampaignRunOptions& options,
                            const CampaignCallbacks& callbacks) {
  return CampaignRun(config, options, callbacks).run();
}

CampaignConfig load_run_config(const std::filesystem::path& run_dir,
                               const std::vector<std::string>& overrides) {
  const auto file = run_dir / "config.ini";
  if (!std::filesystem::exists(run_dir / "results.sqlite"))
    throw std::runtime_error(run_dir.string() +
                             ": not a campaign run directory (no results.sqlite)");
  return load_config(file, overrides, ConfigFile::frozen_run);
}

namespace {

// [scheduler] campaigns: evaluations per rung, and the disk the training checkpoints take.
std::string rung_status_text(const CampaignConfig& config, const ResultsStore& store,
                             const std::filesystem::path& run_dir) {
  const std::vector<int> rungs = rung_epochs(config.scheduler);
  std::vector<int> done(rungs.size()), failed(rungs.size()), pending(rungs.size());
  for (const EvaluationRecord& e : store.evaluations()) {
    if (e.rung < 0 || e.rung >= static_cast<int>(rungs.size())) continue;
    const auto k = static_cast<size_t>(e.rung);
    if (e.status == CandidateStatus::done) ++done[k];
    if (e.status == CandidateStatus::failed) ++failed[k];
    if (e.status == CandidateStatus::pending) ++pending[k];
  }
  std::ostringstream out;
  out << "scheduler  " << scheduler_kind_name(config.scheduler.kind) << ", eta "
      << config.scheduler.eta << "\n";
  for (size_t k = 0; k < rungs.size(); ++k)
    out << "  rung " << k << "   " << rungs[k] << (rungs[k] == 1 ? " epoch: " : " epochs: ")
        << done[k] << " done, " << failed[k] << " failed, " << pending[k] << " pending\n";
  char mib[32];
  std::snprintf(mib, sizeof mib, "%.1f MiB",
                static_cast<double>(RungLedger::disk_bytes(run_dir / "checkpoints")) / (1 << 20));
  out << "checkpoints " << mib << " in " << (run_dir / "checkpoints").string()
      << " (candidates that may still be promoted)\n";
  return out.str();
}

// Supernet campaigns: the supernet's training and the stand-alone retrainings.
std::string supernet_status_text(const CampaignConfig& config, const ResultsStore& store) {
  const CampaignSupernet supernet = campaign_supernet(config, "[supernet]");
  std::ostringstream out;
  out << "supernet   ";
  const nlohmann::json summary =
      std::filesystem::exists(supernet.summary_file)
          ? nlohmann::json::parse(
                read_file_capped(supernet.summary_file, 1 << 20, "supernet summary"), nullptr,
                false)
          : nlohmann::json();
  if (summary.is_object() && summary.value("steps_done", nlohmann::json()).is_number()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%lld steps trained (%s, %.0f s in all), ",
                  static_cast<long long>(summary["steps_done"].get<int64_t>()),
                  summary.value("status", std::string("?")).c_str(),
                  summary.value("seconds_total", 0.0));
    out << buf;
  } else {
    out << "not trained yet, ";
  }
  out << config.supernet.epochs << " epoch(s) configured; state in " << supernet.state_file.string()
      << "\n";
  int done = 0, failed = 0, pending = 0;
  for (const EvaluationRecord& e : store.evaluations()) {
    if (e.status == CandidateStatus::done) ++done;
    if (e.status == CandidateStatus::failed) ++failed;
    if (e.status == CandidateStatus::pending) ++pending;
  }
  out << "retrained  " << done << " done, " << failed << " failed, " << pending
      << " pending stand-alone (supernet.retrain = " << config.supernet.retrain << ")\n";
  return out.str();
}

}  // namespace

std::string campaign_status_text(const std::filesystem::path& run_dir) {
  const CampaignConfig config = load_run_config(run_dir, {});
  ResultsStore store(run_dir / "results.sqlite", StoreAccess::read);
  const auto records = store.candidates();
  int done = 0, failed = 0, pending = 0, reused = 0, rejected = 0;
  double best = -1, seconds = 0;
  int64_t best_id = 0;
  for (const auto& r : records) {
    if (r.status == CandidateStatus::done) ++done;
    if (r.status == CandidateStatus::failed) ++failed;
    if (r.status == CandidateStatus::pending) ++pending;
    if (r.status == CandidateStatus::rejected) ++rejected;
    if (r.reused_from) ++reused;
    seconds += r.reused_from ? 0 : r.train_seconds;
    if (r.status == CandidateStatus::done && r.accuracy && *r.accuracy > best)
      best = *r.accuracy, best_id = r.id;
  }
  const bool running = run_lock_held(run_dir);
  const auto events = store.events();
  std::ostringstream out;
  out << "campaign   " << config.name << " (" << run_dir.string() << ")"
      << (running ? ", running" : ", not running") << "\n";
  out << "space      " << config.space_type << ", strategy " << config.strategy << ", "
      << config.workers << " worker(s)\n";
  out << "candidates " << done + failed << " finished of " << config.candidates
      << " budgeted: " << done << " done, " << failed << " failed, " << pending << " pending, "
      << reused << " reused duplicates";
  if (rejected > 0)
    out << "; " << rejected
        << " rejected by [objective] caps (not trained, not counted in the budget)";
  out << "\n";
  if (best >= 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100 * best);
    out << "best       candidate " << best_id << " with " << buf << "\n";
  }
  if (config.scheduler.kind != SchedulerKind::none) out << rung_status_text(config, store, run_dir);
  if (config.supernet.epochs > 0) out << supernet_status_text(config, store);
  out << "time       " << format_duration(seconds) << " of training\n";
  if (!events.empty())
    out << "last event " << events.back().at << " " << events.back().kind << ": "
        << events.back().message << "\n";
  return out.str();
}

}  // namespace cf

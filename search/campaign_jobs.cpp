// CampaignRun's [scheduler] steps (campaign_run.h): every job is an evaluation of a candidate at a
// rung (search/rung_ledger.h), created, scheduled, stored and observed in seq order.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "search/campaign_run.h"
#include "space/file_io.h"

namespace cf {

void CampaignRun::fill_jobs() {
  std::vector<CandidateRecord> candidates;
  std::vector<EvaluationRecord> evaluations;
  top_up(candidates, evaluations);
  if (!evaluations.empty()) store_->commit(candidates, evaluations, controller_->save_state());
}

void CampaignRun::top_up(std::vector<CandidateRecord>& candidates,
                         std::vector<EvaluationRecord>& evaluations) {
  const int window = std::max(1, config_.workers);
  while (ledger_->unobserved() < window) {
    CandidateRecord proposed;
    const auto job = ledger_->next_job(
        [&]() -> std::optional<CandidateRecord> {
          if (!budget_left()) return std::nullopt;
          return propose();
        },
        &proposed);
    if (!job) break;
    if (proposed.id > 0) {
      records_[proposed.id] = proposed;
      candidates.push_back(proposed);
    }
    evaluations.push_back(*job);
  }
}

void CampaignRun::schedule_jobs() {
  for (auto& [seq, e] : ledger_->evaluations()) {
    if (e.status != CandidateStatus::pending || running_.count(seq) || waiting_on_.count(seq))
      continue;
    CandidateRecord& r = records_[e.candidate];
    if (ledger_->is_first(e) && reject_over_cap(r)) {
      e.status = CandidateStatus::rejected;
      e.failure_reason = r.failure_reason;
      e.finished_at = r.finished_at;
      store_->commit({r}, {e});
      announce(r);
      continue;
    }
    if (const EvaluationRecord* source = ledger_->duplicate_of(e, records_)) {
      if (source->status == CandidateStatus::done) {
        reuse_evaluation(e, *source);
        store_->commit({r}, {e});
        announce(r);
      } else {
        waiting_on_[seq] = source->seq;
      }
      continue;
    }
    if (evaluator_->in_flight() >= evaluator_->capacity()) continue;
    Job job = make_job(seq, r);
    job.epochs = e.epochs;
    job.checkpoint_dir = ledger_->checkpoint_dir(e.candidate).string();
    job.measure_latency = ledger_->is_first(e);
    evaluator_->submit(job);
    running_.insert(seq);
  }
}

void CampaignRun::reuse_evaluation(EvaluationRecord& e, const EvaluationRecord& source) {
  e.status = source.status;
  e.accuracy = source.accuracy;
  e.metrics = source.metrics;
  e.reused_from = source.candidate;
  e.finished_at = utc_now();
  CandidateRecord& r = records_[e.candidate];
  r.status = source.status;
  r.accuracy = source.accuracy;
  r.rung = e.rung;
  r.params = records_[source.candidate].params;
  r.macs = records_[source.candidate].macs;
  r.metrics = source.metrics;
  r.reused_from = source.candidate;
  r.finished_at = e.finished_at;
}

void CampaignRun::collect_jobs() {
  for (const JobResult& res : evaluator_->wait(0.2)) {
    running_.erase(res.id);
    EvaluationRecord& e = ledger_->evaluations().at(res.id);
    record_result(e, res);
    if (res.seconds > 0) eval_seconds_ += res.seconds, ++eval_count_;
    CandidateRecord& r = records_[e.candidate];
    apply_evaluation(r, e, res);
    std::vector<CandidateRecord> candidates{r};
    std::vector<EvaluationRecord> evaluations{e};
    for (auto it = waiting_on_.begin(); it != waiting_on_.end();) {
      if (it->second != res.id) {
        ++it;
        continue;
      }
      EvaluationRecord& waiter = ledger_->evaluations().at(it->first);
      if (res.ok) {
        reuse_evaluation(waiter, e);
        candidates.push_back(records_[waiter.candidate]);
        evaluations.push_back(waiter);
      }
      it = waiting_on_.erase(it);
    }
    store_->commit(candidates, evaluations);
    announce_evaluation(e);
    for (size_t k = 1; k < candidates.size(); ++k) announce(candidates[k]);
  }
}

void CampaignRun::record_result(EvaluationRecord& e, const JobResult& res) {
  e.status = res.ok                     ? CandidateStatus::done
             : res.status == "rejected" ? CandidateStatus::rejected
                                        : CandidateStatus::failed;
  if (res.ok) e.accuracy = res.accuracy;
  e.failure_reason = res.ok ? "" : res.status + ": " + res.reason;
  e.train_seconds = res.seconds;
  e.metrics = res.metrics.dump();
  e.finished_at = utc_now();
}

void CampaignRun::apply_evaluation(CandidateRecord& r, const EvaluationRecord& e,
                                   const JobResult& res) {
  // (What the earlier result measured and this one did not, e.g. the latency or the supernet
  // score, is kept.)
  r.train_seconds += e.train_seconds;
  if (r.status != CandidateStatus::pending && e.status != CandidateStatus::done) return;
  if (r.status == CandidateStatus::pending) {
    r.status = e.status;
    r.failure_reason = e.failure_reason;
    r.params = res.params;
    r.macs = res.macs;
  }
  r.accuracy = e.accuracy;
  r.rung = e.rung;
  nlohmann::json metrics = res.metrics;
  if (!r.metrics.empty()) {
    const nlohmann::json before = nlohmann::json::parse(r.metrics, nullptr, false);
    if (before.is_object())
      for (const auto& [key, value] : before.items())
        if (!metrics.contains(key)) metrics[key] = value;
  }
  r.metrics = metrics.dump();
  r.finished_at = e.finished_at;
}

void CampaignRun::observe_jobs() {
  while (EvaluationRecord* e = ledger_->first_unobserved()) {
    if (e->status == CandidateStatus::pending) break;
    ledger_->observe(*e);
    std::vector<EvaluationRecord> evaluations{*e};
    std::vector<CandidateRecord> candidates;
    if (ledger_->is_first(*e)) {
      CandidateRecord& r = records_[e->candidate];
      controller_->observe(static_cast<uint64_t>(r.id), controller_result(r));
      r.observed = true;
      candidates.push_back(r);
    }
    top_up(candidates, evaluations);
    store_->commit(candidates, evaluations, controller_->save_state());
    remove_finished_checkpoints();
  }
}

void CampaignRun::remove_finished_checkpoints() {
  for (int64_t candidate : ledger_->finished_checkpoints(config_.candidates)) {
    if (!checkpoints_removed_.insert(candidate).second) continue;
    std::error_code ec;
    std::filesystem::remove_all(ledger_->checkpoint_dir(candidate), ec);
  }
}

void CampaignRun::announce_evaluation(const EvaluationRecord& e) {
  const CandidateRecord& r = records_[e.candidate];
  announce_result(
      r,
      (supernet_ ? std::string("stand-alone (") : "rung " + std::to_string(e.rung) + " (") +
          std::to_string(e.epochs) + (e.epochs == 1 ? " epoch): " : " epochs): "),
      e.status, e.accuracy, e.failure_reason, e.reused_from, e.train_seconds);
}

}  // namespace cf

// CampaignRun's supernet steps (campaign_run.h): the supernet is trained (or resumed) before any
// candidate is scored with it, and the best cells by supernet score are trained stand-alone once
// the candidate budget is spent.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "search/campaign_run.h"
#include "space/file_io.h"

namespace cf {

std::optional<CampaignOutcome> CampaignRun::train_supernet_first() {
  supernet_data_ = std::make_shared<const DataSplits>(load_dataset(config_.proxy.data));
  const auto* nasnet = dynamic_cast<const NasnetSpace*>(space_.get());
  std::optional<CampaignOutcome> ended;
  SupernetCallbacks callbacks;
  int64_t last_logged = -1;
  double loss_sum = 0;
  int losses = 0;
  callbacks.on_step = [&](int64_t step, int64_t total, double loss, const Genotype&) {
    loss_sum += loss, ++losses;
    if (step == total || step * 20 / total != last_logged) {  // every 5%
      last_logged = step * 20 / total;
      char text[128];
      std::snprintf(text, sizeof text, "supernet step %lld/%lld, loss %.4f",
                    static_cast<long long>(step), static_cast<long long>(total), loss_sum / losses);
      message("info", text);
      loss_sum = 0, losses = 0;
    }
    if (callbacks_.on_progress) {
      CampaignCallbacks::Progress p;
      p.budget = config_.candidates;
      char text[128];
      std::snprintf(text, sizeof text, "supernet step %lld/%lld loss %.3f",
                    static_cast<long long>(step), static_cast<long long>(total), loss);
      p.activity = text;
      callbacks_.on_progress(p);
    }
  };
  callbacks.should_stop = [&] {
    if (!ended) ended = should_end();
    return ended.has_value();
  };
  SupernetTraining t = train_campaign_supernet(*supernet_, *nasnet, *supernet_data_, callbacks);
  if (ended) return ended;
  const SupernetResult& r = t.result;
  if (r.status != TrainStatus::ok)
    throw std::runtime_error("supernet training " + std::string(train_status_name(r.status)) +
                             ": " + r.reason + " (its last state is in " +
                             supernet_->state_file.string() + ")");
  char text[256];
  std::snprintf(text, sizeof text,
                "supernet: %lld steps trained (%lld this run, %.1f s); %zu shared tensors, "
                "%lld values in %s",
                static_cast<long long>(t.state.step), static_cast<long long>(r.steps), r.seconds,
                t.state.bank.entries().size(), static_cast<long long>(t.state.bank.values()),
                supernet_->state_file.string().c_str());
  message("info", text);
  if (r.steps > 0) store_->add_event("supernet", text);
  supernet_bank_ = std::move(t.state.bank);
  return std::nullopt;
}

std::optional<double> CampaignRun::supernet_score(const CandidateRecord& r) {
  if (r.status != CandidateStatus::done || r.reused_from || r.metrics.empty()) return std::nullopt;
  const nlohmann::json m = nlohmann::json::parse(r.metrics, nullptr, false);
  if (!m.is_object() || !m.contains("supernet") || !m["supernet"].is_object() ||
      !m["supernet"].value("accuracy", nlohmann::json()).is_number())
    return std::nullopt;
  return m["supernet"]["accuracy"].get<double>();
}

void CampaignRun::plan_retraining() {
  std::vector<std::pair<double, int64_t>> ranked;
  for (const auto& [id, r] : records_)
    if (const auto score = supernet_score(r)) ranked.emplace_back(*score, id);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::set<int64_t> planned;
  int64_t next_seq = 1;
  for (const auto& [seq, e] : retrain_) planned.insert(e.candidate), next_seq = seq + 1;
  std::set<std::string> hashes;
  std::vector<EvaluationRecord> created;
  for (const auto& [score, id] : ranked) {
    if (static_cast<int>(hashes.size()) >= config_.supernet.retrain) break;
    if (!hashes.insert(records_[id].hash).second || planned.count(id)) continue;
    EvaluationRecord e;
    e.seq = next_seq++;
    e.candidate = id;
    e.rung = 1;
    e.epochs = config_.proxy.train.epochs;
    e.created_at = utc_now();
    retrain_[e.seq] = e;
    created.push_back(e);
  }
  if (!created.empty()) store_->commit({}, created);
}

CampaignOutcome CampaignRun::retrain_best() {
  plan_retraining();
  const auto open = [&] {
    return std::count_if(retrain_.begin(), retrain_.end(),
                         [](const auto& kv) { return !kv.second.observed; });
  };
  if (open() == 0) return CampaignOutcome::finished;
  evaluator_ = make_training_evaluator();
  retraining_ = true;
  running_.clear();
  message("info", "training the supernet's best " + std::to_string(open()) +
                      " cell(s) stand-alone ([proxy], " +
                      std::to_string(config_.proxy.train.epochs) + " epoch(s) each)");
  while (true) {
    if (const auto ended = should_end()) return *ended;
    for (auto& [seq, e] : retrain_) {
      if (e.status != CandidateStatus::pending || running_.count(seq)) continue;
      if (evaluator_->in_flight() >= evaluator_->capacity()) break;
      Job job = make_job(seq, records_[e.candidate]);
      job.measure_latency = false;  // measured when it was scored
      evaluator_->submit(job);
      running_.insert(seq);
    }
    for (const JobResult& res : evaluator_->wait(0.2)) {
      running_.erase(res.id);
      EvaluationRecord& e = retrain_.at(res.id);
      record_result(e, res);
      CandidateRecord& r = records_[e.candidate];
      apply_evaluation(r, e, res);
      store_->commit({r}, {e});
      announce_evaluation(e);
    }
    // Observed in seq order (what `check` expects of evaluation rows).
    std::vector<EvaluationRecord> observed;
    for (auto& [seq, e] : retrain_) {
      if (e.observed) continue;
      if (e.status == CandidateStatus::pending) break;
      e.observed = true;
      observed.push_back(e);
    }
    if (!observed.empty()) store_->commit({}, observed);
    if (open() == 0) {
      store_->add_event("retrained", std::to_string(retrain_.size()) +
                                         " best supernet cell(s) trained stand-alone");
      return CampaignOutcome::finished;
    }
    report_progress();
  }
}

}  // namespace cf

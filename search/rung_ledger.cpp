#include "search/rung_ledger.h"

#include <algorithm>
#include <system_error>

namespace cf {

RungLedger::RungLedger(const SchedulerOptions& options, std::filesystem::path checkpoint_root)
    : options_(options), halving_(options), root_(std::move(checkpoint_root)) {}

void RungLedger::restore(const std::vector<EvaluationRecord>& evaluations) {
  for (const EvaluationRecord& e : evaluations) {
    evaluations_[e.seq] = e;
    if (!first_of_.count(e.candidate)) {
      first_of_[e.candidate] = e.seq;
      halving_.add(e.candidate, halving_.next_bracket());
    } else {
      halving_.mark_promoted(e.candidate, e.rung - 1);
    }
  }
  for (auto& [seq, e] : evaluations_)
    if (e.observed) {
      e.observed = false;
      observe(e);
    }
}

int64_t RungLedger::unobserved() const {
  return std::count_if(evaluations_.begin(), evaluations_.end(),
                       [](const auto& kv) { return !kv.second.observed; });
}

EvaluationRecord* RungLedger::first_unobserved() {
  for (auto& [seq, e] : evaluations_)
    if (!e.observed) return &e;
  return nullptr;
}

std::optional<EvaluationRecord> RungLedger::next_job(
    const std::function<std::optional<CandidateRecord>()>& propose, CandidateRecord* proposed) {
  EvaluationRecord e;
  e.seq = evaluations_.empty() ? 1 : evaluations_.rbegin()->first + 1;
  e.created_at = utc_now();
  if (const auto promotion = halving_.next_promotion()) {
    e.candidate = promotion->candidate;
    e.rung = promotion->rung;
  } else if (auto candidate = propose()) {
    const int bracket = halving_.next_bracket();
    halving_.add(candidate->id, bracket);
    e.candidate = candidate->id;
    e.rung = halving_.start_rung(bracket);
    first_of_[e.candidate] = e.seq;
    *proposed = std::move(*candidate);
  } else {
    return std::nullopt;
  }
  e.epochs = halving_.rungs().at(static_cast<size_t>(e.rung));
  evaluations_[e.seq] = e;
  return e;
}

bool RungLedger::is_first(const EvaluationRecord& e) const {
  const auto it = first_of_.find(e.candidate);
  return it != first_of_.end() && it->second == e.seq;
}

void RungLedger::observe(EvaluationRecord& e) {
  e.observed = true;
  if (e.reused_from || e.status == CandidateStatus::rejected) return;
  halving_.record(e.candidate, e.rung,
                  e.status == CandidateStatus::done && e.accuracy ? e.accuracy : std::nullopt);
}

const EvaluationRecord* RungLedger::duplicate_of(
    const EvaluationRecord& e, const std::map<int64_t, CandidateRecord>& candidates) const {
  if (!is_first(e)) return nullptr;  // promotions always train: they continue a checkpoint
  const std::string& hash = candidates.at(e.candidate).hash;
  for (const auto& [seq, other] : evaluations_) {
    if (seq >= e.seq) break;
    if (other.epochs != e.epochs || other.reused_from ||
        candidates.at(other.candidate).hash != hash)
      continue;
    // A trained success is reused; a failure is not (it may not repeat), so look further.
    if (other.status == CandidateStatus::done || other.status == CandidateStatus::pending)
      return &other;
  }
  return nullptr;
}

std::filesystem::path RungLedger::checkpoint_dir(int64_t candidate) const {
  return root_ / std::to_string(candidate);
}

std::vector<int64_t> RungLedger::finished_checkpoints(int64_t max_candidates) const {
  // Per candidate: an unfinished evaluation needs its checkpoint; else its highest successful
  // rung decides whether it may still be continued.
  std::map<int64_t, bool> needed;
  std::map<int64_t, int> best_rung;
  for (const auto& [seq, e] : evaluations_) {
    needed.emplace(e.candidate, false);
    if (e.status == CandidateStatus::pending || !e.observed) needed[e.candidate] = true;
    if (e.status == CandidateStatus::done && !e.reused_from)
      best_rung[e.candidate] = std::max(best_rung[e.candidate], e.rung);
  }
  std::vector<int64_t> out;
  for (const auto& [candidate, pending] : needed) {
    if (pending) continue;
    const auto it = best_rung.find(candidate);
    if (it != best_rung.end() && halving_.may_promote(candidate, it->second, max_candidates))
      continue;
    out.push_back(candidate);
  }
  return out;
}

int64_t RungLedger::disk_bytes(const std::filesystem::path& checkpoint_root) {
  std::error_code ec;
  int64_t bytes = 0;
  if (!std::filesystem::exists(checkpoint_root, ec)) return 0;
  for (auto it = std::filesystem::recursive_directory_iterator(checkpoint_root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) bytes += static_cast<int64_t>(it->file_size(ec));
  return bytes;
}

}  // namespace cf

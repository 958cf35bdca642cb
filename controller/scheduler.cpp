#include "controller/scheduler.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace cf {

const char* scheduler_kind_name(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::none:
      return "none";
    case SchedulerKind::asha:
      return "asha";
    case SchedulerKind::hyperband:
      return "hyperband";
  }
  return "?";
}

std::vector<int> rung_epochs(const SchedulerOptions& options) {
  if (options.min_epochs < 1 || options.max_epochs < options.min_epochs || options.eta < 2)
    throw std::invalid_argument(
        "successive halving needs 1 <= min_epochs <= max_epochs and eta >= 2");
  std::vector<int> rungs;
  for (int64_t r = options.min_epochs; r < options.max_epochs; r *= options.eta)
    rungs.push_back(static_cast<int>(r));
  rungs.push_back(options.max_epochs);
  return rungs;
}

SuccessiveHalving::SuccessiveHalving(const SchedulerOptions& options)
    : options_(options), rungs_(rung_epochs(options)) {
  // Hyperband: one bracket per rung but the top one (a bracket starting at the top rung would be
  // plain training at the full resource, which a campaign without a scheduler already is).
  const int count = options.kind == SchedulerKind::hyperband
                        ? std::max(1, static_cast<int>(rungs_.size()) - 1)
                        : 1;
  for (int b = 0; b < count; ++b) bracket_start_.push_back(b);
}

void SuccessiveHalving::add(int64_t candidate, int bracket) {
  bracket_[candidate] = bracket;
  ++added_;
}

void SuccessiveHalving::record(int64_t candidate, int rung, std::optional<double> score) {
  Rung& r = rung_of(bracket_.at(candidate), rung);
  r.results.emplace_back(score ? *score : -std::numeric_limits<double>::infinity(), candidate);
  // Best first, ties by candidate id: a fixed order whatever the order of recording.
  std::sort(r.results.begin(), r.results.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
}

int SuccessiveHalving::rank_in(const Rung& rung, int64_t candidate) {
  for (size_t i = 0; i < rung.results.size(); ++i)
    if (rung.results[i].second == candidate) return static_cast<int>(i);
  return -1;
}

std::optional<SuccessiveHalving::Promotion> SuccessiveHalving::next_promotion() {
  const int top = static_cast<int>(rungs_.size()) - 1;
  for (int b = 0; b < brackets(); ++b) {
    for (int k = top - 1; k >= start_rung(b); --k) {
      auto it = table_.find({b, k});
      if (it == table_.end()) continue;
      Rung& rung = it->second;
      const size_t promotable = rung.results.size() / static_cast<size_t>(options_.eta);
      for (size_t i = 0; i < promotable; ++i) {
        const auto& [score, candidate] = rung.results[i];
        if (score == -std::numeric_limits<double>::infinity()) break;
        if (rung.promoted.count(candidate)) continue;
        rung.promoted.insert(candidate);
        return Promotion{candidate, k + 1};
      }
    }
  }
  return std::nullopt;
}

void SuccessiveHalving::mark_promoted(int64_t candidate, int from_rung) {
  rung_of(bracket_.at(candidate), from_rung).promoted.insert(candidate);
}

bool SuccessiveHalving::may_promote(int64_t candidate, int rung, int64_t max_candidates) const {
  const int top = static_cast<int>(rungs_.size()) - 1;
  if (rung >= top) return false;
  const int bracket = bracket_.at(candidate);
  // The most results each rung of the bracket can ever hold: at most every candidate at the
  // start rung (brackets are assigned in turn, but rejected candidates can skew the shares),
  // then 1/eta of the rung below.
  int64_t most = max_candidates;
  for (int k = start_rung(bracket); k < rung; ++k) most /= options_.eta;
  const auto it = table_.find({bracket, rung});
  if (it == table_.end()) return most / options_.eta > 0;
  if (it->second.promoted.count(candidate)) return false;
  const int rank = rank_in(it->second, candidate);
  if (rank < 0 || it->second.results[static_cast<size_t>(rank)].first ==
                      -std::numeric_limits<double>::infinity())
    return false;
  return rank < most / options_.eta;
}

std::vector<int64_t> SuccessiveHalving::rung_counts() const {
  std::vector<int64_t> counts(rungs_.size(), 0);
  for (const auto& [key, rung] : table_)
    counts[static_cast<size_t>(key.second)] += static_cast<int64_t>(rung.results.size());
  return counts;
}

}  // namespace cf

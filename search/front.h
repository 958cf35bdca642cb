#pragma once
// The costs of a stored candidate and a campaign's Pareto front over accuracy and those costs:
// what the campaign hands evolution's Pareto mode, and what `top --pareto`, `export --pareto`
// and the report show. The front itself is computed by space/pareto.h, as evolution ranks.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "results/store.h"
#include "search/config.h"
#include "search/objective.h"

namespace cf {

std::string_view cost_name(CostKind kind);  // "params", "macs", "latency"
// "params, macs, latency": the names cost_name knows, for messages.
std::string cost_choices();
// A comma list of one or two distinct cost names ("params,latency"); anything else throws
// std::invalid_argument saying what is wrong and what is valid, in one line.
std::vector<CostKind> parse_cost_list(const std::string& text);
std::string cost_list_text(const std::vector<CostKind>& costs);  // "params,latency"

// metrics.latency.median_ms of a candidate's metrics, when it is a finite number >= 0 (a
// candidate evaluated without latency measurement has none: its latency is unknown).
std::optional<double> latency_ms(const nlohmann::json& metrics);

// A stored candidate's value of one cost: its proxy network's params or MACs, or its measured
// latency in milliseconds (nullopt when not measured).
std::optional<double> candidate_cost(const CandidateRecord& r, CostKind kind,
                                     const nlohmann::json& metrics);

// What a campaign's front is over by default: objective.pareto, or params for a scalar campaign
// (the params-accuracy trade-off the report has always drawn).
std::vector<CostKind> default_front_costs(const CampaignConfig& config);

struct FrontMember {
  CandidateRecord record;
  std::optional<double> latency_ms;  // when measured
};

struct CampaignFront {
  std::vector<CostKind> costs;
  // The non-dominated evaluated candidates (done, not reused duplicates) over accuracy
  // (maximised) and the costs (minimised), best accuracy first, ties by id. Candidates with equal
  // accuracy and costs are all on it.
  std::vector<FrontMember> members;
  int64_t considered = 0;  // evaluated candidates whose every cost is known
  int64_t unmeasured = 0;  // evaluated candidates left out: a cost (latency) is unknown
};

CampaignFront campaign_front(const ResultsStore& store, const std::vector<CostKind>& costs);

}  // namespace cf

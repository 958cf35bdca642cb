#include "search/front.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "space/pareto.h"

namespace cf {

namespace {

constexpr CostKind kCostKinds[] = {CostKind::params, CostKind::macs, CostKind::latency};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

std::string_view cost_name(CostKind kind) {
  switch (kind) {
    case CostKind::params:
      return "params";
    case CostKind::macs:
      return "macs";
    case CostKind::latency:
      return "latency";
  }
  return "?";
}

std::string cost_choices() {
  std::string out;
  for (CostKind kind : kCostKinds) out += (out.empty() ? "" : ", ") + std::string(cost_name(kind));
  return out;
}

std::vector<CostKind> parse_cost_list(const std::string& text) {
  std::vector<CostKind> costs;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item = trim(item);
    const CostKind* kind = nullptr;
    for (const CostKind& k : kCostKinds)
      if (cost_name(k) == item) kind = &k;
    if (!kind) throw std::invalid_argument("'" + item + "' is not one of " + cost_choices());
    for (CostKind seen : costs)
      if (seen == *kind) throw std::invalid_argument("'" + item + "' is listed twice");
    costs.push_back(*kind);
  }
  if (costs.empty() || costs.size() > 2)
    throw std::invalid_argument("'" + text + "' is not one or two of " + cost_choices());
  return costs;
}

std::string cost_list_text(const std::vector<CostKind>& costs) {
  std::string out;
  for (CostKind kind : costs) out += (out.empty() ? "" : ",") + std::string(cost_name(kind));
  return out;
}

std::optional<double> latency_ms(const nlohmann::json& metrics) {
  if (!metrics.is_object() || !metrics.contains("latency")) return std::nullopt;
  const nlohmann::json& latency = metrics.at("latency");
  if (!latency.is_object() || !latency.contains("median_ms")) return std::nullopt;
  const nlohmann::json& median = latency.at("median_ms");
  if (!median.is_number()) return std::nullopt;
  const double ms = median.get<double>();
  if (!std::isfinite(ms) || ms < 0) return std::nullopt;
  return ms;
}

std::optional<double> candidate_cost(const CandidateRecord& r, CostKind kind,
                                     const nlohmann::json& metrics) {
  switch (kind) {
    case CostKind::params:
      return static_cast<double>(r.params);
    case CostKind::macs:
      return static_cast<double>(r.macs);
    case CostKind::latency:
      return latency_ms(metrics);
  }
  return std::nullopt;
}

std::vector<CostKind> default_front_costs(const CampaignConfig& config) {
  if (config.objective.pareto_mode()) return config.objective.pareto;
  return {CostKind::params};
}

CampaignFront campaign_front(const ResultsStore& store, const std::vector<CostKind>& costs) {
  CampaignFront front;
  front.costs = costs;
  std::vector<FrontMember> pool;
  std::vector<Objectives> points;
  for (CandidateRecord& r : store.ranked_candidates()) {
    const nlohmann::json metrics = store.metrics_json(r);
    Objectives point{-*r.accuracy};
    for (CostKind kind : costs)
      if (const auto cost = candidate_cost(r, kind, metrics)) point.push_back(*cost);
    if (point.size() != costs.size() + 1) {
      ++front.unmeasured;
      continue;
    }
    pool.push_back({std::move(r), latency_ms(metrics)});
    points.push_back(std::move(point));
  }
  front.considered = static_cast<int64_t>(pool.size());
  // pareto_front keeps index order, and ranked_candidates is best accuracy first, ties by id.
  for (size_t i : pareto_front(points)) front.members.push_back(std::move(pool[i]));
  return front;
}

}  // namespace cf

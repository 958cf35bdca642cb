#include "search/objective.h"

#include <cmath>
#include <cstdio>

namespace cf {

std::optional<std::string> cap_violation(const ObjectiveOptions& objective, int64_t params,
                                         int64_t macs) {
  const auto over = [](int64_t value, uint64_t cap, const char* what,
                       const char* key) -> std::optional<std::string> {
    if (cap == 0 || value < 0 || static_cast<uint64_t>(value) <= cap) return std::nullopt;
    return std::to_string(value) + " " + what + " > " + key + " " + std::to_string(cap);
  };
  if (auto reason = over(params, objective.max_params, "params", "max_params")) return reason;
  return over(macs, objective.max_macs, "MACs", "max_macs");
}

std::optional<std::string> latency_cap_violation(double max_latency_ms, double median_ms) {
  if (max_latency_ms <= 0 || median_ms <= max_latency_ms) return std::nullopt;
  char text[128];
  std::snprintf(text, sizeof text, "%.3f ms latency > max_latency_ms %g", median_ms,
                max_latency_ms);
  return text;
}

double objective_reward(const ObjectiveOptions& objective, double accuracy, int64_t params,
                        int64_t macs, std::optional<double> latency_ms) {
  double reward = accuracy;
  const auto scale = [&](double value, double target) {
    if (target > 0 && value > 0) reward *= std::pow(value / target, objective.soft_weight);
  };
  scale(static_cast<double>(params), static_cast<double>(objective.soft_target_params));
  scale(static_cast<double>(macs), static_cast<double>(objective.soft_target_macs));
  if (latency_ms) scale(*latency_ms, objective.soft_target_latency_ms);
  return reward;
}

}  // namespace cf

#pragma once
// What a campaign optimises beyond accuracy ([objective]): hard caps on the proxy network's size
// (a candidate over one is not trained) and a soft MnasNet-style reward (Tan et al., 2019):
// reward = accuracy * prod over targets of (value / target) ^ w, so that a network at its target
// keeps its accuracy as reward, a larger one loses a little and a smaller one gains a little.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/latency.h"

namespace cf {

// A cost a campaign can minimise beside accuracy (objective.pareto).
enum class CostKind : uint8_t { params, macs, latency };

// A candidate's inference latency (objective.latency_*) is measured by trainer/latency.h on its
// proxy network and stored in the result's metrics as
// metrics.latency = {median_ms, min_ms, cv, runs, threads, cells_per_stack, filters}.

struct ObjectiveOptions {
  uint64_t max_params = 0, max_macs = 0;                  // hard caps, 0: none
  double max_latency_ms = 0;                              // hard cap on latency, 0: none
  uint64_t soft_target_params = 0, soft_target_macs = 0;  // soft reward targets, 0: none
  double soft_target_latency_ms = 0;                      // soft reward target, 0: none
  double soft_weight = -0.07;                             // w (MnasNet's soft constraint)
  bool measure_latency = false;  // objective.latency = on (implied by a cap or a Pareto cost)
  LatencyOptions latency;
  // The stacking latency is measured at (0: the proxy network's), e.g. the full-size N and F a
  // found cell will be trained at; caps and rewards then apply to that latency.
  int latency_cells_per_stack = 0, latency_filters = 0;
  // objective.mode = pareto: evolution selects by non-dominated rank and crowding over
  // (accuracy, these costs) instead of by reward. Empty: scalar mode.
  std::vector<CostKind> pareto;

  bool has_caps() const { return max_params > 0 || max_macs > 0; }
  bool has_soft_reward() const {
    return soft_target_params > 0 || soft_target_macs > 0 || soft_target_latency_ms > 0;
  }
  bool pareto_mode() const { return !pareto.empty(); }
  bool needs_latency() const {
    if (measure_latency || max_latency_ms > 0 || soft_target_latency_ms > 0) return true;
    for (CostKind c : pareto)
      if (c == CostKind::latency) return true;
    return false;
  }
};

// Why a network of this size may not be trained ("412080 params > max_params 357018"), or
// nullopt.
std::optional<std::string> cap_violation(const ObjectiveOptions& objective, int64_t params,
                                         int64_t macs);

// Why a measured latency may not be trained ("3.412 ms latency > max_latency_ms 3"), or nullopt
// (also when max_latency_ms is 0: no cap). Checked by the worker, which measures it.
std::optional<std::string> latency_cap_violation(double max_latency_ms, double median_ms);

// What the controller observes for a trained candidate: its accuracy, or the soft reward.
// `latency_ms` is needed (not nullopt) when objective.soft_target_latency_ms is set.
double objective_reward(const ObjectiveOptions& objective, double accuracy, int64_t params,
                        int64_t macs, std::optional<double> latency_ms = std::nullopt);

}  // namespace cf

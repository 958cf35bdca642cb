#pragma once
// What a campaign optimises beyond accuracy ([objective]): hard caps on the proxy network's size
// (a candidate over one is not trained) and a soft MnasNet-style reward (Tan et al., 2019):
// reward = accuracy * prod over targets of (value / target) ^ w, so that a network at its target
// keeps its accuracy as reward, a larger one loses a little and a smaller one gains a little.
#include <cstdint>
#include <optional>
#include <string>

namespace cf {

struct ObjectiveOptions {
  uint64_t max_params = 0, max_macs = 0;                  // hard caps, 0: none
  uint64_t soft_target_params = 0, soft_target_macs = 0;  // soft reward targets, 0: none
  double soft_weight = -0.07;                             // w (MnasNet's soft constraint)

  bool has_caps() const { return max_params > 0 || max_macs > 0; }
  bool has_soft_reward() const { return soft_target_params > 0 || soft_target_macs > 0; }
};

// Why a network of this size may not be trained ("412080 params > max_params 357018"), or
// nullopt.
std::optional<std::string> cap_violation(const ObjectiveOptions& objective, int64_t params,
                                         int64_t macs);

// What the controller observes for a trained candidate: its accuracy, or the soft reward.
double objective_reward(const ObjectiveOptions& objective, double accuracy, int64_t params,
                        int64_t macs);

}  // namespace cf

#pragma once
// The NASNet controller (Zoph et al. 2018): an LSTM policy over the decision sequence, trained
// with PPO's clipped objective or REINFORCE, an exponential-moving-average reward baseline, an
// entropy bonus and Adam.
#include <map>
#include <optional>

#include "controller/controller.h"
#include "controller/lstm_policy.h"

namespace cf {

class RlController final : public Controller {
 public:
  RlController(const SearchSpace& space, const RlOptions& options, uint64_t seed,
               const GuideOptions& guide = {});
  std::string_view strategy() const override { return "rl"; }

  const RlOptions& options() const { return options_; }
  const LstmPolicy<float>& policy() const { return policy_; }
  // Unset until the first reward; then baseline <- decay * baseline + (1 - decay) * reward.
  std::optional<double> baseline() const { return baseline_; }
  uint64_t updates() const { return adam_step_; }  // optimiser steps taken

 protected:
  Proposal next(CandidateId id) override;
  // Zero-cost warm-up: the first batch is the warm-up's best; each is learnt from with its
  // log-probability under the policy when it was proposed.
  int warmup_take() const override { return options_.batch_size; }
  void adopt(CandidateId id, const DecisionSeq& seq) override;
  // Queues the episode with advantage = reward - baseline (the baseline before this reward);
  // every batch_size episodes the policy takes ppo_epochs (PPO) or one (REINFORCE) Adam steps.
  void learn(CandidateId id, const DecisionSeq& seq, const EvalResult& result) override;
  std::vector<std::pair<std::string, double>> option_values() const override;
  void save_strategy(ByteWriter& out) const override;
  void restore_strategy(ByteReader& in) override;

 private:
  struct Episode {
    DecisionSeq seq;
    double old_log_prob;  // under the policy that sampled it (the PPO ratio's denominator)
    double advantage;
  };
  void update();
  void adam_step();

  RlOptions options_;
  LstmPolicy<float> policy_;
  std::vector<float> adam_m_, adam_v_, grad_;
  uint64_t adam_step_ = 0;
  std::optional<double> baseline_;
  std::map<CandidateId, double> pending_log_prob_;
  std::vector<Episode> batch_;
};

}  // namespace cf

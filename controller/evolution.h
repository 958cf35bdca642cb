#pragma once
// Regularized (aging) evolution, Real et al. 2019: tournament selection of S members drawn with
// replacement from a population of P, one mutation of the winner, the oldest member dies.
// Pareto mode (EvolutionOptions::pareto_costs > 0) keeps the aging population and changes only
// who wins a tournament: NSGA-II order (Deb et al. 2002) over the whole population, so that the
// search pushes the accuracy-cost front instead of accuracy alone.
#include <deque>
#include <vector>

#include "controller/controller.h"

namespace cf {

class EvolutionController final : public Controller {
 public:
  struct Member {
    CandidateId id;
    DecisionSeq seq;
    double reward;
    std::vector<double> costs;  // Pareto mode: pareto_costs of them; empty otherwise
  };

  EvolutionController(const SearchSpace& space, const EvolutionOptions& options, uint64_t seed,
                      const GuideOptions& guide = {});
  std::string_view strategy() const override { return "evolution"; }

  const EvolutionOptions& options() const { return options_; }
  // Oldest first; at most P members; failed candidates never enter.
  const std::deque<Member>& population() const { return population_; }

 protected:
  // Random until the population holds P members (with K workers this can be up to P + K - 1
  // random candidates); afterwards the mutated tournament winner of the current population, with
  // the winner as the proposal's parent. With guide.proposal = M >= 2, the best-scored of M
  // mutations of the winner.
  Proposal next(CandidateId id) override;
  int warmup_take() const override { return options_.population; }
  void check_result(CandidateId id, const EvalResult& result) const override;
  void learn(CandidateId id, const DecisionSeq& seq, const EvalResult& result) override;
  std::vector<std::pair<std::string, double>> option_values() const override;
  void save_strategy(ByteWriter& out) const override;
  void restore_strategy(ByteReader& in) override;

 private:
  EvolutionOptions options_;
  std::deque<Member> population_;

  bool pareto() const { return options_.pareto_costs > 0; }
  // S draws with replacement; the best by reward (scalar) or NSGA-II order (Pareto), the
  // earlier draw on ties. Both modes draw the same random numbers.
  const Member& tournament();
};

}  // namespace cf

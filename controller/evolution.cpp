#include "controller/evolution.h"

#include <cmath>

namespace cf {

EvolutionController::EvolutionController(const SearchSpace& space, const EvolutionOptions& options,
                                         uint64_t seed, const GuideOptions& guide)
    : Controller(space, seed, guide), options_(options) {
  validate(ControllerOptions{options, {}, guide});
}

Proposal EvolutionController::next(CandidateId) {
  if (population_.size() < static_cast<size_t>(options_.population)) return space().sample(rng());
  const Member* parent = nullptr;
  for (int k = 0; k < options_.sample_size; ++k) {
    const Member& m = population_[rng().uniform_int(static_cast<int>(population_.size()))];
    if (!parent || m.reward > parent->reward) parent = &m;  // ties: the earlier draw wins
  }
  if (rng().uniform01() < options_.identity_prob)
    return {space().mutate(parent->seq, Mutation::identity, rng()), parent->id};
  auto mutation = [&] {
    const Mutation kind = rng().uniform_int(2) == 0 ? Mutation::hidden_state : Mutation::op;
    return space().mutate(parent->seq, kind, rng());
  };
  if (guide().proposal < 2) return {mutation(), parent->id};
  // Move proposal: the best-scored of M mutations (the first on ties).
  DecisionSeq best = mutation();
  double best_score = score(best);
  for (int m = 1; m < guide().proposal; ++m) {
    DecisionSeq child = mutation();
    const double v = score(child);
    if (v > best_score || (std::isnan(best_score) && !std::isnan(v)))
      best = std::move(child), best_score = v;
  }
  return {std::move(best), parent->id};
}

void EvolutionController::learn(CandidateId id, const DecisionSeq& seq, const EvalResult& result) {
  if (!result.ok()) return;  // a failed child never enters the population
  population_.push_back({id, seq, *result.reward});
  if (population_.size() > static_cast<size_t>(options_.population)) population_.pop_front();
}

std::vector<std::pair<std::string, double>> EvolutionController::option_values() const {
  return {{"evolution.population", options_.population},
          {"evolution.sample_size", options_.sample_size},
          {"evolution.identity_prob", options_.identity_prob}};
}

void EvolutionController::save_strategy(ByteWriter& out) const {
  out.u64(population_.size());
  for (const auto& m : population_) {
    out.u64(m.id);
    out.ints(m.seq);
    out.f64(m.reward);
  }
}

void EvolutionController::restore_strategy(ByteReader& in) {
  std::deque<Member> population;
  const uint64_t n = in.count("population size", 24);
  if (n > static_cast<uint64_t>(options_.population))
    throw StateError("controller state: population of " + std::to_string(n) +
                     " exceeds evolution.population");
  for (uint64_t k = 0; k < n; ++k) {
    Member m;
    m.id = in.u64("member id");
    m.seq = in.ints("member sequence");
    m.reward = in.f64("member reward");
    try {
      space().check(m.seq);
    } catch (const GenotypeError& e) {
      throw StateError("controller state: population member " + std::to_string(k) + ": " +
                       e.what());
    }
    if (!std::isfinite(m.reward))
      throw StateError("controller state: population member " + std::to_string(k) +
                       ": reward is not finite");
    population.push_back(std::move(m));
  }
  in.expect_end();
  population_ = std::move(population);
}

}  // namespace cf

#include "controller/evolution.h"

#include <cmath>

#include "space/pareto.h"

namespace cf {

namespace {

std::vector<double> read_costs(ByteReader& in, uint64_t member, int expected) {
  std::vector<double> costs = in.reals<double>("member costs");
  const std::string where = "controller state: population member " + std::to_string(member);
  if (costs.size() != static_cast<size_t>(expected))
    throw StateError(where + ": " + std::to_string(costs.size()) + " costs, expected " +
                     std::to_string(expected));
  for (double c : costs)
    if (!std::isfinite(c)) throw StateError(where + ": a cost is not finite");
  return costs;
}

}  // namespace

EvolutionController::EvolutionController(const SearchSpace& space, const EvolutionOptions& options,
                                         uint64_t seed, const GuideOptions& guide)
    : Controller(space, seed, guide), options_(options) {
  validate(ControllerOptions{options, {}, guide});
}

const EvolutionController::Member& EvolutionController::tournament() {
  const int size = static_cast<int>(population_.size());
  if (!pareto()) {
    const Member* parent = nullptr;
    for (int k = 0; k < options_.sample_size; ++k) {
      const Member& m = population_[rng().uniform_int(size)];
      if (!parent || m.reward > parent->reward) parent = &m;  // ties: the earlier draw wins
    }
    return *parent;
  }
  // Ranked over the whole population, not the sample: rank and crowding describe a member's place
  // on the population's fronts (what NSGA-II's binary tournament compares).
  std::vector<Objectives> points;
  for (const Member& m : population_) {
    points.push_back({-m.reward});
    points.back().insert(points.back().end(), m.costs.begin(), m.costs.end());
  }
  const std::vector<NsgaKey> keys = nsga_keys(points);
  int winner = -1;
  for (int k = 0; k < options_.sample_size; ++k) {
    const int drawn = rng().uniform_int(size);
    if (winner < 0 || nsga_better(keys[drawn], keys[winner])) winner = drawn;
  }
  return population_[winner];
}

Proposal EvolutionController::next(CandidateId) {
  if (population_.size() < static_cast<size_t>(options_.population)) return space().sample(rng());
  const Member* parent = &tournament();
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

void EvolutionController::check_result(CandidateId id, const EvalResult& result) const {
  if (!pareto() || !result.ok() ||
      result.costs.size() == static_cast<size_t>(options_.pareto_costs))
    return;
  throw ControllerError("observe: candidate " + std::to_string(id) + ": Pareto mode needs " +
                        std::to_string(options_.pareto_costs) + " cost(s), got " +
                        std::to_string(result.costs.size()));
}

void EvolutionController::learn(CandidateId id, const DecisionSeq& seq, const EvalResult& result) {
  if (!result.ok()) return;  // a failed child never enters the population
  population_.push_back({id, seq, *result.reward, pareto() ? result.costs : std::vector<double>{}});
  if (population_.size() > static_cast<size_t>(options_.population)) population_.pop_front();
}

std::vector<std::pair<std::string, double>> EvolutionController::option_values() const {
  std::vector<std::pair<std::string, double>> values = {
      {"evolution.population", options_.population},
      {"evolution.sample_size", options_.sample_size},
      {"evolution.identity_prob", options_.identity_prob}};
  // Only when on: a scalar controller's state stays what it was before Pareto mode existed, so
  // the checkpoints of older runs restore, and a Pareto state cannot restore into a scalar one.
  if (pareto()) values.emplace_back("evolution.pareto_costs", options_.pareto_costs);
  return values;
}

// Per member: id, sequence, reward, and in Pareto mode its costs (the option list saved before
// the strategy state says which layout follows).
void EvolutionController::save_strategy(ByteWriter& out) const {
  out.u64(population_.size());
  for (const auto& m : population_) {
    out.u64(m.id);
    out.ints(m.seq);
    out.f64(m.reward);
    if (pareto()) out.reals(m.costs);
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
    if (pareto()) m.costs = read_costs(in, k, options_.pareto_costs);
    population.push_back(std::move(m));
  }
  in.expect_end();
  population_ = std::move(population);
}

}  // namespace cf

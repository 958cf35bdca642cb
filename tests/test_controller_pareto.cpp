// Evolution's Pareto mode: tournament winners by NSGA-II order over the population (rank, then
// crowding), costs checked on observe, saved and restored with the checkpoint, deterministic in
// the seed.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "controller/controller.h"
#include "controller/evolution.h"
#include "space/nb201.h"

namespace {

// A deterministic accuracy and two costs from the sequence alone (so that an interrupted and an
// uninterrupted run see the same results); candidates whose first decision is 0 fail.
cf::EvalResult toy_result(const cf::DecisionSeq& seq) {
  if (seq[0] == 0) return cf::EvalResult::failure("first decision is 0");
  double sum = 0;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < seq.size(); ++i) {
    sum += seq[i];
    h = (h ^ static_cast<uint64_t>(seq[i] + 7 * i)) * 1099511628211ULL;
  }
  const double accuracy = sum / (4.0 * seq.size()) + static_cast<double>(h % 1000) / 20000.0;
  return cf::EvalResult::success(accuracy, {sum, static_cast<double>((h >> 10) % 97)});
}

cf::EvolutionOptions pareto_options(int costs) {
  cf::EvolutionOptions options;
  options.population = 8;
  options.sample_size = 3;
  options.identity_prob = 0.1;
  options.pareto_costs = costs;
  return options;
}

// One proposal after another, each observed at once; the proposals made.
std::vector<cf::Candidate> drive(cf::Controller& c, int steps) {
  std::vector<cf::Candidate> proposed;
  for (int s = 0; s < steps; ++s) {
    proposed.push_back(c.propose());
    c.observe(proposed.back().id, toy_result(proposed.back().seq));
  }
  return proposed;
}

bool same(const std::vector<cf::Candidate>& a, const std::vector<cf::Candidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].seq != b[i].seq || a[i].parent != b[i].parent) return false;
  return true;
}

std::string restore_error(cf::Controller& c, const std::vector<uint8_t>& bytes) {
  try {
    c.restore_state(bytes);
  } catch (const cf::StateError& e) {
    return e.what();
  }
  return "";
}

// The tournament winners (parents) of `proposals` children of a fixed population: every child
// fails, so the population never changes.
std::multiset<cf::CandidateId> parents(cf::EvolutionController& evo, int proposals) {
  std::multiset<cf::CandidateId> out;
  for (int k = 0; k < proposals; ++k) {
    const cf::Candidate c = evo.propose();
    REQUIRE(c.parent.has_value());
    out.insert(*c.parent);
    evo.observe(c.id, cf::EvalResult::failure("not trained"));
  }
  return out;
}

}  // namespace

TEST_CASE("Pareto mode: the tournament winner is chosen by non-dominated rank, then crowding",
          "[controller][pareto]") {
  // The population (accuracy, cost): 1 (0.9, 50), 2 (0.9, 10), 3 (0.5, 5), 4 (0.7, 8).
  // Candidate 2 dominates 1 (same accuracy, lower cost): rank 1 for candidate 1 although its
  // accuracy is the best. Front {2, 4, 3}: 2 and 3 are its ends (infinite crowding), 4 is inside.
  // With S = 64 draws of 4 members every member is in every tournament (but for a chance of
  // 4 * 0.75^64), so Pareto mode picks 2 or 3 (whichever is drawn first), never 1 or 4.
  const cf::Nb201Space space;
  const std::map<int, std::pair<double, double>> results = {
      {1, {0.9, 50}}, {2, {0.9, 10}}, {3, {0.5, 5}}, {4, {0.7, 8}}};
  for (const int costs : {1, 0}) {
    cf::EvolutionOptions options;
    options.population = 4;
    options.sample_size = 64;
    options.identity_prob = 0;
    options.pareto_costs = costs;
    cf::EvolutionController evo(space, options, 5);
    for (int k = 1; k <= 4; ++k) {
      const cf::Candidate c = evo.propose();
      REQUIRE(c.id == static_cast<cf::CandidateId>(k));
      const auto [accuracy, cost] = results.at(k);
      evo.observe(c.id, cf::EvalResult::success(accuracy, {cost}));
    }
    REQUIRE(evo.population().size() == 4);
    const std::multiset<cf::CandidateId> won = parents(evo, 40);
    INFO((costs ? "Pareto" : "scalar") << " mode");
    if (costs) {
      CHECK(won.count(1) == 0);  // dominated
      CHECK(won.count(4) == 0);  // on the front, but crowded
      CHECK(won.count(2) > 0);   // both ends win, in draw order
      CHECK(won.count(3) > 0);
    } else {
      // The highest reward wins; the two 0.9s tie and the earlier draw takes it.
      CHECK(won.count(1) > 0);
      CHECK(won.count(2) > 0);
      CHECK(won.count(1) + won.count(2) == 40);
    }
  }
}

TEST_CASE("Pareto mode is deterministic in the seed and changes what evolution proposes",
          "[controller][pareto]") {
  const cf::Nb201Space space;
  cf::EvolutionController a(space, pareto_options(2), 42);
  cf::EvolutionController b(space, pareto_options(2), 42);
  const auto from_a = drive(a, 80);
  CHECK(same(from_a, drive(b, 80)));
  CHECK(a.save_state() == b.save_state());
  for (const auto& m : a.population()) CHECK(m.costs.size() == 2);
  // The same seed and results without Pareto mode: the first P random candidates agree, the
  // tournaments (ranked otherwise) soon do not.
  cf::EvolutionController scalar(space, pareto_options(0), 42);
  const auto from_scalar = drive(scalar, 80);
  CHECK_FALSE(same(from_a, from_scalar));
  for (const auto& m : scalar.population()) CHECK(m.costs.empty());
}

TEST_CASE("Pareto mode: costs are saved and restored, and a restored controller continues",
          "[controller][pareto]") {
  const cf::Nb201Space space;
  cf::EvolutionController original(space, pareto_options(2), 7);
  drive(original, 30);
  const cf::Candidate in_flight = original.propose();  // a pending proposal survives too
  const std::vector<uint8_t> bytes = original.save_state();
  cf::EvolutionController restored(space, pareto_options(2), 999);
  restored.restore_state(bytes);
  CHECK(restored.save_state() == bytes);
  REQUIRE(restored.population().size() == original.population().size());
  for (size_t k = 0; k < original.population().size(); ++k) {
    CHECK(restored.population()[k].costs == original.population()[k].costs);
    CHECK(restored.population()[k].reward == original.population()[k].reward);
  }
  original.observe(in_flight.id, toy_result(in_flight.seq));
  restored.observe(in_flight.id, toy_result(in_flight.seq));
  CHECK(same(drive(original, 40), drive(restored, 40)));
  CHECK(restored.save_state() == original.save_state());

  // A Pareto checkpoint restores only into a controller with the same number of costs.
  cf::EvolutionController scalar(space, pareto_options(0), 7);
  CHECK_THAT(restore_error(scalar, bytes), Catch::Contains("another set of options"));
  cf::EvolutionController one_cost(space, pareto_options(1), 7);
  CHECK_THAT(restore_error(one_cost, bytes),
             Catch::Contains("saved with evolution.pareto_costs=2, this controller has "
                             "evolution.pareto_costs=1"));
  // Every truncation fails cleanly and leaves the target as it was.
  cf::EvolutionController target(space, pareto_options(2), 8);
  drive(target, 12);
  const auto before = target.save_state();
  for (size_t n = 0; n < bytes.size(); n += 7) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    CHECK_THROWS_AS(target.restore_state(prefix), cf::StateError);
  }
  CHECK(target.save_state() == before);
}

TEST_CASE("Pareto mode: a success must carry its finite costs, else the controller is unchanged",
          "[controller][pareto]") {
  const cf::Nb201Space space;
  cf::EvolutionController evo(space, pareto_options(2), 3);
  const cf::Candidate c = evo.propose();
  const auto before = evo.save_state();
  CHECK_THROWS_WITH(evo.observe(c.id, cf::EvalResult::success(0.5, {1.0})),
                    Catch::Contains("candidate 1: Pareto mode needs 2 cost(s), got 1"));
  CHECK_THROWS_WITH(evo.observe(c.id, cf::EvalResult::success(0.5, {1.0, std::nan("")})),
                    Catch::Contains("candidate 1: cost nan is not finite"));
  CHECK_THROWS_WITH(evo.observe(c.id, cf::EvalResult::success(0.5, {1.0, HUGE_VAL})),
                    Catch::Contains("is not finite"));
  CHECK(evo.is_pending(c.id));
  CHECK(evo.save_state() == before);
  evo.observe(c.id, cf::EvalResult::failure("crashed"));  // a failure needs no costs
  const cf::Candidate d = evo.propose();
  evo.observe(d.id, cf::EvalResult::success(0.5, {1.0, 2.0}));
  REQUIRE(evo.population().size() == 1);
  CHECK(evo.population()[0].costs == std::vector<double>{1.0, 2.0});

  cf::ControllerOptions bad;
  bad.evolution.pareto_costs = -1;
  CHECK_THROWS_WITH(cf::validate(bad), Catch::Contains("evolution.pareto_costs"));
  bad.evolution.pareto_costs = 17;
  CHECK_THROWS_WITH(cf::make_controller("evolution", bad, space, 1),
                    Catch::Contains("evolution.pareto_costs: must be in [0, 16]"));
}

// The controller interface: proposals and results keyed by id, failures, options, and the
// checkpoint (save mid-search, restore into a fresh controller, continue identically).
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/evolution.h"
#include "controller/rl_controller.h"
#include "space/nb201.h"

namespace {

// A deterministic reward from the sequence alone (so an interrupted and an uninterrupted run
// see the same results): prefers high choices, with a hash-like wobble.
double toy_reward(const cf::DecisionSeq& seq) {
  double r = 0;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < seq.size(); ++i) {
    r += seq[i];
    h = (h ^ static_cast<uint64_t>(seq[i] + 7 * i)) * 1099511628211ULL;
  }
  return r / (4.0 * seq.size()) + static_cast<double>(h % 1000) / 20000.0;
}

// Candidates whose first decision is 0 fail, to exercise the failure paths.
cf::EvalResult toy_result(const cf::DecisionSeq& seq) {
  if (seq[0] == 0) return cf::EvalResult::failure("first decision is 0");
  return cf::EvalResult::success(toy_reward(seq));
}

cf::ControllerOptions small_options() {
  cf::ControllerOptions options;
  options.evolution.population = 8;
  options.evolution.sample_size = 3;
  options.evolution.identity_prob = 0.1;
  options.rl.lstm_hidden = 16;
  options.rl.batch_size = 4;
  options.rl.ppo_epochs = 3;
  options.rl.learning_rate = 0.01;
  return options;
}

// Drives a controller with `workers` proposals in flight; results come back in a scrambled
// order (the oldest and the newest alternately). Returns the proposals made.
std::vector<cf::Candidate> drive(cf::Controller& c, int steps, int workers) {
  std::vector<cf::Candidate> proposed;
  std::vector<cf::Candidate> in_flight = c.pending();
  bool take_newest = false;
  for (int s = 0; s < steps; ++s) {
    while (static_cast<int>(in_flight.size()) < workers) {
      in_flight.push_back(c.propose());
      proposed.push_back(in_flight.back());
    }
    auto it = take_newest ? in_flight.end() - 1 : in_flight.begin();
    take_newest = !take_newest;
    c.observe(it->id, toy_result(it->seq));
    in_flight.erase(it);
  }
  return proposed;
}

bool same_seqs(const std::vector<cf::Candidate>& a, const std::vector<cf::Candidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].seq != b[i].seq) return false;
  return true;
}

bool same(const std::vector<cf::Candidate>& a, const std::vector<cf::Candidate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].seq != b[i].seq) return false;
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

}  // namespace

TEST_CASE("controllers propose valid candidates with increasing ids") {
  const cf::Nb201Space nb201;
  const cf::NasnetSpace nasnet(cf::NasnetSpaceConfig{});
  for (const cf::SearchSpace* space : {static_cast<const cf::SearchSpace*>(&nb201),
                                       static_cast<const cf::SearchSpace*>(&nasnet)}) {
    for (const auto& name : cf::controller_names()) {
      INFO(name << " on " << space->name());
      auto c = cf::make_controller(name, small_options(), *space, 1);
      CHECK(c->strategy() == name);
      for (cf::CandidateId expected = 1; expected <= 30; ++expected) {
        const cf::Candidate cand = c->propose();
        CHECK(cand.id == expected);
        CHECK_NOTHROW(space->check(cand.seq));
        CHECK(c->is_pending(cand.id));
        c->observe(cand.id, toy_result(cand.seq));
        CHECK_FALSE(c->is_pending(cand.id));
      }
      CHECK(c->proposed_count() == 30);
      CHECK(c->observed_count() == 30);
      CHECK(c->failed_count() > 0);
    }
  }
}

TEST_CASE("controllers are deterministic in the seed") {
  const cf::Nb201Space space;
  for (const auto& name : cf::controller_names()) {
    INFO(name);
    auto a = cf::make_controller(name, small_options(), space, 42);
    auto b = cf::make_controller(name, small_options(), space, 42);
    auto c = cf::make_controller(name, small_options(), space, 43);
    const auto pa = drive(*a, 40, 1), pb = drive(*b, 40, 1), pc = drive(*c, 40, 1);
    CHECK(same(pa, pb));
    CHECK_FALSE(same(pa, pc));
  }
}

TEST_CASE("observe rejects unknown, repeated and non-finite results") {
  const cf::Nb201Space space;
  for (const auto& name : cf::controller_names()) {
    INFO(name);
    auto c = cf::make_controller(name, small_options(), space, 3);
    const cf::Candidate a = c->propose();
    const cf::Candidate b = c->propose();
    CHECK_THROWS_WITH(c->observe(9, cf::EvalResult::success(1)),
                      "observe: candidate 9 was never proposed");
    CHECK_THROWS_WITH(c->observe(a.id, cf::EvalResult::success(std::nan(""))),
                      Catch::Contains("is not finite"));
    CHECK(c->is_pending(a.id));                      // unchanged by the rejected result
    c->observe(b.id, cf::EvalResult::success(0.5));  // out of order is fine
    c->observe(a.id, cf::EvalResult::failure("out of memory"));
    CHECK_THROWS_WITH(c->observe(a.id, cf::EvalResult::success(1)),
                      "observe: candidate 1 was already observed");
    CHECK(c->failed_count() == 1);
    CHECK(c->pending().empty());
  }
}

TEST_CASE("options are validated with the field name") {
  const cf::Nb201Space space;
  cf::ControllerOptions options;
  options.evolution.sample_size = 0;
  CHECK_THROWS_WITH(cf::make_controller("evolution", options, space, 0),
                    "evolution.sample_size: must be >= 1, got 0");
  options = {};
  options.evolution.identity_prob = 1.5;
  CHECK_THROWS_WITH(cf::validate(options), "evolution.identity_prob: must be in [0, 1], got 1.5");
  options = {};
  options.rl.learning_rate = -1;
  CHECK_THROWS_WITH(cf::validate(options), "rl.learning_rate: must be > 0, got -1");
  options = {};
  options.rl.baseline_decay = 1;
  CHECK_THROWS_WITH(cf::validate(options), Catch::StartsWith("rl.baseline_decay: "));
  options = {};
  options.rl.ppo_clip = 0;
  CHECK_THROWS_WITH(cf::validate(options), Catch::StartsWith("rl.ppo_clip: "));
  options = {};
  options.rl.failure_reward = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(cf::validate(options), Catch::StartsWith("rl.failure_reward: "));
  CHECK_THROWS_WITH(cf::make_controller("bayesian", {}, space, 0),
                    "unknown strategy \"bayesian\" (expected random, evolution or rl)");
  CHECK(cf::rl_algorithm_from_name("reinforce") == cf::RlAlgorithm::reinforce);
  CHECK_FALSE(cf::rl_algorithm_from_name("a2c").has_value());
}

TEST_CASE("evolution: random until the population is full, then aging tournament") {
  const cf::Nb201Space space;
  cf::EvolutionOptions options;
  options.population = 5;
  options.sample_size = 5;
  options.identity_prob = 0;
  cf::EvolutionController evo(space, options, 11);
  // Failed candidates never enter the population, so more than P random ones are needed.
  int failures = 0;
  while (evo.population().size() < 5) {
    const cf::Candidate c = evo.propose();
    const cf::EvalResult r = toy_result(c.seq);
    failures += !r.ok();
    evo.observe(c.id, r);
  }
  CHECK(evo.proposed_count() == 5 + static_cast<uint64_t>(failures));
  // From now on every child differs from a population member in exactly one decision.
  for (int step = 0; step < 40; ++step) {
    const auto before = evo.population();
    const cf::Candidate c = evo.propose();
    bool one_mutation_away = false;
    for (const auto& m : before) {
      int diff = 0;
      for (size_t i = 0; i < c.seq.size(); ++i) diff += m.seq[i] != c.seq[i];
      one_mutation_away = one_mutation_away || diff == 1;
    }
    CHECK(one_mutation_away);
    const cf::EvalResult r = cf::EvalResult::success(toy_reward(c.seq));
    evo.observe(c.id, r);
    // The oldest died, the child is the youngest.
    REQUIRE(evo.population().size() == 5);
    CHECK(evo.population().back().id == c.id);
    CHECK(evo.population().front().id == before[1].id);
  }
  // A failed child leaves the population as it was.
  const auto before = evo.population();
  const cf::Candidate c = evo.propose();
  evo.observe(c.id, cf::EvalResult::failure("diverged"));
  REQUIRE(evo.population().size() == before.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(evo.population()[i].id == before[i].id);
}

TEST_CASE("evolution: tournament of the whole population picks its best member") {
  // S much larger than P: the tournament almost surely contains the best member, whose
  // mutation (identity disabled) then differs from it in exactly one decision.
  const cf::Nb201Space space;
  cf::EvolutionOptions options;
  options.population = 4;
  options.sample_size = 64;
  options.identity_prob = 0;
  cf::EvolutionController evo(space, options, 5);
  for (int k = 0; k < 4; ++k) {
    const cf::Candidate c = evo.propose();
    evo.observe(c.id, cf::EvalResult::success(k == 2 ? 1.0 : 0.1 * k));
  }
  const cf::DecisionSeq best = evo.population()[2].seq;
  for (int k = 0; k < 10; ++k) {
    const cf::Candidate c = evo.propose();
    int diff = 0;
    for (size_t i = 0; i < c.seq.size(); ++i) diff += best[i] != c.seq[i];
    CHECK(diff == 1);
    evo.observe(c.id, cf::EvalResult::success(0.0));    // keeps member 2 the best
    if (evo.population().front().reward == 1.0) break;  // about to age out
  }
}

TEST_CASE("rl: failures are skipped or given the failure reward") {
  const cf::Nb201Space space;
  cf::RlOptions options;
  options.lstm_hidden = 8;
  options.batch_size = 2;
  {
    cf::RlController rl(space, options, 1);
    const cf::Candidate a = rl.propose();
    rl.observe(a.id, cf::EvalResult::failure("crashed"));
    CHECK_FALSE(rl.baseline().has_value());  // skipped: nothing learnt
    const cf::Candidate b = rl.propose();
    const cf::Candidate c = rl.propose();
    rl.observe(c.id, cf::EvalResult::success(0.5));
    CHECK(*rl.baseline() == 0.5);
    rl.observe(b.id, cf::EvalResult::success(0.7));
    CHECK(*rl.baseline() == Approx(0.95 * 0.5 + 0.05 * 0.7));
    CHECK(rl.updates() == static_cast<uint64_t>(options.ppo_epochs));  // one batch of two
  }
  {
    options.failure_reward = 0.0;
    cf::RlController rl(space, options, 1);
    const cf::Candidate a = rl.propose();
    rl.observe(a.id, cf::EvalResult::failure("crashed"));
    REQUIRE(rl.baseline().has_value());
    CHECK(*rl.baseline() == 0.0);
  }
}

TEST_CASE("evolution: a child names its parent, random candidates have none") {
  const cf::Nb201Space space;
  cf::EvolutionOptions options;
  options.population = 4;
  options.sample_size = 2;
  options.identity_prob = 0.2;
  cf::EvolutionController evo(space, options, 5);
  std::map<cf::CandidateId, cf::DecisionSeq> seqs;
  while (evo.population().size() < 4) {
    const cf::Candidate c = evo.propose();
    CHECK_FALSE(c.parent.has_value());  // drawn from scratch
    seqs[c.id] = c.seq;
    evo.observe(c.id, cf::EvalResult::success(toy_reward(c.seq)));
  }
  for (int step = 0; step < 30; ++step) {
    std::set<cf::CandidateId> members;
    for (const auto& m : evo.population()) members.insert(m.id);
    const cf::Candidate c = evo.propose();
    REQUIRE(c.parent.has_value());
    CHECK(members.count(*c.parent) == 1);  // a tournament winner of the current population
    int diff = 0;
    for (size_t i = 0; i < c.seq.size(); ++i) diff += seqs.at(*c.parent)[i] != c.seq[i];
    CHECK(diff <= 1);  // one mutation (or an identity copy) of that parent
    REQUIRE(evo.pending().size() == 1);
    CHECK(evo.pending()[0].parent == c.parent);
    // The pending candidate's parent survives a checkpoint.
    cf::EvolutionController restored(space, options, 99);
    restored.restore_state(evo.save_state());
    REQUIRE(restored.pending().size() == 1);
    CHECK(restored.pending()[0].parent == c.parent);
    seqs[c.id] = c.seq;
    evo.observe(c.id, cf::EvalResult::success(toy_reward(c.seq)));
  }
  auto rnd = cf::make_controller("random", small_options(), space, 3);
  for (int k = 0; k < 5; ++k) CHECK_FALSE(rnd->propose().parent.has_value());
}

TEST_CASE("state round trip: a restored controller continues identically") {
  const cf::Nb201Space nb201;
  const cf::NasnetSpace nasnet(cf::NasnetSpaceConfig{});
  for (const cf::SearchSpace* space : {static_cast<const cf::SearchSpace*>(&nb201),
                                       static_cast<const cf::SearchSpace*>(&nasnet)}) {
    for (const auto& name : cf::controller_names()) {
      for (int workers : {1, 3}) {
        INFO(name << " on " << space->name() << " with " << workers << " workers");
        const auto options = small_options();
        auto uninterrupted = cf::make_controller(name, options, *space, 77);
        // Mid-search, mid-batch (RL), population full (evolution), with proposals in flight.
        drive(*uninterrupted, 23, workers);
        const std::vector<uint8_t> bytes = uninterrupted->save_state();
        auto restored = cf::make_controller(name, options, *space, 12345);  // seed is restored
        restored->restore_state(bytes);
        CHECK(restored->save_state() == bytes);
        CHECK(restored->proposed_count() == uninterrupted->proposed_count());
        CHECK(restored->pending().size() == uninterrupted->pending().size());
        const auto a = drive(*uninterrupted, 40, workers);
        const auto b = drive(*restored, 40, workers);
        CHECK(same(a, b));
        CHECK(restored->save_state() == uninterrupted->save_state());
      }
    }
  }
}

TEST_CASE("state bytes hold the learnt state, not just the seed") {
  const cf::Nb201Space space;
  const auto options = small_options();
  for (const auto& name : {"evolution", "rl"}) {
    INFO(name);
    auto trained = cf::make_controller(name, options, space, 5);
    drive(*trained, 60, 1);
    const auto bytes = trained->save_state();
    // A fresh controller with the same seed but no history proposes other architectures.
    auto fresh = cf::make_controller(name, options, space, 5);
    auto restored = cf::make_controller(name, options, space, 5);
    restored->restore_state(bytes);
    const auto from_restored = drive(*restored, 20, 1);
    const auto from_trained = drive(*trained, 20, 1);
    CHECK(same(from_restored, from_trained));
    CHECK_FALSE(same_seqs(drive(*fresh, 20, 1), from_trained));
  }
}

TEST_CASE("restore rejects mismatching or damaged state and leaves the controller as it was") {
  const cf::Nb201Space nb201;
  const cf::NasnetSpace nasnet(cf::NasnetSpaceConfig{});
  const auto options = small_options();
  for (const auto& name : cf::controller_names()) {
    INFO(name);
    auto source = cf::make_controller(name, options, nb201, 1);
    drive(*source, 15, 2);
    const auto bytes = source->save_state();
    auto target = cf::make_controller(name, options, nb201, 2);
    drive(*target, 5, 1);
    const auto target_before = target->save_state();

    const std::string other = name == std::string("random") ? "evolution" : "random";
    CHECK_THAT(restore_error(*cf::make_controller(other, options, nb201, 1), bytes),
               Catch::Contains("saved by strategy \"" + std::string(name) + "\""));
    CHECK_THAT(restore_error(*cf::make_controller(name, options, nasnet, 1), bytes),
               Catch::Contains("saved for space \"nb201\""));
    std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 3);
    CHECK_THAT(restore_error(*target, truncated), Catch::Contains("truncated"));
    std::vector<uint8_t> extended = bytes;
    extended.push_back(0);
    CHECK_THAT(restore_error(*target, extended), Catch::Contains("trailing bytes"));
    CHECK_THAT(restore_error(*target, {1, 2, 3}), Catch::StartsWith("controller state: "));
    // Every single-byte truncation point fails cleanly.
    for (size_t n = 0; n < bytes.size(); n += std::max<size_t>(1, bytes.size() / 97)) {
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
      CHECK_THROWS_AS(target->restore_state(prefix), cf::StateError);
    }
    CHECK(target->save_state() == target_before);
  }
  // Options that change behaviour must match.
  auto evo = cf::make_controller("evolution", options, nb201, 1);
  drive(*evo, 10, 1);
  auto other_options = options;
  other_options.evolution.population = 9;
  CHECK_THAT(
      restore_error(*cf::make_controller("evolution", other_options, nb201, 1), evo->save_state()),
      Catch::Contains("saved with evolution.population=8, this controller has "
                      "evolution.population=9"));
  auto rl = cf::make_controller("rl", options, nb201, 1);
  other_options = options;
  other_options.rl.lstm_hidden = 17;
  CHECK_THAT(restore_error(*cf::make_controller("rl", other_options, nb201, 1), rl->save_state()),
             Catch::Contains("rl.lstm_hidden"));
}

TEST_CASE("parallel workers: many proposals before any result") {
  const cf::Nb201Space space;
  for (const auto& name : cf::controller_names()) {
    INFO(name);
    auto c = cf::make_controller(name, small_options(), space, 8);
    std::vector<cf::Candidate> batch;
    for (int k = 0; k < 16; ++k) batch.push_back(c->propose());
    CHECK(c->pending().size() == 16);
    // Results in reverse order.
    for (auto it = batch.rbegin(); it != batch.rend(); ++it)
      c->observe(it->id, toy_result(it->seq));
    CHECK(c->pending().empty());
    CHECK(c->observed_count() == 16);
    drive(*c, 50, 4);  // and keeps going with four in flight (three left after the last result)
    CHECK(c->pending().size() == 3);
    CHECK(c->observed_count() == 66);
  }
}

TEST_CASE("zero-cost warm-up: the best of W scored cells come first, then the strategy") {
  const cf::Nb201Space space;
  for (const char* strategy : {"random", "evolution", "rl"}) {
    DYNAMIC_SECTION(strategy) {
      cf::ControllerOptions options = small_options();
      options.guide.warmup = 50;
      auto c = cf::make_controller(strategy, options, space, 3);
      c->set_scorer([](const cf::DecisionSeq& seq) { return toy_reward(seq); });
      const int take = std::string(strategy) == "evolution" ? options.evolution.population
                       : std::string(strategy) == "rl"      ? options.rl.batch_size
                                                            : 50;
      std::vector<double> scores;
      for (int k = 0; k < take; ++k) {
        const cf::Candidate cand = c->propose();
        CHECK_FALSE(cand.parent);
        scores.push_back(toy_reward(cand.seq));
        c->observe(cand.id, cf::EvalResult::success(toy_reward(cand.seq)));
      }
      CHECK(c->scored_count() == 50u);                        // the warm-up's scorings, none since
      CHECK(std::is_sorted(scores.rbegin(), scores.rend()));  // best first
      // The best of 50 random cells beat a typical random cell.
      cf::Rng rng(99);
      double random_mean = 0;
      for (int k = 0; k < 200; ++k) random_mean += toy_reward(space.sample(rng)) / 200;
      CHECK(scores.front() > random_mean);
      drive(*c, 20, 1);  // the strategy continues from there
      CHECK(c->scored_count() == 50u);
    }
  }
}

TEST_CASE("zero-cost move proposal: evolution trains the best-scored of M mutations") {
  const cf::Nb201Space space;
  cf::ControllerOptions options = small_options();
  options.evolution.identity_prob = 0;
  options.guide.proposal = 5;
  auto c = cf::make_controller("evolution", options, space, 8);
  int calls = 0;
  std::vector<std::vector<double>> seen;  // scores of each proposal's M mutations
  c->set_scorer([&](const cf::DecisionSeq& seq) {
    ++calls;
    return toy_reward(seq);
  });
  drive(*c, options.evolution.population + 20, 1);
  CHECK(calls > 0);
  CHECK(c->scored_count() == static_cast<uint64_t>(calls));
  CHECK(calls % 5 == 0);  // M scorings per mutated proposal
  // Needs evolution and a scorer.
  CHECK_THROWS_WITH(cf::make_controller("random", options, space, 1),
                    Catch::Contains("guide.proposal"));
  auto unscored = cf::make_controller("evolution", options, space, 1);
  CHECK_THROWS_WITH(drive(*unscored, 100, 1), Catch::Contains("needs a scorer"));
  options.guide.warmup = -1;
  CHECK_THROWS_WITH(cf::validate(options), Catch::Contains("guide.warmup"));
}

TEST_CASE("zero-cost guidance survives save and restore, mid-warm-up included") {
  const cf::Nb201Space space;
  cf::ControllerOptions options = small_options();
  options.guide.warmup = 30;
  options.guide.proposal = 3;
  auto scorer = [](const cf::DecisionSeq& seq) { return toy_reward(seq); };
  auto a = cf::make_controller("evolution", options, space, 21);
  a->set_scorer(scorer);
  drive(*a, 3, 2);  // inside the warm-up
  const auto bytes = a->save_state();
  auto b = cf::make_controller("evolution", options, space, 21);
  b->set_scorer(scorer);
  b->restore_state(bytes);
  CHECK(b->scored_count() == a->scored_count());
  CHECK(same(drive(*a, 40, 2), drive(*b, 40, 2)));
  // Another warm-up size is another controller.
  options.guide.warmup = 31;
  auto other = cf::make_controller("evolution", options, space, 21);
  CHECK_THAT(restore_error(*other, bytes), Catch::Contains("guide.warmup"));
}

TEST_CASE("a scalar evolution checkpoint keeps the layout it had before Pareto mode") {
  // FNV-1a of the state bytes of a fixed run, as cellforge wrote them before evolution learnt
  // Pareto mode: the checkpoints of existing campaigns must restore into today's controller
  // (the restore code reads this layout for scalar controllers).
  const cf::Nb201Space nb201;
  const cf::NasnetSpace nasnet(cf::NasnetSpaceConfig{});
  const std::pair<const cf::SearchSpace*, std::pair<size_t, uint64_t>> expected[] = {
      {&nb201, {845, 0x599e5c67556bbf81ULL}}, {&nasnet, {3662, 0xbaf339002018076bULL}}};
  for (const auto& [space, size_and_hash] : expected) {
    INFO(space->name());
    cf::ControllerOptions options;
    options.evolution.population = 6;
    options.evolution.sample_size = 3;
    options.evolution.identity_prob = 0.1;
    auto c = cf::make_controller("evolution", options, *space, 2024);
    std::vector<cf::Candidate> in_flight;
    for (int s = 0; s < 25; ++s) {
      while (in_flight.size() < 2) in_flight.push_back(c->propose());
      c->observe(in_flight.front().id, toy_result(in_flight.front().seq));
      in_flight.erase(in_flight.begin());
    }
    const std::vector<uint8_t> bytes = c->save_state();
    uint64_t h = 1469598103934665603ULL;
    for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ULL;
    CHECK(bytes.size() == size_and_hash.first);
    CHECK(h == size_and_hash.second);
    auto restored = cf::make_controller("evolution", options, *space, 1);
    restored->restore_state(bytes);
    CHECK(restored->save_state() == bytes);
  }
}

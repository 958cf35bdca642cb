#include "controller/controller.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <set>

#include "controller/evolution.h"
#include "controller/rl_controller.h"

namespace cf {

namespace {

// v3 adds the zero-cost warm-up (queue, scoring count); v2 each pending candidate's parent. v2
// and v1 states still restore.
constexpr std::string_view kStateMagic = "cellforge.controller.v3";
constexpr std::string_view kStateMagicV2 = "cellforge.controller.v2";
constexpr std::string_view kStateMagicV1 = "cellforge.controller.v1";

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Uniform sampling: every decision independently uniform.
class RandomController final : public Controller {
 public:
  RandomController(const SearchSpace& space, uint64_t seed, const GuideOptions& guide)
      : Controller(space, seed, guide) {}
  std::string_view strategy() const override { return "random"; }

 protected:
  Proposal next(CandidateId) override { return space().sample(rng()); }
  void learn(CandidateId, const DecisionSeq&, const EvalResult&) override {}
  std::vector<std::pair<std::string, double>> option_values() const override { return {}; }
  void save_strategy(ByteWriter&) const override {}
  void restore_strategy(ByteReader& in) override { in.expect_end(); }
};

void require(bool ok, const std::string& field, const std::string& rule, double value) {
  if (!ok) throw ControllerError(field + ": must be " + rule + ", got " + format_value(value));
}

}  // namespace

std::string_view rl_algorithm_name(RlAlgorithm algorithm) {
  return algorithm == RlAlgorithm::ppo ? "ppo" : "reinforce";
}

std::optional<RlAlgorithm> rl_algorithm_from_name(std::string_view name) {
  if (name == "ppo") return RlAlgorithm::ppo;
  if (name == "reinforce") return RlAlgorithm::reinforce;
  return std::nullopt;
}

void validate(const ControllerOptions& options) {
  const auto& evo = options.evolution;
  require(evo.population >= 1, "evolution.population", ">= 1", evo.population);
  require(evo.sample_size >= 1, "evolution.sample_size", ">= 1", evo.sample_size);
  require(evo.identity_prob >= 0 && evo.identity_prob <= 1, "evolution.identity_prob", "in [0, 1]",
          evo.identity_prob);
  require(evo.pareto_costs >= 0 && evo.pareto_costs <= 16, "evolution.pareto_costs",
          "in [0, 16] (0: off)", evo.pareto_costs);
  const auto& rl = options.rl;
  require(rl.lstm_hidden >= 1 && rl.lstm_hidden <= 4096, "rl.lstm_hidden", "in [1, 4096]",
          rl.lstm_hidden);
  require(std::isfinite(rl.init_range) && rl.init_range >= 0, "rl.init_range", ">= 0",
          rl.init_range);
  require(std::isfinite(rl.learning_rate) && rl.learning_rate > 0, "rl.learning_rate", "> 0",
          rl.learning_rate);
  require(std::isfinite(rl.entropy_weight) && rl.entropy_weight >= 0, "rl.entropy_weight", ">= 0",
          rl.entropy_weight);
  require(rl.baseline_decay >= 0 && rl.baseline_decay < 1, "rl.baseline_decay", "in [0, 1)",
          rl.baseline_decay);
  require(rl.ppo_clip > 0 && rl.ppo_clip < 1, "rl.ppo_clip", "in (0, 1)", rl.ppo_clip);
  require(rl.ppo_epochs >= 1, "rl.ppo_epochs", ">= 1", rl.ppo_epochs);
  require(rl.batch_size >= 1, "rl.batch_size", ">= 1", rl.batch_size);
  require(std::isfinite(rl.grad_clip) && rl.grad_clip >= 0, "rl.grad_clip", ">= 0 (0 = off)",
          rl.grad_clip);
  if (rl.failure_reward)
    require(std::isfinite(*rl.failure_reward), "rl.failure_reward", "finite", *rl.failure_reward);
  const auto& guide = options.guide;
  require(guide.warmup >= 0 && guide.warmup <= 10'000'000, "guide.warmup", "in [0, 10000000]",
          guide.warmup);
  require(guide.proposal >= 0 && guide.proposal <= 100'000, "guide.proposal",
          "in [0, 100000] (0 or 1: off)", guide.proposal);
}

Controller::Controller(const SearchSpace& space, uint64_t seed, const GuideOptions& guide)
    : space_(space), rng_(seed), guide_(guide) {}

double Controller::score(const DecisionSeq& seq) {
  if (!scorer_)
    throw ControllerError("zero-cost guidance (guide.warmup / guide.proposal) needs a scorer");
  ++scored_;
  return scorer_(seq);
}

// W distinct random architectures, scored; the best warmup_take() of them, best first (NaN
// scores last, ties in draw order).
void Controller::prepare_warmup() {
  std::vector<std::pair<double, DecisionSeq>> scored;
  std::set<std::string> seen;
  const int64_t attempts = 20 * int64_t{guide_.warmup} + 1000;  // a small space runs out
  for (int64_t k = 0; k < attempts && static_cast<int>(scored.size()) < guide_.warmup; ++k) {
    DecisionSeq seq = space_.sample(rng_);
    if (!seen.insert(space_.canonical_hash(seq)).second) continue;
    const double v = score(seq);
    scored.emplace_back(std::isnan(v) ? -HUGE_VAL : v, std::move(seq));
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  const size_t take = std::min(scored.size(), static_cast<size_t>(std::max(0, warmup_take())));
  for (size_t k = 0; k < take; ++k) warmup_queue_.push_back(std::move(scored[k].second));
  warmup_prepared_ = true;  // only now: a scorer that threw leaves the warm-up to be redone
}

Candidate Controller::propose() {
  const CandidateId id = next_id_;
  if (guide_.warmup > 0 && !warmup_prepared_) prepare_warmup();
  Proposal p = DecisionSeq{};
  if (!warmup_queue_.empty()) {
    p = Proposal(std::move(warmup_queue_.front()));
    warmup_queue_.pop_front();
    adopt(id, p.seq);
  } else {
    p = next(id);
  }
  space_.check(p.seq);  // a strategy bug must not reach the evaluator
  if (p.parent && (*p.parent < 1 || *p.parent >= id))
    throw ControllerError("propose: parent " + std::to_string(*p.parent) + " of candidate " +
                          std::to_string(id) + " is not an earlier candidate");
  ++next_id_;
  Candidate c{id, std::move(p.seq), p.parent};
  pending_.emplace(id, c);
  return c;
}

void Controller::observe(CandidateId id, const EvalResult& result) {
  auto it = pending_.find(id);
  if (it == pending_.end())
    throw ControllerError(
        "observe: candidate " + std::to_string(id) +
        (id >= 1 && id < next_id_ ? " was already observed" : " was never proposed"));
  if (result.reward && !std::isfinite(*result.reward))
    throw ControllerError("observe: candidate " + std::to_string(id) + ": reward " +
                          format_value(*result.reward) + " is not finite");
  for (double cost : result.costs)
    if (!std::isfinite(cost))
      throw ControllerError("observe: candidate " + std::to_string(id) + ": cost " +
                            format_value(cost) + " is not finite");
  check_result(id, result);
  const DecisionSeq seq = std::move(it->second.seq);
  pending_.erase(it);
  ++observed_;
  if (!result.ok()) ++failed_;
  learn(id, seq, result);
}

std::vector<Candidate> Controller::pending() const {
  std::vector<Candidate> out;
  for (const auto& [id, c] : pending_) out.push_back(c);
  return out;
}

std::vector<uint8_t> Controller::save_state() const {
  ByteWriter out;
  out.str(kStateMagic);
  out.str(strategy());
  out.str(space_.name());
  out.u64(space_.decisions().size());
  for (const auto& d : space_.decisions()) out.i64(d.cardinality);
  const auto options = all_option_values();
  out.u64(options.size());
  for (const auto& [name, value] : options) {
    out.str(name);
    out.f64(value);
  }
  for (uint64_t word : rng_.state()) out.u64(word);
  out.u64(next_id_);
  out.u64(observed_);
  out.u64(failed_);
  out.u64(pending_.size());
  for (const auto& [id, c] : pending_) {
    out.u64(id);
    out.ints(c.seq);
    out.u64(c.parent.value_or(0));  // ids start at 1: 0 = no parent
  }
  out.u64(warmup_prepared_ ? 1 : 0);
  out.u64(scored_);
  out.u64(warmup_queue_.size());
  for (const auto& seq : warmup_queue_) out.ints(seq);
  ByteWriter strategy_bytes;
  save_strategy(strategy_bytes);
  const auto& inner = strategy_bytes.bytes();
  out.str(std::string_view(reinterpret_cast<const char*>(inner.data()), inner.size()));
  return out.take();
}

void Controller::restore_state(std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  auto mismatch = [](const std::string& what) { throw StateError("controller state: " + what); };
  const std::string format = in.str("format");
  const bool with_guide = format == kStateMagic;
  const bool with_parents = with_guide || format == kStateMagicV2;
  if (!with_parents && format != kStateMagicV1) mismatch("not a cellforge controller state");
  if (const std::string s = in.str("strategy"); s != strategy())
    mismatch("saved by strategy \"" + s + "\", this controller is \"" + std::string(strategy()) +
             "\"");
  if (const std::string s = in.str("space"); s != space_.name())
    mismatch("saved for space \"" + s + "\", this controller searches \"" +
             std::string(space_.name()) + "\"");
  const auto& decisions = space_.decisions();
  if (in.u64("decision count") != decisions.size())
    mismatch("saved for a space with another number of decisions");
  for (const auto& d : decisions)
    if (in.i64("decision cardinality") != d.cardinality)
      mismatch("saved for a space with another cardinality at " + d.label);
  const auto options = all_option_values();
  if (in.count("option count", 16) != options.size()) mismatch("saved with another set of options");
  for (const auto& [name, value] : options) {
    const std::string saved_name = in.str("option name");
    const double saved_value = in.f64("option value");
    if (saved_name != name) mismatch("saved with option " + saved_name + ", expected " + name);
    // Bit equality: options are copied, never computed, so equal settings compare equal.
    if (std::bit_cast<uint64_t>(saved_value) != std::bit_cast<uint64_t>(value))
      mismatch("saved with " + name + "=" + format_value(saved_value) + ", this controller has " +
               name + "=" + format_value(value));
  }
  std::array<uint64_t, 4> rng_state;
  for (auto& word : rng_state) word = in.u64("rng state");
  const CandidateId next_id = in.u64("next candidate id");
  const uint64_t observed = in.u64("observed count");
  const uint64_t failed = in.u64("failed count");
  if (next_id < 1 || observed >= next_id || failed > observed)
    mismatch("inconsistent candidate counters");
  std::map<CandidateId, Candidate> pending;
  const uint64_t npending = in.count("pending count", 16);
  for (uint64_t k = 0; k < npending; ++k) {
    Candidate c;
    c.id = in.u64("pending id");
    c.seq = in.ints("pending sequence");
    if (with_parents) {
      if (const uint64_t parent = in.u64("pending parent"); parent != 0) c.parent = parent;
    }
    const CandidateId id = c.id;
    if (c.parent && *c.parent >= id)
      mismatch("pending candidate " + std::to_string(id) + ": parent is not an earlier candidate");
    if (id < 1 || id >= next_id || !pending.emplace(id, std::move(c)).second)
      mismatch("invalid pending candidate id " + std::to_string(id));
    try {
      space_.check(pending.at(id).seq);
    } catch (const GenotypeError& e) {
      mismatch("pending candidate " + std::to_string(id) + ": " + e.what());
    }
  }
  if (observed + npending != next_id - 1) mismatch("inconsistent candidate counters");
  bool warmup_prepared = false;
  uint64_t scored = 0;
  std::deque<DecisionSeq> warmup_queue;
  if (with_guide) {
    warmup_prepared = in.u64("warm-up flag") != 0;
    scored = in.u64("scored count");
    const uint64_t queued = in.count("warm-up queue", 8);
    for (uint64_t k = 0; k < queued; ++k) {
      warmup_queue.push_back(in.ints("warm-up sequence"));
      try {
        space_.check(warmup_queue.back());
      } catch (const GenotypeError& e) {
        mismatch("warm-up candidate " + std::to_string(k) + ": " + e.what());
      }
    }
  }
  const std::string inner = in.str("strategy state");
  in.expect_end();
  ByteReader strategy_in(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(inner.data()), inner.size()));
  restore_strategy(strategy_in);  // commits only on success
  rng_.set_state(rng_state);
  next_id_ = next_id;
  observed_ = observed;
  failed_ = failed;
  pending_ = std::move(pending);
  warmup_prepared_ = warmup_prepared;
  scored_ = scored;
  warmup_queue_ = std::move(warmup_queue);
}

std::vector<std::pair<std::string, double>> Controller::all_option_values() const {
  auto options = option_values();
  if (guide_.warmup > 0) options.emplace_back("guide.warmup", guide_.warmup);
  if (guide_.proposal >= 2) options.emplace_back("guide.proposal", guide_.proposal);
  return options;
}

std::vector<std::string> controller_names() {
  return {"random", "evolution", "rl"};
}

std::unique_ptr<Controller> make_controller(std::string_view name, const ControllerOptions& options,
                                            const SearchSpace& space, uint64_t seed) {
  validate(options);
  if (options.guide.proposal >= 2 && name != "evolution")
    throw ControllerError("guide.proposal: move proposals need the evolution strategy, not " +
                          std::string(name));
  if (name == "random") return std::make_unique<RandomController>(space, seed, options.guide);
  if (name == "evolution")
    return std::make_unique<EvolutionController>(space, options.evolution, seed, options.guide);
  if (name == "rl") return std::make_unique<RlController>(space, options.rl, seed, options.guide);
  throw ControllerError("unknown strategy \"" + std::string(name) +
                        "\" (expected random, evolution or rl)");
}

}  // namespace cf

#include "controller/controller.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>

#include "controller/evolution.h"
#include "controller/rl_controller.h"

namespace cf {

namespace {

// v2 adds each pending candidate's parent; v1 states (no parents) still restore.
constexpr std::string_view kStateMagic = "cellforge.controller.v2";
constexpr std::string_view kStateMagicV1 = "cellforge.controller.v1";

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Uniform sampling: every decision independently uniform.
class RandomController final : public Controller {
 public:
  RandomController(const SearchSpace& space, uint64_t seed) : Controller(space, seed) {}
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
}

Controller::Controller(const SearchSpace& space, uint64_t seed) : space_(space), rng_(seed) {}

Candidate Controller::propose() {
  const CandidateId id = next_id_;
  Proposal p = next(id);
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
  const auto options = option_values();
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
  const bool with_parents = format == kStateMagic;
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
  const auto options = option_values();
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
}

std::vector<std::string> controller_names() {
  return {"random", "evolution", "rl"};
}

std::unique_ptr<Controller> make_controller(std::string_view name, const ControllerOptions& options,
                                            const SearchSpace& space, uint64_t seed) {
  validate(options);
  if (name == "random") return std::make_unique<RandomController>(space, seed);
  if (name == "evolution")
    return std::make_unique<EvolutionController>(space, options.evolution, seed);
  if (name == "rl") return std::make_unique<RlController>(space, options.rl, seed);
  throw ControllerError("unknown strategy \"" + std::string(name) +
                        "\" (expected random, evolution or rl)");
}

}  // namespace cf

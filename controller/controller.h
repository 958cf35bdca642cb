#pragma once
// Search strategies ("controllers") over the decision-sequence view of a search space.
//
// A controller proposes candidates and observes their results. Both are keyed by a candidate id,
// so a campaign with K workers can hold up to K proposals at once and report results in any
// order. save_state() captures everything (RNG, population, LSTM weights, optimiser moments,
// baseline, pending proposals) so restore_state() into a fresh controller built with the same
// strategy, options and space continues exactly where the saved one was.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/state_bytes.h"
#include "space/rng.h"
#include "space/search_space.h"

namespace cf {

// Misuse of a controller (unknown candidate id, bad options, bad reward).
class ControllerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using CandidateId = uint64_t;

struct Candidate {
  CandidateId id = 0;
  DecisionSeq seq;
  // The earlier candidate this one was derived from (evolution: the tournament winner it is a
  // mutation or copy of); nullopt for a candidate drawn from scratch. A campaign stores it as the
  // candidate's `parent`.
  std::optional<CandidateId> parent;
};

// What a strategy's next() returns: a decision sequence and the candidate it derives from, if any.
struct Proposal {
  Proposal(DecisionSeq s, std::optional<CandidateId> p = std::nullopt)  // NOLINT: implicit
      : seq(std::move(s)), parent(p) {}
  DecisionSeq seq;
  std::optional<CandidateId> parent;
};

// The outcome of evaluating a candidate: a reward (higher is better, finite) or a failure.
// costs: what a multi-objective strategy minimises beside the reward (evolution with
// pareto_costs > 0: params, MACs, latency, ...); finite; the other strategies ignore them.
struct EvalResult {
  std::optional<double> reward;
  std::string failure_reason;  // set when reward is missing
  std::vector<double> costs;

  static EvalResult success(double reward, std::vector<double> costs = {}) {
    return {reward, {}, std::move(costs)};
  }
  static EvalResult failure(std::string reason) { return {std::nullopt, std::move(reason), {}}; }
  bool ok() const { return reward.has_value(); }
};

struct EvolutionOptions {
  int population = 100;         // P; the first P successful candidates are random
  int sample_size = 25;         // S; tournament drawn with replacement
  double identity_prob = 0.05;  // probability that the child is an unchanged copy
  // C > 0: Pareto mode. The tournament winner is the best of the S draws in NSGA-II order over
  // the population (non-dominated rank over the reward, maximised, and C costs, minimised; then
  // crowding distance) instead of the highest reward; every successful result carries C costs.
  int pareto_costs = 0;
};

enum class RlAlgorithm : uint8_t { ppo, reinforce };
std::string_view rl_algorithm_name(RlAlgorithm algorithm);
std::optional<RlAlgorithm> rl_algorithm_from_name(std::string_view name);

struct RlOptions {
  RlAlgorithm algorithm = RlAlgorithm::ppo;
  int lstm_hidden = 100;           // LSTM units; the choice embeddings have the same width
  double init_range = 0.1;         // every weight starts uniform in [-init_range, init_range]
  double learning_rate = 0.00035;  // Adam
  double entropy_weight = 1e-4;    // bonus on the summed per-decision entropy
  double baseline_decay = 0.95;    // exponential moving average of rewards
  double ppo_clip = 0.2;           // epsilon of the clipped objective
  int ppo_epochs = 4;              // Adam steps per batch (PPO); REINFORCE takes one
  int batch_size = 20;             // observed episodes per update
  double grad_clip = 0.0;          // global gradient-norm limit; 0 = none
  // Reward given to failed candidates; nullopt = failed candidates are not learnt from.
  std::optional<double> failure_reward;
};

// Zero-cost guidance (Abdelfattah et al., ICLR 2021): a score of an architecture that costs no
// query (a zero-cost proxy, looked up or computed by the owner); higher is better.
using ZeroCostScorer = std::function<double(const DecisionSeq&)>;

struct GuideOptions {
  // W > 0: before the first proposal, score W distinct random architectures and propose the best
  // first: evolution's whole initial population, RL's first batch, random search's W in rank
  // order. The W scorings are not queries.
  int warmup = 0;
  // M >= 2: evolution scores M mutations of the tournament winner and proposes the best one.
  int proposal = 0;
};

struct ControllerOptions {
  EvolutionOptions evolution;
  RlOptions rl;
  GuideOptions guide;
};

// Throws ControllerError naming the field (e.g. "evolution.sample_size: must be >= 1, got 0").
void validate(const ControllerOptions& options);

class Controller {
 public:
  virtual ~Controller() = default;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  virtual std::string_view strategy() const = 0;  // "random", "evolution", "rl"
  const SearchSpace& space() const { return space_; }

  // The next candidate; ids are 1, 2, 3, ... in proposal order. Its parent, when it has one, is
  // an earlier candidate (pending() and save/restore keep it).
  Candidate propose();
  // The result of a pending candidate. Throws ControllerError for an id that is not pending or
  // a non-finite reward; the controller is unchanged then.
  void observe(CandidateId id, const EvalResult& result);

  bool is_pending(CandidateId id) const { return pending_.count(id) != 0; }
  std::vector<Candidate> pending() const;
  uint64_t proposed_count() const { return next_id_ - 1; }
  uint64_t observed_count() const { return observed_; }
  uint64_t failed_count() const { return failed_; }

  // The zero-cost scorer guide options need; without one, a guided controller's first
  // proposal throws ControllerError.
  void set_scorer(ZeroCostScorer scorer) { scorer_ = std::move(scorer); }
  const GuideOptions& guide() const { return guide_; }
  // Zero-cost scorings made so far (not queries).
  uint64_t scored_count() const { return scored_; }

  std::vector<uint8_t> save_state() const;
  // Throws StateError when the bytes are malformed or were saved by a controller with another
  // strategy, search space or options; the controller is unchanged then.
  void restore_state(std::span<const uint8_t> bytes);

 protected:
  // space must outlive the controller.
  Controller(const SearchSpace& space, uint64_t seed, const GuideOptions& guide = {});

  // The zero-cost score of seq (counted in scored_count()).
  double score(const DecisionSeq& seq);
  // How many of the warm-up's best architectures are proposed before next() takes over.
  virtual int warmup_take() const { return guide_.warmup; }
  // Told that the base proposes seq as candidate id instead of calling next() (a warm-up pick).
  virtual void adopt(CandidateId, const DecisionSeq&) {}

  virtual Proposal next(CandidateId id) = 0;
  // Throws ControllerError when the strategy cannot learn from result (e.g. a Pareto-mode
  // success without its costs); called before observe changes anything.
  virtual void check_result(CandidateId, const EvalResult&) const {}
  virtual void learn(CandidateId id, const DecisionSeq& seq, const EvalResult& result) = 0;
  // Options that change behaviour, as name/value pairs; saved and checked on restore.
  virtual std::vector<std::pair<std::string, double>> option_values() const = 0;
  virtual void save_strategy(ByteWriter& out) const = 0;
  // Reads exactly what save_strategy wrote (in.expect_end() before changing anything), so
  // *this is unchanged when it throws.
  virtual void restore_strategy(ByteReader& in) = 0;

  Rng& rng() { return rng_; }

 private:
  const SearchSpace& space_;
  Rng rng_;
  CandidateId next_id_ = 1;
  uint64_t observed_ = 0;
  uint64_t failed_ = 0;
  std::map<CandidateId, Candidate> pending_;
  GuideOptions guide_;
  ZeroCostScorer scorer_;
  uint64_t scored_ = 0;
  bool warmup_prepared_ = false;
  std::deque<DecisionSeq> warmup_queue_;  // best first

  void prepare_warmup();
  std::vector<std::pair<std::string, double>> all_option_values() const;  // strategy's + guide's
};

std::vector<std::string> controller_names();  // {"random", "evolution", "rl"}

// Throws ControllerError for an unknown name or invalid options. space must outlive the result.
std::unique_ptr<Controller> make_controller(std::string_view name, const ControllerOptions& options,
                                            const SearchSpace& space, uint64_t seed);

}  // namespace cf

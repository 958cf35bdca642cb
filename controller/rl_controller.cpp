#include "controller/rl_controller.h"

#include <cmath>

namespace cf {

namespace {

std::vector<int> cardinalities_of(const SearchSpace& space) {
  std::vector<int> cards;
  for (const auto& d : space.decisions()) cards.push_back(d.cardinality);
  return cards;
}

constexpr double kAdamBeta1 = 0.9;
constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEpsilon = 1e-8;

const RlOptions& checked(const RlOptions& options) {
  validate(ControllerOptions{{}, options, {}});
  return options;
}

}  // namespace

RlController::RlController(const SearchSpace& space, const RlOptions& options, uint64_t seed,
                           const GuideOptions& guide)
    : Controller(space, seed, guide),
      options_(checked(options)),
      policy_(cardinalities_of(space), options_.lstm_hidden) {
  policy_.init_uniform(rng(), options_.init_range);
  adam_m_.assign(policy_.params().size(), 0.0f);
  adam_v_.assign(policy_.params().size(), 0.0f);
}

Proposal RlController::next(CandidateId id) {
  DecisionSeq seq;
  pending_log_prob_[id] = policy_.sample(rng(), seq);
  return seq;
}

void RlController::adopt(CandidateId id, const DecisionSeq& seq) {
  std::vector<double> log_probs, entropies;
  policy_.forward(std::span<const DecisionSeq>(&seq, 1), log_probs, entropies);
  pending_log_prob_[id] = log_probs[0];
}

void RlController::learn(CandidateId id, const DecisionSeq& seq, const EvalResult& result) {
  auto it = pending_log_prob_.find(id);
  if (it == pending_log_prob_.end())
    throw ControllerError("rl: no log-probability recorded for candidate " + std::to_string(id));
  const double old_log_prob = it->second;
  pending_log_prob_.erase(it);
  double reward;
  if (result.ok())
    reward = *result.reward;
  else if (options_.failure_reward)
    reward = *options_.failure_reward;
  else
    return;
  if (!baseline_) baseline_ = reward;  // a zero start would make the first advantages huge
  const double advantage = reward - *baseline_;
  baseline_ = options_.baseline_decay * *baseline_ + (1 - options_.baseline_decay) * reward;
  batch_.push_back({seq, old_log_prob, advantage});
  if (batch_.size() >= static_cast<size_t>(options_.batch_size)) {
    update();
    batch_.clear();
  }
}

void RlController::update() {
  const size_t B = batch_.size();
  std::vector<DecisionSeq> seqs;
  for (const auto& e : batch_) seqs.push_back(e.seq);
  std::vector<double> log_probs, entropies, dlog_prob(B), dentropy(B);
  // The loss is minimised: -(mean policy objective) - entropy_weight * mean entropy.
  const int epochs = options_.algorithm == RlAlgorithm::ppo ? options_.ppo_epochs : 1;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    policy_.forward(seqs, log_probs, entropies);
    for (size_t e = 0; e < B; ++e) {
      const double advantage = batch_[e].advantage;
      if (options_.algorithm == RlAlgorithm::reinforce) {
        dlog_prob[e] = -advantage / B;
      } else {
        // Clipped surrogate min(r A, clip(r, 1-eps, 1+eps) A): no gradient once r has left the
        // trust region in the direction the advantage pushes it.
        const double ratio = std::exp(log_probs[e] - batch_[e].old_log_prob);
        const bool clipped = (advantage > 0 && ratio > 1 + options_.ppo_clip) ||
                             (advantage < 0 && ratio < 1 - options_.ppo_clip);
        dlog_prob[e] = clipped ? 0.0 : -ratio * advantage / B;
      }
      dentropy[e] = -options_.entropy_weight / B;
    }
    grad_.assign(policy_.params().size(), 0.0f);
    policy_.backward(dlog_prob, dentropy, grad_);
    adam_step();
  }
}

void RlController::adam_step() {
  if (options_.grad_clip > 0) {
    double norm2 = 0;
    for (float g : grad_) norm2 += double(g) * g;
    const double norm = std::sqrt(norm2);
    if (norm > options_.grad_clip) {
      const float scale = static_cast<float>(options_.grad_clip / norm);
      for (float& g : grad_) g *= scale;
    }
  }
  ++adam_step_;
  const auto b1 = static_cast<float>(kAdamBeta1), b2 = static_cast<float>(kAdamBeta2);
  const double t = static_cast<double>(adam_step_);
  // Bias corrections folded into the step size and epsilon (Kingma & Ba, section 2).
  const auto step =
      static_cast<float>(options_.learning_rate * std::sqrt(1 - std::pow(kAdamBeta2, t)) /
                         (1 - std::pow(kAdamBeta1, t)));
  const auto eps = static_cast<float>(kAdamEpsilon * std::sqrt(1 - std::pow(kAdamBeta2, t)));
  float* p = policy_.params().data();
  float* m = adam_m_.data();
  float* v = adam_v_.data();
  const float* g = grad_.data();
  const size_t n = grad_.size();
  for (size_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= step * m[i] / (std::sqrt(v[i]) + eps);
  }
}

std::vector<std::pair<std::string, double>> RlController::option_values() const {
  const auto& o = options_;
  return {{"rl.algorithm", static_cast<double>(o.algorithm)},
          {"rl.lstm_hidden", o.lstm_hidden},
          {"rl.init_range", o.init_range},
          {"rl.learning_rate", o.learning_rate},
          {"rl.entropy_weight", o.entropy_weight},
          {"rl.baseline_decay", o.baseline_decay},
          {"rl.ppo_clip", o.ppo_clip},
          {"rl.ppo_epochs", o.ppo_epochs},
          {"rl.batch_size", o.batch_size},
          {"rl.grad_clip", o.grad_clip},
          {"rl.failure_reward_set", o.failure_reward ? 1.0 : 0.0},
          {"rl.failure_reward", o.failure_reward.value_or(0.0)}};
}

void RlController::save_strategy(ByteWriter& out) const {
  out.reals(policy_.params());
  out.reals(adam_m_);
  out.reals(adam_v_);
  out.u64(adam_step_);
  out.u8(baseline_ ? 1 : 0);
  out.f64(baseline_.value_or(0.0));
  out.u64(pending_log_prob_.size());
  for (const auto& [id, log_prob] : pending_log_prob_) {
    out.u64(id);
    out.f64(log_prob);
  }
  out.u64(batch_.size());
  for (const auto& e : batch_) {
    out.ints(e.seq);
    out.f64(e.old_log_prob);
    out.f64(e.advantage);
  }
}

void RlController::restore_strategy(ByteReader& in) {
  auto fail = [](const std::string& what) { throw StateError("controller state: rl: " + what); };
  const size_t n = policy_.params().size();
  auto params = in.reals<float>("lstm weights");
  auto m = in.reals<float>("adam first moments");
  auto v = in.reals<float>("adam second moments");
  if (params.size() != n || m.size() != n || v.size() != n)
    fail("weight count differs from this controller's LSTM (" + std::to_string(n) + ")");
  const uint64_t adam_step = in.u64("adam step");
  const bool has_baseline = in.u8("baseline flag") != 0;
  const double baseline_value = in.f64("baseline");
  std::map<CandidateId, double> pending;
  const uint64_t npending = in.count("pending count", 16);
  for (uint64_t k = 0; k < npending; ++k) {
    const CandidateId id = in.u64("pending id");
    if (!pending.emplace(id, in.f64("pending log-probability")).second)
      fail("duplicate pending id " + std::to_string(id));
  }
  std::vector<Episode> batch;
  const uint64_t nbatch = in.count("batch size", 24);
  if (nbatch >= static_cast<uint64_t>(options_.batch_size)) fail("batch is larger than batch_size");
  for (uint64_t k = 0; k < nbatch; ++k) {
    Episode e;
    e.seq = in.ints("episode sequence");
    e.old_log_prob = in.f64("episode log-probability");
    e.advantage = in.f64("episode advantage");
    try {
      space().check(e.seq);
    } catch (const GenotypeError& err) {
      fail("episode " + std::to_string(k) + ": " + err.what());
    }
    batch.push_back(std::move(e));
  }
  in.expect_end();
  policy_.params() = std::move(params);
  adam_m_ = std::move(m);
  adam_v_ = std::move(v);
  adam_step_ = adam_step;
  baseline_ = has_baseline ? std::optional<double>(baseline_value) : std::nullopt;
  pending_log_prob_ = std::move(pending);
  batch_ = std::move(batch);
}

}  // namespace cf

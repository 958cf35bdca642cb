// The LSTM policy of the RL controller: gradient check against finite differences (double),
// sampling consistency, and the controller learning toy rewards on both search spaces.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <vector>

#include "controller/lstm_policy.h"
#include "controller/rl_controller.h"
#include "space/nb201.h"

namespace {

template <typename Real>
double batch_loss(cf::LstmPolicy<Real>& policy, const std::vector<cf::DecisionSeq>& batch,
                  const std::vector<double>& alpha, const std::vector<double>& beta) {
  std::vector<double> log_probs, entropies;
  policy.forward(batch, log_probs, entropies);
  double loss = 0;
  for (size_t e = 0; e < batch.size(); ++e)
    loss += alpha[e] * log_probs[e] + beta[e] * entropies[e];
  return loss;
}

struct GradCheckCase {
  std::vector<int> cardinalities;
  int hidden;
  int batch;
};

}  // namespace

TEST_CASE("lstm policy gradient matches central finite differences in double") {
  // Shapes chosen to exercise the blocked loops' remainders (odd hidden, batch not a multiple
  // of 4) and single-choice decisions.
  for (const GradCheckCase& shape :
       {GradCheckCase{{3, 1, 4, 2, 5}, 5, 7}, GradCheckCase{{5, 5, 5, 5, 5, 5}, 8, 4},
        GradCheckCase{{2, 13}, 3, 1}}) {
    INFO("hidden " << shape.hidden << ", batch " << shape.batch);
    cf::LstmPolicy<double> policy(shape.cardinalities, shape.hidden);
    cf::Rng rng(17);
    policy.init_uniform(rng, 0.6);  // larger than the default so gates leave their linear range
    std::vector<cf::DecisionSeq> batch(shape.batch);
    for (auto& seq : batch) policy.sample(rng, seq);
    std::vector<double> alpha(shape.batch), beta(shape.batch);
    for (auto& a : alpha) a = 2 * rng.uniform01() - 1;
    for (auto& b : beta) b = 2 * rng.uniform01() - 1;

    std::vector<double> log_probs, entropies, grad;
    policy.forward(batch, log_probs, entropies);
    policy.backward(alpha, beta, grad);
    REQUIRE(grad.size() == policy.params().size());

    auto& params = policy.params();
    const double h = 1e-5;
    double max_error = 0, max_abs_error = 0, max_grad = 0;
    size_t nonzero = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      const double saved = params[i];
      params[i] = saved + h;
      const double up = batch_loss(policy, batch, alpha, beta);
      params[i] = saved - h;
      const double down = batch_loss(policy, batch, alpha, beta);
      params[i] = saved;
      const double numeric = (up - down) / (2 * h);
      const double error = std::abs(numeric - grad[i]) / (1e-6 + std::abs(numeric));
      max_abs_error = std::max(max_abs_error, std::abs(numeric - grad[i]));
      if (std::abs(numeric - grad[i]) > 1e-8) max_error = std::max(max_error, error);
      max_grad = std::max(max_grad, std::abs(grad[i]));
      nonzero += std::abs(grad[i]) > 1e-9;
    }
    INFO("max absolute error " << max_abs_error << ", max relative error (where the absolute "
                               << "error exceeds 1e-8) " << max_error << " over " << params.size()
                               << " parameters, " << nonzero << " with a gradient");
    CHECK(max_error < 1e-5);
    CHECK(max_grad > 1e-2);
    // Unchosen embedding rows have no gradient; everything else (gates, softmax) does.
    CHECK(nonzero > params.size() / 2);
  }
}

TEST_CASE("lstm policy: float and double gradients agree, backward needs a forward") {
  const std::vector<int> cards{4, 3, 5, 2};
  cf::LstmPolicy<double> exact(cards, 12);
  cf::LstmPolicy<float> fast(cards, 12);
  cf::Rng rng(3);
  exact.init_uniform(rng, 0.1);
  std::transform(exact.params().begin(), exact.params().end(), fast.params().begin(),
                 [](double p) { return static_cast<float>(p); });
  std::vector<cf::DecisionSeq> batch(6);
  for (auto& seq : batch) exact.sample(rng, seq);
  const std::vector<double> alpha{1, -1, 0.5, 0.25, -0.5, 2}, beta(6, 0.1);
  std::vector<double> lp_exact, ent_exact, lp_fast, ent_fast, grad_exact;
  std::vector<float> grad_fast;
  exact.forward(batch, lp_exact, ent_exact);
  fast.forward(batch, lp_fast, ent_fast);
  exact.backward(alpha, beta, grad_exact);
  fast.backward(alpha, beta, grad_fast);
  for (size_t e = 0; e < batch.size(); ++e) CHECK(lp_fast[e] == Approx(lp_exact[e]).epsilon(1e-5));
  double diff = 0, norm = 0;
  for (size_t i = 0; i < grad_exact.size(); ++i) {
    diff += std::pow(grad_fast[i] - grad_exact[i], 2);
    norm += std::pow(grad_exact[i], 2);
  }
  CHECK(std::sqrt(diff / norm) < 1e-4);

  cf::DecisionSeq seq;
  fast.sample(rng, seq);  // a sample is not a forward pass to differentiate
  CHECK_THROWS_AS(fast.backward(alpha, beta, grad_fast), std::logic_error);
  CHECK_THROWS_AS(fast.forward(std::vector<cf::DecisionSeq>{{0, 0, 5, 0}}, lp_fast, ent_fast),
                  std::invalid_argument);
  CHECK_THROWS_AS(fast.forward(std::vector<cf::DecisionSeq>{{0, 0}}, lp_fast, ent_fast),
                  std::invalid_argument);
}

TEST_CASE("lstm policy samples from its own softmax") {
  cf::LstmPolicy<float> policy({4, 3}, 10);
  cf::Rng rng(9);
  policy.init_uniform(rng, 1.0);  // far from uniform
  // Exact joint probabilities by enumeration.
  std::vector<cf::DecisionSeq> all;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 3; ++b) all.push_back({a, b});
  std::vector<double> log_probs, entropies;
  policy.forward(all, log_probs, entropies);
  double total = 0;
  for (double lp : log_probs) total += std::exp(lp);
  CHECK(total == Approx(1.0).epsilon(1e-5));
  std::vector<int> counts(all.size(), 0);
  const int draws = 40000;
  for (int k = 0; k < draws; ++k) {
    cf::DecisionSeq seq;
    const double lp = policy.sample(rng, seq);
    const int index = seq[0] * 3 + seq[1];
    ++counts[index];
    if (k < 50) CHECK(lp == log_probs[index]);  // same code path: bit-identical
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const double p = std::exp(log_probs[i]);
    CHECK(counts[i] / double(draws) == Approx(p).margin(4 * std::sqrt(p * (1 - p) / draws) + 1e-3));
  }
}

TEST_CASE("rl learns a toy reward on the nasnet space: the share of one op") {
  const cf::NasnetSpace space(cf::NasnetSpaceConfig{});
  const auto& ops = space.config().ops;
  const int target =
      static_cast<int>(std::find(ops.begin(), ops.end(), cf::OpId::sep_conv_3x3) - ops.begin());
  REQUIRE(target < static_cast<int>(ops.size()));
  std::vector<int> op_positions;
  for (size_t i = 0; i < space.decisions().size(); ++i)
    if (space.decisions()[i].kind == cf::DecisionKind::op) op_positions.push_back(i);
  auto share = [&](const cf::DecisionSeq& seq) {
    int hits = 0;
    for (int p : op_positions) hits += seq[p] == target;
    return hits / double(op_positions.size());
  };
  for (auto algorithm : {cf::RlAlgorithm::ppo, cf::RlAlgorithm::reinforce}) {
    INFO(cf::rl_algorithm_name(algorithm));
    cf::RlOptions options;
    options.algorithm = algorithm;
    options.lstm_hidden = 32;
    options.learning_rate = 0.01;
    options.batch_size = 10;
    options.ppo_epochs = 2;
    options.entropy_weight = 1e-4;
    cf::RlController rl(space, options, 2024);
    std::vector<double> rewards;
    for (int k = 0; k < 800; ++k) {
      const cf::Candidate c = rl.propose();
      rewards.push_back(share(c.seq));
      rl.observe(c.id, cf::EvalResult::success(rewards.back()));
    }
    const double first = std::accumulate(rewards.begin(), rewards.begin() + 100, 0.0) / 100;
    const double last = std::accumulate(rewards.end() - 100, rewards.end(), 0.0) / 100;
    INFO("mean share of the first 100: " << first << ", of the last 100: " << last);
    CHECK(first < 0.15);  // 1/13 under a near-uniform policy
    CHECK(last > 0.6);
  }
}

TEST_CASE("rl learns a toy reward on the nb201 space with pending proposals") {
  const cf::Nb201Space space;
  // Reward: share of nor_conv_3x3 (op 3) among the six edges; results arrive with four
  // candidates in flight, out of order.
  auto share = [](const cf::DecisionSeq& seq) {
    return std::count(seq.begin(), seq.end(), 3) / 6.0;
  };
  cf::RlOptions options;
  options.lstm_hidden = 100;
  options.learning_rate = 0.005;
  options.batch_size = 8;
  cf::RlController rl(space, options, 7);
  std::vector<cf::Candidate> in_flight;
  std::vector<double> rewards;
  for (int k = 0; k < 400; ++k) {
    while (in_flight.size() < 4) in_flight.push_back(rl.propose());
    const size_t pick = k % 2 == 0 ? 0 : in_flight.size() - 1;
    rewards.push_back(share(in_flight[pick].seq));
    rl.observe(in_flight[pick].id, cf::EvalResult::success(rewards.back()));
    in_flight.erase(in_flight.begin() + pick);
  }
  const double last = std::accumulate(rewards.end() - 50, rewards.end(), 0.0) / 50;
  INFO("mean share of the last 50: " << last);
  CHECK(last > 0.7);
  CHECK(rl.updates() > 0);
}

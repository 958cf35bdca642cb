#pragma once
// The NASNet controller network: a one-layer LSTM that emits a decision sequence
// autoregressively. Step t reads the embedding of the choice made at step t-1 (a learned start
// vector at t = 0) and ends in a softmax over decision t's choices. Own forward and backward
// (through time) so the controller needs no tensor library; a template so the gradient check can
// run in double while the search runs in float.
#include <cstddef>
#include <span>
#include <vector>

#include "space/rng.h"
#include "space/search_space.h"

namespace cf {

template <typename Real>
class LstmPolicy {
 public:
  // cardinalities: one softmax per decision (each >= 1). hidden: LSTM units, which is also the
  // width of the choice embeddings.
  LstmPolicy(std::vector<int> cardinalities, int hidden);

  int hidden() const { return hidden_; }
  int steps() const { return static_cast<int>(cardinalities_.size()); }
  const std::vector<int>& cardinalities() const { return cardinalities_; }

  // All weights in one flat vector (gates, gate bias, start vector, embeddings, softmax layers),
  // so the optimiser and checkpoints treat them uniformly.
  std::vector<Real>& params() { return params_; }
  const std::vector<Real>& params() const { return params_; }
  void init_uniform(Rng& rng, double range);

  // Draws a sequence from the policy; returns its log-probability.
  double sample(Rng& rng, DecisionSeq& seq);

  // Runs a batch of sequences (each of length steps(), choices in range) and keeps the
  // activations for backward(). log_probs[e] = log pi(batch[e]); entropies[e] = the sum over
  // steps of the entropy of that step's softmax along batch[e].
  void forward(std::span<const DecisionSeq> batch, std::vector<double>& log_probs,
               std::vector<double>& entropies);

  // Adds to grad (resized to params().size() if empty) the gradient with respect to params() of
  //   L = sum_e dlog_prob[e] * log_probs[e] + dentropy[e] * entropies[e]
  // for the batch of the last forward() at the current params.
  void backward(std::span<const double> dlog_prob, std::span<const double> dentropy,
                std::vector<Real>& grad);

 private:
  // Offsets of the parameter blocks in params_.
  size_t gate_weights() const { return 0; }  // [2H inputs][4H units]: x then h
  size_t gate_bias() const { return 8 * size_t(hidden_) * hidden_; }         // [4H]
  size_t start_vector() const { return gate_bias() + 4 * size_t(hidden_); }  // [H]
  void run(size_t batch, Rng* rng, double* log_probs, double* entropies);

  std::vector<int> cardinalities_;
  int hidden_;
  std::vector<Real> params_;
  std::vector<size_t> embedding_;    // per step t < steps()-1: [card_t][H], input of step t+1
  std::vector<size_t> softmax_w_;    // per step: [card_t][H]
  std::vector<size_t> softmax_b_;    // per step: [card_t]
  std::vector<size_t> prob_offset_;  // per step: offset of its probabilities in a batch row

  // Activations of the last forward(), per step, per episode.
  size_t batch_ = 0;
  std::vector<DecisionSeq> actions_;
  std::vector<Real> z_;          // [T][B][2H] step input: x then h_{t-1}
  std::vector<Real> gates_;      // [T][B][4H] i, f, u, o after their nonlinearity
  std::vector<Real> cell_;       // [T][B][H] c_t
  std::vector<Real> cell_tanh_;  // [T][B][H] tanh(c_t)
  std::vector<Real> h_;          // [T][B][H] h_t
  std::vector<double> prob_;     // [B][sum card] softmax of each step
  std::vector<double> entropy_;  // [T][B]
  std::vector<Real> weights_t_;  // [4H][2H] gate weights transposed, for backward()
  std::vector<Real> logits_;     // [max card] sized scratch for the softmax gradient
};

extern template class LstmPolicy<float>;
extern template class LstmPolicy<double>;

}  // namespace cf

#include "controller/lstm_policy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace cf {

namespace {

// The hot loops: contiguous, no aliasing between arguments, vectorised by the compiler.
template <typename Real>
inline void axpy_impl(Real a, const Real* __restrict x, Real* __restrict y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

// y += a0 x0 + a1 x1 + a2 x2 + a3 x3: one pass over y for four updates.
template <typename Real>
inline void axpy4_impl(const Real* a, const Real* __restrict x0, const Real* __restrict x1,
                       const Real* __restrict x2, const Real* __restrict x3, Real* __restrict y,
                       int n) {
  const Real a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
  for (int i = 0; i < n; ++i) y[i] += a0 * x0[i] + a1 * x1[i] + a2 * x2[i] + a3 * x3[i];
}

// Independent partial sums so the additions do not form one serial dependency chain. The lanes
// are explicit, so the result does not depend on the vector width the compiler picks.
template <typename Real>
inline Real dot_impl(const Real* __restrict x, const Real* __restrict y, int n) {
  constexpr int kLanes = 16;
  Real partial[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) partial[j] += x[i + j] * y[i + j];
  // A fixed pairwise tree: short dependency chains, same order at any vector width.
  for (int width = kLanes / 2; width >= 1; width /= 2)
    for (int j = 0; j < width; ++j) partial[j] += partial[j + width];
  Real tail = 0;
  for (; i < n; ++i) tail += x[i] * y[i];
  return partial[0] + tail;
}

// An AVX2 clone of each kernel, picked at load time where the CPU has it (the default build
// targets baseline x86-64). AVX2 without FMA: no contraction, so both clones round identically
// and a checkpoint resumes bit-exactly on either kind of machine.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CF_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define CF_KERNEL
#endif

CF_KERNEL void axpy(float a, const float* x, float* y, int n) {
  axpy_impl(a, x, y, n);
}
CF_KERNEL void axpy(double a, const double* x, double* y, int n) {
  axpy_impl(a, x, y, n);
}
CF_KERNEL void axpy4(const float* a, const float* x0, const float* x1, const float* x2,
                     const float* x3, float* y, int n) {
  axpy4_impl(a, x0, x1, x2, x3, y, n);
}
CF_KERNEL void axpy4(const double* a, const double* x0, const double* x1, const double* x2,
                     const double* x3, double* y, int n) {
  axpy4_impl(a, x0, x1, x2, x3, y, n);
}
CF_KERNEL float dot(const float* x, const float* y, int n) {
  return dot_impl(x, y, n);
}
CF_KERNEL double dot(const double* x, const double* y, int n) {
  return dot_impl(x, y, n);
}

template <typename Real>
inline Real sigmoid(Real x) {
  return Real(1) / (Real(1) + std::exp(-x));
}

// tanh through one exp (libm's tanhf is several times slower); absolute error ~ machine epsilon.
template <typename Real>
inline Real fast_tanh(Real x) {
  const Real e = std::exp(Real(-2) * std::abs(x));
  return std::copysign((Real(1) - e) / (Real(1) + e), x);
}

}  // namespace

template <typename Real>
LstmPolicy<Real>::LstmPolicy(std::vector<int> cardinalities, int hidden)
    : cardinalities_(std::move(cardinalities)), hidden_(hidden) {
  if (hidden_ < 1) throw std::invalid_argument("LstmPolicy: hidden must be >= 1");
  if (cardinalities_.empty()) throw std::invalid_argument("LstmPolicy: no decisions");
  const size_t H = hidden_;
  size_t offset = start_vector() + H;
  size_t prob = 0;
  for (size_t t = 0; t < cardinalities_.size(); ++t) {
    const int card = cardinalities_[t];
    if (card < 1)
      throw std::invalid_argument("LstmPolicy: decision " + std::to_string(t) +
                                  " has cardinality " + std::to_string(card));
    if (t + 1 < cardinalities_.size()) {
      embedding_.push_back(offset);
      offset += card * H;
    }
    softmax_w_.push_back(offset);
    offset += card * H;
    softmax_b_.push_back(offset);
    offset += card;
    prob_offset_.push_back(prob);
    prob += card;
  }
  params_.assign(offset, Real(0));
  logits_.resize(*std::max_element(cardinalities_.begin(), cardinalities_.end()));
}

template <typename Real>
void LstmPolicy<Real>::init_uniform(Rng& rng, double range) {
  for (Real& p : params_) p = static_cast<Real>((2 * rng.uniform01() - 1) * range);
}

template <typename Real>
double LstmPolicy<Real>::sample(Rng& rng, DecisionSeq& seq) {
  actions_.assign(1, DecisionSeq(steps(), 0));
  double log_prob = 0, entropy = 0;
  run(1, &rng, &log_prob, &entropy);
  seq = actions_[0];
  batch_ = 0;  // a sample is not a forward() for backward()
  return log_prob;
}

template <typename Real>
void LstmPolicy<Real>::forward(std::span<const DecisionSeq> batch, std::vector<double>& log_probs,
                               std::vector<double>& entropies) {
  if (batch.empty()) throw std::invalid_argument("LstmPolicy::forward: empty batch");
  for (size_t e = 0; e < batch.size(); ++e) {
    if (batch[e].size() != cardinalities_.size())
      throw std::invalid_argument("LstmPolicy::forward: sequence " + std::to_string(e) +
                                  " has the wrong length");
    for (int t = 0; t < steps(); ++t)
      if (batch[e][t] < 0 || batch[e][t] >= cardinalities_[t])
        throw std::invalid_argument("LstmPolicy::forward: sequence " + std::to_string(e) +
                                    " has a choice out of range at step " + std::to_string(t));
  }
  actions_.assign(batch.begin(), batch.end());
  log_probs.assign(batch.size(), 0.0);
  entropies.assign(batch.size(), 0.0);
  run(batch.size(), nullptr, log_probs.data(), entropies.data());
  batch_ = batch.size();
}

// One pass over all steps for B episodes. With rng (B == 1) each step's choice is drawn and
// written to actions_; otherwise actions_ holds the choices.
template <typename Real>
void LstmPolicy<Real>::run(size_t B, Rng* rng, double* log_probs, double* entropies) {
  const int H = hidden_, T = steps();
  const size_t zw = 2 * size_t(H), gw = 4 * size_t(H);
  z_.resize(T * B * zw);
  gates_.resize(T * B * gw);
  cell_.resize(T * B * H);
  cell_tanh_.resize(T * B * H);
  h_.resize(T * B * H);
  const size_t prob_row = prob_offset_.back() + cardinalities_.back();
  prob_.resize(B * prob_row);
  entropy_.resize(T * B);
  const Real* W = params_.data() + gate_weights();
  const Real* bias = params_.data() + gate_bias();

  for (int t = 0; t < T; ++t) {
    Real* z = z_.data() + t * B * zw;
    Real* g = gates_.data() + t * B * gw;
    Real* c = cell_.data() + t * B * H;
    Real* tc = cell_tanh_.data() + t * B * H;
    Real* h = h_.data() + t * B * H;
    for (size_t b = 0; b < B; ++b) {
      const Real* x = t == 0 ? params_.data() + start_vector()
                             : params_.data() + embedding_[t - 1] + size_t(actions_[b][t - 1]) * H;
      std::copy(x, x + H, z + b * zw);
      if (t == 0)
        std::fill(z + b * zw + H, z + (b + 1) * zw, Real(0));
      else
        std::copy(h - B * H + b * H, h - B * H + (b + 1) * H, z + b * zw + H);
      std::copy(bias, bias + gw, g + b * gw);
    }
    // Gate pre-activations; each weight row is used by all episodes while it is in cache.
    // At t = 0 the previous h is zero, so only the x rows contribute.
    const int rows = t == 0 ? H : 2 * H;
    int k = 0;
    for (; k + 4 <= rows; k += 4)
      for (size_t b = 0; b < B; ++b)
        axpy4(z + b * zw + k, W + k * gw, W + (k + 1) * gw, W + (k + 2) * gw, W + (k + 3) * gw,
              g + b * gw, int(gw));
    for (; k < rows; ++k)
      for (size_t b = 0; b < B; ++b) axpy(z[b * zw + k], W + k * gw, g + b * gw, int(gw));
    for (size_t b = 0; b < B; ++b) {
      Real* gb = g + b * gw;
      const Real* c_prev = t == 0 ? nullptr : cell_.data() + (t - 1) * B * H + b * H;
      for (int j = 0; j < H; ++j) {
        const Real i = sigmoid(gb[j]);
        const Real f = sigmoid(gb[H + j]);
        const Real u = fast_tanh(gb[2 * H + j]);
        const Real o = sigmoid(gb[3 * H + j]);
        gb[j] = i;
        gb[H + j] = f;
        gb[2 * H + j] = u;
        gb[3 * H + j] = o;
        const Real cj = (c_prev ? f * c_prev[j] : Real(0)) + i * u;
        c[b * H + j] = cj;
        tc[b * H + j] = fast_tanh(cj);
        h[b * H + j] = o * tc[b * H + j];
      }
      // Softmax over this decision's choices, in double for the log-probabilities.
      const int card = cardinalities_[t];
      const Real* sw = params_.data() + softmax_w_[t];
      const Real* sb = params_.data() + softmax_b_[t];
      double* p = prob_.data() + b * prob_row + prob_offset_[t];
      double max_logit = -INFINITY;
      for (int a = 0; a < card; ++a) {
        p[a] = static_cast<double>(sb[a] + dot(sw + size_t(a) * H, h + b * H, H));
        max_logit = std::max(max_logit, p[a]);
      }
      double sum = 0;
      for (int a = 0; a < card; ++a) sum += std::exp(p[a] - max_logit);
      const double log_sum = max_logit + std::log(sum);
      double entropy = 0;
      for (int a = 0; a < card; ++a) {
        const double log_p = p[a] - log_sum;
        p[a] = std::exp(log_p);
        entropy -= p[a] * log_p;
      }
      if (rng) {
        const double u = rng->uniform01();
        int chosen = card - 1;  // rounding may leave the cumulative sum just below u
        double cumulative = 0;
        for (int a = 0; a < card; ++a) {
          cumulative += p[a];
          if (u < cumulative) {
            chosen = a;
            break;
          }
        }
        actions_[b][t] = chosen;
      }
      entropy_[t * B + b] = entropy;
      entropies[b] += entropy;
      log_probs[b] += std::log(p[actions_[b][t]]);
    }
  }
}

template <typename Real>
void LstmPolicy<Real>::backward(std::span<const double> dlog_prob, std::span<const double> dentropy,
                                std::vector<Real>& grad) {
  const size_t B = batch_;
  if (B == 0) throw std::logic_error("LstmPolicy::backward: no forward() to differentiate");
  if (dlog_prob.size() != B || dentropy.size() != B)
    throw std::invalid_argument("LstmPolicy::backward: gradient sizes differ from the batch");
  if (grad.empty()) grad.assign(params_.size(), Real(0));
  if (grad.size() != params_.size())
    throw std::invalid_argument("LstmPolicy::backward: grad has the wrong size");
  const int H = hidden_, T = steps();
  const size_t zw = 2 * size_t(H), gw = 4 * size_t(H);
  const size_t prob_row = prob_offset_.back() + cardinalities_.back();
  const Real* W = params_.data();
  Real* dW = grad.data() + gate_weights();
  Real* dbias = grad.data() + gate_bias();
  std::vector<Real> dh_next(B * H, Real(0)), dc_next(B * H, Real(0));
  std::vector<Real> dg(B * gw), dz(B * zw), dh(H);
  weights_t_.resize(gw * zw);
  for (size_t k = 0; k < zw; ++k)
    for (size_t r = 0; r < gw; ++r) weights_t_[r * zw + k] = W[k * gw + r];
  std::vector<Real> dlogit(logits_.size());

  for (int t = T - 1; t >= 0; --t) {
    const Real* z = z_.data() + t * B * zw;
    const Real* g = gates_.data() + t * B * gw;
    const Real* tc = cell_tanh_.data() + t * B * H;
    const Real* h = h_.data() + t * B * H;
    const int card = cardinalities_[t];
    const Real* sw = params_.data() + softmax_w_[t];
    Real* dsw = grad.data() + softmax_w_[t];
    Real* dsb = grad.data() + softmax_b_[t];
    for (size_t b = 0; b < B; ++b) {
      // d log p(a) / d logit_k = [k == a] - p_k;  d entropy / d logit_k = -p_k (log p_k + H_t).
      const double* p = prob_.data() + b * prob_row + prob_offset_[t];
      const int chosen = actions_[b][t];
      const double step_entropy = entropy_[t * B + b];
      for (int a = 0; a < card; ++a) {
        const double log_p = p[a] > 0 ? std::log(p[a]) : 0.0;  // p log p -> 0
        const double d = dlog_prob[b] * ((a == chosen ? 1.0 : 0.0) - p[a]) -
                         dentropy[b] * p[a] * (log_p + step_entropy);
        dlogit[a] = static_cast<Real>(d);
      }
      std::copy(dh_next.begin() + b * H, dh_next.begin() + (b + 1) * H, dh.begin());
      for (int a = 0; a < card; ++a) {
        axpy(dlogit[a], h + b * H, dsw + size_t(a) * H, H);
        dsb[a] += dlogit[a];
        axpy(dlogit[a], sw + size_t(a) * H, dh.data(), H);
      }
      const Real* gb = g + b * gw;
      const Real* c_prev = t == 0 ? nullptr : cell_.data() + (t - 1) * B * H + b * H;
      Real* dgb = dg.data() + b * gw;
      for (int j = 0; j < H; ++j) {
        const Real i = gb[j], f = gb[H + j], u = gb[2 * H + j], o = gb[3 * H + j];
        const Real tcj = tc[b * H + j];
        const Real dc = dc_next[b * H + j] + dh[j] * o * (Real(1) - tcj * tcj);
        const Real cp = c_prev ? c_prev[j] : Real(0);
        dgb[j] = dc * u * i * (Real(1) - i);
        dgb[H + j] = dc * cp * f * (Real(1) - f);
        dgb[2 * H + j] = dc * i * (Real(1) - u * u);
        dgb[3 * H + j] = dh[j] * tcj * o * (Real(1) - o);
        dc_next[b * H + j] = dc * f;
      }
      axpy(Real(1), dgb, dbias, int(gw));
    }
    const int rows = t == 0 ? H : 2 * H;
    for (int k = 0; k < rows; ++k) {
      Real* dWk = dW + k * gw;
      size_t b = 0;
      for (; b + 4 <= B; b += 4) {
        const Real zk[4] = {z[b * zw + k], z[(b + 1) * zw + k], z[(b + 2) * zw + k],
                            z[(b + 3) * zw + k]};
        const Real* d = dg.data() + b * gw;
        axpy4(zk, d, d + gw, d + 2 * gw, d + 3 * gw, dWk, int(gw));
      }
      for (; b < B; ++b) axpy(z[b * zw + k], dg.data() + b * gw, dWk, int(gw));
    }
    // dz = dg W^T through the transposed weights: four rows per pass over each dz row, and no
    // horizontal sums (which cost more than the products at these sizes).
    std::fill(dz.begin(), dz.end(), Real(0));
    for (size_t r = 0; r < gw; r += 4) {
      const Real* wt = weights_t_.data() + r * zw;
      for (size_t b = 0; b < B; ++b)
        axpy4(dg.data() + b * gw + r, wt, wt + zw, wt + 2 * zw, wt + 3 * zw, dz.data() + b * zw,
              rows);
    }
    for (size_t b = 0; b < B; ++b) {
      Real* dx = t == 0 ? grad.data() + start_vector()
                        : grad.data() + embedding_[t - 1] + size_t(actions_[b][t - 1]) * H;
      axpy(Real(1), dz.data() + b * zw, dx, H);
      if (t > 0)
        std::copy(dz.begin() + b * zw + H, dz.begin() + (b + 1) * zw, dh_next.begin() + b * H);
    }
  }
}

template class LstmPolicy<float>;
template class LstmPolicy<double>;

}  // namespace cf

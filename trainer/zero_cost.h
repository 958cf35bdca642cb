#pragma once
// Zero-cost proxies: scores of an untrained network that rank architectures without training
// them. One call scores one network from one minibatch; the same seed gives the same scores.
//   synflow    sum |w * dR/dw|, R = sum of the logits for an all-ones image, |weights|, no BN,
//              in double (trainer/synflow.h; Tanaka et al. 2020, Abdelfattah et al. 2021)
//   naswot     log-determinant of K = sum over ReLU layers of c c' + (1-c)(1-c)' for the binary
//              ReLU codes c of the batch's images (Mellor et al., ICML 2021)
//   grad_norm  sum over conv/FC weight tensors of the L2 norm of the loss gradient
//   snip       sum over conv/FC weights of |w * dL/dw| (Lee et al. 2019)
//   jacob_cov  -sum(log(v + k) + 1/(v + k)), k = 1e-5, over the eigenvalues v of the correlation
//              matrix of the per-image input Jacobians of the summed logits (Mellor et al. v1)
//   params, macs  the plain baselines (space/ counts)
// Weights are drawn with PyTorch's default initialisation (as in the papers' code); the batch
// passes run in training mode (batch statistics), as the papers' networks did.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "space/network.h"

namespace cf {

enum class ZeroCostProxy : uint8_t { synflow, naswot, grad_norm, snip, jacob_cov, params, macs };
inline constexpr int kZeroCostProxyCount = static_cast<int>(ZeroCostProxy::macs) + 1;
std::string_view zero_cost_proxy_name(ZeroCostProxy proxy);
std::optional<ZeroCostProxy> zero_cost_proxy_from_name(std::string_view name);

// One minibatch, normalised as for training, in the network's input shape.
struct ZeroCostBatch {
  std::vector<float> images;  // batch x C x H x W
  std::vector<int32_t> labels;
  int batch = 0;
};

// `count` training images of `data` in the network's input shape: normalised per channel as for
// training, centred in the input (zero padding) and channels repeated when the network wants more
// (Fashion-MNIST 28x28x1 -> 32x32x3 for NAS-Bench-201). Throws DataError when they do not fit.
struct DataSplits;
ZeroCostBatch zero_cost_batch(const DataSplits& data, int count, Shape input);

struct ZeroCostOptions {
  uint64_t seed = 0;                   // weight initialisation
  std::vector<ZeroCostProxy> proxies;  // empty: every proxy
};

struct ZeroCostScores {
  std::array<double, kZeroCostProxyCount> value;    // NaN where not computed
  std::array<double, kZeroCostProxyCount> seconds;  // a pass two proxies share counts for both
  double total_seconds = 0;
  double get(ZeroCostProxy p) const { return value[static_cast<int>(p)]; }
};

// Scores `network` (its input shape and classes must match the batch). `threads` is the OpenMP
// thread count the caller has set; nothing here changes it.
ZeroCostScores score_zero_cost(const Network& network, const ZeroCostBatch& data,
                               const ZeroCostOptions& options);

// The pieces, for tests: NASWOT's log-determinant of K from binary codes (one row of `bits`
// per image, `weight` copies of the layer), and jacob_cov's score of per-image Jacobians.
struct NaswotKernel {
  explicit NaswotKernel(int batch) : batch(batch), k(static_cast<size_t>(batch) * batch, 0.0) {}
  // Adds one layer: codes[n * width + j] is image n's activation j (> 0 counts as 1).
  void add_layer(const float* values, int64_t width, int weight = 1);
  double log_determinant() const;  // -inf when singular
  int batch;
  std::vector<double> k;
};
double jacob_cov_score(const std::vector<float>& jacobians, int batch);

}  // namespace cf

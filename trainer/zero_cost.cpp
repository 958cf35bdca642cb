#include "trainer/zero_cost.h"

#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "trainer/data.h"
#include "trainer/executor.h"
#include "trainer/init.h"
#include "trainer/linalg.h"
#include "trainer/synflow.h"

namespace cf {

namespace {

constexpr std::string_view kProxyNames[] = {"synflow",   "naswot", "grad_norm", "snip",
                                            "jacob_cov", "params", "macs"};
static_assert(std::size(kProxyNames) == kZeroCostProxyCount, "one name per proxy");

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// grad_norm and snip from one loss backward pass.
void gradient_proxies(Executor& ex, const ZeroCostBatch& data, double& grad_norm, double& snip) {
  ex.forward(true);
  int correct = 0;
  ex.loss(data.labels.data(), 0.0f, 0.0f, &correct);
  ex.backward();
  grad_norm = snip = 0;
  for (const Param& p : ex.params()) {
    if (p.role != ParamRole::weights || p.aux) continue;
    const std::vector<float> w = ex.read_param(p), g = ex.read_grad(p);
    double sq = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      sq += static_cast<double>(g[k]) * g[k];
      snip += std::fabs(static_cast<double>(w[k]) * g[k]);
    }
    grad_norm += std::sqrt(sq);
  }
}

// The input Jacobian of the summed logits, image by image.
double jacob_cov(Executor& ex, const ZeroCostBatch& data) {
  ex.forward(true);
  const int64_t n = static_cast<int64_t>(data.batch) * ex.network().spec.classes;
  std::fill(ex.logits_grad(), ex.logits_grad() + n, 1.0f);
  ex.backward();
  const int64_t per = ex.network().spec.input.numel();
  std::vector<float> jacobians(ex.input_grad(), ex.input_grad() + data.batch * per);
  return jacob_cov_score(jacobians, data.batch);
}

// Binary codes of every ReLU layer (weighted by how many ops start with it: the papers' networks
// apply one ReLU module per op, where cellforge computes a shared ReLU once).
double naswot(Executor& ex, const ZeroCostBatch& data) {
  ex.forward(true);
  const Network& net = ex.network();
  std::vector<int> users(net.layers.size(), 0);
  for (const Layer& l : net.layers)
    for (int in : l.inputs) ++users[in];
  NaswotKernel kernel(data.batch);
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    const Layer& l = net.layers[i];
    if (l.kind != LayerKind::relu || l.aux) continue;
    const std::vector<float> values = ex.layer_value(i);
    kernel.add_layer(values.data(), l.out.numel(), std::max(users[i], 1));
  }
  return kernel.log_determinant();
}

}  // namespace

std::string_view zero_cost_proxy_name(ZeroCostProxy proxy) {
  return kProxyNames[static_cast<int>(proxy)];
}

std::optional<ZeroCostProxy> zero_cost_proxy_from_name(std::string_view name) {
  for (int k = 0; k < kZeroCostProxyCount; ++k)
    if (kProxyNames[k] == name) return static_cast<ZeroCostProxy>(k);
  return std::nullopt;
}

void NaswotKernel::add_layer(const float* values, int64_t width, int weight) {
  const int64_t words = (width + 63) / 64;
  std::vector<uint64_t> bits(static_cast<size_t>(batch * words), 0);
  for (int n = 0; n < batch; ++n)
    for (int64_t j = 0; j < width; ++j)
      if (values[n * width + j] > 0) bits[n * words + j / 64] |= uint64_t{1} << (j % 64);
  // c c' + (1 - c)(1 - c)' counts the positions where two codes agree: width - Hamming distance.
  for (int a = 0; a < batch; ++a)
    for (int b = a; b < batch; ++b) {
      int64_t differ = 0;
      for (int64_t w = 0; w < words; ++w)
        differ += std::popcount(bits[a * words + w] ^ bits[b * words + w]);
      const double agree = static_cast<double>(weight) * static_cast<double>(width - differ);
      k[static_cast<size_t>(a) * batch + b] += agree;
      if (a != b) k[static_cast<size_t>(b) * batch + a] += agree;
    }
}

double NaswotKernel::log_determinant() const {
  return log_abs_determinant(k, batch);
}

double jacob_cov_score(const std::vector<float>& jacobians, int batch) {
  const size_t per = jacobians.size() / static_cast<size_t>(batch);
  const std::vector<double> corr = correlation_matrix(jacobians.data(), batch, per);
  for (double c : corr)
    if (!std::isfinite(c)) return std::numeric_limits<double>::quiet_NaN();  // a constant row
  const std::vector<double> eigen = symmetric_eigenvalues(corr, batch);
  constexpr double k = 1e-5;
  double score = 0;
  for (double v : eigen) score -= std::log(v + k) + 1.0 / (v + k);
  return score;
}

ZeroCostBatch zero_cost_batch(const DataSplits& data, int count, Shape input) {
  const ImageSet& set = data.train;
  if (set.shape.h > input.h || set.shape.w > input.w || input.c % set.shape.c != 0)
    throw DataError(data.name + ": " + to_string(set.shape) +
                    " images do not fit the network's input " + to_string(input));
  ZeroCostBatch b;
  b.batch = std::min(count, set.count);
  b.images.assign(static_cast<size_t>(b.batch) * input.numel(), 0.0f);
  const int top = (input.h - set.shape.h) / 2, left = (input.w - set.shape.w) / 2;
  for (int n = 0; n < b.batch; ++n) {
    b.labels.push_back(set.labels[n]);
    const uint8_t* src = set.image(n);
    for (int c = 0; c < input.c; ++c) {
      const int sc = c % set.shape.c;
      for (int h = 0; h < set.shape.h; ++h)
        for (int w = 0; w < set.shape.w; ++w) {
          const float p = src[(sc * set.shape.h + h) * set.shape.w + w] / 255.0f;
          b.images[((static_cast<size_t>(n) * input.c + c) * input.h + h + top) * input.w + w +
                   left] = (p - data.mean[sc]) / data.stddev[sc];
        }
    }
  }
  return b;
}

ZeroCostScores score_zero_cost(const Network& network, const ZeroCostBatch& data,
                               const ZeroCostOptions& options) {
  const auto start = Clock::now();
  std::array<bool, kZeroCostProxyCount> want{};
  if (options.proxies.empty()) want.fill(true);
  for (ZeroCostProxy p : options.proxies) want[static_cast<int>(p)] = true;
  auto wanted = [&](ZeroCostProxy p) { return want[static_cast<int>(p)]; };
  ZeroCostScores s;
  s.value.fill(std::numeric_limits<double>::quiet_NaN());
  s.seconds.fill(0.0);
  auto set = [&](ZeroCostProxy p, double value, double seconds) {
    s.value[static_cast<int>(p)] = value;
    s.seconds[static_cast<int>(p)] = seconds;
  };
  if (wanted(ZeroCostProxy::params))
    set(ZeroCostProxy::params, static_cast<double>(network.params()), 0);
  if (wanted(ZeroCostProxy::macs)) set(ZeroCostProxy::macs, static_cast<double>(network.macs()), 0);

  Rng rng(options.seed);
  const ParamValues init = init_param_values(network, rng, InitScheme::torch_default);
  if (wanted(ZeroCostProxy::synflow)) {
    const auto t = Clock::now();
    const double v = synflow_score(network, init);
    set(ZeroCostProxy::synflow, v, seconds_since(t));
  }
  const bool batch_proxies = wanted(ZeroCostProxy::naswot) || wanted(ZeroCostProxy::grad_norm) ||
                             wanted(ZeroCostProxy::snip) || wanted(ZeroCostProxy::jacob_cov);
  if (batch_proxies) {
    if (data.batch < 2 ||
        data.images.size() != static_cast<size_t>(data.batch) * network.spec.input.numel() ||
        data.labels.size() != static_cast<size_t>(data.batch))
      throw std::invalid_argument(
          "zero-cost proxies: the batch does not match the network's input");
    auto t = Clock::now();
    ExecutorOptions eo;
    eo.batch = data.batch;
    eo.drop_path = false;
    eo.input_grad = wanted(ZeroCostProxy::jacob_cov);
    Executor ex(network, eo);
    for (Param& p : ex.params()) ex.write_param(p, init.at(p.name));
    const double setup = seconds_since(t);  // shared by every batch proxy
    std::copy(data.images.begin(), data.images.end(), ex.input());
    if (wanted(ZeroCostProxy::grad_norm) || wanted(ZeroCostProxy::snip)) {
      t = Clock::now();
      double grad_norm = 0, snip = 0;
      gradient_proxies(ex, data, grad_norm, snip);
      const double secs = setup + seconds_since(t);
      if (wanted(ZeroCostProxy::grad_norm)) set(ZeroCostProxy::grad_norm, grad_norm, secs);
      if (wanted(ZeroCostProxy::snip)) set(ZeroCostProxy::snip, snip, secs);
    }
    if (wanted(ZeroCostProxy::jacob_cov)) {
      t = Clock::now();
      const double v = jacob_cov(ex, data);
      set(ZeroCostProxy::jacob_cov, v, setup + seconds_since(t));
    }
    if (wanted(ZeroCostProxy::naswot)) {
      t = Clock::now();
      const double v = naswot(ex, data);
      set(ZeroCostProxy::naswot, v, setup + seconds_since(t));
    }
  }
  s.total_seconds = seconds_since(start);
  return s;
}

}  // namespace cf

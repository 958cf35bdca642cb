// Zero-cost proxies (trainer/zero_cost.h, trainer/synflow.h): each against a hand-computed value
// or against finite differences of the tests' double-precision reference network, the linear
// algebra they use, and determinism.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "genotype_fixtures.h"
#include "reference_net.h"
#include "space/nb201.h"
#include "space/nb201_network.h"
#include "trainer/init.h"
#include "trainer/linalg.h"
#include "trainer/synflow.h"
#include "trainer/zero_cost.h"

namespace {

// input 1x2x2 -> conv 1x1 (1 -> 1) -> global average pool -> fully connected (1 -> 2).
cf::Network tiny_network() {
  cf::Network net;
  net.spec.input = {1, 2, 2};
  net.spec.classes = 2;
  auto add = [&](cf::LayerKind kind, std::vector<int> inputs, cf::Shape out, std::string name) {
    cf::Layer l;
    l.kind = kind;
    l.inputs = std::move(inputs);
    l.out = out;
    l.name = std::move(name);
    net.layers.push_back(l);
    return static_cast<int>(net.layers.size()) - 1;
  };
  const int x = add(cf::LayerKind::input, {}, {1, 2, 2}, "input");
  const int c = add(cf::LayerKind::conv, {x}, {1, 2, 2}, "conv");
  const int g = add(cf::LayerKind::global_avg_pool, {c}, {1, 1, 1}, "gap");
  net.logits = add(cf::LayerKind::fully_connected, {g}, {2, 1, 1}, "fc");
  return net;
}

cf::test::ParamMap to_double(const cf::ParamValues& values, bool absolute) {
  cf::test::ParamMap m;
  for (const auto& [name, v] : values)
    for (float x : v) m[name].push_back(absolute ? std::fabs(double{x}) : double{x});
  return m;
}

// The network with every batch norm an identity (running mean 0, variance 1 - eps, scale 1,
// shift 0), evaluated by the reference on one all-ones image: R = the sum of the logits.
double reference_r(const cf::Network& net, cf::test::ParamMap params) {
  cf::test::ReferenceNet ref{net, 1, false, {}};
  for (const auto& l : net.layers)
    if (l.kind == cf::LayerKind::batch_norm) {
      ref.running[l.name] = {std::vector<double>(l.out.c, 0.0),
                             std::vector<double>(l.out.c, 1.0 - double{l.bn_epsilon})};
      params[l.name + ".scale"].assign(l.out.c, 1.0);
      params[l.name + ".shift"].assign(l.out.c, 0.0);
    }
  const auto outs = ref.forward(params, std::vector<double>(net.spec.input.numel(), 1.0));
  double r = 0;
  for (double v : outs[net.logits]) r += v;
  return r;
}

cf::ZeroCostBatch random_batch(const cf::Network& net, int batch, uint64_t seed) {
  cf::Rng rng(seed);
  cf::ZeroCostBatch b;
  b.batch = batch;
  b.images.resize(static_cast<size_t>(batch) * net.spec.input.numel());
  for (auto& x : b.images) x = static_cast<float>(rng.uniform01() * 2 - 1);
  for (int n = 0; n < batch; ++n) b.labels.push_back(rng.uniform_int(net.spec.classes));
  return b;
}

cf::Network small_nb201(const char* arch) {
  cf::NetworkSpec spec = cf::nb201_network_spec();
  spec.cells_per_stack = 1;
  spec.filters = 4;
  spec.input = {3, 8, 8};
  spec.classes = 3;
  return cf::build_nb201_network(cf::Nb201Space().parse_arch(arch), spec);
}

const char* kCell =
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|";

}  // namespace

TEST_CASE("synflow of a tiny network by hand", "[trainer][zero_cost]") {
  // |conv w| = 0.5; FC weights 2, -3, biases 0.1, -0.2. With an all-ones image every conv output
  // is 0.5, R = (2 + 3) * 0.5 + 0.1 + 0.2; sum(w dR/dw) = 0.5 * 5 for the conv and for the FC.
  const cf::Network net = tiny_network();
  const cf::ParamValues params = {
      {"conv.weights", {-0.5f}}, {"fc.weights", {2.0f, -3.0f}}, {"fc.bias", {0.1f, -0.2f}}};
  CHECK(cf::synflow_score(net, params) == Approx(5.0));
}

TEST_CASE("synflow is the sum over layers of dR/d(scale of the layer's weights)",
          "[trainer][zero_cost]") {
  // R is linear in each layer's weight scale, so a central difference of R in the scale of one
  // layer's weights gives sum(w dR/dw) of that layer exactly: an independent check through the
  // reference network, on every layer kind (NASNet's 14 ops and the NAS-Bench-201 network).
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 4;
  spec.stem_multiplier = 1;
  spec.input = {2, 6, 6};
  spec.classes = 3;
  spec.aux_head = true;  // left out of R, and of the score
  for (const cf::Network& net :
       {cf::build_network(cf::test::all_ops_genotype(), spec), small_nb201(kCell)}) {
    cf::Rng rng(5);
    const cf::ParamValues init = cf::init_param_values(net, rng, cf::InitScheme::torch_default);
    const cf::test::ParamMap abs_params = to_double(init, true);
    double expected = 0;
    for (const auto& l : net.layers) {
      if (l.aux || (l.kind != cf::LayerKind::conv && l.kind != cf::LayerKind::fully_connected))
        continue;
      const double eps = 1e-3;
      cf::test::ParamMap up = abs_params, down = abs_params;
      for (double& w : up[l.name + ".weights"]) w *= 1 + eps;
      for (double& w : down[l.name + ".weights"]) w *= 1 - eps;
      expected += (reference_r(net, up) - reference_r(net, down)) / (2 * eps);
    }
    INFO(net.layers.size() << " layers");
    CHECK(expected > 0);
    CHECK(cf::synflow_score(net, init) == Approx(expected).epsilon(1e-9));
  }
}

TEST_CASE("grad_norm, snip, jacob_cov and naswot against the reference network",
          "[trainer][zero_cost]") {
  omp_set_num_threads(2);
  const cf::Network net = small_nb201(kCell);
  const int batch = 4;
  const cf::ZeroCostBatch data = random_batch(net, batch, 3);
  cf::ZeroCostOptions options;
  options.seed = 9;
  const cf::ZeroCostScores s = cf::score_zero_cost(net, data, options);
  cf::Rng rng(options.seed);
  cf::test::ParamMap params =
      to_double(cf::init_param_values(net, rng, cf::InitScheme::torch_default), false);
  cf::test::ReferenceNet ref{net, batch, true, {}};
  const std::vector<double> images(data.images.begin(), data.images.end());
  const std::vector<int> labels(data.labels.begin(), data.labels.end());

  // grad_norm and snip from central differences of the loss, weight by weight.
  double grad_norm = 0, snip = 0;
  for (const auto& l : net.layers) {
    if (l.kind != cf::LayerKind::conv && l.kind != cf::LayerKind::fully_connected) continue;
    auto& w = params[l.name + ".weights"];
    double sq = 0;
    for (double& x : w) {
      const double saved = x, h = 1e-5;
      x = saved + h;
      const double up = ref.loss(params, images, labels);
      x = saved - h;
      const double down = ref.loss(params, images, labels);
      x = saved;
      const double g = (up - down) / (2 * h);
      sq += g * g;
      snip += std::fabs(saved * g);
    }
    grad_norm += std::sqrt(sq);
  }
  CHECK(s.get(cf::ZeroCostProxy::grad_norm) == Approx(grad_norm).epsilon(1e-3));
  CHECK(s.get(cf::ZeroCostProxy::snip) == Approx(snip).epsilon(1e-3));

  // jacob_cov: the input gradient of the summed logits, image by image.
  std::vector<float> jacobians(images.size());
  std::vector<double> x = images;
  auto sum_logits = [&] {
    const auto outs = ref.forward(params, x);
    double r = 0;
    for (double v : outs[net.logits]) r += v;
    return r;
  };
  for (size_t k = 0; k < x.size(); ++k) {
    const double saved = x[k], h = 1e-5;
    x[k] = saved + h;
    const double up = sum_logits();
    x[k] = saved - h;
    const double down = sum_logits();
    x[k] = saved;
    jacobians[k] = static_cast<float>((up - down) / (2 * h));
  }
  CHECK(s.get(cf::ZeroCostProxy::jacob_cov) ==
        Approx(cf::jacob_cov_score(jacobians, batch)).epsilon(1e-3));

  // naswot: every ReLU layer's codes, counted once per op that starts with it.
  const auto outs = ref.forward(params, images);
  cf::NaswotKernel kernel(batch);
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    if (net.layers[i].kind != cf::LayerKind::relu) continue;
    int users = 0;
    for (const auto& l : net.layers)
      for (int in : l.inputs) users += in == i;
    const std::vector<float> v(outs[i].begin(), outs[i].end());
    kernel.add_layer(v.data(), net.layers[i].out.numel(), users);
  }
  CHECK(s.get(cf::ZeroCostProxy::naswot) == Approx(kernel.log_determinant()).epsilon(1e-6));

  CHECK(s.get(cf::ZeroCostProxy::params) == double(net.params()));
  CHECK(s.get(cf::ZeroCostProxy::macs) == double(net.macs()));
}

TEST_CASE("naswot kernel and jacob_cov score by hand", "[trainer][zero_cost]") {
  // Codes 101 and 110 agree in 1 of 3 places: K = [[3, 1], [1, 3]], det 8.
  cf::NaswotKernel k(2);
  const float layer[] = {1, -1, 2, 3, 2, -2};
  k.add_layer(layer, 3);
  CHECK(k.log_determinant() == Approx(std::log(8.0)));
  k.add_layer(layer, 3, 2);  // the same layer used by two more ops: K = 3 x [[3, 1], [1, 3]]
  CHECK(k.log_determinant() == Approx(std::log(72.0)));
  // Two Jacobian rows with correlation r: eigenvalues 1 - r and 1 + r.
  const std::vector<float> j = {1, 2, 3, 1, 2, 4};
  const double r = 3.0 / std::sqrt(2.0 * (14.0 / 3.0));  // centred (-1,0,1).(-4/3,-1/3,5/3)
  double expected = 0;
  for (double v : {1 - r, 1 + r}) expected -= std::log(v + 1e-5) + 1 / (v + 1e-5);
  CHECK(cf::jacob_cov_score(j, 2) == Approx(expected));
  CHECK(std::isnan(cf::jacob_cov_score({1, 1, 1, 1, 2, 3}, 2)));  // a constant row
}

TEST_CASE("linear algebra: eigenvalues and log-determinants", "[trainer][zero_cost]") {
  const std::vector<double> a = {2, 1, 0, 1, 2, 1, 0, 1, 2};
  const auto eigen = cf::symmetric_eigenvalues(a, 3);
  CHECK(eigen[0] == Approx(2 - std::sqrt(2.0)));
  CHECK(eigen[1] == Approx(2.0));
  CHECK(eigen[2] == Approx(2 + std::sqrt(2.0)));
  CHECK(cf::log_abs_determinant(a, 3) == Approx(std::log(4.0)));
  CHECK(cf::log_abs_determinant({0, 1, 1, 0}, 2) == Approx(0.0));  // needs the row swap
  CHECK(std::isinf(cf::log_abs_determinant({1, 2, 2, 4}, 2)));
}

TEST_CASE("zero-cost scores are deterministic for a seed and change with it",
          "[trainer][zero_cost]") {
  omp_set_num_threads(2);
  const cf::Network net = small_nb201(kCell);
  const cf::ZeroCostBatch data = random_batch(net, 4, 1);
  cf::ZeroCostOptions options;
  options.seed = 4;
  const auto a = cf::score_zero_cost(net, data, options);
  const auto b = cf::score_zero_cost(net, data, options);
  options.seed = 5;
  const auto c = cf::score_zero_cost(net, data, options);
  for (int k = 0; k < cf::kZeroCostProxyCount; ++k) {
    INFO(cf::zero_cost_proxy_name(static_cast<cf::ZeroCostProxy>(k)));
    CHECK(a.value[k] == b.value[k]);
    CHECK(std::isfinite(a.value[k]));
  }
  CHECK(a.get(cf::ZeroCostProxy::synflow) != c.get(cf::ZeroCostProxy::synflow));
  options.proxies = {cf::ZeroCostProxy::synflow};
  const auto only = cf::score_zero_cost(net, data, options);
  CHECK(std::isnan(only.get(cf::ZeroCostProxy::naswot)));
  CHECK(only.get(cf::ZeroCostProxy::synflow) == c.get(cf::ZeroCostProxy::synflow));
}

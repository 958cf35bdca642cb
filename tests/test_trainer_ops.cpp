// The oneDNN executor against a naive double-precision reference: forward values of every op and
// finite-difference gradients of every parameter, op by op and for a whole network in which all
// 14 ops appear.
#include <omp.h>

#include <catch2/catch.hpp>
#include <set>

#include "genotype_fixtures.h"
#include "gradient_checker.h"
#include "reference_net.h"
#include "space/nb201.h"
#include "space/nb201_network.h"
#include "trainer/executor.h"

namespace {

struct Harness {
  cf::Network net;
  int batch;
  cf::Executor ex;
  std::vector<float> input;
  std::vector<int32_t> labels;

  Harness(cf::Network network, int b, uint64_t seed)
      : net(std::move(network)), batch(b), ex(net, options(b)) {
    cf::Rng rng(seed);
    ex.init_params(rng);
    // Non-default BN parameters so scale and shift gradients are not trivially symmetric.
    for (auto& p : ex.params()) {
      if (p.role == cf::ParamRole::bn_scale || p.role == cf::ParamRole::bn_shift ||
          p.role == cf::ParamRole::bias) {
        auto v = ex.read_param(p);
        for (auto& x : v) x += static_cast<float>(rng.uniform01() - 0.5);
        ex.write_param(p, v);
      }
    }
    input.resize(static_cast<size_t>(batch) * net.spec.input.numel());
    for (auto& x : input) x = static_cast<float>(rng.uniform01() * 2 - 1);
    labels.resize(batch);
    for (auto& l : labels) l = rng.uniform_int(net.spec.classes);
  }
  static cf::ExecutorOptions options(int b) {
    cf::ExecutorOptions o;
    o.batch = b;
    return o;
  }

  void run() {
    std::copy(input.begin(), input.end(), ex.input());
    ex.forward(true);
    int correct = 0;
    ex.loss(labels.data(), 0.0f, 0.4f, &correct);
    ex.backward();
  }

  cf::test::ParamMap param_map() const {
    cf::test::ParamMap m;
    for (const auto& p : ex.params()) {
      auto v = ex.read_param(p);
      m[p.name] = std::vector<double>(v.begin(), v.end());
    }
    return m;
  }
};

void check_forward(Harness& h) {
  cf::test::ReferenceNet ref{h.net, h.batch, true, {}};
  const auto outs = ref.forward(h.param_map(), std::vector<double>(h.input.begin(), h.input.end()));
  for (int layer : {h.net.logits, h.net.aux_logits}) {
    if (layer < 0) continue;
    const auto& expect = outs[layer];
    const float* got = layer == h.net.logits ? h.ex.logits() : h.ex.aux_logits();
    double scale = 0;
    for (double v : expect) scale = std::max(scale, std::abs(v));
    for (size_t k = 0; k < expect.size(); ++k) {
      INFO(h.net.layers[layer].name << "[" << k << "]");
      CHECK(std::abs(got[k] - expect[k]) <= 1e-4 * scale + 1e-4);
    }
  }
  // Every intermediate layer, too: catches errors that the logits could average away.
  for (size_t i = 1; i < h.net.layers.size(); ++i) {
    const auto got = h.ex.layer_value(static_cast<int>(i));
    const auto& expect = outs[i];
    REQUIRE(got.size() == expect.size());
    double scale = 0, err = 0;
    for (size_t k = 0; k < expect.size(); ++k) {
      scale = std::max(scale, std::abs(expect[k]));
      err = std::max(err, std::abs(got[k] - expect[k]));
    }
    INFO("layer " << h.net.layers[i].name << " (" << cf::layer_kind_name(h.net.layers[i].kind)
                  << "): max error " << err << ", scale " << scale);
    CHECK(err <= 1e-4 * scale + 1e-4);
  }
}

void check_gradients(Harness& h, int samples, uint64_t seed) {
  cf::test::ReferenceNet ref{h.net, h.batch, true, {}};
  auto params = h.param_map();
  const std::vector<double> input(h.input.begin(), h.input.end());
  const std::vector<int> labels(h.labels.begin(), h.labels.end());
  cf::test::GradientCheckOptions opts;
  opts.samples = samples;
  cf::Rng rng(seed);
  // Every trainable value of the network is in a checked tensor: the checked tensors' sizes add up
  // to space/'s parameter count of the network, and every layer with parameters (conv, batch
  // norm, fully connected) has its tensors checked.
  int64_t checked_values = 0;
  std::set<int> checked_layers;
  for (const auto& p : h.ex.params()) {
    auto& x = params[p.name];
    const auto analytic = h.ex.read_grad(p);
    REQUIRE(analytic.size() == x.size());
    auto failures = cf::test::check_gradient([&] { return ref.loss(params, input, labels); }, x,
                                             analytic, p.name, opts, rng);
    for (const auto& f : failures) FAIL_CHECK(f);
    checked_values += static_cast<int64_t>(x.size());
    checked_layers.insert(p.layer);
  }
  CHECK(checked_values == h.net.params());
  for (int i = 0; i < static_cast<int>(h.net.layers.size()); ++i) {
    const cf::LayerKind kind = h.net.layers[i].kind;
    const bool has_params = kind == cf::LayerKind::conv || kind == cf::LayerKind::batch_norm ||
                            kind == cf::LayerKind::fully_connected;
    INFO("layer " << h.net.layers[i].name);
    CHECK(checked_layers.count(i) == (has_params ? 1u : 0u));
  }
}

}  // namespace

TEST_CASE("every op: forward matches the reference and gradients match finite differences",
          "[trainer][ops]") {
  omp_set_num_threads(2);
  int seed = 1;
  for (const auto& info : cf::kOpTable) {
    for (int stride : {1, 2}) {
      // 16 channels in (blocked layout), 24 out: identity and pools then need their conv path.
      for (auto [c_in, c_out] : {std::pair{16, 16}, {16, 24}}) {
        DYNAMIC_SECTION(info.name << " stride " << stride << " " << c_in << "->" << c_out) {
          Harness h(cf::build_op_network(info.id, {c_in, 7, 7}, c_out, stride, 5), 3, seed);
          h.run();
          check_forward(h);
          check_gradients(h, 6, seed);
        }
        ++seed;
      }
    }
  }
}

TEST_CASE("depthwise kernels larger than 3x3 use cellforge's backward-weights kernel",
          "[trainer][ops]") {
  const auto net = cf::build_op_network(cf::OpId::sep_conv_7x7, {32, 9, 9}, 32, 1, 4);
  cf::ExecutorOptions o;
  o.batch = 4;
  cf::Executor ex(net, o);
  int custom = 0;
  for (const auto& s : ex.implementations())
    custom += s.find("cellforge depthwise") != std::string::npos;
  CHECK(custom == 2);  // both depthwise convs of the separable conv
}

TEST_CASE("a whole network with all 14 ops: forward and gradients", "[trainer][ops]") {
  omp_set_num_threads(2);
  const cf::Genotype g = cf::test::all_ops_genotype();
  std::set<cf::OpId> used;
  for (auto* cell : {&g.normal, &g.reduction})
    for (auto& b : cell->blocks) used.insert(b.ops.begin(), b.ops.end());
  REQUIRE(used.size() == 14);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.stem_multiplier = 2;
  spec.input = {2, 8, 8};
  spec.classes = 3;
  spec.aux_head = true;
  Harness h(cf::build_network(g, spec), 3, 99);
  h.run();
  check_forward(h);
  check_gradients(h, 3, 7);
}

TEST_CASE("NAS-Bench-201 networks: forward and gradients, zero nodes included", "[trainer][ops]") {
  omp_set_num_threads(2);
  cf::NetworkSpec spec = cf::nb201_network_spec();
  spec.cells_per_stack = 1;
  spec.filters = 4;
  spec.input = {2, 8, 8};
  spec.classes = 3;
  int seed = 11;
  for (const char* arch :
       {"|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_"
        "connect~2|",
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|none~1|avg_pool_3x3~2|",
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"}) {
    DYNAMIC_SECTION(arch) {
      Harness h(cf::build_nb201_network(cf::Nb201Space().parse_arch(arch), spec), 3, seed);
      h.run();
      check_forward(h);
      check_gradients(h, 3, seed);
    }
    ++seed;
  }
}

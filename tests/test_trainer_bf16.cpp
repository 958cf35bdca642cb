// bf16 mixed precision: the conversion and the bf16 depthwise kernel (on any CPU), then, where
// the CPU has native bf16, a bf16 executor against an fp32 one holding the same weights (logits,
// every parameter gradient, the input gradient, folded inference, drop path), the kernels oneDNN
// picks, and bit-identical training for a seed and thread count.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "genotype_fixtures.h"
#include "skip.h"
#include "trainer_fixtures.h"
#include "space/nb201.h"
#include "space/nb201_network.h"
#include "trainer/executor.h"
#include "trainer/kernels.h"
#include "trainer/train.h"

namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

bool skip_without_bf16() {
  if (cf::bf16_supported()) return false;
  cf::test::skip("this CPU has no native bf16 (avx512_bf16 or AMX)");
  return true;
}

// Two executors of one network, the bf16 one holding the fp32 one's weights and statistics.
struct Pair {
  cf::Network net;
  int batch;
  cf::Executor fp32, bf16;
  std::vector<float> input;
  std::vector<int32_t> labels;

  Pair(cf::Network network, int b, uint64_t seed, cf::ExecutorOptions base = {})
      : net(std::move(network)),
        batch(b),
        fp32(net, with(base, b, cf::Precision::fp32)),
        bf16(net, with(base, b, cf::Precision::bf16)) {
    cf::Rng rng(seed);
    fp32.init_params(rng);
    for (auto& p : fp32.params()) {
      auto v = fp32.read_param(p);
      if (p.role != cf::ParamRole::weights)  // non-trivial BN scale and shift, FC bias
        for (auto& x : v) x += static_cast<float>(rng.uniform01() - 0.5);
      fp32.write_param(p, v);
    }
    copy_weights();
    input.resize(static_cast<size_t>(batch) * net.spec.input.numel());
    for (auto& x : input) x = static_cast<float>(rng.uniform01() * 2 - 1);
    labels.resize(batch);
    for (auto& l : labels) l = rng.uniform_int(net.spec.classes);
  }

  static cf::ExecutorOptions with(cf::ExecutorOptions o, int b, cf::Precision precision) {
    o.batch = b;
    o.precision = precision;
    return o;
  }

  void copy_weights() {
    for (size_t k = 0; k < fp32.params().size(); ++k)
      bf16.write_param(bf16.params()[k], fp32.read_param(fp32.params()[k]));
    for (size_t k = 0; k < fp32.bn_stats().size(); ++k) {
      bf16.bn_stats()[k].running_mean = fp32.bn_stats()[k].running_mean;
      bf16.bn_stats()[k].running_var = fp32.bn_stats()[k].running_var;
    }
  }

  void train_step(cf::Executor& ex, const cf::ForwardState& state = {}) {
    std::copy(input.begin(), input.end(), ex.input());
    ex.forward(true, state);
    int correct = 0;
    ex.loss(labels.data(), 0.0f, 0.4f, &correct);
    ex.backward();
  }
};

// Largest difference relative to the largest reference magnitude.
double relative_error(const float* got, const float* want, size_t n) {
  double err = 0, scale = 1e-12;
  for (size_t k = 0; k < n; ++k) {
    err = std::max(err, std::abs(double{got[k]} - want[k]));
    scale = std::max(scale, std::abs(double{want[k]}));
  }
  return err / scale;
}

double cosine(const std::vector<float>& x, const std::vector<float>& y) {
  double dot = 0, nx = 0, ny = 0;
  for (size_t k = 0; k < x.size(); ++k) {
    dot += double{x[k]} * y[k];
    nx += double{x[k]} * x[k];
    ny += double{y[k]} * y[k];
  }
  return dot / std::sqrt(nx * ny + 1e-300);
}

double norm(const std::vector<float>& x) {
  double n = 0;
  for (float v : x) n += double{v} * v;
  return std::sqrt(n);
}

// The bf16 gradient points where the fp32 one does and has about its size.
void check_same_direction(const std::vector<float>& got, const std::vector<float>& want,
                          const std::string& name, double min_cosine = 0.99) {
  REQUIRE(got.size() == want.size());
  INFO(name << ": cosine " << cosine(got, want) << ", norm ratio " << norm(got) / norm(want));
  CHECK(cosine(got, want) > min_cosine);
  CHECK(std::abs(norm(got) / norm(want) - 1.0) < 1.0 - min_cosine + 0.04);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A whole random network at initialisation is chaotic (ReLU and max-pool decisions flip under
// tiny changes), so its bf16 gradients are compared with how much the fp32 gradients move when
// only the weights and input images are rounded to bf16: the bf16 executor rounds far more (every
// activation and gradient), but a broken layer would put it far below that baseline.
void check_follows_fp32(Pair& p, const cf::ForwardState& state = {}) {
  cf::ExecutorOptions o;
  o.batch = p.batch;
  o.drop_path = true;
  cf::Executor rounded(p.net, o);
  for (size_t k = 0; k < p.fp32.params().size(); ++k) {
    auto v = p.fp32.read_param(p.fp32.params()[k]);
    for (auto& x : v) x = cf::kernels::bf16_value(cf::kernels::bf16_bits(x));
    rounded.write_param(rounded.params()[k], v);
  }
  const std::vector<float> exact_input = p.input;
  for (auto& x : p.input) x = cf::kernels::bf16_value(cf::kernels::bf16_bits(x));
  cf::Rng rng_r(77), rng_f(77), rng_b(77);  // the same drop-path masks in all three
  cf::ForwardState sr = state, sf = state, sb = state;
  if (state.rng) sr.rng = &rng_r, sf.rng = &rng_f, sb.rng = &rng_b;
  p.train_step(rounded, sr);
  p.input = exact_input;
  p.train_step(p.fp32, sf);
  p.train_step(p.bf16, sb);
  const size_t n = static_cast<size_t>(p.batch) * p.net.spec.classes;
  INFO("training logits");
  CHECK(relative_error(p.bf16.logits(), p.fp32.logits(), n) < 0.1);
  std::vector<double> bf16_cosines, rounded_cosines;
  double largest = 0;
  for (const auto& prm : p.fp32.params()) largest = std::max(largest, norm(p.fp32.read_grad(prm)));
  for (size_t k = 0; k < p.fp32.params().size(); ++k) {
    const auto want = p.fp32.read_grad(p.fp32.params()[k]);
    if (norm(want) < 1e-3 * largest) continue;  // cancels to (almost) nothing: no signal
    const double c = cosine(p.bf16.read_grad(p.bf16.params()[k]), want);
    INFO(p.fp32.params()[k].name << ": cosine " << c);
    CHECK(c > 0.5);
    bf16_cosines.push_back(c);
    rounded_cosines.push_back(cosine(rounded.read_grad(rounded.params()[k]), want));
  }
  REQUIRE(bf16_cosines.size() > p.fp32.params().size() / 2);
  INFO("median cosine with fp32: bf16 " << median(bf16_cosines) << ", fp32 with rounded weights "
                                        << median(rounded_cosines));
  CHECK(median(bf16_cosines) > median(rounded_cosines) - 0.15);
  CHECK(median(bf16_cosines) > 0.75);
  // Batch-norm batch statistics are fp32 sums over bf16 values.
  for (size_t k = 0; k < p.fp32.bn_stats().size(); ++k) {
    const auto& a = p.bf16.bn_stats()[k].running_var;
    const auto& b = p.fp32.bn_stats()[k].running_var;
    INFO(p.fp32.bn_stats()[k].name);
    CHECK(relative_error(a.data(), b.data(), a.size()) < 0.05);
  }
}

}  // namespace

TEST_CASE("bf16 conversion widens exactly and rounds to nearest even", "[trainer][bf16]") {
  using cf::kernels::bf16_bits;
  using cf::kernels::bf16_value;
  CHECK(bf16_bits(1.0f) == 0x3f80);
  CHECK(bf16_value(0x3f80) == 1.0f);
  CHECK(bf16_bits(-2.5f) == 0xc020);
  // Halfway cases go to the even neighbour; just above halfway rounds up.
  CHECK(bf16_bits(from_bits(0x3f808000u)) == 0x3f80);
  CHECK(bf16_bits(from_bits(0x3f818000u)) == 0x3f82);
  CHECK(bf16_bits(from_bits(0x3f808001u)) == 0x3f81);
  CHECK(std::isnan(bf16_value(bf16_bits(std::nanf("")))));
  CHECK(std::isinf(bf16_value(bf16_bits(INFINITY))));
  for (uint32_t h : {0x0000u, 0x8000u, 0x0001u, 0x7f7fu, 0x4049u, 0xbf00u})
    CHECK(bf16_bits(bf16_value(static_cast<uint16_t>(h))) == h);  // exact round trip
  CHECK(float_bits(bf16_value(0x4049)) == 0x40490000u);
}

TEST_CASE("bf16 accumulate, drop masks: each value formed in fp32 and rounded once",
          "[trainer][bf16]") {
  using cf::kernels::bf16_bits;
  using cf::kernels::bf16_value;
  std::vector<uint16_t> a, b;
  cf::Rng rng(3);
  for (int k = 0; k < 1000; ++k) {
    a.push_back(bf16_bits(static_cast<float>(rng.uniform01() * 4 - 2)));
    b.push_back(bf16_bits(static_cast<float>(rng.uniform01() * 4 - 2)));
  }
  std::vector<uint16_t> sum = a;
  cf::kernels::accumulate_bf16(sum.data(), b.data(), static_cast<int64_t>(sum.size()));
  std::vector<uint16_t> scaled(a.size()), masked(a.size());
  const float scale[2] = {0.0f, 1.25f};
  cf::kernels::scale_images(a.data(), scaled.data(), scale, 2, 500);
  std::vector<float> mask(a.size());
  for (auto& m : mask) m = rng.uniform01() < 0.5 ? 0.0f : 2.0f;
  cf::kernels::multiply(a.data(), mask.data(), masked.data(), static_cast<int64_t>(a.size()));
  for (size_t k = 0; k < a.size(); ++k) {
    CHECK(sum[k] == bf16_bits(bf16_value(a[k]) + bf16_value(b[k])));
    // As values: 0 * -x is -0 here and +0 from the kernel's zero fill.
    CHECK(bf16_value(scaled[k]) == bf16_value(bf16_bits(bf16_value(a[k]) * scale[k / 500])));
    CHECK(masked[k] == bf16_bits(bf16_value(a[k]) * mask[k]));
  }
}

TEST_CASE("the bf16 depthwise backward-weights kernel equals the fp32 one on the same values",
          "[trainer][bf16]") {
  // bf16 widens exactly and both sum in the same fixed order: identical bits.
  struct Case {
    int kernel, stride, dilation, in;
  };
  for (const Case c : {Case{3, 1, 1, 9}, Case{5, 1, 1, 12}, Case{5, 2, 1, 11}, Case{7, 1, 1, 14},
                       Case{7, 2, 1, 9}, Case{3, 1, 2, 10}, Case{5, 1, 1, 3}}) {
    DYNAMIC_SECTION("k" << c.kernel << " s" << c.stride << " d" << c.dilation << " in" << c.in) {
      const int pad = (c.kernel - 1) * c.dilation / 2;
      const int ext = (c.kernel - 1) * c.dilation + 1;
      const int out = (c.in + 2 * pad - ext) / c.stride + 1;
      const cf::kernels::DepthwiseGeometry g{5,   20,       c.in,       c.in,      out,
                                             out, c.kernel, c.kernel,   c.stride,  c.stride,
                                             pad, pad,      c.dilation, c.dilation};
      const int blocks = 2;  // 20 channels padded to 32
      cf::Rng rng(c.kernel * 100 + c.in);
      auto values = [&](size_t n) {
        std::vector<uint16_t> v(n);
        for (auto& x : v) x = cf::kernels::bf16_bits(static_cast<float>(rng.uniform01() * 2 - 1));
        return v;
      };
      const auto src = values(size_t{5} * blocks * c.in * c.in * 16);
      const auto dd = values(size_t{5} * blocks * out * out * 16);
      std::vector<float> src_f(src.size()), dd_f(dd.size());
      for (size_t k = 0; k < src.size(); ++k) src_f[k] = cf::kernels::bf16_value(src[k]);
      for (size_t k = 0; k < dd.size(); ++k) dd_f[k] = cf::kernels::bf16_value(dd[k]);
      const size_t nw = size_t{blocks} * c.kernel * c.kernel * 16;
      std::vector<float> w_bf16(nw), w_f32(nw);
      cf::kernels::depthwise_backward_weights_nchw16c_bf16(g, src.data(), dd.data(), w_bf16.data());
      cf::kernels::depthwise_backward_weights_nchw16c(g, src_f.data(), dd_f.data(), w_f32.data());
      for (size_t k = 0; k < nw; ++k) REQUIRE(float_bits(w_bf16[k]) == float_bits(w_f32[k]));
    }
  }
}

TEST_CASE("bf16 each op on its own follows fp32 closely: logits, every gradient",
          "[trainer][bf16]") {
  if (skip_without_bf16()) return;
  omp_set_num_threads(2);
  int seed = 1;
  for (const auto& info : cf::kOpTable)
    for (int stride : {1, 2})
      for (int c_out : {16, 24}) {
        DYNAMIC_SECTION(info.name << " stride " << stride << " 16->" << c_out) {
          Pair p(cf::build_op_network(info.id, {16, 8, 8}, c_out, stride, 5), 16, seed);
          p.train_step(p.fp32);
          p.train_step(p.bf16);
          CHECK(relative_error(p.bf16.logits(), p.fp32.logits(), size_t{16} * 5) < 0.03);
          for (size_t k = 0; k < p.fp32.params().size(); ++k)
            // 0.98: a max pool's winner flips between near-equal values now and then.
            check_same_direction(p.bf16.read_grad(p.bf16.params()[k]),
                                 p.fp32.read_grad(p.fp32.params()[k]), p.fp32.params()[k].name,
                                 0.98);
        }
        ++seed;
      }
}

TEST_CASE("bf16 executor on a network with all 14 ops follows fp32: logits, every gradient",
          "[trainer][bf16]") {
  if (skip_without_bf16()) return;
  omp_set_num_threads(2);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 16;
  spec.stem_multiplier = 2;
  spec.input = {2, 12, 12};
  spec.classes = 5;
  spec.aux_head = true;
  cf::ExecutorOptions o;
  o.input_grad = true;
  Pair p(cf::build_network(cf::test::all_ops_genotype(), spec), 8, 21, o);
  check_follows_fp32(p);
  const size_t n = p.input.size();
  check_same_direction(std::vector<float>(p.bf16.input_grad(), p.bf16.input_grad() + n),
                       std::vector<float>(p.fp32.input_grad(), p.fp32.input_grad() + n),
                       "input gradient", 0.7);
  // Inference uses the running statistics; compare it too.
  p.copy_weights();
  for (auto* ex : {&p.fp32, &p.bf16}) {
    std::copy(p.input.begin(), p.input.end(), ex->input());
    ex->forward(false);
  }
  INFO("inference logits");
  CHECK(relative_error(p.bf16.logits(), p.fp32.logits(),
                       static_cast<size_t>(p.batch) * spec.classes) < 0.1);
}

TEST_CASE("bf16 with drop path: the same masks, the same dropped images", "[trainer][bf16]") {
  if (skip_without_bf16()) return;
  omp_set_num_threads(2);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 16;
  spec.input = {1, 8, 8};
  spec.classes = 4;
  Pair p(cf::build_network(*cf::builtin_genotype("nasnet_a"), spec), 16, 5);
  cf::Rng rng(9);  // check_follows_fp32 gives each executor its own copy of the stream
  check_follows_fp32(p, cf::ForwardState{0.5f, &rng});
}

TEST_CASE("bf16 NAS-Bench-201 networks (zero nodes, f32 input joined with bf16)",
          "[trainer][bf16]") {
  if (skip_without_bf16()) return;
  omp_set_num_threads(2);
  cf::NetworkSpec spec = cf::nb201_network_spec();
  spec.cells_per_stack = 1;
  spec.filters = 16;
  spec.input = {3, 8, 8};
  spec.classes = 3;
  for (const char* arch :
       {"|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_"
        "connect~2|",
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|none~1|avg_pool_3x3~2|"}) {
    DYNAMIC_SECTION(arch) {
      Pair p(cf::build_nb201_network(cf::Nb201Space().parse_arch(arch), spec), 8, 17);
      check_follows_fp32(p);
    }
  }
}

TEST_CASE("bf16 NASNet-A runs on native bf16 kernels, folded inference matches unfolded",
          "[trainer][bf16]") {
  if (skip_without_bf16()) return;
  omp_set_num_threads(2);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 2;
  spec.filters = 16;
  spec.input = {1, 28, 28};
  spec.classes = 10;
  const cf::Network net = cf::build_network(*cf::builtin_genotype("nasnet_a"), spec);
  cf::ExecutorOptions o;
  o.batch = 8;
  o.precision = cf::Precision::bf16;
  cf::Executor ex(net, o);
  int bf16_convs = 0, custom_depthwise = 0;
  for (const auto& impl : ex.implementations()) {
    INFO(impl);
    CHECK(impl.find("ref:") == std::string::npos);  // no reference (slow) kernel anywhere
    // No gemm fallback either: 5x5 and 7x7 depthwise backward-weights run cellforge's kernel.
    CHECK(impl.find("bwd_weights: gemm") == std::string::npos);
    CHECK(impl.find("bwd_weights: x64:gemm") == std::string::npos);
    bf16_convs +=
        impl.find("fwd: jit") != std::string::npos && impl.find("bf16") != std::string::npos;
    custom_depthwise += impl.find("cellforge depthwise") != std::string::npos;
  }
  CHECK(bf16_convs > 20);
  CHECK(custom_depthwise >= 4);  // the depthwise convs of NASNet-A's 5x5 and 7x7 separable convs
  // Folded and unfolded inference of one bf16 network with the same weights.
  cf::ExecutorOptions of = o;
  of.fold_batch_norm = true;
  cf::Executor folded(net, of);
  REQUIRE(folded.folded_batch_norms() > 0);
  cf::Rng rng(4);
  ex.init_params(rng);
  for (size_t k = 0; k < ex.params().size(); ++k)
    folded.write_param(folded.params()[k], ex.read_param(ex.params()[k]));
  for (size_t k = 0; k < ex.bn_stats().size(); ++k) {
    auto& s = ex.bn_stats()[k];
    for (auto& v : s.running_mean) v = static_cast<float>(rng.uniform01() - 0.5);
    for (auto& v : s.running_var) v = static_cast<float>(0.5 + rng.uniform01());
    folded.bn_stats()[k].running_mean = s.running_mean;
    folded.bn_stats()[k].running_var = s.running_var;
  }
  std::vector<float> input(size_t{8} * 28 * 28);
  for (auto& x : input) x = static_cast<float>(rng.uniform01() * 2 - 1);
  for (auto* e : {&ex, &folded}) {
    std::copy(input.begin(), input.end(), e->input());
    e->forward(false);
  }
  CHECK(relative_error(folded.logits(), ex.logits(), size_t{8} * 10) < 0.05);
}

TEST_CASE("bf16 training is bit-identical for a seed and thread count, and learns",
          "[trainer][bf16][determinism]") {
  if (skip_without_bf16()) return;
  const cf::DataSplits data = cf::test::synthetic_data(480, 96, 8);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.stem_multiplier = 2;
  spec.input = {1, 8, 8};
  spec.classes = 4;
  const cf::Network net = cf::build_network(*cf::builtin_genotype("nasnet_a"), spec);
  cf::TrainOptions o;
  o.epochs = 3;
  o.batch = 16;
  o.seed = 5;
  o.drop_path = 0.2f;
  o.augment = false;  // a flip would swap the quadrant that defines the label
  o.threads = 2;
  o.precision = cf::Precision::bf16;
  const cf::TrainResult a = cf::train_network(net, data, o);
  const cf::TrainResult b = cf::train_network(net, data, o);
  cf::TrainOptions o32 = o;
  o32.precision = cf::Precision::fp32;
  const cf::TrainResult f = cf::train_network(net, data, o32);
  REQUIRE(a.status == cf::TrainStatus::ok);
  REQUIRE(a.losses.size() == b.losses.size());
  for (size_t k = 0; k < a.losses.size(); ++k)
    REQUIRE(float_bits(a.losses[k]) == float_bits(b.losses[k]));
  CHECK(a.valid_accuracy == b.valid_accuracy);
  INFO("fp32 " << f.valid_accuracy << ", bf16 " << a.valid_accuracy);
  CHECK(a.valid_accuracy > 0.8);  // four classes: chance is 0.25
  CHECK(std::abs(a.valid_accuracy - f.valid_accuracy) < 0.1);
}

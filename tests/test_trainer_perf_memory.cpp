// The executor's memory optimisations: the liveness buffer plan, gradient buffers shared across
// adds and reused by liveness, batch norm with a fused ReLU and the fused cell output (adds,
// concat and ReLU in one pass), must not change any gradient.
#include <catch2/catch.hpp>

#include <omp.h>

#include "trainer/buffer_plan.h"
#include "trainer/executor.h"

TEST_CASE("buffer plan: overlapping lifetimes never share, disjoint ones of a kind do",
          "[trainer][perf]") {
  // Sharing a step counts as overlap: a step may read one gradient while writing another.
  const std::vector<cf::Lifetime> lives{{0, 2, 0}, {2, 4, 0}, {3, 5, 0}, {5, 6, 0}, {6, 7, 1}};
  int buffers = 0;
  const auto b = cf::assign_buffers(lives, &buffers);
  REQUIRE(b.size() == lives.size());
  for (size_t i = 0; i < lives.size(); ++i)
    for (size_t j = i + 1; j < lives.size(); ++j) {
      const bool overlap = lives[i].begin <= lives[j].end && lives[j].begin <= lives[i].end;
      if (overlap || lives[i].kind != lives[j].kind) CHECK(b[i] != b[j]);
    }
  CHECK(b[1] != b[0]);
  CHECK(b[3] == b[1]);  // 3 starts after 1 ends: the most recently freed buffer
  CHECK(buffers == 3);
}

namespace {

struct Run {
  std::vector<std::vector<float>> grads;
  std::vector<std::vector<float>> values;
  int64_t bytes = 0;
};

cf::ExecutorOptions options(bool reuse, bool fuse_bn_relu, bool fuse_concat,
                            cf::Precision precision = cf::Precision::fp32) {
  cf::ExecutorOptions o;
  o.batch = 4;
  o.reuse_gradient_buffers = reuse;
  o.fuse_bn_relu = fuse_bn_relu;
  o.fuse_concat = fuse_concat;
  o.precision = precision;
  return o;
}

Run train_step(const cf::Network& net, cf::ExecutorOptions o, bool drop_path,
               std::vector<std::string>* implementations = nullptr) {
  o.drop_path = drop_path;
  cf::Executor ex(net, o);
  if (implementations) *implementations = ex.implementations();
  cf::Rng rng(5);
  ex.init_params(rng);
  const size_t n_in = static_cast<size_t>(o.batch) * net.spec.input.numel();
  for (size_t k = 0; k < n_in; ++k) ex.input()[k] = static_cast<float>(rng.uniform01() * 2 - 1);
  std::vector<int32_t> labels(o.batch);
  for (auto& l : labels) l = rng.uniform_int(net.spec.classes);
  cf::Rng mask_rng(9);
  cf::ForwardState state;
  state.drop_path_prob = drop_path ? 0.3f : 0.0f;
  state.rng = &mask_rng;
  ex.forward(true, state);
  int correct = 0;
  ex.loss(labels.data(), 0.1f, 0.4f, &correct);
  ex.backward();
  Run r;
  for (const auto& p : ex.params()) r.grads.push_back(ex.read_grad(p));
  for (size_t i = 1; i < net.layers.size(); ++i) r.values.push_back(ex.layer_value(static_cast<int>(i)));
  r.bytes = ex.allocated_bytes();
  return r;
}

double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < a[i].size(); ++k)
      worst = std::max(worst, static_cast<double>(std::abs(a[i][k] - b[i][k])));
  return worst;
}

}  // namespace

TEST_CASE("shared gradient buffers and fused BN+ReLU give the gradients of the plain executor",
          "[trainer][perf]") {
  omp_set_num_threads(2);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.input = {2, 10, 10};
  spec.classes = 3;
  spec.aux_head = true;
  const cf::Network net = cf::build_network(cf::resolve_genotype("nasnet_a"), spec);
  for (bool drop_path : {false, true}) {
    INFO("drop path " << drop_path);
    const Run plain = train_step(net, options(false, false, false), drop_path);
    const Run shared = train_step(net, options(true, false, false), drop_path);
    const Run fused = train_step(net, options(true, true, false), drop_path);
    REQUIRE(shared.grads.size() == plain.grads.size());
    // Sharing buffers changes no arithmetic: bit-identical.
    CHECK(max_diff(plain.grads, shared.grads) == 0.0);
    CHECK(shared.bytes < plain.bytes);
    // The fused ReLU reorders nothing either, but allow oneDNN's kernels a last-bit difference.
    CHECK(max_diff(plain.grads, fused.grads) <= 1e-5);
    CHECK(max_diff(plain.values, fused.values) <= 1e-5);
    // Same seed, same threads: same bits.
    CHECK(max_diff(fused.grads, train_step(net, options(true, true, false), drop_path).grads) ==
          0.0);
  }
}

TEST_CASE("the fused cell output (adds, concat, ReLU in one pass) changes no bit",
          "[trainer][perf]") {
  omp_set_num_threads(2);
  std::vector<cf::Precision> precisions{cf::Precision::fp32};
  if (cf::bf16_supported()) precisions.push_back(cf::Precision::bf16);
  // 16 filters: every input fills whole nChw16c blocks and the gradients are written in place;
  // 8 and 12: the kernel's own layout differs from the inputs', through reorders.
  for (int filters : {16, 8, 12}) {
    cf::NetworkSpec spec;
    spec.cells_per_stack = 1;
    spec.filters = filters;
    spec.input = {2, 8, 8};
    spec.classes = 3;
    spec.aux_head = true;
    const cf::Network net = cf::build_network(cf::resolve_genotype("nasnet_a"), spec);
    for (cf::Precision precision : precisions)
      for (bool drop_path : {false, true}) {
        INFO("filters " << filters << ", " << cf::precision_name(precision) << ", drop path "
                        << drop_path);
        std::vector<std::string> impls;
        const Run plain = train_step(net, options(true, true, false, precision), drop_path);
        const Run fused = train_step(net, options(true, true, true, precision), drop_path, &impls);
        int fused_concats = 0;
        for (const auto& s : impls)
          fused_concats += s.find("fused concat+relu") != std::string::npos;
        // Every concat read by one ReLU only: the cells' outputs, but not the one the auxiliary
        // head also reads (through its own ReLU) nor the factorized reductions' (read by a BN).
        int fusable = 0;
        for (int c = 0; c < static_cast<int>(net.layers.size()); ++c) {
          if (net.layers[c].kind != cf::LayerKind::concat) continue;
          std::vector<int> readers;
          for (int i = 0; i < static_cast<int>(net.layers.size()); ++i)
            for (int in : net.layers[i].inputs)
              if (in == c) readers.push_back(i);
          fusable += readers.size() == 1 && net.layers[readers[0]].kind == cf::LayerKind::relu;
        }
        CHECK(fusable == net.num_cells - 1);
        CHECK(fused_concats == fusable);
        REQUIRE(fused.grads.size() == plain.grads.size());
        CHECK(max_diff(plain.grads, fused.grads) == 0.0);
        // Every layer's value, the absorbed adds and the concats (recomputed) included.
        CHECK(max_diff(plain.values, fused.values) == 0.0);
        CHECK(fused.bytes < plain.bytes);
      }
  }
}

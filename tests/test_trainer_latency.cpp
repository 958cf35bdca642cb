// Batch norm folded into convolutions for inference (ExecutorOptions::fold_batch_norm) and the
// latency measurement built on it (trainer/latency.h).
#include <catch2/catch.hpp>
#include <cmath>

#include "space/network.h"
#include "trainer/executor.h"
#include "trainer/latency.h"

namespace {

cf::Network small_nasnet(bool aux_head = false) {
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.input = {1, 16, 16};
  spec.aux_head = aux_head;
  return cf::build_network(cf::resolve_genotype("nasnet_a"), spec);
}

// Batch norms whose input is a convolution read by nothing else: the ones that can be folded.
int foldable_batch_norms(const cf::Network& net) {
  std::vector<int> readers(net.layers.size(), 0);
  for (const cf::Layer& l : net.layers)
    for (int in : l.inputs) ++readers[in];
  int count = 0;
  for (const cf::Layer& l : net.layers)
    if (l.kind == cf::LayerKind::batch_norm &&
        net.layers[l.inputs[0]].kind == cf::LayerKind::conv && readers[l.inputs[0]] == 1)
      ++count;
  return count;
}

// Parameters and running statistics far from their initial values, the same in both executors,
// so that a wrong fold (scale, shift, mean or variance misplaced) shows in the logits.
void randomise(cf::Executor& ex, uint64_t seed) {
  cf::Rng rng(seed);
  ex.init_params(rng, cf::InitScheme::torch_default);
  for (cf::Param& p : ex.params()) {
    if (p.role != cf::ParamRole::bn_scale && p.role != cf::ParamRole::bn_shift) continue;
    std::vector<float> v(static_cast<size_t>(p.numel));
    for (float& x : v)
      x = static_cast<float>(p.role == cf::ParamRole::bn_scale ? 0.5 + rng.uniform01()
                                                               : rng.uniform01() - 0.5);
    ex.write_param(p, v);
  }
  for (cf::BnStats& s : ex.bn_stats()) {
    for (float& m : s.running_mean) m = static_cast<float>(rng.uniform01() - 0.5);
    for (float& v : s.running_var) v = static_cast<float>(0.2 + 2 * rng.uniform01());
  }
}

void fill_input(cf::Executor& ex, uint64_t seed) {
  cf::Rng rng(seed);
  const int64_t n = int64_t{ex.batch()} * ex.network().spec.input.numel();
  for (int64_t i = 0; i < n; ++i) ex.input()[i] = static_cast<float>(rng.uniform01());
}

std::vector<float> logits(const cf::Executor& ex) {
  const int n = ex.batch() * ex.network().spec.classes;
  return {ex.logits(), ex.logits() + n};
}

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double{a[i]} - b[i]));
  return d;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float x : a) m = std::max(m, std::abs(double{x}));
  return m;
}

}  // namespace

TEST_CASE("folded inference gives the logits of batch norm run on its own", "[trainer][fold]") {
  const cf::Network net = small_nasnet();
  for (int batch : {1, 3}) {
    INFO("batch " << batch);
    cf::ExecutorOptions plain_options;
    plain_options.batch = batch;
    plain_options.drop_path = false;
    cf::ExecutorOptions fold_options = plain_options;
    fold_options.fold_batch_norm = true;
    cf::Executor plain(net, plain_options), folded(net, fold_options);
    CHECK(plain.folded_batch_norms() == 0);
    CHECK(folded.folded_batch_norms() == foldable_batch_norms(net));
    CHECK(folded.folded_batch_norms() > 10);
    randomise(plain, 7);
    randomise(folded, 7);
    fill_input(plain, 11);
    fill_input(folded, 11);
    plain.forward(false);
    folded.forward(false);
    const std::vector<float> expected = logits(plain);
    REQUIRE(max_abs(expected) > 0.1);
    CHECK(max_abs_difference(logits(folded), expected) < 1e-4 * std::max(1.0, max_abs(expected)));

    // A later change of parameters and statistics is folded again before the next inference.
    randomise(plain, 8);
    randomise(folded, 8);
    plain.forward(false);
    folded.forward(false);
    const std::vector<float> changed = logits(plain);
    CHECK(max_abs_difference(changed, expected) > 1e-3);
    CHECK(max_abs_difference(logits(folded), changed) < 1e-4 * std::max(1.0, max_abs(changed)));
  }
}

TEST_CASE("folding leaves training and its statistics unchanged", "[trainer][fold]") {
  const cf::Network net = small_nasnet();
  cf::ExecutorOptions plain_options;
  plain_options.batch = 4;
  plain_options.drop_path = false;
  cf::ExecutorOptions fold_options = plain_options;
  fold_options.fold_batch_norm = true;
  cf::Executor plain(net, plain_options), folded(net, fold_options);
  for (cf::Executor* ex : {&plain, &folded}) {
    cf::Rng rng(5);
    ex->init_params(rng, cf::InitScheme::torch_default);
    fill_input(*ex, 12);
    ex->forward(true);
  }
  CHECK(logits(plain) == logits(folded));  // bit-identical
  for (size_t i = 0; i < plain.bn_stats().size(); ++i)
    CHECK(plain.bn_stats()[i].running_var == folded.bn_stats()[i].running_var);
  // The inference pass after training folds the statistics the training pass just updated.
  plain.forward(false);
  folded.forward(false);
  const std::vector<float> expected = logits(plain);
  CHECK(max_abs_difference(logits(folded), expected) < 1e-4 * std::max(1.0, max_abs(expected)));
}

TEST_CASE("latency: a positive median over the asked runs, options checked", "[trainer][latency]") {
  const cf::Network net = small_nasnet();
  cf::LatencyOptions options;
  options.warmup = 2;
  options.runs = 7;
  const cf::LatencyResult r = cf::measure_latency(net, options);
  CHECK(r.runs == 7);
  CHECK(r.samples_ms.size() == 7);
  CHECK(r.threads == 1);
  CHECK(r.median_ms > 0);
  CHECK(r.min_ms > 0);
  CHECK(r.min_ms <= r.median_ms);
  CHECK(r.cv >= 0);
  CHECK(r.folded_batch_norms == foldable_batch_norms(net));
  options.fold_batch_norm = false;
  CHECK(cf::measure_latency(net, options).folded_batch_norms == 0);

  cf::LatencyOptions bad = options;
  bad.runs = 0;
  CHECK_THROWS_WITH(cf::measure_latency(net, bad), Catch::Contains("latency runs 0"));
  bad = options;
  bad.threads = 0;
  CHECK_THROWS_WITH(cf::validate(bad), Catch::Contains("latency threads 0 is out of range [1,"));
  CHECK_THROWS_WITH(cf::measure_latency(small_nasnet(true), options),
                    Catch::Contains("auxiliary head"));
}

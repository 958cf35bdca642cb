// The training loop: determinism, failures as results, weight files, and a real Fashion-MNIST run.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cli_helpers.h"
#include "skip.h"
#include "trainer_fixtures.h"
#include "trainer/train.h"
#include "trainer/weights.h"

namespace {

using cf::test::synthetic_data;

cf::Network small_network(int classes = 4) {
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.stem_multiplier = 2;
  spec.input = {1, 8, 8};
  spec.classes = classes;
  return cf::build_network(*cf::builtin_genotype("nasnet_a"), spec);
}

cf::TrainOptions small_options() {
  cf::TrainOptions o;
  o.epochs = 2;
  o.batch = 16;
  o.lr = 0.05f;
  o.seed = 5;
  o.drop_path = 0.2f;  // exercise the drop-path masks too
  o.augment = true;
  o.cutout = 3;
  return o;
}

std::vector<std::vector<float>> all_weights(const cf::Executor& ex) {
  std::vector<std::vector<float>> out;
  for (const auto& p : ex.params()) out.push_back(ex.read_param(p));
  for (const auto& s : ex.bn_stats()) out.push_back(s.running_mean), out.push_back(s.running_var);
  return out;
}

}  // namespace

TEST_CASE("same seed and threads give bit-identical losses and weights", "[trainer][determinism]") {
  const auto data = synthetic_data(160, 32, 1);
  const auto net = small_network();
  const auto opts = small_options();
  cf::ExecutorOptions eo;
  eo.batch = opts.batch;
  cf::Executor a(net, eo), b(net, eo), c(net, eo);
  const auto ra = cf::train_network(net, data, opts, {}, &a);
  const auto rb = cf::train_network(net, data, opts, {}, &b);
  REQUIRE(ra.status == cf::TrainStatus::ok);
  REQUIRE(ra.losses.size() == 20);
  CHECK(ra.losses == rb.losses);  // exact float equality
  CHECK(all_weights(a) == all_weights(b));
  CHECK(ra.valid_accuracy == rb.valid_accuracy);
  auto other = opts;
  other.seed = 6;
  const auto rc = cf::train_network(net, data, other, {}, &c);
  CHECK(rc.losses != ra.losses);
}

TEST_CASE("a diverging loss ends training with a status and a reason", "[trainer][failures]") {
  const auto data = synthetic_data(64, 16, 2);
  const auto net = small_network();
  auto opts = small_options();
  opts.lr = 1e9f;
  opts.sgd.clip_norm = 0;
  opts.epochs = 5;
  const auto r = cf::train_network(net, data, opts);
  CHECK(r.status == cf::TrainStatus::diverged);
  CHECK_THAT(r.reason, Catch::Contains("training loss became"));
  CHECK_THAT(r.reason, Catch::Contains("epoch"));
}

TEST_CASE("a network over the memory limit is a result, not a crash", "[trainer][failures]") {
  const auto data = synthetic_data(64, 16, 3);
  const auto net = small_network();
  auto opts = small_options();
  opts.memory_limit_bytes = 1 << 20;
  const auto r = cf::train_network(net, data, opts);
  CHECK(r.status == cf::TrainStatus::memory_limit);
  CHECK_THAT(r.reason, Catch::Contains("exceeds the limit of 1 MiB"));
  CHECK(r.estimated_bytes > (1 << 20));
  // Too few images for one batch.
  opts.memory_limit_bytes = int64_t{1} << 34;
  opts.batch = 128;
  const auto small = cf::train_network(net, data, opts);
  CHECK(small.status == cf::TrainStatus::failed);
  CHECK_THAT(small.reason, Catch::Contains("fewer than one batch"));
}

TEST_CASE("the synthetic task is learned and weights round-trip through a file", "[trainer][weights]") {
  const auto data = synthetic_data(480, 96, 4);
  const auto net = small_network();
  auto opts = small_options();
  opts.epochs = 3;
  opts.drop_path = 0;
  opts.augment = false;  // a flip would swap the quadrant that defines the label
  opts.cutout = 0;
  cf::ExecutorOptions eo;
  eo.batch = opts.batch;
  cf::Executor ex(net, eo);
  const auto r = cf::train_network(net, data, opts, {}, &ex);
  REQUIRE(r.status == cf::TrainStatus::ok);
  CHECK(r.valid_accuracy > 0.8);  // chance is 0.25
  cf::test::TempDir dir;
  const auto file = dir / "w.bin";
  cf::save_weights(ex, file);
  cf::Executor fresh(net, eo);
  cf::Rng rng(123);
  fresh.init_params(rng);
  cf::load_weights(fresh, file);
  CHECK(all_weights(fresh) == all_weights(ex));
  CHECK(cf::evaluate_accuracy(fresh, data.valid, data.mean, data.stddev) == r.valid_accuracy);
  // Wrong network, truncated file, not a weights file.
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 12;
  spec.input = {1, 8, 8};
  spec.classes = 4;
  cf::Executor other(cf::build_network(*cf::builtin_genotype("nasnet_a"), spec), eo);
  CHECK_THROWS_WITH(cf::load_weights(other, file), Catch::Contains("has") && Catch::Contains("values, the network needs"));
  const auto size = std::filesystem::file_size(file);
  std::filesystem::resize_file(file, size / 2);
  CHECK_THROWS_WITH(cf::load_weights(fresh, file), Catch::Contains("truncated"));
  cf::test::write_file(dir / "junk.bin", "hello");
  CHECK_THROWS_WITH(cf::load_weights(fresh, dir / "junk.bin"), Catch::Contains("not a cellforge weights file"));
}

TEST_CASE("a short Fashion-MNIST run rises far above chance", "[trainer][fashion-mnist]") {
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir)) {
    cf::test::skip(dir.string() + " not installed (Debian package dataset-fashion-mnist)");
    return;
  }
  cf::DataOptions dopts;
  dopts.dir = dir;
  dopts.train_images = 2048;
  dopts.valid_images = 1000;
  const auto data = cf::load_dataset(dopts);
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.stem_multiplier = 2;
  spec.input = {1, 28, 28};
  spec.classes = 10;
  const auto net = cf::build_network(*cf::builtin_genotype("nasnet_a"), spec);
  cf::TrainOptions opts;
  opts.epochs = 1;
  opts.batch = 32;
  opts.lr = 0.05f;
  const auto r = cf::train_network(net, data, opts);
  REQUIRE(r.status == cf::TrainStatus::ok);
  INFO("validation accuracy " << r.valid_accuracy);
  CHECK(r.valid_accuracy > 0.5);  // chance is 0.1; this setting gives ~0.64
}

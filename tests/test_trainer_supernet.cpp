// The weight-sharing supernet (trainer/supernet.h): what is shared, that a path trains as its
// stand-alone network would, determinism, exact resume, and batch-norm recalibration.
#include <omp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <numeric>
#include <set>

#include "space/file_io.h"
#include "space/genotype.h"
#include "space/search_space.h"
#include "trainer/supernet.h"
#include "trainer_fixtures.h"

namespace {

cf::SupernetTrainOptions small_options() {
  cf::SupernetTrainOptions o;
  o.network.cells_per_stack = 1;
  o.network.filters = 8;
  o.network.stem_multiplier = 1;
  o.batch = 16;
  o.lr = 0.1f;
  o.seed = 5;
  return o;
}

cf::NasnetSpace small_space() {
  cf::NasnetSpaceConfig config;
  config.ops = {cf::OpId::sep_conv_3x3, cf::OpId::max_pool_3x3, cf::OpId::identity,
                cf::OpId::conv_1x1};
  config.blocks = 2;
  return cf::NasnetSpace(config);
}

cf::PathSampler uniform_sampler(const cf::NasnetSpace& space) {
  return [&space](cf::Rng& rng) { return space.decode(space.sample(rng)); };
}

// Always the same path (the rng still moves, as a sampler's would not need to).
cf::PathSampler fixed(const cf::Genotype& g) {
  return [g](cf::Rng&) { return g; };
}

std::map<std::string, std::vector<float>> values_of(const cf::ParamBank& bank) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [key, e] : bank.entries()) out[key] = e.value;
  return out;
}

std::set<std::string> keys_of(const cf::Genotype& g, const cf::SupernetTrainOptions& o,
                              const cf::DataSplits& data) {
  cf::NetworkSpec spec = o.network;
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  cf::ExecutorOptions eo;
  eo.batch = o.batch;
  cf::Executor ex(cf::build_network(g, spec), eo);
  std::set<std::string> keys;
  for (const auto& p : ex.params()) keys.insert(cf::ParamBank::key(p));
  return keys;
}

}  // namespace

TEST_CASE("a supernet step changes exactly the entries of its path", "[trainer][supernet]") {
  omp_set_num_threads(2);
  const cf::DataSplits data = cf::test::synthetic_data(64, 32, 1);
  const cf::NasnetSpace space = small_space();
  cf::SupernetTrainOptions o = small_options();
  cf::Rng pick(3);
  cf::Genotype a = space.decode(space.sample(pick));
  a.normal.blocks[0].ops[0] = cf::OpId::sep_conv_3x3;
  // Both cell inputs used in both cells: no dead (zero-gradient) part in either path.
  a.normal.blocks[0].inputs = {0, 1};
  a.reduction.blocks[0].inputs = {0, 1};
  cf::Genotype b = a;  // differs from a in one op of the normal cell's first block
  b.normal.blocks[0].ops[0] = cf::OpId::conv_1x1;
  const auto keys_a = keys_of(a, o, data), keys_b = keys_of(b, o, data);
  std::set<std::string> only_a, shared;
  for (const auto& k : keys_a) (keys_b.count(k) ? shared : only_a).insert(k);
  REQUIRE(!only_a.empty());
  REQUIRE(shared.size() > only_a.size());  // stem, head, the other cells

  cf::SupernetState state = cf::new_supernet_state(data, o);
  // One step of a path (the run is stopped after it).
  auto run_one = [&](const cf::Genotype& g) {
    const int64_t before = state.step;
    cf::SupernetCallbacks stop;
    stop.should_stop = [&] { return state.step == before + 1; };
    cf::train_supernet(state, data, o, fixed(g), stop);
    REQUIRE(state.step == before + 1);
  };
  run_one(a);
  REQUIRE(state.step == 1);
  std::set<std::string> banked;
  for (const auto& [k, e] : state.bank.entries()) banked.insert(k);
  CHECK(banked == keys_a);
  const auto after_a = values_of(state.bank);
  run_one(b);
  const auto after_b = values_of(state.bank);
  for (const auto& k : keys_a) {
    INFO(k);
    if (shared.count(k)) {
      CHECK(after_b.at(k) != after_a.at(k));  // b's step moved the shared weights
      CHECK(state.bank.entries().at(k).steps == 2);
    } else {
      CHECK(after_b.at(k) == after_a.at(k));  // a's own weights untouched by b
      CHECK(state.bank.entries().at(k).steps == 1);
    }
  }
  for (const auto& k : keys_b)
    if (!keys_a.count(k)) CHECK(state.bank.entries().at(k).steps == 1);
}

TEST_CASE("a supernet path trains exactly as its stand-alone network", "[trainer][supernet]") {
  omp_set_num_threads(2);
  const cf::DataSplits data = cf::test::synthetic_data(16, 16, 2);
  cf::SupernetTrainOptions o = small_options();
  o.augment = false;
  o.sgd.clip_norm = 0;  // the bank sums the norm in plain order, Sgd in the primitives' layout
  const cf::NasnetSpace space = small_space();
  cf::Rng pick(11);
  const cf::Genotype g = space.decode(space.sample(pick));
  cf::SupernetState state = cf::new_supernet_state(data, o);
  REQUIRE(cf::train_supernet(state, data, o, fixed(g)).status == cf::TrainStatus::ok);
  REQUIRE(state.step == 1);

  // The stand-alone network from the same initial values (the path's fresh stream) and batch.
  cf::NetworkSpec spec = o.network;
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  const cf::Network net = cf::build_network(g, spec);
  cf::ExecutorOptions eo;
  eo.batch = o.batch;
  eo.drop_path = false;
  cf::Executor ex(net, eo);
  cf::Rng root(o.seed);
  cf::Rng init_rng = root.split();
  cf::Rng path_init = init_rng.split();
  const cf::ParamValues init = cf::init_param_values(net, path_init, o.init);
  for (auto& p : ex.params()) ex.write_param(p, init.at(p.name));
  cf::Rng order_rng = root.split();
  std::vector<int> order(data.train.count);
  std::iota(order.begin(), order.end(), 0);
  order_rng.shuffle(order);
  std::vector<int32_t> labels(o.batch);
  cf::fill_batch(data.train, data.mean, data.stddev, order.data(), o.batch, ex.input(),
                 labels.data(), nullptr, nullptr);
  ex.forward(true);
  const double loss = ex.loss(labels.data(), o.label_smoothing, o.aux_weight, nullptr);
  CHECK(static_cast<float>(loss) == state.losses.at(0));
  ex.backward();
  cf::Sgd sgd(ex.params(), o.sgd);
  sgd.step(o.lr);
  int compared = 0;
  for (const auto& p : ex.params()) {
    INFO(p.name);
    CHECK(ex.read_param(p) == state.bank.entries().at(cf::ParamBank::key(p)).value);
    ++compared;
  }
  CHECK(compared == static_cast<int>(state.bank.entries().size()));
}

TEST_CASE("supernet training is deterministic and resumes to the same bits",
          "[trainer][supernet]") {
  omp_set_num_threads(2);
  const cf::DataSplits data = cf::test::synthetic_data(48, 16, 3);
  const cf::NasnetSpace space = small_space();
  cf::SupernetTrainOptions o = small_options();
  o.epochs = 2;  // 3 steps per epoch: the resume point below is mid-epoch
  cf::SupernetState whole = cf::new_supernet_state(data, o);
  std::vector<std::string> paths;
  cf::SupernetCallbacks record;
  record.on_step = [&](int64_t, int64_t, double, const cf::Genotype& g) {
    paths.push_back(cf::canonical_string(g));
  };
  REQUIRE(cf::train_supernet(whole, data, o, uniform_sampler(space), record).status ==
          cf::TrainStatus::ok);
  REQUIRE(whole.step == 6);
  CHECK(std::set<std::string>(paths.begin(), paths.end()).size() > 1);  // several paths

  cf::SupernetState again = cf::new_supernet_state(data, o);
  REQUIRE(cf::train_supernet(again, data, o, uniform_sampler(space)).status == cf::TrainStatus::ok);
  CHECK(again.losses == whole.losses);
  CHECK(values_of(again.bank) == values_of(whole.bank));

  // Stopped after 4 steps, saved, loaded, continued.
  const auto file = std::filesystem::temp_directory_path() /
                    ("cf-supernet-" + std::to_string(::getpid()) + ".bin");
  cf::SupernetState part = cf::new_supernet_state(data, o);
  cf::SupernetCallbacks stop;
  stop.should_stop = [&] { return part.step == 4; };
  stop.on_checkpoint = [&](const cf::SupernetState& s) { cf::save_supernet(file, s, "meta"); };
  o.checkpoint_steps = 2;
  CHECK(cf::train_supernet(part, data, o, uniform_sampler(space), stop).status ==
        cf::TrainStatus::failed);
  REQUIRE(part.step == 4);
  std::string meta;
  cf::SupernetState resumed = cf::load_supernet(file, &meta);
  CHECK(meta == "meta");
  CHECK(resumed.step == 4);
  REQUIRE(cf::train_supernet(resumed, data, o, uniform_sampler(space)).status ==
          cf::TrainStatus::ok);
  CHECK(resumed.losses == whole.losses);
  CHECK(values_of(resumed.bank) == values_of(whole.bank));
  for (const auto& [k, e] : whole.bank.entries())
    CHECK(resumed.bank.entries().at(k).velocity == e.velocity);

  // A damaged file is refused with its name.
  {
    std::string bytes = cf::read_file_capped(file, 1 << 30, "test");
    cf::write_file_atomic(file, bytes.substr(0, bytes.size() - 10));
    CHECK_THROWS_WITH(cf::load_supernet(file),
                      Catch::Contains(file.string()) && Catch::Contains("damaged"));
    cf::write_file_atomic(file, "CFSUPERNET1\n{\"step\": ");
    CHECK_THROWS_WITH(cf::load_supernet(file), Catch::Contains(file.string()));
    cf::write_file_atomic(file, "not a checkpoint");
    CHECK_THROWS_WITH(cf::load_supernet(file),
                      Catch::Contains("not a cellforge supernet checkpoint"));
  }
  std::filesystem::remove(file);
}

TEST_CASE("supernet training applies warm-up, cutout, drop path and dropout, and resumes them",
          "[trainer][supernet]") {
  omp_set_num_threads(2);
  const cf::DataSplits data = cf::test::synthetic_data(48, 16, 3);
  const cf::NasnetSpace space = small_space();
  cf::SupernetTrainOptions base = small_options();
  base.epochs = 2;
  auto run = [&](const cf::SupernetTrainOptions& o) {
    cf::SupernetState state = cf::new_supernet_state(data, o);
    REQUIRE(cf::train_supernet(state, data, o, uniform_sampler(space)).status ==
            cf::TrainStatus::ok);
    return state;
  };
  const cf::SupernetState plain = run(base);
  const auto differs = [&](const cf::SupernetTrainOptions& o) {
    return run(o).losses != plain.losses;
  };
  cf::SupernetTrainOptions o = base;
  o.warmup_epochs = 1;
  CHECK(differs(o));
  o = base;
  o.cutout = 4;
  CHECK(differs(o));
  o = base;
  o.drop_path = 0.5f;
  CHECK(differs(o));
  o = base;
  o.network.dropout = 0.5f;
  CHECK(differs(o));

  // All of them at once: the same bits twice, and across a save, load and resume mid-epoch.
  o = base;
  o.warmup_epochs = 0.5f;
  o.cutout = 4;
  o.drop_path = 0.3f;
  o.network.dropout = 0.2f;
  const cf::SupernetState whole = run(o);
  CHECK(run(o).losses == whole.losses);
  const auto file = std::filesystem::temp_directory_path() /
                    ("cf-supernet-reg-" + std::to_string(::getpid()) + ".bin");
  cf::SupernetState part = cf::new_supernet_state(data, o);
  cf::SupernetCallbacks stop;
  stop.should_stop = [&] { return part.step == 4; };
  CHECK(cf::train_supernet(part, data, o, uniform_sampler(space), stop).status ==
        cf::TrainStatus::failed);
  REQUIRE(part.step == 4);
  cf::save_supernet(file, part, "");
  cf::SupernetState resumed = cf::load_supernet(file);
  std::filesystem::remove(file);
  REQUIRE(cf::train_supernet(resumed, data, o, uniform_sampler(space)).status ==
          cf::TrainStatus::ok);
  CHECK(resumed.losses == whole.losses);
  CHECK(values_of(resumed.bank) == values_of(whole.bank));
}

TEST_CASE("scoring recalibrates batch-norm statistics only", "[trainer][supernet]") {
  omp_set_num_threads(2);
  const cf::DataSplits data = cf::test::synthetic_data(64, 40, 4);
  const cf::NasnetSpace space = small_space();
  cf::SupernetTrainOptions o = small_options();
  o.epochs = 2;
  cf::SupernetState state = cf::new_supernet_state(data, o);
  REQUIRE(cf::train_supernet(state, data, o, uniform_sampler(space)).status == cf::TrainStatus::ok);
  const auto bank_before = values_of(state.bank);
  cf::Rng pick(7);
  const cf::Genotype g = space.decode(space.sample(pick));
  cf::PathScoreOptions so;
  so.batch = 16;
  so.calibration_batches = 3;
  so.images = 40;
  const cf::PathScore score = cf::score_path(state.bank, g, data, o.network, so);
  CHECK(values_of(state.bank) == bank_before);  // the bank is read only
  CHECK(score.images == 40);
  CHECK(score.accuracy >= 0.0);
  CHECK(score.accuracy <= 1.0);

  // Same path, same bank: the same score; the recalibrated statistics are the per-channel mean
  // over the calibration batches of each batch's mean (checked on the stem's batch norm from the
  // convolution's own outputs), and the parameters are the bank's.
  CHECK(cf::score_path(state.bank, g, data, o.network, so).accuracy == score.accuracy);
  cf::NetworkSpec spec = o.network;
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  const cf::Network net = cf::build_network(g, spec);
  cf::ExecutorOptions eo;
  eo.batch = so.batch;
  eo.drop_path = false;
  eo.bn_momentum = 1.0f;
  cf::Executor ex(net, eo);
  cf::ParamBank copy = state.bank;
  copy.load_into(ex, [&] {
    cf::Rng r(0);
    return cf::init_param_values(net, r, o.init);
  });
  std::vector<std::vector<float>> params_before;
  for (const auto& p : ex.params()) params_before.push_back(ex.read_param(p));
  cf::recalibrate_batch_norm(ex, data, so.calibration_batches);
  for (size_t k = 0; k < ex.params().size(); ++k)
    CHECK(ex.read_param(ex.params()[k]) == params_before[k]);
  int stem_conv = -1, stem_bn = -1;
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    if (net.layers[i].name == "stem.conv") stem_conv = i;
    if (net.layers[i].kind == cf::LayerKind::batch_norm && stem_bn < 0) stem_bn = i;
  }
  REQUIRE(stem_conv >= 0);
  REQUIRE(net.layers[stem_bn].inputs[0] == stem_conv);
  const int channels = net.layers[stem_conv].out.c;
  const int64_t hw = int64_t{net.layers[stem_conv].out.h} * net.layers[stem_conv].out.w;
  std::vector<double> expected(channels, 0.0);
  cf::Executor probe(net, eo);
  for (size_t k = 0; k < ex.params().size(); ++k)
    probe.write_param(probe.params()[k], ex.read_param(ex.params()[k]));
  std::vector<int> indices(so.batch);
  std::vector<int32_t> labels(so.batch);
  for (int b = 0; b < so.calibration_batches; ++b) {
    std::iota(indices.begin(), indices.end(), b * so.batch);
    cf::fill_batch(data.train, data.mean, data.stddev, indices.data(), so.batch, probe.input(),
                   labels.data(), nullptr, nullptr);
    probe.forward(true);
    const std::vector<float> out = probe.layer_value(stem_conv);
    for (int c = 0; c < channels; ++c) {
      double s = 0;
      for (int n = 0; n < so.batch; ++n)
        for (int64_t i = 0; i < hw; ++i) s += out[(int64_t{n} * channels + c) * hw + i];
      expected[c] += s / (so.batch * hw) / so.calibration_batches;
    }
  }
  const cf::BnStats* stats = nullptr;
  for (const auto& s : ex.bn_stats())
    if (s.layer == stem_bn) stats = &s;
  REQUIRE(stats != nullptr);
  for (int c = 0; c < channels; ++c)
    CHECK(stats->running_mean[c] == Approx(expected[c]).margin(1e-4));
}

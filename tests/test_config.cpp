// Config conversion: numbers that do not fit, the frozen config.ini round trip of any text value,
// and training settings from flags checked against the one training schema.
#include <catch2/catch.hpp>
#include <sstream>

#include "cli_helpers.h"
#include "search/config.h"
#include "space/genotype.h"
#include "trainer/cpus.h"

using cf::test::TempDir;
using cf::test::write_file;

TEST_CASE("numbers that underflow or overflow a double get a clear error naming the key",
          "[config]") {
  TempDir dir;
  write_file(dir / "c.ini", "[proxy]\nlr = 1e-400\n");
  CHECK_THROWS_WITH(cf::load_config(dir / "c.ini"),
                    Catch::Contains("c.ini:2") && Catch::Contains("proxy.lr") &&
                        Catch::Contains("1e-400") && Catch::Contains("range of a double"));
  write_file(dir / "c.ini", "[proxy]\n");
  CHECK_THROWS_WITH(cf::load_config(dir / "c.ini", {"proxy.weight_decay=1e999"}),
                    Catch::Contains("--set") && Catch::Contains("proxy.weight_decay"));
  CHECK_THROWS_WITH(cf::load_config(dir / "c.ini", {"budget.candidates=99999999999999999999"}),
                    Catch::Contains("budget.candidates") && Catch::Contains("out of range"));
  write_file(dir / "t.ini", "[train]\n");
  CHECK_THROWS_WITH(cf::load_train_config(dir / "t.ini", {"train.lr=1e-400"}),
                    Catch::Contains("train.lr"));
}

TEST_CASE("the frozen config.ini reads back every text value, with '#', quotes and newlines",
          "[config]") {
  TempDir dir;
  write_file(dir / "c.ini", "[campaign]\nname = plain  # an inline comment\n");
  const cf::CampaignConfig plain = cf::load_config(dir / "c.ini");
  CHECK(plain.name == "plain");
  for (const std::string name : {"a#b", "line1\nline2", "quote\"d", "back\\slash", "tab\there",
                                 "\"leading quote", "ctrl\x01"}) {
    INFO(name);
    const cf::CampaignConfig c = cf::load_config(dir / "c.ini", {"campaign.name=" + name});
    CHECK(c.name == name);
    write_file(dir / "frozen.ini", c.to_ini());
    const cf::CampaignConfig back = cf::load_config(dir / "frozen.ini");
    CHECK(back.name == name);
    CHECK(back.identity_hash() == c.identity_hash());
  }
  write_file(dir / "bad.ini", "[campaign]\nname = \"unterminated\n");
  CHECK_THROWS_WITH(cf::load_config(dir / "bad.ini"),
                    Catch::Contains("bad.ini:2") && Catch::Contains("unterminated"));
  write_file(dir / "bad.ini", "[campaign]\nname = \"x\" y\n");
  CHECK_THROWS_WITH(cf::load_config(dir / "bad.ini"), Catch::Contains("after the closing quote"));
}

TEST_CASE("training settings from flags use the training schema's ranges", "[config][train]") {
  const cf::TrainConfig ok =
      cf::train_config_from_settings({{"train.weight_decay", "0.001", "--weight-decay"}});
  CHECK(ok.train.sgd.weight_decay == Approx(0.001f));
  CHECK(ok.values.at("train.weight_decay") == "0.001");
  const std::vector<std::pair<cf::Setting, std::string>> bad = {
      {{"train.weight_decay", "-5", "--weight-decay"}, "--weight-decay: -5 is out of range"},
      {{"train.clip_norm", "-1", "--clip-norm"}, "--clip-norm: -1 is out of range"},
      {{"train.warmup_epochs", "-1", "--warmup-epochs"}, "--warmup-epochs: -1 is out of range"},
      {{"train.cutout", "100000", "--cutout"}, "--cutout: 100000 is out of range"},
      {{"train.memory_limit_gb", "inf", "--memory-limit-gb"},
       "--memory-limit-gb: 'inf' is not a number"},
      {{"train.memory_limit_gb", "nan", "--memory-limit-gb"},
       "--memory-limit-gb: 'nan' is not a number"},
  };
  for (const auto& [setting, message] : bad) {
    INFO(setting.where);
    CHECK_THROWS_WITH(cf::train_config_from_settings({setting}), Catch::StartsWith(message));
  }
}

TEST_CASE("zero-cost guidance keys: parsed, checked against the space and strategy", "[config]") {
  TempDir dir;
  write_file(dir / "c.ini", "[controller]\nwarmup = synflow:500\nproposal = synflow:8\n");
  const cf::CampaignConfig ok = cf::load_config(dir / "c.ini");
  CHECK(ok.controller.guide.warmup == 500);
  CHECK(ok.controller.guide.proposal == 8);
  REQUIRE(ok.warmup.proxies.size() == 1u);
  CHECK(ok.warmup.proxies[0] == cf::ZeroCostProxy::synflow);
  write_file(dir / "c.ini", "[controller]\nstrategy = random\nwarmup = naswot:50\n");
  CHECK(cf::load_config(dir / "c.ini").controller.guide.warmup == 50);
  const std::pair<std::string, std::string> bad[] = {
      {"[controller]\nwarmup = synflow\n", "c.ini:2: controller.warmup: 'synflow' is not PROXY:N"},
      {"[controller]\nwarmup = magic:10\n", "controller.warmup: 'magic' is not a zero-cost proxy"},
      {"[controller]\nstrategy = rl\nproposal = synflow:5\n",
       "move proposals need controller.strategy = evolution"},
      {"[controller]\nwarmup = synflow+naswot:10\n", "nasnet campaigns score with one proxy"},
      {"[controller]\nwarmup = synflow:10\nproposal = naswot:5\n",
       "must use the proxies of controller.warmup"},
      {"[controller]\nwarmup = synflow:10\nscores = s.csv\n",
       "nasnet campaigns compute their scores"},
      {"[space]\ntype = nb201\n[controller]\nwarmup = synflow:10\n[proxy]\ntable = t.csv\n",
       "controller.scores: required"},
  };
  for (const auto& [text, message] : bad) {
    INFO(text);
    write_file(dir / "c.ini", text);
    CHECK_THROWS_WITH(cf::load_config(dir / "c.ini"), Catch::Contains(message));
  }
}

TEST_CASE("threads = auto resolves to the usable CPUs and is frozen as the number", "[config]") {
  TempDir dir;
  write_file(dir / "c.ini", "[proxy]\n");
  const cf::CampaignConfig c = cf::load_config(dir / "c.ini");
  CHECK(c.proxy.train.threads == cf::usable_cpus());
  CHECK(c.values.at("proxy.threads") == std::to_string(cf::usable_cpus()));
  CHECK(c.to_ini().find("threads = " + std::to_string(cf::usable_cpus())) != std::string::npos);
  write_file(dir / "c.ini", "[proxy]\nthreads = auto\n");
  CHECK(cf::load_config(dir / "c.ini").proxy.train.threads == cf::usable_cpus());
  CHECK(cf::load_config(dir / "c.ini", {"proxy.threads=3"}).proxy.train.threads == 3);
  CHECK_THROWS_WITH(
      cf::load_config(dir / "c.ini", {"proxy.threads=many"}),
      Catch::Contains("proxy.threads") && Catch::Contains("'many' is not an integer"));
  CHECK_THROWS_WITH(cf::load_config(dir / "c.ini", {"proxy.threads=0"}),
                    Catch::Contains("proxy.threads") && Catch::Contains("out of range"));
  CHECK(cf::train_config_from_settings({{"train.threads", "auto", "--threads"}}).train.threads ==
        cf::usable_cpus());
  // Other integer keys do not take "auto".
  CHECK_THROWS_WITH(cf::train_config_from_settings({{"train.batch", "auto", "--batch"}}),
                    Catch::Contains("not an integer"));
}

TEST_CASE("train.init picks the initialisation scheme", "[config][train]") {
  CHECK(cf::train_config_from_settings({}).train.init == cf::InitScheme::torch_default);
  CHECK(cf::train_config_from_settings({{"train.init", "he_normal", "--init"}}).train.init ==
        cf::InitScheme::he_normal);
  CHECK(cf::train_config_from_settings({{"train.init", "glorot", "--init"}}).train.init ==
        cf::InitScheme::glorot);
  CHECK(cf::train_config_from_settings({{"train.init", "uniform_fan_in", "--init"}}).train.init ==
        cf::InitScheme::torch_default);
  CHECK_THROWS_WITH(
      cf::train_config_from_settings({{"train.init", "xavier", "--init"}}),
      Catch::StartsWith("--init: 'xavier' is not one of he_normal,uniform_fan_in,glorot"));
}

namespace {
// The frozen file without the line of `key` (as a run made before that key existed).
std::string without_key(const std::string& ini, const std::string& key) {
  std::istringstream in(ini);
  std::string out, line;
  while (std::getline(in, line))
    if (line.rfind(key + " =", 0) != 0) out += line + "\n";
  return out;
}
// The identity cellforge stored before v2: every key of the frozen file except [budget] and
// campaign.dir, "key=value" lines in key order.
std::string identity_before_v2(const cf::CampaignConfig& c) {
  std::string text;
  for (const auto& [key, value] : c.values)
    if (c.keys_in_file.count(key) && key.rfind("budget.", 0) != 0 && key != "campaign.dir")
      text += key + "=" + value + "\n";
  return cf::hash_hex(text);
}
}  // namespace

TEST_CASE(
    "a key added with its default leaves a run's identity unchanged, and runs made before v2 "
    "still resume",
    "[config][resume]") {
  TempDir dir;
  write_file(dir / "c.ini", "[campaign]\nname = id\n[proxy]\nlr = 0.1\n");
  const cf::CampaignConfig full = cf::load_config(dir / "c.ini");
  const std::string frozen = full.to_ini();
  REQUIRE(frozen.find("warmup =") != std::string::npos);
  // The same run frozen by a version without controller.warmup.
  write_file(dir / "old.ini", without_key(frozen, "warmup"));
  const cf::CampaignConfig old = cf::load_config(dir / "old.ini");
  CHECK(old.keys_in_file.count("controller.warmup") == 0);
  CHECK(old.identity_hash() == full.identity_hash());
  CHECK(old.identity_hash().rfind("v2:", 0) == 0);
  // Non-default values and only those count.
  CHECK(cf::load_config(dir / "c.ini", {"proxy.lr=0.2"}).identity_hash() != full.identity_hash());
  CHECK(cf::load_config(dir / "c.ini", {"budget.candidates=77"}).identity_hash() ==
        full.identity_hash());

  const std::string before_v2 = identity_before_v2(old);
  CHECK(old.matches_identity(before_v2));
  CHECK(old.matches_identity(old.identity_hash()));
  CHECK_FALSE(old.matches_identity("v2:0123"));
  // A changed key of the file, or a key the file lacks set away from its default, is a change.
  const cf::CampaignConfig changed = cf::load_config(dir / "old.ini", {"proxy.lr=0.3"});
  CHECK_FALSE(changed.matches_identity(before_v2));
  const cf::CampaignConfig guided =
      cf::load_config(dir / "old.ini", {"controller.warmup=synflow:5"});
  CHECK_FALSE(guided.matches_identity(before_v2));
  CHECK(cf::load_config(dir / "old.ini", {"budget.hours=3"}).matches_identity(before_v2));
}

TEST_CASE("a run frozen before proxy.init existed keeps training with he_normal",
          "[config][resume]") {
  TempDir dir;
  write_file(dir / "c.ini", "[campaign]\nname = old\n");
  const cf::CampaignConfig fresh = cf::load_config(dir / "c.ini");
  CHECK(fresh.values.at("proxy.init") == "uniform_fan_in");
  CHECK(fresh.proxy.train.init == cf::InitScheme::torch_default);
  // The same run's frozen file, written before the key existed.
  write_file(dir / "frozen.ini", without_key(fresh.to_ini(), "init"));
  const cf::CampaignConfig user = cf::load_config(dir / "frozen.ini");
  CHECK(user.proxy.train.init == cf::InitScheme::torch_default);  // a user's file: the default
  const cf::CampaignConfig old =
      cf::load_config(dir / "frozen.ini", {}, cf::ConfigFile::frozen_run);
  CHECK(old.values.at("proxy.init") == "he_normal");
  CHECK(old.proxy.train.init == cf::InitScheme::he_normal);
  CHECK(old.proxy_settings().at("train.init") == "he_normal");  // what its workers train with
  // Its identity is that of a run without the key, and it is stable once the key is written.
  CHECK(old.matches_identity(identity_before_v2(old)));
  write_file(dir / "rewritten.ini", old.to_ini());
  const cf::CampaignConfig again =
      cf::load_config(dir / "rewritten.ini", {}, cf::ConfigFile::frozen_run);
  CHECK(again.identity_hash() == old.identity_hash());
  CHECK(again.proxy.train.init == cf::InitScheme::he_normal);
  CHECK(fresh.identity_hash() != old.identity_hash());
  // An override still wins.
  CHECK(cf::load_config(dir / "frozen.ini", {"proxy.init=glorot"}, cf::ConfigFile::frozen_run)
            .proxy.train.init == cf::InitScheme::glorot);
}

TEST_CASE(
    "own-data settings reach campaigns and training configs, and their defaults change nothing",
    "[config][data]") {
  TempDir dir;
  write_file(dir / "c.ini", "[proxy]\nepochs = 1\n");
  const cf::CampaignConfig plain = cf::load_config(dir / "c.ini");
  const cf::DataOptions& d = plain.proxy.data;
  CHECK(d.conversion.is_default());
  CHECK(d.conversion.resize == cf::ResizeMode::resize);
  CHECK_FALSE(d.crop_padding.has_value());
  CHECK_FALSE(d.horizontal_flip.has_value());
  CHECK_FALSE(d.skip_bad_images);
  CHECK(d.format == cf::DatasetFormat::automatic);
  // A run made before the keys existed keeps its identity: defaults are not hashed.
  const std::string before = plain.identity_hash();
  CHECK(cf::load_config(dir / "c.ini", {"proxy.image_size=auto", "proxy.crop_padding=auto"})
            .identity_hash() == before);

  write_file(dir / "own.ini",
             "[proxy]\ndata_format = folder\nchannels = 3\nimage_size = 24\nresize = center_crop\n"
             "skip_bad_images = true\ncrop_padding = 3\n");
  const cf::CampaignConfig own = cf::load_config(dir / "own.ini");
  CHECK(own.proxy.data.format == cf::DatasetFormat::folder);
  CHECK(own.proxy.data.conversion.channels == 3);
  CHECK(own.proxy.data.conversion.image_size == 24);
  CHECK(own.proxy.data.conversion.resize == cf::ResizeMode::center_crop);
  CHECK(own.proxy.data.skip_bad_images);
  CHECK(own.proxy.data.crop_padding == 3);
  CHECK(own.identity_hash() != before);
  // Workers get them as training-config keys and convert them back the same way.
  std::vector<cf::Setting> job;
  for (const auto& [key, value] : own.proxy_settings()) job.push_back({key, value, "job"});
  const cf::TrainConfig worker = cf::train_config_from_settings(job);
  CHECK(worker.data.conversion.image_size == 24);
  CHECK(worker.data.conversion.resize == cf::ResizeMode::center_crop);
  CHECK(worker.data.crop_padding == 3);
  CHECK(worker.data.skip_bad_images);

  write_file(dir / "t.ini", "[data]\nformat = numpy\nchannels = 1\n");
  const cf::TrainConfig t = cf::load_train_config(dir / "t.ini");
  CHECK(t.data.format == cf::DatasetFormat::numpy);
  CHECK(t.data.conversion.channels == 1);
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"[data]\nimage_size = big\n", "data.image_size: 'big' is not auto or an integer"},
           {"[data]\nimage_size = 0\n", "data.image_size: 0 is out of range [1, 4096]"},
           {"[data]\nchannels = 4\n", "data.channels: '4' is not one of auto,1,3"},
           {"[data]\nresize = crop\n", "data.resize: 'crop' is not one of resize,center_crop"},
           {"[data]\ncrop_padding = -1\n", "data.crop_padding: -1 is out of range [0, 64]"},
           {"[data]\nformat = png\n", "data.format: 'png' is not one of"}}) {
    write_file(dir / "bad.ini", text);
    CHECK_THROWS_WITH(cf::load_train_config(dir / "bad.ini"),
                      Catch::Contains("bad.ini:2: " + message));
  }
}

TEST_CASE("controller.rl_failure_reward: empty or a number in [-1, 1]", "[config]") {
  TempDir dir;
  write_file(dir / "c.ini", "[controller]\nstrategy = rl\n");
  CHECK_FALSE(cf::load_config(dir / "c.ini").controller.rl.failure_reward.has_value());
  write_file(dir / "c.ini", "[controller]\nstrategy = rl\nrl_failure_reward = -0.5\n");
  CHECK(cf::load_config(dir / "c.ini").controller.rl.failure_reward == -0.5);
  write_file(dir / "c.ini", "[controller]\nstrategy = rl\nrl_failure_reward = lots\n");
  CHECK_THROWS_WITH(cf::load_config(dir / "c.ini"),
                    Catch::Contains("c.ini:3: controller.rl_failure_reward: 'lots' is not empty or "
                                    "a number in [-1, 1]"));
  CHECK_THROWS_WITH(cf::load_config(dir / "c.ini", {"controller.rl_failure_reward=2"}),
                    Catch::Contains("--set controller.rl_failure_reward=2"));
}

TEST_CASE("objective.mode and objective.pareto: parsed, checked, and off by default",
          "[config][objective]") {
  TempDir dir;
  write_file(dir / "c.ini", "[proxy]\nepochs = 1\n");
  const cf::CampaignConfig scalar = cf::load_config(dir / "c.ini");
  CHECK_FALSE(scalar.objective.pareto_mode());
  CHECK(scalar.controller.evolution.pareto_costs == 0);
  // The defaults are not part of a run's identity: runs made before the keys still resume.
  CHECK(cf::load_config(dir / "c.ini", {"objective.mode=scalar", "objective.pareto="})
            .identity_hash() == scalar.identity_hash());

  write_file(dir / "p.ini", "[objective]\nmode = pareto\npareto = params, latency\n");
  const cf::CampaignConfig pareto = cf::load_config(dir / "p.ini");
  CHECK(pareto.objective.pareto ==
        std::vector<cf::CostKind>{cf::CostKind::params, cf::CostKind::latency});
  CHECK(pareto.objective.needs_latency());
  CHECK(pareto.controller.evolution.pareto_costs == 2);
  CHECK(pareto.values.at("objective.pareto") == "params,latency");
  CHECK(pareto.identity_hash() != scalar.identity_hash());
  write_file(dir / "frozen.ini", pareto.to_ini());
  const cf::CampaignConfig back =
      cf::load_config(dir / "frozen.ini", {}, cf::ConfigFile::frozen_run);
  CHECK(back.objective.pareto == pareto.objective.pareto);
  CHECK(back.identity_hash() == pareto.identity_hash());
  CHECK(cf::load_config(dir / "p.ini", {"objective.pareto=macs"}).objective.pareto ==
        std::vector<cf::CostKind>{cf::CostKind::macs});

  const std::pair<std::string, std::string> bad[] = {
      {"[objective]\nmode = multi\n",
       "c.ini:2: objective.mode: 'multi' is not one of scalar,pareto"},
      {"[objective]\nmode = pareto\n",
       "c.ini: objective.pareto: required with objective.mode = pareto: one or two of params, "
       "macs, latency"},
      {"[objective]\npareto = params\n",
       "c.ini:2: objective.pareto: 'params' needs objective.mode = pareto"},
      {"[objective]\nmode = pareto\npareto = flops\n",
       "c.ini:3: objective.pareto: 'flops' is not one of params, macs, latency"},
      {"[objective]\nmode = pareto\npareto = params, params\n",
       "c.ini:3: objective.pareto: 'params' is listed twice"},
      {"[objective]\nmode = pareto\npareto = params, macs, latency\n",
       "c.ini:3: objective.pareto: 'params,macs,latency' is not one or two of params, macs, "
       "latency"},
      {"[controller]\nstrategy = rl\n[objective]\nmode = pareto\npareto = params\n",
       "c.ini:4: objective.mode: pareto needs controller.strategy = evolution, not rl"},
      {"[space]\ntype = nb201\n[proxy]\ntable = t.csv\n[objective]\nmode = pareto\npareto = "
       "params\n",
       "c.ini:6: objective.mode: [objective] applies to nasnet campaigns"},
      {"[objective]\nmode = pareto\npareto = params\nsoft_target_params = 100000\n",
       "c.ini:4: objective.soft_target_params: the soft reward folds size into one number"},
      {"[objective]\nmode = pareto\npareto = params\nsoft_target_latency_ms = 2\n",
       "c.ini:4: objective.soft_target_latency_ms: the soft reward folds size into one number"},
      {"[space]\ntype = nb201\n[proxy]\ntable = t.csv\n[objective]\nsoft_target_latency_ms = 2\n",
       "c.ini:6: objective.soft_target_latency_ms: [objective] applies to nasnet campaigns"},
      {"[objective]\nsoft_target_latency_ms = -1\n",
       "c.ini:2: objective.soft_target_latency_ms: -1 is out of range [0, 1e+06]"},
  };
  for (const auto& [text, message] : bad) {
    INFO(text);
    write_file(dir / "c.ini", text);
    try {
      cf::load_config(dir / "c.ini");
      FAIL("no error");
    } catch (const cf::ConfigError& e) {
      const std::string what = e.what();
      CHECK_THAT(what, Catch::Contains(message));
      CHECK(what.find('\n') == std::string::npos);  // one line
    }
  }
  CHECK_THROWS_WITH(cf::load_config(dir / "p.ini", {"objective.pareto=speed"}),
                    Catch::StartsWith("--set objective.pareto=speed: objective.pareto: 'speed' "
                                      "is not one of params, macs, latency"));
}

TEST_CASE("every shipped config loads", "[config]") {
  int campaigns = 0, trainings = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(CF_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".ini") continue;
    const std::string text = cf::test::read_file(entry.path());
    INFO(entry.path().string());
    if (text.find("[campaign]") != std::string::npos) {
      const cf::CampaignConfig c = cf::load_config(entry.path());
      CHECK(c.candidates > 0);
      ++campaigns;
      if (entry.path().filename() == "fashion-mnist-asha.ini") {
        CHECK(c.scheduler.kind == cf::SchedulerKind::asha);
        CHECK(cf::rung_epochs(c.scheduler) == std::vector<int>{1, 3, 9});
      }
    } else {
      CHECK_NOTHROW(cf::load_train_config(entry.path()));
      ++trainings;
    }
  }
  CHECK(campaigns >= 6);
  CHECK(trainings >= 2);
}

// cellforge supernet: weight sharing over a campaign config's NASNet space. `train` trains the
// one-shot supernet (one uniformly sampled cell per step, trainer/supernet.h) into
// <campaign.dir>/supernet/, resuming exactly from its last saved state; `score` scores cells with
// the supernet's inherited weights (batch-norm statistics recalibrated per cell).
#include "trainer/supernet.h"

#include <omp.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "search/campaign.h"
#include "search/cli/options.h"
#include "search/cli/stop_signals.h"
#include "search/config.h"
#include "space/file_io.h"
#include "space/search_space.h"
#include "trainer/cpus.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

const std::string kUsageLine =
    "cellforge supernet train CONFIG [--set section.key=value ...]\n"
    "       cellforge supernet score CONFIG [--arch A ...] [--sample K] [--out FILE]";

struct SupernetRun {
  CampaignConfig config;
  std::unique_ptr<SearchSpace> space;
  const NasnetSpace* nasnet = nullptr;
  std::filesystem::path dir, state_file;
  SupernetTrainOptions options;
};

SupernetRun open_run(const std::string& config_file, const std::vector<std::string>& overrides,
                     const std::string& usage) {
  if (config_file.empty()) throw UsageError("CONFIG is required", usage);
  SupernetRun run;
  run.config = load_config(config_file, overrides);
  const CampaignConfig& c = run.config;
  if (c.space_type != "nasnet")
    throw ConfigError(config_file + ": space.type = " + c.space_type +
                      ": the supernet shares weights between NASNet cells (space.type = nasnet)");
  if (c.supernet.epochs < 1)
    throw ConfigError(config_file +
                      ": supernet.epochs = 0: set the supernet's training length "
                      "(e.g. --set supernet.epochs=5)");
  run.space = make_space(c);
  run.nasnet = dynamic_cast<const NasnetSpace*>(run.space.get());
  run.dir = std::filesystem::path(c.dir) / "supernet";
  run.state_file = run.dir / "state.bin";
  SupernetTrainOptions& o = run.options;
  const TrainOptions& t = c.proxy.train;
  o.network = c.proxy.network;
  o.epochs = c.supernet.epochs;
  o.batch = t.batch;
  o.lr = t.lr;
  o.min_lr = t.min_lr;
  o.sgd = t.sgd;
  o.label_smoothing = t.label_smoothing;
  o.aux_weight = t.aux_weight;
  o.augment = t.augment;
  o.init = t.init;
  o.precision = usable_precision(t.precision);
  o.seed = c.seed;
  o.threads = t.threads;
  o.checkpoint_steps = c.supernet.checkpoint_steps;
  o.memory_limit_bytes = t.memory_limit_bytes;
  return run;
}

// What a saved state must match: every setting that changes the trained weights (how often it
// is saved and how cells are scored do not).
std::string training_identity(const CampaignConfig& config) {
  return config.identity_hash(
      {"supernet.checkpoint_steps", "supernet.calibration_batches", "supernet.score_images"});
}

// The saved state, when there is one: it must belong to this config.
std::optional<SupernetState> load_state(const SupernetRun& run) {
  if (!std::filesystem::exists(run.state_file)) return std::nullopt;
  std::string identity;
  SupernetState state = load_supernet(run.state_file, &identity);
  if (identity != training_identity(run.config))
    throw ConfigError(run.state_file.string() +
                      ": was trained under other settings than this config's; use the config it "
                      "was trained with, or another campaign.dir");
  return state;
}

int train(const SupernetRun& run, const DataSplits& data) {
  std::filesystem::create_directories(run.dir);
  const std::string identity = training_identity(run.config);
  std::optional<SupernetState> saved = load_state(run);
  SupernetState state = saved ? std::move(*saved) : new_supernet_state(data, run.options);
  if (saved)
    std::printf("resuming %s at step %lld\n", run.state_file.string().c_str(),
                static_cast<long long>(state.step));
  const NasnetSpace& space = *run.nasnet;
  const PathSampler uniform = [&space](Rng& rng) { return space.decode(space.sample(rng)); };
  SupernetCallbacks callbacks;
  double recent_loss = 0;
  int recent = 0;
  callbacks.on_step = [&](int64_t step, int64_t total, double loss, const Genotype&) {
    recent_loss += loss;
    if (++recent == 50 || step == total) {
      std::printf("step %lld/%lld  loss %.4f\n", static_cast<long long>(step),
                  static_cast<long long>(total), recent_loss / recent);
      std::fflush(stdout);
      recent_loss = 0;
      recent = 0;
    }
  };
  callbacks.on_checkpoint = [&](const SupernetState& s) {
    save_supernet(run.state_file, s, identity);
  };
  callbacks.should_stop = [] { return g_stop_signal != 0; };
  StopSignals signals;
  const SupernetResult r = train_supernet(state, data, run.options, uniform, callbacks);
  save_supernet(run.state_file, state, identity);  // a consistent state between two steps
  const double steps_per_second = r.seconds > 0 ? r.steps / r.seconds : 0;
  // Wall seconds of every run so far (those that ended or were stopped; a killed run's are lost).
  double seconds_total = r.seconds;
  const auto summary_file = run.dir / "summary.json";
  if (saved && std::filesystem::exists(summary_file)) {
    const nlohmann::json before = nlohmann::json::parse(
        read_file_capped(summary_file, 1 << 20, "supernet summary"), nullptr, false);
    if (before.is_object() && before.value("seconds_total", nlohmann::json()).is_number())
      seconds_total += before["seconds_total"].get<double>();
  }
  const nlohmann::json summary = {{"status", train_status_name(r.status)},
                                  {"reason", r.reason},
                                  {"steps_done", state.step},
                                  {"steps_this_run", r.steps},
                                  {"seconds_this_run", r.seconds},
                                  {"seconds_total", seconds_total},
                                  {"build_seconds_this_run", r.build_seconds},
                                  {"steps_per_second", steps_per_second},
                                  {"shared_tensors", state.bank.entries().size()},
                                  {"shared_values", state.bank.values()},
                                  {"precision", precision_name(run.options.precision)}};
  write_file_atomic(summary_file, summary.dump(2) + "\n");
  std::printf(
      "%lld steps in %.1f s (%.2f steps/s, %.0f%% building paths); %zu shared tensors, "
      "%lld values; state in %s\n",
      static_cast<long long>(r.steps), r.seconds, steps_per_second,
      r.seconds > 0 ? 100 * r.build_seconds / r.seconds : 0.0, state.bank.entries().size(),
      static_cast<long long>(state.bank.values()), run.state_file.string().c_str());
  if (r.status == TrainStatus::ok) return 0;
  if (g_stop_signal) return 130;
  std::fprintf(stderr, "cellforge supernet: %s: %s\n", train_status_name(r.status),
               r.reason.c_str());
  return 1;
}

int score(const SupernetRun& run, const std::vector<std::string>& archs, int sample,
          const std::string& out, const std::string& usage) {
  std::optional<SupernetState> state = load_state(run);
  if (!state)
    throw std::runtime_error(run.state_file.string() +
                             ": no trained supernet (run cellforge supernet train first)");
  std::vector<Genotype> cells;
  for (const auto& a : archs) {
    const Architecture arch = load_arch(a, usage, "nasnet");
    const Genotype& g = arch.nasnet();
    run.nasnet->encode(g);  // refuses a cell outside the campaign's space, naming the problem
    cells.push_back(g);
  }
  Rng rng(run.config.seed ^ 0x73636f7265ull);  // "score": its own stream of the campaign seed
  for (int k = 0; k < sample; ++k) cells.push_back(run.nasnet->decode(run.nasnet->sample(rng)));

  const DataSplits data = load_dataset(run.config.proxy.data);
  PathScoreOptions so;
  so.batch = run.options.batch;
  so.calibration_batches = run.config.supernet.calibration_batches;
  so.images = run.config.supernet.score_images;
  so.precision = run.options.precision;
  omp_set_num_threads(std::max(1, run.options.threads));
  const ThreadPinning pinning(std::max(1, run.options.threads));
  nlohmann::json rows = nlohmann::json::array();
  double seconds = 0;
  std::printf("%-16s  %8s  %7s  %s\n", "hash", "accuracy", "seconds", "untrained values");
  for (const Genotype& g : cells) {
    const PathScore s = score_path(state->bank, g, data, run.options.network, so);
    seconds += s.seconds;
    const std::string hash = canonical_hash(g);
    std::printf("%-16s  %7.2f%%  %7.3f  %lld\n", hash.c_str(), 100 * s.accuracy, s.seconds,
                static_cast<long long>(s.untrained_values));
    std::fflush(stdout);
    rows.push_back({{"hash", hash},
                    {"accuracy", s.accuracy},
                    {"images", s.images},
                    {"seconds", s.seconds},
                    {"untrained_values", s.untrained_values},
                    {"genotype", genotype_to_json(g)}});
  }
  std::printf("%zu cells in %.1f s: %.2f cells/s\n", cells.size(), seconds,
              seconds > 0 ? cells.size() / seconds : 0.0);
  if (!out.empty()) write_file_atomic(out, rows.dump(2) + "\n");
  return 0;
}

}  // namespace

int run_supernet(const Args& args) {
  std::string action, config_file, out;
  std::vector<std::string> overrides, archs;
  int sample = 0;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("action", po::value(&action), "train or score")(
      "config", po::value(&config_file), "campaign config file (INI) with a [supernet] section")(
      "set", po::value(&overrides)->composing(),
      "override a config key, e.g. --set supernet.epochs=2")(
      "arch", po::value(&archs)->composing(),
      "score: a cell to score (built-in name or genotype file), repeatable")(
      "sample", po::value(&sample), "score: K cells sampled uniformly from the space")(
      "out", po::value(&out), "score: write the scores (and genotypes) to this JSON file");
  po::positional_options_description positional;
  positional.add("action", 1).add("config", 1);
  po::variables_map vm;
  if (!parse_args(args, options, kUsageLine, vm, &positional)) return 0;
  const std::string usage = usage_text(kUsageLine, options);
  if (action != "train" && action != "score")
    throw UsageError(action.empty() ? "an action (train or score) is required"
                                    : "unknown action '" + action + "' (train or score)",
                     usage);
  if (action == "train" && (!archs.empty() || sample || !out.empty()))
    throw UsageError("--arch, --sample and --out belong to supernet score", usage);
  if (action == "score" && archs.empty() && sample == 0)
    throw UsageError("supernet score needs cells: --arch A (repeatable) and/or --sample K", usage);
  if (sample < 0) throw UsageError("--sample must be positive", usage);
  const SupernetRun run = open_run(config_file, overrides, usage);
  if (action == "score") return score(run, archs, sample, out, usage);
  return train(run, load_dataset(run.config.proxy.data));
}

}  // namespace cf::cli

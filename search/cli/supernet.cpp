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
#include "search/campaign_supernet.h"
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
  CampaignSupernet supernet;
};

SupernetRun open_run(const std::string& config_file, const std::vector<std::string>& overrides,
                     const std::string& usage) {
  if (config_file.empty()) throw UsageError("CONFIG is required", usage);
  SupernetRun run;
  run.config = load_config(config_file, overrides);
  run.supernet = campaign_supernet(run.config, config_file);
  run.space = make_space(run.config);
  run.nasnet = dynamic_cast<const NasnetSpace*>(run.space.get());
  return run;
}

int train(const SupernetRun& run, const DataSplits& data) {
  const CampaignSupernet& s = run.supernet;
  if (std::filesystem::exists(s.state_file))
    std::printf("resuming %s\n", s.state_file.string().c_str());
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
  callbacks.should_stop = [] { return g_stop_signal != 0; };
  StopSignals signals;
  const SupernetTraining t = train_campaign_supernet(s, *run.nasnet, data, callbacks);
  const SupernetResult& r = t.result;
  std::printf(
      "%lld steps in %.1f s (%.2f steps/s, %.0f%% building paths); %zu shared tensors, "
      "%lld values; state in %s\n",
      static_cast<long long>(r.steps), r.seconds, r.seconds > 0 ? r.steps / r.seconds : 0.0,
      r.seconds > 0 ? 100 * r.build_seconds / r.seconds : 0.0, t.state.bank.entries().size(),
      static_cast<long long>(t.state.bank.values()), s.state_file.string().c_str());
  if (r.status == TrainStatus::ok) return 0;
  if (g_stop_signal) return 130;
  std::fprintf(stderr, "cellforge supernet: %s: %s\n", train_status_name(r.status),
               r.reason.c_str());
  return 1;
}

int score(const SupernetRun& run, const std::vector<std::string>& archs, int sample,
          const std::string& out, const std::string& usage) {
  std::optional<SupernetState> state = load_campaign_supernet(run.supernet);
  if (!state)
    throw std::runtime_error(run.supernet.state_file.string() +
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
  const int threads = std::max(1, run.supernet.train.threads);
  omp_set_num_threads(threads);
  const ThreadPinning pinning(threads);
  nlohmann::json rows = nlohmann::json::array();
  double seconds = 0;
  std::printf("%-16s  %8s  %7s  %s\n", "hash", "accuracy", "seconds", "untrained values");
  for (const Genotype& g : cells) {
    const PathScore s = score_path(state->bank, g, data, run.supernet.train.network, run.supernet.score);
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

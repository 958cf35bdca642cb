// cellforge fidelity: retrain a sample of a campaign's candidates at the full-size setting and
// report how well the proxy ranks them (Kendall tau between proxy and full-size accuracy).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "results/statistics.h"
#include "results/store.h"
#include "search/cli/options.h"
#include "search/config.h"
#include "space/file_io.h"
#include "space/json_text.h"
#include "trainer/train.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

// "<config file stem>-<16 hex digits of the FNV-1a hash of every resolved setting>".
std::string setting_dir(const std::string& config_file, const TrainConfig& tc) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char ch : ini_text(tc.values)) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::filesystem::path(config_file).stem().string() + "-" + hex;
}

}  // namespace

int run_fidelity(const Args& args) {
  const std::string usage_line =
      "cellforge fidelity RUN_DIR --sample K --config TRAIN_CONFIG [--set key=value ...]";
  std::string run_dir, config_file;
  int sample = 5;
  std::vector<std::string> sets;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("run-dir", po::value(&run_dir),
                                                    "campaign run directory")(
      "sample", po::value(&sample)->default_value(sample),
      "candidates to retrain, spread over the proxy ranking")(
      "config", po::value(&config_file),
      "training config of the full-size setting (e.g. configs/fashion-mnist-full.ini)")(
      "set", po::value(&sets)->composing(), "override a training-config key");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (run_dir.empty() || config_file.empty())
    throw UsageError("RUN_DIR and --config are required", usage);
  if (sample < 2) throw UsageError("--sample must be at least 2", usage);
  const TrainConfig tc = load_train_config(config_file, sets);
  ResultsStore store(std::filesystem::path(run_dir) / "results.sqlite", StoreAccess::read);
  const std::vector<CandidateRecord> done = store.ranked_candidates();
  if (static_cast<int>(done.size()) < sample)
    throw std::runtime_error(run_dir + ": has " + std::to_string(done.size()) +
                             " finished candidates, fewer than --sample " + std::to_string(sample));
  // Evenly spaced over the proxy ranking, best and worst included.
  std::vector<CandidateRecord> picked;
  for (int k = 0; k < sample; ++k)
    picked.push_back(
        done[static_cast<size_t>(std::lround(k * (done.size() - 1.0) / (sample - 1)))]);

  const DataSplits data = load_dataset(tc.data);
  NetworkSpec spec = tc.network;
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  // One directory per training setting: a retraining is reused only under the same settings.
  const auto out_root = std::filesystem::path(run_dir) / "fidelity" / setting_dir(config_file, tc);
  std::filesystem::create_directories(out_root);
  std::printf("retrainings in %s\n", out_root.string().c_str());
  std::vector<double> proxy, full;
  std::printf("%-6s  %-16s  %8s  %8s\n", "id", "hash", "proxy", "full");
  for (const auto& c : picked) {
    const auto result_file = out_root / (c.hash + ".json");
    double accuracy = -1;
    if (std::filesystem::exists(result_file)) {  // done by an earlier, interrupted run
      const auto j = parse_json_text(read_file_capped(result_file, 1 << 20, "fidelity result"),
                                     result_file.string());
      if (!j.is_object() || !j.contains("accuracy") || !j["accuracy"].is_number())
        throw std::runtime_error(result_file.string() +
                                 ": no numeric \"accuracy\" (remove the file to retrain)");
      accuracy = j["accuracy"].get<double>();
    } else {
      const Network network = build_network(store.genotype(c), spec);
      const TrainResult r = train_network(network, data, tc.train);
      if (r.status != TrainStatus::ok)
        throw std::runtime_error("candidate " + std::to_string(c.id) + ": " +
                                 train_status_name(r.status) + ": " + r.reason);
      accuracy = r.test_accuracy >= 0 ? r.test_accuracy : r.valid_accuracy;
      write_file_atomic(result_file, nlohmann::json{{"id", c.id},
                                                    {"hash", c.hash},
                                                    {"proxy_accuracy", *c.accuracy},
                                                    {"accuracy", accuracy},
                                                    {"params", network.params()},
                                                    {"seconds", r.seconds}}
                                             .dump(2) +
                                         "\n");
    }
    proxy.push_back(*c.accuracy);
    full.push_back(accuracy);
    std::printf("%-6lld  %-16s  %7.2f%%  %7.2f%%\n", static_cast<long long>(c.id), c.hash.c_str(),
                100 * *c.accuracy, 100 * accuracy);
    std::fflush(stdout);
  }
  const double tau = kendall_tau(proxy, full);
  std::printf("Kendall tau between proxy and full-size accuracy over %d candidates: %.3f\n", sample,
              tau);
  // The campaign's own database was opened read-only (a running campaign may hold it); only
  // the event needs write access.
  ResultsStore(std::filesystem::path(run_dir) / "results.sqlite", StoreAccess::write)
      .add_event("fidelity", "Kendall tau " + std::to_string(tau) + " over " +
                                 std::to_string(sample) + " candidates (" + config_file + ")");
  return 0;
}

}  // namespace cf::cli

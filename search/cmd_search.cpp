// cellforge search / resume / status / top, and the hidden worker entry _evaluate.
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <iostream>

#include <nlohmann/json.hpp>

#include "results/store.h"
#include "search/campaign.h"
#include "search/cli_common.h"
#include "search/evaluator.h"
#include "search/mpi_session.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

// Under `mpirun -np K` the K-1 worker ranks are the workers: the campaign keeps K-1 candidates in
// flight and splits proxy.threads K-1 ways, exactly as K-1 local workers would, so it produces the
// same results, and the frozen config says so (a later resume without MPI continues alike).
// [budget] keys are not part of the config identity, so this never blocks a resume.
void use_mpi_worker_ranks(CampaignConfig& config, const char* command) {
  const int ranks = mpi_worker_ranks();
  if (ranks == 0 || config.space_type == "nb201" || config.workers == ranks) return;
  std::fprintf(stderr, "cellforge %s: budget.workers = %d replaced by %d, the number of MPI worker ranks\n", command,
               config.workers, ranks);
  config.workers = ranks;
  config.values["budget.workers"] = std::to_string(ranks);
}

// A live progress line on a terminal. Not under MPI: mpirun gives rank 0 a pseudo-terminal even
// when its own output goes to a file (a batch job's log), which would fill with escape codes.
bool shows_live_progress() { return isatty(fileno(stdout)) && mpi_worker_ranks() == 0; }

}  // namespace

int run_search(const Args& args) {
  const std::string usage_line = "cellforge search CONFIG [--set section.key=value ...] [--help-config]";
  std::string config_file;
  std::vector<std::string> overrides;
  bool help_config = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "config", po::value(&config_file), "campaign config file (INI)")(
      "set", po::value(&overrides)->composing(), "override a config key, e.g. --set proxy.epochs=2")(
      "help-config", po::bool_switch(&help_config), "document every config key");
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  if (help_config) {
    std::cout << "Config keys (INI sections [campaign] [space] [controller] [proxy] [budget]):\n\n"
              << config_reference_markdown();
    return 0;
  }
  if (config_file.empty()) throw UsageError("CONFIG is required", usage_text(usage_line, options));
  CampaignConfig config = load_config(config_file, overrides);
  use_mpi_worker_ranks(config, "search");
  CampaignRunOptions run;
  run.tty = shows_live_progress();
  return run_campaign(config, run);
}

int run_resume(const Args& args) {
  const std::string usage_line = "cellforge resume RUN_DIR [--set budget.key=value ...] [--force]";
  std::string run_dir;
  std::vector<std::string> overrides;
  bool force = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "run-dir", po::value(&run_dir), "the campaign's run directory")(
      "set", po::value(&overrides)->composing(), "override a key, e.g. --set budget.candidates=200")(
      "force", po::bool_switch(&force), "resume even though the config changed");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  if (run_dir.empty()) throw UsageError("RUN_DIR is required", usage_text(usage_line, options));
  CampaignConfig config = load_run_config(run_dir, overrides);
  config.dir = run_dir;  // the directory may have moved since
  config.values["campaign.dir"] = run_dir;
  use_mpi_worker_ranks(config, "resume");
  CampaignRunOptions run;
  run.resume = true;
  run.force = force;
  run.tty = shows_live_progress();
  return run_campaign(config, run);
}

namespace {

// The RUN_DIR argument of a command that takes nothing else; nullopt after --help.
std::optional<std::string> run_dir_argument(const Args& args, const std::string& usage_line) {
  std::string run_dir;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("run-dir", po::value(&run_dir), "run directory");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return std::nullopt;
  if (run_dir.empty()) throw UsageError("RUN_DIR is required", usage_text(usage_line, options));
  return run_dir;
}

}  // namespace

int run_status(const Args& args) {
  const auto run_dir = run_dir_argument(args, "cellforge status RUN_DIR");
  if (run_dir) std::cout << campaign_status_text(*run_dir);
  return 0;
}

int run_top(const Args& args) {
  const std::string usage_line = "cellforge top RUN_DIR [-n K] [--json]";
  std::string run_dir;
  int n = 10;
  bool json = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("run-dir", po::value(&run_dir), "run directory")(
      ",n", po::value(&n)->default_value(n), "how many candidates")(
      "json", po::bool_switch(&json), "print a JSON array");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (run_dir.empty()) throw UsageError("RUN_DIR is required", usage);
  if (n < 1) throw UsageError("-n must be at least 1", usage);
  ResultsStore store(std::filesystem::path(run_dir) / "results.sqlite", StoreAccess::read);
  std::vector<CandidateRecord> best = store.ranked_candidates();
  if (static_cast<int>(best.size()) > n) best.resize(n);
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : best)
      out.push_back({{"id", r.id},
                     {"hash", r.hash},
                     {"accuracy", *r.accuracy},
                     {"params", r.params},
                     {"macs", r.macs},
                     {"train_seconds", r.train_seconds},
                     {"genotype", store.genotype_json(r)},
                     {"metrics", store.metrics_json(r)}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  // Tabular benchmarks also know the architecture's final (200-epoch) test accuracy.
  const bool tabular = !best.empty() && store.metrics_json(best.front()).contains("test_accuracy_200ep");
  std::printf("%4s  %-6s  %-16s  %9s  %10s  %8s%s\n", "rank", "id", "hash", "accuracy", "params", "seconds",
              tabular ? "  test(200ep)" : "");
  int rank = 1;
  for (const auto& r : best) {
    std::printf("%4d  %-6lld  %-16s  %8.2f%%  %10lld  %8.1f", rank++, static_cast<long long>(r.id), r.hash.c_str(),
                100 * *r.accuracy, static_cast<long long>(r.params), r.train_seconds);
    if (tabular) std::printf("  %10.2f%%", store.metrics_json(r).value("test_accuracy_200ep", 0.0));
    std::printf("\n");
  }
  return 0;
}

int run_check(const Args& args) {
  const auto run_dir_arg = run_dir_argument(args, "cellforge check RUN_DIR");
  if (!run_dir_arg) return 0;
  const std::string& run_dir = *run_dir_arg;
  const std::filesystem::path dir = run_dir;
  std::vector<std::string> problems, recoverable;
  try {
    load_run_config(dir, {});
    recoverable.push_back("config.ini reads back");
  } catch (const std::exception& e) {
    problems.push_back(std::string("config: ") + e.what());
  }
  try {
    ResultsStore store(dir / "results.sqlite", StoreAccess::read);
    StoreProblems found = store.check();
    problems.insert(problems.end(), found.problems.begin(), found.problems.end());
    recoverable.insert(recoverable.end(), found.recoverable.begin(), found.recoverable.end());
    try {
      for (const auto& r : store.candidates()) store.genotype_json(r);
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  } catch (const std::exception& e) {
    problems.push_back(e.what());
    for (const char* f : {"results.sqlite-wal", "config.ini", "campaign.log", "workers.log"})
      if (std::filesystem::exists(dir / f)) recoverable.push_back(std::string(f) + " is present");
  }
  std::printf("%s: %s\n", run_dir.c_str(), problems.empty() ? "consistent" : "PROBLEMS FOUND");
  for (const auto& p : problems) std::printf("  problem: %s\n", p.c_str());
  for (const auto& r : recoverable) std::printf("  readable: %s\n", r.c_str());
  if (!problems.empty())
    std::printf("resume refuses this run directory; top, report and export read what is readable. Copy the\n"
                "directory before any repair; a damaged results.sqlite may be recovered with sqlite3's .recover.\n");
  return problems.empty() ? 0 : 1;
}

int run_evaluate_worker(const Args&) { return run_worker(stdin, stdout); }

}  // namespace cf::cli

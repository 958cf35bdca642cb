// cellforge top: a campaign's best candidates, as a table or JSON.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "results/store.h"
#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_top(const Args& args) {
  const std::string usage_line = "cellforge top RUN_DIR [-n K] [--json]";
  std::string run_dir;
  int n = 10;
  bool json = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("run-dir", po::value(&run_dir),
                                                    "run directory")(
      ",n", po::value(&n)->default_value(n), "how many candidates")("json", po::bool_switch(&json),
                                                                    "print a JSON array");
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
  const bool tabular =
      !best.empty() && store.metrics_json(best.front()).contains("test_accuracy_200ep");
  std::printf("%4s  %-6s  %-16s  %9s  %10s  %8s%s\n", "rank", "id", "hash", "accuracy", "params",
              "seconds", tabular ? "  test(200ep)" : "");
  int rank = 1;
  for (const auto& r : best) {
    std::printf("%4d  %-6lld  %-16s  %8.2f%%  %10lld  %8.1f", rank++, static_cast<long long>(r.id),
                r.hash.c_str(), 100 * *r.accuracy, static_cast<long long>(r.params),
                r.train_seconds);
    if (tabular) std::printf("  %10.2f%%", store.metrics_json(r).value("test_accuracy_200ep", 0.0));
    std::printf("\n");
  }
  return 0;
}

}  // namespace cf::cli

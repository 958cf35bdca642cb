// cellforge check: what is wrong with a run directory, and what is still readable.
#include <cstdio>

#include "results/store.h"
#include "search/campaign.h"
#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

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
    std::printf(
        "resume refuses this run directory; top, report and export read what is readable. Copy "
        "the\n"
        "directory before any repair; a damaged results.sqlite may be recovered with sqlite3's "
        ".recover.\n");
  return problems.empty() ? 0 : 1;
}

}  // namespace cf::cli

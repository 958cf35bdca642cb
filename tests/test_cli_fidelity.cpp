// cellforge fidelity: retrains candidates spread over a campaign's ranking, prints Kendall tau,
// keeps finished retrainings per training setting (reused by the same setting only).
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::read_file;
using cf::test::run_cellforge;

namespace {

std::vector<std::filesystem::path> setting_dirs(const std::filesystem::path& run) {
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(run / "fidelity"))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

}  // namespace

TEST_CASE("fidelity retrains a spread sample, reuses it for the same setting only",
          "[cli][fidelity]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  cf::test::write_file(dir / "c.ini", cf::test::tiny_config(dir / "data", dir / "run", 4, 1));
  REQUIRE(run_cellforge("search " + (dir / "c.ini").string()).exit_code == 0);
  cf::test::write_file(dir / "t.ini",
                       "[network]\ncells_per_stack = 1\nfilters = 4\n"
                       "stem_multiplier = 1\n[data]\ndata_dir = " +
                           (dir / "data").string() +
                           "\ntrain_images = 128\nvalid_images = 64\ntest = false\n"
                           "[train]\nepochs = 1\nbatch = 16\nthreads = 2\n");
  const std::string cmd =
      "fidelity " + (dir / "run").string() + " --sample 3 --config " + (dir / "t.ini").string();
  const auto first = run_cellforge(cmd);
  INFO(first.out);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("Kendall tau between proxy and full-size accuracy over 3 candidates") !=
        std::string::npos);
  auto dirs = setting_dirs(dir / "run");
  REQUIRE(dirs.size() == 1);
  CHECK(dirs[0].filename().string().rfind("t-", 0) == 0);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dirs[0])) {
    const auto j = nlohmann::json::parse(read_file(e.path()));
    CHECK(j["accuracy"].get<double>() >= 0);
    // Mark it: a rerun with the same setting must print the stored accuracy, not retrain.
    auto marked = j;
    marked["accuracy"] = 0.123456;
    cf::test::write_file(e.path(), marked.dump());
    ++files;
  }
  CHECK(files == 3);
  const auto again = run_cellforge(cmd);
  INFO(again.out);
  REQUIRE(again.exit_code == 0);
  size_t marks = 0;
  for (size_t at = again.out.find("12.35%"); at != std::string::npos;
       at = again.out.find("12.35%", at + 1))
    ++marks;
  CHECK(marks == 3);
  // Another setting (here the seed) retrains into its own directory.
  const auto other = run_cellforge(cmd + " --set train.seed=4");
  INFO(other.out);
  REQUIRE(other.exit_code == 0);
  CHECK(other.out.find("12.35%") == std::string::npos);
  CHECK(setting_dirs(dir / "run").size() == 2);
}

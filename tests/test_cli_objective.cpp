// [objective] caps: a candidate whose proxy network is over max_params / max_macs is stored as
// rejected without training, the controller observes a failure, status and report count it, and
// a resumed capped campaign ends with exactly the rows of an uninterrupted one.
#include <algorithm>
#include <catch2/catch.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::read_file;
using cf::test::run_cellforge;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;
using cf::test::write_tiny_idx;

namespace {

// params of the first `count` candidates of an uncapped run, in id order.
std::vector<long long> first_params(const std::filesystem::path& run, int count) {
  std::vector<long long> out;
  for (const auto& row : query_rows(run, "SELECT params FROM candidates ORDER BY id"))
    if (static_cast<int>(out.size()) < count) out.push_back(std::stoll(row));
  return out;
}

}  // namespace

TEST_CASE("candidates over objective.max_params are rejected untrained, and resume is exact",
          "[campaign][objective]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "free.ini", tiny_config(dir / "data", dir / "free", 4, 1));
  REQUIRE(run_cellforge("search " + (dir / "free.ini").string()).exit_code == 0);
  // A cap between the smallest and the largest of the first (random) candidates.
  std::vector<long long> params = first_params(dir / "free", 4);
  REQUIRE(params.size() == 4);
  std::sort(params.begin(), params.end());
  REQUIRE(params.front() < params.back());
  const long long cap = params.front();
  const std::string set = " --set objective.max_params=" + std::to_string(cap);

  write_file(dir / "a.ini", tiny_config(dir / "data", dir / "a", 8, 1));
  const auto a = run_cellforge("search " + (dir / "a.ini").string() + set);
  INFO(a.out);
  REQUIRE(a.exit_code == 0);
  int rejected = 0, done = 0;
  for (const auto& row : query_rows(dir / "a",
                                    "SELECT status, params, train_seconds, "
                                    "failure_reason, observed FROM candidates")) {
    INFO(row);
    const auto fields = [&] {
      std::vector<std::string> f;
      size_t at = 0;
      for (size_t bar; (bar = row.find('|', at)) != std::string::npos; at = bar + 1)
        f.push_back(row.substr(at, bar - at));
      f.push_back(row.substr(at));
      return f;
    }();
    const long long p = std::stoll(fields[1]);
    CHECK(fields[4] == "1");  // observed by the controller
    if (fields[0] == "rejected") {
      ++rejected;
      CHECK(p > cap);
      CHECK(std::stod(fields[2]) == 0.0);  // never trained
      CHECK(fields[3] ==
            "rejected: " + std::to_string(p) + " params > max_params " + std::to_string(cap));
    } else if (fields[0] == "done") {
      ++done;
      CHECK(p <= cap);
    }
  }
  CHECK(rejected > 0);
  CHECK(done > 0);
  const auto status = run_cellforge("status " + (dir / "a").string());
  CHECK(status.out.find(std::to_string(rejected) + " rejected by [objective] caps") !=
        std::string::npos);
  const auto report =
      run_cellforge("report " + (dir / "a").string() + " -o " + (dir / "report.html").string());
  CHECK(report.exit_code == 0);
  CHECK(read_file(dir / "report.html").find("<td>rejected</td>") != std::string::npos);

  // Half the budget, then resumed with the rest: the same rows.
  write_file(dir / "b.ini", tiny_config(dir / "data", dir / "b", 4, 1));
  REQUIRE(run_cellforge("search " + (dir / "b.ini").string() + set).exit_code == 0);
  const auto resumed =
      run_cellforge("resume " + (dir / "b").string() + " --set budget.candidates=8");
  INFO(resumed.out);
  REQUIRE(resumed.exit_code == 0);
  CHECK(candidate_rows(dir / "b") == candidate_rows(dir / "a"));
}

TEST_CASE("objective caps: config errors name the key", "[campaign][objective][config]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 64);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 2, 1));
  const auto negative =
      run_cellforge("search " + (dir / "c.ini").string() + " --set objective.max_params=-5");
  CHECK(negative.exit_code != 0);
  CHECK(negative.out.find("objective.max_params: '-5' is not a non-negative integer") !=
        std::string::npos);
  const auto nb201 = run_cellforge("search " + (dir / "c.ini").string() +
                                   " --set space.type=nb201 --set proxy.table=x.csv"
                                   " --set objective.max_macs=1000");
  CHECK(nb201.exit_code != 0);
  CHECK(nb201.out.find("objective.max_macs: [objective] applies to nasnet campaigns") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "run"));
}

TEST_CASE("a campaign with a soft size reward runs and stores plain accuracies",
          "[campaign][objective]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "s.ini", tiny_config(dir / "data", dir / "soft", 6, 1));
  const auto soft = run_cellforge("search " + (dir / "s.ini").string() +
                                  " --set objective.soft_target_params=10000"
                                  " --set objective.soft_weight=-1");
  INFO(soft.out);
  REQUIRE(soft.exit_code == 0);
  const auto rows = query_rows(dir / "soft", "SELECT status, accuracy FROM candidates");
  REQUIRE(rows.size() == 6);
  for (const auto& row : rows) {
    INFO(row);
    CHECK(row.rfind("done|", 0) == 0);
    const double accuracy = std::stod(row.substr(5));
    CHECK(accuracy >= 0.0);
    CHECK(accuracy <= 1.0);  // the accuracy, not the reward (which exceeds 1 below the target)
  }
}

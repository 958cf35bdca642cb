// Candidates rejected by [objective] caps cost no training: budget.candidates counts the others,
// and budget.max_rejected ends a campaign whose caps nothing meets.
#include <catch2/catch.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::query_rows;
using cf::test::run_cellforge;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;
using cf::test::write_tiny_idx;

TEST_CASE("rejected candidates do not count towards budget.candidates",
          "[campaign][objective][budget]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "free.ini", tiny_config(dir / "data", dir / "free", 6, 1));
  REQUIRE(run_cellforge("search " + (dir / "free.ini").string()).exit_code == 0);
  // The median size of an uncapped run's candidates: about half of all cells are over it.
  std::vector<long long> params;
  for (const auto& row : query_rows(dir / "free", "SELECT params FROM candidates"))
    params.push_back(std::stoll(row));
  std::sort(params.begin(), params.end());
  const long long cap = params[params.size() / 2];
  write_file(dir / "a.ini", tiny_config(dir / "data", dir / "a", 5, 1));
  const auto a = run_cellforge("search " + (dir / "a.ini").string() +
                               " --set objective.max_params=" + std::to_string(cap));
  INFO(a.out);
  REQUIRE(a.exit_code == 0);
  const auto trained =
      query_rows(dir / "a", "SELECT count(*) FROM candidates WHERE status != 'rejected'");
  const auto rejected =
      query_rows(dir / "a", "SELECT count(*) FROM candidates WHERE status = 'rejected'");
  CHECK(trained == std::vector<std::string>{"5"});
  REQUIRE(rejected.size() == 1);
  CHECK(std::stoi(rejected[0]) > 0);
  const auto status = run_cellforge("status " + (dir / "a").string());
  CHECK(status.out.find("candidates 5 finished of 5 budgeted") != std::string::npos);
  CHECK(status.out.find(rejected[0] + " rejected by [objective] caps (not trained, not counted") !=
        std::string::npos);
}

TEST_CASE("budget.max_rejected ends a campaign whose caps nothing meets",
          "[campaign][objective][budget]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 3, 1));
  const auto r = run_cellforge("search " + (dir / "c.ini").string() +
                               " --set objective.max_params=1 --set budget.max_rejected=7");
  INFO(r.out);
  CHECK(r.exit_code != 0);  // nothing was trained
  CHECK(query_rows(dir / "run", "SELECT count(*) FROM candidates WHERE status = 'rejected'") ==
        std::vector<std::string>{"7"});
  CHECK(query_rows(dir / "run", "SELECT count(*) FROM candidates") ==
        std::vector<std::string>{"7"});
  CHECK(r.out.find("stopped after 7 candidates rejected by [objective] caps "
                   "(budget.max_rejected)") != std::string::npos);
}

// Latency: `cellforge latency` and the [objective] latency keys of a campaign (measured before
// training, stored in metrics.latency, a cap rejects without training, resume stays exact).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::run_cellforge;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;
using cf::test::write_tiny_idx;

TEST_CASE("cellforge latency: median of the timed runs, folded batch norms, errors",
          "[cli][latency]") {
  const auto r = run_cellforge(
      "latency --arch nasnet_a --cells-per-stack 1 --filters 8 --input 16x16x1 --runs 5 "
      "--warmup 1 --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("runs") == 5);
  CHECK(j.at("samples_ms").size() == 5);
  CHECK(j.at("median_ms").get<double>() > 0);
  CHECK(j.at("min_ms").get<double>() <= j.at("median_ms").get<double>());
  CHECK(j.at("folded_batch_norms").get<int>() > 10);
  CHECK(j.at("threads") == 1);
  const auto text = run_cellforge(
      "latency --arch nasnet_a --cells-per-stack 1 --filters 8 "
      "--input 16x16x1 --runs 3 --warmup 0 --no-fold");
  INFO(text.out);
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("ms median at batch 1 on 1 thread") != std::string::npos);
  CHECK(text.out.find("0 batch norms folded") != std::string::npos);

  const auto runs = run_cellforge("latency --arch nasnet_a --runs 0");
  CHECK(runs.exit_code == 2);
  CHECK(runs.out.find("latency runs 0 is out of range [1, 100000]") != std::string::npos);
  const auto aux = run_cellforge("latency --arch nasnet_a --aux-head");
  CHECK(aux.exit_code == 2);
  CHECK(aux.out.find("--aux-head: inference never runs the auxiliary head") != std::string::npos);
  CHECK(run_cellforge("latency --arch no_such_cell").exit_code != 0);
}

TEST_CASE("objective.latency: every candidate's latency is stored, and resume is exact",
          "[campaign][objective][latency]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  const std::string set =
      " --set objective.latency=true --set objective.latency_runs=5"
      " --set objective.latency_warmup=1";
  write_file(dir / "a.ini", tiny_config(dir / "data", dir / "a", 6, 1));
  const auto a = run_cellforge("search " + (dir / "a.ini").string() + set);
  INFO(a.out);
  REQUIRE(a.exit_code == 0);
  const auto rows = query_rows(dir / "a",
                               "SELECT status, json_extract(metrics, '$.latency.median_ms'), "
                               "json_extract(metrics, '$.latency.runs') FROM candidates");
  REQUIRE(rows.size() == 6);
  for (const auto& row : rows) {
    INFO(row);
    REQUIRE(row.rfind("done|", 0) == 0);
    CHECK(std::stod(row.substr(5)) > 0);
    CHECK(row.substr(row.rfind('|') + 1) == "5");
  }
  write_file(dir / "b.ini", tiny_config(dir / "data", dir / "b", 3, 1));
  REQUIRE(run_cellforge("search " + (dir / "b.ini").string() + set).exit_code == 0);
  const auto resumed =
      run_cellforge("resume " + (dir / "b").string() + " --set budget.candidates=6");
  INFO(resumed.out);
  REQUIRE(resumed.exit_code == 0);
  CHECK(candidate_rows(dir / "b") == candidate_rows(dir / "a"));
}

TEST_CASE("objective.max_latency_ms: a candidate over it is rejected without training",
          "[campaign][objective][latency]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 3, 1));
  // No network runs in a microsecond: every candidate is over the cap.
  const auto r = run_cellforge("search " + (dir / "c.ini").string() +
                               " --set objective.max_latency_ms=0.001 --set budget.max_rejected=3"
                               " --set objective.latency_runs=3 --set objective.latency_warmup=0");
  INFO(r.out);
  const auto rows = query_rows(dir / "run",
                               "SELECT status, train_seconds, failure_reason, "
                               "json_extract(metrics, '$.latency.median_ms') FROM candidates");
  REQUIRE(rows.size() == 3);
  for (const auto& row : rows) {
    INFO(row);
    CHECK(row.rfind("rejected|0.0|rejected: ", 0) == 0);  // never trained
    CHECK(row.find(" ms latency > max_latency_ms 0.001|") != std::string::npos);
  }
  CHECK(r.out.find("every finished candidate failed") != std::string::npos);
}

TEST_CASE("objective latency keys: config errors name the key", "[campaign][objective][config]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 64);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 2, 1));
  const auto negative =
      run_cellforge("search " + (dir / "c.ini").string() + " --set objective.max_latency_ms=-1");
  CHECK(negative.exit_code != 0);
  CHECK(negative.out.find("objective.max_latency_ms") != std::string::npos);
  const auto threads =
      run_cellforge("search " + (dir / "c.ini").string() + " --set objective.latency_threads=0");
  CHECK(threads.exit_code != 0);
  CHECK(threads.out.find("objective.latency_threads") != std::string::npos);
  const auto flag =
      run_cellforge("search " + (dir / "c.ini").string() + " --set objective.latency=maybe");
  CHECK(flag.exit_code != 0);
  CHECK(flag.out.find("objective.latency") != std::string::npos);
  const auto nb201 = run_cellforge("search " + (dir / "c.ini").string() +
                                   " --set space.type=nb201 --set proxy.table=x.csv"
                                   " --set objective.latency=true");
  CHECK(nb201.exit_code != 0);
  CHECK(nb201.out.find("objective.latency: [objective] applies to nasnet campaigns") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "run"));
}

TEST_CASE("objective.soft_target_latency_ms: a campaign with a soft latency reward runs",
          "[campaign][objective][latency]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "s.ini", tiny_config(dir / "data", dir / "soft", 3, 1));
  const auto r = run_cellforge("search " + (dir / "s.ini").string() +
                               " --set objective.soft_target_latency_ms=0.5"
                               " --set objective.latency_cells_per_stack=2"
                               " --set objective.latency_filters=8"
                               " --set objective.latency_runs=3 --set objective.latency_warmup=0");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto rows =
      query_rows(dir / "soft",
                 "SELECT status, json_extract(metrics, '$.latency.median_ms') > 0 FROM candidates");
  CHECK(rows == std::vector<std::string>{"done|1", "done|1", "done|1"});
  // Measured at the stacking asked for, not the proxy's (1@... F=4).
  CHECK(query_rows(dir / "soft",
                   "SELECT DISTINCT json_extract(metrics, '$.latency.cells_per_stack') || 'x' || "
                   "json_extract(metrics, '$.latency.filters') FROM candidates") ==
        std::vector<std::string>{"2x8"});
  CHECK(r.out.find("warning") == std::string::npos);
}

// cellforge zero-cost (scores CSV, resume after an interrupted write, correlation with the
// table) and benchmark nb201 --warmup / --proposal / --scores.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "shared_data.h"
#include "skip.h"

using cf::test::run_cellforge;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    out.push_back(text.substr(begin, end - begin));
    begin = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("zero-cost: a scores CSV that resumes after an interrupted write", "[cli][zero_cost]") {
  cf::test::TempDir dir;
  const std::string csv = (dir / "s.csv").string();
  auto r = run_cellforge("zero-cost --space nb201 --sample 12 --proxies synflow,params -o " + csv);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  auto rows = lines(cf::test::read_file(csv));
  REQUIRE(rows.size() == 13u);
  CHECK(rows[0] == "arch,hash,synflow,naswot,grad_norm,snip,jacob_cov,params,macs,seconds");
  // Cut the file inside its last row, as a kill during a write would.
  std::string text = cf::test::read_file(csv);
  text.resize(text.size() - 10);
  cf::test::write_file(csv, text);
  r = run_cellforge("zero-cost --space nb201 --sample 20 --proxies synflow,params -o " + csv);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("11 already in") != std::string::npos);
  rows = lines(cf::test::read_file(csv));
  REQUIRE(rows.size() == 21u);
  std::set<std::string> hashes;
  for (size_t k = 1; k < rows.size(); ++k) hashes.insert(rows[k].substr(rows[k].find(',') + 1, 16));
  CHECK(hashes.size() == 20u);
  // The same seed scores the same values.
  r = run_cellforge("zero-cost --space nb201 --sample 20 --proxies synflow,params -o " +
                    (dir / "t.csv").string());
  REQUIRE(r.exit_code == 0);
  auto without_seconds = [](const std::string& text) {
    std::vector<std::string> out;
    for (const auto& line : lines(text)) out.push_back(line.substr(0, line.rfind(',')));
    return out;
  };
  CHECK(without_seconds(cf::test::read_file(dir / "t.csv")) ==
        without_seconds(cf::test::read_file(csv)));
  // Bad input: a file that is not a scores file, unknown proxies, conflicting sources.
  cf::test::write_file(dir / "other.csv", "a,b\n1,2\n");
  r = run_cellforge("zero-cost --space nb201 --sample 2 -o " + (dir / "other.csv").string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("not a zero-cost scores file") != std::string::npos);
  r = run_cellforge("zero-cost --space nb201 --sample 2 --proxies synflow,bogus -o " + csv);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("'bogus' is not a zero-cost proxy") != std::string::npos);
  r = run_cellforge("zero-cost --space nasnet --all -o " + csv);
  CHECK(r.exit_code == 2);
}

TEST_CASE("zero-cost: one NASNet architecture with every proxy on a small dataset",
          "[cli][zero_cost]") {
  cf::test::TempDir dir;
  // 16 images of 8x8x1 with labels 0..3 (IDX), enough for one minibatch of 8.
  std::string images = {0, 0, 8, 3, 0, 0, 0, 24, 0, 0, 0, 8, 0, 0, 0, 8};
  std::string labels = {0, 0, 8, 1, 0, 0, 0, 24};
  for (int n = 0; n < 24; ++n) {
    labels.push_back(static_cast<char>(n % 4));
    for (int p = 0; p < 64; ++p) images.push_back(static_cast<char>((n * 37 + p * 11) % 256));
  }
  std::filesystem::create_directories(dir / "data");
  cf::test::write_file(dir / "data" / "train-images-idx3-ubyte", images);
  cf::test::write_file(dir / "data" / "train-labels-idx1-ubyte", labels);
  const auto r = run_cellforge("zero-cost --space nasnet --arch nasnet_a --batch 8 --data-dir " +
                               (dir / "data").string() +
                               " --input 8x8x1 --classes 4 --filters 4 "
                               "--cells-per-stack 1 --stem-multiplier 1 -o " +
                               (dir / "n.csv").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto rows = lines(cf::test::read_file(dir / "n.csv"));
  REQUIRE(rows.size() == 2u);
  CHECK(rows[1].rfind("\"{", 0) == 0);             // the genotype JSON, quoted
  CHECK(rows[1].find(",,") == std::string::npos);  // every proxy computed
}

TEST_CASE("benchmark nb201 with a zero-cost warm-up and move proposals from a scores file",
          "[cli][zero_cost][nb201]") {
  if (!std::filesystem::exists(cf::test::nb201_table_path())) {
    cf::test::skip("NAS-Bench-201 table not found at " + cf::test::nb201_table_path());
    return;
  }
  cf::test::TempDir dir;
  const std::string csv = (dir / "all.csv").string();
  auto r = run_cellforge("zero-cost --space nb201 --all --proxies params,macs -o " + csv +
                         " --table " + cf::test::nb201_table_path());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(lines(cf::test::read_file(csv)).size() == 15626u);
  CHECK(r.out.find("| params | 0.") != std::string::npos);
  const std::string base = "benchmark nb201 --table " + cf::test::nb201_table_path() +
                           " --strategy evolution --queries 100 --runs 40 --json --scores " + csv;
  r = run_cellforge(base + " --warmup params+macs:3000 --proposal params+macs:10");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["zero_cost_scored_per_run"].get<double>() >= 3000);
  CHECK(j["mean"].get<double>() > 93.5);
  CHECK(j["mean_unique"].get<double>() <= 100);
  // Usage errors.
  for (const char* args : {" --warmup params", " --warmup bogus:10", " --warmup params:0"}) {
    r = run_cellforge(base + args);
    CHECK(r.exit_code == 2);
  }
  r = run_cellforge("benchmark nb201 --table " + cf::test::nb201_table_path() +
                    " --strategy evolution --queries 10 --runs 1 --warmup params:100");
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("need --scores") != std::string::npos);
}

TEST_CASE("a NASNet campaign with a zero-cost warm-up computes its scores and resumes",
          "[cli][zero_cost][campaign]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  cf::test::write_file(dir / "c.ini", cf::test::tiny_config(dir / "data", dir / "run", 6, 1));
  const std::string set = " --set controller.warmup=synflow:12 --set controller.proposal=synflow:3";
  auto r = run_cellforge("search " + (dir / "c.ini").string() + set);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto events = cf::test::query_rows(
      dir / "run", "SELECT kind, message FROM events WHERE kind = 'zero-cost'");
  REQUIRE(events.size() == 1u);
  // 12 for the warm-up (population 4 from its best), 3 for each of the 2 tournament children.
  CHECK(events[0].find("18 scorings") != std::string::npos);
  r = run_cellforge("resume " + (dir / "run").string() + " --set budget.candidates=10");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(cf::test::query_rows(dir / "run", "SELECT id FROM candidates").size() == 10u);
  // Every finished candidate scored on the campaign's proxy network and data, correlated with its
  // proxy accuracy.
  r = run_cellforge("zero-cost --run " + (dir / "run").string() + " --batch 8 -o " +
                    (dir / "z.csv").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("Spearman rank correlation with the proxy accuracy") != std::string::npos);
  CHECK(r.out.find("| synflow | ") != std::string::npos);
  CHECK(r.out.find("| naswot | ") != std::string::npos);
  const auto rows = lines(cf::test::read_file(dir / "z.csv"));
  CHECK(rows.size() >= 6u);  // distinct finished candidates (duplicates are scored once)
}

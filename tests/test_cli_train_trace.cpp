// train --save-trace / --save-init / --decay-scope: what a replay in another trainer needs (the
// split, each epoch's order, every step's loss, the initial weights) is what the run used.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::read_file;
using cf::test::run_cellforge;

namespace {

std::string tiny_train(const std::filesystem::path& data, uint64_t seed) {
  return "train --arch nasnet_a --cells-per-stack 1 --filters 4 --stem-multiplier 1 --data-dir " +
         data.string() + " --train-images 96 --valid-images 40 --epochs 2 --batch 16 --threads 1" +
         " --no-augment --seed " + std::to_string(seed);
}

nlohmann::json trace_of(const std::string& args, const std::filesystem::path& file) {
  const auto r = run_cellforge(args + " --save-trace " + file.string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(read_file(file));
}

bool is_permutation_of_range(std::vector<int> v, int n) {
  std::sort(v.begin(), v.end());
  std::vector<int> range(n);
  std::iota(range.begin(), range.end(), 0);
  return v == range;
}

}  // namespace

TEST_CASE("train --save-trace writes the split, each epoch's order and every step's loss",
          "[cli][train][trace]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 200);
  const nlohmann::json a = trace_of(tiny_train(dir / "data", 3), dir / "a.json");
  const auto train = a["train_source"].get<std::vector<int>>();
  const auto valid = a["valid_source"].get<std::vector<int>>();
  CHECK(train.size() == 96);
  CHECK(valid.size() == 40);
  std::set<int> all(train.begin(), train.end());
  all.insert(valid.begin(), valid.end());
  CHECK(all.size() == 136);  // disjoint
  CHECK(*all.begin() >= 0);
  CHECK(*all.rbegin() < 200);
  const auto orders = a["epoch_orders"].get<std::vector<std::vector<int>>>();
  REQUIRE(orders.size() == 2);
  CHECK(is_permutation_of_range(orders[0], 96));
  CHECK(is_permutation_of_range(orders[1], 96));
  CHECK(orders[0] != orders[1]);
  CHECK(a["losses"].size() == 2 * (96 / 16));
  CHECK(a["valid_accuracy"].get<double>() > 0);

  // The same seed draws the same split; another seed another one.
  CHECK(trace_of(tiny_train(dir / "data", 3), dir / "b.json")["train_source"] == a["train_source"]);
  CHECK(trace_of(tiny_train(dir / "data", 4), dir / "c.json")["train_source"] != a["train_source"]);
}

TEST_CASE(
    "train --save-init writes the initial weights, and --decay-scope all decays BN and biases",
    "[cli][train][trace]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 200);
  const std::string base = tiny_train(dir / "data", 5);
  const nlohmann::json fresh =
      trace_of(base + " --save-init " + (dir / "init.bin").string(), dir / "fresh.json");
  // Starting from the saved file instead of the fresh draw trains identically.
  const nlohmann::json loaded =
      trace_of(base + " --load " + (dir / "init.bin").string(), dir / "loaded.json");
  CHECK(loaded["losses"] == fresh["losses"]);
  // Decay on every parameter: the same first step, then other losses.
  const nlohmann::json all = trace_of(base + " --decay-scope all", dir / "all.json");
  CHECK(all["losses"][0] == fresh["losses"][0]);
  CHECK(all["losses"] != fresh["losses"]);
  const auto bad = run_cellforge(base + " --decay-scope bn");
  CHECK(bad.exit_code == 2);
  CHECK(bad.out.find("--decay-scope") != std::string::npos);
}

// NAS-Bench-201 cells through the command line: stats (the benchmark's sizes), show, draw, and
// train --out followed by export of the trained directory.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::run_cellforge;

namespace {

const std::string kAllConv3x3 =
    "'|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~"
    "2|'";
const std::string kMixed =
    "'|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|'";

}  // namespace

TEST_CASE("stats: NB201 strings get the benchmark's network and sizes", "[cli][nb201]") {
  auto r = run_cellforge("stats --space nb201 --arch " + kAllConv3x3 +
                         " --input 32x32x3 --classes 10 --json");
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["params"].get<int64_t>() == 1531546);
  CHECK(j["space"] == "nb201");
  CHECK(j["notation"] == "5@64");
  CHECK(j["cells_per_stack"] == 5);
  CHECK(j["filters"] == 16);
  r = run_cellforge("stats --arch '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("params    73,306") != std::string::npos);
  CHECK(r.out.find("NAS-Bench-201 network, C=16") != std::string::npos);
  // Explicit stacking options override the benchmark's; NASNet-only options are refused.
  r = run_cellforge("stats --arch " + kAllConv3x3 + " --filters 8 --cells-per-stack 1 --json");
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["notation"] == "1@32");
  r = run_cellforge("stats --space nasnet --arch " + kAllConv3x3);
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("--arch is a nb201 architecture, not nasnet") != std::string::npos);
  r = run_cellforge("stats --arch " + kAllConv3x3 + " --stem imagenet");
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("--stem does not apply to the NAS-Bench-201 network") != std::string::npos);
  r = run_cellforge("stats --arch '|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|'");
  CHECK(r.exit_code != 0);
  CHECK(r.out.find("bogus") != std::string::npos);
}

TEST_CASE("show and draw NB201 cells", "[cli][nb201]") {
  auto r = run_cellforge("show --arch " + kMixed + " --canonical");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|", 0) == 0);
  cf::test::TempDir dir;
  r = run_cellforge("show --arch " + kMixed);
  REQUIRE(r.exit_code == 0);
  cf::test::write_file(dir / "cell.json", r.out);
  r = run_cellforge("stats --arch " + (dir / "cell.json").string() + " --json");
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["space"] == "nb201");
  r = run_cellforge("draw --arch " + (dir / "cell.json").string() + " -o " +
                    (dir / "c.dot").string());
  REQUIRE(r.exit_code == 0);
  const std::string dot = cf::test::read_file(dir / "c.dot");
  CHECK(dot.find("node0 -> node2 [label=\"skip_connect\"]") != std::string::npos);
  CHECK(dot.find("node2 -> node3 [label=\"avg_pool_3x3\"]") != std::string::npos);
  CHECK(dot.find("label=\"none\"") == std::string::npos);  // none edges are left out
}

TEST_CASE("train an NB201 cell, then export the trained directory", "[cli][nb201][train]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 128);
  const std::string out = (dir / "trained").string();
  auto r = run_cellforge("train --arch " + kMixed + " --data-dir " + (dir / "data").string() +
                         " --filters 4 --cells-per-stack 1 --epochs 1 --batch 16 --lr 0.05"
                         " --train-images 96 --valid-images 32 --threads 2 --out " +
                         out + " --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto result = nlohmann::json::parse(cf::test::read_file(dir / "trained" / "result.json"));
  CHECK(result["params"].get<int64_t>() > 0);
  CHECK(cf::test::read_file(dir / "trained" / "genotype.json").find("\"nb201\"") !=
        std::string::npos);
  r = run_cellforge("export " + out + " --format json,pytorch,onnx -o " + (dir / "x").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("1@16") != std::string::npos);
  bool py = false, onnx = false;
  for (const auto& e : std::filesystem::directory_iterator(dir / "x")) {
    py = py || e.path().extension() == ".py";
    onnx = onnx || e.path().extension() == ".onnx";
  }
  CHECK(py);
  CHECK(onnx);
}

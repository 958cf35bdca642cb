// The cellforge command line: stats, draw, help, and bad input handling.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "skip.h"

using cf::test::run_cellforge;

TEST_CASE("help and version", "[cli]") {
  auto r = run_cellforge("--help");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("stats") != std::string::npos);
  r = run_cellforge("version");
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("cellforge ", 0) == 0);
  r = run_cellforge("frobnicate");
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("unknown command 'frobnicate'") != std::string::npos);
}

TEST_CASE("stats --json reports params, MACs and notation", "[cli]") {
  auto r = run_cellforge("stats --arch nasnet_a --json");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["notation"] == "6@768");
  CHECK(j["params"].get<int64_t>() > 3'200'000);
  CHECK(j["params"].get<int64_t>() < 3'400'000);
  CHECK(j["macs"].get<int64_t>() > 0);
  r = run_cellforge(
      "stats --arch amoebanet_a --stem imagenet --stem-multiplier 1 --cells-per-stack 4 "
      "--filters 44 --input 224x224x3 --classes 1000");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("4@") != std::string::npos);
}

TEST_CASE("bad arguments print a one-line error and the usage, exit code 2", "[cli]") {
  for (const char* args : {"stats --arch nasnet_a --filters abc", "stats --arch nasnet_a --bogus",
                           "stats --arch nasnet_a --input 28x28", "stats --arch nasnet_a --stem tiny",
                           "stats --arch nasnet_a --filters 1", "stats", "draw --arch nasnet_a"}) {
    INFO(args);
    const auto r = run_cellforge(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.rfind("cellforge ", 0) == 0);
    CHECK(r.out.find("error: ") < r.out.find('\n'));
    CHECK(r.out.find("usage: cellforge") != std::string::npos);
  }
}

TEST_CASE("a malformed genotype file gets an error naming the field", "[cli]") {
  cf::test::TempDir dir;
  const auto good = run_cellforge("stats --arch nasnet_a --json");
  REQUIRE(good.exit_code == 0);
  std::string text = R"({"format": "cellforge.genotype.v1", "space": "nasnet",
    "normal": {"blocks": [{"inputs": ["prev", "b1"], "ops": ["sep_conv_3x3", "identity"], "combine": "add"},
                          {"inputs": ["prev", "b0"], "ops": ["sep_conv_3x3", "identity"], "combine": "add"}],
               "concat": "unused"},
    "reduction": {"blocks": [{"inputs": ["prev", "prev"], "ops": ["max_pool_3x3", "identity"], "combine": "add"},
                             {"inputs": ["prev", "b0"], "ops": ["sep_conv_5x5", "identity"], "combine": "add"}],
                  "concat": "unused"}})";
  cf::test::write_file(dir / "bad.json", text);
  auto r = run_cellforge("stats --arch " + (dir / "bad.json").string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("bad.json: normal.blocks[0].inputs[1]: \"b1\" refers to a later block") !=
        std::string::npos);
  CHECK(cf::test::count_lines(r.out) == 1);
  cf::test::write_file(dir / "trunc.json", text.substr(0, 60));
  r = run_cellforge("stats --arch " + (dir / "trunc.json").string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("trunc.json: not valid JSON") != std::string::npos);
  r = run_cellforge("stats --arch " + (dir / "missing.json").string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("cannot open file") != std::string::npos);
  r = run_cellforge("stats --arch nasnet_z");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("neither a built-in architecture") != std::string::npos);
}

TEST_CASE("draw writes DOT", "[cli]") {
  cf::test::TempDir dir;
  const auto dot = dir / "cells.dot";
  const auto r = run_cellforge("draw --arch nasnet_a -o " + dot.string());
  REQUIRE(r.exit_code == 0);
  REQUIRE(std::filesystem::exists(dot));
  const std::string text = cf::test::read_file(dot);
  CHECK(text.find("cluster_normal") != std::string::npos);
  CHECK(text.find("cluster_reduction") != std::string::npos);
  CHECK(text.find("sep_conv_7x7") != std::string::npos);
}

TEST_CASE("draw writes SVG beside the DOT file with Graphviz", "[cli]") {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    cf::test::skip("Graphviz dot not installed (Debian package graphviz)");
    return;
  }
  cf::test::TempDir dir;
  const auto r = run_cellforge("draw --arch nasnet_a -o " + (dir / "cells.dot").string());
  REQUIRE(r.exit_code == 0);
  REQUIRE(std::filesystem::exists(dir / "cells.svg"));
  CHECK(cf::test::read_file(dir / "cells.svg").find("<svg") != std::string::npos);
}

TEST_CASE("train: bad arguments and a missing dataset", "[cli][train]") {
  for (const char* args : {"train", "train --arch nasnet_a --epochs -1", "train --arch nasnet_a --batch 0",
                           "train --arch nasnet_a --lr 0", "train --arch nasnet_a --format png",
                           "train --arch nasnet_a --drop-path 1.5"}) {
    INFO(args);
    const auto r = run_cellforge(args);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find("usage: cellforge train") != std::string::npos);
  }
  cf::test::TempDir dir;
  const auto r = run_cellforge("train --arch nasnet_a --data-dir " + (dir / "nothing").string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("nothing") != std::string::npos);
  CHECK(cf::test::count_lines(r.out) == 1);
}

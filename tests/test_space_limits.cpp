// What a genotype may hold: deep nesting, huge block lists, long names, huge or endless files and
// numbers out of range give a GenotypeError naming where, quickly, and never a crash.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "space/genotype.h"
#include "space/json_text.h"
#include "space/network.h"

namespace {

std::string with_blocks(int n) {
  std::string blocks;
  for (int b = 0; b < n; ++b)
    blocks += std::string(b ? "," : "") +
              "{\"inputs\": [\"prev\", \"prev_prev\"], \"ops\": [\"identity\", \"identity\"], "
              "\"combine\": \"add\"}";
  return "{\"format\": \"cellforge.genotype.v1\", \"space\": \"nasnet\", \"normal\": {\"blocks\": "
         "[" +
         blocks + "], \"concat\": \"unused\"}, \"reduction\": {\"blocks\": [" + blocks +
         "], \"concat\": \"unused\"}}";
}

}  // namespace

TEST_CASE("JSON nested 100,000 deep is refused before parsing", "[space][limits]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THROWS_WITH(cf::parse_json_text(deep, "x.json"),
                    Catch::Contains("x.json") && Catch::Contains("nested deeper"));
  // Inside a genotype key whose error message would print the value.
  const std::string doc =
      "{\"format\": \"cellforge.genotype.v1\", \"space\": \"nasnet\", \"name\": " +
      std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THROWS_AS(cf::parse_genotype(doc), cf::GenotypeError);
  // Brackets inside strings do not count.
  CHECK_NOTHROW(cf::parse_json_text("[\"" + std::string(1000, '[') + "\"]", ""));
  // A deep value that is within the limit is described, not printed.
  nlohmann::json v = nlohmann::json::array();
  for (int i = 0; i < 30; ++i) v = nlohmann::json::array({v});
  CHECK(cf::json_brief(v) == "an array of 1 values");
}

TEST_CASE("genotypes beyond the documented limits are refused quickly", "[space][limits]") {
  CHECK_NOTHROW(cf::parse_genotype(with_blocks(cf::kMaxBlocksPerCell)));
  CHECK_THROWS_WITH(cf::parse_genotype(with_blocks(cf::kMaxBlocksPerCell + 1)),
                    Catch::Contains("normal.blocks") && Catch::Contains("limit of 64"));
  // 100,000 blocks: refused by size before anything super-linear runs.
  CHECK_THROWS_WITH(cf::parse_genotype(with_blocks(100000)), Catch::Contains("larger than"));
  const std::string long_name =
      std::string(with_blocks(2)).insert(1, "\"name\": \"" + std::string(300, 'n') + "\", ");
  CHECK_THROWS_WITH(cf::parse_genotype(long_name),
                    Catch::Contains("name") && Catch::Contains("limit of 256"));
}

TEST_CASE("genotype files: size cap, devices, numbers out of range name the file",
          "[space][limits]") {
  cf::test::TempDir dir;
  CHECK_THROWS_WITH(cf::load_genotype_file("/dev/zero"), Catch::Contains("/dev/zero"));
  cf::test::write_file(dir / "big.json", std::string(2 << 20, ' '));
  CHECK_THROWS_WITH(cf::load_genotype_file(dir / "big.json"),
                    Catch::Contains("big.json") && Catch::Contains("larger"));
  std::string huge_number = with_blocks(2);
  huge_number.insert(1, "\"name\": 1e400, ");
  cf::test::write_file(dir / "n.json", huge_number);
  CHECK_THROWS_WITH(cf::load_genotype_file(dir / "n.json"),
                    Catch::Contains("n.json") && Catch::Contains("1e400"));
  CHECK_THROWS_WITH(cf::parse_genotype(huge_number, -1, "runs/x/results.sqlite: candidate 7"),
                    Catch::StartsWith("runs/x/results.sqlite: candidate 7: "));
}

TEST_CASE("params and MACs of a huge stacking fail loudly instead of wrapping negative",
          "[space][limits]") {
  // The largest cells the limits allow: 64 blocks, every one two 3x3 convolutions joined by concat.
  cf::Genotype g;
  for (cf::Cell* cell : {&g.normal, &g.reduction})
    for (int b = 0; b < cf::kMaxBlocksPerCell; ++b) {
      cf::Block block;
      block.inputs = {cf::kPrev, cf::kPrevPrev};
      block.ops = {cf::OpId::conv_3x3, cf::OpId::conv_3x3};
      block.combine = cf::Combine::concat;
      cell->blocks.push_back(block);
    }
  cf::NetworkSpec spec;
  spec.cells_per_stack = 64;
  spec.filters = 4096;
  spec.input = {3, 8192, 8192};
  const cf::Network net = cf::build_network(g, spec);
  CHECK_THROWS_WITH(net.macs(), Catch::Contains("too large to count"));
  spec.cells_per_stack = 1;
  spec.filters = 4;
  spec.input = {1, 8, 8};
  CHECK(cf::build_network(g, spec).macs() > 0);
}

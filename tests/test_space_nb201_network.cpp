// The NAS-Bench-201 network (space/nb201_network.h): the benchmark's published sizes, its
// structure (stem, cells, ResNet reductions, head), zero nodes, and Architecture round trips.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "space/architecture.h"
#include "space/nb201.h"
#include "space/nb201_network.h"

namespace {

cf::Network nb201(const std::string& arch, cf::NetworkSpec spec = cf::nb201_network_spec()) {
  return cf::build_nb201_network(cf::Nb201Space().parse_arch(arch), spec);
}

int count(const cf::Network& net, cf::LayerKind kind) {
  int n = 0;
  for (const auto& l : net.layers) n += l.kind == kind;
  return n;
}

const std::string kAllConv3x3 =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~"
    "2|";
const std::string kAllNone = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

}  // namespace

TEST_CASE("NB201 network: the benchmark's published parameter counts (CIFAR-10 geometry)",
          "[space][nb201]") {
  // Dong & Yang 2020: the largest cell 1.53M parameters, the smallest 0.07M.
  CHECK(nb201(kAllConv3x3).params() == 1531546);
  CHECK(nb201(kAllNone).params() == 73306);
  // Hand count for CIFAR-100 (100 classes): only the classifier changes, 64 x 90 more.
  cf::NetworkSpec c100 = cf::nb201_network_spec();
  c100.classes = 100;
  CHECK(nb201(kAllConv3x3, c100).params() == 1531546 + 64 * 90 + 90);
  // MACs of the all-none cell by hand: stem 27*16*32*32; reduction 1: conv_a 16*9*32*16*16,
  // conv_b 32*9*32*16*16, shortcut 16*32*16*16; reduction 2 the same at 32->64 and 8x8; FC 640.
  const int64_t macs = 27 * 16 * 1024 + (144 * 32 + 288 * 32 + 16 * 32) * 256 +
                       (288 * 64 + 576 * 64 + 32 * 64) * 64 + 640;
  CHECK(nb201(kAllNone).macs() == macs);
  // The benchmark's FLOPs (multiply-adds) of these two cells: 7.78M and 220.11M.
  CHECK(macs == 7783040);
  CHECK(nb201(kAllConv3x3).macs() == 220119680);
}

TEST_CASE("NB201 network: stem, 3 x N cells, two ResNet reductions, BN-ReLU-pool-FC head",
          "[space][nb201]") {
  const cf::Network net = nb201(kAllConv3x3);
  CHECK(net.num_cells == 17);  // 15 cells and 2 reduction blocks
  CHECK(net.cell_outputs.size() == 17u);
  CHECK(net.notation() == "5@64");
  CHECK(net.layers[net.cell_outputs[4]].out == cf::Shape{16, 32, 32});
  CHECK(net.layers[net.cell_outputs[5]].out == cf::Shape{32, 16, 16});
  CHECK(net.layers[net.cell_outputs[16]].out == cf::Shape{64, 8, 8});
  // 6 conv edges per cell, 3 convs per reduction, the stem conv.
  CHECK(count(net, cf::LayerKind::conv) == 15 * 6 + 2 * 3 + 1);
  // BN after every conv but the shortcut's, and before the head's ReLU.
  CHECK(count(net, cf::LayerKind::batch_norm) == 15 * 6 + 2 * 2 + 1 + 1);
  for (const auto& l : net.layers)
    if (l.kind == cf::LayerKind::batch_norm) CHECK(l.bn_epsilon == cf::kTorchBatchNormEpsilon);
  CHECK(count(net, cf::LayerKind::zero) == 0);
  CHECK(count(net, cf::LayerKind::dropout) == 0);
  const cf::Layer& fc = net.layers[net.logits];
  CHECK(fc.kind == cf::LayerKind::fully_connected);
  CHECK(net.layers[fc.inputs[0]].kind == cf::LayerKind::global_avg_pool);
  // ReLU of a node is computed once however many conv edges read it.
  std::map<int, int> relus_of;
  for (const auto& l : net.layers)
    if (l.kind == cf::LayerKind::relu) ++relus_of[l.inputs[0]];
  for (auto [input, n] : relus_of) CHECK(n == 1);
}

TEST_CASE("NB201 network: none edges add nothing, a node of only none edges is a zero tensor",
          "[space][nb201]") {
  // Node 1 is zero; node 2 = conv(node 1) (a BN of zeros) + skip(node 0); node 3 = pool(node 2).
  const cf::Network net =
      nb201("|none~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|none~1|avg_pool_3x3~2|");
  CHECK(count(net, cf::LayerKind::zero) == 15);
  CHECK(count(net, cf::LayerKind::avg_pool) == 15 + 2);  // the cells' and the shortcuts'
  for (const auto& l : net.layers)
    if (l.kind == cf::LayerKind::zero) {
      CHECK(l.out == net.layers[l.inputs[0]].out);
      CHECK(l.cell >= 0);
    }
  // All-none cells: every cell output is a zero layer; the counts above still hold.
  const cf::Network none = nb201(kAllNone);
  for (int c : {0, 1, 2, 3, 4, 6, 10, 16})
    CHECK(none.layers[none.cell_outputs[c]].kind == cf::LayerKind::zero);
  // A cell whose output node only skips from its input is the identity (its other nodes are
  // dead ends, still counted in params as the benchmark counts them).
  const cf::Network skip = nb201("|skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|");
  CHECK(skip.cell_outputs[0] == skip.cell_outputs[1]);
}

TEST_CASE("NB201 network: stacking options and errors", "[space][nb201]") {
  cf::NetworkSpec spec = cf::nb201_network_spec();
  spec.filters = 8;
  spec.cells_per_stack = 1;
  spec.input = {1, 28, 28};
  spec.classes = 10;
  const cf::Network small = nb201(kAllConv3x3, spec);
  CHECK(small.num_cells == 5);
  CHECK(small.layers[small.cell_outputs.back()].out == cf::Shape{32, 7, 7});
  spec.dropout = 0.2f;
  CHECK(count(nb201(kAllConv3x3, spec), cf::LayerKind::dropout) == 1);
  spec.input = {1, 30, 28};
  CHECK_THROWS_WITH(nb201(kAllConv3x3, spec), Catch::Contains("divisible by 4"));
  spec.input = {1, 28, 28};
  spec.aux_head = true;
  CHECK_THROWS_WITH(nb201(kAllConv3x3, spec), Catch::Contains("no auxiliary head"));
  CHECK_THROWS_AS(cf::build_nb201_network({0, 1, 2}, cf::nb201_network_spec()), cf::GenotypeError);
}

TEST_CASE("Architecture: NB201 strings, JSON of either space, hashes and networks",
          "[space][nb201]") {
  const cf::Architecture a = cf::resolve_architecture(kAllConv3x3);
  REQUIRE(a.is_nb201());
  CHECK(a.space() == "nb201");
  CHECK(cf::describe(a) == kAllConv3x3);
  CHECK(cf::canonical_hash(a) == cf::Nb201Space().canonical_hash(a.nb201().ops));
  cf::Architecture named = a;
  named.set_name("widest");
  const std::string text = cf::write_architecture(named);
  const cf::Architecture back = cf::parse_architecture(text, "x.json");
  CHECK(back == named);
  CHECK(nlohmann::json::parse(text)["space"] == "nb201");
  CHECK(cf::build_network(back, cf::default_network_spec("nb201")).params() == 1531546);

  const cf::Architecture nasnet = cf::resolve_architecture("nasnet_a");
  CHECK_FALSE(nasnet.is_nb201());
  CHECK(cf::parse_architecture(cf::write_architecture(nasnet)) == nasnet);
  CHECK_THROWS_AS(nasnet.nb201(), std::logic_error);
  CHECK_THROWS_WITH(cf::resolve_architecture("|nor_conv_9x9~0|+|"),
                    Catch::Contains("NAS-Bench-201 architecture"));
  CHECK_THROWS_WITH(
      cf::parse_architecture(R"({"format":"cellforge.genotype.v1","space":"nb201","arch":"|x~0|"})",
                             "f.json"),
      Catch::StartsWith("f.json: arch"));
  CHECK_THROWS_WITH(
      cf::parse_architecture(R"({"format":"cellforge.genotype.v1","space":"nb201","arch":")" +
                             kAllNone + R"(","name":")" + std::string(300, 'n') + "\"}"),
      Catch::Contains("name"));
}

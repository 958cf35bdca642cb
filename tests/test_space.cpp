// space/: genotype JSON, validation errors, canonical hash, sampling, mutations, decision
// sequences, stacking and counting.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <set>

#include "space/network.h"
#include "space/search_space.h"

using cf::Genotype;

namespace {

const std::vector<cf::OpId> kAllOps = [] {
  std::vector<cf::OpId> ops;
  for (const auto& info : cf::kOpTable) ops.push_back(info.id);
  return ops;
}();

cf::NasnetSpace full_space(int blocks = 5) {
  return cf::NasnetSpace({kAllOps, blocks, {cf::Combine::add, cf::Combine::concat}});
}

nlohmann::json nasnet_a_json() { return cf::genotype_to_json(*cf::builtin_genotype("nasnet_a")); }

// Expects parsing `doc` to fail with a message that starts with `path` and contains `fragment`.
void expect_error(const nlohmann::json& doc, const std::string& path, const std::string& fragment,
                  int expected_blocks = 5) {
  INFO(doc.dump());
  try {
    cf::genotype_from_json(doc, expected_blocks);
    FAIL("expected a GenotypeError for " << path);
  } catch (const cf::GenotypeError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.rfind(path + ":", 0) == 0);
    CHECK(msg.find(fragment) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("op table names are exact and unique", "[space][ops]") {
  const std::vector<std::string> expected = {
      "identity",     "conv_1x1",     "conv_3x3",     "conv_1x3_3x1",     "conv_1x7_7x1",
      "dil_conv_3x3", "dil_sep_conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7",
      "avg_pool_3x3", "max_pool_3x3", "max_pool_5x5", "max_pool_7x7"};
  REQUIRE(cf::kOpTable.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(cf::kOpTable[i].name == expected[i]);
    CHECK(cf::op_from_name(expected[i]) == cf::kOpTable[i].id);
  }
  CHECK_FALSE(cf::op_from_name("sep_conv_9x9"));
  const auto paper = cf::nasnet_paper_ops();
  CHECK(std::find(paper.begin(), paper.end(), cf::OpId::dil_sep_conv_3x3) == paper.end());
}

TEST_CASE("nasnet_paper_ops is sized by the op table: a 15th op cannot overflow it",
          "[space][ops]") {
  static_assert(cf::nasnet_paper_ops().size() == cf::kNumOps - 1);
  const auto paper = cf::nasnet_paper_ops();
  for (size_t i = 0, k = 0; i < cf::kOpTable.size(); ++i) {
    if (cf::kOpTable[i].id == cf::OpId::dil_sep_conv_3x3) continue;
    CHECK(paper[k++] == cf::kOpTable[i].id);
  }
  // A table with a 15th op (what adding an op to kOpTable does): every op but the excluded one,
  // in table order, and nothing written past the end (the old fixed array of 13 was).
  std::array<cf::OpInfo, cf::kNumOps + 1> fifteen{};
  std::copy(cf::kOpTable.begin(), cf::kOpTable.end(), fifteen.begin());
  fifteen.back() = {static_cast<cf::OpId>(cf::kNumOps), "new_op", cf::OpFamily::conv, 3, 1};
  const auto without = cf::ops_without(fifteen, cf::OpId::dil_sep_conv_3x3);
  REQUIRE(without.size() == 14);
  CHECK(std::find(without.begin(), without.end(), cf::OpId::dil_sep_conv_3x3) == without.end());
  CHECK(without.back() == static_cast<cf::OpId>(cf::kNumOps));
  // An excluded op that is missing or repeated is an error, not an overflow.
  fifteen[6] = fifteen[5];  // dil_sep_conv_3x3 gone
  CHECK_THROWS_AS(cf::ops_without(fifteen, cf::OpId::dil_sep_conv_3x3), std::logic_error);
  CHECK_THROWS_AS(cf::ops_without(fifteen, cf::OpId::dil_conv_3x3), std::logic_error);
}

TEST_CASE("built-in genotypes match the spec tables", "[space][genotype]") {
  const Genotype a = *cf::builtin_genotype("nasnet_a");
  CHECK(a.normal.blocks[1].inputs == std::array<int, 2>{cf::kPrevPrev, cf::kPrevPrev});
  CHECK(a.reduction.blocks[3].inputs == std::array<int, 2>{cf::block_state(1), cf::block_state(0)});
  CHECK(a.normal.output_states() == std::vector<int>{0, 2, 3, 4, 5, 6});
  CHECK(a.reduction.output_states() == std::vector<int>{3, 4, 5, 6});
  const Genotype amoeba = *cf::builtin_genotype("amoebanet_a");
  CHECK(amoeba.reduction.blocks[4].ops[0] == cf::OpId::conv_1x7_7x1);
  // "unused" gives b2, b3, b4 in the normal cell and b1, b2, b4 in the reduction cell.
  CHECK(amoeba.normal.output_states() == std::vector<int>{4, 5, 6});
  CHECK(amoeba.reduction.output_states() == std::vector<int>{3, 4, 6});
  CHECK_FALSE(cf::builtin_genotype("nasnet_b"));
  CHECK_THROWS_AS(cf::resolve_genotype("nasnet_b"), cf::GenotypeError);
}

TEST_CASE("genotype JSON round trip of many random genotypes", "[space][genotype]") {
  cf::Rng rng(7);
  for (int blocks : {1, 3, 5, 7}) {
    const auto space = full_space(blocks);
    for (int i = 0; i < 300; ++i) {
      Genotype g = space.decode(space.sample(rng));
      g.name = "random" + std::to_string(i);
      if (i % 3 == 0) g.normal.concat = g.normal.output_states();
      if (i % 5 == 0) g.reduction.concat = std::vector<int>{cf::kPrev, cf::block_state(blocks - 1)};
      const std::string text = cf::write_genotype(g);
      const Genotype back = cf::parse_genotype(text, blocks);
      REQUIRE(back == g);
      CHECK(cf::write_genotype(back) == text);
      CHECK(cf::canonical_hash(back) == cf::canonical_hash(g));
    }
  }
}

TEST_CASE("every validation error names the JSON path", "[space][genotype]") {
  auto doc = nasnet_a_json();
  SECTION("not an object") { expect_error(nlohmann::json::array(), "$", "object"); }
  SECTION("wrong format") {
    doc["format"] = "cellforge.genotype.v0";
    expect_error(doc, "format", "cellforge.genotype.v1");
  }
  SECTION("wrong space") {
    doc["space"] = "darts";
    expect_error(doc, "space", "nasnet");
  }
  SECTION("unknown top-level key") {
    doc["extra"] = 1;
    expect_error(doc, "extra", "unknown key");
  }
  SECTION("unknown cell key") {
    doc["normal"]["foo"] = 1;
    expect_error(doc, "normal.foo", "unknown key");
  }
  SECTION("unknown block key") {
    doc["reduction"]["blocks"][1]["weight"] = 1;
    expect_error(doc, "reduction.blocks[1].weight", "unknown key");
  }
  SECTION("missing key") {
    doc["normal"]["blocks"][0].erase("combine");
    expect_error(doc, "normal.blocks[0]", "missing key \"combine\"");
  }
  SECTION("unknown op") {
    doc["normal"]["blocks"][2]["ops"][1] = "sep_conv_9x9";
    expect_error(doc, "normal.blocks[2].ops[1]", "not a known op");
  }
  SECTION("op not a string") {
    doc["normal"]["blocks"][2]["ops"][0] = 3;
    expect_error(doc, "normal.blocks[2].ops[0]", "op name");
  }
  SECTION("forward reference") {
    doc["normal"]["blocks"][2]["inputs"][1] = "b3";
    expect_error(doc, "normal.blocks[2].inputs[1]", "\"b3\" refers to a later block");
  }
  SECTION("self reference") {
    doc["reduction"]["blocks"][0]["inputs"][0] = "b0";
    expect_error(doc, "reduction.blocks[0].inputs[0]", "later block");
  }
  SECTION("block that does not exist") {
    doc["normal"]["blocks"][4]["inputs"][0] = "b9";
    expect_error(doc, "normal.blocks[4].inputs[0]", "does not exist");
  }
  SECTION("bad state name") {
    doc["normal"]["blocks"][4]["inputs"][0] = "previous";
    expect_error(doc, "normal.blocks[4].inputs[0]", "not a state");
  }
  SECTION("three inputs") {
    doc["normal"]["blocks"][4]["inputs"].push_back("prev");
    expect_error(doc, "normal.blocks[4].inputs", "two states");
  }
  SECTION("bad combine") {
    doc["normal"]["blocks"][3]["combine"] = "mul";
    expect_error(doc, "normal.blocks[3].combine", "\"mul\"");
  }
  SECTION("empty concat") {
    doc["reduction"]["concat"] = nlohmann::json::array();
    expect_error(doc, "reduction.concat", "empty concat");
  }
  SECTION("concat string other than unused") {
    doc["reduction"]["concat"] = "all";
    expect_error(doc, "reduction.concat", "unused");
  }
  SECTION("concat of a missing block") {
    doc["reduction"]["concat"][0] = "b5";
    expect_error(doc, "reduction.concat[0]", "does not exist");
  }
  SECTION("duplicate concat entry") {
    doc["reduction"]["concat"][1] = "b1";
    expect_error(doc, "reduction.concat[1]", "twice");
  }
  SECTION("block count differs from the space") {
    doc["normal"]["blocks"].erase(4);
    expect_error(doc, "normal.blocks", "has 4 blocks, the space has 5");
  }
  SECTION("no blocks") {
    doc["normal"]["blocks"] = nlohmann::json::array();
    expect_error(doc, "normal.blocks", "at least one block", -1);
  }
  SECTION("not JSON at all") {
    CHECK_THROWS_WITH(cf::parse_genotype("{\"format\": "), Catch::Contains("not valid JSON"));
  }
}

TEST_CASE("canonical hash: equal for the same architecture, different otherwise", "[space][hash]") {
  const Genotype a = *cf::builtin_genotype("nasnet_a");
  const std::string h = cf::canonical_hash(a);
  SECTION("swapping the halves of an add block") {
    Genotype b = a;
    std::swap(b.normal.blocks[0].inputs[0], b.normal.blocks[0].inputs[1]);
    std::swap(b.normal.blocks[0].ops[0], b.normal.blocks[0].ops[1]);
    CHECK(cf::canonical_hash(b) == h);
  }
  SECTION("the name is not part of the identity") {
    Genotype b = a;
    b.name = "other";
    CHECK(cf::canonical_hash(b) == h);
  }
  SECTION("states that never reach the output") {
    Genotype g = a;
    g.reduction.concat = std::vector<int>{cf::block_state(2), cf::block_state(3)};
    // b4 is now dead in the reduction cell: changing it does not change the architecture.
    Genotype dead = g;
    dead.reduction.blocks[4].ops = {cf::OpId::conv_3x3, cf::OpId::max_pool_7x7};
    dead.reduction.blocks[4].inputs = {cf::kPrev, cf::kPrev};
    CHECK(cf::canonical_hash(dead) == cf::canonical_hash(g));
    CHECK(cf::canonical_hash(g) != h);
  }
  SECTION("renumbering independent blocks") {
    Genotype b = a;
    std::swap(b.normal.blocks[2], b.normal.blocks[3]);
    b.normal.concat = std::vector<int>{0, 2, 3, 5, 4, 6};  // same states, same order
    CHECK(cf::canonical_hash(b) == h);
  }
  SECTION("unused rule and the equivalent explicit list") {
    Genotype u = *cf::builtin_genotype("amoebanet_a");
    Genotype e = u;
    e.normal.concat = e.normal.output_states();
    CHECK(cf::canonical_hash(u) == cf::canonical_hash(e));
  }
  SECTION("a different op, input, combine or concat order is a different architecture") {
    Genotype b = a;
    b.normal.blocks[4].ops[1] = cf::OpId::conv_1x1;
    CHECK(cf::canonical_hash(b) != h);
    Genotype c = a;
    c.normal.blocks[4].inputs[1] = cf::kPrevPrev;
    CHECK(cf::canonical_hash(c) != h);
    Genotype d = a;
    d.normal.blocks[1].combine = cf::Combine::concat;
    CHECK(cf::canonical_hash(d) != h);
    Genotype e = a;
    std::swap((*e.reduction.concat)[0], (*e.reduction.concat)[1]);
    CHECK(cf::canonical_hash(e) != h);
  }
  SECTION("sharing a block is not the same as two identical blocks") {
    Genotype g = a;
    g.normal.blocks[1] = g.normal.blocks[0];  // b1 computes what b0 computes, with its own weights
    g.normal.blocks[4].inputs = {cf::block_state(0), cf::block_state(1)};
    g.normal.blocks[4].ops = {cf::OpId::identity, cf::OpId::identity};
    Genotype shared = g;
    shared.normal.blocks[4].inputs = {cf::block_state(0), cf::block_state(0)};
    CHECK(cf::canonical_hash(g) != cf::canonical_hash(shared));
  }
  SECTION("distinct random genotypes rarely collide") {
    cf::Rng rng(3);
    const auto space = full_space();
    std::set<std::string> hashes;
    for (int i = 0; i < 2000; ++i) hashes.insert(space.canonical_hash(space.sample(rng)));
    CHECK(hashes.size() == 2000);
  }
}

TEST_CASE("uniform sampling reaches every op and every legal input", "[space][sampling]") {
  cf::Rng rng(11);
  const auto space = full_space();
  const auto& ds = space.decisions();
  REQUIRE(ds.size() == 2 * 5 * 5);
  std::vector<std::set<int>> seen(ds.size());
  for (int i = 0; i < 3000; ++i) {
    const auto seq = space.sample(rng);
    space.check(seq);
    cf::validate(space.decode(seq), 5);
    for (size_t k = 0; k < seq.size(); ++k) seen[k].insert(seq[k]);
  }
  for (size_t k = 0; k < ds.size(); ++k) {
    INFO(ds[k].label);
    CHECK(static_cast<int>(seen[k].size()) == ds[k].cardinality);
  }
  // Block k's inputs may be prev_prev, prev, b0..b{k-1}.
  CHECK(ds[0].cardinality == 2);
  CHECK(ds[5 * 4].cardinality == 6);
  // Sampling is a pure function of the seed.
  cf::Rng r1(5), r2(5);
  CHECK(space.sample(r1) == space.sample(r2));
}

TEST_CASE("mutations always give valid, different genotypes", "[space][mutation]") {
  cf::Rng rng(13);
  const auto space = full_space();
  const cf::NasnetSpace paper({});
  for (const cf::NasnetSpace* s : {&space, &paper}) {
    for (int i = 0; i < 1000; ++i) {
      const auto parent = s->sample(rng);
      for (auto kind : {cf::Mutation::hidden_state, cf::Mutation::op}) {
        const auto child = s->mutate(parent, kind, rng);
        s->check(child);
        cf::validate(s->decode(child), 5);
        CHECK(s->canonical_hash(child) != s->canonical_hash(parent));
        int changed = 0, changed_kind_ok = 0;
        for (size_t k = 0; k < child.size(); ++k) {
          if (child[k] == parent[k]) continue;
          ++changed;
          const auto want = kind == cf::Mutation::op ? cf::DecisionKind::op : cf::DecisionKind::input;
          if (s->decisions()[k].kind == want) ++changed_kind_ok;
        }
        CHECK(changed == 1);
        CHECK(changed_kind_ok == 1);
      }
      CHECK(s->mutate(parent, cf::Mutation::identity, rng) == parent);
    }
  }
}

TEST_CASE("decision sequences round trip exactly", "[space][decisions]") {
  cf::Rng rng(17);
  const auto space = full_space();
  for (int i = 0; i < 500; ++i) {
    const auto seq = space.sample(rng);
    const Genotype g = space.decode(seq);
    CHECK(space.encode(g) == seq);
    CHECK(space.decode(space.encode(g)) == g);
    CHECK(space.from_json(space.to_json(seq)) == seq);
  }
  // An explicit list equal to the "unused" rule is accepted; another one is not expressible.
  const Genotype amoeba = *cf::builtin_genotype("amoebanet_a");
  const cf::NasnetSpace paper({});
  CHECK_NOTHROW(paper.encode(amoeba));
  CHECK_THROWS_WITH(paper.encode(*cf::builtin_genotype("nasnet_a")), Catch::Contains("normal.concat"));
  cf::NasnetSpace small({{cf::OpId::identity, cf::OpId::sep_conv_3x3}, 5, {cf::Combine::add}});
  CHECK_THROWS_WITH(small.encode(amoeba), Catch::Contains("normal.blocks[0].ops[0]"));
  CHECK_THROWS_WITH(space.check({1, 2, 3}), Catch::Contains("expected 50"));
}

TEST_CASE("NASNet-A parameter and MAC counts match the paper", "[space][stacking]") {
  const Genotype a = *cf::builtin_genotype("nasnet_a");
  cf::NetworkSpec cifar;  // N=6, F=32, cifar stem x3, 32x32x3, 10 classes
  const auto net = cf::build_network(a, cifar);
  CHECK(net.notation() == "6@768");
  CHECK(std::abs(net.params() - 3.3e6) / 3.3e6 < 0.02);
  // Paper Table 2: NASNet-A (4 @ 1056) mobile, 5.3M parameters, 564M multiply-adds.
  cf::NetworkSpec mobile;
  mobile.cells_per_stack = 4;
  mobile.filters = 44;
  mobile.stem = cf::Stem::imagenet;
  mobile.stem_multiplier = 1.0;
  mobile.input = {3, 224, 224};
  mobile.classes = 1000;
  const auto m = cf::build_network(a, mobile);
  CHECK(m.notation() == "4@1056");
  CHECK(std::abs(m.params() - 5.3e6) / 5.3e6 < 0.02);
  CHECK(std::abs(m.macs() - 564e6) / 564e6 < 0.02);
}

TEST_CASE("stacking: shapes, cells, auxiliary head and counting conventions", "[space][stacking]") {
  const Genotype a = *cf::builtin_genotype("nasnet_a");
  cf::NetworkSpec spec;
  spec.cells_per_stack = 2;
  spec.filters = 16;
  spec.input = {1, 28, 28};
  const auto net = cf::build_network(a, spec);
  REQUIRE(net.cell_outputs.size() == 8);
  CHECK(net.num_cells == 8);
  const auto out = [&](int cell) { return net.layers[net.cell_outputs[cell]].out; };
  CHECK(out(0) == cf::Shape{96, 28, 28});
  CHECK(out(2) == cf::Shape{128, 14, 14});  // reduction: 4 x 32 channels, ceil(28/2)
  CHECK(out(5) == cf::Shape{256, 7, 7});
  CHECK(out(7) == cf::Shape{384, 7, 7});
  CHECK(net.layers[net.logits].out == cf::Shape{10, 1, 1});
  CHECK(net.aux_logits == -1);
  // Every layer's inputs come earlier; names are unique.
  std::set<std::string> names;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    for (int in : net.layers[i].inputs) CHECK(in < static_cast<int>(i));
    CHECK(names.insert(net.layers[i].name).second);
  }
  // Auxiliary head: counted in params only when enabled, never in inference MACs.
  spec.aux_head = true;
  const auto aux = cf::build_network(a, spec);
  REQUIRE(aux.aux_logits >= 0);
  CHECK(aux.params() > net.params());
  CHECK(aux.macs() == net.macs());
  // Odd sizes: 7 -> 4 after a reduction, imagenet stem shrinks 28 -> 13 -> 7 -> 4.
  spec.aux_head = false;
  spec.stem = cf::Stem::imagenet;
  spec.stem_multiplier = 1;
  const auto img = cf::build_network(a, spec);
  CHECK(img.num_cells == 10);
  CHECK(img.layers[img.cell_outputs[0]].out.h == 7);
  CHECK(img.layers[img.cell_outputs[1]].out.h == 4);
  CHECK(img.layers[img.cell_outputs.back()].out.h == 1);
  // Bad stacking parameters name the parameter.
  cf::NetworkSpec bad;
  bad.filters = 2;
  CHECK_THROWS_WITH(cf::build_network(a, bad), Catch::Contains("filters"));
  bad = {};
  bad.classes = 1;
  CHECK_THROWS_WITH(cf::build_network(a, bad), Catch::Contains("classes"));
}

TEST_CASE("op costs follow the counting conventions", "[space][ops]") {
  const cf::Shape in{32, 16, 16};
  const int c = 32;
  // sep_conv_kxk: twice [depthwise k*k*C, pointwise C*C, BN 2C].
  for (auto [op, k] : {std::pair{cf::OpId::sep_conv_3x3, 3}, {cf::OpId::sep_conv_5x5, 5},
                       {cf::OpId::sep_conv_7x7, 7}}) {
    const auto cost = cf::op_cost(op, in, c, 1);
    CHECK(cost.params == 2 * (k * k * c + c * c + 2 * c));
    CHECK(cost.macs == 2 * (k * k * c + c * c) * 16 * 16);
    CHECK(cost.out == in);
    const auto strided = cf::op_cost(op, in, c, 2);
    CHECK(strided.out == cf::Shape{c, 8, 8});
    CHECK(strided.macs == (k * k * c + c * c) * 8 * 8 * 2);
  }
  CHECK(cf::op_cost(cf::OpId::identity, in, c, 1).params == 0);
  CHECK(cf::op_cost(cf::OpId::identity, in, c, 2).params == c * c + 2 * c);
  CHECK(cf::op_cost(cf::OpId::identity, {64, 16, 16}, c, 1).params == 64 * c + 2 * c);
  CHECK(cf::op_cost(cf::OpId::conv_3x3, in, c, 1).params == 9 * c * c + 2 * c);
  CHECK(cf::op_cost(cf::OpId::conv_1x7_7x1, in, c, 1).params == 14 * c * c + 2 * c);
  CHECK(cf::op_cost(cf::OpId::dil_conv_3x3, in, c, 1).out == in);
  CHECK(cf::op_cost(cf::OpId::dil_sep_conv_3x3, in, c, 1).params == 9 * c + c * c + 2 * c);
  CHECK(cf::op_cost(cf::OpId::max_pool_7x7, in, c, 1).params == 0);
  CHECK(cf::op_cost(cf::OpId::max_pool_7x7, in, c, 2).out == cf::Shape{c, 8, 8});
  CHECK(cf::op_cost(cf::OpId::avg_pool_3x3, {64, 16, 16}, c, 1).params == 64 * c + 2 * c);
}

TEST_CASE("input shapes parse as HxWxC", "[space]") {
  CHECK(cf::parse_input_shape("28x28x1") == cf::Shape{1, 28, 28});
  CHECK(cf::parse_input_shape("32X16x3") == cf::Shape{3, 32, 16});
  CHECK_FALSE(cf::parse_input_shape("28x28"));
  CHECK_FALSE(cf::parse_input_shape("28x28x0"));
  CHECK_FALSE(cf::parse_input_shape("28x28x1x"));
  CHECK_FALSE(cf::parse_input_shape("axbxc"));
}

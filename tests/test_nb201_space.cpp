// Nb201Space: decisions, the architecture string, genotype JSON and identity.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "space/nb201.h"

namespace {

// The example of spec section 6.
constexpr const char* kExample =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "skip_connect~2|";

std::string error_of(const cf::Nb201Space& space, const std::string& arch) {
  try {
    space.parse_arch(arch);
  } catch (const cf::GenotypeError& e) {
    return e.what();
  }
  return "";
}

std::string json_error_of(const cf::Nb201Space& space, const nlohmann::json& doc) {
  try {
    space.from_json(doc);
  } catch (const cf::GenotypeError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("nb201 space has six op decisions of five choices in string order") {
  const cf::Nb201Space space;
  CHECK(space.name() == "nb201");
  REQUIRE(space.decisions().size() == 6);
  for (const auto& d : space.decisions()) {
    CHECK(d.kind == cf::DecisionKind::op);
    CHECK(d.cardinality == 5);
  }
  CHECK(space.decisions()[0].label == "node1.edge0");
  CHECK(space.decisions()[2].label == "node2.edge1");
  CHECK(space.decisions()[5].label == "node3.edge2");
  CHECK(cf::Nb201Space::edge_index(3, 1) == 4);
  CHECK(cf::Nb201Space::kOpNames[0] == "none");
  CHECK(cf::Nb201Space::kOpNames[4] == "avg_pool_3x3");
}

TEST_CASE("nb201 architecture strings round-trip") {
  const cf::Nb201Space space;
  const cf::DecisionSeq seq = space.parse_arch(kExample);
  CHECK(seq == cf::DecisionSeq{3, 3, 4, 1, 3, 1});
  CHECK(space.arch_string(seq) == kExample);
  CHECK(space.arch_string({0, 0, 0, 0, 0, 0}) == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
  // Every architecture has a distinct string and dense index, and both invert.
  std::set<std::string> strings;
  for (int index = 0; index < cf::Nb201Space::kArchitectures; ++index) {
    const cf::DecisionSeq s = space.from_dense_index(index);
    REQUIRE(space.dense_index(s) == index);
    const std::string arch = space.arch_string(s);
    REQUIRE(space.parse_arch(arch) == s);
    strings.insert(arch);
  }
  CHECK(strings.size() == cf::Nb201Space::kArchitectures);
  CHECK_THROWS_AS(space.from_dense_index(cf::Nb201Space::kArchitectures), cf::GenotypeError);
  CHECK_THROWS_AS(space.arch_string({0, 0, 0}), cf::GenotypeError);
  CHECK_THROWS_AS(space.arch_string({0, 0, 0, 0, 0, 5}), cf::GenotypeError);
}

TEST_CASE("nb201 malformed architecture strings name what is wrong") {
  const cf::Nb201Space space;
  CHECK_THAT(error_of(space, "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
             Catch::Contains("node 1 edge 0") && Catch::Contains("\"conv\" is not an op"));
  CHECK_THAT(error_of(space, "|none~0|+|none~1|none~0|+|none~0|none~1|none~2|"),
             Catch::Contains("node 2 edge 0") && Catch::Contains("expected input ~0"));
  CHECK_THAT(error_of(space, "|none~0|+|none~0|+|none~0|none~1|none~2|"),
             Catch::Contains("node 2 edge 1") && Catch::Contains("expected op~input"));
  CHECK_THAT(error_of(space, "|none~0|+|none~0|none~1|none~2|+|none~0|none~1|none~2|"),
             Catch::Contains("node 2 has more than 2 edges"));
  CHECK_THAT(error_of(space, "|none~0|+|none~0|none~1|"), Catch::Contains("expected '+'"));
  CHECK_THAT(error_of(space, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|x"),
             Catch::Contains("after node 3"));
  CHECK_THAT(error_of(space, "none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
             Catch::Contains("expected '|'"));
  CHECK_THAT(error_of(space, "|none0|+|none~0|none~1|+|none~0|none~1|none~2|"),
             Catch::Contains("expected op~input"));
  CHECK_THAT(error_of(space, ""), Catch::StartsWith("arch: "));
}

TEST_CASE("nb201 genotype JSON round-trips and is strict") {
  const cf::Nb201Space space;
  const cf::DecisionSeq seq = space.parse_arch(kExample);
  const nlohmann::json doc = space.to_json(seq);
  CHECK(doc == nlohmann::json{
                   {"format", "cellforge.genotype.v1"}, {"space", "nb201"}, {"arch", kExample}});
  CHECK(space.from_json(doc) == seq);
  nlohmann::json named = doc;
  named["name"] = "example";
  CHECK(space.from_json(named) == seq);

  auto with = [&](const std::string& key, const nlohmann::json& value) {
    nlohmann::json d = doc;
    d[key] = value;
    return d;
  };
  auto without = [&](const std::string& key) {
    nlohmann::json d = doc;
    d.erase(key);
    return d;
  };
  CHECK_THAT(json_error_of(space, nlohmann::json::array()), Catch::StartsWith("$: "));
  CHECK_THAT(json_error_of(space, with("cells", 1)), Catch::StartsWith("cells: unknown key"));
  CHECK_THAT(json_error_of(space, with("format", "v0")), Catch::StartsWith("format: "));
  CHECK_THAT(json_error_of(space, with("space", "nasnet")), Catch::StartsWith("space: "));
  CHECK_THAT(json_error_of(space, with("name", 3)), Catch::StartsWith("name: "));
  CHECK_THAT(json_error_of(space, with("arch", 7)), Catch::StartsWith("arch: expected"));
  CHECK_THAT(json_error_of(space, without("arch")), Catch::StartsWith("arch: missing key"));
  CHECK_THAT(json_error_of(space, without("format")), Catch::StartsWith("format: missing key"));
  CHECK_THAT(json_error_of(space, with("arch", "|none~0|")),
             Catch::StartsWith("arch: ") && Catch::Contains("expected '+'"));
}

TEST_CASE("nb201 canonical hash is the hash of the architecture string") {
  const cf::Nb201Space space;
  const cf::DecisionSeq seq = space.parse_arch(kExample);
  CHECK(space.canonical_hash(seq) == cf::hash_hex(kExample));
  CHECK(space.canonical_hash(seq).size() == 16);
  CHECK(space.canonical_hash(seq) != space.canonical_hash({0, 0, 0, 0, 0, 0}));
}

TEST_CASE("nb201 sampling and mutation stay in the space") {
  const cf::Nb201Space space;
  cf::Rng rng(7);
  const cf::DecisionSeq parent = space.sample(rng);
  for (auto kind : {cf::Mutation::op, cf::Mutation::hidden_state}) {
    for (int k = 0; k < 50; ++k) {
      const cf::DecisionSeq child = space.mutate(parent, kind, rng);
      space.check(child);
      int changed = 0;
      for (size_t i = 0; i < child.size(); ++i) changed += child[i] != parent[i];
      CHECK(changed == 1);  // hidden_state falls back to op: nb201 has no input decisions
    }
  }
  CHECK(space.mutate(parent, cf::Mutation::identity, rng) == parent);
}

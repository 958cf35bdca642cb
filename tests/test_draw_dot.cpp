// genotype_dot's structure: one cluster per cell, the cell inputs, one node per op and per block,
// a concat node, and exactly the edges of the genotype (state -> op -> block, outputs -> concat).
#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "genotype_fixtures.h"
#include "results/draw.h"
#include "space/genotype.h"

namespace {

struct Dot {
  std::map<std::string, std::string> labels;      // node id -> label
  std::map<std::string, std::string> cluster_of;  // node id -> cluster name
  std::multiset<std::pair<std::string, std::string>> edges;
  std::vector<std::string> clusters;
};

// Reads back the subset of DOT that genotype_dot writes: clusters, node statements with a label,
// and edges, one statement per line.
Dot parse(const std::string& text) {
  Dot dot;
  const std::regex cluster(R"(^\s*subgraph cluster_(\w+) \{$)");
  const std::regex node(R"re(^\s*(\w+) \[label="([^"]*)".*\];$)re");
  const std::regex edge(R"(^\s*(\w+) -> (\w+);$)");
  std::istringstream lines(text);
  std::string line, current;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, cluster)) {
      current = m[1];
      dot.clusters.push_back(current);
    } else if (std::regex_match(line, m, node)) {
      REQUIRE(dot.labels.count(m[1]) == 0);  // every node is declared once
      dot.labels[m[1]] = m[2];
      dot.cluster_of[m[1]] = current;
    } else if (std::regex_match(line, m, edge)) {
      dot.edges.insert({m[1], m[2]});
    } else if (line == "  }") {
      current.clear();
    }
  }
  return dot;
}

void check_cell(const Dot& dot, const cf::Cell& cell, const std::string& name) {
  INFO(name << " cell");
  auto id = [&](const std::string& what) { return name + "_" + what; };
  // Nodes: prev_prev, prev, per block one combine node and two op nodes, one concat node.
  int nodes = 0;
  for (const auto& [node, cluster] : dot.cluster_of) nodes += cluster == name;
  CHECK(nodes == 2 + 3 * static_cast<int>(cell.blocks.size()) + 1);
  CHECK(dot.labels.at(id("prev_prev")) == "prev_prev");
  CHECK(dot.labels.at(id("prev")) == "prev");
  CHECK(dot.labels.at(id("out")) == "concat");
  std::multiset<std::pair<std::string, std::string>> expected;
  for (size_t b = 0; b < cell.blocks.size(); ++b) {
    const cf::Block& block = cell.blocks[b];
    const std::string bname = "b" + std::to_string(b);
    CHECK(dot.labels.at(id(bname)) ==
          bname + " (" + std::string(cf::combine_name(block.combine)) + ")");
    for (int k = 0; k < 2; ++k) {
      const std::string op = id(bname + (k == 0 ? "_left" : "_right"));
      CHECK(dot.labels.at(op) == cf::op_name(block.ops[k]));
      expected.insert({id(cf::state_name(block.inputs[k])), op});
      expected.insert({op, id(bname)});
    }
  }
  for (int s : cell.output_states()) expected.insert({id(cf::state_name(s)), id("out")});
  std::multiset<std::pair<std::string, std::string>> edges;
  for (const auto& e : dot.edges)
    if (dot.cluster_of.at(e.first) == name) edges.insert(e);
  CHECK(edges == expected);
}

}  // namespace

TEST_CASE("genotype_dot: one cluster per cell, one node per op, the genotype's edges", "[draw]") {
  for (const cf::Genotype& g :
       {*cf::builtin_genotype("nasnet_a"), *cf::builtin_genotype("amoebanet_a"),
        cf::test::all_ops_genotype()}) {
    INFO(g.name);
    const std::string text = cf::genotype_dot(g);
    CHECK(text.rfind("digraph \"" + g.name + "\" {", 0) == 0);
    CHECK(text.substr(text.size() - 2) == "}\n");
    const Dot dot = parse(text);
    CHECK(dot.clusters == std::vector<std::string>{"normal", "reduction"});
    // Every edge joins two declared nodes of the same cell.
    for (const auto& [from, to] : dot.edges) {
      INFO(from << " -> " << to);
      REQUIRE(dot.labels.count(from) == 1);
      REQUIRE(dot.labels.count(to) == 1);
      CHECK(dot.cluster_of.at(from) == dot.cluster_of.at(to));
    }
    check_cell(dot, g.normal, "normal");
    check_cell(dot, g.reduction, "reduction");
  }
}

TEST_CASE("genotype_dot: an unnamed genotype gets a default graph name", "[draw]") {
  cf::Genotype g = *cf::builtin_genotype("nasnet_a");
  g.name.clear();
  CHECK(cf::genotype_dot(g).rfind("digraph \"genotype\" {", 0) == 0);
}

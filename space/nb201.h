#pragma once
// The NAS-Bench-201 cell space (spec section 6): 4 nodes, node j sums one op on each edge from an
// earlier node i, so 6 edges with 5 ops each (15,625 architectures). The decision sequence lists
// the edges in the order of the benchmark's architecture string:
// (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "space/search_space.h"

namespace cf {

class Nb201Space final : public SearchSpace {
 public:
  static constexpr int kNodes = 4;
  static constexpr int kEdges = 6;
  static constexpr int kOps = 5;
  static constexpr int kArchitectures = 15625;  // kOps^kEdges
  // Op names in the benchmark's order; a decision's value indexes this array.
  static constexpr std::array<std::string_view, kOps> kOpNames = {
      "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};

  Nb201Space();

  std::string_view name() const override { return "nb201"; }
  const std::vector<Decision>& decisions() const override { return decisions_; }
  // {"format":"cellforge.genotype.v1","space":"nb201","arch":"|...|"}
  nlohmann::json to_json(const DecisionSeq& seq) const override;
  // Strict: unknown keys, wrong types, a wrong format or space and a malformed arch string throw
  // GenotypeError naming the JSON path. An optional "name" string is accepted (and ignored) as
  // in the NASNet genotype header.
  DecisionSeq from_json(const nlohmann::json& doc) const override;
  // hash_hex of the architecture string (the benchmark's identity of a cell).
  std::string canonical_hash(const DecisionSeq& seq) const override;

  // "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
  std::string arch_string(const DecisionSeq& seq) const;
  // Throws GenotypeError "<where>: ..." naming the offending part of the string.
  DecisionSeq parse_arch(std::string_view arch, std::string_view where = "arch") const;

  // Position of edge (to <- from) in the decision sequence; 1 <= to <= 3, 0 <= from < to.
  static constexpr int edge_index(int to, int from) { return (to - 1) * to / 2 + from; }
  // Dense index in [0, kArchitectures): sum of seq[e] * kOps^e. Checks seq.
  int dense_index(const DecisionSeq& seq) const;
  DecisionSeq from_dense_index(int index) const;

 private:
  std::vector<Decision> decisions_;
};

}  // namespace cf

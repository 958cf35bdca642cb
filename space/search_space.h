#pragma once
// The decision-sequence view shared by every search space: an architecture is a fixed-length
// list of categorical choices. Controllers only ever see this view, so every strategy runs on
// every space.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "space/genotype.h"
#include "space/rng.h"

namespace cf {

enum class DecisionKind : uint8_t { input, op, combine };

struct Decision {
  DecisionKind kind;
  int cardinality;    // choices are 0 .. cardinality-1
  std::string label;  // e.g. "normal.blocks[2].inputs[1]"
};

using DecisionSeq = std::vector<int>;

// Regularized-evolution mutations (Real et al. 2019).
enum class Mutation : uint8_t { hidden_state, op, identity };

class SearchSpace {
 public:
  virtual ~SearchSpace() = default;

  virtual std::string_view name() const = 0;  // "nasnet", "nb201"
  virtual const std::vector<Decision>& decisions() const = 0;

  // Genotype JSON (spec section 1) of a sequence, and back. from_json throws GenotypeError
  // naming the JSON path when the document does not belong to this space.
  virtual nlohmann::json to_json(const DecisionSeq& seq) const = 0;
  virtual DecisionSeq from_json(const nlohmann::json& doc) const = 0;

  // Canonical identity (equal for equivalent architectures); used for de-duplication.
  virtual std::string canonical_hash(const DecisionSeq& seq) const = 0;

  // Throws GenotypeError when seq has the wrong length or a choice out of range.
  void check(const DecisionSeq& seq) const;

  // Uniform sample: every decision independently uniform.
  DecisionSeq sample(Rng& rng) const;

  // One mutation of the given kind. hidden_state and op change exactly one decision of that kind
  // to another value, retrying until the canonical hash differs; identity returns seq unchanged.
  // A space without input decisions (nb201) treats hidden_state as op.
  DecisionSeq mutate(const DecisionSeq& seq, Mutation kind, Rng& rng) const;
};

struct NasnetSpaceConfig {
  std::vector<OpId> ops;                   // empty = the paper's 13 ops
  int blocks = 5;                          // B
  std::vector<Combine> combines{Combine::add};
};

// The NASNet space: per cell (normal, then reduction), per block: input, input, op, op, combine
// (2 x 5B decisions). Decoded cells use the "unused" concat rule.
class NasnetSpace final : public SearchSpace {
 public:
  explicit NasnetSpace(NasnetSpaceConfig config);

  std::string_view name() const override { return "nasnet"; }
  const std::vector<Decision>& decisions() const override { return decisions_; }
  nlohmann::json to_json(const DecisionSeq& seq) const override;
  DecisionSeq from_json(const nlohmann::json& doc) const override;
  std::string canonical_hash(const DecisionSeq& seq) const override;

  const NasnetSpaceConfig& config() const { return config_; }
  Genotype decode(const DecisionSeq& seq) const;
  // Throws GenotypeError if the genotype uses an op or combine outside the space, has another
  // block count, or has an explicit concat list that differs from the "unused" rule.
  DecisionSeq encode(const Genotype& genotype) const;

 private:
  NasnetSpaceConfig config_;
  std::vector<Decision> decisions_;
};

}  // namespace cf

#include "space/search_space.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace cf {

void SearchSpace::check(const DecisionSeq& seq) const {
  const auto& ds = decisions();
  if (seq.size() != ds.size())
    throw GenotypeError(std::string(name()) + " space: decision sequence has " +
                        std::to_string(seq.size()) + " choices, expected " +
                        std::to_string(ds.size()));
  for (size_t i = 0; i < seq.size(); ++i)
    if (seq[i] < 0 || seq[i] >= ds[i].cardinality)
      throw GenotypeError(ds[i].label + ": choice " + std::to_string(seq[i]) +
                          " out of range [0, " + std::to_string(ds[i].cardinality - 1) + "]");
}

DecisionSeq SearchSpace::sample(Rng& rng) const {
  DecisionSeq seq;
  seq.reserve(decisions().size());
  for (const auto& d : decisions()) seq.push_back(rng.uniform_int(d.cardinality));
  return seq;
}

DecisionSeq SearchSpace::mutate(const DecisionSeq& seq, Mutation kind, Rng& rng) const {
  check(seq);
  if (kind == Mutation::identity) return seq;
  const auto& ds = decisions();
  auto positions_of = [&](DecisionKind k) {
    std::vector<int> pos;
    for (size_t i = 0; i < ds.size(); ++i)
      if (ds[i].kind == k && ds[i].cardinality > 1) pos.push_back(static_cast<int>(i));
    return pos;
  };
  std::vector<int> positions =
      positions_of(kind == Mutation::hidden_state ? DecisionKind::input : DecisionKind::op);
  if (positions.empty()) positions = positions_of(DecisionKind::op);
  if (positions.empty()) positions = positions_of(DecisionKind::input);
  if (positions.empty()) return seq;  // a space with a single architecture
  const std::string parent_hash = canonical_hash(seq);
  DecisionSeq child;
  // A change to a decision that does not reach the output leaves the architecture as it was;
  // retry so the child is a different architecture whenever one exists.
  for (int attempt = 0; attempt < 64; ++attempt) {
    child = seq;
    const int pos = positions[rng.uniform_int(static_cast<int>(positions.size()))];
    const int offset = 1 + rng.uniform_int(ds[pos].cardinality - 1);
    child[pos] = (seq[pos] + offset) % ds[pos].cardinality;
    if (canonical_hash(child) != parent_hash) return child;
  }
  return child;
}

NasnetSpace::NasnetSpace(NasnetSpaceConfig config) : config_(std::move(config)) {
  if (config_.ops.empty()) {
    auto paper = nasnet_paper_ops();
    config_.ops.assign(paper.begin(), paper.end());
  }
  if (config_.blocks < 1 || config_.blocks > 64)
    throw GenotypeError("space.blocks: " + std::to_string(config_.blocks) +
                        " out of range [1, 64]");
  if (config_.combines.empty()) throw GenotypeError("space.combines: empty list");
  for (const char* cell : {"normal", "reduction"}) {
    for (int b = 0; b < config_.blocks; ++b) {
      const std::string p = std::string(cell) + ".blocks[" + std::to_string(b) + "]";
      decisions_.push_back({DecisionKind::input, block_state(b), p + ".inputs[0]"});
      decisions_.push_back({DecisionKind::input, block_state(b), p + ".inputs[1]"});
      decisions_.push_back({DecisionKind::op, static_cast<int>(config_.ops.size()), p + ".ops[0]"});
      decisions_.push_back({DecisionKind::op, static_cast<int>(config_.ops.size()), p + ".ops[1]"});
      decisions_.push_back(
          {DecisionKind::combine, static_cast<int>(config_.combines.size()), p + ".combine"});
    }
  }
}

Genotype NasnetSpace::decode(const DecisionSeq& seq) const {
  check(seq);
  Genotype g;
  size_t i = 0;
  for (Cell* cell : {&g.normal, &g.reduction}) {
    for (int b = 0; b < config_.blocks; ++b) {
      Block block;
      block.inputs = {seq[i], seq[i + 1]};
      block.ops = {config_.ops[seq[i + 2]], config_.ops[seq[i + 3]]};
      block.combine = config_.combines[seq[i + 4]];
      cell->blocks.push_back(block);
      i += 5;
    }
  }
  return g;
}

DecisionSeq NasnetSpace::encode(const Genotype& genotype) const {
  validate(genotype, config_.blocks);
  DecisionSeq seq;
  const std::pair<const Cell*, const char*> cells[] = {{&genotype.normal, "normal"},
                                                       {&genotype.reduction, "reduction"}};
  for (auto [cell, cname] : cells) {
    if (cell->concat) {
      Cell unused = *cell;
      unused.concat.reset();
      if (*cell->concat != unused.output_states())
        throw GenotypeError(std::string(cname) +
                            ".concat: an explicit concat list other than the \"unused\" rule "
                            "cannot be expressed in this search space");
    }
    for (int b = 0; b < config_.blocks; ++b) {
      const Block& block = cell->blocks[b];
      const std::string p = std::string(cname) + ".blocks[" + std::to_string(b) + "]";
      seq.push_back(block.inputs[0]);
      seq.push_back(block.inputs[1]);
      for (int k = 0; k < 2; ++k) {
        auto it = std::find(config_.ops.begin(), config_.ops.end(), block.ops[k]);
        if (it == config_.ops.end())
          throw GenotypeError(p + ".ops[" + std::to_string(k) + "]: \"" +
                              std::string(op_name(block.ops[k])) + "\" is not in the search space");
        seq.push_back(static_cast<int>(it - config_.ops.begin()));
      }
      auto it = std::find(config_.combines.begin(), config_.combines.end(), block.combine);
      if (it == config_.combines.end())
        throw GenotypeError(p + ".combine: \"" + std::string(combine_name(block.combine)) +
                            "\" is not allowed in the search space");
      seq.push_back(static_cast<int>(it - config_.combines.begin()));
    }
  }
  return seq;
}

nlohmann::json NasnetSpace::to_json(const DecisionSeq& seq) const {
  return genotype_to_json(decode(seq));
}

DecisionSeq NasnetSpace::from_json(const nlohmann::json& doc) const {
  return encode(genotype_from_json(doc, config_.blocks));
}

std::string NasnetSpace::canonical_hash(const DecisionSeq& seq) const {
  return cf::canonical_hash(decode(seq));
}

}  // namespace cf

#pragma once
// NASNet-space genotypes (spec section 1): types, JSON, validation, canonical form and hash.
#include <array>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "space/ops.h"

namespace cf {

// Any malformed architecture: the message names the JSON path (and the file, when there is one).
class GenotypeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Combine : uint8_t { add, concat };
std::string_view combine_name(Combine c);

// Hidden states of a cell: 0 = prev_prev (h_{i-1}), 1 = prev (h_i), 2 + k = output of block k.
inline constexpr int kPrevPrev = 0;
inline constexpr int kPrev = 1;
inline constexpr int block_state(int block) {
  return 2 + block;
}
std::string state_name(int state);
// Parses "prev", "prev_prev" or "b<k>"; nullopt otherwise.
std::optional<int> state_from_name(std::string_view name);

struct Block {
  std::array<int, 2> inputs{kPrev, kPrevPrev};
  std::array<OpId, 2> ops{OpId::identity, OpId::identity};  // ops[k] applies to inputs[k]
  Combine combine = Combine::add;
  bool operator==(const Block&) const = default;
};

struct Cell {
  std::vector<Block> blocks;
  // Explicit output list; nullopt means the paper's "unused" rule.
  std::optional<std::vector<int>> concat;

  // The states joined into the cell output, in order (the "unused" rule resolved).
  std::vector<int> output_states() const;
  bool operator==(const Cell&) const = default;
};

struct Genotype {
  std::string name;
  Cell normal;
  Cell reduction;
  bool operator==(const Genotype&) const = default;
};

// What a genotype may hold (documented in the README's limits): larger ones are refused with a
// GenotypeError before any super-linear work is done on them.
inline constexpr int kMaxBlocksPerCell = 64;
inline constexpr size_t kMaxGenotypeNameBytes = 256;
inline constexpr int64_t kMaxGenotypeFileBytes = int64_t{1} << 20;  // 1 MiB

// Validates structure: block count (expected_blocks < 0 accepts any >= 1), input references,
// concat lists. Throws GenotypeError naming the JSON path.
void validate(const Genotype& genotype, int expected_blocks = -1);

// JSON (format "cellforge.genotype.v1", space "nasnet"). Parsing is strict: unknown keys,
// wrong types and every structural error throw GenotypeError with the JSON path.
Genotype genotype_from_json(const nlohmann::json& doc, int expected_blocks = -1);
nlohmann::json genotype_to_json(const Genotype& genotype);
// Genotype JSON text of either space, checked against the size and depth limits; errors are
// GenotypeErrors prefixed with `context`.
nlohmann::json parse_genotype_json(std::string_view text, std::string_view context = {});
// Runs `parse` (JSON to a genotype), prefixing any GenotypeError it throws with "context: ".
template <typename Parse>
auto with_genotype_context(std::string_view context, Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const GenotypeError& e) {
    if (context.empty()) throw;
    throw GenotypeError(std::string(context) + ": " + e.what());
  }
}
// `context`, when given, prefixes every error (a file name, "RUN/results.sqlite: candidate 7").
Genotype parse_genotype(std::string_view text, int expected_blocks = -1,
                        std::string_view context = {});
std::string write_genotype(const Genotype& genotype);  // pretty JSON text with trailing newline

// Reads a genotype file (at most kMaxGenotypeFileBytes); errors are prefixed with the file name.
Genotype load_genotype_file(const std::filesystem::path& path, int expected_blocks = -1);

// Canonical form: dead blocks removed, halves of add blocks ordered, blocks renumbered in a
// canonical topological order, concat resolved to an explicit list. Architectures that compute
// the same function structure get the same canonical string.
std::string canonical_string(const Genotype& genotype);
// 16 hex digits (64-bit FNV-1a of the canonical string).
std::string canonical_hash(const Genotype& genotype);
std::string hash_hex(std::string_view text);

// Built-in genotypes (spec section 5).
std::vector<std::string> builtin_genotype_names();
std::optional<Genotype> builtin_genotype(std::string_view name);
// A built-in name or a path to a genotype JSON file.
Genotype resolve_genotype(const std::string& name_or_path);

}  // namespace cf

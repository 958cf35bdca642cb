#pragma once
// An architecture of any search space, as the commands that take one (stats, draw, show, train,
// export) see it: a NASNet genotype (a normal and a reduction cell, spec sections 1-5) or a
// NAS-Bench-201 cell (spec section 6). Each builds into its own network (space/network.h,
// space/nb201_network.h); everything downstream (trainer, exports) sees only the Network.
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "space/genotype.h"
#include "space/network.h"
#include "space/search_space.h"

namespace cf {

// A NAS-Bench-201 cell: the op of each of the 6 edges (Nb201Space's decision sequence).
struct Nb201Genotype {
  std::string name;
  DecisionSeq ops;
  bool operator==(const Nb201Genotype&) const = default;
};

class Architecture {
 public:
  Architecture(Genotype genotype) : cell_(std::move(genotype)) {}  // NOLINT: implicit on purpose
  Architecture(Nb201Genotype genotype) : cell_(std::move(genotype)) {}  // NOLINT

  bool is_nb201() const { return std::holds_alternative<Nb201Genotype>(cell_); }
  std::string_view space() const { return is_nb201() ? "nb201" : "nasnet"; }
  const std::string& name() const;
  void set_name(std::string name);
  // The cell of each space; std::logic_error when asked for the other one.
  const Genotype& nasnet() const;
  const Nb201Genotype& nb201() const;
  bool operator==(const Architecture&) const = default;

 private:
  std::variant<Genotype, Nb201Genotype> cell_;
};

// Genotype JSON of either space (dispatched on "space"; strict as each space's parser is).
// `context` (a file name, a candidate) prefixes every error.
Architecture parse_architecture(std::string_view text, std::string_view context = {});
nlohmann::json architecture_to_json(const Architecture& arch);
std::string write_architecture(const Architecture& arch);  // pretty JSON, trailing newline
// Reads a genotype file of either space (at most kMaxGenotypeFileBytes).
Architecture load_architecture_file(const std::filesystem::path& path);
// A built-in name (nasnet_a, amoebanet_a), a NAS-Bench-201 architecture string
// ("|nor_conv_3x3~0|+|...|") or a genotype JSON file of either space.
Architecture resolve_architecture(const std::string& text);

// Canonical hash within its space (equal for equivalent architectures).
std::string canonical_hash(const Architecture& arch);
// One line: the NB201 architecture string, or the NASNet canonical form.
std::string describe(const Architecture& arch);

// The stacking a space uses when the user gives none: NASNet's NetworkSpec defaults, or the
// benchmark's C = 16, N = 5 for NAS-Bench-201.
NetworkSpec default_network_spec(std::string_view space);
Network build_network(const Architecture& arch, const NetworkSpec& spec);

}  // namespace cf

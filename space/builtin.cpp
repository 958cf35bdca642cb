// Built-in genotypes of spec section 5, written as JSON so they go through the same parser and
// validation as user files.
#include <nlohmann/json.hpp>

#include "space/genotype.h"

namespace cf {

namespace {

struct Builtin {
  std::string_view name;
  std::string_view json;
};

constexpr Builtin kBuiltins[] = {
    {"nasnet_a", R"({
  "format": "cellforge.genotype.v1", "space": "nasnet", "name": "nasnet_a",
  "normal": {"blocks": [
    {"inputs": ["prev", "prev_prev"], "ops": ["sep_conv_5x5", "sep_conv_3x3"], "combine": "add"},
    {"inputs": ["prev_prev", "prev_prev"], "ops": ["sep_conv_5x5", "sep_conv_3x3"], "combine": "add"},
    {"inputs": ["prev", "prev_prev"], "ops": ["avg_pool_3x3", "identity"], "combine": "add"},
    {"inputs": ["prev_prev", "prev_prev"], "ops": ["avg_pool_3x3", "avg_pool_3x3"], "combine": "add"},
    {"inputs": ["prev", "prev"], "ops": ["sep_conv_3x3", "identity"], "combine": "add"}],
    "concat": ["prev_prev", "b0", "b1", "b2", "b3", "b4"]},
  "reduction": {"blocks": [
    {"inputs": ["prev", "prev_prev"], "ops": ["sep_conv_5x5", "sep_conv_7x7"], "combine": "add"},
    {"inputs": ["prev", "prev_prev"], "ops": ["max_pool_3x3", "sep_conv_7x7"], "combine": "add"},
    {"inputs": ["prev", "prev_prev"], "ops": ["avg_pool_3x3", "sep_conv_5x5"], "combine": "add"},
    {"inputs": ["b1", "b0"], "ops": ["identity", "avg_pool_3x3"], "combine": "add"},
    {"inputs": ["b0", "prev"], "ops": ["sep_conv_3x3", "max_pool_3x3"], "combine": "add"}],
    "concat": ["b1", "b2", "b3", "b4"]}
})"},
    {"amoebanet_a", R"({
  "format": "cellforge.genotype.v1", "space": "nasnet", "name": "amoebanet_a",
  "normal": {"blocks": [
    {"inputs": ["prev_prev", "prev"], "ops": ["avg_pool_3x3", "max_pool_3x3"], "combine": "add"},
    {"inputs": ["prev_prev", "b0"], "ops": ["sep_conv_3x3", "sep_conv_5x5"], "combine": "add"},
    {"inputs": ["prev_prev", "b1"], "ops": ["sep_conv_3x3", "avg_pool_3x3"], "combine": "add"},
    {"inputs": ["prev", "prev"], "ops": ["sep_conv_3x3", "identity"], "combine": "add"},
    {"inputs": ["prev_prev", "prev"], "ops": ["identity", "avg_pool_3x3"], "combine": "add"}],
    "concat": "unused"},
  "reduction": {"blocks": [
    {"inputs": ["prev_prev", "prev"], "ops": ["avg_pool_3x3", "sep_conv_3x3"], "combine": "add"},
    {"inputs": ["prev_prev", "b0"], "ops": ["max_pool_3x3", "sep_conv_7x7"], "combine": "add"},
    {"inputs": ["prev_prev", "prev"], "ops": ["sep_conv_7x7", "avg_pool_3x3"], "combine": "add"},
    {"inputs": ["prev_prev", "prev"], "ops": ["max_pool_3x3", "max_pool_3x3"], "combine": "add"},
    {"inputs": ["prev_prev", "b3"], "ops": ["conv_1x7_7x1", "sep_conv_3x3"], "combine": "add"}],
    "concat": "unused"}
})"},
};

}  // namespace

std::vector<std::string> builtin_genotype_names() {
  std::vector<std::string> names;
  for (const auto& b : kBuiltins) names.emplace_back(b.name);
  return names;
}

std::optional<Genotype> builtin_genotype(std::string_view name) {
  for (const auto& b : kBuiltins)
    if (b.name == name) return parse_genotype(b.json, 5);
  return std::nullopt;
}

Genotype resolve_genotype(const std::string& name_or_path) {
  if (auto g = builtin_genotype(name_or_path)) return *g;
  if (name_or_path.find('/') == std::string::npos &&
      name_or_path.find(".json") == std::string::npos && !std::filesystem::exists(name_or_path)) {
    std::string names;
    for (const auto& n : builtin_genotype_names()) names += (names.empty() ? "" : ", ") + n;
    throw GenotypeError("'" + name_or_path + "' is neither a built-in architecture (" + names +
                        ") nor a genotype file");
  }
  return load_genotype_file(name_or_path);
}

}  // namespace cf

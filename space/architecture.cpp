#include "space/architecture.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "space/file_io.h"
#include "space/nb201.h"
#include "space/nb201_network.h"

namespace cf {

namespace {

const Nb201Space& nb201_space() {
  static const Nb201Space space;
  return space;
}

Nb201Genotype nb201_from_json(const nlohmann::json& doc) {
  Nb201Genotype g;
  g.ops = nb201_space().from_json(doc);
  if (auto it = doc.find("name"); it != doc.end()) {
    g.name = it->get<std::string>();
    if (g.name.size() > kMaxGenotypeNameBytes)
      throw GenotypeError("name: " + std::to_string(g.name.size()) + " bytes is longer than " +
                          std::to_string(kMaxGenotypeNameBytes));
  }
  return g;
}

}  // namespace

const std::string& Architecture::name() const {
  return is_nb201() ? std::get<Nb201Genotype>(cell_).name : std::get<Genotype>(cell_).name;
}

void Architecture::set_name(std::string name) {
  if (is_nb201())
    std::get<Nb201Genotype>(cell_).name = std::move(name);
  else
    std::get<Genotype>(cell_).name = std::move(name);
}

const Genotype& Architecture::nasnet() const {
  if (is_nb201()) throw std::logic_error("a NAS-Bench-201 architecture has no NASNet genotype");
  return std::get<Genotype>(cell_);
}

const Nb201Genotype& Architecture::nb201() const {
  if (!is_nb201()) throw std::logic_error("a NASNet genotype is not a NAS-Bench-201 cell");
  return std::get<Nb201Genotype>(cell_);
}

Architecture parse_architecture(std::string_view text, std::string_view context) {
  const nlohmann::json doc = parse_genotype_json(text, context);
  return with_genotype_context(context, [&]() -> Architecture {
    if (doc.is_object())
      if (auto it = doc.find("space"); it != doc.end() && *it == "nb201")
        return nb201_from_json(doc);
    return genotype_from_json(doc);
  });
}

nlohmann::json architecture_to_json(const Architecture& arch) {
  if (!arch.is_nb201()) return genotype_to_json(arch.nasnet());
  nlohmann::json j = nb201_space().to_json(arch.nb201().ops);
  if (!arch.name().empty()) j["name"] = arch.name();
  return j;
}

std::string write_architecture(const Architecture& arch) {
  return architecture_to_json(arch).dump(2) + "\n";
}

Architecture load_architecture_file(const std::filesystem::path& path) {
  std::string text;
  try {
    text = read_file_capped(path, kMaxGenotypeFileBytes, "file");
  } catch (const FileError& e) {
    throw GenotypeError(e.what());
  }
  return parse_architecture(text, path.string());
}

Architecture resolve_architecture(const std::string& text) {
  if (!text.empty() && text.front() == '|')
    return Nb201Genotype{"", nb201_space().parse_arch(text, "NAS-Bench-201 architecture")};
  if (auto g = builtin_genotype(text)) return *g;
  if (text.find('/') == std::string::npos && text.find(".json") == std::string::npos &&
      !std::filesystem::exists(text)) {
    std::string names;
    for (const auto& n : builtin_genotype_names()) names += (names.empty() ? "" : ", ") + n;
    throw GenotypeError("'" + text + "' is neither a built-in architecture (" + names +
                        "), a NAS-Bench-201 architecture string (|op~0|+...) nor a genotype file");
  }
  return load_architecture_file(text);
}

std::string canonical_hash(const Architecture& arch) {
  return arch.is_nb201() ? nb201_space().canonical_hash(arch.nb201().ops)
                         : canonical_hash(arch.nasnet());
}

std::string describe(const Architecture& arch) {
  return arch.is_nb201() ? nb201_space().arch_string(arch.nb201().ops)
                         : canonical_string(arch.nasnet());
}

NetworkSpec default_network_spec(std::string_view space) {
  return space == "nb201" ? nb201_network_spec() : NetworkSpec{};
}

Network build_network(const Architecture& arch, const NetworkSpec& spec) {
  return arch.is_nb201() ? build_nb201_network(arch.nb201().ops, spec)
                         : build_network(arch.nasnet(), spec);
}

}  // namespace cf

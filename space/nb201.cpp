#include "space/nb201.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace cf {

namespace {

constexpr std::string_view kFormat = "cellforge.genotype.v1";

[[noreturn]] void fail(std::string_view where, const std::string& what) {
  throw GenotypeError(std::string(where) + ": " + what);
}

std::string op_list() {
  std::string list;
  for (auto op : Nb201Space::kOpNames) list += (list.empty() ? "" : ", ") + std::string(op);
  return list;
}

}  // namespace

Nb201Space::Nb201Space() {
  for (int to = 1; to < kNodes; ++to)
    for (int from = 0; from < to; ++from)
      decisions_.push_back(
          {DecisionKind::op, kOps, "node" + std::to_string(to) + ".edge" + std::to_string(from)});
}

std::string Nb201Space::arch_string(const DecisionSeq& seq) const {
  check(seq);
  std::string s = "|";
  for (int to = 1; to < kNodes; ++to) {
    if (to > 1) s += "+|";
    for (int from = 0; from < to; ++from) {
      s += kOpNames[seq[edge_index(to, from)]];
      s += '~';
      s += static_cast<char>('0' + from);
      s += '|';
    }
  }
  return s;
}

DecisionSeq Nb201Space::parse_arch(std::string_view arch, std::string_view where) const {
  std::string shown = "\"";
  shown.append(arch).push_back('"');
  DecisionSeq seq(kEdges, -1);
  size_t pos = 0;
  for (int to = 1; to < kNodes; ++to) {
    const std::string node = "node " + std::to_string(to);
    if (to > 1) {
      if (pos >= arch.size() || arch[pos] != '+')
        fail(where,
             shown + ": expected '+' before " + node + " at character " + std::to_string(pos));
      ++pos;
    }
    if (pos >= arch.size() || arch[pos] != '|')
      fail(where, shown + ": expected '|' at character " + std::to_string(pos) + " (" + node + ")");
    ++pos;
    for (int from = 0; from < to; ++from) {
      const size_t end = arch.find('|', pos);
      if (end == std::string_view::npos)
        fail(where, shown + ": " + node + " has " + std::to_string(from) + " edges, expected " +
                        std::to_string(to));
      const std::string_view token = arch.substr(pos, end - pos);
      const std::string edge =
          node + " edge " + std::to_string(from) + " \"" + std::string(token) + "\"";
      const size_t tilde = token.rfind('~');
      if (tilde == std::string_view::npos) fail(where, edge + ": expected op~input");
      const std::string_view op = token.substr(0, tilde);
      const std::string_view input = token.substr(tilde + 1);
      if (input != std::to_string(from))
        fail(where, edge + ": expected input ~" + std::to_string(from) +
                        " (edges are listed by input node)");
      auto it = std::find(kOpNames.begin(), kOpNames.end(), op);
      if (it == kOpNames.end())
        fail(where, edge + ": \"" + std::string(op) + "\" is not an op (" + op_list() + ")");
      seq[edge_index(to, from)] = static_cast<int>(it - kOpNames.begin());
      pos = end + 1;
    }
    if (to + 1 < kNodes && pos < arch.size() && arch[pos] != '+')
      fail(where, shown + ": " + node + " has more than " + std::to_string(to) + " edges");
  }
  if (pos != arch.size())
    fail(where, shown + ": unexpected text after node 3 at character " + std::to_string(pos));
  return seq;
}

int Nb201Space::dense_index(const DecisionSeq& seq) const {
  check(seq);
  int index = 0;
  for (int e = kEdges - 1; e >= 0; --e) index = index * kOps + seq[e];
  return index;
}

DecisionSeq Nb201Space::from_dense_index(int index) const {
  if (index < 0 || index >= kArchitectures)
    throw GenotypeError("nb201 dense index " + std::to_string(index) + " out of range [0, " +
                        std::to_string(kArchitectures - 1) + "]");
  DecisionSeq seq(kEdges);
  for (int e = 0; e < kEdges; ++e, index /= kOps) seq[e] = index % kOps;
  return seq;
}

nlohmann::json Nb201Space::to_json(const DecisionSeq& seq) const {
  nlohmann::json doc;
  doc["format"] = kFormat;
  doc["space"] = "nb201";
  doc["arch"] = arch_string(seq);
  return doc;
}

DecisionSeq Nb201Space::from_json(const nlohmann::json& doc) const {
  if (!doc.is_object()) fail("$", "expected a JSON object");
  for (const auto& item : doc.items())
    if (item.key() != "format" && item.key() != "space" && item.key() != "name" &&
        item.key() != "arch")
      fail(item.key(), "unknown key (allowed: format, space, name, arch)");
  auto require = [&](const char* key) -> const nlohmann::json& {
    auto it = doc.find(key);
    if (it == doc.end()) fail(key, std::string("missing key \"") + key + "\"");
    return *it;
  };
  const auto& format = require("format");
  if (format != kFormat) fail("format", format.dump() + " is not \"" + std::string(kFormat) + "\"");
  const auto& space = require("space");
  if (space != "nb201") fail("space", space.dump() + " is not \"nb201\"");
  if (auto it = doc.find("name"); it != doc.end() && !it->is_string())
    fail("name", "expected a string");
  const auto& arch = require("arch");
  if (!arch.is_string()) fail("arch", "expected an architecture string, got " + arch.dump());
  return parse_arch(arch.get_ref<const std::string&>(), "arch");
}

std::string Nb201Space::canonical_hash(const DecisionSeq& seq) const {
  return hash_hex(arch_string(seq));
}

}  // namespace cf

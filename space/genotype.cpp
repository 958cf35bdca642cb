#include "space/genotype.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "space/file_io.h"
#include "space/json_text.h"

namespace cf {

namespace {

constexpr std::string_view kFormat = "cellforge.genotype.v1";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw GenotypeError(path + ": " + what);
}

std::string quoted(const nlohmann::json& j) {
  return json_brief(j);
}

void check_keys(const nlohmann::json& obj, const std::string& path,
                std::initializer_list<std::string_view> allowed) {
  for (const auto& item : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(path.empty() ? item.key() : path + "." + item.key(),
           "unknown key (allowed: " + list + ")");
    }
  }
}

const nlohmann::json& require(const nlohmann::json& obj, const std::string& path,
                              const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(path.empty() ? key : path, "missing key \"" + key + "\"");
  return *it;
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

int parse_state(const nlohmann::json& j, const std::string& path) {
  if (!j.is_string()) fail(path, "expected a state name string, got " + quoted(j));
  auto s = state_from_name(j.get<std::string>());
  if (!s) fail(path, quoted(j) + " is not a state (prev, prev_prev or b<k>)");
  return *s;
}

Cell parse_cell(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) fail(path, "expected an object");
  check_keys(j, path, {"blocks", "concat"});
  Cell cell;
  const auto& blocks = require(j, path, "blocks");
  const std::string bpath = join(path, "blocks");
  if (!blocks.is_array()) fail(bpath, "expected an array of blocks");
  if (blocks.size() > static_cast<size_t>(kMaxBlocksPerCell))
    fail(bpath, "has " + std::to_string(blocks.size()) + " blocks, more than the limit of " +
                    std::to_string(kMaxBlocksPerCell));
  for (size_t b = 0; b < blocks.size(); ++b) {
    const auto& bj = blocks[b];
    const std::string p = bpath + "[" + std::to_string(b) + "]";
    if (!bj.is_object()) fail(p, "expected a block object");
    check_keys(bj, p, {"inputs", "ops", "combine"});
    Block block;
    const auto& inputs = require(bj, p, "inputs");
    if (!inputs.is_array() || inputs.size() != 2)
      fail(p + ".inputs", "expected an array of two states");
    for (int k = 0; k < 2; ++k)
      block.inputs[k] = parse_state(inputs[k], p + ".inputs[" + std::to_string(k) + "]");
    const auto& ops = require(bj, p, "ops");
    if (!ops.is_array() || ops.size() != 2) fail(p + ".ops", "expected an array of two op names");
    for (int k = 0; k < 2; ++k) {
      const std::string op_path = p + ".ops[" + std::to_string(k) + "]";
      if (!ops[k].is_string()) fail(op_path, "expected an op name string, got " + quoted(ops[k]));
      auto op = op_from_name(ops[k].get<std::string>());
      if (!op) fail(op_path, quoted(ops[k]) + " is not a known op");
      block.ops[k] = *op;
    }
    const auto& combine = require(bj, p, "combine");
    if (combine == "add")
      block.combine = Combine::add;
    else if (combine == "concat")
      block.combine = Combine::concat;
    else
      fail(p + ".combine", quoted(combine) + " is not \"add\" or \"concat\"");
    cell.blocks.push_back(block);
  }
  const auto& concat = require(j, path, "concat");
  const std::string cpath = join(path, "concat");
  if (concat.is_string()) {
    if (concat != "unused") fail(cpath, "expected \"unused\" or an array of states");
  } else if (concat.is_array()) {
    std::vector<int> states;
    for (size_t k = 0; k < concat.size(); ++k)
      states.push_back(parse_state(concat[k], cpath + "[" + std::to_string(k) + "]"));
    cell.concat = std::move(states);
  } else {
    fail(cpath, "expected \"unused\" or an array of states");
  }
  return cell;
}

void validate_cell(const Cell& cell, const std::string& path, int expected_blocks) {
  const int nblocks = static_cast<int>(cell.blocks.size());
  if (nblocks == 0) fail(path + ".blocks", "a cell needs at least one block");
  if (expected_blocks >= 0 && nblocks != expected_blocks)
    fail(path + ".blocks", "has " + std::to_string(nblocks) + " blocks, the space has " +
                               std::to_string(expected_blocks));
  for (int b = 0; b < nblocks; ++b) {
    for (int k = 0; k < 2; ++k) {
      const int s = cell.blocks[b].inputs[k];
      const std::string p =
          path + ".blocks[" + std::to_string(b) + "].inputs[" + std::to_string(k) + "]";
      if (s < 0) fail(p, "invalid state");
      if (s >= block_state(b)) {
        if (s - 2 < nblocks) fail(p, "\"" + state_name(s) + "\" refers to a later block");
        fail(p, "\"" + state_name(s) + "\" refers to a block that does not exist");
      }
    }
  }
  if (cell.concat) {
    const std::string cpath = path + ".concat";
    if (cell.concat->empty()) fail(cpath, "empty concat list");
    std::set<int> seen;
    for (size_t k = 0; k < cell.concat->size(); ++k) {
      const int s = (*cell.concat)[k];
      const std::string p = cpath + "[" + std::to_string(k) + "]";
      if (s < 0 || s >= block_state(nblocks))
        fail(p, "\"" + state_name(s) + "\" refers to a block that does not exist");
      if (!seen.insert(s).second) fail(p, "\"" + state_name(s) + "\" is listed twice");
    }
  }
}

nlohmann::json cell_to_json(const Cell& cell) {
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : cell.blocks) {
    blocks.push_back({{"inputs", {state_name(b.inputs[0]), state_name(b.inputs[1])}},
                      {"ops", {std::string(op_name(b.ops[0])), std::string(op_name(b.ops[1]))}},
                      {"combine", std::string(combine_name(b.combine))}});
  }
  nlohmann::json concat;
  if (cell.concat) {
    concat = nlohmann::json::array();
    for (int s : *cell.concat) concat.push_back(state_name(s));
  } else {
    concat = "unused";
  }
  return {{"blocks", blocks}, {"concat", concat}};
}

// Canonical description of one cell: live blocks only, add halves ordered, blocks renumbered
// in a canonical topological order.
std::string canonical_cell(const Cell& cell) {
  const int nblocks = static_cast<int>(cell.blocks.size());
  const std::vector<int> outputs = cell.output_states();
  // Liveness: a block is live if it reaches an output state.
  std::vector<bool> live(nblocks, false);
  for (int s : outputs)
    if (s >= 2) live[s - 2] = true;
  for (int b = nblocks - 1; b >= 0; --b) {
    if (!live[b]) continue;
    for (int s : cell.blocks[b].inputs)
      if (s >= 2) live[s - 2] = true;
  }
  // Canonical renumbering: repeatedly take, among ready live blocks, the one whose description
  // (in already-assigned canonical names) is smallest. Identical descriptions are interchangeable.
  std::vector<std::string> canon_name(block_state(nblocks));
  canon_name[kPrevPrev] = "pp";
  canon_name[kPrev] = "p";
  std::vector<bool> placed(nblocks, false);
  std::vector<std::string> lines;
  auto describe = [&](int b) {
    const Block& blk = cell.blocks[b];
    std::array<std::string, 2> half;
    for (int k = 0; k < 2; ++k)
      half[k] = std::string(op_name(blk.ops[k])) + "(" + canon_name[blk.inputs[k]] + ")";
    if (blk.combine == Combine::add) {
      if (half[1] < half[0]) std::swap(half[0], half[1]);
      return "add(" + half[0] + "," + half[1] + ")";
    }
    return "concat(" + half[0] + "," + half[1] + ")";
  };
  int nlive = static_cast<int>(std::count(live.begin(), live.end(), true));
  for (int step = 0; step < nlive; ++step) {
    int best = -1;
    std::string best_desc;
    for (int b = 0; b < nblocks; ++b) {
      if (!live[b] || placed[b]) continue;
      bool ready = true;
      for (int s : cell.blocks[b].inputs)
        if (s >= 2 && !placed[s - 2]) ready = false;
      if (!ready) continue;
      std::string d = describe(b);
      if (best < 0 || d < best_desc) {
        best = b;
        best_desc = std::move(d);
      }
    }
    placed[best] = true;
    canon_name[block_state(best)] = "n" + std::to_string(step);
    lines.push_back(best_desc);
  }
  std::string out;
  for (const auto& l : lines) out += l + ";";
  out += "out(";
  for (size_t k = 0; k < outputs.size(); ++k) out += (k ? "," : "") + canon_name[outputs[k]];
  return out + ")";
}

}  // namespace

std::string_view combine_name(Combine c) {
  return c == Combine::add ? "add" : "concat";
}

std::string state_name(int state) {
  if (state == kPrevPrev) return "prev_prev";
  if (state == kPrev) return "prev";
  return "b" + std::to_string(state - 2);
}

std::optional<int> state_from_name(std::string_view name) {
  if (name == "prev") return kPrev;
  if (name == "prev_prev") return kPrevPrev;
  if (name.size() < 2 || name[0] != 'b' || name.size() > 4) return std::nullopt;
  int k = 0;
  for (char c : name.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    k = k * 10 + (c - '0');
  }
  if (name.size() > 2 && name[1] == '0') return std::nullopt;  // no leading zeros
  return block_state(k);
}

std::vector<int> Cell::output_states() const {
  if (concat) return *concat;
  const int nblocks = static_cast<int>(blocks.size());
  std::vector<bool> used(nblocks, false);
  for (const auto& b : blocks)
    for (int s : b.inputs)
      if (s >= 2) used[s - 2] = true;
  std::vector<int> out;
  for (int b = 0; b < nblocks; ++b)
    if (!used[b]) out.push_back(block_state(b));
  return out;
}

void validate(const Genotype& genotype, int expected_blocks) {
  validate_cell(genotype.normal, "normal", expected_blocks);
  validate_cell(genotype.reduction, "reduction", expected_blocks);
  if (expected_blocks < 0 && genotype.normal.blocks.size() != genotype.reduction.blocks.size())
    fail("reduction.blocks", "has " + std::to_string(genotype.reduction.blocks.size()) +
                                 " blocks, the normal cell has " +
                                 std::to_string(genotype.normal.blocks.size()));
}

Genotype genotype_from_json(const nlohmann::json& doc, int expected_blocks) {
  if (!doc.is_object()) fail("$", "expected a JSON object");
  check_keys(doc, "", {"format", "space", "name", "normal", "reduction"});
  const auto& format = require(doc, "", "format");
  if (format != kFormat)
    fail("format", quoted(format) + " is not \"" + std::string(kFormat) + "\"");
  const auto& space = require(doc, "", "space");
  if (space != "nasnet") fail("space", quoted(space) + " is not \"nasnet\"");
  Genotype g;
  if (auto it = doc.find("name"); it != doc.end()) {
    if (!it->is_string()) fail("name", "expected a string");
    g.name = it->get<std::string>();
    if (g.name.size() > kMaxGenotypeNameBytes)
      fail("name", "is " + std::to_string(g.name.size()) + " bytes long, more than the limit of " +
                       std::to_string(kMaxGenotypeNameBytes));
  }
  g.normal = parse_cell(require(doc, "", "normal"), "normal");
  g.reduction = parse_cell(require(doc, "", "reduction"), "reduction");
  validate(g, expected_blocks);
  return g;
}

nlohmann::json genotype_to_json(const Genotype& genotype) {
  nlohmann::json doc;
  doc["format"] = kFormat;
  doc["space"] = "nasnet";
  if (!genotype.name.empty()) doc["name"] = genotype.name;
  doc["normal"] = cell_to_json(genotype.normal);
  doc["reduction"] = cell_to_json(genotype.reduction);
  return doc;
}

nlohmann::json parse_genotype_json(std::string_view text, std::string_view context) {
  const std::string where = context.empty() ? std::string() : std::string(context) + ": ";
  if (text.size() > static_cast<size_t>(kMaxGenotypeFileBytes))
    throw GenotypeError(where + "genotype JSON of " + std::to_string(text.size()) +
                        " bytes is larger than " + std::to_string(kMaxGenotypeFileBytes));
  try {
    return parse_json_text(text, "", 16);
  } catch (const JsonTextError& e) {
    throw GenotypeError(where + e.what());
  }
}

Genotype parse_genotype(std::string_view text, int expected_blocks, std::string_view context) {
  const nlohmann::json doc = parse_genotype_json(text, context);
  return with_genotype_context(context, [&] { return genotype_from_json(doc, expected_blocks); });
}

std::string write_genotype(const Genotype& genotype) {
  return genotype_to_json(genotype).dump(2) + "\n";
}

Genotype load_genotype_file(const std::filesystem::path& path, int expected_blocks) {
  std::string text;
  try {
    text = read_file_capped(path, kMaxGenotypeFileBytes, "file");
  } catch (const FileError& e) {
    throw GenotypeError(e.what());
  }
  return parse_genotype(text, expected_blocks, path.string());
}

std::string canonical_string(const Genotype& genotype) {
  return "normal{" + canonical_cell(genotype.normal) + "}reduction{" +
         canonical_cell(genotype.reduction) + "}";
}

std::string hash_hex(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string canonical_hash(const Genotype& genotype) {
  return hash_hex(canonical_string(genotype));
}

}  // namespace cf

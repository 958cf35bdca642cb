#include "search/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <span>
#include <sstream>

#include "space/file_io.h"
#include "space/genotype.h"

namespace cf {

namespace {

enum class KeyType { text, integer, unsigned64, real, boolean, list, choice };

struct KeyDef {
  const char* key;
  KeyType type;
  const char* default_value;
  double min, max;      // numbers: inclusive range
  const char* choices;  // choice: values separated by '|'
  const char* doc;
};

constexpr double kBig = 1e12;
constexpr int64_t kMaxConfigBytes = int64_t{1} << 20;  // a config file is a few hundred bytes

// The schema: one row per key. Order is the order of the frozen config and the docs.
constexpr KeyDef kKeys[] = {
    {"campaign.name", KeyType::text, "", 0, 0, "", "campaign name (default: the config file's name)"},
    {"campaign.dir", KeyType::text, "", 0, 0, "", "run directory (default: runs/<name>)"},
    {"campaign.seed", KeyType::unsigned64, "0", 0, kBig, "", "seed of the controller and of every candidate's training"},
    {"space.type", KeyType::choice, "nasnet", 0, 0, "nasnet|nb201", "search space"},
    {"space.ops", KeyType::list, "", 0, 0, "", "comma-separated op subset of the NASNet space (default: the paper's 13 ops)"},
    {"space.blocks", KeyType::integer, "5", 1, 10, "", "blocks per cell (B)"},
    {"space.combines", KeyType::list, "add", 0, 0, "", "allowed block combines: add, concat"},
    {"controller.strategy", KeyType::choice, "evolution", 0, 0, "random|evolution|rl", "search strategy"},
    {"controller.population", KeyType::integer, "20", 2, 1e6, "", "evolution: population size P"},
    {"controller.sample_size", KeyType::integer, "5", 1, 1e6, "", "evolution: tournament size S"},
    {"controller.identity_prob", KeyType::real, "0.05", 0, 1, "", "evolution: probability of an unchanged child"},
    {"controller.rl_algorithm", KeyType::choice, "ppo", 0, 0, "ppo|reinforce", "rl: policy-gradient algorithm"},
    {"controller.rl_hidden", KeyType::integer, "100", 4, 4096, "", "rl: LSTM hidden units"},
    {"controller.rl_batch", KeyType::integer, "10", 1, 1e5, "", "rl: episodes per policy update"},
    {"controller.rl_lr", KeyType::real, "0.00035", 1e-9, 1, "", "rl: Adam learning rate"},
    {"controller.rl_entropy", KeyType::real, "0.0001", 0, 10, "", "rl: entropy bonus weight"},
    {"controller.rl_baseline_decay", KeyType::real, "0.95", 0, 0.999999, "", "rl: reward baseline decay"},
    {"proxy.data_dir", KeyType::text, "/usr/share/datasets/fashion-mnist", 0, 0, "", "proxy dataset directory (IDX or CIFAR binary)"},
    {"proxy.data_format", KeyType::choice, "auto", 0, 0, "auto|idx|cifar10|cifar100", "proxy dataset format"},
    {"proxy.train_images", KeyType::integer, "10000", 0, 1e8, "", "training images (0: all but the validation split)"},
    {"proxy.valid_images", KeyType::integer, "5000", 1, 1e8, "", "validation images held out of the training files"},
    {"proxy.epochs", KeyType::integer, "1", 1, 10000, "", "training epochs per candidate"},
    {"proxy.batch", KeyType::integer, "32", 1, 65536, "", "batch size"},
    {"proxy.lr", KeyType::real, "0.05", 1e-9, 100, "", "base learning rate (cosine schedule, Nesterov SGD)"},
    {"proxy.weight_decay", KeyType::real, "0.0003", 0, 1, "", "L2 weight decay"},
    {"proxy.drop_path", KeyType::real, "0", 0, 0.99, "", "ScheduledDropPath final probability"},
    {"proxy.augment", KeyType::boolean, "true", 0, 0, "", "random crop and flip (flip off for digits)"},
    {"proxy.cells_per_stack", KeyType::integer, "2", 1, 64, "", "N of the proxy network"},
    {"proxy.filters", KeyType::integer, "16", 4, 4096, "", "F of the proxy network"},
    {"proxy.stem", KeyType::choice, "cifar", 0, 0, "cifar|imagenet", "stem of the proxy network"},
    {"proxy.stem_multiplier", KeyType::real, "3", 0.01, 64, "", "stem channel multiplier"},
    {"proxy.threads", KeyType::integer, "2", 1, 1024, "", "CPU threads, split among the workers"},
    {"proxy.memory_limit_gb", KeyType::real, "8", 0.01, 1e6, "", "candidates estimated above this fail with status memory_limit"},
    {"proxy.table", KeyType::text, "", 0, 0, "", "nb201: path of the NAS-Bench-201 table (nb201.csv)"},
    {"proxy.dataset", KeyType::choice, "cifar10", 0, 0, "cifar10|cifar100|imagenet16", "nb201: dataset whose 12-epoch validation accuracy is the signal"},
    {"budget.candidates", KeyType::integer, "100", 1, 1e8, "", "candidates to evaluate"},
    {"budget.hours", KeyType::real, "0", 0, 1e6, "", "wall-clock limit in hours (0: none); the first budget reached ends the campaign"},
    {"budget.workers", KeyType::integer, "1", 1, 1024, "", "candidates evaluated at once, each in its own worker process"},
};


// The training-config schema (transfer training, fidelity).
constexpr KeyDef kTrainKeys[] = {
    {"network.cells_per_stack", KeyType::integer, "6", 1, 64, "", "N: normal cells per stack"},
    {"network.filters", KeyType::integer, "32", 4, 4096, "", "F: base filters"},
    {"network.stem", KeyType::choice, "cifar", 0, 0, "cifar|imagenet", "stem"},
    {"network.stem_multiplier", KeyType::real, "3", 0.01, 64, "", "stem channel multiplier"},
    {"network.aux_head", KeyType::boolean, "false", 0, 0, "", "auxiliary head after the second reduction"},
    {"network.dropout", KeyType::real, "0", 0, 0.99, "", "head dropout rate"},
    {"data.data_dir", KeyType::text, "/usr/share/datasets/fashion-mnist", 0, 0, "", "dataset directory"},
    {"data.format", KeyType::choice, "auto", 0, 0, "auto|idx|cifar10|cifar100", "dataset format"},
    {"data.train_images", KeyType::integer, "0", 0, 1e8, "", "training images (0: all but the validation split)"},
    {"data.valid_images", KeyType::integer, "0", 0, 1e8, "", "validation images held out of the training files"},
    {"data.test", KeyType::boolean, "true", 0, 0, "", "report accuracy on the test files"},
    {"train.epochs", KeyType::integer, "20", 0, 100000, "", "epochs (0: evaluate the initial or loaded weights only)"},
    {"train.batch", KeyType::integer, "64", 1, 65536, "", "batch size"},
    {"train.lr", KeyType::real, "0.05", 1e-9, 100, "", "base learning rate (cosine schedule)"},
    {"train.min_lr", KeyType::real, "0", 0, 100, "", "final learning rate"},
    {"train.warmup_epochs", KeyType::real, "0", 0, 1000, "", "linear warm-up epochs"},
    {"train.momentum", KeyType::real, "0.9", 0, 0.999, "", "SGD momentum"},
    {"train.nesterov", KeyType::boolean, "true", 0, 0, "", "Nesterov momentum"},
    {"train.weight_decay", KeyType::real, "0.0003", 0, 1, "", "L2 weight decay"},
    {"train.clip_norm", KeyType::real, "5", 0, 1e6, "", "gradient-norm clip (0: off)"},
    {"train.label_smoothing", KeyType::real, "0", 0, 0.99, "", "label smoothing"},
    {"train.drop_path", KeyType::real, "0", 0, 0.99, "", "ScheduledDropPath final probability"},
    {"train.cutout", KeyType::integer, "0", 0, 1024, "", "cutout square side (0: off)"},
    {"train.augment", KeyType::boolean, "true", 0, 0, "", "random crop and flip"},
    {"train.aux_weight", KeyType::real, "0.4", 0, 10, "", "auxiliary head loss weight"},
    {"train.threads", KeyType::integer, "2", 1, 1024, "", "CPU threads"},
    {"train.seed", KeyType::unsigned64, "0", 0, kBig, "", "seed"},
    {"train.memory_limit_gb", KeyType::real, "16", 0.01, 1e6, "", "refuse networks estimated above this"},
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<std::string> choices_of(const KeyDef& def) {
  std::string s = def.choices;
  std::replace(s.begin(), s.end(), '|', ',');
  return split_list(s);
}

std::string choice_text(const KeyDef& def) {
  std::string s = def.choices;
  std::replace(s.begin(), s.end(), '|', ',');
  return s;
}

// Checks one value against its key's type and range; returns the normalised text or throws
// ConfigError prefixed with `where`.
std::string check_value(const KeyDef& def, const std::string& raw, const std::string& where) {
  const std::string v = trim(raw);
  auto bad = [&](const std::string& what) -> ConfigError {
    return ConfigError(where + ": " + def.key + ": " + what);
  };
  auto range = [&](double x) {
    if (x < def.min || x > def.max) {
      std::ostringstream msg;
      msg << v << " is out of range [" << def.min << ", " << def.max << "]";
      throw bad(msg.str());
    }
  };
  switch (def.type) {
    case KeyType::text:
      return v;
    case KeyType::integer: {
      long long x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec == std::errc::result_out_of_range) throw bad("'" + v + "' is out of range");
      if (ec != std::errc() || p != v.data() + v.size()) throw bad("'" + v + "' is not an integer");
      range(static_cast<double>(x));
      return v;
    }
    case KeyType::unsigned64: {
      unsigned long long x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec == std::errc::result_out_of_range) throw bad("'" + v + "' is larger than 2^64 - 1");
      if (ec != std::errc() || p != v.data() + v.size())
        throw bad("'" + v + "' is not a non-negative integer");
      return v;
    }
    case KeyType::real: {
      double x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec == std::errc::result_out_of_range)
        throw bad("'" + v + "' is out of the range of a double (too large or too small in magnitude)");
      if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(x))
        throw bad("'" + v + "' is not a number");
      range(x);
      return v;
    }
    case KeyType::boolean:
      if (v == "true" || v == "yes" || v == "on" || v == "1") return "true";
      if (v == "false" || v == "no" || v == "off" || v == "0") return "false";
      throw bad("'" + v + "' is not true or false");
    case KeyType::choice: {
      for (const auto& c : choices_of(def))
        if (c == v) return v;
      throw bad("'" + v + "' is not one of " + choice_text(def));
    }
    case KeyType::list: {
      std::string joined;
      for (const auto& item : split_list(v)) joined += (joined.empty() ? "" : ",") + item;
      return joined;
    }
  }
  return v;
}

// INI values: plain text up to an optional "# comment", trimmed; or a double-quoted string with
// \\ \" \n \t \r \xHH escapes (what ini_value writes for text that plain form cannot carry:
// '#', quotes, backslashes, control characters, leading or trailing blanks).
std::string parse_ini_value(const std::string& raw, const std::string& where) {
  const std::string t = trim(raw);
  if (t.empty() || t[0] != '"') return trim(t.substr(0, t.find('#')));
  std::string out;
  size_t i = 1;
  for (; i < t.size() && t[i] != '"'; ++i) {
    if (t[i] != '\\') {
      out += t[i];
      continue;
    }
    if (++i >= t.size()) break;
    switch (t[i]) {
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'x': {
        const std::string hex = t.substr(i + 1, 2);
        if (hex.size() != 2 || !std::isxdigit(static_cast<unsigned char>(hex[0])) ||
            !std::isxdigit(static_cast<unsigned char>(hex[1])))
          throw ConfigError(where + "bad \\x escape in a quoted value (expected two hex digits)");
        out += static_cast<char>(std::stoi(hex, nullptr, 16));
        i += 2;
        break;
      }
      default: throw ConfigError(where + "unknown escape '\\" + std::string(1, t[i]) + "' in a quoted value");
    }
  }
  if (i >= t.size()) throw ConfigError(where + "unterminated quoted value");
  const std::string rest = trim(t.substr(i + 1));
  if (!rest.empty() && rest[0] != '#') throw ConfigError(where + "text after the closing quote: '" + rest + "'");
  return out;
}

// Reads an INI file against a schema, applies overrides and returns every key's value (checked
// against its type and range); line_of receives the line of each key set in the file.
std::map<std::string, std::string> read_ini(const std::filesystem::path& file, std::span<const KeyDef> keys,
                                            const std::vector<std::string>& overrides,
                                            std::map<std::string, int>& line_of) {
  const std::string fname = file.string();
  std::string text;
  try {
    text = read_file_capped(file, kMaxConfigBytes, "config file");
  } catch (const FileError& e) {
    throw ConfigError(e.what());
  }
  auto find = [&](const std::string& key) -> const KeyDef* {
    for (const auto& k : keys)
      if (key == k.key) return &k;
    return nullptr;
  };
  std::vector<std::string> sections;
  for (const auto& k : keys) {
    const std::string sec = std::string(k.key).substr(0, std::string(k.key).find('.'));
    if (std::find(sections.begin(), sections.end(), sec) == sections.end()) sections.push_back(sec);
  }
  std::string section_list;
  for (const auto& sec : sections) section_list += (section_list.empty() ? "" : ", ") + sec;

  std::map<std::string, std::string> values;
  for (const auto& k : keys) values[k.key] = k.default_value;
  std::istringstream lines(text);
  std::string line, section;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const std::string at = fname + ":" + std::to_string(number) + ": ";
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t[0] == '[') {
      const std::string header = trim(t.substr(0, t.find('#')));
      if (header.back() != ']') throw ConfigError(at + "malformed section header '" + t + "'");
      section = trim(header.substr(1, header.size() - 2));
      if (std::find(sections.begin(), sections.end(), section) == sections.end())
        throw ConfigError(at + "unknown section [" + section + "] (sections: " + section_list + ")");
      continue;
    }
    const auto eq = t.find('=');
    if (eq == std::string::npos) throw ConfigError(at + "expected 'key = value', got '" + t + "'");
    const std::string key = (section.empty() ? "" : section + ".") + trim(t.substr(0, eq));
    if (section.empty()) throw ConfigError(at + key + ": key outside any [section]");
    const KeyDef* def = find(key);
    if (!def) throw ConfigError(at + key + ": unknown key");
    if (line_of.count(key))
      throw ConfigError(at + key + ": set twice (first on line " + std::to_string(line_of[key]) + ")");
    line_of[key] = number;
    values[key] = check_value(*def, parse_ini_value(t.substr(eq + 1), at + key + ": "),
                              fname + ":" + std::to_string(number));
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    const std::string where = "--set " + o;
    if (eq == std::string::npos) throw ConfigError(where + ": expected section.key=value");
    const std::string key = trim(o.substr(0, eq));
    const KeyDef* def = find(key);
    if (!def) throw ConfigError(where + ": " + key + ": unknown key");
    values[key] = check_value(*def, o.substr(eq + 1), where);
  }
  return values;
}

}  // namespace

CampaignConfig load_config(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides) {
  const std::string fname = file.string();
  std::map<std::string, int> line_of;
  CampaignConfig config;
  config.values = read_ini(file, kKeys, overrides, line_of);
  auto& v = config.values;
  if (v["campaign.name"].empty()) v["campaign.name"] = file.stem().string();
  if (v["campaign.dir"].empty()) v["campaign.dir"] = "runs/" + v["campaign.name"];

  auto where_of = [&](const std::string& key) {
    for (const auto& o : overrides)
      if (o.rfind(key + "=", 0) == 0) return "--set " + o;
    return fname + (line_of.count(key) ? ":" + std::to_string(line_of[key]) : "");
  };
  auto integer = [&](const char* key) { return std::stoi(v[key]); };
  auto real = [&](const char* key) { return std::stod(v[key]); };
  config.name = v["campaign.name"];
  config.dir = v["campaign.dir"];
  config.seed = std::stoull(v["campaign.seed"]);
  config.space_type = v["space.type"];
  config.ops = split_list(v["space.ops"]);
  for (const auto& op : config.ops)
    if (!op_from_name(op))
      throw ConfigError(where_of("space.ops") + ": space.ops: '" + op + "' is not a known op");
  config.blocks = integer("space.blocks");
  config.combines = split_list(v["space.combines"]);
  if (config.combines.empty()) throw ConfigError(where_of("space.combines") + ": space.combines: empty list");
  for (const auto& c : config.combines)
    if (c != "add" && c != "concat")
      throw ConfigError(where_of("space.combines") + ": space.combines: '" + c + "' is not add or concat");
  config.strategy = v["controller.strategy"];
  config.population = integer("controller.population");
  config.sample_size = integer("controller.sample_size");
  config.identity_prob = real("controller.identity_prob");
  config.rl_algorithm = v["controller.rl_algorithm"];
  config.rl_hidden = integer("controller.rl_hidden");
  config.rl_batch = integer("controller.rl_batch");
  config.rl_lr = real("controller.rl_lr");
  config.rl_entropy = real("controller.rl_entropy");
  config.rl_baseline_decay = real("controller.rl_baseline_decay");
  config.data_dir = v["proxy.data_dir"];
  config.data_format = v["proxy.data_format"];
  config.train_images = integer("proxy.train_images");
  config.valid_images = integer("proxy.valid_images");
  config.epochs = integer("proxy.epochs");
  config.batch = integer("proxy.batch");
  config.lr = real("proxy.lr");
  config.weight_decay = real("proxy.weight_decay");
  config.drop_path = real("proxy.drop_path");
  config.augment = v["proxy.augment"] == "true";
  config.cells_per_stack = integer("proxy.cells_per_stack");
  config.filters = integer("proxy.filters");
  config.stem = v["proxy.stem"];
  config.stem_multiplier = real("proxy.stem_multiplier");
  config.threads = integer("proxy.threads");
  config.memory_limit_gb = real("proxy.memory_limit_gb");
  config.table = v["proxy.table"];
  config.dataset = v["proxy.dataset"];
  config.candidates = integer("budget.candidates");
  config.hours = real("budget.hours");
  config.workers = integer("budget.workers");
  if (config.space_type == "nb201" && config.table.empty())
    throw ConfigError(where_of("proxy.table") + ": proxy.table: required for space.type = nb201");
  if (config.sample_size > config.population)
    throw ConfigError(where_of("controller.sample_size") + ": controller.sample_size: " +
                      std::to_string(config.sample_size) + " is larger than controller.population " +
                      std::to_string(config.population));
  return config;
}

namespace {

std::string ini_value(const std::string& value) {
  bool plain = value.empty() || (value.front() != ' ' && value.back() != ' ' && value.front() != '"');
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f || c == '#' || c == '\\') plain = false;
  if (plain) return value;
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string CampaignConfig::to_ini() const {
  std::string out, section;
  for (const auto& k : kKeys) {
    const std::string key = k.key;
    const std::string s = key.substr(0, key.find('.'));
    if (s != section) {
      out += (out.empty() ? "" : "\n") + std::string("[") + s + "]\n";
      section = s;
    }
    out += key.substr(key.find('.') + 1) + " = " + ini_value(values.at(key)) + "\n";
  }
  return out;
}

std::string CampaignConfig::identity_hash() const {
  std::string text;
  for (const auto& [key, value] : values)
    if (key.rfind("budget.", 0) != 0 && key != "campaign.dir") text += key + "=" + value + "\n";
  return hash_hex(text);
}

namespace {
std::string reference_markdown(std::span<const KeyDef> keys) {
  std::string out = "| key | default | valid values | meaning |\n|---|---|---|---|\n";
  for (const auto& k : keys) {
    std::ostringstream range;
    switch (k.type) {
      case KeyType::integer:
      case KeyType::real:
        range << "[" << k.min << ", " << (k.max >= kBig ? std::string("...") : [&] {
          std::ostringstream m;
          m << k.max;
          return m.str();
        }()) << "]";
        break;
      case KeyType::unsigned64: range << "integer >= 0"; break;
      case KeyType::boolean: range << "true, false"; break;
      case KeyType::choice: range << choice_text(k); break;
      case KeyType::list: range << "comma-separated list"; break;
      case KeyType::text: range << "text"; break;
    }
    out += std::string("| `") + k.key + "` | `" + k.default_value + "` | " + range.str() + " | " + k.doc + " |\n";
  }
  return out;
}

}  // namespace

std::string config_reference_markdown() { return reference_markdown(kKeys); }
std::string train_config_reference_markdown() { return reference_markdown(kTrainKeys); }

std::string ini_text(const std::map<std::string, std::string>& values) {
  std::string out, section;
  for (const auto& [key, value] : values) {
    const std::string s = key.substr(0, key.find('.'));
    if (s != section) {
      out += (out.empty() ? "" : "\n") + std::string("[") + s + "]\n";
      section = s;
    }
    out += key.substr(key.find('.') + 1) + " = " + ini_value(value) + "\n";
  }
  return out;
}

namespace {

// The typed training config of checked values (every key of kTrainKeys present).
TrainConfig train_config_of(std::map<std::string, std::string> values) {
  TrainConfig c;
  c.values = std::move(values);
  auto& v = c.values;
  c.network.cells_per_stack = std::stoi(v["network.cells_per_stack"]);
  c.network.filters = std::stoi(v["network.filters"]);
  c.network.stem = v["network.stem"] == "imagenet" ? Stem::imagenet : Stem::cifar;
  c.network.stem_multiplier = std::stod(v["network.stem_multiplier"]);
  c.network.aux_head = v["network.aux_head"] == "true";
  c.network.dropout = std::stof(v["network.dropout"]);
  c.data.dir = v["data.data_dir"];
  c.data.format = *parse_dataset_format(v["data.format"]);
  c.data.train_images = std::stoi(v["data.train_images"]);
  c.data.valid_images = std::stoi(v["data.valid_images"]);
  c.data.load_test = v["data.test"] == "true";
  auto& t = c.train;
  t.epochs = std::stoi(v["train.epochs"]);
  t.batch = std::stoi(v["train.batch"]);
  t.lr = std::stof(v["train.lr"]);
  t.min_lr = std::stof(v["train.min_lr"]);
  t.warmup_epochs = std::stof(v["train.warmup_epochs"]);
  t.sgd.momentum = std::stof(v["train.momentum"]);
  t.sgd.nesterov = v["train.nesterov"] == "true";
  t.sgd.weight_decay = std::stof(v["train.weight_decay"]);
  t.sgd.clip_norm = std::stof(v["train.clip_norm"]);
  t.label_smoothing = std::stof(v["train.label_smoothing"]);
  t.drop_path = std::stof(v["train.drop_path"]);
  t.cutout = std::stoi(v["train.cutout"]);
  t.augment = v["train.augment"] == "true";
  t.aux_weight = std::stof(v["train.aux_weight"]);
  t.threads = std::stoi(v["train.threads"]);
  t.seed = std::stoull(v["train.seed"]);
  t.memory_limit_bytes = static_cast<int64_t>(std::stod(v["train.memory_limit_gb"]) * (int64_t{1} << 30));
  t.evaluate_test = c.data.load_test;
  c.data.seed = t.seed;
  return c;
}

}  // namespace

TrainConfig load_train_config(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  std::map<std::string, int> line_of;
  return train_config_of(read_ini(file, kTrainKeys, overrides, line_of));
}

TrainConfig train_config_from_settings(const std::vector<Setting>& settings) {
  std::map<std::string, std::string> values;
  for (const auto& k : kTrainKeys) values[k.key] = k.default_value;
  for (const auto& setting : settings) {
    const KeyDef* def = nullptr;
    for (const auto& k : kTrainKeys)
      if (setting.key == k.key) def = &k;
    if (!def) throw std::logic_error("train_config_from_settings: unknown key " + setting.key);
    try {
      values[setting.key] = check_value(*def, setting.value, setting.where);
    } catch (const ConfigError& e) {
      // "--weight-decay: train.weight_decay: -5 is out of range [0, 1]" -> without the key.
      std::string what = e.what();
      const std::string key_part = setting.where + ": " + setting.key + ": ";
      if (what.rfind(key_part, 0) == 0) what = setting.where + ": " + what.substr(key_part.size());
      throw ConfigError(what);
    }
  }
  return train_config_of(std::move(values));
}

}  // namespace cf

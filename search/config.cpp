#include "search/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>

#include "search/front.h"
#include "space/file_io.h"
#include "space/genotype.h"
#include "trainer/cpus.h"

namespace cf {

namespace {

// auto_integer: "auto" (kept as the word; the setting's default decides later) or an integer.
enum class KeyType { text, integer, auto_integer, unsigned64, real, boolean, list, choice };

std::string trim(const std::string& s);
std::vector<std::string> split_list(const std::string& s);

using ApplyCampaign = void (*)(CampaignConfig&, const std::string&);
using ApplySettings = void (*)(TrainSettings&, const std::string&);

// One key of a file schema. The value reaching `to_campaign` / `to_settings` has been checked
// against the type and range already.
struct KeyDef {
  std::string key;
  KeyType type;
  std::string default_value;
  double min, max;      // numbers: inclusive range
  const char* choices;  // choice: values separated by '|'; integer: "auto" also allowed
  const char* doc;
  ApplyCampaign to_campaign = nullptr;
  ApplySettings to_settings = nullptr;
  // What runs frozen before this key existed did, when that is not the default: a run
  // directory's config.ini without the key means this value (see neutral_value).
  std::optional<std::string> before_key;
};

// The value that is "no setting" for a run's identity: what runs did before the key existed.
const std::string& neutral_value(const KeyDef& k) {
  return k.before_key ? *k.before_key : k.default_value;
}

constexpr double kBig = 1e12;
constexpr const char* kIdentityV2 = "v2:";  // CampaignConfig::identity_hash's version prefix
constexpr int64_t kMaxConfigBytes = int64_t{1} << 20;  // a config file is a few hundred bytes

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
      // Thread counts: "auto" is resolved here, so the frozen config of a run holds the number
      // and a resume on another machine trains with the same count (results depend on it).
      if (v == "auto" && def.choices && std::string_view(def.choices) == "auto")
        return std::to_string(usable_cpus());
      long long x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec == std::errc::result_out_of_range) throw bad("'" + v + "' is out of range");
      if (ec != std::errc() || p != v.data() + v.size()) throw bad("'" + v + "' is not an integer");
      range(static_cast<double>(x));
      return v;
    }
    case KeyType::auto_integer: {
      if (v == "auto") return v;
      long long x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec == std::errc::result_out_of_range) throw bad("'" + v + "' is out of range");
      if (ec != std::errc() || p != v.data() + v.size())
        throw bad("'" + v + "' is not auto or an integer");
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
        throw bad("'" + v +
                  "' is out of the range of a double (too large or too small in magnitude)");
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
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'x': {
        const std::string hex = t.substr(i + 1, 2);
        if (hex.size() != 2 || !std::isxdigit(static_cast<unsigned char>(hex[0])) ||
            !std::isxdigit(static_cast<unsigned char>(hex[1])))
          throw ConfigError(where + "bad \\x escape in a quoted value (expected two hex digits)");
        out += static_cast<char>(std::stoi(hex, nullptr, 16));
        i += 2;
        break;
      }
      default:
        throw ConfigError(where + "unknown escape '\\" + std::string(1, t[i]) +
                          "' in a quoted value");
    }
  }
  if (i >= t.size()) throw ConfigError(where + "unterminated quoted value");
  const std::string rest = trim(t.substr(i + 1));
  if (!rest.empty() && rest[0] != '#')
    throw ConfigError(where + "text after the closing quote: '" + rest + "'");
  return out;
}

// Reads an INI file against a schema, applies overrides and returns every key's value (checked
// against its type and range); line_of receives the line of each key set in the file.
std::map<std::string, std::string> read_ini(const std::filesystem::path& file,
                                            const std::vector<KeyDef>& keys,
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
  for (const auto& k : keys) values[k.key] = check_value(k, k.default_value, "default");
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
        throw ConfigError(at + "unknown section [" + section + "] (sections: " + section_list +
                          ")");
      continue;
    }
    const auto eq = t.find('=');
    if (eq == std::string::npos) throw ConfigError(at + "expected 'key = value', got '" + t + "'");
    const std::string key = (section.empty() ? "" : section + ".") + trim(t.substr(0, eq));
    if (section.empty()) throw ConfigError(at + key + ": key outside any [section]");
    const KeyDef* def = find(key);
    if (!def) throw ConfigError(at + key + ": unknown key");
    if (line_of.count(key))
      throw ConfigError(at + key + ": set twice (first on line " + std::to_string(line_of[key]) +
                        ")");
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

std::string ini_value(const std::string& value) {
  bool plain =
      value.empty() || (value.front() != ' ' && value.back() != ' ' && value.front() != '"');
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f || c == '#' || c == '\\') plain = false;
  if (plain) return value;
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
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

std::string reference_markdown(const std::vector<KeyDef>& keys) {
  std::string out = "| key | default | valid values | meaning |\n|---|---|---|---|\n";
  for (const auto& k : keys) {
    std::ostringstream range;
    switch (k.type) {
      case KeyType::integer:
      case KeyType::auto_integer:
      case KeyType::real:
        if (k.type == KeyType::auto_integer || (k.choices && std::string_view(k.choices) == "auto"))
          range << "auto or ";
        range << "[" << k.min << ", " << (k.max >= kBig ? std::string("...") : [&] {
          std::ostringstream m;
          m << k.max;
          return m.str();
        }()) << "]";
        break;
      case KeyType::unsigned64:
        range << "integer >= 0";
        break;
      case KeyType::boolean:
        range << "true, false";
        break;
      case KeyType::choice:
        range << choice_text(k);
        break;
      case KeyType::list:
        range << "comma-separated list";
        break;
      case KeyType::text:
        range << "text";
        break;
    }
    out += std::string("| `") + k.key + "` | `" + k.default_value + "` | " + range.str() + " | " +
           k.doc + " |\n";
  }
  return out;
}

int to_int(const std::string& v) {
  return std::stoi(v);
}
float to_float(const std::string& v) {
  return std::stof(v);
}
bool to_bool(const std::string& v) {
  return v == "true";
}

// The network, data and training settings: one row each, shared by training configs (train_key),
// the campaign's [proxy] section (proxy_key; nullptr: not a campaign key, candidates are trained
// with proxy_default) and train's flags. Ranges and documentation are stated here only.
struct SettingDef {
  const char* train_key;
  const char* proxy_key;
  KeyType type;
  const char* train_default;
  const char* proxy_default;
  double min, max;
  const char* choices;
  const char* doc;
  ApplySettings apply;
  const char* proxy_before_key = nullptr;  // KeyDef::before_key of the proxy key
};

#define CF_APPLY(statement) [](TrainSettings& s, const std::string& v) { statement; }
const SettingDef kSettings[] = {
    {"network.cells_per_stack", "proxy.cells_per_stack", KeyType::integer, "6", "2", 1, 64, "",
     "N: normal cells per stack", CF_APPLY(s.network.cells_per_stack = to_int(v))},
    {"network.filters", "proxy.filters", KeyType::integer, "32", "16", 4, 4096, "",
     "F: base filters", CF_APPLY(s.network.filters = to_int(v))},
    {"network.stem", "proxy.stem", KeyType::choice, "cifar", "cifar", 0, 0, "cifar|imagenet",
     "stem", CF_APPLY(s.network.stem = *stem_from_name(v))},
    {"network.stem_multiplier", "proxy.stem_multiplier", KeyType::real, "3", "3", 0.01, 64, "",
     "stem channel multiplier", CF_APPLY(s.network.stem_multiplier = std::stod(v))},
    {"network.aux_head", nullptr, KeyType::boolean, "false", "false", 0, 0, "",
     "auxiliary head after the second reduction", CF_APPLY(s.network.aux_head = to_bool(v))},
    {"network.dropout", nullptr, KeyType::real, "0", "0", 0, 0.99, "", "head dropout rate",
     CF_APPLY(s.network.dropout = to_float(v))},
    {"data.data_dir", "proxy.data_dir", KeyType::text, "/usr/share/datasets/fashion-mnist",
     "/usr/share/datasets/fashion-mnist", 0, 0, "",
     "dataset directory (IDX, CIFAR binary, image folders or NumPy files; README: Your own data)",
     CF_APPLY(s.data.dir = v)},
    {"data.format", "proxy.data_format", KeyType::choice, "auto", "auto", 0, 0,
     "auto|idx|cifar10|cifar100|folder|numpy",
     "dataset format (auto: IDX, CIFAR-10, CIFAR-100, NumPy, then image folders are looked for)",
     CF_APPLY(s.data.format = *parse_dataset_format(v))},
    {"data.channels", "proxy.channels", KeyType::choice, "auto", "auto", 0, 0, "auto|1|3",
     "image channels, 1 (grey) or 3 (RGB); auto: folders 3 when any image has colour, else 1; "
     "other formats as stored",
     CF_APPLY(s.data.conversion.channels = v == "auto" ? 0 : to_int(v))},
    {"data.image_size", "proxy.image_size", KeyType::auto_integer, "auto", "auto", 1, 4096, "",
     "square image side in pixels (auto: the files' own size; folders whose images differ in "
     "size need it)",
     CF_APPLY(s.data.conversion.image_size = v == "auto" ? 0 : to_int(v))},
    {"data.resize", "proxy.resize", KeyType::choice, "resize", "resize", 0, 0, "resize|center_crop",
     "how images reach data.image_size: resize (stretched to the square) or center_crop (shorter "
     "side scaled to the size, centre square kept)",
     CF_APPLY(s.data.conversion.resize = *parse_resize_mode(v))},
    {"data.skip_bad_images", "proxy.skip_bad_images", KeyType::boolean, "false", "false", 0, 0, "",
     "folders: skip unreadable, empty or corrupt images (counted) instead of stopping at the first",
     CF_APPLY(s.data.skip_bad_images = to_bool(v))},
    {"data.train_images", "proxy.train_images", KeyType::integer, "0", "10000", 0, 1e8, "",
     "training images (0: all but the validation split)",
     CF_APPLY(s.data.train_images = to_int(v))},
    {"data.valid_images", "proxy.valid_images", KeyType::integer, "0", "5000", 0, 1e8, "",
     "validation images held out of the training files (a campaign needs at least 1)",
     CF_APPLY(s.data.valid_images = to_int(v))},
    {"data.horizontal_flip", "proxy.horizontal_flip", KeyType::choice, "auto", "auto", 0, 0,
     "auto|true|false",
     "random horizontal flips in training (auto: the format's default, on for every format; false "
     "for digits)",
     CF_APPLY(s.data.horizontal_flip =
                  v == "auto" ? std::nullopt : std::optional<bool>(v == "true"))},
    {"data.crop_padding", "proxy.crop_padding", KeyType::auto_integer, "auto", "auto", 0, 64, "",
     "padding of the random crop in training (auto: the format's default, 4 for CIFAR, 2 for "
     "IDX; folders and NumPy 4 when both sides are at least 32 pixels, else 2)",
     CF_APPLY(s.data.crop_padding = v == "auto" ? std::nullopt : std::optional<int>(to_int(v)))},
    {"data.test", nullptr, KeyType::boolean, "true", "false", 0, 0, "",
     "report accuracy on the test files",
     CF_APPLY(s.data.load_test = s.train.evaluate_test = to_bool(v))},
    {"train.epochs", "proxy.epochs", KeyType::integer, "20", "1", 0, 100000, "",
     "epochs (0: evaluate the initial or loaded weights only; a campaign needs at least 1)",
     CF_APPLY(s.train.epochs = to_int(v))},
    {"train.batch", "proxy.batch", KeyType::integer, "64", "32", 1, 65536, "", "batch size",
     CF_APPLY(s.train.batch = to_int(v))},
    {"train.lr", "proxy.lr", KeyType::real, "0.05", "0.05", 1e-9, 100, "",
     "base learning rate (cosine schedule, Nesterov SGD)", CF_APPLY(s.train.lr = to_float(v))},
    {"train.min_lr", nullptr, KeyType::real, "0", "0", 0, 100, "", "final learning rate",
     CF_APPLY(s.train.min_lr = to_float(v))},
    {"train.warmup_epochs", nullptr, KeyType::real, "0", "0", 0, 1000, "", "linear warm-up epochs",
     CF_APPLY(s.train.warmup_epochs = to_float(v))},
    {"train.momentum", nullptr, KeyType::real, "0.9", "0.9", 0, 0.999, "", "SGD momentum",
     CF_APPLY(s.train.sgd.momentum = to_float(v))},
    {"train.nesterov", nullptr, KeyType::boolean, "true", "true", 0, 0, "", "Nesterov momentum",
     CF_APPLY(s.train.sgd.nesterov = to_bool(v))},
    {"train.weight_decay", "proxy.weight_decay", KeyType::real, "0.0003", "0.0003", 0, 1, "",
     "L2 weight decay", CF_APPLY(s.train.sgd.weight_decay = to_float(v))},
    {"train.decay_scope", "proxy.decay_scope", KeyType::choice, "weights", "weights", 0, 0,
     "weights|all",
     "what weight decay applies to: weights (conv and FC weights) or all (BN scale and shift and "
     "biases too, as torch.optim.SGD(model.parameters()) does)",
     CF_APPLY(s.train.sgd.decay_all = v == "all")},
    {"train.clip_norm", nullptr, KeyType::real, "5", "5", 0, 1e6, "", "gradient-norm clip (0: off)",
     CF_APPLY(s.train.sgd.clip_norm = to_float(v))},
    {"train.label_smoothing", nullptr, KeyType::real, "0", "0", 0, 0.99, "", "label smoothing",
     CF_APPLY(s.train.label_smoothing = to_float(v))},
    {"train.drop_path", "proxy.drop_path", KeyType::real, "0", "0", 0, 0.99, "",
     "ScheduledDropPath final probability", CF_APPLY(s.train.drop_path = to_float(v))},
    {"train.cutout", nullptr, KeyType::integer, "0", "0", 0, 1024, "",
     "cutout square side (0: off)", CF_APPLY(s.train.cutout = to_int(v))},
    {"train.augment", "proxy.augment", KeyType::boolean, "true", "true", 0, 0, "",
     "random crop and flip (padding as data.crop_padding, flip as data.horizontal_flip says)",
     CF_APPLY(s.train.augment = to_bool(v))},
    {"train.init", "proxy.init", KeyType::choice, "uniform_fan_in", "uniform_fan_in", 0, 0,
     "he_normal|uniform_fan_in|glorot",
     "initial weights: uniform_fan_in (PyTorch's default: conv and FC weights and FC bias "
     "U(+-1/sqrt(fan_in)); learns faster, see the README's parity figures), he_normal (conv "
     "N(0, 2/fan_in), FC U(+-1/sqrt(fan_in)), FC bias 0; campaigns made before this key "
     "existed) or glorot (U(+-sqrt(6/(fan_in+fan_out))), FC bias 0); BN scale 1, shift 0 in all",
     CF_APPLY(s.train.init = *init_scheme_from_name(v)), "he_normal"},
    {"train.aux_weight", nullptr, KeyType::real, "0.4", "0.4", 0, 10, "",
     "auxiliary head loss weight", CF_APPLY(s.train.aux_weight = to_float(v))},
    {"train.threads", "proxy.threads", KeyType::integer, "auto", "auto", 1, 1024, "auto",
     "CPU threads, or auto: the CPUs this process may use (affinity mask and cgroup quota, not "
     "the machine's count), resolved when the config is read; a campaign splits them among its "
     "workers",
     CF_APPLY(s.train.threads = to_int(v))},
    {"train.precision", "proxy.precision", KeyType::choice, "fp32", "fp32", 0, 0, "fp32|bf16",
     "numeric format: fp32, or bf16 (activations, their gradients and the weights convolutions "
     "read in bfloat16; master weights, optimizer state, batch-norm statistics and accumulation "
     "in fp32); bf16 needs a CPU with avx512_bf16 or AMX and falls back to fp32 with a warning",
     CF_APPLY(s.train.precision = v == "bf16" ? Precision::bf16 : Precision::fp32)},
    {"train.seed", nullptr, KeyType::unsigned64, "0", "0", 0, kBig, "",
     "seed (a campaign derives each candidate's from campaign.seed)",
     CF_APPLY(s.train.seed = s.data.seed = std::stoull(v))},
    {"train.memory_limit_gb", "proxy.memory_limit_gb", KeyType::real, "16", "8", 0.01, 1e6, "",
     "networks estimated above this are refused (a campaign's fail with status memory_limit)",
     CF_APPLY(s.train.memory_limit_bytes =
                  static_cast<int64_t>(std::stod(v) * double(int64_t{1} << 30)))},
};
#undef CF_APPLY

#define CF_SET(statement) [](CampaignConfig& c, const std::string& v) { statement; }
KeyDef campaign_key(const char* key, KeyType type, const char* def, double min, double max,
                    const char* choices, const char* doc, ApplyCampaign apply) {
  return KeyDef{key, type, def, min, max, choices, doc, apply, nullptr, std::nullopt};
}

// The campaign schema: its own keys, with the proxy settings after [controller]. Order is the
// order of the frozen config and the docs.
std::vector<KeyDef> make_campaign_keys() {
  std::vector<KeyDef> keys = {
    campaign_key("campaign.name", KeyType::text, "", 0, 0, "",
                 "campaign name (default: the config file's name)", CF_SET(c.name = v)),
    campaign_key("campaign.dir", KeyType::text, "", 0, 0, "",
                 "run directory (default: runs/<name>)", CF_SET(c.dir = v)),
    campaign_key("campaign.seed", KeyType::unsigned64, "0", 0, kBig, "",
                 "seed of the controller and of every candidate's training",
                 CF_SET(c.seed = std::stoull(v))),
    campaign_key("space.type", KeyType::choice, "nasnet", 0, 0, "nasnet|nb201", "search space",
                 CF_SET(c.space_type = v)),
    campaign_key("space.ops", KeyType::list, "", 0, 0, "",
                 "comma-separated op subset of the NASNet space (default: the paper's 13 ops)",
                 CF_SET(c.ops = split_list(v))),
    campaign_key("space.blocks", KeyType::integer, "5", 1, 10, "", "blocks per cell (B)",
                 CF_SET(c.blocks = to_int(v))),
    campaign_key("space.combines", KeyType::list, "add", 0, 0, "",
                 "allowed block combines: add, concat", CF_SET(c.combines = split_list(v))),
    campaign_key("controller.strategy", KeyType::choice, "evolution", 0, 0, "random|evolution|rl",
                 "search strategy", CF_SET(c.strategy = v)),
    campaign_key("controller.population", KeyType::integer, "20", 2, 1e6, "",
                 "evolution: population size P",
                 CF_SET(c.controller.evolution.population = to_int(v))),
    campaign_key("controller.sample_size", KeyType::integer, "5", 1, 1e6, "",
                 "evolution: tournament size S",
                 CF_SET(c.controller.evolution.sample_size = to_int(v))),
    campaign_key("controller.identity_prob", KeyType::real, "0.05", 0, 1, "",
                 "evolution: probability of an unchanged child",
                 CF_SET(c.controller.evolution.identity_prob = std::stod(v))),
    campaign_key("controller.rl_algorithm", KeyType::choice, "ppo", 0, 0, "ppo|reinforce",
                 "rl: policy-gradient algorithm",
                 CF_SET(c.controller.rl.algorithm = *rl_algorithm_from_name(v))),
    campaign_key("controller.rl_hidden", KeyType::integer, "100", 4, 4096, "",
                 "rl: LSTM hidden units", CF_SET(c.controller.rl.lstm_hidden = to_int(v))),
    campaign_key("controller.rl_batch", KeyType::integer, "10", 1, 1e5, "",
                 "rl: episodes per policy update", CF_SET(c.controller.rl.batch_size = to_int(v))),
    campaign_key("controller.rl_lr", KeyType::real, "0.00035", 1e-9, 1, "",
                 "rl: Adam learning rate", CF_SET(c.controller.rl.learning_rate = std::stod(v))),
    campaign_key("controller.rl_entropy", KeyType::real, "0.0001", 0, 10, "",
                 "rl: entropy bonus weight", CF_SET(c.controller.rl.entropy_weight = std::stod(v))),
    campaign_key("controller.rl_baseline_decay", KeyType::real, "0.95", 0, 0.999999, "",
                 "rl: reward baseline decay",
                 CF_SET(c.controller.rl.baseline_decay = std::stod(v))),
    campaign_key("controller.rl_failure_reward", KeyType::text, "", 0, 0, "",
                 "rl: reward learnt from a failed or rejected candidate, a number in [-1, 1] "
                 "(empty: failures are not learnt from)",
                 CF_SET((void)c; (void)v)),  // parsed in load_config, errors with the line
    campaign_key("controller.warmup", KeyType::text, "", 0, 0, "",
                 "zero-cost warm-up PROXY[+PROXY...]:W (e.g. synflow:1000): the best of W random "
                 "cells by the proxy start the search (evolution's population, rl's first batch, "
                 "random's first W); scorings are not candidates",
                 CF_SET((void)c; (void)v)),  // parsed in load_config, errors with the line
    campaign_key("controller.proposal", KeyType::text, "", 0, 0, "",
                 "evolution: zero-cost move proposal PROXY:M, the best-scored of M mutations",
                 CF_SET((void)c; (void)v)),
    campaign_key("controller.scores", KeyType::text, "", 0, 0, "",
                 "nb201: zero-cost scores of every cell (cellforge zero-cost --all); nasnet: "
                 "empty, scores are computed on the proxy network and a minibatch of its data",
                 CF_SET(c.scores = v)),
  };
  for (const SettingDef& s : kSettings)
    if (s.proxy_key)
      keys.push_back(KeyDef{
          s.proxy_key, s.type, s.proxy_default, s.min, s.max, s.choices, s.doc, nullptr, s.apply,
          s.proxy_before_key ? std::optional<std::string>(s.proxy_before_key) : std::nullopt});
  keys.push_back(campaign_key("proxy.table", KeyType::text, "", 0, 0, "",
                              "nb201: path of the NAS-Bench-201 table (nb201.csv)",
                              CF_SET(c.table = v)));
  keys.push_back(campaign_key(
      "proxy.dataset", KeyType::choice, "cifar10", 0, 0, "cifar10|cifar100|imagenet16",
      "nb201: dataset whose 12-epoch validation accuracy is the signal", CF_SET(c.dataset = v)));
  keys.push_back(campaign_key(
      "objective.max_params", KeyType::unsigned64, "0", 0, 0, "",
      "nasnet: hard cap on the proxy network's parameters (0: none); a candidate over it is not "
      "trained but stored as rejected with the reason, and the controller observes a failure",
      CF_SET(c.objective.max_params = std::stoull(v))));
  keys.push_back(campaign_key("objective.max_macs", KeyType::unsigned64, "0", 0, 0, "",
                              "nasnet: hard cap on the proxy network's multiply-accumulates per "
                              "image (0: none), as objective.max_params",
                              CF_SET(c.objective.max_macs = std::stoull(v))));
  keys.push_back(campaign_key(
      "objective.max_latency_ms", KeyType::real, "0", 0, 1e6, "",
      "nasnet: hard cap on the proxy network's batch-1 inference latency in ms (0: none), "
      "measured before training (objective.latency_*); over it: rejected, not trained",
      CF_SET(c.objective.max_latency_ms = std::stod(v))));
  keys.push_back(campaign_key(
      "objective.latency", KeyType::boolean, "false", 0, 0, "",
      "nasnet: measure every candidate's latency (stored in its metrics as latency.median_ms); "
      "implied by objective.max_latency_ms or a Pareto cost of latency",
      CF_SET(c.objective.measure_latency = to_bool(v))));
  keys.push_back(campaign_key("objective.latency_threads", KeyType::integer, "1", 1, 1024, "",
                              "OpenMP threads of the latency measurement",
                              CF_SET(c.objective.latency.threads = to_int(v))));
  keys.push_back(campaign_key("objective.latency_runs", KeyType::integer, "50", 1, 100000, "",
                              "timed batch-1 forward passes; the latency is their median",
                              CF_SET(c.objective.latency.runs = to_int(v))));
  keys.push_back(campaign_key(
      "objective.latency_cells_per_stack", KeyType::integer, "0", 0, 64, "",
      "N of the network whose latency is measured (0: the proxy's), e.g. the full-size stacking",
      CF_SET(c.objective.latency_cells_per_stack = to_int(v))));
  keys.push_back(campaign_key(
      "objective.latency_filters", KeyType::integer, "0", 0, 4096, "",
      "F of the network whose latency is measured (0: the proxy's)",
      CF_SET(c.objective.latency_filters = to_int(v))));
  keys.push_back(campaign_key("objective.latency_warmup", KeyType::integer, "10", 0, 100000, "",
                              "untimed forward passes before the timed ones",
                              CF_SET(c.objective.latency.warmup = to_int(v))));
  keys.push_back(campaign_key(
      "objective.soft_target_params", KeyType::unsigned64, "0", 0, 0, "",
      "soft reward (MnasNet): the controller observes accuracy * (params / target) ^ "
      "objective.soft_weight instead of accuracy (0: off); the stored accuracy is unchanged",
      CF_SET(c.objective.soft_target_params = std::stoull(v))));
  keys.push_back(campaign_key("objective.soft_target_macs", KeyType::unsigned64, "0", 0, 0, "",
                              "soft reward on MACs, as objective.soft_target_params (both: the "
                              "product of the two factors)",
                              CF_SET(c.objective.soft_target_macs = std::stoull(v))));
  keys.push_back(campaign_key(
      "objective.soft_target_latency_ms", KeyType::real, "0", 0, 1e6, "",
      "soft reward on the measured batch-1 latency (objective.latency_*), as "
      "objective.soft_target_params; a trained candidate without a latency is observed as failed",
      CF_SET(c.objective.soft_target_latency_ms = std::stod(v))));
  keys.push_back(campaign_key("objective.soft_weight", KeyType::real, "-0.07", -10, 0, "",
                              "w of the soft reward (MnasNet's -0.07: twice the target costs 4.7%)",
                              CF_SET(c.objective.soft_weight = std::stod(v))));
  keys.push_back(campaign_key(
      "objective.mode", KeyType::choice, "scalar", 0, 0, "scalar|pareto",
      "scalar: the controller maximises one reward (the accuracy, or the soft reward); pareto: "
      "evolution selects tournament winners by non-dominated rank and crowding distance (NSGA-II) "
      "over the accuracy and the objective.pareto costs (needs controller.strategy = evolution)",
      CF_SET((void)c; (void)v)));  // checked with objective.pareto in load_config
  keys.push_back(campaign_key(
      "objective.pareto", KeyType::list, "", 0, 0, "",
      "objective.mode = pareto: the costs minimised beside the accuracy, one or two of params, "
      "macs, latency (latency: metrics.latency.median_ms; a candidate without it counts as failed "
      "for the controller)",
      CF_SET((void)c; (void)v)));  // parsed in load_config, errors with the line
  keys.push_back(campaign_key(
      "scheduler.kind", KeyType::choice, "none", 0, 0, "none|asha|hyperband",
      "none: every candidate trains proxy.epochs; asha: asynchronous successive halving, rungs at "
      "scheduler.min_epochs * eta^k epochs up to proxy.epochs, a candidate in the top 1/eta of "
      "its rung continues from its checkpoint to the next rung; hyperband: several ASHA brackets, "
      "the n-th candidate in bracket n mod B, bracket b starting at rung b (NASNet space only); "
      "the controller observes each candidate's first result, top and report rank by rung first",
      CF_SET(c.scheduler.kind = v == "asha"        ? SchedulerKind::asha
                                : v == "hyperband" ? SchedulerKind::hyperband
                                                   : SchedulerKind::none)));
  keys.push_back(campaign_key("scheduler.eta", KeyType::integer, "3", 2, 100, "",
                              "reduction factor: a rung promotes its top 1/eta, and each rung "
                              "trains eta times the epochs of the one below",
                              CF_SET(c.scheduler.eta = to_int(v))));
  keys.push_back(campaign_key(
      "scheduler.min_epochs", KeyType::integer, "1", 1, 100000, "",
      "epochs of the lowest rung; the top rung is proxy.epochs, which is also the length of the "
      "learning-rate schedule every rung trains under",
      CF_SET(c.scheduler.min_epochs = to_int(v))));
  keys.push_back(campaign_key(
      "supernet.epochs", KeyType::integer, "0", 0, 100000, "",
      "weight sharing: epochs of one-shot supernet training over the space, one uniformly sampled "
      "cell per step, with the [proxy] network, data and training settings (all but its epochs; "
      "warm-up and drop path follow the supernet's steps); > 0 makes the campaign a supernet "
      "campaign: the supernet is trained (and resumed) in campaign.dir/supernet/, every "
      "candidate is scored with its "
      "inherited weights (what the controller observes), then the best supernet.retrain are "
      "trained stand-alone with [proxy] (0: no supernet; cellforge supernet trains and scores "
      "outside a campaign)",
      CF_SET(c.supernet.epochs = to_int(v))));
  keys.push_back(campaign_key(
      "supernet.checkpoint_steps", KeyType::integer, "200", 1, 1e8, "",
      "supernet training saves its whole state (shared weights, momentum, data order, random "
      "streams) after this many steps, and resumes from it exactly",
      CF_SET(c.supernet.checkpoint_steps = to_int(v))));
  keys.push_back(campaign_key(
      "supernet.calibration_batches", KeyType::integer, "4", 0, 100000, "",
      "scoring a cell with inherited weights: its batch-norm statistics are recomputed on this "
      "many training batches (proxy.batch images each, file order, no augmentation)",
      CF_SET(c.supernet.calibration_batches = to_int(v))));
  keys.push_back(campaign_key(
      "supernet.score_images", KeyType::integer, "256", 0, 1e9, "",
      "held-out (validation) images a cell is scored on with inherited weights (0: all)",
      CF_SET(c.supernet.score_images = to_int(v))));
  keys.push_back(campaign_key(
      "supernet.retrain", KeyType::integer, "5", 0, 1e6, "",
      "a supernet campaign trains its best this many distinct cells (by supernet score) "
      "stand-alone with [proxy] once the candidates are scored; their results are rung 1, ranked "
      "above every supernet score",
      CF_SET(c.supernet.retrain = to_int(v))));
  keys.push_back(campaign_key(
      "budget.candidates", KeyType::integer, "100", 1, 1e8, "",
      "candidates to evaluate; candidates rejected by an [objective] cap (not trained) do not count",
      CF_SET(c.candidates = to_int(v))));
  keys.push_back(campaign_key(
      "budget.max_rejected", KeyType::integer, "100000", 0, 1e9, "",
      "the campaign ends after this many candidates rejected by [objective] caps (caps that "
      "nothing can meet would otherwise propose forever)",
      CF_SET(c.max_rejected = to_int(v))));
  keys.push_back(campaign_key(
      "budget.hours", KeyType::real, "0", 0, 1e6, "",
      "wall-clock limit in hours (0: none); the first budget reached ends the campaign",
      CF_SET(c.hours = std::stod(v))));
  keys.push_back(campaign_key("budget.workers", KeyType::integer, "1", 1, 1024, "",
                              "candidates evaluated at once, each in its own worker process",
                              CF_SET(c.workers = to_int(v))));
  return keys;
}
#undef CF_SET

std::vector<KeyDef> make_train_keys() {
  std::vector<KeyDef> keys;
  for (const SettingDef& s : kSettings)
    keys.push_back(KeyDef{s.train_key, s.type, s.train_default, s.min, s.max, s.choices, s.doc,
                          nullptr, s.apply, std::nullopt});
  return keys;
}

const std::vector<KeyDef>& campaign_keys() {
  static const std::vector<KeyDef> keys = make_campaign_keys();
  return keys;
}
const std::vector<KeyDef>& train_keys() {
  static const std::vector<KeyDef> keys = make_train_keys();
  return keys;
}

// Applies every (checked) value of `values` through its row's conversion.
void apply_all(const std::vector<KeyDef>& keys, const std::map<std::string, std::string>& values,
               CampaignConfig* campaign, TrainSettings* settings) {
  for (const KeyDef& k : keys) {
    const std::string& v = values.at(k.key);
    if (k.to_campaign && campaign) k.to_campaign(*campaign, v);
    if (k.to_settings && settings) k.to_settings(*settings, v);
  }
}

// Rules across keys, after every key is set.
void check_campaign(const CampaignConfig& config,
                    const std::function<std::string(const std::string&)>& where_of) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return ConfigError(where_of(key) + ": " + key + ": " + what);
  };
  for (const auto& op : config.ops)
    if (!op_from_name(op)) throw bad("space.ops", "'" + op + "' is not a known op");
  if (config.combines.empty()) throw bad("space.combines", "empty list");
  for (const auto& c : config.combines)
    if (c != "add" && c != "concat")
      throw bad("space.combines", "'" + c + "' is not add or concat");
  if (config.space_type == "nb201" && config.table.empty())
    throw bad("proxy.table", "required for space.type = nb201");
  const ObjectiveOptions& o = config.objective;
  for (const auto& [key, value] : {std::pair{"objective.max_params", o.max_params},
                                   std::pair{"objective.max_macs", o.max_macs},
                                   std::pair{"objective.soft_target_params", o.soft_target_params},
                                   std::pair{"objective.soft_target_macs", o.soft_target_macs}})
    if (value > 0 && config.space_type != "nasnet")
      throw bad(key, "[objective] applies to nasnet campaigns (NAS-Bench-201 cells are looked up)");
  if (o.needs_latency() && config.space_type != "nasnet")
    throw bad(o.max_latency_ms > 0            ? "objective.max_latency_ms"
              : o.soft_target_latency_ms > 0 ? "objective.soft_target_latency_ms"
                                              : "objective.latency",
              "[objective] applies to nasnet campaigns (NAS-Bench-201 cells are looked up)");
  const bool guided = config.warmup.count > 0 || config.proposal.count > 0;
  if (config.proposal.count > 0 && config.strategy != "evolution")
    throw bad("controller.proposal", "move proposals need controller.strategy = evolution");
  if (config.warmup.count > 0 && config.proposal.count > 0 &&
      config.warmup.proxies != config.proposal.proxies)
    throw bad("controller.proposal", "must use the proxies of controller.warmup");
  if (guided && config.space_type == "nb201" && config.scores.empty())
    throw bad("controller.scores", "required for zero-cost guidance in space.type = nb201");
  if (guided && config.space_type == "nasnet" && !config.scores.empty())
    throw bad("controller.scores", "nasnet campaigns compute their scores (leave it empty)");
  for (const GuideSpec* g : {&config.warmup, &config.proposal})
    if (config.space_type == "nasnet" && g->proxies.size() > 1)
      throw bad(g == &config.warmup ? "controller.warmup" : "controller.proposal",
                "nasnet campaigns score with one proxy (an average rank needs every score first)");
  const auto& evo = config.controller.evolution;
  if (evo.sample_size > evo.population)
    throw bad("controller.sample_size", std::to_string(evo.sample_size) +
                                            " is larger than controller.population " +
                                            std::to_string(evo.population));
  if (config.space_type == "nasnet" && config.proxy.data.valid_images < 1)
    throw bad("proxy.valid_images", "a campaign scores candidates on at least 1 validation image");
  if (config.space_type == "nasnet" && config.proxy.train.epochs < 1)
    throw bad("proxy.epochs", "a campaign trains candidates for at least 1 epoch");
  const SchedulerOptions& sched = config.scheduler;
  if (config.supernet.epochs > 0) {
    if (config.space_type != "nasnet")
      throw bad("supernet.epochs", "the supernet shares weights between NASNet cells (space.type = "
                                   "nasnet, not " + config.space_type + ")");
    if (sched.kind != SchedulerKind::none)
      throw bad("scheduler.kind", "a supernet campaign scores candidates with the supernet and "
                                  "retrains its best itself (supernet.retrain); set "
                                  "scheduler.kind = none or supernet.epochs = 0");
  }
  if (sched.kind != SchedulerKind::none) {
    if (config.space_type != "nasnet")
      throw bad("scheduler.kind", "successive halving trains candidates itself; space.type = " +
                                      config.space_type + " is looked up in a table");
    if (sched.min_epochs >= config.proxy.train.epochs)
      throw bad("scheduler.min_epochs",
                std::to_string(sched.min_epochs) + " must be below proxy.epochs (" +
                    std::to_string(config.proxy.train.epochs) + "), the top rung");
  }
}

// objective.mode and objective.pareto: the Pareto costs, for the objective and for evolution.
void apply_objective_mode(CampaignConfig& config,
                          const std::function<std::string(const std::string&)>& where_of) {
  auto bad = [&](const std::string& key, const std::string& what) {
    return ConfigError(where_of(key) + ": " + key + ": " + what);
  };
  const bool pareto = config.values.at("objective.mode") == "pareto";
  const std::string& costs = config.values.at("objective.pareto");
  if (!pareto) {
    if (!costs.empty())
      throw bad("objective.pareto", "'" + costs + "' needs objective.mode = pareto");
    return;
  }
  if (costs.empty())
    throw bad("objective.pareto",
              "required with objective.mode = pareto: one or two of " + cost_choices());
  try {
    config.objective.pareto = parse_cost_list(costs);
  } catch (const std::invalid_argument& e) {
    throw bad("objective.pareto", e.what());
  }
  if (config.strategy != "evolution")
    throw bad("objective.mode",
              "pareto needs controller.strategy = evolution, not " + config.strategy);
  if (config.space_type != "nasnet")
    throw bad("objective.mode",
              "[objective] applies to nasnet campaigns (NAS-Bench-201 cells are looked up)");
  const ObjectiveOptions& o = config.objective;
  for (const auto& [key, target] :
       {std::pair{"objective.soft_target_params", static_cast<double>(o.soft_target_params)},
        std::pair{"objective.soft_target_macs", static_cast<double>(o.soft_target_macs)},
        std::pair{"objective.soft_target_latency_ms", o.soft_target_latency_ms}})
    if (target > 0)
      throw bad(key,
                "the soft reward folds size into one number; with objective.mode = pareto the "
                "costs are objectives of their own (use objective.pareto, or objective.max_* "
                "for hard caps)");
  config.controller.evolution.pareto_costs = static_cast<int>(config.objective.pareto.size());
}

std::string section_ini(const std::vector<std::pair<std::string, std::string>>& ordered) {
  std::string out, section;
  for (const auto& [key, value] : ordered) {
    const std::string s = key.substr(0, key.find('.'));
    if (s != section) {
      out += (out.empty() ? "" : "\n") + std::string("[") + s + "]\n";
      section = s;
    }
    out += key.substr(key.find('.') + 1) + " = " + ini_value(value) + "\n";
  }
  return out;
}

}  // namespace

CampaignConfig load_config(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides, ConfigFile kind) {
  std::map<std::string, int> line_of;
  CampaignConfig config;
  config.values = read_ini(file, campaign_keys(), overrides, line_of);
  for (const auto& entry : line_of) config.keys_in_file.insert(entry.first);
  auto& v = config.values;
  if (kind == ConfigFile::frozen_run) {
    // A run frozen before a key existed keeps doing what it did then.
    for (const KeyDef& k : campaign_keys()) {
      const bool overridden = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) {
        return trim(o.substr(0, o.find('='))) == k.key;
      });
      if (k.before_key && !line_of.count(k.key) && !overridden)
        v[k.key] = check_value(k, *k.before_key, file.string());
    }
  }
  if (v["campaign.name"].empty()) v["campaign.name"] = file.stem().string();
  if (v["campaign.dir"].empty()) v["campaign.dir"] = "runs/" + v["campaign.name"];
  // Proxy settings that campaigns do not expose keep their proxy values; exposed ones are set
  // from the checked values below.
  for (const SettingDef& s : kSettings)
    if (!s.proxy_key) s.apply(config.proxy, s.proxy_default);
  apply_all(campaign_keys(), v, &config, &config.proxy);
  const std::string fname = file.string();
  auto where_of = [&](const std::string& key) {
    for (const auto& o : overrides)
      if (o.rfind(key + "=", 0) == 0) return "--set " + o;
    return fname + (line_of.count(key) ? ":" + std::to_string(line_of[key]) : "");
  };
  for (auto [key, spec] : {std::pair{"controller.warmup", &config.warmup},
                           std::pair{"controller.proposal", &config.proposal}}) {
    try {
      *spec = parse_guide_spec(v.at(key));
    } catch (const std::invalid_argument& e) {
      throw ConfigError(where_of(key) + ": " + key + ": " + e.what());
    }
  }
  if (const std::string& text = v.at("controller.rl_failure_reward"); !text.empty()) {
    double reward = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), reward);
    if (ec != std::errc() || end != text.data() + text.size() || !(reward >= -1 && reward <= 1))
      throw ConfigError(where_of("controller.rl_failure_reward") +
                        ": controller.rl_failure_reward: '" + text +
                        "' is not empty or a number in [-1, 1]");
    config.controller.rl.failure_reward = reward;
  }
  config.controller.guide.warmup = config.warmup.count;
  config.controller.guide.proposal = config.proposal.count;
  apply_objective_mode(config, where_of);
  config.scheduler.max_epochs = config.proxy.train.epochs;
  check_campaign(config, where_of);
  return config;
}

std::string CampaignConfig::to_ini() const {
  std::vector<std::pair<std::string, std::string>> ordered;
  for (const auto& k : campaign_keys()) ordered.emplace_back(k.key, values.at(k.key));
  return section_ini(ordered);
}

namespace {
// Keys that may change when a run is resumed.
bool resumable_key(const std::string& key) {
  return key.rfind("budget.", 0) == 0 || key == "campaign.dir";
}
}  // namespace

std::string CampaignConfig::identity_hash() const {
  return identity_hash_of([](const std::string&) { return true; });
}

std::string CampaignConfig::identity_hash_of(
    const std::function<bool(const std::string& key)>& include) const {
  std::string text;
  for (const auto& k : campaign_keys())
    if (!resumable_key(k.key) && values.at(k.key) != neutral_value(k) && include(k.key))
      text += k.key + "=" + values.at(k.key) + "\n";
  return std::string(kIdentityV2) + hash_hex(text);
}

bool CampaignConfig::matches_identity(const std::string& stored) const {
  if (stored.rfind(kIdentityV2, 0) == 0) return stored == identity_hash();
  // Before v2: a hash of every key of the frozen file (which held every key of its version).
  std::string text;
  for (const auto& entry : values) {
    const std::string& key = entry.first;  // (not a structured binding: clang 14 cannot capture it)
    const std::string& value = entry.second;
    if (resumable_key(key)) continue;
    if (keys_in_file.count(key)) {
      text += key + "=" + value + "\n";
      continue;
    }
    const auto& keys = campaign_keys();
    const auto def =
        std::find_if(keys.begin(), keys.end(), [&](const KeyDef& k) { return k.key == key; });
    if (value != check_value(*def, neutral_value(*def), "default")) return false;
  }
  return stored == hash_hex(text);
}

std::map<std::string, std::string> CampaignConfig::proxy_settings() const {
  std::map<std::string, std::string> out;
  for (const SettingDef& s : kSettings)
    out[s.train_key] = s.proxy_key ? values.at(s.proxy_key) : s.proxy_default;
  return out;
}

std::string config_reference_markdown() {
  return reference_markdown(campaign_keys());
}
std::string train_config_reference_markdown() {
  return reference_markdown(train_keys());
}

std::string ini_text(const std::map<std::string, std::string>& values) {
  return section_ini({values.begin(), values.end()});
}

TrainConfig load_train_config(const std::filesystem::path& file,
                              const std::vector<std::string>& overrides) {
  std::map<std::string, int> line_of;
  TrainConfig c;
  c.values = read_ini(file, train_keys(), overrides, line_of);
  apply_all(train_keys(), c.values, nullptr, &c);
  return c;
}

TrainConfig train_config_from_settings(const std::vector<Setting>& settings) {
  TrainConfig c;
  for (const auto& k : train_keys()) c.values[k.key] = check_value(k, k.default_value, "default");
  for (const auto& setting : settings) {
    const auto& keys = train_keys();
    const auto def = std::find_if(keys.begin(), keys.end(),
                                  [&](const KeyDef& k) { return k.key == setting.key; });
    if (def == keys.end()) throw ConfigError(setting.where + ": " + setting.key + ": unknown key");
    try {
      c.values[setting.key] = check_value(*def, setting.value, setting.where);
    } catch (const ConfigError& e) {
      // "--weight-decay: train.weight_decay: -5 is out of range [0, 1]" -> without the key.
      std::string what = e.what();
      const std::string key_part = setting.where + ": " + setting.key + ": ";
      if (what.rfind(key_part, 0) == 0) what = setting.where + ": " + what.substr(key_part.size());
      throw ConfigError(what);
    }
  }
  apply_all(train_keys(), c.values, nullptr, &c);
  return c;
}

GuideSpec parse_guide_spec(const std::string& text) {
  GuideSpec spec;
  if (text.empty()) return spec;
  const size_t colon = text.rfind(':');
  const std::string count = colon == std::string::npos ? "" : text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), spec.count);
  if (colon == std::string::npos || ec != std::errc() || end != count.data() + count.size() ||
      spec.count < 1 || spec.count > 10'000'000)
    throw std::invalid_argument("'" + text +
                                "' is not PROXY:N with N in [1, 10000000] (e.g. synflow:1000)");
  std::stringstream names(text.substr(0, colon));
  for (std::string name; std::getline(names, name, '+');) {
    const auto p = zero_cost_proxy_from_name(name);
    if (!p)
      throw std::invalid_argument("'" + name +
                                  "' is not a zero-cost proxy (synflow, naswot, "
                                  "grad_norm, snip, jacob_cov, params, macs)");
    spec.proxies.push_back(*p);
  }
  return spec;
}

}  // namespace cf

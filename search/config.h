#pragma once
// Campaign config files: INI sections [campaign] [space] [controller] [proxy] [budget], read with
// Boost.Program_options. Every key is declared once in a schema table (type, default, range,
// documentation); unknown keys, malformed values and out-of-range numbers are errors naming the
// file, line and key. Any key can be overridden with "section.key=value" (--set).
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "space/network.h"
#include "trainer/data.h"
#include "trainer/train.h"

namespace cf {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The resolved campaign configuration: every key of the schema with its value.
struct CampaignConfig {
  // [campaign]
  std::string name;
  std::string dir;
  uint64_t seed = 0;
  // [space]
  std::string space_type;               // nasnet | nb201
  std::vector<std::string> ops;         // nasnet op subset
  int blocks = 5;
  std::vector<std::string> combines;    // add, concat
  // [controller]
  std::string strategy;                 // random | evolution | rl
  int population = 0, sample_size = 0;
  double identity_prob = 0;
  std::string rl_algorithm;
  int rl_hidden = 0, rl_batch = 0;
  double rl_lr = 0, rl_entropy = 0, rl_baseline_decay = 0;
  // [proxy]
  std::string data_dir, data_format;
  int train_images = 0, valid_images = 0, epochs = 0, batch = 0;
  double lr = 0, weight_decay = 0, drop_path = 0;
  bool augment = true;
  int cells_per_stack = 0, filters = 0;
  std::string stem;
  double stem_multiplier = 0;
  int threads = 0;
  double memory_limit_gb = 0;
  std::string table, dataset;  // nb201 tabular evaluation
  // [budget]
  int candidates = 0;
  double hours = 0;
  int workers = 1;

  // Every key in schema order with its value as text ("section.key" -> value).
  std::map<std::string, std::string> values;
  // The resolved config as INI text (what is frozen into a run directory).
  std::string to_ini() const;
  // Hash of every key except [budget] and campaign.dir (which may change on resume).
  std::string identity_hash() const;
};

// Reads and validates a config file, then applies overrides ("section.key=value").
CampaignConfig load_config(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides = {});

// Documentation of every key (for --help-config and docs/config.md), as Markdown.
std::string config_reference_markdown();

// Training configs (transfer training, proxy fidelity): sections [network] [data] [train].
struct TrainConfig {
  NetworkSpec network;  // input and classes come from the dataset
  DataOptions data;
  TrainOptions train;
  std::map<std::string, std::string> values;  // every key with its value
};
TrainConfig load_train_config(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});
std::string train_config_reference_markdown();
// A setting given outside a config file: a training-config key, its value as text, and how the
// user gave it (e.g. "--weight-decay"), which errors name instead of a file line.
struct Setting {
  std::string key, value, where;
};
// The training config of the schema's defaults with `settings` applied, each checked against the
// schema's type and range (what `train` does with its flags, so flags and files share one schema).
TrainConfig train_config_from_settings(const std::vector<Setting>& settings);
// INI text of "section.key" -> value pairs (sections in key order).
std::string ini_text(const std::map<std::string, std::string>& values);

}  // namespace cf

#pragma once
// Config files and settings. One schema per file kind, each row a key with its type, default,
// range, documentation and the conversion into the typed struct, so a new key is one row (plus
// its field). The network/data/training settings are one shared list used three ways: the
// campaign's [proxy] section, training configs ([network] [data] [train]) and train's flags;
// their ranges are stated once. Unknown keys, malformed values and out-of-range numbers are
// errors naming the file, line and key (or the --set / flag). Any key can be overridden with
// "section.key=value" (--set).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/scheduler.h"
#include "search/objective.h"
#include "space/network.h"
#include "trainer/data.h"
#include "trainer/train.h"
#include "trainer/zero_cost.h"

namespace cf {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "PROXY[+PROXY...]:N": zero-cost guidance (controller.warmup / controller.proposal, and the
// benchmark's --warmup / --proposal). Several proxies are combined by their average rank.
struct GuideSpec {
  std::vector<ZeroCostProxy> proxies;
  int count = 0;  // 0: off
};
// An empty text is off; anything malformed throws std::invalid_argument saying what is wrong.
GuideSpec parse_guide_spec(const std::string& text);

// Network, data and training settings (input shape and classes come from the dataset).
struct TrainSettings {
  NetworkSpec network;
  DataOptions data;
  TrainOptions train;
};

// [supernet]: weight sharing over the campaign's space. With epochs > 0 a campaign trains the
// supernet first, scores its candidates with inherited weights, then trains the best `retrain`
// stand-alone (search/campaign_supernet.h); `cellforge supernet` trains and scores outside one.
struct SupernetSettings {
  int epochs = 0;  // 0: off
  int checkpoint_steps = 200;
  int calibration_batches = 4;
  int score_images = 256;
  int retrain = 5;
};

// The resolved campaign configuration.
struct CampaignConfig {
  // [campaign]
  std::string name;
  std::string dir;
  uint64_t seed = 0;
  // [space]
  std::string space_type;        // nasnet | nb201
  std::vector<std::string> ops;  // nasnet op subset
  int blocks = 5;
  std::vector<std::string> combines;  // add, concat
  // [controller]
  std::string strategy;          // random | evolution | rl
  ControllerOptions controller;  // controller.guide counts from warmup / proposal
  GuideSpec warmup, proposal;    // zero-cost guidance
  std::string scores;            // nb201: the zero-cost scores file (cellforge zero-cost --all)
  // [proxy]: how each candidate is trained (the shared settings), and the NAS-Bench-201 table
  TrainSettings proxy;
  std::string table, dataset;
  // [objective]: size caps and the soft reward (search/objective.h)
  ObjectiveOptions objective;
  // [scheduler]: successive halving (max_epochs is proxy.train.epochs)
  SchedulerOptions scheduler;
  // [supernet]
  SupernetSettings supernet;
  // [budget]
  int candidates = 0;  // evaluated candidates; those rejected by [objective] caps do not count
  int max_rejected = 100000;  // ... but a campaign stops after this many rejections
  double hours = 0;
  int workers = 1;

  // Every key in schema order with its value as text ("section.key" -> value).
  std::map<std::string, std::string> values;
  // The resolved config as INI text (what is frozen into a run directory).
  std::string to_ini() const;
  // The keys the config file set (not filled in with defaults); overrides are not counted.
  std::set<std::string> keys_in_file;
  // What a resumed run must match: "v2:" + a hash of every key except [budget] and campaign.dir
  // whose value differs from the key's default. Keys that a newer cellforge adds with a default
  // that keeps the old behaviour therefore leave the identity of existing runs unchanged.
  std::string identity_hash() const;
  // The same hash over only the keys `include` accepts (e.g. what a supernet's weights depend on).
  std::string identity_hash_of(const std::function<bool(const std::string& key)>& include) const;
  // Whether this config has the identity stored with a run: a "v2:" hash, or a hash written by
  // cellforge before v2 (of every key of the frozen file, defaults included), which matches when
  // the keys in this file hash to it and every key the file lacks holds its default.
  bool matches_identity(const std::string& stored) const;
  // The proxy settings as training-config values ("train.epochs" -> "1", ...): what a worker
  // process receives and turns back into TrainSettings with the same schema.
  std::map<std::string, std::string> proxy_settings() const;
};

// A user's config, or the config.ini frozen into a run directory: there, a key the file lacks
// (added by a later cellforge) means what runs did before the key existed, which for a few keys
// is not today's default (e.g. proxy.init: he_normal).
enum class ConfigFile { user, frozen_run };

// Reads and validates a config file, then applies overrides ("section.key=value").
CampaignConfig load_config(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides = {},
                           ConfigFile kind = ConfigFile::user);

// Documentation of every key (for --help-config and docs/config.md), as Markdown.
std::string config_reference_markdown();

// Training configs (transfer training, proxy fidelity): sections [network] [data] [train].
struct TrainConfig : TrainSettings {
  std::map<std::string, std::string> values;  // every key with its value
};
TrainConfig load_train_config(const std::filesystem::path& file,
                              const std::vector<std::string>& overrides = {});
std::string train_config_reference_markdown();
// INI text of "section.key" -> value pairs (sections in key order); values that need it quoted.
std::string ini_text(const std::map<std::string, std::string>& values);

// A setting given outside a config file: a training-config key, its value as text, and how the
// user gave it (e.g. "--weight-decay"), which errors name instead of a file line.
struct Setting {
  std::string key, value, where;
};
// The training config of the schema's defaults with `settings` applied, each checked against the
// schema's type and range (train's flags and worker jobs go through this).
TrainConfig train_config_from_settings(const std::vector<Setting>& settings);

}  // namespace cf

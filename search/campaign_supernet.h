#pragma once
// A campaign's one-shot supernet (trainer/supernet.h): where it lives (campaign.dir/supernet/),
// the training settings it takes from [proxy] and [supernet], the identity a saved state must
// match, training it with exact resume, and the evaluator that scores candidates in process with
// its inherited weights. Shared by supernet campaigns (search/campaign.cpp) and `cellforge
// supernet` (search/cli/supernet.cpp).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "search/config.h"
#include "search/evaluator.h"
#include "space/search_space.h"
#include "trainer/supernet.h"

namespace cf {

struct CampaignSupernet {
  std::filesystem::path dir;         // <campaign.dir>/supernet
  std::filesystem::path state_file;  // dir/state.bin
  std::filesystem::path summary_file;
  SupernetTrainOptions train;
  PathScoreOptions score;
  // What a saved state must match: a hash of the keys that change the trained weights ([space],
  // [proxy], supernet.epochs, campaign.seed); not the strategy, budget or scoring keys.
  std::string identity;
};

// The supernet of a config. Throws ConfigError (naming `where` and the key) when the config has
// none: a space other than nasnet, or supernet.epochs = 0.
CampaignSupernet campaign_supernet(const CampaignConfig& config, const std::string& where);

// The saved state, if there is one; throws when it was trained under another identity or is
// damaged (the message names the file).
std::optional<SupernetState> load_campaign_supernet(const CampaignSupernet& supernet);

struct SupernetTraining {
  SupernetState state;
  SupernetResult result;          // of this call (0 steps when the saved state was finished)
  std::optional<int64_t> resumed;  // the step a saved state was resumed at
  double seconds_total = 0;       // wall seconds of every call so far (summary.json)
};

// Trains the supernet of `space` to its end, continuing a saved state; saves the state every
// train.checkpoint_steps, at the end and when callbacks.should_stop ends it early, and writes
// summary.json. callbacks.on_checkpoint is called after each save.
SupernetTraining train_campaign_supernet(const CampaignSupernet& supernet, const NasnetSpace& space,
                                         const DataSplits& data,
                                         const SupernetCallbacks& callbacks = {});

// Scores candidates in this process, one at a time, with the bank's inherited weights
// (score_path): accuracy = the supernet score, metrics.supernet = {accuracy, images,
// untrained_values}, plus metrics.latency when the [objective] needs it (a candidate over
// objective.max_latency_ms is answered "rejected", unscored). Uses config.proxy's threads.
std::unique_ptr<Evaluator> make_supernet_evaluator(const CampaignConfig& config,
                                                   const CampaignSupernet& supernet,
                                                   ParamBank bank,
                                                   std::shared_ptr<const DataSplits> data);

}  // namespace cf

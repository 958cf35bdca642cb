#pragma once
// The campaign runner: controller proposes, evaluator scores, the results store keeps everything,
// the controller observes in candidate order. Resumable after any interruption with identical
// results; one process per run directory (file lock).
#include <filesystem>
#include <string>
#include <vector>

#include "search/config.h"

namespace cf {

struct CampaignRunOptions {
  bool resume = false;  // continue an existing run directory
  bool force = false;   // resume even though the config changed
  bool tty = false;     // live progress line instead of log lines
};

// Runs (or resumes) a campaign. Returns the process exit code: 0 when the budget is spent,
// 130 after Ctrl-C / SIGTERM (state saved), 1 on errors (with a one-line message on stderr).
int run_campaign(const CampaignConfig& config, const CampaignRunOptions& options);

// Loads the frozen config of a run directory with optional overrides (budget extensions).
CampaignConfig load_run_config(const std::filesystem::path& run_dir,
                               const std::vector<std::string>& overrides);

// Human summary of a run directory (running or not).
std::string campaign_status_text(const std::filesystem::path& run_dir);

}  // namespace cf

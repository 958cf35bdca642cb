#pragma once
// The command-line side of running a campaign (search, resume): MPI worker ranks, Ctrl-C and
// SIGTERM, the live progress line or plain log lines, and the exit code of the outcome.
#include "search/campaign.h"

namespace cf::cli {

// Runs the campaign and returns the process exit code: 0 when a budget is spent, 130 after
// Ctrl-C / SIGTERM (state saved), 1 when every finished candidate failed.
int run_campaign_command(CampaignConfig config, const CampaignRunOptions& options, const char* command);

}  // namespace cf::cli

#pragma once
// The campaign engine: the controller proposes, an evaluator scores, the results store keeps
// everything, the controller observes in candidate order. Resumable after any interruption with
// identical results; one process per run directory. A library API: it reports through callbacks
// and returns an outcome; printing, signal handling and exit codes belong to the command line.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "results/store.h"
#include "search/config.h"
#include "search/evaluator.h"

namespace cf {

struct CampaignRunOptions {
  bool resume = false;  // continue an existing run directory
  bool force = false;   // resume even though the config changed
};

// What the engine tells its caller while it runs. Every callback may be empty.
struct CampaignCallbacks {
  // A line the engine also writes to campaign.log (level: "info", "warning" or "error").
  std::function<void(const std::string& level, const std::string& message)> on_message;
  // A candidate's result was stored (trained, failed, or reused from a duplicate).
  std::function<void(const CandidateRecord& candidate)> on_candidate;
  // Polled between steps (about 5 times a second) with where the campaign stands.
  struct Progress {
    int64_t observed = 0, budget = 0;
    std::optional<double> best_accuracy;
    std::optional<double> eta_seconds;   // once a candidate has been trained
    std::optional<JobProgress> running;  // the running candidate with the lowest id
    std::string activity;                // work besides candidates (supernet training), or empty
  };
  std::function<void(const Progress& progress)> on_progress;
  // Polled between steps: a reason (e.g. "Interrupt") stops the campaign: in-flight work is
  // cancelled (redone on resume), everything finished is already stored.
  std::function<std::optional<std::string>()> stop_requested;
};

enum class CampaignOutcome {
  finished,     // the candidate budget is spent
  time_budget,  // budget.hours reached
  stopped,      // stop_requested said so
  all_failed,   // finished, but every finished candidate failed
};

struct CampaignResult {
  CampaignOutcome outcome = CampaignOutcome::finished;
  int64_t observed = 0;
  std::optional<CandidateRecord> best;           // highest proxy accuracy
  std::optional<CandidateRecord> first_failure;  // for all_failed
};

// Runs (or resumes) a campaign. Errors that stop it before or while it runs (a locked or damaged
// run directory, a changed config without force, an unreadable table) throw std::runtime_error
// with a one-line message; nothing stored is lost either way.
CampaignResult run_campaign(const CampaignConfig& config, const CampaignRunOptions& options,
                            const CampaignCallbacks& callbacks = {});

// Loads the frozen config of a run directory with optional overrides (budget extensions).
CampaignConfig load_run_config(const std::filesystem::path& run_dir,
                               const std::vector<std::string>& overrides);

// "H:MM:SS" of a duration (status, ETA).
std::string format_duration(double seconds);

// The campaign's search space ([space]).
std::unique_ptr<SearchSpace> make_space(const CampaignConfig& config);

// Human summary of a run directory (running or not).
std::string campaign_status_text(const std::filesystem::path& run_dir);

}  // namespace cf

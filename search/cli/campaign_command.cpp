// The command-line side of running a campaign: signals, progress display, exit codes.
#include "search/cli/campaign_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "search/cli/stop_signals.h"
#include "search/mpi_session.h"

namespace cf::cli {

namespace {

// Under `mpirun -np K` the K-1 worker ranks are the workers: the campaign keeps K-1 candidates in
// flight and splits proxy.threads K-1 ways, exactly as K-1 local workers would, so it produces the
// same results, and the frozen config says so (a later resume without MPI continues alike).
// [budget] keys are not part of the config identity, so this never blocks a resume.
void use_mpi_worker_ranks(CampaignConfig& config, const char* command) {
  const int ranks = mpi_worker_ranks();
  if (ranks == 0 || config.space_type == "nb201" || config.workers == ranks) return;
  std::fprintf(stderr,
               "cellforge %s: budget.workers = %d replaced by %d, the number of MPI worker ranks\n",
               command, config.workers, ranks);
  config.workers = ranks;
  config.values["budget.workers"] = std::to_string(ranks);
}

// A live progress line on a terminal. Not under MPI: mpirun gives rank 0 a pseudo-terminal even
// when its own output goes to a file (a batch job's log), which would fill with escape codes.
bool shows_live_progress() {
  return isatty(fileno(stdout)) && mpi_worker_ranks() == 0;
}

std::string progress_line(const CampaignCallbacks::Progress& p) {
  std::string line = "candidates " + std::to_string(p.observed) + "/" + std::to_string(p.budget);
  char buf[128];
  if (p.best_accuracy) {
    std::snprintf(buf, sizeof buf, "  best %.2f%%", 100 * *p.best_accuracy);
    line += buf;
  }
  if (p.eta_seconds) line += "  ETA " + format_duration(*p.eta_seconds);
  if (!p.activity.empty()) line += "  | " + p.activity;
  if (p.running) {
    const JobProgress& r = *p.running;
    std::snprintf(buf, sizeof buf, "  | #%lld epoch %d/%d %d%% loss %.3f",
                  static_cast<long long>(r.id), r.epoch, r.epochs,
                  r.steps ? 100 * r.step / r.steps : 0, r.loss);
    line += buf;
  }
  return line;
}

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

int run_campaign_command(CampaignConfig config, const CampaignRunOptions& options,
                         const char* command) {
  use_mpi_worker_ranks(config, command);
  const bool tty = shows_live_progress();
  StopSignals signals;
  CampaignCallbacks callbacks;
  // A terminal gets finished candidates above a live line; otherwise every message as a log line.
  callbacks.on_message = [tty](const std::string& level, const std::string& text) {
    if (!tty) {
      std::fprintf(stderr, "%s %s %s\n", timestamp().c_str(),
                   level == "warning" ? "warn" : level.c_str(), text.c_str());
    } else if (level != "info") {
      std::fprintf(stderr, "\r\033[K%s: %s\n", level.c_str(), text.c_str());
    } else if (text.rfind("candidate ", 0) == 0) {
      std::fprintf(stdout, "\r\033[K%s\n", text.c_str());
      std::fflush(stdout);
    }
  };
  if (tty)
    callbacks.on_progress = [](const CampaignCallbacks::Progress& p) {
      std::fprintf(stdout, "\r\033[K%s", progress_line(p).c_str());
      std::fflush(stdout);
    };
  callbacks.stop_requested = []() -> std::optional<std::string> {
    if (const int sig = g_stop_signal) return std::string(strsignal(sig));
    return std::nullopt;
  };
  const CampaignResult result = run_campaign(config, options, callbacks);
  if (tty) std::fprintf(stdout, "\r\033[K");
  switch (result.outcome) {
    case CampaignOutcome::stopped:
      return 130;
    case CampaignOutcome::all_failed:
      return 1;
    case CampaignOutcome::finished:
    case CampaignOutcome::time_budget:
      return 0;
  }
  return 0;
}

}  // namespace cf::cli

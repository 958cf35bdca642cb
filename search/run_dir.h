#pragma once
// A campaign's run directory on disk: the lock that keeps one process per run, the all-or-nothing
// creation of a new campaign's files, and the checks made before resuming.
#include <filesystem>
#include <map>

#include "controller/controller.h"
#include "results/store.h"
#include "search/config.h"

namespace cf {

// Exclusive lock on RUN_DIR/lock (an open-file-description lock, released by the kernel when the
// process ends in any way). Readers test it with run_lock_held() without taking it, so `status`
// never makes a concurrent `resume` fail.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};
bool run_lock_held(const std::filesystem::path& dir);

// A new campaign's database is built under a hidden name and renamed into place once complete
// (with config.ini written before), so RUN_DIR/results.sqlite exists only for a campaign whose
// creation finished: a failed or killed creation leaves nothing that `search` would refuse or
// `resume` could not open.
void create_campaign_files(const CampaignConfig& config, const std::filesystem::path& dir);

// Refuses (std::runtime_error, one line) a database that ResultsStore::check() finds inconsistent.
void require_consistent(const ResultsStore& store, const std::filesystem::path& dir);

// After restoring the controller: it must have proposed exactly the stored candidates and still
// wait for exactly the unobserved ones, or observing on would overwrite stored rows.
void require_controller_matches(const Controller& controller,
                                const std::map<int64_t, CandidateRecord>& records,
                                const std::filesystem::path& file);

}  // namespace cf

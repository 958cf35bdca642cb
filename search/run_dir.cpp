#include "search/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <stdexcept>

#include "space/file_io.h"

namespace cf {

namespace {
constexpr const char* kCreatingPrefix = ".results.sqlite.creating";

}  // namespace

RunLock::RunLock(const std::filesystem::path& dir) {
  const auto file = dir / "lock";
  fd_ = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(file.string() + ": cannot create the lock file");
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd_, F_OFD_SETLK, &lock) != 0) {
    char buf[32] = {0};
    const ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
    close(fd_);
    throw std::runtime_error(dir.string() + ": another cellforge process (pid " +
                             (n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?")) +
                             ") is running this campaign");
  }
  const std::string pid = std::to_string(getpid());
  if (ftruncate(fd_, 0) == 0 && pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is only informational.
  }
}

RunLock::~RunLock() {
  close(fd_);
}

bool run_lock_held(const std::filesystem::path& dir) {
  const int fd = open((dir / "lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool held = fcntl(fd, F_OFD_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  close(fd);
  return held;
}

void create_campaign_files(const CampaignConfig& config, const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().rfind(kCreatingPrefix, 0) == 0)
      std::filesystem::remove(entry.path());
  const auto tmp = dir / (std::string(kCreatingPrefix) + "-" + std::to_string(getpid()));
  try {
    {
      ResultsStore store(tmp, StoreAccess::create);
      store.set_meta("config_identity", config.identity_hash());
      store.set_meta("name", config.name);
      store.set_meta("created_at", utc_now());
      store.add_event("start", "campaign '" + config.name + "' started");
    }  // closed: the WAL is folded into the file and removed
    write_file_atomic(dir / "config.ini", config.to_ini());
    std::filesystem::rename(tmp, dir / "results.sqlite");
  } catch (...) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::filesystem::remove(tmp.string() + suffix, ec);
    throw;
  }
}

// Refuses to resume a database that check() finds inconsistent: resuming would overwrite rows.
void require_consistent(const ResultsStore& store, const std::filesystem::path& dir) {
  const StoreProblems found = store.check();
  if (found.ok()) return;
  throw std::runtime_error(store.file().string() + ": " + found.problems.front() +
                           "; nothing was changed (details: `cellforge check " + dir.string() +
                           "`)");
}

void require_controller_matches(const Controller& controller,
                                const std::map<int64_t, CandidateRecord>& records,
                                const std::filesystem::path& file) {
  std::set<int64_t> unobserved, pending;
  for (const auto& [id, r] : records)
    if (!r.observed) unobserved.insert(id);
  for (const Candidate& c : controller.pending()) pending.insert(static_cast<int64_t>(c.id));
  const auto proposed = static_cast<int64_t>(controller.proposed_count());
  if (proposed != static_cast<int64_t>(records.size()) || pending != unobserved)
    throw std::runtime_error(
        file.string() + ": the controller checkpoint has proposed " + std::to_string(proposed) +
        " candidates with " + std::to_string(pending.size()) + " unobserved, the database holds " +
        std::to_string(records.size()) + " with " + std::to_string(unobserved.size()) +
        " unobserved; nothing was changed (details: `cellforge check " +
        file.parent_path().string() + "`)");
}

}  // namespace cf

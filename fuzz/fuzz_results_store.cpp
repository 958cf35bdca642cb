// libFuzzer target: cf::ResultsStore (results/store.h) opened on a results.sqlite made of fuzz
// bytes, then every read query (meta, candidates, candidate, ranked_candidates, find_by_hash,
// latest_checkpoint, events) and one commit, as `status`, `top`, `resume` and `report` would.
// A hostile or corrupt database must end in a std::exception (StoreError), never in a crash,
// sanitizer report, leak or timeout.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>

#include "fuzz/fuzz_util.h"
#include "results/store.h"

namespace {
// A campaign's database is megabytes, but every page shape a fuzzer can reach fits in far less;
// inputs over 1 MB are skipped (CF_FUZZ_NO_LIMITS=1 lifts this).
constexpr size_t kMaxInput = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput && cf_fuzz::limits_on()) return -1;
  const auto dir = cf_fuzz::scratch_dir();
  std::error_code ec;
  // A stale -wal / -shm from the previous input would be replayed into this one.
  std::filesystem::remove(dir / "results.sqlite-wal", ec);
  std::filesystem::remove(dir / "results.sqlite-shm", ec);
  std::filesystem::remove(dir / "results.sqlite-journal", ec);
  std::filesystem::remove(dir / "results.sqlite", ec);  // a fresh file (and inode) every run
  const auto file = cf_fuzz::write_file("results.sqlite", data, size);
  std::optional<cf::ResultsStore> opened;
  try {
    opened.emplace(file);
  } catch (const std::exception&) {
    return 0;  // refused with a message; the constructor closes what it opened
  }
  try {
    cf::ResultsStore& store = *opened;
    (void)store.meta("schema_version");
    (void)store.meta("config");
    const auto all = store.candidates();
    (void)store.ranked_candidates();
    (void)store.candidate(1);
    if (!all.empty()) {
      (void)store.candidate(all.back().id);
      (void)store.find_by_hash(all.front().hash);
    }
    (void)store.find_by_hash("0123456789abcdef");
    (void)store.latest_checkpoint();
    (void)store.events();
    cf::CandidateRecord r;
    r.id = 1;  // fixed: all.back().id + 1 could overflow on a hostile database
    r.hash = "0123456789abcdef";
    r.genotype = "{}";
    r.status = cf::CandidateStatus::done;
    r.accuracy = 0.5;
    store.commit({r}, std::vector<uint8_t>{1, 2, 3}, "fuzz", "one commit");
    (void)store.ranked_candidates();
  } catch (const std::exception&) {
  }
  return 0;
}

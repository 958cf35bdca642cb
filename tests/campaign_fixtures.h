#pragma once
// Small campaigns for tests: a learnable IDX dataset, a matching config, and the candidate rows
// of a results database in a comparable text form.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli_helpers.h"
#include "space/rng.h"

namespace cf::test {

inline void put_be32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

// A tiny learnable IDX dataset (8x8 images, label = brightest quadrant) in `dir`.
inline void write_tiny_idx(const std::filesystem::path& dir, int count) {
  std::filesystem::create_directories(dir);
  cf::Rng rng(42);
  for (const char* prefix : {"train", "t10k"}) {
    std::string images, labels;
    put_be32(images, 0x803);
    put_be32(images, count);
    put_be32(images, 8);
    put_be32(images, 8);
    put_be32(labels, 0x801);
    put_be32(labels, count);
    for (int n = 0; n < count; ++n) {
      const int label = rng.uniform_int(4);
      labels.push_back(static_cast<char>(label));
      for (int h = 0; h < 8; ++h)
        for (int w = 0; w < 8; ++w)
          images.push_back(static_cast<char>(((h / 4) * 2 + w / 4 == label ? 150 : 40) + rng.uniform_int(90)));
    }
    write_file(dir / (std::string(prefix) + "-images-idx3-ubyte"), images);
    write_file(dir / (std::string(prefix) + "-labels-idx1-ubyte"), labels);
  }
}

inline std::string tiny_config(const std::filesystem::path& data, const std::filesystem::path& run,
                        int candidates, int workers) {
  return "[campaign]\nname = tiny\ndir = " + run.string() + "\nseed = 3\n"
         "[space]\nblocks = 3\n"
         "[controller]\nstrategy = evolution\npopulation = 4\nsample_size = 2\n"
         "[proxy]\ndata_dir = " + data.string() + "\ntrain_images = 128\nvalid_images = 64\n"
         "epochs = 1\nbatch = 16\ncells_per_stack = 1\nfilters = 4\nstem_multiplier = 1\nthreads = 2\n"
         "[budget]\ncandidates = " + std::to_string(candidates) + "\nworkers = " + std::to_string(workers) + "\n";
}

// Rows of a query over results.sqlite, columns joined by '|'; none while the database is not there
// yet (it is polled while a campaign starts).
inline std::vector<std::string> query_rows(const std::filesystem::path& run, const char* sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((run / "results.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const auto* t = sqlite3_column_text(st, c);
      row += (c ? "|" : "") + std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

// id|hash|status|accuracy|params|reused_from|observed|failure_reason of every candidate.
inline std::vector<std::string> candidate_rows(const std::filesystem::path& run) {
  return query_rows(run,
                    "SELECT id, hash, status, printf('%.17g', accuracy), params, reused_from, observed, "
                    "failure_reason FROM candidates ORDER BY id");
}

#ifdef CF_BINARY
// SIGKILLs a campaign at points drawn from its stored progress, up to 4 times: started with
// `args` (a `search`), then `resume RUN`. Each attempt kills once `finished()` has grown by 1 or 2
// since the attempt began (never beyond total - 4, so the run cannot end before its kill), after
// a random extra delay of at most a fifth of one unit's time (unit_seconds), so the kills land at
// different moments (proposing, training, committing).
struct KillReport {
  int attempts = 0, kills = 0, reached = 0;
};
inline KillReport kill_at_stored_progress(std::vector<std::string> args,
                                          const std::filesystem::path& run,
                                          const std::function<int()>& finished, int total,
                                          double unit_seconds) {
  KillReport report;
  cf::Rng rng(std::random_device{}());
  const int max_delay_ms = std::max(1, static_cast<int>(200 * unit_seconds));
  for (int attempt = 0; attempt < 4; ++attempt) {
    const bool exists = std::filesystem::exists(run / "results.sqlite");
    const int before = exists ? finished() : 0;
    const int target = std::min(before + 1 + rng.uniform_int(2), total - 4);
    if (target <= before) break;
    ++report.attempts;
    const pid_t pid = spawn_cellforge(args);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    bool reached = false;
    while (!reached && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      reached = std::filesystem::exists(run / "results.sqlite") && finished() >= target;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform_int(max_delay_ms)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    report.reached += reached;
    if (WIFSIGNALED(status)) ++report.kills;
    args = {"resume", run.string()};
  }
  return report;
}
#endif

}  // namespace cf::test

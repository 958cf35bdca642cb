// MPI campaigns through mpirun on loopback: K ranks give exactly the results of K-1 local workers,
// and a killed rank loses no finished work once the campaign is resumed, with or without MPI.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "mpi_helpers.h"
#include "skip.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::read_file;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;
using cf::test::write_tiny_idx;
using cf::test::mpirun_args;
using cf::test::run;
using cf::test::spawn;
using cf::test::wait_exit;
using cf::test::with;

#ifndef CF_MPIEXEC

TEST_CASE("MPI campaigns (skipped: built without MPI)", "[campaign][mpi]") {
  cf::test::skip(
      "this cellforge was built without MPI; install libopenmpi-dev openmpi-bin and configure "
      "with -DCELLFORGE_MPI=ON to run the MPI campaign tests");
}

#else

namespace {

// id -> training time and finish time of every candidate trained so far: a candidate trained
// again would get a new training time.
std::map<std::string, std::string> trained_rows(const std::filesystem::path& run) {
  std::map<std::string, std::string> rows;
  for (const auto& row : query_rows(run,
                                    "SELECT id, printf('%.17g', train_seconds), finished_at FROM candidates "
                                    "WHERE status != 'pending' AND reused_from IS NULL ORDER BY id"))
    rows[row.substr(0, row.find('|'))] = row;
  return rows;
}

// The pid of the cellforge process that is MPI rank `rank` and has `marker` in its command line.
pid_t find_rank(int rank, const std::string& marker) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(CF_BINARY) == std::string::npos || cmdline.find(marker) == std::string::npos) continue;
    const std::string environ = read_file(entry.path() / "environ");
    if (environ.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos)
      return std::stoi(name);
  }
  return -1;
}

struct KillOutcome {
  bool killed = false;  // false: the run ended before the kill point (a valid outcome)
  int exit_code = 0;    // mpirun's
};

// Runs `args` until `finished` candidates are stored (the kill point is read from the database,
// never from a clock), then SIGKILLs MPI rank `rank`. A run that ends before reaching the kill
// point is reported as such, not as a failure.
KillOutcome kill_rank_after(const std::vector<std::string>& args, const std::filesystem::path& run_dir,
                            int finished, int rank, const std::string& marker,
                            const std::filesystem::path& log) {
  const pid_t mpirun = spawn(args, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int status = 0;
    if (waitpid(mpirun, &status, WNOHANG) == mpirun)
      return {false, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
    if (static_cast<int>(trained_rows(run_dir).size()) < finished) continue;
    const pid_t victim = find_rank(rank, marker);
    if (victim <= 0) {
      kill(mpirun, SIGKILL);
      waitpid(mpirun, nullptr, 0);
      FAIL("no process is MPI rank " << rank << " of `" << marker << "`");
    }
    kill(victim, SIGKILL);
    return {true, wait_exit(mpirun, 60)};
  }
  kill(mpirun, SIGKILL);
  waitpid(mpirun, nullptr, 0);
  FAIL("no kill point within 3 minutes: " << trained_rows(run_dir).size() << " of " << finished
                                          << " candidates trained\n" << read_file(log));
  return {};
}

}  // namespace

TEST_CASE("mpirun -np 3 gives the results of 2 local workers including a crash", "[campaign][mpi]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  const int candidates = 12;
  write_file(dir / "local.ini", tiny_config(dir / "data", dir / "run_local", candidates, 2));
  // The MPI config asks for 1 worker: under MPI the worker ranks decide.
  write_file(dir / "mpi.ini", tiny_config(dir / "data", dir / "run_mpi", candidates, 1));
  setenv("CELLFORGE_FAULT", "crash:3", 1);  // candidate 3's worker process aborts, locally and on a rank
  const auto t0 = std::chrono::steady_clock::now();
  const int local = run({CF_BINARY, "search", (dir / "local.ini").string()}, dir / "local.out");
  const auto t1 = std::chrono::steady_clock::now();
  const int mpi = run(with(mpirun_args(3), {"search", (dir / "mpi.ini").string()}), dir / "mpi.out");
  const auto t2 = std::chrono::steady_clock::now();
  unsetenv("CELLFORGE_FAULT");
  INFO("local: " << std::chrono::duration<double>(t1 - t0).count() << " s, mpirun: "
                 << std::chrono::duration<double>(t2 - t1).count() << " s\n"
                 << read_file(dir / "mpi.out"));
  REQUIRE(local == 0);
  REQUIRE(mpi == 0);
  const auto expected = candidate_rows(dir / "run_local");
  REQUIRE(static_cast<int>(expected.size()) == candidates);
  CHECK(candidate_rows(dir / "run_mpi") == expected);
  CHECK(expected[2].find("|failed|") != std::string::npos);
  CHECK(expected[2].find("worker killed by signal 6") != std::string::npos);

  const std::string output = read_file(dir / "mpi.out");
  CHECK(output.find("budget.workers = 1 replaced by 2, the number of MPI worker ranks") != std::string::npos);
  CHECK(read_file(dir / "run_mpi" / "campaign.log").find("MPI: 2 worker rank(s) train the candidates, 1 thread(s) each") !=
        std::string::npos);
  CHECK(read_file(dir / "run_mpi" / "config.ini").find("workers = 2\n") != std::string::npos);
}

TEST_CASE("a killed MPI rank loses no finished work when resumed with or without MPI", "[campaign][mpi][resume]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  // Kill points at 2 and at 2 more trained candidates of 16: the budget leaves room after both
  // (should a run still end first, that is checked as a run that was not interrupted).
  const int candidates = 16;
  write_file(dir / "local.ini", tiny_config(dir / "data", dir / "run_local", candidates, 2));
  write_file(dir / "mpi.ini", tiny_config(dir / "data", dir / "run_mpi", candidates, 2));
  REQUIRE(run({CF_BINARY, "search", (dir / "local.ini").string()}, dir / "local.out") == 0);
  const auto expected = candidate_rows(dir / "run_local");
  REQUIRE(static_cast<int>(expected.size()) == candidates);

  // A worker rank dies mid-campaign: mpirun ends the job; every stored result stays.
  const std::string config = (dir / "mpi.ini").string(), run_dir = (dir / "run_mpi").string();
  const KillOutcome first =
      kill_rank_after(with(mpirun_args(3), {"search", config}), run_dir, 2, 2, config, dir / "mpi.out");
  CHECK((first.killed ? first.exit_code != 0 : first.exit_code == 0));
  const auto trained_before = trained_rows(dir / "run_mpi");
  CHECK(trained_before.size() >= 2);
  if (first.killed) CHECK(trained_before.size() < static_cast<size_t>(candidates));

  // Resumed under MPI, rank 1 dies too; then the campaign ends without MPI.
  if (first.killed) {
    const KillOutcome second = kill_rank_after(with(mpirun_args(3), {"resume", run_dir}), run_dir,
                                               static_cast<int>(trained_before.size()) + 2, 1,
                                               "resume " + run_dir, dir / "mpi.out");
    CHECK((second.killed ? second.exit_code != 0 : second.exit_code == 0));
  }
  const auto trained_between = trained_rows(dir / "run_mpi");
  INFO(read_file(dir / "mpi.out"));
  REQUIRE(run({CF_BINARY, "resume", run_dir}, dir / "resume.out") == 0);

  CHECK(candidate_rows(dir / "run_mpi") == expected);
  const auto trained_after = trained_rows(dir / "run_mpi");
  for (const auto* before : {&trained_before, &trained_between})
    for (const auto& [id, row] : *before) {
      INFO("candidate " << id);
      CHECK(trained_after.at(id) == row);  // not trained again
    }
}

#endif

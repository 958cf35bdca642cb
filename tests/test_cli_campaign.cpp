// Campaigns end to end through the cellforge binary: config errors, kill-and-resume, the lock,
// worker-crash isolation and duplicate reuse.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "space/rng.h"

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::run_cellforge;
using cf::test::spawn_cellforge;
using cf::test::TempDir;
using cf::test::write_file;
using cf::test::candidate_rows;
using cf::test::tiny_config;
using cf::test::write_tiny_idx;

TEST_CASE("config errors name the file, line and key", "[campaign][config]") {
  TempDir dir;
  auto check = [&](const std::string& text, const std::string& expect, const std::string& extra = "") {
    write_file(dir / "c.ini", text);
    const auto r = run_cellforge("search " + (dir / "c.ini").string() + extra);
    INFO(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find(expect) != std::string::npos);
    CHECK(cf::test::count_lines(r.out) == 1);
  };
  const std::string file = (dir / "c.ini").string();
  check("[campaign]\nname = x\nbogus = 1\n", file + ":3: campaign.bogus: unknown key");
  check("[proxy]\nepochs = two\n", file + ":2: proxy.epochs: 'two' is not an integer");
  check("[proxy]\n\nepochs = 0\n", file + ":3: proxy.epochs: a campaign trains candidates for at least 1 epoch");
  check("[budget]\nworkers = 1\nworkers = 2\n", file + ":3: budget.workers: set twice (first on line 2)");
  check("[proxy]\naugment = maybe\n", file + ":2: proxy.augment: 'maybe' is not true or false");
  check("[controller]\nstrategy = bayes\n", file + ":2: controller.strategy: 'bayes' is not one of random,evolution,rl");
  check("[gpu]\ncount = 1\n", file + ":1: unknown section [gpu]");
  check("[proxy]\nepochs\n", file + ":2: expected 'key = value'");
  check("[space]\nops = sep_conv_3x3, sep_conv_9x9\n", file + ":2: space.ops: 'sep_conv_9x9' is not a known op");
  check("[space]\ntype = nb201\n", "proxy.table: required for space.type = nb201");
  check("[proxy]\nepochs = 1\n", "--set proxy.epochs=-1: proxy.epochs: -1 is out of range", " --set proxy.epochs=-1");
  check("[proxy]\nepochs = 1\n", "--set proxy.nope=1: proxy.nope: unknown key", " --set proxy.nope=1");
  const auto missing = run_cellforge("search " + (dir / "missing.ini").string());
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.find("cannot open config file") != std::string::npos);
  const auto help = run_cellforge("search --help-config");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("`budget.workers`") != std::string::npos);
}

TEST_CASE("a campaign killed at random moments and resumed ends identical to an uninterrupted one",
          "[campaign][resume]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  const int candidates = 20, workers = 2;
  write_file(dir / "a.ini", tiny_config(dir / "data", dir / "run_a", candidates, workers));
  write_file(dir / "b.ini", tiny_config(dir / "data", dir / "run_b", candidates, workers));
  const auto t0 = std::chrono::steady_clock::now();
  const auto a = run_cellforge("search " + (dir / "a.ini").string());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(a.exit_code == 0);
  const auto expected = candidate_rows(dir / "run_a");
  REQUIRE(static_cast<int>(expected.size()) == candidates);

  // Kill points from stored progress: finished candidates (cf::test::kill_at_stored_progress).
  auto finished = [&] {
    int n = 0;
    for (const auto& row : candidate_rows(dir / "run_b")) n += row.find("|pending|") == std::string::npos;
    return n;
  };
  const auto report =
      cf::test::kill_at_stored_progress({"search", (dir / "b.ini").string()}, dir / "run_b",
                                        finished, candidates, seconds / candidates);
  INFO("killed " << report.kills << " times; an uninterrupted run took " << seconds << " s");
  CHECK(report.attempts >= 3);
  CHECK(report.reached == report.attempts);
  CHECK(report.kills == report.attempts);
  const auto b = run_cellforge("resume " + (dir / "run_b").string());
  INFO(b.out);
  REQUIRE(b.exit_code == 0);
  CHECK(candidate_rows(dir / "run_b") == expected);

  // The budget can be extended on resume; other keys cannot change without --force.
  const auto more = run_cellforge("resume " + (dir / "run_a").string() + " --set budget.candidates=22");
  CHECK(more.exit_code == 0);
  const auto extended = candidate_rows(dir / "run_a");
  REQUIRE(extended.size() == 22);
  CHECK(std::vector<std::string>(extended.begin(), extended.begin() + candidates) == expected);
  const auto changed = run_cellforge("resume " + (dir / "run_a").string() + " --set proxy.lr=0.2");
  CHECK(changed.exit_code == 1);
  CHECK(changed.out.find("use --force") != std::string::npos);
  const auto again = run_cellforge("search " + (dir / "a.ini").string());
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("already holds a campaign") != std::string::npos);
}

TEST_CASE("a second process on the same run directory is refused", "[campaign][lock]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 2, 1));
  REQUIRE(run_cellforge("search " + (dir / "c.ini").string()).exit_code == 0);
  // Hold the lock as a running campaign would.
  const int fd = open((dir / "run" / "lock").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  REQUIRE(fcntl(fd, F_OFD_SETLK, &lock) == 0);
  const auto r = run_cellforge("resume " + (dir / "run").string() + " --set budget.candidates=3");
  close(fd);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("another cellforge process") != std::string::npos);
  CHECK(candidate_rows(dir / "run").size() == 2);  // nothing touched
  const auto status = run_cellforge("status " + (dir / "run").string());
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("2 finished of 2 budgeted") != std::string::npos);
}

TEST_CASE("a crashing worker fails only its candidate", "[campaign][workers]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  TempDir dir2;
  write_file(dir2 / "c.ini", tiny_config(dir / "data", dir2 / "run", 5, 2));
  setenv("CELLFORGE_FAULT", "crash:3", 1);
  const auto run = run_cellforge("search " + (dir2 / "c.ini").string());
  unsetenv("CELLFORGE_FAULT");
  INFO(run.out);
  REQUIRE(run.exit_code == 0);
  const auto rows = candidate_rows(dir2 / "run");
  REQUIRE(rows.size() == 5);
  int failed = 0;
  for (const auto& row : rows) {
    if (row.find("|failed|") == std::string::npos) continue;
    ++failed;
    CHECK(row.rfind("3|", 0) == 0);
    CHECK(row.find("worker killed by signal 6") != std::string::npos);
  }
  CHECK(failed == 1);
}

TEST_CASE("top lists the best candidates, duplicates reuse stored results", "[campaign][top]") {
  TempDir dir;
  // A full synthetic NAS-Bench-201 table: accuracy rises with the number of nor_conv_3x3 edges.
  std::string csv =
      "index,arch,cifar10_valid_12ep,cifar10_test_12ep,cifar100_valid_12ep,cifar100_test_12ep,"
      "imagenet16_valid_12ep,imagenet16_test_12ep,cifar10_test_200ep,cifar100_test_200ep,"
      "imagenet16_test_200ep\n";
  const char* ops[] = {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};
  for (int index = 0; index < 15625; ++index) {
    int e[6], v = index, conv3 = 0;
    for (int k = 0; k < 6; ++k) e[k] = v % 5, v /= 5, conv3 += e[k] == 3;
    const std::string arch = std::string("|") + ops[e[0]] + "~0|+|" + ops[e[1]] + "~0|" + ops[e[2]] +
                             "~1|+|" + ops[e[3]] + "~0|" + ops[e[4]] + "~1|" + ops[e[5]] + "~2|";
    const std::string acc = std::to_string(50 + 5 * conv3 + (index % 7) * 0.1);
    csv += std::to_string(index) + "," + arch;
    for (int c = 0; c < 9; ++c) csv += "," + acc;
    csv += "\n";
  }
  write_file(dir / "nb201.csv", csv);
  write_file(dir / "c.ini", "[campaign]\ndir = " + (dir / "run").string() +
                                "\n[space]\ntype = nb201\n[controller]\nstrategy = evolution\npopulation = 10\n"
                                "sample_size = 5\n[proxy]\ntable = " + (dir / "nb201.csv").string() +
                                "\n[budget]\ncandidates = 150\n");
  const auto r = run_cellforge("search " + (dir / "c.ini").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto rows = candidate_rows(dir / "run");
  REQUIRE(rows.size() == 150);
  // Reused rows carry the same hash and accuracy as the row they reuse.
  std::map<std::string, std::string> first_by_hash;
  int reused = 0;
  for (const auto& row : rows) {
    std::vector<std::string> f;
    std::stringstream in(row);
    std::string part;
    while (std::getline(in, part, '|')) f.push_back(part);
    const std::string key = f[1];
    if (f[5] != "NULL") {
      ++reused;
      CHECK(first_by_hash.count(key) == 1);
      CHECK(first_by_hash[key] == f[3]);
    } else {
      CHECK(first_by_hash.count(key) == 0);  // never evaluated twice
      first_by_hash[key] = f[3];
    }
  }
  CHECK(reused > 0);
  const auto top = run_cellforge("top " + (dir / "run").string() + " -n 3 --json");
  REQUIRE(top.exit_code == 0);
  const auto j = nlohmann::json::parse(top.out);
  REQUIRE(j.size() == 3);
  CHECK(j[0]["accuracy"].get<double>() >= j[1]["accuracy"].get<double>());
  for (const char* key : {"id", "hash", "accuracy", "params", "genotype"}) CHECK(j[0].contains(key));
  CHECK(j[0]["genotype"]["space"] == "nb201");
}

TEST_CASE("docs/config.md documents every config key", "[campaign][config]") {
  const auto help = run_cellforge("search --help-config");
  REQUIRE(help.exit_code == 0);
  const std::string doc = cf::test::read_file(std::string(CF_SOURCE_DIR) + "/docs/config.md");
  std::stringstream lines(help.out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    ++rows;
    INFO(line);
    CHECK(doc.find(line) != std::string::npos);
  }
  CHECK(rows > 30);
}

TEST_CASE("Ctrl-C stops a campaign cleanly after saving, resume finishes it", "[campaign][resume]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  // The interrupt comes once the first candidate is stored (read from the database): 11
  // candidates of work remain, so the campaign cannot end before it. Should it still have ended
  // (exit 0), that run is checked as complete rather than failed as a race.
  const int candidates = 12;
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", candidates, 2));
  const pid_t pid = spawn_cellforge({"search", (dir / "c.ini").string()});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  auto finished = [&] {
    int n = 0;
    for (const auto& row : candidate_rows(dir / "run")) n += row.find("|pending|") == std::string::npos;
    return n;
  };
  int stored = 0;
  while (std::chrono::steady_clock::now() < deadline &&
         !(std::filesystem::exists(dir / "run" / "results.sqlite") && (stored = finished()) >= 1))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  INFO(stored << " candidates stored at the interrupt");
  REQUIRE(stored >= 1);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 0) {
    CHECK(static_cast<int>(candidate_rows(dir / "run").size()) == candidates);
    return;
  }
  CHECK(WEXITSTATUS(status) == 130);
  const auto st = run_cellforge("status " + (dir / "run").string());
  CHECK(st.out.find("interrupted: stopped by") != std::string::npos);
  CHECK(st.out.find("not running") != std::string::npos);
  const auto r = run_cellforge("resume " + (dir / "run").string());
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(candidate_rows(dir / "run").size() == 12);
}

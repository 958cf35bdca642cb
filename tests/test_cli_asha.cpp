// Successive halving campaigns ([scheduler]) end to end through the cellforge binary: rungs and
// promotions in the results database, continued training that equals training straight through,
// status and top, and SIGKILL + resume ending with exactly the rows of an uninterrupted run.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "space/rng.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::run_cellforge;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;

namespace {

// The tiny campaign with `epochs` of proxy training and the given [scheduler] (empty: none).
std::string config(const std::filesystem::path& data, const std::filesystem::path& run,
                   int candidates, int workers, const std::string& strategy, int epochs,
                   const std::string& scheduler) {
  std::string text = tiny_config(data, run, candidates, workers);
  const auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  };
  replace("strategy = evolution", "strategy = " + strategy);
  replace("epochs = 1", "epochs = " + std::to_string(epochs));
  if (!scheduler.empty()) text += "[scheduler]\n" + scheduler;
  return text;
}

// seq|candidate|rung|epochs|status|accuracy|reused_from|observed of every evaluation.
std::vector<std::string> evaluation_rows(const std::filesystem::path& run) {
  return query_rows(run,
                    "SELECT seq, candidate, rung, epochs, status, printf('%.17g', accuracy), "
                    "reused_from, observed, failure_reason FROM evaluations ORDER BY seq");
}

std::vector<std::string> split(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream in(row);
  for (std::string cell; std::getline(in, cell, '|');) out.push_back(cell);
  return out;
}

}  // namespace

TEST_CASE("an ASHA campaign promotes candidates and continues their training exactly",
          "[campaign][scheduler]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  // Rungs 1, 2, 4 epochs (eta 2); random proposals do not depend on results, so the plain
  // campaign at 4 epochs trains the same candidates.
  write_file(dir / "asha.ini", config(dir / "data", dir / "asha", 8, 1, "random", 4,
                                      "kind = asha\neta = 2\nmin_epochs = 1\n"));
  write_file(dir / "plain.ini", config(dir / "data", dir / "plain", 8, 1, "random", 4, ""));
  // Damaged checkpoints where candidates 1-8 will keep theirs (a full disk, an edit): trained
  // from scratch instead, with the same results (checked against the plain campaign below).
  for (int id = 1; id <= 8; ++id) {
    const auto damaged = dir / "asha" / "checkpoints" / std::to_string(id);
    std::filesystem::create_directories(damaged / "epoch-1");
    write_file(damaged / "latest", "epoch-1\n");
    write_file(damaged / "epoch-1" / "weights.bin", "not weights");
    write_file(damaged / "epoch-1" / "state.bin", "not a state");
  }
  const auto asha = run_cellforge("search " + (dir / "asha.ini").string());
  INFO(asha.out);
  REQUIRE(asha.exit_code == 0);
  REQUIRE(run_cellforge("search " + (dir / "plain.ini").string()).exit_code == 0);

  const auto evaluations = evaluation_rows(dir / "asha");
  std::map<int, int> per_rung;
  std::map<std::pair<std::string, int>, std::string> accuracy_at;  // (candidate, rung)
  for (const auto& row : evaluations) {
    const auto c = split(row);
    ++per_rung[std::stoi(c[2])];
    CHECK(c[3] == std::vector<std::string>{"1", "2", "4"}.at(std::stoul(c[2])));
    CHECK(c[7] == "1");  // everything observed
    if (c[4] == "done") accuracy_at[{c[1], std::stoi(c[2])}] = c[5];
    // A promotion follows a result of the same candidate one rung below.
    if (c[2] != "0") CHECK(accuracy_at.count({c[1], std::stoi(c[2]) - 1}) == 1);
  }
  CHECK(per_rung[0] == 8);
  CHECK(per_rung[1] >= 2);  // 8 results promote up to 4 (fewer while the rung was filling)
  CHECK(per_rung[2] >= 1);
  CHECK(per_rung[1] <= 4);

  // Every candidate row holds its highest rung's result.
  for (const auto& row : query_rows(dir / "asha",
                                    "SELECT id, rung, printf('%.17g', accuracy), status FROM "
                                    "candidates ORDER BY id")) {
    const auto c = split(row);
    if (c[3] != "done") continue;
    CHECK(accuracy_at.at({c[0], std::stoi(c[1])}) == c[2]);
  }

  // Continued training is the same training: 1 epoch, then to 2 from the checkpoint, then to 4,
  // gives the bits of 4 epochs straight through (the plain campaign's result).
  std::map<std::string, std::string> plain;
  for (const auto& row : candidate_rows(dir / "plain")) {
    const auto c = split(row);
    plain[c[0]] = c[3];
  }
  int top = 0;
  for (const auto& [key, accuracy] : accuracy_at)
    if (key.second == 2) {
      ++top;
      INFO("candidate " << key.first);
      CHECK(accuracy == plain.at(key.first));
    }
  CHECK(top >= 1);

  const auto status = run_cellforge("status " + (dir / "asha").string());
  CHECK(status.out.find("scheduler  asha, eta 2") != std::string::npos);
  CHECK(status.out.find("rung 2   4 epochs: " + std::to_string(per_rung[2]) + " done") !=
        std::string::npos);
  CHECK(status.out.find("checkpoints") != std::string::npos);
  const auto best = run_cellforge("top " + (dir / "asha").string() + " -n 3");
  INFO(best.out);
  CHECK(best.out.find("rung  epochs") != std::string::npos);
  CHECK(split(query_rows(dir / "asha", "SELECT count(*) FROM candidates WHERE rung = 2")[0])[0] ==
        std::to_string(per_rung[2]));
  REQUIRE(
      run_cellforge("report " + (dir / "asha").string() + " -o " + (dir / "report.html").string())
          .exit_code == 0);
  const std::string html = cf::test::read_file(dir / "report.html");
  CHECK(html.find("<h2>Successive halving</h2>") != std::string::npos);
  CHECK(html.find("id=\"chart-rungs\"") != std::string::npos);
  CHECK(html.find("<polyline") != std::string::npos);  // a promoted candidate's path
  // Checkpoints of candidates that can no longer be promoted are gone: at most the candidates
  // that rung 0 and rung 1 may still promote keep one.
  int kept = 0;
  if (std::filesystem::exists(dir / "asha" / "checkpoints"))
    for (const auto& entry : std::filesystem::directory_iterator(dir / "asha" / "checkpoints"))
      kept += entry.is_directory();
  CHECK(kept <= 4 + 2);
}

TEST_CASE("a [scheduler] needs a top rung above the lowest and a trained space",
          "[campaign][scheduler][config]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  write_file(dir / "bad.ini",
             config(dir / "data", dir / "bad", 4, 1, "random", 2, "kind = asha\nmin_epochs = 2\n"));
  const auto r = run_cellforge("search " + (dir / "bad.ini").string());
  CHECK(r.exit_code != 0);
  CHECK(r.out.find("scheduler.min_epochs: 2 must be below proxy.epochs (2)") != std::string::npos);
  CHECK(!std::filesystem::exists(dir / "bad"));
}

TEST_CASE("an ASHA campaign killed at any moment resumes to the rows of an uninterrupted run",
          "[campaign][scheduler][resume]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  const std::string scheduler = "kind = asha\neta = 2\nmin_epochs = 1\n";
  write_file(dir / "a.ini", config(dir / "data", dir / "run_a", 12, 2, "evolution", 4, scheduler));
  write_file(dir / "b.ini", config(dir / "data", dir / "run_b", 12, 2, "evolution", 4, scheduler));
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_cellforge("search " + (dir / "a.ini").string()).exit_code == 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto expected = evaluation_rows(dir / "run_a");
  const auto expected_candidates = candidate_rows(dir / "run_a");
  const int total = static_cast<int>(expected.size());
  REQUIRE(total >= 14);

  const auto report = cf::test::kill_at_stored_progress(
      {"search", (dir / "b.ini").string()}, dir / "run_b",
      [&] {
        int n = 0;
        for (const auto& row : evaluation_rows(dir / "run_b")) n += split(row).at(4) != "pending";
        return n;
      },
      total, seconds / total);
  CHECK(report.attempts >= 3);
  CHECK(report.reached == report.attempts);
  CHECK(report.kills == report.attempts);
  const auto b = run_cellforge("resume " + (dir / "run_b").string());
  INFO(b.out);
  REQUIRE(b.exit_code == 0);
  CHECK(evaluation_rows(dir / "run_b") == expected);
  CHECK(candidate_rows(dir / "run_b") == expected_candidates);
  const auto check = run_cellforge("check " + (dir / "run_b").string());
  INFO(check.out);
  CHECK(check.exit_code == 0);
}

TEST_CASE("a Hyperband campaign starts every other candidate a rung higher",
          "[campaign][scheduler]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  // Rungs 1, 2, 4 epochs: brackets 0 and 1, assigned in turn.
  write_file(dir / "hb.ini", config(dir / "data", dir / "hb", 8, 1, "random", 4,
                                    "kind = hyperband\neta = 2\nmin_epochs = 1\n"));
  const auto r = run_cellforge("search " + (dir / "hb.ini").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::string> first;  // candidate -> rung of its first evaluation
  int promoted = 0;
  for (const auto& row : evaluation_rows(dir / "hb")) {
    const auto c = split(row);
    if (!first.count(c[1]))
      first[c[1]] = c[2];
    else
      ++promoted;
  }
  REQUIRE(first.size() == 8);
  for (const auto& [candidate, rung] : first)
    CHECK(rung == (std::stoi(candidate) % 2 == 1 ? "0" : "1"));
  CHECK(promoted >= 2);  // each bracket promotes from its 4 first results
  CHECK(run_cellforge("status " + (dir / "hb").string()).out.find("hyperband") !=
        std::string::npos);
}

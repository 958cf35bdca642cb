// cellforge supernet train / score through the binary: config errors, a run killed at a random
// moment resumes to the bytes of an uninterrupted one, scores are reproducible. Supernet
// campaigns (search with [supernet] epochs > 0): supernet training, search over it, stand-alone
// retraining of the best cells, status and top, and SIGKILL + resume at every stage.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "campaign_fixtures.h"
#include "cli_helpers.h"

using cf::test::read_file;
using cf::test::run_cellforge;
using cf::test::spawn_cellforge;
using cf::test::TempDir;
using cf::test::write_file;

namespace {

std::string supernet_config(const std::filesystem::path& data, const std::filesystem::path& run) {
  return cf::test::tiny_config(data, run, 1, 1) +
         "[supernet]\nepochs = 3\ncheckpoint_steps = 2\ncalibration_batches = 2\n"
         "score_images = 32\n";
}

}  // namespace

TEST_CASE("supernet: bad commands and configs get one clear line", "[supernet][cli]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 192);
  const auto config = dir / "s.ini";
  write_file(config, supernet_config(dir / "data", dir / "run"));
  const std::string c = config.string();
  auto one_line = [](const cf::test::RunResult& r, int code, const std::string& expect) {
    INFO(r.out);
    CHECK(r.exit_code == code);
    CHECK(r.out.find(expect) != std::string::npos);
  };
  one_line(run_cellforge("supernet fly " + c), 2, "unknown action 'fly' (train or score)");
  one_line(run_cellforge("supernet train"), 2, "CONFIG is required");
  one_line(run_cellforge("supernet train " + c + " --set supernet.epochs=0"), 1,
           "supernet.epochs = 0");
  one_line(run_cellforge("supernet train " + c + " --set supernet.epochs=-1"), 1,
           "supernet.epochs: -1 is out of range");
  one_line(run_cellforge("supernet train " + c + " --sample 3"), 2, "belong to supernet score");
  one_line(run_cellforge("supernet score " + c + " --sample 2"), 1, "no trained supernet");
  one_line(run_cellforge("supernet score " + c), 2, "needs cells");
  write_file(dir / "nb.ini", "[space]\ntype = nb201\n[proxy]\ntable = x\n[supernet]\nepochs = 1\n");
  one_line(run_cellforge("supernet train " + (dir / "nb.ini").string()), 1, "space.type = nasnet");
  one_line(run_cellforge("search " + (dir / "nb.ini").string()), 1,
           "supernet.epochs: the supernet shares weights between NASNet cells");
  one_line(run_cellforge("search " + c + " --set scheduler.kind=asha --set proxy.epochs=2"), 1,
           "scheduler.kind: a supernet campaign scores candidates with the supernet");
  one_line(run_cellforge("search " + c + " --set supernet.retrain=-1"), 1,
           "supernet.retrain: -1 is out of range");
}

TEST_CASE("supernet: killed at any moment, resumed, it ends with the bytes of an uninterrupted run",
          "[supernet][cli]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 192);
  write_file(dir / "a.ini", supernet_config(dir / "data", dir / "a"));
  write_file(dir / "b.ini", supernet_config(dir / "data", dir / "b"));
  const auto whole = run_cellforge("supernet train " + (dir / "a.ini").string());
  INFO(whole.out);
  REQUIRE(whole.exit_code == 0);
  CHECK(whole.out.find("step 24/24") != std::string::npos);  // 128 / 16 images, 3 epochs
  const auto state_a = dir / "a" / "supernet" / "state.bin";
  REQUIRE(std::filesystem::exists(state_a));

  // b: killed (SIGKILL, no chance to save) once a checkpoint exists, then resumed.
  const auto state_b = dir / "b" / "supernet" / "state.bin";
  const pid_t pid = spawn_cellforge({"supernet", "train", (dir / "b.ini").string()});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(state_b) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  REQUIRE(std::filesystem::exists(state_b));
  const auto resumed = run_cellforge("supernet train " + (dir / "b.ini").string());
  INFO(resumed.out);
  REQUIRE(resumed.exit_code == 0);
  CHECK(read_file(state_b) == read_file(state_a));

  // A finished run trains no further; its state under another config is refused.
  const auto again = run_cellforge("supernet train " + (dir / "a.ini").string());
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("0 steps") != std::string::npos);
  const auto other =
      run_cellforge("supernet train " + (dir / "a.ini").string() + " --set proxy.lr=0.2");
  CHECK(other.exit_code == 1);
  CHECK(other.out.find("trained under other") != std::string::npos);
  // ... but not under another strategy or budget (they do not change the supernet's weights).
  const auto strategy = run_cellforge("supernet train " + (dir / "a.ini").string() +
                                      " --set controller.strategy=random --set "
                                      "budget.candidates=9 --set supernet.retrain=1");
  INFO(strategy.out);
  CHECK(strategy.exit_code == 0);

  // Scores: reproducible, one row per cell, accuracies in [0, 1], every value trained or counted.
  const auto out1 = dir / "s1.json", out2 = dir / "s2.json";
  const auto s1 = run_cellforge("supernet score " + (dir / "a.ini").string() +
                                " --sample 3 --out " + out1.string());
  INFO(s1.out);
  REQUIRE(s1.exit_code == 0);
  REQUIRE(run_cellforge("supernet score " + (dir / "b.ini").string() + " --sample 3 --out " +
                        out2.string())
              .exit_code == 0);
  const auto rows = nlohmann::json::parse(read_file(out1));
  REQUIRE(rows.size() == 3);
  for (const auto& row : rows) {
    CHECK(row["accuracy"].get<double>() >= 0.0);
    CHECK(row["accuracy"].get<double>() <= 1.0);
    CHECK(row["images"] == 32);
  }
  auto accuracies = [](const nlohmann::json& j) {
    std::vector<double> a;
    for (const auto& row : j) a.push_back(row["accuracy"]);
    return a;
  };
  CHECK(accuracies(nlohmann::json::parse(read_file(out2))) == accuracies(rows));

  // How cells are scored is not part of the trained state's identity.
  const auto fewer = run_cellforge("supernet score " + (dir / "a.ini").string() +
                                   " --sample 1 --set supernet.score_images=16 --out " +
                                   out2.string());
  INFO(fewer.out);
  REQUIRE(fewer.exit_code == 0);
  CHECK(nlohmann::json::parse(read_file(out2))[0]["images"] == 16);
}

namespace {

// id|hash|status|accuracy|params|reused_from|observed|failure_reason|rung|metrics of every candidate.
std::vector<std::string> campaign_rows(const std::filesystem::path& run) {
  return cf::test::query_rows(
      run,
      "SELECT id, hash, status, printf('%.17g', accuracy), params, reused_from, observed, "
      "failure_reason, rung, json_extract(metrics, '$.supernet.accuracy') FROM candidates "
      "ORDER BY id");
}

// seq|candidate|rung|epochs|status|accuracy|observed of every evaluation (the retrainings).
std::vector<std::string> retrain_rows(const std::filesystem::path& run) {
  return cf::test::query_rows(run,
                              "SELECT seq, candidate, rung, epochs, status, "
                              "printf('%.17g', accuracy), observed FROM evaluations ORDER BY seq");
}

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream in(row);
  for (std::string cell; std::getline(in, cell, '|');) out.push_back(cell);
  return out;
}

std::string supernet_campaign(const std::filesystem::path& data, const std::filesystem::path& run) {
  return supernet_config(data, run) + "retrain = 3\n";  // (the [supernet] section is last)
}

}  // namespace

TEST_CASE("a supernet campaign trains the supernet, searches over it and retrains its best cells",
          "[supernet][campaign][cli]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 192);
  write_file(dir / "c.ini", supernet_campaign(dir / "data", dir / "run"));
  const auto r = run_cellforge("search " + (dir / "c.ini").string() + " --set budget.candidates=10");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("supernet step 24/24") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "run" / "supernet" / "state.bin"));

  // Every candidate scored by the supernet (its score kept in metrics.supernet), observed.
  const auto rows = campaign_rows(dir / "run");
  REQUIRE(rows.size() == 10);
  std::vector<std::tuple<double, int, std::string>> scored;  // (-score, id, hash)
  for (const auto& row : rows) {
    const auto c = cells(row);
    CHECK(c[2] == "done");
    CHECK(c[6] == "1");
    REQUIRE(c[9] != "NULL");
    if (c[5] == "NULL") scored.emplace_back(-std::stod(c[9]), std::stoi(c[0]), c[1]);
  }
  // The best 3 distinct cells by supernet score (ties by id), each trained stand-alone once: an
  // evaluation at rung 1 with the [proxy] epochs, its accuracy now the candidate's, at rung 1.
  std::sort(scored.begin(), scored.end());
  std::vector<int> best;
  std::set<std::string> hashes;
  for (const auto& [score, id, hash] : scored)
    if (best.size() < 3 && hashes.insert(hash).second) best.push_back(id);
  const auto retrained = retrain_rows(dir / "run");
  REQUIRE(retrained.size() == 3);
  for (size_t k = 0; k < 3; ++k) {
    const auto e = cells(retrained[k]);
    CHECK(e[1] == std::to_string(best[k]));
    CHECK(e[2] == "1");
    CHECK(e[3] == "1");
    CHECK(e[4] == "done");
    CHECK(e[6] == "1");
    const auto c = cells(rows.at(static_cast<size_t>(best[k] - 1)));
    CHECK(c[8] == "1");
    CHECK(c[3] == e[5]);  // the candidate's accuracy is its stand-alone one
  }
  // top ranks the retrained cells first; status tells both stages.
  const auto top = run_cellforge("top " + (dir / "run").string() + " -n 5");
  INFO(top.out);
  CHECK(top.out.find("supernet") != std::string::npos);
  const auto status = run_cellforge("status " + (dir / "run").string());
  INFO(status.out);
  CHECK(status.out.find("supernet   24 steps trained (ok") != std::string::npos);
  CHECK(status.out.find("retrained  3 done, 0 failed, 0 pending") != std::string::npos);
  CHECK(run_cellforge("check " + (dir / "run").string()).exit_code == 0);
  // The report plots supernet scores and lists the retrained cells beside their scores.
  const auto report = run_cellforge("report " + (dir / "run").string() + " -o " +
                                    (dir / "report.html").string());
  INFO(report.out);
  REQUIRE(report.exit_code == 0);
  const std::string html = read_file(dir / "report.html");
  CHECK(html.find("Best-so-far supernet score") != std::string::npos);
  const auto table = html.find("id=\"retrained\"");
  REQUIRE(table != std::string::npos);
  for (int id : best)
    CHECK(html.find("<tr><td>" + std::to_string(id) + "</td>", table) != std::string::npos);

  // A supernet trained by `cellforge supernet train` for the same config is the campaign's.
  write_file(dir / "d.ini", supernet_campaign(dir / "data", dir / "run_d"));
  REQUIRE(run_cellforge("supernet train " + (dir / "d.ini").string()).exit_code == 0);
  const auto d = run_cellforge("search " + (dir / "d.ini").string() + " --set budget.candidates=10");
  INFO(d.out);
  REQUIRE(d.exit_code == 0);
  CHECK(d.out.find("supernet: 24 steps trained (0 this run") != std::string::npos);
  CHECK(campaign_rows(dir / "run_d") == rows);
  CHECK(retrain_rows(dir / "run_d") == retrained);

  // Extending the budget scores more candidates, and retrains the best of them all.
  const auto more = run_cellforge("resume " + (dir / "run").string() + " --set budget.candidates=14");
  INFO(more.out);
  REQUIRE(more.exit_code == 0);
  CHECK(campaign_rows(dir / "run").size() == 14);
  CHECK(retrain_rows(dir / "run").size() >= 3);
}

TEST_CASE("a supernet campaign killed at any moment resumes to the rows of an uninterrupted run",
          "[supernet][campaign][resume][cli]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 192);
  write_file(dir / "a.ini", supernet_campaign(dir / "data", dir / "run_a"));
  write_file(dir / "b.ini", supernet_campaign(dir / "data", dir / "run_b"));
  const auto t0 = std::chrono::steady_clock::now();
  const auto a = run_cellforge("search " + (dir / "a.ini").string() + " --set budget.candidates=12");
  INFO(a.out);
  REQUIRE(a.exit_code == 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto expected = campaign_rows(dir / "run_a");
  const auto expected_retrained = retrain_rows(dir / "run_a");
  const auto expected_state = read_file(dir / "run_a" / "supernet" / "state.bin");

  // Killed while the supernet trains (once it has saved a state), ...
  const auto state_b = dir / "run_b" / "supernet" / "state.bin";
  const pid_t pid = spawn_cellforge(
      {"search", (dir / "b.ini").string(), "--set", "budget.candidates=12"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(state_b) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  REQUIRE(std::filesystem::exists(state_b));
  // ... then while it scores candidates and retrains the best (stored results drawn at random).
  const auto finished = [&] {
    int n = 0;
    for (const auto& row : campaign_rows(dir / "run_b")) n += cells(row).at(2) != "pending";
    for (const auto& row : retrain_rows(dir / "run_b")) n += cells(row).at(4) != "pending";
    return n;
  };
  const auto report = cf::test::kill_at_stored_progress(
      {"resume", (dir / "run_b").string()}, dir / "run_b", finished, 15, seconds / 15);
  CHECK(report.attempts >= 2);
  CHECK(report.kills == report.attempts);
  // ... and once during the retraining.
  const pid_t late = spawn_cellforge({"resume", (dir / "run_b").string()});
  const auto late_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (retrain_rows(dir / "run_b").empty() &&
         std::chrono::steady_clock::now() < late_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(late, SIGKILL);
  waitpid(late, nullptr, 0);

  const auto b = run_cellforge("resume " + (dir / "run_b").string());
  INFO(b.out);
  REQUIRE(b.exit_code == 0);
  CHECK(read_file(state_b) == expected_state);
  CHECK(campaign_rows(dir / "run_b") == expected);
  CHECK(retrain_rows(dir / "run_b") == expected_retrained);
  const auto check = run_cellforge("check " + (dir / "run_b").string());
  INFO(check.out);
  CHECK(check.exit_code == 0);
}

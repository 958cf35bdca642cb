// cellforge supernet train / score through the binary: config errors, a run killed at a random
// moment resumes to the bytes of an uninterrupted one, scores are reproducible.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

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
  CHECK(other.out.find("other settings") != std::string::npos);

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

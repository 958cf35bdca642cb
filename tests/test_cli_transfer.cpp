// Transfer training from a campaign with a training config: per-epoch checkpoints, an interrupted
// run resumed to exactly the weights of an uninterrupted one, the result recorded in the run; the
// trained directory exported and scored again outside cellforge (PyTorch, OpenCV on ONNX).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "skip.h"

using cf::test::read_file;
using cf::test::run_cellforge;

TEST_CASE("transfer training checkpoints every epoch and resumes exactly", "[transfer]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  cf::test::write_file(dir / "c.ini", cf::test::tiny_config(dir / "data", dir / "run", 4, 2));
  REQUIRE(run_cellforge("search " + (dir / "c.ini").string()).exit_code == 0);
  cf::test::write_file(dir / "train.ini",
                       "[network]\ncells_per_stack = 1\nfilters = 4\nstem_multiplier = 1\naux_head = true\n"
                       "[data]\ndata_dir = " + (dir / "data").string() + "\ntrain_images = 192\nvalid_images = 64\ntest = true\n"
                       "[train]\nepochs = 6\nbatch = 16\nlr = 0.05\ndrop_path = 0.1\ncutout = 2\nthreads = 1\n");
  const std::string base = "train --from " + (dir / "run").string() + " --rank 1 --config " + (dir / "train.ini").string();
  const auto full = run_cellforge(base + " --out " + (dir / "a").string());
  INFO(full.out);
  REQUIRE(full.exit_code == 0);
  const auto result = nlohmann::json::parse(read_file(dir / "a" / "result.json"));
  CHECK(result["test_accuracy"].get<double>() > 0.25);  // chance is 0.25
  CHECK(result["params"].get<int64_t>() > 0);
  const auto status = run_cellforge("status " + (dir / "run").string());
  CHECK(status.out.find("transfer: rank1_") != std::string::npos);

  // Exporting the trained directory takes its genotype, stacking (1@..., F = 4, aux head, the
  // dataset's input) and weights without any option.
  const auto exported = run_cellforge("export " + (dir / "a").string() +
                                      " --format json,pytorch,onnx -o " + (dir / "x").string());
  INFO(exported.out);
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.find(result["notation"].get<std::string>()) != std::string::npos);
  CHECK(exported.out.find(std::to_string(result["params"].get<int64_t>()) + " params") !=
        std::string::npos);
  const std::string name = result["hash"].get<std::string>();
  CHECK(read_file(dir / "x" / ("rank1_" + name + ".weights.bin")) ==
        read_file(dir / "a" / "weights.bin"));
  CHECK(std::filesystem::exists(dir / "x" / ("rank1_" + name + ".py")));
  // The exported module with its own normalise(), run by plain PyTorch on the raw test images,
  // and the ONNX model with its metadata's normalisation, run by OpenCV, score what cellforge
  // measured (at most one image may flip on a near-tie of two logits).
  if (cf::test::python_has("torch, numpy, onnx, cv2")) {
    const std::string stem = (dir / "x" / ("rank1_" + name)).string();
    const auto py = cf::test::run_command("/usr/bin/python3 " + std::string(CF_SOURCE_DIR) +
                                          "/scripts/exported_accuracy.py " + stem + ".py " + stem +
                                          ".weights.bin " + (dir / "data").string() + " " + stem +
                                          ".onnx");
    INFO(py.out);
    REQUIRE(py.exit_code == 0);
    const auto j = nlohmann::json::parse(py.out.substr(py.out.rfind('{')));
    CHECK(j["images"].get<int>() == 256);
    const double expected = result["test_accuracy"].get<double>();
    CHECK(std::abs(j["accuracy"].get<double>() - expected) <= 1.0 / 256 + 1e-9);
    CHECK(std::abs(j["onnx_accuracy"].get<double>() - expected) <= 1.0 / 256 + 1e-9);
  } else {
    cf::test::skip("the exported-accuracy check: /usr/bin/python3 lacks torch, onnx or cv2");
  }
  // Stacking options still override; weights of another network are refused by name.
  const auto wrong = run_cellforge("export " + (dir / "a").string() +
                                   " --filters 8 --format pytorch -o " + (dir / "y").string());
  INFO(wrong.out);
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.out.find("weights") != std::string::npos);

  // Interrupt a second run after its first checkpoint (the kill point is the stored checkpoint,
  // 5 of 6 epochs before the end), then resume it. A run that still ended before the kill is a
  // valid run, not a failure: it must equal the first one, and the interruption is tried again in
  // a fresh directory (at most 3 times).
  bool interrupted = false;
  for (int attempt = 0; attempt < 3 && !interrupted; ++attempt) {
    std::filesystem::remove_all(dir / "b");
    const pid_t pid = fork();
    if (pid == 0) {
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      const std::string cmd = std::string(CF_BINARY) + " " + base + " --out " + (dir / "b").string();
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (!std::filesystem::exists(dir / "b" / "checkpoint" / "latest") &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    REQUIRE(std::filesystem::exists(dir / "b" / "checkpoint" / "latest"));
    interrupted = WIFSIGNALED(st);
    if (!interrupted) {
      INFO("attempt " << attempt << ": the run ended before the kill");
      CHECK(WEXITSTATUS(st) == 0);
      CHECK(read_file(dir / "b" / "weights.bin") == read_file(dir / "a" / "weights.bin"));
    }
  }
  REQUIRE(interrupted);
  CHECK_FALSE(std::filesystem::exists(dir / "b" / "result.json"));
  const auto again = run_cellforge(base + " --out " + (dir / "b").string());
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("--resume") != std::string::npos);
  const auto resumed = run_cellforge(base + " --out " + (dir / "b").string() + " --resume");
  INFO(resumed.out);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.out.find("resuming after epoch") != std::string::npos);
  CHECK(read_file(dir / "b" / "weights.bin") == read_file(dir / "a" / "weights.bin"));
  const auto result_b = nlohmann::json::parse(read_file(dir / "b" / "result.json"));
  CHECK(result_b["test_accuracy"] == result["test_accuracy"]);
}

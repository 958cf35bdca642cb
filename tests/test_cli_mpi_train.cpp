// Data-parallel `cellforge train` under mpirun on loopback: the ranks keep one set of weights
// (rank 0 alone writes them), the same command gives the same bits, a killed run resumes to
// exactly the weights of an uninterrupted one, and impossible splits are refused.
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "skip.h"

using cf::test::read_file;
using cf::test::TempDir;

#ifndef CF_MPIEXEC

TEST_CASE("data-parallel training (skipped: built without MPI)", "[train][mpi]") {
  cf::test::skip(
      "this cellforge was built without MPI; install libopenmpi-dev openmpi-bin and configure "
      "with -DCELLFORGE_MPI=ON to run the data-parallel training tests");
}

#else

#include "mpi_helpers.h"

using cf::test::mpirun_args;
using cf::test::run;
using cf::test::spawn;
using cf::test::wait_exit;
using cf::test::with;

namespace {

// Augmentation, drop path and cutout on, so that every random stream is exercised.
std::vector<std::string> train_args(const std::filesystem::path& data, const std::string& out,
                                    int epochs, int batch = 16) {
  return {"train",
          "--arch",
          "nasnet_a",
          "--cells-per-stack",
          "1",
          "--filters",
          "4",
          "--stem-multiplier",
          "1",
          "--data-dir",
          data.string(),
          "--train-images",
          "128",
          "--valid-images",
          "48",
          "--epochs",
          std::to_string(epochs),
          "--batch",
          std::to_string(batch),
          "--threads",
          "1",
          "--seed",
          "9",
          "--drop-path",
          "0.2",
          "--cutout",
          "2",
          "--out",
          out};
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("mpirun -np 2 cellforge train: one set of weights, reproducible, written by rank 0",
          "[train][mpi]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 200);
  for (const char* name : {"a", "b"}) {
    const auto log = dir / (std::string(name) + ".log");
    const int code =
        run(with(mpirun_args(2), train_args(dir / "data", (dir / name).string(), 2)), log);
    INFO(read_file(log));
    REQUIRE(code == 0);
    CHECK(read_file(log).find("2 data-parallel ranks (8 images each per batch)") !=
          std::string::npos);
    CHECK(count(read_file(log), "final validation accuracy") == 1);  // rank 0 prints
  }
  CHECK(read_file(dir / "a" / "weights.bin") == read_file(dir / "b" / "weights.bin"));
  const auto result = nlohmann::json::parse(read_file(dir / "a" / "result.json"));
  CHECK(result["valid_accuracy"].get<double>() > 0);
  // Not the run of one process (batch-norm statistics are per rank), but the same kind of net.
  const auto alone = cf::test::run_cellforge([&] {
    std::string args;
    for (const auto& a : train_args(dir / "data", (dir / "alone").string(), 2)) args += a + " ";
    return args;
  }());
  REQUIRE(alone.exit_code == 0);
  CHECK(read_file(dir / "alone" / "weights.bin").size() ==
        read_file(dir / "a" / "weights.bin").size());
}

TEST_CASE("a data-parallel training killed after an epoch resumes to the same weights",
          "[train][mpi][resume]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 200);
  REQUIRE(run(with(mpirun_args(2), train_args(dir / "data", (dir / "full").string(), 3)),
              dir / "full.log") == 0);
  // The kill point is stored progress (the first epoch's checkpoint), not a clock.
  const auto log = dir / "cut.log";
  const pid_t mpirun =
      spawn(with(mpirun_args(2), train_args(dir / "data", (dir / "cut").string(), 3)), log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!std::filesystem::exists(dir / "cut" / "checkpoint" / "latest") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(mpirun, SIGKILL);
  wait_exit(mpirun, 60);
  INFO(read_file(log));
  REQUIRE(std::filesystem::exists(dir / "cut" / "checkpoint" / "latest"));
  const int resumed = run(
      with(mpirun_args(2), with(train_args(dir / "data", (dir / "cut").string(), 3), {"--resume"})),
      dir / "resume.log");
  INFO(read_file(dir / "resume.log"));
  REQUIRE(resumed == 0);
  CHECK(read_file(dir / "cut" / "weights.bin") == read_file(dir / "full" / "weights.bin"));
}

TEST_CASE("a batch that does not split over the ranks is refused on every rank", "[train][mpi]") {
  TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 200);
  const auto log = dir / "odd.log";
  const int code =
      run(with(mpirun_args(3), train_args(dir / "data", (dir / "odd").string(), 1, 16)), log);
  INFO(read_file(log));
  CHECK(code != 0);
  CHECK(read_file(log).find("--batch 16 does not split evenly over 3 data-parallel ranks") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "odd" / "weights.bin"));
}

#endif

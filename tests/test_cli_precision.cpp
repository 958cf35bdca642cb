// --precision / train.precision / proxy.precision: bf16 training from the command line and in a
// campaign, the fp32 fallback with a warning on a CPU without native bf16, and bad values.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "skip.h"
#include "trainer/executor.h"

using cf::test::read_file;
using cf::test::run_cellforge;
using cf::test::run_command;

namespace {

std::string tiny_train(const std::filesystem::path& data) {
  return "train --arch nasnet_a --cells-per-stack 1 --filters 8 --stem-multiplier 1 --data-dir " +
         data.string() +
         " --train-images 128 --valid-images 64 --epochs 3 --batch 16 --threads 2 --no-augment";
}

// The tiny campaign config with one more [proxy] key.
std::string campaign_with(const std::filesystem::path& dir, const std::string& proxy_line) {
  std::string ini = cf::test::tiny_config(dir / "data", dir / "run", 3, 1);
  ini.insert(ini.find("[proxy]\n") + 8, proxy_line + "\n");
  return ini;
}

nlohmann::json last_json_line(const std::string& out) {
  const size_t start = out.rfind("\n{");
  return nlohmann::json::parse(out.substr(start == std::string::npos ? 0 : start + 1));
}

}  // namespace

TEST_CASE("train --precision bf16 trains in bf16 and records it", "[cli][train][bf16]") {
  if (!cf::bf16_supported()) {
    cf::test::skip("this CPU has no native bf16 (avx512_bf16 or AMX)");
    return;
  }
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  const auto r = run_cellforge(tiny_train(dir / "data") + " --precision bf16 --json --out " +
                               (dir / "run").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("warning") == std::string::npos);
  const auto printed = last_json_line(r.out);
  CHECK(printed["precision"] == "bf16");
  // It learns (four classes: chance is 0.25). Validation lags here: 24 steps leave the
  // batch-norm running statistics far from the data's, in fp32 too.
  CHECK(printed["epochs"].back()["train_accuracy"].get<double>() > 0.9);
  const auto record = nlohmann::json::parse(read_file(dir / "run" / "result.json"));
  CHECK(record["precision"] == "bf16");
  // --precision overrides a training config's train.precision.
  cf::test::write_file(dir / "t.ini",
                       "[network]\ncells_per_stack = 1\nfilters = 8\n"
                       "stem_multiplier = 1\n[data]\ndata_dir = " +
                           (dir / "data").string() +
                           "\ntrain_images = 128\nvalid_images = 64\n"
                           "[train]\nepochs = 1\nbatch = 16\naugment = false\nprecision = fp32\n");
  const auto c = run_cellforge("train --arch nasnet_a --config " + (dir / "t.ini").string() +
                               " --precision bf16 --json");
  INFO(c.out);
  REQUIRE(c.exit_code == 0);
  CHECK(last_json_line(c.out)["precision"] == "bf16");
}

TEST_CASE("without native bf16, --precision bf16 warns and trains in fp32", "[cli][train][bf16]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  // oneDNN reads ONEDNN_MAX_CPU_ISA once: a CPU limited to AVX-512 without bf16.
  const auto r = run_command("ONEDNN_MAX_CPU_ISA=AVX512_CORE " + std::string(CF_BINARY) + " " +
                             tiny_train(dir / "data") + " --precision bf16 --json");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("warning: precision bf16 needs a CPU with avx512_bf16") != std::string::npos);
  CHECK(last_json_line(r.out)["precision"] == "fp32");
}

TEST_CASE("bad precision values name the flag or key and the choices", "[cli][train][bf16]") {
  cf::test::TempDir dir;
  const auto r = run_cellforge("train --arch nasnet_a --precision fp16");
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("--precision") != std::string::npos);
  CHECK(r.out.find("fp32,bf16") != std::string::npos);
  cf::test::write_tiny_idx(dir / "data", 256);
  cf::test::write_file(dir / "c.ini", campaign_with(dir.path(), "precision = half"));
  const auto c = run_cellforge("search " + (dir / "c.ini").string());
  INFO(c.out);
  CHECK(c.exit_code != 0);
  CHECK(c.out.find("c.ini") != std::string::npos);
  CHECK(c.out.find("proxy.precision") != std::string::npos);
  CHECK(c.out.find("'half' is not one of") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "run" / "results.sqlite"));
}

TEST_CASE("a campaign with proxy.precision = bf16 trains its candidates in bf16",
          "[cli][campaign][bf16]") {
  if (!cf::bf16_supported()) {
    cf::test::skip("this CPU has no native bf16 (avx512_bf16 or AMX)");
    return;
  }
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  cf::test::write_file(dir / "c.ini", campaign_with(dir.path(), "precision = bf16"));
  const auto r = run_cellforge("search " + (dir / "c.ini").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const auto rows = cf::test::query_rows(dir / "run", "SELECT status FROM candidates");
  REQUIRE(rows.size() == 3);
  for (const auto& s : rows) CHECK(s == "done");
  CHECK(read_file(dir / "run" / "config.ini").find("precision = bf16") != std::string::npos);
}

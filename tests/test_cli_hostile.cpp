// Hostile and careless input through the command line (issue 15): every case here failed before
// its fix — code injection into exports, files outside the output directory, stored results
// overwritten on resume, silent success of a failed campaign, wedged half-created run directories.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "skip.h"
#include "space/genotype.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::read_file;
using cf::test::run_cellforge;
using cf::test::run_command;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;
using cf::test::write_tiny_idx;

namespace {

std::string hostile_genotype(const std::string& name) {
  nlohmann::json j = cf::genotype_to_json(*cf::builtin_genotype("nasnet_a"));
  j["name"] = name;
  return j.dump();
}

// Every regular file below `root`, relative to it.
std::vector<std::string> files_below(const std::filesystem::path& root) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.push_back(std::filesystem::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

// A finished tiny campaign of `candidates` in dir/run (data in dir/data, config dir/c.ini).
void finished_campaign(const TempDir& dir, int candidates) {
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", candidates, 1));
  REQUIRE(run_cellforge("search " + (dir / "c.ini").string()).exit_code == 0);
}

}  // namespace

TEST_CASE("export: a hostile genotype name injects nothing and writes only inside -o",
          "[cli][hostile][export]") {
  TempDir dir;
  const std::string injected =
      "x\"\"\"\nimport os; open('" + (dir / "pwned").string() + "', 'w')\n\"\"\"";
  for (const std::string& name :
       {injected, std::string("../../escaped"), (dir / "abs").string(), std::string("nul\0byte", 8),
        std::string("a\" URL=\"javascript:alert(1)")}) {
    INFO(name);
    std::filesystem::remove_all(dir / "out");
    std::filesystem::create_directories(dir / "sub");
    write_file(dir / "sub" / "g.json", hostile_genotype(name));
    const auto r = run_cellforge(
        "export --arch " + (dir / "sub" / "g.json").string() +
        " --cells-per-stack 1 --filters 8 --input 8x8x1 --format json,dot,svg,pytorch -o " +
        (dir / "out").string());
    REQUIRE(r.exit_code == 0);
    // Everything it wrote is directly in out/, and nothing else appeared anywhere.
    for (const auto& f : files_below(dir.path())) {
      INFO(f);
      CHECK((f.rfind("out/", 0) == 0 || f == "sub/g.json"));
      CHECK(f.substr(f.find('/') + 1).find('/') == std::string::npos);
    }
    for (const auto& f : files_below(dir / "out")) {
      if (f.size() > 3 && f.substr(f.size() - 3) == ".py") {
        // Importing the module must not run anything: compile it and run its top level in a
        // process that has no torch (the import then fails before any class body runs).
        const auto compiled = run_command(
            "/usr/bin/python3 -c \"import ast,sys; ast.parse(open(sys.argv[1]).read())\" " +
            (dir / "out" / f).string());
        CHECK(compiled.exit_code == 0);
      }
      if (f.size() > 4 && f.substr(f.size() - 4) == ".svg") {
        const std::string svg = read_file(dir / "out" / f);
        CHECK(svg.find("href=\"javascript") == std::string::npos);
        CHECK(svg.find("<a ") == std::string::npos);
      }
    }
    if (cf::test::python_has("torch")) {
      for (const auto& f : files_below(dir / "out"))
        if (f.size() > 3 && f.substr(f.size() - 3) == ".py")
          CHECK(run_command("cd " + (dir / "out").string() +
                            " && /usr/bin/python3 -c 'import importlib.util,sys;"
                            "s=importlib.util.spec_from_file_location(\"m\", sys.argv[1]);"
                            "m=importlib.util.module_from_spec(s); s.loader.exec_module(m); "
                            "m.CellforgeNet()' " +
                            f)
                    .exit_code == 0);
    }
    CHECK(!std::filesystem::exists(dir / "pwned"));
  }
}

TEST_CASE("resume refuses a database that lost its checkpoints or rows, and changes nothing",
          "[cli][hostile][resume]") {
  TempDir dir;
  finished_campaign(dir, 3);
  const auto before = candidate_rows(dir / "run");
  REQUIRE(before.size() == 3);
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir / "run" / "results.sqlite").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DELETE FROM checkpoints", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  const auto r = run_cellforge("resume " + (dir / "run").string() + " --set budget.candidates=6");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("checkpoints: empty") != std::string::npos);
  CHECK(r.out.find("cellforge check") != std::string::npos);
  CHECK(candidate_rows(dir / "run") == before);
  const auto check = run_cellforge("check " + (dir / "run").string());
  CHECK(check.exit_code == 1);
  CHECK(check.out.find("problem: checkpoints: empty") != std::string::npos);
  CHECK(check.out.find("3 candidate rows") != std::string::npos);
  // top, report and export still read what is there.
  CHECK(run_cellforge("top " + (dir / "run").string()).exit_code == 0);
}

TEST_CASE("a truncated results.sqlite is neither a new campaign nor resumable",
          "[cli][hostile][resume]") {
  TempDir dir;
  finished_campaign(dir, 2);
  REQUIRE(run_cellforge("check " + (dir / "run").string()).exit_code == 0);
  std::filesystem::resize_file(dir / "run" / "results.sqlite", 0);
  const auto resume = run_cellforge("resume " + (dir / "run").string());
  CHECK(resume.exit_code == 1);
  CHECK(resume.out.find("missing tables") != std::string::npos);
  const auto search = run_cellforge("search " + (dir / "c.ini").string());
  CHECK(search.exit_code == 1);
  CHECK(search.out.find("already holds a campaign") != std::string::npos);
  CHECK(std::filesystem::file_size(dir / "run" / "results.sqlite") == 0);
  CHECK(run_cellforge("check " + (dir / "run").string()).exit_code == 1);
}

TEST_CASE("a campaign whose every candidate failed exits non-zero", "[cli][hostile][campaign]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  // A batch larger than the training images: every candidate fails.
  std::string config = tiny_config(dir / "data", dir / "run", 2, 1);
  config.replace(config.find("batch = 16"), 10, "batch = 4096");
  write_file(dir / "c.ini", config);
  const auto r = run_cellforge("search " + (dir / "c.ini").string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("every finished candidate failed") != std::string::npos);
  CHECK(candidate_rows(dir / "run").size() == 2);
}

TEST_CASE("a failed campaign creation leaves no half-created run directory",
          "[cli][hostile][campaign]") {
  TempDir dir;
  write_file(dir / "bad.csv", "not,a,table\n");
  write_file(dir / "c.ini", "[campaign]\ndir = " + (dir / "run").string() +
                                "\n[space]\ntype = nb201\n[proxy]\ntable = " +
                                (dir / "bad.csv").string() + "\n[budget]\ncandidates = 3\n");
  const auto first = run_cellforge("search " + (dir / "c.ini").string());
  CHECK(first.exit_code == 1);
  CHECK(!std::filesystem::exists(dir / "run" / "results.sqlite"));
  const auto resume = run_cellforge("resume " + (dir / "run").string());
  CHECK(resume.exit_code == 1);
  CHECK(resume.out.find("not a campaign run directory") != std::string::npos);
  // With the data fixed, the same search starts in the same directory.
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 1, 1));
  CHECK(run_cellforge("search " + (dir / "c.ini").string()).exit_code == 0);
}

TEST_CASE("a campaign name with '#' and a newline survives the frozen config and resume",
          "[cli][hostile][config]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "c.ini", tiny_config(dir / "data", dir / "run", 1, 1));
  const auto r =
      run_cellforge("search " + (dir / "c.ini").string() + " --set 'campaign.name=a#b\nc'");
  REQUIRE(r.exit_code == 0);
  const auto resumed =
      run_cellforge("resume " + (dir / "run").string() + " --set budget.candidates=2");
  INFO(resumed.out);
  CHECK(resumed.exit_code == 0);
  CHECK(candidate_rows(dir / "run").size() == 2);
}

TEST_CASE("status reads without taking the run lock, a held lock shows as running",
          "[cli][hostile][lock]") {
  TempDir dir;
  finished_campaign(dir, 1);
  const auto mtime = std::filesystem::last_write_time(dir / "run" / "results.sqlite");
  const int fd = open((dir / "run" / "lock").c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  REQUIRE(fcntl(fd, F_OFD_SETLK, &lock) == 0);
  const auto status = run_cellforge("status " + (dir / "run").string());
  close(fd);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find(", running") != std::string::npos);
  // status and top never write to the database.
  CHECK(run_cellforge("top " + (dir / "run").string()).exit_code == 0);
  CHECK(std::filesystem::last_write_time(dir / "run" / "results.sqlite") == mtime);
}

TEST_CASE("stats, show and draw: huge, deep, endless and self-overwriting input",
          "[cli][hostile]") {
  TempDir dir;
  cf::Genotype big;
  for (cf::Cell* cell : {&big.normal, &big.reduction})
    for (int b = 0; b < cf::kMaxBlocksPerCell; ++b) {
      cf::Block block;
      block.ops = {cf::OpId::conv_3x3, cf::OpId::conv_3x3};
      block.combine = cf::Combine::concat;
      cell->blocks.push_back(block);
    }
  write_file(dir / "big.json", cf::write_genotype(big));
  const auto huge = run_cellforge("stats --arch " + (dir / "big.json").string() +
                                  " --cells-per-stack 64 --filters 4096 --input 8192x8192x3");
  CHECK(huge.exit_code == 1);
  CHECK(huge.out.find("too large to count") != std::string::npos);
  CHECK(huge.out.find("-") != 0);
  write_file(dir / "deep.json", std::string(100000, '[') + std::string(100000, ']'));
  const auto deep = run_cellforge("show --arch " + (dir / "deep.json").string());
  CHECK(deep.exit_code == 1);
  CHECK(deep.out.find("deep.json") != std::string::npos);
  const auto zero = run_cellforge("show --arch /dev/zero");
  CHECK(zero.exit_code == 1);
  CHECK(zero.out.find("not a regular file") != std::string::npos);
  if (run_command("command -v dot").exit_code == 0) {
    const auto draw = run_cellforge("draw --arch nasnet_a -o " + (dir / "x.svg").string());
    CHECK(draw.exit_code == 0);
    CHECK(read_file(dir / "x.svg").find("<svg") != std::string::npos);
    CHECK(!std::filesystem::exists(dir / "x.dot"));
  }
}

TEST_CASE("train: flags out of range, --from a non-run, --out without --config exports back",
          "[cli][hostile][train]") {
  TempDir dir;
  for (const char* flag :
       {"--weight-decay -5", "--clip-norm -1", "--warmup-epochs -1", "--cutout 100000",
        "--memory-limit-gb inf", "--memory-limit-gb nan", "--flip maybe"}) {
    INFO(flag);
    const auto r = run_cellforge(std::string("train --arch nasnet_a ") + flag);
    CHECK(r.exit_code == 2);
    CHECK(r.out.find(std::string(flag).substr(0, std::string(flag).find(' '))) !=
          std::string::npos);
  }
  std::filesystem::create_directories(dir / "notarun");
  const auto from = run_cellforge("train --from " + (dir / "notarun").string());
  CHECK(from.exit_code == 1);
  CHECK(!std::filesystem::exists(dir / "notarun" / "results.sqlite"));
  write_tiny_idx(dir / "data", 128);
  const auto trained = run_cellforge(
      "train --arch nasnet_a --cells-per-stack 1 --filters 4 --stem-multiplier 1 "
      "--data-dir " +
      (dir / "data").string() +
      " --epochs 1 --batch 16 --train-images 64 --valid-images 32 --out " + (dir / "t").string());
  REQUIRE(trained.exit_code == 0);
  const auto exported = run_cellforge("export " + (dir / "t").string() + " --format pytorch -o " +
                                      (dir / "e").string());
  INFO(exported.out);
  REQUIRE(exported.exit_code == 0);
  for (const auto& f : files_below(dir / "e"))
    if (f.size() > 3 && f.substr(f.size() - 3) == ".py")
      CHECK(read_file(dir / "e" / f).find("INPUT_MEAN = [") != std::string::npos);
}

TEST_CASE("a failed result is never reused for a duplicate: the duplicate is trained",
          "[cli][hostile][campaign]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  // A space of a handful of architectures (one op, one block) sampled at random: duplicates are
  // certain; a batch larger than the data makes every training fail.
  std::string config = tiny_config(dir / "data", dir / "run", 8, 1);
  config.replace(config.find("blocks = 3"), 10, "blocks = 1\nops = max_pool_3x3");
  config.replace(config.find("strategy = evolution"), 20, "strategy = random");
  config.replace(config.find("batch = 16"), 10, "batch = 4096");
  write_file(dir / "c.ini", config);
  const auto r = run_cellforge("search " + (dir / "c.ini").string());
  INFO(r.out);
  CHECK(r.exit_code == 1);
  const auto distinct = query_rows(dir / "run", "SELECT count(DISTINCT hash) FROM candidates");
  REQUIRE(distinct.size() == 1);
  CHECK(std::stoi(distinct[0]) < 8);
  CHECK(query_rows(dir / "run", "SELECT count(*) FROM candidates WHERE reused_from IS NOT NULL") ==
        std::vector<std::string>{"0"});
}

TEST_CASE("a read-only run directory can be inspected: status, top, report, export, check",
          "[cli][hostile][store]") {
  TempDir dir;
  finished_campaign(dir, 2);
  // A read-only bind mount in a private user and mount namespace (root would ignore chmod).
  const std::string run = (dir / "run").string();
  if (run_command("unshare -rm sh -c 'mount --bind -o ro " + run + " " + run + " && ! touch " +
                  run + "/x'")
          .exit_code != 0) {
    cf::test::skip("this machine cannot make a read-only bind mount (unshare -rm)");
    return;
  }
  const std::string bin = CF_BINARY;
  const auto r = run_command("unshare -rm sh -c 'mount --bind -o ro " + run + " " + run + " && " +
                             bin + " status " + run + " && " + bin + " top " + run + " && " + bin +
                             " report " + run + " -o " + (dir / "r.html").string() + " && " + bin +
                             " export " + run + " --format json -o " + (dir / "e").string() +
                             " && " + bin + " check " + run + "'");
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("consistent") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "r.html"));
}

// Pareto campaigns end to end: evolution in objective.mode = pareto with a size cap survives
// SIGKILLs with exactly the rows of an uninterrupted run; `top --pareto`, `export --pareto` and
// the report show the front a brute-force search over the stored rows finds.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "space/rng.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::read_file;
using cf::test::run_cellforge;
using cf::test::spawn_cellforge;
using cf::test::TempDir;
using cf::test::tiny_config;
using cf::test::write_file;
using cf::test::write_tiny_idx;

namespace {

std::vector<std::string> split(const std::string& row) {
  std::vector<std::string> fields;
  size_t at = 0;
  for (size_t bar; (bar = row.find('|', at)) != std::string::npos; at = bar + 1)
    fields.push_back(row.substr(at, bar - at));
  fields.push_back(row.substr(at));
  return fields;
}

struct Evaluated {
  long long id;
  double accuracy;
  double cost;
};

// The evaluated candidates (done, not reused) with one cost column.
std::vector<Evaluated> evaluated(const std::filesystem::path& run, const std::string& cost) {
  std::vector<Evaluated> out;
  const std::string sql = "SELECT id, printf('%.17g', accuracy), " + cost +
                          " FROM candidates WHERE status = 'done' AND reused_from IS NULL "
                          "ORDER BY id";
  for (const auto& row : query_rows(run, sql.c_str())) {
    const auto f = split(row);
    out.push_back({std::stoll(f[0]), std::stod(f[1]), std::stod(f[2])});
  }
  return out;
}

// The front by its definition: candidates no other one matches or beats in both accuracy and
// cost while beating in one; best accuracy first, ties by id.
std::vector<long long> brute_front(const std::vector<Evaluated>& all) {
  std::vector<Evaluated> front;
  for (const auto& a : all) {
    bool dominated = false;
    for (const auto& b : all)
      dominated = dominated || (b.accuracy >= a.accuracy && b.cost <= a.cost &&
                                (b.accuracy > a.accuracy || b.cost < a.cost));
    if (!dominated) front.push_back(a);
  }
  std::stable_sort(front.begin(), front.end(),
                   [](const Evaluated& a, const Evaluated& b) { return a.accuracy > b.accuracy; });
  std::vector<long long> ids;
  for (const auto& e : front) ids.push_back(e.id);
  return ids;
}

std::vector<long long> json_front_ids(const nlohmann::json& top) {
  std::vector<long long> ids;
  for (const auto& m : top.at("front")) ids.push_back(m.at("id").get<long long>());
  return ids;
}

int finished_count(const std::filesystem::path& run) {
  if (!std::filesystem::exists(run / "results.sqlite")) return 0;
  int n = 0;
  for (const auto& row : candidate_rows(run)) n += row.find("|pending|") == std::string::npos;
  return n;
}

}  // namespace

TEST_CASE(
    "a Pareto campaign with a size cap, killed and resumed, ends identical to an "
    "uninterrupted one",
    "[campaign][objective][pareto][resume]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  // The first (random) candidates of this seed, to put a cap among their sizes.
  write_file(dir / "free.ini", tiny_config(dir / "data", dir / "free", 4, 1));
  REQUIRE(run_cellforge("search " + (dir / "free.ini").string()).exit_code == 0);
  std::vector<long long> params;
  for (const auto& row : query_rows(dir / "free", "SELECT params FROM candidates"))
    params.push_back(std::stoll(row));
  REQUIRE(params.size() == 4);
  std::sort(params.begin(), params.end());
  REQUIRE(params[2] < params[3]);
  const std::string set =
      " --set objective.mode=pareto --set objective.pareto=params"
      " --set objective.max_params=" +
      std::to_string(params[2]);
  const int candidates = 24;

  write_file(dir / "a.ini", tiny_config(dir / "data", dir / "a", candidates, 2));
  const auto a = run_cellforge("search " + (dir / "a.ini").string() + set);
  INFO(a.out);
  REQUIRE(a.exit_code == 0);
  const auto expected = candidate_rows(dir / "a");
  // At least the budget: more where candidates rejected by a cap do not count towards it.
  REQUIRE(static_cast<int>(expected.size()) >= candidates);
  CHECK(query_rows(dir / "a", "SELECT count(*) FROM candidates WHERE observed = 0").at(0) == "0");
  int rejected = 0, done = 0;
  for (const auto& row : expected) {
    rejected += row.find("|rejected|") != std::string::npos;
    done += row.find("|done|") != std::string::npos;
  }
  CHECK(rejected > 0);
  CHECK(done > 0);
  // The controller ran in Pareto mode: its checkpoints name the option.
  CHECK(query_rows(dir / "a",
                   "SELECT count(*) FROM checkpoints WHERE "
                   "instr(state, CAST('evolution.pareto_costs' AS BLOB)) > 0")
            .at(0) != "0");

  // Three kills, each once the run has stored 1 or 2 more finished candidates than before it
  // started (the kill point is read from the database, never from a clock), with at least 4
  // candidates left so that the run cannot end first.
  cf::Rng rng(std::random_device{}());
  write_file(dir / "b.ini", tiny_config(dir / "data", dir / "b", candidates, 2));
  std::vector<std::string> args{"search", (dir / "b.ini").string()};
  for (const char* s : {"objective.mode=pareto", "objective.pareto=params"})
    args.insert(args.end(), {"--set", s});
  args.insert(args.end(), {"--set", "objective.max_params=" + std::to_string(params[2])});
  int kills = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int before = finished_count(dir / "b");
    const int target = std::min(before + 1 + rng.uniform_int(2), candidates - 4);
    REQUIRE(target > before);
    const pid_t pid = spawn_cellforge(args);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    bool reached = false;
    while (!reached && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      reached = finished_count(dir / "b") >= target;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform_int(30)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    INFO("attempt " << attempt << ": kill point " << target << " finished candidates");
    CHECK(reached);
    kills += WIFSIGNALED(status);
    args = {"resume", (dir / "b").string()};
  }
  CHECK(kills == 3);
  const auto b = run_cellforge("resume " + (dir / "b").string());
  INFO(b.out);
  REQUIRE(b.exit_code == 0);
  CHECK(candidate_rows(dir / "b") == expected);
}

TEST_CASE("top --pareto, export --pareto and the report show the front of the stored rows",
          "[campaign][objective][pareto][top]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "p.ini", tiny_config(dir / "data", dir / "p", 16, 2));
  const auto p = run_cellforge("search " + (dir / "p.ini").string() +
                               " --set objective.mode=pareto --set objective.pareto=params");
  INFO(p.out);
  REQUIRE(p.exit_code == 0);

  // The campaign's own objectives by default, another with --objectives.
  const auto top = run_cellforge("top " + (dir / "p").string() + " --pareto --json");
  REQUIRE(top.exit_code == 0);
  const nlohmann::json front = nlohmann::json::parse(top.out);
  CHECK(front.at("objectives") == nlohmann::json({"accuracy", "params"}));
  const auto by_params = evaluated(dir / "p", "params");
  CHECK(front.at("considered") == by_params.size());
  CHECK(front.at("unmeasured") == 0);
  const std::vector<long long> expected = brute_front(by_params);
  REQUIRE_FALSE(expected.empty());
  CHECK(json_front_ids(front) == expected);
  for (const auto& m : front.at("front")) {
    CHECK(m.at("latency_ms").is_null());  // not measured here
    CHECK(m.contains("macs"));
    CHECK(m.at("genotype").contains("normal"));
  }
  const auto by_macs =
      run_cellforge("top " + (dir / "p").string() + " --pareto --objectives macs --json");
  REQUIRE(by_macs.exit_code == 0);
  const nlohmann::json macs_front = nlohmann::json::parse(by_macs.out);
  CHECK(macs_front.at("objectives") == nlohmann::json({"accuracy", "macs"}));
  CHECK(json_front_ids(macs_front) == brute_front(evaluated(dir / "p", "macs")));
  const auto table = run_cellforge("top " + (dir / "p").string() + " --pareto");
  CHECK(table.out.find("Pareto front over accuracy and params: " + std::to_string(expected.size()) +
                       " of " + std::to_string(by_params.size()) + " evaluated candidates") !=
        std::string::npos);
  const auto bad = run_cellforge("top " + (dir / "p").string() + " --pareto --objectives flops");
  CHECK(bad.exit_code == 2);
  CHECK(bad.out.find("--objectives: 'flops' is not one of params, macs, latency") !=
        std::string::npos);

  // One file set per front cell, named by its place on the front and its hash.
  const auto exported = run_cellforge("export " + (dir / "p").string() +
                                      " --pareto --format json -o " + (dir / "out").string());
  INFO(exported.out);
  REQUIRE(exported.exit_code == 0);
  std::set<std::string> files, wanted;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "out"))
    files.insert(entry.path().filename().string());
  for (size_t k = 0; k < expected.size(); ++k) {
    const std::string hash = front.at("front")[k].at("hash");
    wanted.insert("front" + std::to_string(k + 1) + "_" + hash + ".json");
    const nlohmann::json genotype = nlohmann::json::parse(
        read_file(dir / "out" / ("front" + std::to_string(k + 1) + "_" + hash + ".json")));
    CHECK(genotype.at("normal") == front.at("front")[k].at("genotype").at("normal"));
  }
  CHECK(files == wanted);

  // The report marks the same candidates and lists them in its front table.
  REQUIRE(run_cellforge("report " + (dir / "p").string() + " -o " + (dir / "r.html").string())
              .exit_code == 0);
  const std::string html = read_file(dir / "r.html");
  const size_t table_at = html.find("<table id=\"front\">");
  REQUIRE(table_at != std::string::npos);
  const std::string front_table = html.substr(table_at, html.find("</table>", table_at) - table_at);
  std::vector<long long> listed;
  for (size_t at = front_table.find("<tr><td>"); at != std::string::npos;
       at = front_table.find("<tr><td>", at + 1))
    listed.push_back(std::stoll(front_table.substr(at + 8)));
  CHECK(listed == expected);
  CHECK(html.find("Pareto front over accuracy, params (" + std::to_string(expected.size()) +
                  " candidates)") != std::string::npos);

  // A scalar campaign's front is over params.
  write_file(dir / "s.ini", tiny_config(dir / "data", dir / "s", 6, 2));
  REQUIRE(run_cellforge("search " + (dir / "s.ini").string()).exit_code == 0);
  const auto scalar = run_cellforge("top " + (dir / "s").string() + " --pareto --json");
  REQUIRE(scalar.exit_code == 0);
  const nlohmann::json scalar_front = nlohmann::json::parse(scalar.out);
  CHECK(scalar_front.at("objectives") == nlohmann::json({"accuracy", "params"}));
  CHECK(json_front_ids(scalar_front) == brute_front(evaluated(dir / "s", "params")));
}

TEST_CASE(
    "in a latency Pareto campaign a trained candidate without a latency is observed as "
    "failed, with a warning",
    "[campaign][objective][pareto]") {
  TempDir dir;
  write_tiny_idx(dir / "data", 256);
  write_file(dir / "l.ini", tiny_config(dir / "data", dir / "l", 6, 2));
  const auto run = run_cellforge("search " + (dir / "l.ini").string() +
                                 " --set objective.mode=pareto --set objective.pareto=latency");
  INFO(run.out);
  REQUIRE(run.exit_code == 0);
  const std::string log = read_file(dir / "l" / "campaign.log");
  int without = 0;
  for (const auto& row :
       query_rows(dir / "l", "SELECT id, metrics FROM candidates WHERE status = 'done'")) {
    const auto bar = row.find('|');
    const std::string id = row.substr(0, bar);
    const nlohmann::json metrics = nlohmann::json::parse(row.substr(bar + 1));
    const bool measured = metrics.contains("latency") && metrics["latency"].is_object() &&
                          metrics["latency"].contains("median_ms");
    without += !measured;
    INFO("candidate " << id);
    // Either way the stored row keeps its accuracy; only the controller's view differs.
    CHECK((log.find("candidate " + id + ": no latency measurement") != std::string::npos) ==
          !measured);
  }
  // top --pareto leaves the unmeasured ones out and says how many.
  const nlohmann::json front =
      nlohmann::json::parse(run_cellforge("top " + (dir / "l").string() + " --pareto --json").out);
  CHECK(front.at("objectives") == nlohmann::json({"accuracy", "latency"}));
  CHECK(front.at("unmeasured") == without);
}

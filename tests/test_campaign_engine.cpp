// The campaign engine as a library: outcomes, callbacks, stop and resume, duplicates, failures.
// NAS-Bench-201 campaigns on synthetic tables are looked up in process, so these run in seconds.
#include <catch2/catch.hpp>
#include <cstdio>
#include <set>
#include <sstream>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "search/campaign.h"
#include "space/nb201.h"

using cf::test::candidate_rows;
using cf::test::query_rows;
using cf::test::TempDir;
using cf::test::write_file;

namespace {

// Rows for the architectures with dense index in [0, count): accuracy grows with convolutions.
std::string synthetic_table(int count) {
  const cf::Nb201Space space;
  std::ostringstream out;
  out << "index,arch,cifar10_valid_12ep,cifar10_test_12ep,cifar100_valid_12ep,cifar100_test_12ep,"
         "imagenet16_valid_12ep,imagenet16_test_12ep,cifar10_test_200ep,cifar100_test_200ep,"
         "imagenet16_test_200ep\n";
  for (int i = 0; i < count; ++i) {
    const cf::DecisionSeq seq = space.from_dense_index(i);
    double v = 40;
    for (int op : seq) v += op == 3 ? 8 : op == 2 ? 5 : op;
    char line[512];
    std::snprintf(line, sizeof line, "%d,%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f\n", i,
                  space.arch_string(seq).c_str(), v, v, v / 2, v / 2, v / 4, v / 4, v + 5,
                  v / 2 + 5, v / 4 + 5);
    out << line;
  }
  return out.str();
}

cf::CampaignConfig nb201_config(const TempDir& dir, int table_rows, const std::string& strategy,
                                int candidates) {
  write_file(dir / "t.csv", synthetic_table(table_rows));
  write_file(dir / "c.ini",
             "[campaign]\ndir = " + (dir / "run").string() + "\nseed = 5\n[space]\ntype = nb201\n" +
                 "[controller]\nstrategy = " + strategy + "\npopulation = 4\nsample_size = 2\n" +
                 "[proxy]\ntable = " + (dir / "t.csv").string() +
                 "\n[budget]\ncandidates = " + std::to_string(candidates) + "\n");
  return cf::load_config(dir / "c.ini");
}

}  // namespace

TEST_CASE("engine: a finished campaign reports every candidate and its outcome", "[engine]") {
  TempDir dir;
  const cf::CampaignConfig config =
      nb201_config(dir, cf::Nb201Space::kArchitectures, "evolution", 30);
  int stored = 0, progress = 0;
  std::vector<std::string> messages;
  cf::CampaignCallbacks callbacks;
  callbacks.on_candidate = [&](const cf::CandidateRecord& r) {
    ++stored;
    CHECK(r.status != cf::CandidateStatus::pending);
  };
  callbacks.on_progress = [&](const cf::CampaignCallbacks::Progress& p) {
    ++progress;
    CHECK(p.budget == 30);
  };
  callbacks.on_message = [&](const std::string& level, const std::string& text) {
    messages.push_back(level + " " + text);
  };
  const cf::CampaignResult result = cf::run_campaign(config, {}, callbacks);
  CHECK(result.outcome == cf::CampaignOutcome::finished);
  CHECK(result.observed == 30);
  CHECK(stored == 30);
  REQUIRE(result.best);
  CHECK(*result.best->accuracy > 0.5);
  CHECK(candidate_rows(dir / "run").size() == 30);
  CHECK(messages.front().rfind("info campaign", 0) == 0);
  // Evolution's children record the candidate they were mutated from (an earlier one).
  const auto parents = query_rows(dir / "run", "SELECT count(*), sum(parent < id) FROM candidates WHERE parent IS NOT NULL");
  REQUIRE(parents.size() == 1);
  CHECK(parents[0].substr(0, parents[0].find('|')) != "0");
  CHECK(parents[0].substr(0, parents[0].find('|')) == parents[0].substr(parents[0].find('|') + 1));
  // Every reused result is a successful one, of the same architecture.
  for (const auto& row :
       query_rows(dir / "run",
                  "SELECT c.hash = o.hash, o.status FROM candidates c JOIN candidates o "
                  "ON c.reused_from = o.id"))
    CHECK(row == "1|done");
}

TEST_CASE(
    "engine: stop_requested stops with everything stored, resume ends as an uninterrupted run",
    "[engine]") {
  TempDir whole, parts;
  const cf::CampaignConfig config_whole =
      nb201_config(whole, cf::Nb201Space::kArchitectures, "evolution", 25);
  REQUIRE(cf::run_campaign(config_whole, {}).outcome == cf::CampaignOutcome::finished);
  const cf::CampaignConfig config =
      nb201_config(parts, cf::Nb201Space::kArchitectures, "evolution", 25);
  int seen = 0;
  cf::CampaignCallbacks stop_after_8;
  stop_after_8.on_candidate = [&](const cf::CandidateRecord&) { ++seen; };
  stop_after_8.stop_requested = [&]() -> std::optional<std::string> {
    if (seen >= 8) return std::string("test");
    return std::nullopt;
  };
  const cf::CampaignResult stopped = cf::run_campaign(config, {}, stop_after_8);
  CHECK(stopped.outcome == cf::CampaignOutcome::stopped);
  CHECK(stopped.observed < 25);
  cf::CampaignRunOptions resume;
  resume.resume = true;
  CHECK(cf::run_campaign(config, resume).outcome == cf::CampaignOutcome::finished);
  CHECK(candidate_rows(parts / "run") == candidate_rows(whole / "run"));
  CHECK(query_rows(parts / "run", "SELECT count(*) FROM events WHERE kind = 'interrupted'") ==
        std::vector<std::string>{"1"});
}

TEST_CASE("engine: failures are never reused, all failed is an outcome", "[engine]") {
  TempDir half;
  // Half the architectures missing from the table: their candidates fail ("not in the table").
  const cf::CampaignConfig config =
      nb201_config(half, cf::Nb201Space::kArchitectures / 2, "evolution", 40);
  const cf::CampaignResult result = cf::run_campaign(config, {});
  CHECK(result.outcome == cf::CampaignOutcome::finished);
  const auto failed =
      query_rows(half / "run", "SELECT count(*) FROM candidates WHERE status = 'failed'");
  REQUIRE(failed.size() == 1);
  CHECK(std::stoi(failed[0]) > 0);
  CHECK(query_rows(half / "run",
                   "SELECT count(*) FROM candidates c JOIN candidates o ON c.reused_from = o.id "
                   "WHERE o.status != 'done'") == std::vector<std::string>{"0"});
  TempDir none;
  const cf::CampaignConfig config_none = nb201_config(none, 1, "random", 5);
  const cf::CampaignResult all_failed = cf::run_campaign(config_none, {});
  CHECK(all_failed.outcome == cf::CampaignOutcome::all_failed);
  REQUIRE(all_failed.first_failure);
  CHECK(!all_failed.best);
}

TEST_CASE("engine: errors before the run touch nothing", "[engine]") {
  TempDir dir;
  cf::CampaignConfig config = nb201_config(dir, 10, "random", 3);
  write_file(dir / "t.csv", "broken\n");
  CHECK_THROWS(cf::run_campaign(config, {}));
  CHECK(!std::filesystem::exists(dir / "run" / "results.sqlite"));
  cf::CampaignRunOptions resume;
  resume.resume = true;
  CHECK_THROWS_WITH(cf::run_campaign(nb201_config(dir, 10, "random", 3), resume),
                    Catch::Contains("no results database"));
}

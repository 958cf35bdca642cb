// search/front.h: cost names, a stored candidate's costs (latency from its metrics), and a
// campaign's front over stored rows: evaluated candidates only, unmeasured latency left out and
// counted.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "search/front.h"

using cf::CandidateRecord;
using cf::CandidateStatus;
using cf::CostKind;

namespace {

CandidateRecord row(int64_t id, CandidateStatus status, double accuracy, int64_t params,
                    const std::string& metrics = "") {
  CandidateRecord r;
  r.id = id;
  r.hash = std::string(15, '0') + std::to_string(id % 10);
  r.genotype = "{}";
  r.status = status;
  if (status == CandidateStatus::done) r.accuracy = accuracy;
  r.params = params;
  r.macs = 1000 - params;  // the opposite order: every candidate trades params for MACs
  r.metrics = metrics;
  r.observed = true;
  return r;
}

std::string latency(double ms) {
  return nlohmann::json{{"latency", {{"median_ms", ms}, {"runs", 50}}}}.dump();
}

std::vector<int64_t> ids(const cf::CampaignFront& front) {
  std::vector<int64_t> out;
  for (const auto& m : front.members) out.push_back(m.record.id);
  return out;
}

}  // namespace

TEST_CASE("cost lists: one or two known names, errors say what is valid", "[objective][front]") {
  CHECK(cf::parse_cost_list("params") == std::vector<CostKind>{CostKind::params});
  CHECK(cf::parse_cost_list(" latency , macs ") ==
        std::vector<CostKind>{CostKind::latency, CostKind::macs});
  CHECK(cf::cost_list_text({CostKind::macs, CostKind::params}) == "macs,params");
  CHECK_THROWS_WITH(cf::parse_cost_list("size"), "'size' is not one of params, macs, latency");
  CHECK_THROWS_WITH(cf::parse_cost_list("macs,macs"), "'macs' is listed twice");
  CHECK_THROWS_WITH(cf::parse_cost_list(""), "'' is not one or two of params, macs, latency");
  CHECK_THROWS_WITH(cf::parse_cost_list("params,macs,latency"),
                    Catch::Contains("is not one or two of"));
}

TEST_CASE("latency comes from metrics.latency.median_ms, else it is unknown",
          "[objective][front]") {
  CHECK(cf::latency_ms(nlohmann::json::parse(latency(1.25))) == 1.25);
  CHECK_FALSE(cf::latency_ms(nlohmann::json::object()));
  CHECK_FALSE(cf::latency_ms(nlohmann::json::parse(R"({"latency": 3})")));
  CHECK_FALSE(cf::latency_ms(nlohmann::json::parse(R"({"latency": {"median_ms": "fast"}})")));
  CHECK_FALSE(cf::latency_ms(nlohmann::json::parse(R"({"latency": {"median_ms": -1}})")));
  const CandidateRecord r = row(1, CandidateStatus::done, 0.5, 300);
  const nlohmann::json none = nlohmann::json::object();
  CHECK(cf::candidate_cost(r, CostKind::params, none) == 300.0);
  CHECK(cf::candidate_cost(r, CostKind::macs, none) == 700.0);
  CHECK_FALSE(cf::candidate_cost(r, CostKind::latency, none));
  CHECK(cf::candidate_cost(r, CostKind::latency, nlohmann::json::parse(latency(2))) == 2.0);
}

TEST_CASE("a campaign's front: evaluated candidates, best accuracy first, unmeasured left out",
          "[objective][front]") {
  cf::test::TempDir dir;
  const auto file = dir / "results.sqlite";
  {
    cf::ResultsStore store(file, cf::StoreAccess::create);
    CandidateRecord duplicate = row(7, CandidateStatus::done, 0.95, 100, latency(0.1));
    duplicate.reused_from = 2;  // a reused result is not a second candidate on the front
    store.commit({row(1, CandidateStatus::done, 0.80, 500, latency(1.0)),
                  row(2, CandidateStatus::done, 0.90, 600, latency(3.0)),
                  row(3, CandidateStatus::done, 0.70, 200, latency(2.0)),
                  row(4, CandidateStatus::done, 0.70, 200),  // equal to 3, latency not measured
                  row(5, CandidateStatus::done, 0.60, 400, latency(0.5)),
                  row(6, CandidateStatus::failed, 0, 10), duplicate,
                  row(8, CandidateStatus::rejected, 0, 5)},
                 std::vector<uint8_t>{1});
  }
  const cf::ResultsStore store(file, cf::StoreAccess::read);
  // params: 1 (500) is beaten by nothing (2 is more accurate but larger), 5 (400) is beaten by
  // 3 (200, more accurate); 3 and 4 are equal points and share the front.
  const cf::CampaignFront by_params = cf::campaign_front(store, {CostKind::params});
  CHECK(ids(by_params) == std::vector<int64_t>{2, 1, 3, 4});
  CHECK(by_params.considered == 5);
  CHECK(by_params.unmeasured == 0);
  CHECK(by_params.members[0].latency_ms == 3.0);
  CHECK_FALSE(by_params.members[3].latency_ms);
  // latency: candidate 4 is left out and counted; 3 (2.0 ms) is beaten by 1 (1.0 ms, 0.80).
  const cf::CampaignFront by_latency = cf::campaign_front(store, {CostKind::latency});
  CHECK(ids(by_latency) == std::vector<int64_t>{2, 1, 5});
  CHECK(by_latency.considered == 4);
  CHECK(by_latency.unmeasured == 1);
  // Both: 3 comes back (smallest), 5 stays (fastest).
  CHECK(ids(cf::campaign_front(store, {CostKind::params, CostKind::latency})) ==
        std::vector<int64_t>{2, 1, 3, 5});
}

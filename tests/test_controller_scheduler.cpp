// Successive halving's decisions (controller/scheduler.h): rungs, ASHA's promotion rule, the
// Hyperband brackets, failures, and when a checkpoint can no longer be continued.
#include <algorithm>
#include <catch2/catch.hpp>
#include <stdexcept>

#include "controller/scheduler.h"

using cf::SchedulerKind;
using cf::SchedulerOptions;
using cf::SuccessiveHalving;

namespace {

SchedulerOptions asha(int eta, int min_epochs, int max_epochs) {
  return {SchedulerKind::asha, eta, min_epochs, max_epochs};
}

}  // namespace

TEST_CASE("rungs are min * eta^k below the maximum, then the maximum", "[scheduler]") {
  CHECK(cf::rung_epochs(asha(3, 1, 9)) == std::vector<int>{1, 3, 9});
  CHECK(cf::rung_epochs(asha(3, 1, 10)) == std::vector<int>{1, 3, 9, 10});
  CHECK(cf::rung_epochs(asha(2, 1, 4)) == std::vector<int>{1, 2, 4});
  CHECK(cf::rung_epochs(asha(4, 2, 5)) == std::vector<int>{2, 5});
  CHECK(cf::rung_epochs(asha(3, 4, 4)) == std::vector<int>{4});
  CHECK_THROWS_AS(cf::rung_epochs(asha(1, 1, 9)), std::invalid_argument);
  CHECK_THROWS_AS(cf::rung_epochs(asha(3, 0, 9)), std::invalid_argument);
  CHECK_THROWS_AS(cf::rung_epochs(asha(3, 5, 4)), std::invalid_argument);
}

TEST_CASE("ASHA promotes a candidate once it is in the top 1/eta of its rung", "[scheduler]") {
  SuccessiveHalving sh(asha(3, 1, 9));
  REQUIRE(sh.brackets() == 1);
  for (int64_t c = 1; c <= 9; ++c) sh.add(c, sh.next_bracket());
  sh.record(1, 0, 0.50);
  sh.record(2, 0, 0.70);
  CHECK_FALSE(sh.next_promotion());  // floor(2 / 3) = 0 may go up
  sh.record(3, 0, 0.60);
  auto p = sh.next_promotion();  // floor(3 / 3) = 1: the best, candidate 2
  REQUIRE(p);
  CHECK(p->candidate == 2);
  CHECK(p->rung == 1);
  CHECK_FALSE(sh.next_promotion());  // promoted once only
  sh.record(4, 0, 0.90);
  sh.record(5, 0, 0.10);
  p = sh.next_promotion();  // 5 results, top 1 = {4}: the new best goes up at once
  REQUIRE(p);
  CHECK(p->candidate == 4);
  sh.record(6, 0, 0.20);
  CHECK_FALSE(sh.next_promotion());  // 6 results: top 2 = {4, 2}, both already up
  // Higher rungs are served first: three results at rung 1 promote their best to rung 2.
  sh.record(2, 1, 0.80);
  sh.record(4, 1, 0.85);
  sh.record(7, 0, 0.95);
  sh.record(8, 0, 0.30);
  sh.record(9, 0, 0.40);  // rung 0: 9 results, top 3 = {7, 4, 2}: 7 may go up
  CHECK_FALSE(sh.next_promotion().value().candidate != 7);
  CHECK(sh.rung_counts() == std::vector<int64_t>{9, 2, 0});
}

TEST_CASE("the promotion order does not depend on the order results are recorded", "[scheduler]") {
  const std::vector<std::pair<int64_t, double>> results{{1, 0.3}, {2, 0.9}, {3, 0.5},
                                                        {4, 0.5}, {5, 0.1}, {6, 0.7}};
  auto promotions = [&](std::vector<std::pair<int64_t, double>> order) {
    SuccessiveHalving sh(asha(2, 1, 4));
    for (int64_t c = 1; c <= 6; ++c) sh.add(c, 0);
    for (const auto& [c, score] : order) sh.record(c, 0, score);
    std::vector<int64_t> out;
    while (auto p = sh.next_promotion()) out.push_back(p->candidate);
    return out;
  };
  auto reversed = results;
  std::reverse(reversed.begin(), reversed.end());
  CHECK(promotions(results) == std::vector<int64_t>{2, 6, 3});  // ties (3, 4) by candidate id
  CHECK(promotions(reversed) == promotions(results));
}

TEST_CASE("a failed evaluation counts in its rung but is never promoted", "[scheduler]") {
  SuccessiveHalving sh(asha(2, 1, 2));
  for (int64_t c = 1; c <= 4; ++c) sh.add(c, 0);
  sh.record(1, 0, std::nullopt);
  sh.record(2, 0, std::nullopt);
  CHECK_FALSE(sh.next_promotion());
  sh.record(3, 0, 0.4);
  sh.record(4, 0, 0.2);
  auto p = sh.next_promotion();
  REQUIRE(p);
  CHECK(p->candidate == 3);
  p = sh.next_promotion();
  REQUIRE(p);
  CHECK(p->candidate == 4);
  CHECK_FALSE(sh.next_promotion());
  CHECK_FALSE(sh.may_promote(1, 0, 100));
}

TEST_CASE("Hyperband assigns brackets in turn, each starting a rung higher", "[scheduler]") {
  SuccessiveHalving sh({SchedulerKind::hyperband, 3, 1, 27});
  REQUIRE(sh.rungs() == std::vector<int>{1, 3, 9, 27});
  REQUIRE(sh.brackets() == 3);
  for (int64_t c = 1; c <= 6; ++c) {
    CHECK(sh.next_bracket() == (c - 1) % 3);
    sh.add(c, sh.next_bracket());
  }
  CHECK(sh.start_rung(0) == 0);
  CHECK(sh.start_rung(2) == 2);
  CHECK(sh.bracket_of(6) == 2);
  // Bracket 2 starts at rung 2 (9 epochs): its results compete only with each other.
  sh.record(3, 2, 0.5);
  sh.record(6, 2, 0.6);
  sh.record(1, 0, 0.99);
  CHECK_FALSE(sh.next_promotion());
}

TEST_CASE("may_promote is false once a rank can never reach the top 1/eta", "[scheduler]") {
  SuccessiveHalving sh(asha(3, 1, 9));
  for (int64_t c = 1; c <= 9; ++c) sh.add(c, 0);
  for (int64_t c = 1; c <= 9; ++c) sh.record(c, 0, 0.1 * static_cast<double>(c));
  // With at most 9 candidates, rung 0 promotes 3: candidates 9, 8, 7.
  CHECK(sh.may_promote(7, 0, 9));
  CHECK_FALSE(sh.may_promote(6, 0, 9));
  CHECK(sh.may_promote(6, 0, 12));       // a larger budget: rank 4 may still go up
  CHECK_FALSE(sh.may_promote(9, 2, 9));  // the top rung continues nowhere
  sh.mark_promoted(9, 0);
  CHECK_FALSE(sh.may_promote(9, 0, 9));  // its checkpoint now belongs to rung 1
}

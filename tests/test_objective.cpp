// [objective] arithmetic: size caps and the soft MnasNet-style reward.
#include <catch2/catch.hpp>
#include <cmath>

#include "search/objective.h"

TEST_CASE("cap_violation names the first cap a network is over", "[objective]") {
  cf::ObjectiveOptions none;
  CHECK_FALSE(none.has_caps());
  CHECK_FALSE(cf::cap_violation(none, 1'000'000'000, 1'000'000'000'000));
  cf::ObjectiveOptions caps;
  caps.max_params = 357018;
  caps.max_macs = 5'000'000;
  CHECK(caps.has_caps());
  CHECK_FALSE(cf::cap_violation(caps, 357018, 5'000'000));  // at the cap is allowed
  CHECK(cf::cap_violation(caps, 357019, 1) == "357019 params > max_params 357018");
  CHECK(cf::cap_violation(caps, 1, 5'000'001) == "5000001 MACs > max_macs 5000000");
  CHECK(cf::cap_violation(caps, 400000, 6'000'000) == "400000 params > max_params 357018");
}

TEST_CASE("the soft reward is accuracy times (value / target) ^ w per target", "[objective]") {
  cf::ObjectiveOptions o;
  CHECK_FALSE(o.has_soft_reward());
  CHECK(cf::objective_reward(o, 0.8, 123, 456) == 0.8);  // off: the accuracy itself
  o.soft_target_params = 1000;
  CHECK(o.has_soft_reward());
  CHECK(cf::objective_reward(o, 0.8, 1000, 1) == Approx(0.8));
  CHECK(cf::objective_reward(o, 0.8, 2000, 1) == Approx(0.8 * std::pow(2.0, -0.07)));
  CHECK(cf::objective_reward(o, 0.8, 2000, 1) == Approx(0.7621).epsilon(1e-4));  // 4.7% less
  CHECK(cf::objective_reward(o, 0.8, 500, 1) > 0.8);  // smaller than the target gains
  o.soft_target_macs = 10;
  o.soft_weight = -1;
  CHECK(cf::objective_reward(o, 0.5, 2000, 40) == Approx(0.5 * 0.5 * 0.25));
  // A smaller network wins over a slightly more accurate one twice its size at w = -1.
  CHECK(cf::objective_reward(o, 0.80, 1000, 10) > cf::objective_reward(o, 0.85, 2000, 10));
}

TEST_CASE("the soft reward on latency uses the measured milliseconds", "[objective][latency]") {
  cf::ObjectiveOptions o;
  CHECK_FALSE(o.needs_latency());
  o.soft_target_latency_ms = 2.0;
  CHECK(o.has_soft_reward());
  CHECK(o.needs_latency());  // the worker measures it
  CHECK(cf::objective_reward(o, 0.8, 1, 1, 2.0) == Approx(0.8));
  CHECK(cf::objective_reward(o, 0.8, 1, 1, 4.0) == Approx(0.8 * std::pow(2.0, -0.07)));
  CHECK(cf::objective_reward(o, 0.8, 1, 1, 1.0) > 0.8);
  o.soft_target_params = 100;
  CHECK(cf::objective_reward(o, 0.8, 200, 1, 4.0) == Approx(0.8 * std::pow(4.0, -0.07)));
}

// results/: rank statistics.
#include <catch2/catch.hpp>

#include <cmath>

#include "results/statistics.h"

TEST_CASE("Kendall tau-b", "[results]") {
  CHECK(cf::kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}) == Approx(1.0));
  CHECK(cf::kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}) == Approx(-1.0));
  // 5 pairs concordant, 1 discordant of 6: (5 - 1) / 6.
  CHECK(cf::kendall_tau({1, 2, 3, 4}, {1, 3, 2, 4}) == Approx(4.0 / 6.0));
  // Ties: tau-b = (C - D) / sqrt((C + D + Tx)(C + D + Ty)); x = 1,2,2,3; y = 1,2,3,3:
  // pairs: (1,2) C, (1,3) C, (1,4) C, (2,3) tie x, (2,4) C, (3,4) tie y -> 4 / sqrt(5 * 5).
  CHECK(cf::kendall_tau({1, 2, 2, 3}, {1, 2, 3, 3}) == Approx(4.0 / 5.0));
  CHECK(std::isnan(cf::kendall_tau({1, 1, 1}, {1, 2, 3})));
  CHECK_THROWS(cf::kendall_tau({1, 2}, {1}));
}

// Non-dominated sorting and crowding distance (space/pareto.h) against brute-force references
// written from the definitions, on random point sets with many ties, plus a worked example.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "space/pareto.h"
#include "space/rng.h"

namespace {

using cf::Objectives;

// Rank by definition: peel off, again and again, the points no remaining point dominates.
std::vector<int> brute_ranks(const std::vector<Objectives>& points) {
  std::vector<int> rank(points.size(), -1);
  for (int r = 0;; ++r) {
    std::vector<size_t> peeled;
    for (size_t i = 0; i < points.size(); ++i) {
      if (rank[i] >= 0) continue;
      bool dominated = false;
      for (size_t j = 0; j < points.size(); ++j)
        if (rank[j] < 0 && j != i && cf::dominates(points[j], points[i])) dominated = true;
      if (!dominated) peeled.push_back(i);
    }
    if (peeled.empty()) return rank;
    for (size_t i : peeled) rank[i] = r;
  }
}

// Crowding by definition: a point's place in its rank's order for objective m is the number of
// rank members before it (smaller value, or equal value and smaller index); its neighbours are
// the members one place before and after.
std::vector<double> brute_crowding(const std::vector<Objectives>& points,
                                   const std::vector<int>& ranks) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> distance(points.size(), 0.0);
  for (size_t i = 0; i < points.size(); ++i) {
    std::vector<size_t> rank_members;
    for (size_t j = 0; j < points.size(); ++j)
      if (ranks[j] == ranks[i]) rank_members.push_back(j);
    for (size_t m = 0; m < points[i].size(); ++m) {
      auto place = [&](size_t j) {
        size_t before = 0;
        for (size_t k : rank_members)
          before += points[k][m] < points[j][m] || (points[k][m] == points[j][m] && k < j);
        return before;
      };
      auto at = [&](size_t p) {
        for (size_t k : rank_members)
          if (place(k) == p) return k;
        FAIL("no member at place " << p);
        return size_t{0};
      };
      double lo = points[i][m], hi = points[i][m];
      for (size_t k : rank_members)
        lo = std::min(lo, points[k][m]), hi = std::max(hi, points[k][m]);
      const size_t p = place(i);
      if (p == 0 || p + 1 == rank_members.size()) {
        distance[i] = inf;
      } else if (hi > lo) {
        distance[i] += (points[at(p + 1)][m] - points[at(p - 1)][m]) / (hi - lo);
      }
    }
  }
  return distance;
}

// n points of `dims` objectives on a coarse grid, so that equal values and equal points abound.
std::vector<Objectives> random_points(cf::Rng& rng, int n, int dims, int grid) {
  std::vector<Objectives> points(n, Objectives(dims));
  for (auto& p : points)
    for (double& v : p) v = rng.uniform_int(grid) * 0.5 - 1.0;
  return points;
}

}  // namespace

TEST_CASE("dominance: no worse everywhere and better somewhere", "[pareto]") {
  CHECK(cf::dominates({1, 2}, {1, 3}));
  CHECK(cf::dominates({0, 2}, {1, 3}));
  CHECK_FALSE(cf::dominates({1, 3}, {1, 3}));  // equal points
  CHECK_FALSE(cf::dominates({0, 4}, {1, 3}));  // a trade-off
  CHECK_FALSE(cf::dominates({1, 3}, {1, 2}));
}

TEST_CASE("non-dominated ranks and crowding of a worked example", "[pareto]") {
  // Minimising both: (1,5) (2,3) (3,1) trade off; (3,4) is behind (2,3); (4,4) behind (3,4);
  // (5,5) behind (4,4); (2,3) again is equal to point 1.
  const std::vector<Objectives> points = {{1, 5}, {2, 3}, {3, 1}, {3, 4}, {4, 4}, {5, 5}, {2, 3}};
  CHECK(cf::nondominated_ranks(points) == std::vector<int>{0, 0, 0, 1, 2, 3, 0});
  const auto crowding = cf::crowding_distances(points, cf::nondominated_ranks(points));
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(crowding[0] == inf);
  CHECK(crowding[2] == inf);
  // Objective 0 sorts the front 0, 1, 6, 2 (ties by index), objective 1 sorts it 2, 1, 6, 0:
  // point 1 sits between 0 and 6, then between 2 and 6: (2 - 1) / 2 + (3 - 1) / 4.
  CHECK(crowding[1] == Approx(1.0));
  // Point 6: between 1 and 2 in objective 0, between 1 and 0 in objective 1: 1/2 + 2/4.
  CHECK(crowding[6] == Approx(1.0));
  CHECK(crowding[3] == inf);  // alone in its rank
  CHECK(cf::pareto_front(points) == std::vector<size_t>{0, 1, 2, 6});
  CHECK(cf::nsga_order(points) == std::vector<size_t>{0, 2, 1, 6, 3, 4, 5});
}

TEST_CASE("non-dominated sorting and crowding match brute force on random sets with ties",
          "[pareto]") {
  cf::Rng rng(2024);
  for (int trial = 0; trial < 400; ++trial) {
    const int n = rng.uniform_int(25);
    const int dims = 1 + rng.uniform_int(3);
    const int grid = 2 + rng.uniform_int(6);
    const std::vector<Objectives> points = random_points(rng, n, dims, grid);
    INFO("trial " << trial << ": " << n << " points, " << dims << " objectives, grid " << grid);
    const std::vector<int> ranks = cf::nondominated_ranks(points);
    REQUIRE(ranks == brute_ranks(points));
    const std::vector<double> crowding = cf::crowding_distances(points, ranks);
    const std::vector<double> expected = brute_crowding(points, ranks);
    for (int i = 0; i < n; ++i) {
      INFO("point " << i);
      // Same sums in the same order: the same bits.
      CHECK(crowding[i] == expected[i]);
    }
    std::vector<size_t> front;
    for (int i = 0; i < n; ++i)
      if (ranks[i] == 0) front.push_back(i);
    CHECK(cf::pareto_front(points) == front);
    // NSGA-II order: a permutation sorted by rank, then crowding (larger first), then index.
    const std::vector<size_t> order = cf::nsga_order(points);
    REQUIRE(order.size() == static_cast<size_t>(n));
    std::vector<bool> seen(n, false);
    for (size_t i : order) seen.at(i) = true;
    CHECK(std::find(seen.begin(), seen.end(), false) == seen.end());
    for (size_t k = 1; k < order.size(); ++k) {
      const size_t a = order[k - 1], b = order[k];
      const bool ordered = ranks[a] < ranks[b] ||
                           (ranks[a] == ranks[b] &&
                            (crowding[a] > crowding[b] || (crowding[a] == crowding[b] && a < b)));
      CHECK(ordered);
    }
  }
}

TEST_CASE("pareto functions refuse points of different sizes and non-finite objectives",
          "[pareto]") {
  CHECK(cf::nondominated_ranks({}).empty());
  CHECK(cf::nsga_order({}).empty());
  CHECK_THROWS_AS(cf::nondominated_ranks({{1, 2}, {1}}), std::invalid_argument);
  CHECK_THROWS_WITH(cf::pareto_front({{1, 2}, {std::nan(""), 1}}),
                    Catch::Contains("point 1") && Catch::Contains("not finite"));
  CHECK_THROWS_AS(cf::crowding_distances({{1}}, {}), std::invalid_argument);
}

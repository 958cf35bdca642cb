#include "space/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace cf {

namespace {

void require_comparable(const std::vector<Objectives>& points) {
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].size() != points.front().size())
      throw std::invalid_argument("pareto: point " + std::to_string(i) + " has " +
                                  std::to_string(points[i].size()) + " objectives, point 0 has " +
                                  std::to_string(points.front().size()));
    for (double v : points[i])
      if (!std::isfinite(v))
        throw std::invalid_argument("pareto: point " + std::to_string(i) +
                                    " has an objective that is not finite");
  }
}

}  // namespace

bool dominates(const Objectives& a, const Objectives& b) {
  bool better_somewhere = false;
  for (size_t m = 0; m < a.size(); ++m) {
    if (a[m] > b[m]) return false;
    if (a[m] < b[m]) better_somewhere = true;
  }
  return better_somewhere;
}

// Deb's fast non-dominated sort: each point's dominators are counted once (O(M N^2)), then the
// fronts are peeled off one after another.
std::vector<int> nondominated_ranks(const std::vector<Objectives>& points) {
  require_comparable(points);
  const size_t n = points.size();
  std::vector<std::vector<size_t>> dominated(n);  // the points each point dominates
  std::vector<size_t> dominators(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      if (dominates(points[i], points[j])) {
        dominated[i].push_back(j);
        ++dominators[j];
      } else if (dominates(points[j], points[i])) {
        dominated[j].push_back(i);
        ++dominators[i];
      }
    }
  std::vector<int> rank(n, -1);
  std::vector<size_t> current;
  for (size_t i = 0; i < n; ++i)
    if (dominators[i] == 0) current.push_back(i);
  for (int r = 0; !current.empty(); ++r) {
    std::vector<size_t> next;
    for (size_t i : current) {
      rank[i] = r;
      for (size_t j : dominated[i])
        if (--dominators[j] == 0) next.push_back(j);
    }
    current = std::move(next);
  }
  return rank;
}

std::vector<double> crowding_distances(const std::vector<Objectives>& points,
                                       const std::vector<int>& ranks) {
  require_comparable(points);
  if (ranks.size() != points.size())
    throw std::invalid_argument("pareto: " + std::to_string(ranks.size()) + " ranks for " +
                                std::to_string(points.size()) + " points");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> distance(points.size(), 0.0);
  const int max_rank = points.empty() ? -1 : *std::max_element(ranks.begin(), ranks.end());
  const size_t dims = points.empty() ? 0 : points.front().size();
  for (int r = 0; r <= max_rank; ++r) {
    std::vector<size_t> members;
    for (size_t i = 0; i < points.size(); ++i)
      if (ranks[i] == r) members.push_back(i);
    if (members.empty()) continue;
    for (size_t m = 0; m < dims; ++m) {
      // Ties by index (a stable sort of index order): the same points are the boundaries on
      // every run.
      std::vector<size_t> sorted = members;
      std::stable_sort(sorted.begin(), sorted.end(),
                       [&](size_t a, size_t b) { return points[a][m] < points[b][m]; });
      const double spread = points[sorted.back()][m] - points[sorted.front()][m];
      distance[sorted.front()] = kInf;
      distance[sorted.back()] = kInf;
      if (spread <= 0) continue;
      for (size_t k = 1; k + 1 < sorted.size(); ++k)
        distance[sorted[k]] += (points[sorted[k + 1]][m] - points[sorted[k - 1]][m]) / spread;
    }
  }
  return distance;
}

bool nsga_better(const NsgaKey& a, const NsgaKey& b) {
  if (a.rank != b.rank) return a.rank < b.rank;
  return a.crowding > b.crowding;
}

std::vector<NsgaKey> nsga_keys(const std::vector<Objectives>& points) {
  const std::vector<int> ranks = nondominated_ranks(points);
  const std::vector<double> crowding = crowding_distances(points, ranks);
  std::vector<NsgaKey> keys(points.size());
  for (size_t i = 0; i < points.size(); ++i) keys[i] = {ranks[i], crowding[i]};
  return keys;
}

std::vector<size_t> nsga_order(const std::vector<Objectives>& points) {
  const std::vector<NsgaKey> keys = nsga_keys(points);
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return nsga_better(keys[a], keys[b]); });
  return order;
}

std::vector<size_t> pareto_front(const std::vector<Objectives>& points) {
  const std::vector<int> ranks = nondominated_ranks(points);
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i)
    if (ranks[i] == 0) front.push_back(i);
  return front;
}

}  // namespace cf

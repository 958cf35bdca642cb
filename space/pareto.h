#pragma once
// Pareto dominance, non-dominated sorting and crowding distance (Deb et al., "A fast and elitist
// multiobjective genetic algorithm: NSGA-II", 2002) over points whose every objective is
// minimised; a caller that maximises accuracy passes -accuracy.
//
// Plain numbers in, indices out: evolution's Pareto mode (controller/) ranks its population with
// these functions and `top --pareto`, `export --pareto` and the report (search/, results/) compute
// a campaign's front with them. They live in space/, the layer below both, so that "the front"
// is one piece of code everywhere.
#include <cstddef>
#include <vector>

namespace cf {

using Objectives = std::vector<double>;  // one point; every entry is minimised

// a is no worse than b in every objective and better in at least one. Equal points do not
// dominate each other.
bool dominates(const Objectives& a, const Objectives& b);

// The non-dominated rank of each point: 0 for the points no other point dominates (the front),
// 1 for those dominated only by rank-0 points, and so on; equal points share a rank. Throws
// std::invalid_argument when the points differ in dimension or an objective is not finite.
std::vector<int> nondominated_ranks(const std::vector<Objectives>& points);

// The crowding distance of each point among the points of its rank: per objective, the points
// of the rank sorted by value (ties by index); the first and last get infinity, every other one
// adds (next - previous) / (last - first), nothing when the rank does not spread in that
// objective. Larger means more isolated. `ranks` is what nondominated_ranks returned.
std::vector<double> crowding_distances(const std::vector<Objectives>& points,
                                       const std::vector<int>& ranks);

// NSGA-II's crowded comparison: a lower rank first, then a larger crowding distance.
struct NsgaKey {
  int rank = 0;
  double crowding = 0;
};
bool nsga_better(const NsgaKey& a, const NsgaKey& b);
// The key of every point (rank and crowding distance).
std::vector<NsgaKey> nsga_keys(const std::vector<Objectives>& points);

// Every index in NSGA-II order: nsga_better first, ties by index.
std::vector<size_t> nsga_order(const std::vector<Objectives>& points);

// The indices of the rank-0 points, ascending.
std::vector<size_t> pareto_front(const std::vector<Objectives>& points);

}  // namespace cf

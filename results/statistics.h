#pragma once
#include <vector>

namespace cf {

// Kendall's tau-b rank correlation (ties in either variable handled); NaN for fewer than two
// pairs or a constant variable.
double kendall_tau(const std::vector<double>& x, const std::vector<double>& y);

// Ranks 1..n with ties sharing their average rank; NaN counts as the smallest value (a score a
// proxy could not compute ranks last), -inf next.
std::vector<double> average_ranks(const std::vector<double>& x);

// Spearman's rank correlation: Pearson's correlation of the average ranks. NaN for fewer than
// two pairs or a constant variable.
double spearman_rho(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace cf

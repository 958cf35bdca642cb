#pragma once
#include <vector>

namespace cf {

// Kendall's tau-b rank correlation (ties in either variable handled); NaN for fewer than two
// pairs or a constant variable.
double kendall_tau(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace cf

#pragma once
// Reusable finite-difference gradient checker (central differences in double precision).
#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "space/rng.h"

namespace cf::test {

struct GradientCheckOptions {
  double step = 1e-5;      // finite-difference step
  double rtol = 2e-2;      // relative tolerance
  double atol_scale = 2e-3;  // absolute tolerance: share of the largest gradient, plus 1e-6
                             // for float round-off where the true gradient is ~0
  int samples = 8;         // entries checked per tensor (all when the tensor is smaller)
};

// Perturbs sampled entries of x, evaluates loss() at x +- step, and compares the central
// difference with analytic[i]. Returns one line per mismatch (empty when all agree).
inline std::vector<std::string> check_gradient(const std::function<double()>& loss,
                                               std::vector<double>& x,
                                               const std::vector<float>& analytic,
                                               const std::string& name,
                                               const GradientCheckOptions& opts, Rng& rng) {
  std::vector<std::string> failures;
  double scale = 0;
  for (float g : analytic) scale = std::max(scale, std::abs(static_cast<double>(g)));
  std::vector<size_t> entries;
  if (static_cast<int>(x.size()) <= opts.samples) {
    for (size_t i = 0; i < x.size(); ++i) entries.push_back(i);
  } else {
    for (int k = 0; k < opts.samples; ++k)
      entries.push_back(static_cast<size_t>(rng.uniform_int(static_cast<uint64_t>(x.size()))));
  }
  for (size_t i : entries) {
    const double saved = x[i];
    x[i] = saved + opts.step;
    const double up = loss();
    x[i] = saved - opts.step;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * opts.step);
    const double a = analytic[i];
    const double tol = opts.rtol * std::max(std::abs(numeric), std::abs(a)) + opts.atol_scale * scale + 1e-6;
    if (std::abs(numeric - a) > tol) {
      std::ostringstream out;
      out << name << "[" << i << "]: analytic " << a << ", numeric " << numeric << " (tolerance "
          << tol << ")";
      failures.push_back(out.str());
    }
  }
  return failures;
}

}  // namespace cf::test

#include "trainer/linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cf {

double log_abs_determinant(std::vector<double> a, int n) {
  double log_det = 0;
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (std::fabs(a[r * n + col]) > std::fabs(a[pivot * n + col])) pivot = r;
    const double p = a[pivot * n + col];
    if (p == 0.0 || !std::isfinite(p)) return -std::numeric_limits<double>::infinity();
    if (pivot != col)
      for (int c = 0; c < n; ++c) std::swap(a[col * n + c], a[pivot * n + c]);
    log_det += std::log(std::fabs(p));
    for (int r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / p;
      if (f == 0.0) continue;
      for (int c = col; c < n; ++c) a[r * n + c] -= f * a[col * n + c];
    }
  }
  return log_det;
}

std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n) {
  auto at = [&](int r, int c) -> double& { return a[static_cast<size_t>(r) * n + c]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, total = 0;
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) (r == c ? total : off) += at(r, c) * at(r, c);
    if (off <= 1e-30 * (total + off)) break;
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (at(p, q) == 0.0) continue;
        // Rotation that zeroes a(p, q) (Golub & Van Loan, symmetric Schur decomposition).
        const double theta = (at(q, q) - at(p, p)) / (2 * at(p, q));
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double cs = 1 / std::sqrt(t * t + 1), sn = t * cs;
        for (int k = 0; k < n; ++k) {  // columns p and q
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = cs * akp - sn * akq;
          at(k, q) = sn * akp + cs * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p and q
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = cs * apk - sn * aqk;
          at(q, k) = sn * apk + cs * aqk;
        }
      }
  }
  std::vector<double> eigen(n);
  for (int k = 0; k < n; ++k) eigen[k] = at(k, k);
  std::sort(eigen.begin(), eigen.end());
  return eigen;
}

std::vector<double> correlation_matrix(const float* rows, int n, size_t width) {
  std::vector<double> centred(static_cast<size_t>(n) * width);
  for (int r = 0; r < n; ++r) {
    double mean = 0;
    for (size_t j = 0; j < width; ++j) mean += rows[r * width + j];
    mean /= static_cast<double>(width);
    for (size_t j = 0; j < width; ++j) centred[r * width + j] = rows[r * width + j] - mean;
  }
  std::vector<double> cov(static_cast<size_t>(n) * n);
  for (int a = 0; a < n; ++a)
    for (int b = a; b < n; ++b) {
      double dot = 0;
      for (size_t j = 0; j < width; ++j) dot += centred[a * width + j] * centred[b * width + j];
      cov[a * n + b] = cov[b * n + a] = dot;
    }
  std::vector<double> corr(cov.size());
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      const double d = std::sqrt(cov[a * n + a] * cov[b * n + b]);
      corr[a * n + b] = d > 0 ? cov[a * n + b] / d : std::numeric_limits<double>::quiet_NaN();
    }
  return corr;
}

}  // namespace cf

#pragma once
// Small dense linear algebra in double for the zero-cost proxies (matrices of batch x batch,
// row-major): no library dependency for a 64 x 64 problem.
#include <cstddef>
#include <vector>

namespace cf {

// log |det(a)| of an n x n matrix by LU with partial pivoting; -inf when singular.
double log_abs_determinant(std::vector<double> a, int n);

// Eigenvalues of a symmetric n x n matrix (cyclic Jacobi rotations), ascending.
std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n);

// Pearson correlation between the rows of `rows` (n rows of `width` values), as numpy.corrcoef:
// NaN entries for a constant row.
std::vector<double> correlation_matrix(const float* rows, int n, size_t width);

}  // namespace cf

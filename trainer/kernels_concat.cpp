// The fused concat of a NASNet cell's output: sums, concatenation and ReLU in one pass forward,
// the ReLU mask and each input's slice (written or accumulated) in one pass backward.
#include <omp.h>

#include <algorithm>

#include "trainer/kernels.h"
#include "trainer/simd.h"

namespace cf::kernels {

namespace {

// Small batches (inference, latency) also split each image, so both threads get work; the
// result is elementwise, hence the same for any split.
int splits_per_image(int batch) {
  return batch >= 8 ? 1 : 8;
}

// [begin, end) of split `s` of `count` values, on 16-value boundaries.
inline int64_t split_point(int64_t count, int s, int splits) {
  return std::min(count, (count * s / splits + kBlock - 1) / kBlock * kBlock);
}

// dst[i] = (relu of) the sum of terms[k][i], for i in [0, count).
template <typename T>
inline __attribute__((always_inline)) void sum_range(const T* const* terms, int n_terms, T* dst,
                                                     int64_t count, bool relu) {
  const vec16 zero = {};
  int64_t i = 0;
  for (; i + kBlock <= count; i += kBlock) {
    vec16 v = load16(terms[0] + i);
    for (int k = 1; k < n_terms; ++k) v += load16(terms[k] + i);
    if (relu) v = v > zero ? v : zero;
    store16(dst + i, v);
  }
  for (; i < count; ++i) {
    float v = to_float(terms[0][i]);
    for (int k = 1; k < n_terms; ++k) v += to_float(terms[k][i]);
    store(dst + i, relu && !(v > 0.0f) ? 0.0f : v);
  }
}

// diff_src[i] (+)= dst[i] > 0 ? diff_dst[i] : 0, for i in [0, count).
template <typename T>
inline __attribute__((always_inline)) void relu_mask_range(const T* dst, const T* diff_dst,
                                                           T* diff_src, int64_t count,
                                                           bool accumulate) {
  const vec16 zero = {};
  int64_t i = 0;
  for (; i + kBlock <= count; i += kBlock) {
    vec16 g = load16(dst + i) > zero ? load16(diff_dst + i) : zero;
    if (accumulate) g = load16(diff_src + i) + g;
    store16(diff_src + i, g);
  }
  for (; i < count; ++i) {
    float g = to_float(dst[i]) > 0.0f ? to_float(diff_dst[i]) : 0.0f;
    if (accumulate) g += to_float(diff_src[i]);
    store(diff_src + i, g);
  }
}

// One instance per element type, each compiled for AVX-512, AVX2 and the baseline.
__attribute__((target_clones("avx512f", "avx2", "default"))) void sum_dispatch(
    const float* const* terms, int n_terms, float* dst, int64_t count, bool relu) {
  sum_range(terms, n_terms, dst, count, relu);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void sum_dispatch(
    const uint16_t* const* terms, int n_terms, uint16_t* dst, int64_t count, bool relu) {
  sum_range(terms, n_terms, dst, count, relu);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void relu_mask_dispatch(
    const float* dst, const float* diff_dst, float* diff_src, int64_t count, bool accumulate) {
  relu_mask_range(dst, diff_dst, diff_src, count, accumulate);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void relu_mask_dispatch(
    const uint16_t* dst, const uint16_t* diff_dst, uint16_t* diff_src, int64_t count,
    bool accumulate) {
  relu_mask_range(dst, diff_dst, diff_src, count, accumulate);
}

template <typename T>
void concat_sum_any(const std::vector<ConcatPiece>& pieces, T* dst, int64_t dst_per_image,
                    int batch, bool relu) {
  const int count = static_cast<int>(pieces.size());
  const int splits = splits_per_image(batch);
  std::vector<const T*> terms;  // piece p's terms start at first[p]
  std::vector<int> first;
  for (const ConcatPiece& piece : pieces) {
    first.push_back(static_cast<int>(terms.size()));
    for (const void* t : piece.terms) terms.push_back(static_cast<const T*>(t));
  }
#pragma omp parallel for schedule(static)
  for (int item = 0; item < batch * count * splits; ++item) {
    const int s = item % splits, p = item / splits % count, n = item / splits / count;
    const ConcatPiece& piece = pieces[p];
    const int64_t begin = split_point(piece.per_image, s, splits);
    const int64_t end = split_point(piece.per_image, s + 1, splits);
    if (begin >= end) continue;
    const int n_terms = static_cast<int>(piece.terms.size());
    const T* image_terms[8];
    std::vector<const T*> many;  // more than 8 terms: rare, allocated
    const T** at = n_terms <= 8 ? image_terms : (many.resize(n_terms), many.data());
    for (int k = 0; k < n_terms; ++k) at[k] = terms[first[p] + k] + n * piece.per_image + begin;
    sum_dispatch(at, n_terms, dst + n * dst_per_image + piece.offset + begin, end - begin, relu);
  }
}

template <typename T>
void relu_backward_any(const T* dst, const T* diff_dst, int64_t dst_per_image, int64_t offset,
                       T* diff_src, int64_t per_image, int batch, bool accumulate) {
  const int splits = splits_per_image(batch);
#pragma omp parallel for schedule(static)
  for (int item = 0; item < batch * splits; ++item) {
    const int s = item % splits, n = item / splits;
    const int64_t begin = split_point(per_image, s, splits);
    const int64_t end = split_point(per_image, s + 1, splits);
    if (begin >= end) continue;
    const int64_t at = n * dst_per_image + offset + begin;
    relu_mask_dispatch(dst + at, diff_dst + at, diff_src + n * per_image + begin, end - begin,
                       accumulate);
  }
}

}  // namespace

void concat_sum(const std::vector<ConcatPiece>& pieces, float* dst, int64_t dst_per_image,
                int batch, bool relu) {
  concat_sum_any(pieces, dst, dst_per_image, batch, relu);
}

void concat_sum(const std::vector<ConcatPiece>& pieces, uint16_t* dst, int64_t dst_per_image,
                int batch, bool relu) {
  concat_sum_any(pieces, dst, dst_per_image, batch, relu);
}

void relu_backward_piece(const float* dst, const float* diff_dst, int64_t dst_per_image,
                         int64_t offset, float* diff_src, int64_t per_image, int batch,
                         bool accumulate) {
  relu_backward_any(dst, diff_dst, dst_per_image, offset, diff_src, per_image, batch, accumulate);
}

void relu_backward_piece(const uint16_t* dst, const uint16_t* diff_dst, int64_t dst_per_image,
                         int64_t offset, uint16_t* diff_src, int64_t per_image, int batch,
                         bool accumulate) {
  relu_backward_any(dst, diff_dst, dst_per_image, offset, diff_src, per_image, batch, accumulate);
}

}  // namespace cf::kernels

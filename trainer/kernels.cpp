#include "trainer/kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace cf::kernels {

namespace {

constexpr int kBlock = 16;
typedef float vec16 __attribute__((vector_size(64)));

inline vec16 load16(const float* p) {
  vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, vec16 v) { std::memcpy(p, &v, sizeof v); }

// One (channel block, kernel row) item: accumulates a row of kernel_w taps over the whole batch.
// The fixed loop order makes the sum bit-identical for any thread count.
__attribute__((target_clones("avx512f", "avx2", "default"))) void dw_bwd_weights_row(
    const DepthwiseGeometry& g, const float* src, const float* diff_dst, float* diff_weights,
    int block, int kh) {
  const int blocks = (g.channels + kBlock - 1) / kBlock;
  constexpr int kMaxKw = 16;
  vec16 acc[kMaxKw];
  for (int kw = 0; kw < g.kernel_w; ++kw) acc[kw] = vec16{};
  const int64_t src_image = int64_t{blocks} * g.in_h * g.in_w * kBlock;
  const int64_t dst_image = int64_t{blocks} * g.out_h * g.out_w * kBlock;
  for (int n = 0; n < g.batch; ++n) {
    const float* src_block = src + n * src_image + int64_t{block} * g.in_h * g.in_w * kBlock;
    const float* dd_block = diff_dst + n * dst_image + int64_t{block} * g.out_h * g.out_w * kBlock;
    for (int oh = 0; oh < g.out_h; ++oh) {
      const int ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
      if (ih < 0 || ih >= g.in_h) continue;
      const float* src_row = src_block + int64_t{ih} * g.in_w * kBlock;
      const float* dd_row = dd_block + int64_t{oh} * g.out_w * kBlock;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        // Output columns whose input column iw = ow*s - p + kw*d lies inside the image.
        const int offset = kw * g.dilation_w - g.pad_w;
        int ow_begin = offset >= 0 ? 0 : (-offset + g.stride_w - 1) / g.stride_w;
        int ow_end = std::min(g.out_w, (g.in_w - 1 - offset) / g.stride_w + 1);
        if (g.in_w - 1 - offset < 0) ow_end = 0;
        vec16 a = acc[kw];
        for (int ow = ow_begin; ow < ow_end; ++ow) {
          const int iw = ow * g.stride_w + offset;
          a += load16(dd_row + ow * kBlock) * load16(src_row + iw * kBlock);
        }
        acc[kw] = a;
      }
    }
  }
  // Goihw16g: [G/16][1][1][KH][KW][16]
  float* w = diff_weights + (int64_t{block} * g.kernel_h + kh) * g.kernel_w * kBlock;
  for (int kw = 0; kw < g.kernel_w; ++kw) store16(w + kw * kBlock, acc[kw]);
}

}  // namespace

void depthwise_backward_weights_nchw16c(const DepthwiseGeometry& g, const float* src,
                                        const float* diff_dst, float* diff_weights) {
  const int blocks = (g.channels + kBlock - 1) / kBlock;
  const int items = blocks * g.kernel_h;
#pragma omp parallel for schedule(static)
  for (int item = 0; item < items; ++item)
    dw_bwd_weights_row(g, src, diff_dst, diff_weights, item / g.kernel_h, item % g.kernel_h);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void accumulate(float* dst,
                                                                             const float* src,
                                                                             int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
}

void scale_images(const float* src, float* dst, const float* scale, int batch, int64_t per_image) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < batch; ++n) {
    const float s = scale[n];
    const float* in = src + n * per_image;
    float* out = dst + n * per_image;
    if (s == 0.0f)
      std::memset(out, 0, per_image * sizeof(float));
    else
      for (int64_t i = 0; i < per_image; ++i) out[i] = in[i] * s;
  }
}

void multiply(const float* src, const float* mask, float* dst, int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) dst[i] = src[i] * mask[i];
}

double softmax_cross_entropy(const float* logits, const int32_t* labels, int batch, int classes,
                             float label_smoothing, float weight, float* diff_logits,
                             int* correct) {
  double total = 0.0;
  int right = 0;
  std::vector<double> prob(classes);
  for (int n = 0; n < batch; ++n) {
    const float* z = logits + int64_t{n} * classes;
    const int label = labels[n];
    int argmax = 0;
    for (int k = 1; k < classes; ++k)
      if (z[k] > z[argmax]) argmax = k;
    right += argmax == label;
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += prob[k] = std::exp(double{z[k]} - z[argmax]);
    const double log_sum = std::log(sum);
    double loss = 0.0;
    for (int k = 0; k < classes; ++k) {
      const double target =
          (k == label ? 1.0 - label_smoothing : 0.0) + label_smoothing / classes;
      const double log_p = double{z[k]} - z[argmax] - log_sum;
      loss -= target * log_p;
      if (diff_logits)
        diff_logits[int64_t{n} * classes + k] =
            static_cast<float>(weight * (prob[k] / sum - target) / batch);
    }
    total += loss;
  }
  if (correct) *correct = right;
  return total / batch;
}

}  // namespace cf::kernels

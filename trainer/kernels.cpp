#include "trainer/kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "trainer/simd.h"

namespace cf::kernels {

namespace {

// Images are split into this many fixed chunks whose partial sums are added in chunk order:
// more parallel items than channel blocks alone, and the same result for any thread count.
constexpr int kBatchChunks = 4;

// Adds output pixel (oh, ow)'s contribution to kernel rows [kh0, kh0 + rows) with bounds
// checks: the slow path, for pixels whose taps reach into the padding. `acc` holds rows x
// kernel_w vectors of 16 floats (plain floats: heap vectors of vec16 are not 64-byte aligned).
template <typename T>
inline __attribute__((always_inline)) void dw_edge_taps(const DepthwiseGeometry& g,
                                                        const T* src_block, const T* dd_block,
                                                        int oh, int ow, int kh0, int rows,
                                                        float* acc) {
  const vec16 dv = load16(dd_block + (int64_t{oh} * g.out_w + ow) * kBlock);
  for (int r = 0; r < rows; ++r) {
    const int ih = oh * g.stride_h - g.pad_h + (kh0 + r) * g.dilation_h;
    if (ih < 0 || ih >= g.in_h) continue;
    for (int kw = 0; kw < g.kernel_w; ++kw) {
      const int iw = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
      if (iw < 0 || iw >= g.in_w) continue;
      float* a = acc + (r * g.kernel_w + kw) * kBlock;
      store16(a, load16(a) + dv * load16(src_block + (int64_t{ih} * g.in_w + iw) * kBlock));
    }
  }
}

// One (channel block, group of ROWS kernel rows from kh0, batch chunk) item. Interior pixels
// (every tap inside the image) take the fast path: each diff_dst vector is loaded once and used
// for all ROWS x KW taps, whose sums stay in registers (ROWS and KW are template parameters so
// the loops unroll); src rows are read once per chunk rather than once per kernel row.
template <int ROWS, int KW, typename T>
inline __attribute__((always_inline)) void dw_bwd_weights_item(const DepthwiseGeometry& g,
                                                               const T* src, const T* diff_dst,
                                                               float* partial, int block, int kh0,
                                                               int n_begin, int n_end) {
  const int blocks = (g.channels + kBlock - 1) / kBlock;
  vec16 fast[ROWS][KW];
  for (int r = 0; r < ROWS; ++r)
    for (int kw = 0; kw < KW; ++kw) fast[r][kw] = vec16{};
  float edge[ROWS * KW * kBlock] = {};
  const int s = g.stride_w, d = g.dilation_w, p = g.pad_w;
  // Interior columns: ow*s - p >= 0 and ow*s - p + (KW - 1)*d <= in_w - 1; rows likewise.
  const int ow_begin = std::min(g.out_w, (p + s - 1) / s);
  const int w_last = g.in_w - 1 + p - (KW - 1) * d;
  const int ow_end = w_last < 0 ? ow_begin : std::max(ow_begin, std::min(g.out_w, w_last / s + 1));
  const int64_t src_image = int64_t{blocks} * g.in_h * g.in_w * kBlock;
  const int64_t dst_image = int64_t{blocks} * g.out_h * g.out_w * kBlock;
  for (int n = n_begin; n < n_end; ++n) {
    const T* src_block = src + n * src_image + int64_t{block} * g.in_h * g.in_w * kBlock;
    const T* dd_block = diff_dst + n * dst_image + int64_t{block} * g.out_h * g.out_w * kBlock;
    for (int oh = 0; oh < g.out_h; ++oh) {
      const int ih0 = oh * g.stride_h - g.pad_h + kh0 * g.dilation_h;
      const bool rows_inside = ih0 >= 0 && ih0 + (ROWS - 1) * g.dilation_h < g.in_h;
      if (!rows_inside) {
        for (int ow = 0; ow < g.out_w; ++ow)
          dw_edge_taps(g, src_block, dd_block, oh, ow, kh0, ROWS, edge);
        continue;
      }
      for (int ow = 0; ow < ow_begin; ++ow)
        dw_edge_taps(g, src_block, dd_block, oh, ow, kh0, ROWS, edge);
      const T* dd_row = dd_block + int64_t{oh} * g.out_w * kBlock;
      const T* src_row0 = src_block + int64_t{ih0} * g.in_w * kBlock;
      const int64_t row_step = int64_t{g.dilation_h} * g.in_w * kBlock;
      for (int ow = ow_begin; ow < ow_end; ++ow) {
        const vec16 dv = load16(dd_row + ow * kBlock);
        const T* base = src_row0 + (ow * s - p) * kBlock;
        for (int r = 0; r < ROWS; ++r)
          for (int kw = 0; kw < KW; ++kw)
            fast[r][kw] += dv * load16(base + r * row_step + kw * d * kBlock);
      }
      for (int ow = ow_end; ow < g.out_w; ++ow)
        dw_edge_taps(g, src_block, dd_block, oh, ow, kh0, ROWS, edge);
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int kw = 0; kw < KW; ++kw)
      store16(partial + (r * KW + kw) * kBlock, fast[r][kw] + load16(edge + (r * KW + kw) * kBlock));
}

// Any kernel size, and geometries where few pixels are interior (small images, wide kernels):
// one kernel row and one tap at a time over the range of output columns whose input column is
// inside, so there is no per-pixel bounds check, at two loads per FMA.
template <typename T>
inline __attribute__((always_inline)) void dw_bwd_weights_item_rows(const DepthwiseGeometry& g,
                                                                    const T* src, const T* diff_dst,
                                                                    float* partial, int block,
                                                                    int kh0, int rows, int n_begin,
                                                                    int n_end) {
  const int blocks = (g.channels + kBlock - 1) / kBlock;
  const int64_t src_image = int64_t{blocks} * g.in_h * g.in_w * kBlock;
  const int64_t dst_image = int64_t{blocks} * g.out_h * g.out_w * kBlock;
  for (int kh = kh0; kh < kh0 + rows; ++kh) {
    constexpr int kMaxKw = 16;
    vec16 acc[kMaxKw];
    for (int kw = 0; kw < kMaxKw; ++kw) acc[kw] = vec16{};
    for (int n = n_begin; n < n_end; ++n) {
      const T* src_block = src + n * src_image + int64_t{block} * g.in_h * g.in_w * kBlock;
      const T* dd_block = diff_dst + n * dst_image + int64_t{block} * g.out_h * g.out_w * kBlock;
      for (int oh = 0; oh < g.out_h; ++oh) {
        const int ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
        if (ih < 0 || ih >= g.in_h) continue;
        const T* src_row = src_block + int64_t{ih} * g.in_w * kBlock;
        const T* dd_row = dd_block + int64_t{oh} * g.out_w * kBlock;
        for (int kw = 0; kw < g.kernel_w; ++kw) {
          const int offset = kw * g.dilation_w - g.pad_w;
          const int ow_begin = offset >= 0 ? 0 : (-offset + g.stride_w - 1) / g.stride_w;
          const int ow_end = g.in_w - 1 - offset < 0
                                 ? 0
                                 : std::min(g.out_w, (g.in_w - 1 - offset) / g.stride_w + 1);
          vec16 a = acc[kw];
          for (int ow = ow_begin; ow < ow_end; ++ow)
            a += load16(dd_row + ow * kBlock) * load16(src_row + (ow * g.stride_w + offset) * kBlock);
          acc[kw] = a;
        }
      }
    }
    for (int kw = 0; kw < g.kernel_w; ++kw)
      store16(partial + ((kh - kh0) * g.kernel_w + kw) * kBlock, acc[kw]);
  }
}

// The register-blocked path pays off when most output pixels are interior.
bool mostly_interior(const DepthwiseGeometry& g) {
  auto inside = [](int in, int out, int k, int s, int p, int d) {
    const int begin = std::min(out, (p + s - 1) / s);
    const int last = in - 1 + p - (k - 1) * d;
    return last < 0 ? 0 : std::max(0, std::min(out, last / s + 1) - begin);
  };
  const int64_t interior =
      int64_t{inside(g.in_h, g.out_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h)} *
      inside(g.in_w, g.out_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
  return 2 * interior >= int64_t{g.out_h} * g.out_w;
}

// Kernel rows per item: all of them when ROWS x KW sums fit in the 32 vector registers.
int dw_rows_per_item(int kernel_h, int kernel_w) {
  if (kernel_w == 7 && kernel_h == 7) return 4;  // groups of 4 and 3 rows
  return kernel_h;
}

template <typename T>
inline __attribute__((always_inline)) void dw_bwd_weights_item_any(const DepthwiseGeometry& g,
                                                                   const T* src, const T* diff_dst,
                                                                   float* partial, int block,
                                                                   int kh0, int rows, int n_begin,
                                                                   int n_end) {
  if (rows == 1 && g.kernel_h > 1)  // not blocked
    return dw_bwd_weights_item_rows(g, src, diff_dst, partial, block, kh0, rows, n_begin, n_end);
  if (g.kernel_w == 3 && rows == 3)
    return dw_bwd_weights_item<3, 3, T>(g, src, diff_dst, partial, block, kh0, n_begin, n_end);
  if (g.kernel_w == 5 && rows == 5)
    return dw_bwd_weights_item<5, 5, T>(g, src, diff_dst, partial, block, kh0, n_begin, n_end);
  if (g.kernel_w == 7 && rows == 4)
    return dw_bwd_weights_item<4, 7, T>(g, src, diff_dst, partial, block, kh0, n_begin, n_end);
  if (g.kernel_w == 7 && rows == 3)
    return dw_bwd_weights_item<3, 7, T>(g, src, diff_dst, partial, block, kh0, n_begin, n_end);
  dw_bwd_weights_item_rows(g, src, diff_dst, partial, block, kh0, rows, n_begin, n_end);
}

// One instance per element type, each compiled for AVX-512, AVX2 and the baseline.
__attribute__((target_clones("avx512f", "avx2", "default"))) void dw_bwd_weights_dispatch(
    const DepthwiseGeometry& g, const float* src, const float* diff_dst, float* partial, int block,
    int kh0, int rows, int n_begin, int n_end) {
  dw_bwd_weights_item_any(g, src, diff_dst, partial, block, kh0, rows, n_begin, n_end);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void dw_bwd_weights_dispatch(
    const DepthwiseGeometry& g, const uint16_t* src, const uint16_t* diff_dst, float* partial,
    int block, int kh0, int rows, int n_begin, int n_end) {
  dw_bwd_weights_item_any(g, src, diff_dst, partial, block, kh0, rows, n_begin, n_end);
}

template <typename T>
void depthwise_backward_weights(const DepthwiseGeometry& g, const T* src, const T* diff_dst,
                                float* diff_weights) {
  // Goihw16g: [G/16][1][1][KH][KW][16]; an item covers rows [kh0, kh0 + rows) of one block.
  const int blocks = (g.channels + kBlock - 1) / kBlock;
  const bool blocked = mostly_interior(g);
  const int per_item = blocked ? dw_rows_per_item(g.kernel_h, g.kernel_w) : 1;
  const int groups = (g.kernel_h + per_item - 1) / per_item;
  const int64_t block_floats = int64_t{g.kernel_h} * g.kernel_w * kBlock;
  const int64_t total = blocks * block_floats;
  std::vector<float> partial(static_cast<size_t>(kBatchChunks * total));
#pragma omp parallel for schedule(static)
  for (int item = 0; item < blocks * groups * kBatchChunks; ++item) {
    const int chunk = item % kBatchChunks, group = item / kBatchChunks % groups;
    const int block = item / kBatchChunks / groups;
    const int kh0 = group * per_item, rows = std::min(per_item, g.kernel_h - kh0);
    dw_bwd_weights_dispatch(g, src, diff_dst,
                            partial.data() + chunk * total + block * block_floats +
                                int64_t{kh0} * g.kernel_w * kBlock,
                            block, kh0, rows, g.batch * chunk / kBatchChunks,
                            g.batch * (chunk + 1) / kBatchChunks);
  }
  for (int64_t k = 0; k < total; ++k) {
    float sum = partial[k];
    for (int c = 1; c < kBatchChunks; ++c) sum += partial[c * total + k];
    diff_weights[k] = sum;
  }
}

}  // namespace

void depthwise_backward_weights_nchw16c(const DepthwiseGeometry& g, const float* src,
                                        const float* diff_dst, float* diff_weights) {
  depthwise_backward_weights(g, src, diff_dst, diff_weights);
}

void depthwise_backward_weights_nchw16c_bf16(const DepthwiseGeometry& g, const uint16_t* src,
                                             const uint16_t* diff_dst, float* diff_weights) {
  depthwise_backward_weights(g, src, diff_dst, diff_weights);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void accumulate(float* dst,
                                                                             const float* src,
                                                                             int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void accumulate_bf16(
    uint16_t* dst, const uint16_t* src, int64_t count) {
  const int64_t vectors = count / kBlock;
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t v = 0; v < vectors; ++v)
    store16(dst + v * kBlock, load16(dst + v * kBlock) + load16(src + v * kBlock));
  for (int64_t i = vectors * kBlock; i < count; ++i)
    dst[i] = float_to_bf16(bf16_to_float(dst[i]) + bf16_to_float(src[i]));
}

namespace {

template <typename T>
void scale_images_any(const T* src, T* dst, const float* scale, int batch, int64_t per_image) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < batch; ++n) {
    const float s = scale[n];
    const T* in = src + n * per_image;
    T* out = dst + n * per_image;
    if (s == 0.0f)
      std::memset(out, 0, per_image * sizeof(T));
    else
      for (int64_t i = 0; i < per_image; ++i) store(out + i, to_float(in[i]) * s);
  }
}

template <typename T>
void multiply_any(const T* src, const float* mask, T* dst, int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) store(dst + i, to_float(src[i]) * mask[i]);
}
}  // namespace

void scale_images(const float* src, float* dst, const float* scale, int batch, int64_t per_image) {
  scale_images_any(src, dst, scale, batch, per_image);
}

void scale_images(const uint16_t* src, uint16_t* dst, const float* scale, int batch,
                  int64_t per_image) {
  scale_images_any(src, dst, scale, batch, per_image);
}

void multiply(const float* src, const float* mask, float* dst, int64_t count) {
  multiply_any(src, mask, dst, count);
}

void multiply(const uint16_t* src, const float* mask, uint16_t* dst, int64_t count) {
  multiply_any(src, mask, dst, count);
}

float bf16_value(uint16_t bits) {
  return bf16_to_float(bits);
}
uint16_t bf16_bits(float value) {
  return float_to_bf16(value);
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

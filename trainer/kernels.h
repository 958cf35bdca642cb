#pragma once
// Hand-written CPU kernels for what oneDNN 2.6 lacks or does slowly. All are deterministic: the
// work split and the order of every reduction are fixed, independent of the thread count.
#include <cstdint>
#include <vector>

namespace cf::kernels {

// Geometry of a depthwise convolution (groups == channels, one filter per channel).
struct DepthwiseGeometry {
  int batch, channels;  // channels: logical count; the blocked buffers are padded to 16
  int in_h, in_w, out_h, out_w;
  int kernel_h, kernel_w;
  int stride_h, stride_w;
  int pad_h, pad_w;
  int dilation_h, dilation_w;  // 1 = dense
};

// diff_weights = sum over batch and output pixels of diff_dst * src, for src and diff_dst in
// nChw16c and diff_weights in Goihw16g (oneDNN's blocked layouts). oneDNN 2.6 has a JIT kernel
// for this only for 3x3; for 5x5 and 7x7 it falls back to a gemm path about 40x slower.
// Sums over fixed batch chunks are added in chunk order: bit-identical for any thread count.
void depthwise_backward_weights_nchw16c(const DepthwiseGeometry& g, const float* src,
                                        const float* diff_dst, float* diff_weights);
// The same for bf16 src and diff_dst (raw bfloat16 bits), accumulating in fp32: oneDNN 2.6's
// bf16 depthwise backward weights for 5x5 and 7x7 falls back to the same gemm path.
void depthwise_backward_weights_nchw16c_bf16(const DepthwiseGeometry& g, const uint16_t* src,
                                             const uint16_t* diff_dst, float* diff_weights);

// bfloat16 <-> float (round to nearest even), for the bf16 variants below and their tests.
float bf16_value(uint16_t bits);
uint16_t bf16_bits(float value);

// dst[i] += src[i].
void accumulate(float* dst, const float* src, int64_t count);
// The same on bfloat16 values: each sum is formed in fp32 and rounded once.
void accumulate_bf16(uint16_t* dst, const uint16_t* src, int64_t count);

// dst = src * scale[n] for each image n of `batch`, each image `per_image` contiguous floats.
void scale_images(const float* src, float* dst, const float* scale, int batch, int64_t per_image);
void scale_images(const uint16_t* src, uint16_t* dst, const float* scale, int batch,
                  int64_t per_image);

// dst = src * mask (elementwise).
void multiply(const float* src, const float* mask, float* dst, int64_t count);
void multiply(const uint16_t* src, const float* mask, uint16_t* dst, int64_t count);

// One input of a fused concat (kernels_concat.cpp): the sum of `terms` (element type of the
// output; `per_image` values per image, images back to back), placed `offset` values into each
// output image. In nChw16c, nChw8c or nchw an input whose channels fill whole blocks is one
// contiguous range of each output image, so a channel concat is a copy of ranges.
struct ConcatPiece {
  std::vector<const void*> terms;
  int64_t per_image = 0;
  int64_t offset = 0;
};

// dst (images of `dst_per_image` values) = the pieces side by side, each the sum of its terms in
// term order (in fp32; rounded once for bf16), through a ReLU when `relu`.
void concat_sum(const std::vector<ConcatPiece>& pieces, float* dst, int64_t dst_per_image,
                int batch, bool relu);
void concat_sum(const std::vector<ConcatPiece>& pieces, uint16_t* dst, int64_t dst_per_image,
                int batch, bool relu);

// The gradient a ReLU over a concat hands one piece: diff_src[n][i] = diff_dst[n][offset + i]
// where dst[n][offset + i] > 0, else 0; written, or added to diff_src when `accumulate`.
void relu_backward_piece(const float* dst, const float* diff_dst, int64_t dst_per_image,
                         int64_t offset, float* diff_src, int64_t per_image, int batch,
                         bool accumulate);
void relu_backward_piece(const uint16_t* dst, const uint16_t* diff_dst, int64_t dst_per_image,
                         int64_t offset, uint16_t* diff_src, int64_t per_image, int batch,
                         bool accumulate);

// Softmax cross-entropy over `batch` rows of `classes` logits. Writes d(loss)/d(logits) scaled
// by `weight` into diff_logits (mean over the batch); returns the mean loss (unweighted).
// label_smoothing eps spreads eps over all classes. Counts correct argmax predictions.
double softmax_cross_entropy(const float* logits, const int32_t* labels, int batch, int classes,
                             float label_smoothing, float weight, float* diff_logits,
                             int* correct);

}  // namespace cf::kernels

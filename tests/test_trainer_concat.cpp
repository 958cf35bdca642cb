// The fused cell-output kernels (trainer/kernels_concat.cpp) against a scalar reference: sums in
// term order, the ReLU, each piece at its offset; the masked gradient written or accumulated;
// fp32 and bf16 (each value formed in fp32 and rounded once); small batches split each image.
#include <omp.h>

#include <catch2/catch.hpp>

#include "space/rng.h"
#include "trainer/kernels.h"

namespace {

using cf::kernels::bf16_bits;
using cf::kernels::bf16_value;

struct Case {
  int batch;
  std::vector<int64_t> per_image;  // one piece each
  std::vector<int> terms;          // terms per piece
};

// Values exactly representable in bf16 so both types see the same inputs.
std::vector<float> random_values(cf::Rng& rng, size_t count) {
  std::vector<float> v(count);
  for (auto& x : v) x = bf16_value(bf16_bits(static_cast<float>(rng.uniform01() * 4 - 2)));
  return v;
}

float round_as(float x, bool bf16) {
  return bf16 ? bf16_value(bf16_bits(x)) : x;
}

template <typename T>
T from_float(float x) {
  if constexpr (sizeof(T) == 2)
    return bf16_bits(x);
  else
    return x;
}

template <typename T>
float as_float(T x) {
  if constexpr (sizeof(T) == 2)
    return bf16_value(x);
  else
    return x;
}

template <typename T>
void check_case(const Case& c, bool relu, bool accumulate, uint64_t seed) {
  constexpr bool bf16 = sizeof(T) == 2;
  cf::Rng rng(seed);
  const int pieces = static_cast<int>(c.per_image.size());
  int64_t dst_per_image = 0;
  for (int64_t n : c.per_image) dst_per_image += n;
  std::vector<std::vector<std::vector<float>>> terms(pieces);
  std::vector<std::vector<std::vector<T>>> typed(pieces);
  std::vector<cf::kernels::ConcatPiece> spec(pieces);
  int64_t offset = 0;
  for (int p = 0; p < pieces; ++p) {
    for (int k = 0; k < c.terms[p]; ++k) {
      terms[p].push_back(random_values(rng, c.batch * c.per_image[p]));
      std::vector<T> t;
      for (float x : terms[p].back()) t.push_back(from_float<T>(x));
      typed[p].push_back(std::move(t));
    }
    for (const auto& t : typed[p]) spec[p].terms.push_back(t.data());
    spec[p].per_image = c.per_image[p];
    spec[p].offset = offset;
    offset += c.per_image[p];
  }
  std::vector<T> dst(c.batch * dst_per_image, from_float<T>(-7.0f));
  cf::kernels::concat_sum(spec, dst.data(), dst_per_image, c.batch, relu);
  for (int n = 0; n < c.batch; ++n)
    for (int p = 0; p < pieces; ++p)
      for (int64_t i = 0; i < c.per_image[p]; ++i) {
        float expect = terms[p][0][n * c.per_image[p] + i];
        for (int k = 1; k < c.terms[p]; ++k) expect += terms[p][k][n * c.per_image[p] + i];
        if (relu && !(expect > 0)) expect = 0;
        const float got = as_float(dst[n * dst_per_image + spec[p].offset + i]);
        INFO("image " << n << " piece " << p << " value " << i);
        REQUIRE(got == round_as(expect, bf16));
      }
  // Backward of every piece from one output gradient.
  const std::vector<float> diff_dst = random_values(rng, dst.size());
  std::vector<T> diff_dst_typed;
  for (float x : diff_dst) diff_dst_typed.push_back(from_float<T>(x));
  for (int p = 0; p < pieces; ++p) {
    const std::vector<float> before = random_values(rng, c.batch * c.per_image[p]);
    std::vector<T> diff_src;
    for (float x : before) diff_src.push_back(from_float<T>(x));
    cf::kernels::relu_backward_piece(dst.data(), diff_dst_typed.data(), dst_per_image,
                                     spec[p].offset, diff_src.data(), c.per_image[p], c.batch,
                                     accumulate);
    for (int n = 0; n < c.batch; ++n)
      for (int64_t i = 0; i < c.per_image[p]; ++i) {
        const int64_t at = n * dst_per_image + spec[p].offset + i;
        float expect = as_float(dst[at]) > 0 ? diff_dst[at] : 0.0f;
        if (accumulate) expect += before[n * c.per_image[p] + i];
        INFO("backward: image " << n << " piece " << p << " value " << i);
        REQUIRE(as_float(diff_src[n * c.per_image[p] + i]) == round_as(expect, bf16));
      }
  }
}

}  // namespace

TEST_CASE("fused concat kernels: sums, ReLU, slices and masked gradients match a scalar reference",
          "[trainer][concat]") {
  omp_set_num_threads(2);
  const std::vector<Case> cases{
      {64, {16 * 9, 16 * 9, 32 * 9}, {2, 1, 2}},  // nChw16c-like pieces, large batch
      {3, {16 * 25, 48 * 25}, {2, 2}},            // small batch: images split in 8
      {1, {7, 13, 5}, {1, 3, 2}},                 // nchw-like, tails shorter than a vector
      {5, {40, 24}, {11, 1}},                     // more terms than the on-stack array
  };
  uint64_t seed = 1;
  for (const Case& c : cases)
    for (bool relu : {true, false})
      for (bool accumulate : {false, true}) {
        DYNAMIC_SECTION("batch " << c.batch << " relu " << relu << " accumulate " << accumulate) {
          check_case<float>(c, relu, accumulate, seed);
          check_case<uint16_t>(c, relu, accumulate, seed);
        }
        ++seed;
      }
}

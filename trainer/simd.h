#pragma once
// Internal to trainer/: 16-wide float vectors (one AVX-512 register, one nChw16c channel block)
// and bfloat16 conversions shared by the hand-written kernels. GCC vector extensions, so the
// same code compiles for every target_clones target.
#include <cstdint>
#include <cstring>

namespace cf::kernels {

constexpr int kBlock = 16;
typedef float vec16 __attribute__((vector_size(64)));

inline vec16 load16(const float* p) {
  vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, vec16 v) {
  std::memcpy(p, &v, sizeof v);
}

// bfloat16 is the upper half of a float: widening is exact.
typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
inline vec16 load16(const uint16_t* p) {
  u16x16 h;
  std::memcpy(&h, p, sizeof h);
  const u32x16 w = __builtin_convertvector(h, u32x16) << 16;
  vec16 v;
  std::memcpy(&v, &w, sizeof v);
  return v;
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// 16 floats to bfloat16, rounded to nearest even, NaN kept NaN (branch-free: it vectorises).
typedef int32_t i32x16 __attribute__((vector_size(64)));
inline void store16(uint16_t* p, vec16 v) {
  u32x16 bits;
  std::memcpy(&bits, &v, sizeof bits);
  const i32x16 nan = (bits & 0x7fffffffu) > 0x7f800000u;
  const u32x16 rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const u32x16 quiet = (bits >> 16) | 0x40u;
  const u16x16 h = __builtin_convertvector(nan ? quiet : rounded, u16x16);
  std::memcpy(p, &h, sizeof h);
}

// Round to nearest even, as oneDNN's reorders do; NaN stays NaN.
inline uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// Scalar access to either element type, in fp32.
inline float to_float(float x) {
  return x;
}
inline float to_float(uint16_t x) {
  return bf16_to_float(x);
}
inline void store(float* p, float x) {
  *p = x;
}
inline void store(uint16_t* p, float x) {
  *p = float_to_bf16(x);
}

}  // namespace cf::kernels

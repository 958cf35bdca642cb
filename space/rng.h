#pragma once
// Seeded, serialisable random number generator (xoshiro256**).
// Own implementation rather than std:: distributions so results are identical across
// standard libraries and the full state fits in four words for campaign checkpoints.
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace cf {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform integer in [0, n); n must be > 0. Rejection sampling: exactly uniform.
  uint64_t uniform_int(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = next();
    while (v >= limit);
    return v % n;
  }
  int uniform_int(int n) { return static_cast<int>(uniform_int(static_cast<uint64_t>(n))); }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Fisher-Yates from the last position down (one uniform_int per position): the permutation
  // every training loop's epoch draws, so equal streams give equal data orders.
  void shuffle(std::vector<int>& values) {
    for (int k = static_cast<int>(values.size()) - 1; k > 0; --k)
      std::swap(values[k], values[uniform_int(k + 1)]);
  }

  // A fresh generator for a sub-task, derived deterministically from this one.
  Rng split() { return Rng(next()); }

  const std::array<uint64_t, 4>& state() const { return state_; }
  void set_state(const std::array<uint64_t, 4>& s) { state_ = s; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::array<uint64_t, 4> state_{};
};

}  // namespace cf

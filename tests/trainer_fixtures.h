#pragma once
// Small in-memory datasets for trainer tests.
#include "space/rng.h"
#include "trainer/data.h"

namespace cf::test {

// A learnable synthetic dataset: the label is the brightest quadrant of an 8x8 image.
inline cf::DataSplits synthetic_data(int train, int valid, uint64_t seed) {
  cf::Rng rng(seed);
  auto make = [&](int count) {
    cf::ImageSet set;
    set.count = count;
    set.shape = {1, 8, 8};
    set.classes = 4;
    set.pixels.resize(static_cast<size_t>(count) * 64);
    set.labels.resize(count);
    for (int n = 0; n < count; ++n) {
      const int label = rng.uniform_int(4);
      set.labels[n] = static_cast<uint8_t>(label);
      for (int h = 0; h < 8; ++h)
        for (int w = 0; w < 8; ++w) {
          const int quadrant = (h / 4) * 2 + w / 4;
          const int base = quadrant == label ? 140 : 60;
          set.pixels[n * 64 + h * 8 + w] = static_cast<uint8_t>(base + rng.uniform_int(100));
        }
    }
    return set;
  };
  cf::DataSplits data;
  data.train = make(train);
  data.valid = make(valid);
  data.name = "synthetic";
  cf::channel_statistics(data.train, data.mean, data.stddev);
  return data;
}

}  // namespace cf::test

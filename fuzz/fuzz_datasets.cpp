// libFuzzer target: the dataset readers cf::read_idx and cf::read_cifar (trainer/data.h), and, on
// what they accept, channel_statistics and fill_batch with augmentation.
// The readers take paths, so the input is written to scratch files. The first byte chooses:
//   mode 0: IDX; bytes 1-2 (little endian) = length L of the images file, bytes 3..3+L = the
//           images file, the rest = the labels file. Written as given, so the fuzzer may also
//           produce gzip streams itself (zlib detects gzip by its magic bytes).
//   mode 1: the same, but the harness gzip-compresses both files (valid gzip around fuzz data).
//   mode 2/3: CIFAR-10 / CIFAR-100; byte 1 bit 0 = one or two files (split in the middle).
//   mode 4/5: the same, gzip-compressed by the harness.
// Any std::exception (DataError) is a clean rejection; crashes, sanitizer reports, leaks, timeouts
// and out-of-memory are findings.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "space/rng.h"
#include "trainer/data.h"

namespace {

void write_gzip(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f || (size && gzwrite(f, data, static_cast<unsigned>(size)) != static_cast<int>(size)) ||
      gzclose(f) != Z_OK) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::filesystem::path put(const std::string& name, const uint8_t* data, size_t size, bool gzip) {
  if (!gzip) return cf_fuzz::write_file(name, data, size);
  const auto path = cf_fuzz::scratch_dir() / (name + ".gz");
  write_gzip(path, data, size);
  return path;
}


// What training does with an accepted set: statistics, then a few augmented batches.
void use(const cf::ImageSet& set) {
  if (set.count <= 0) __builtin_trap();
  if (set.pixels.size() != static_cast<size_t>(set.count) * set.shape.numel()) __builtin_trap();
  if (set.labels.size() != static_cast<size_t>(set.count)) __builtin_trap();
  for (uint8_t label : set.labels)
    if (label >= set.classes) __builtin_trap();
  std::vector<float> mean, stddev;
  cf::channel_statistics(set, mean, stddev);
  const int batch = std::min(set.count, 4);
  std::vector<int> indices(batch);
  for (int i = 0; i < batch; ++i) indices[i] = set.count - 1 - i;
  std::vector<float> images(static_cast<size_t>(batch) * set.shape.numel());
  std::vector<int32_t> labels(batch);
  cf::Augmentation augment{2, true, 3};
  cf::Rng rng(7);
  cf::fill_batch(set, mean, stddev, indices.data(), batch, images.data(), labels.data(), &augment, &rng);
  cf::fill_batch(set, mean, stddev, indices.data(), batch, images.data(), labels.data(), nullptr, nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int mode = data[0] % 6;
  try {
    if (mode <= 1) {
      if (size < 3) return 0;
      const size_t length = std::min<size_t>(data[1] | size_t{data[2]} << 8, size - 3);
      const bool gzip = mode == 1;
      const auto images = put("images", data + 3, length, gzip);
      const auto labels = put("labels", data + 3 + length, size - 3 - length, gzip);
      use(cf::read_idx(images, labels));
    } else {
      const bool cifar100 = mode % 2 == 1;
      const bool gzip = mode >= 4;
      const uint8_t* body = data + 2;
      const size_t body_size = size - 2;
      std::vector<std::filesystem::path> files;
      if (data[1] & 1) {
        const size_t half = body_size / 2;
        files.push_back(put("batch1.bin", body, half, gzip));
        files.push_back(put("batch2.bin", body + half, body_size - half, gzip));
      } else {
        files.push_back(put("batch1.bin", body, body_size, gzip));
      }
      use(cf::read_cifar(files, cifar100));
    }
  } catch (const std::exception&) {
  }
  return 0;
}

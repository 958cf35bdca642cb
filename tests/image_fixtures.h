#pragma once
// Small image-folder and NumPy datasets written by the tests: PNG/JPEG/BMP through OpenCV (the
// library the reader decodes with), .npy files byte by byte, .npz archives through libzip; and
// the check of a reader error.
#include <zip.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/data.h"

namespace cf::test {

// Pixel (y, x, c) of the synthetic image `id`: distinct across images, positions and channels.
inline uint8_t pattern_pixel(int id, int y, int x, int c) {
  return static_cast<uint8_t>(id * 29 + y * 7 + x * 3 + c * 50);
}

// An RGB (channels 3) or grey image of the pattern, as an OpenCV BGR / grey matrix.
inline cv::Mat pattern_image(int id, int height, int width, int channels) {
  cv::Mat image(height, width, channels == 3 ? CV_8UC3 : CV_8UC1);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)  // OpenCV stores B, G, R: channel c (RGB) at 2 - c
        image.ptr<uint8_t>(y)[x * channels + (channels == 3 ? 2 - c : 0)] =
            pattern_pixel(id, y, x, c);
  return image;
}

// A flat image (every pixel the same RGB value, or grey), which JPEG keeps almost exactly.
inline cv::Mat flat_image(int height, int width, int channels, int r, int g, int b) {
  return channels == 3 ? cv::Mat(height, width, CV_8UC3, cv::Scalar(b, g, r))
                       : cv::Mat(height, width, CV_8UC1, cv::Scalar(r));
}

inline void write_image(const std::filesystem::path& file, const cv::Mat& image) {
  std::filesystem::create_directories(file.parent_path());
  if (!cv::imwrite(file.string(), image)) throw std::runtime_error("cannot write " + file.string());
}

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

inline std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A learnable RGB PNG folder dataset: class k's images are bright in quadrant k (plus noise).
// DATA_DIR/train/<class>/NNN.png and DATA_DIR/test/<class>/NNN.png.
inline void write_learnable_folder(const std::filesystem::path& dir,
                                   const std::vector<std::string>& classes, int train_per_class,
                                   int test_per_class, int size = 8) {
  uint32_t state = 12345;
  auto noise = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<int>(state >> 25);  // 0..127
  };
  for (const char* split : {"train", "test"}) {
    const int per_class = std::string(split) == "train" ? train_per_class : test_per_class;
    for (size_t k = 0; k < classes.size(); ++k) {
      for (int i = 0; i < per_class; ++i) {
        cv::Mat image(size, size, CV_8UC3);
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) {
            const bool bright = static_cast<size_t>((y * 2 / size) * 2 + x * 2 / size) == k % 4;
            for (int c = 0; c < 3; ++c)
              image.ptr<uint8_t>(y)[x * 3 + c] =
                  static_cast<uint8_t>((bright ? 120 : 10) + noise());
          }
        char name[32];
        std::snprintf(name, sizeof name, "%03d.png", i);
        write_image(dir / split / classes[k] / name, image);
      }
    }
  }
}

// .npy bytes: version 1.0 header for dtype `descr` ("|u1", "<f4", ">i2", ...) and `shape`.
inline std::string npy_bytes(const std::string& descr, const std::vector<int64_t>& shape,
                             const std::string& data, bool fortran = false) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) shape_text += std::to_string(shape[i]) + ", ";
  if (shape.size() > 1) shape_text.resize(shape_text.size() - 2);
  shape_text += ")";
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape_text + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

// Little-endian bytes of integers (`size` bytes each).
inline std::string le_ints(const std::vector<int64_t>& values, int size) {
  std::string out;
  for (int64_t v : values)
    for (int k = 0; k < size; ++k)
      out += static_cast<char>((static_cast<uint64_t>(v) >> (8 * k)) & 0xff);
  return out;
}

inline std::string le_floats(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// A zip archive (an .npz) of (entry name, bytes) pairs; deflate-compressed like
// np.savez_compressed when `compress`.
inline void write_npz(const std::filesystem::path& file,
                      const std::vector<std::pair<std::string, std::string>>& entries,
                      bool compress = true) {
  int error = 0;
  zip_t* zip = zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!zip) throw std::runtime_error("cannot create " + file.string());
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
    const zip_int64_t index = zip_file_add(zip, name.c_str(), source, ZIP_FL_OVERWRITE);
    if (index < 0) throw std::runtime_error("cannot add " + name);
    zip_set_file_compression(zip, index, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(zip) != 0) throw std::runtime_error("cannot write " + file.string());
}

// f() throws a one-line cf::DataError whose message contains every part (use inside a TEST_CASE).
inline void expect_data_error(const std::function<void()>& f,
                              const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no DataError");
  } catch (const cf::DataError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find('\n') == std::string::npos);
    for (const auto& part : parts) CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace cf::test

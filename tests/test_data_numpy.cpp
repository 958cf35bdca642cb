// trainer/data_numpy: .npy and .npz datasets — every layout and dtype read back exactly, float
// scaling, class names, and every error naming the file and the problem.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "image_fixtures.h"
#include "trainer/data.h"
#include "trainer/data_numpy.h"

namespace fs = std::filesystem;
using cf::test::le_floats;
using cf::test::le_ints;
using cf::test::npy_bytes;
using cf::test::expect_data_error;
using cf::test::TempDir;
using cf::test::write_bytes;

namespace {

cf::DataOptions numpy_options(const fs::path& dir, bool test = false) {
  cf::DataOptions options;
  options.dir = dir;
  options.format = cf::DatasetFormat::numpy;
  options.valid_images = 0;
  options.load_test = test;
  return options;
}

// Pixel value of image n, channel c, row y, column x.
uint8_t value(int n, int c, int y, int x) {
  return static_cast<uint8_t>(n * 31 + c * 70 + y * 5 + x);
}

// N images of C x H x W as raw bytes in NHWC or NCHW order.
std::string image_bytes(int n_images, int c_count, int h, int w, bool channels_last) {
  std::string out;
  for (int n = 0; n < n_images; ++n)
    if (channels_last) {
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < c_count; ++c) out += static_cast<char>(value(n, c, y, x));
    } else {
      for (int c = 0; c < c_count; ++c)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x) out += static_cast<char>(value(n, c, y, x));
    }
  return out;
}

void check_values(const cf::ImageSet& set, int c_count, int h, int w) {
  REQUIRE(set.shape == cf::Shape{c_count, h, w});
  for (int n = 0; n < set.count; ++n)
    for (int c = 0; c < c_count; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) REQUIRE(set.image(n)[(c * h + y) * w + x] == value(n, c, y, x));
}

}  // namespace

TEST_CASE("npy images in NHW, NHWC and NCHW read back exactly, with any integer labels",
          "[data][numpy]") {
  TempDir dir;
  const std::vector<int64_t> labels = {2, 0, 1, 2, 1};
  SECTION("N x H x W uint8, int64 labels") {
    write_bytes(dir / "train_images.npy",
                npy_bytes("|u1", {5, 3, 4}, image_bytes(5, 1, 3, 4, true)));
    write_bytes(dir / "train_labels.npy", npy_bytes("<i8", {5}, le_ints(labels, 8)));
    const cf::DatasetFiles files = cf::read_numpy_dataset(numpy_options(dir.path()));
    check_values(files.train, 1, 3, 4);
  }
  SECTION("N x H x W x 3 uint8, big-endian int16 labels of shape (N, 1)") {
    write_bytes(dir / "train_images.npy",
                npy_bytes("|u1", {5, 3, 4, 3}, image_bytes(5, 3, 3, 4, true)));
    std::string big;
    for (int64_t l : labels) big += std::string{'\0', static_cast<char>(l)};
    write_bytes(dir / "train_labels.npy", npy_bytes(">i2", {5, 1}, big));
    const cf::DatasetFiles files = cf::read_numpy_dataset(numpy_options(dir.path()));
    check_values(files.train, 3, 3, 4);
    CHECK(files.train.labels == std::vector<uint8_t>{2, 0, 1, 2, 1});
  }
  SECTION("N x 3 x H x W uint8, uint8 labels") {
    write_bytes(dir / "train_images.npy",
                npy_bytes("|u1", {5, 3, 4, 5}, image_bytes(5, 3, 4, 5, false)));
    write_bytes(dir / "train_labels.npy", npy_bytes("|u1", {5}, le_ints(labels, 1)));
    const cf::DatasetFiles files = cf::read_numpy_dataset(numpy_options(dir.path()));
    check_values(files.train, 3, 4, 5);
    CHECK(files.train.classes == 3);
  }
  const cf::DatasetFiles files = cf::read_numpy_dataset(numpy_options(dir.path()));
  CHECK(files.train.labels == std::vector<uint8_t>{2, 0, 1, 2, 1});
  CHECK(files.train.count == 5);
  CHECK(cf::detect_dataset_format(dir.path()) == cf::DatasetFormat::numpy);
}

TEST_CASE("float images in [0, 1] become round(x * 255), class names from classes.txt",
          "[data][numpy]") {
  TempDir dir;
  const std::vector<float> pixels = {0.0f, 1.0f, 0.5f, 0.2f, 1.0f / 255, 0.999f, 0.0f, 0.25f};
  write_bytes(dir / "train_images.npy", npy_bytes("<f4", {2, 2, 2}, le_floats(pixels)));
  write_bytes(dir / "train_labels.npy", npy_bytes("<i4", {2}, le_ints({0, 2}, 4)));
  write_bytes(dir / "test_images.npy",
              npy_bytes("<f4", {1, 2, 2}, le_floats({0.1f, 0.2f, 0.3f, 0.4f})));
  write_bytes(dir / "test_labels.npy", npy_bytes("<u2", {1}, le_ints({1}, 2)));
  cf::test::write_file(dir / "classes.txt", "shoe\nbag\r\ncoat\n\n");
  cf::DataOptions options = numpy_options(dir.path(), true);
  const cf::DatasetFiles files = cf::read_numpy_dataset(options);
  CHECK(files.train.pixels == std::vector<uint8_t>{0, 255, 128, 51, 1, 255, 0, 64});
  CHECK(files.test.pixels == std::vector<uint8_t>{26, 51, 77, 102});
  CHECK(files.class_names == std::vector<std::string>{"shoe", "bag", "coat"});
  CHECK(files.train.classes == 3);
  options.valid_images = 1;
  const cf::DataSplits data = cf::load_dataset(options);
  CHECK(data.class_names == std::vector<std::string>{"shoe", "bag", "coat"});
  CHECK(data.test.count == 1);
  CHECK(data.test.labels[0] == 1);
}

TEST_CASE("npz archives: images, labels and class_names, compressed or stored", "[data][numpy]") {
  TempDir dir;
  // np.array(["ant", "bée"]) is '<U3': UTF-32 code points.
  std::string names;
  for (const std::u32string& name : {std::u32string(U"ant"), std::u32string(U"b\u00e9e")})
    for (char32_t code : name) names += le_ints({static_cast<int64_t>(code)}, 4);
  for (bool compress : {true, false}) {
    cf::test::write_npz(dir / "train.npz",
                        {{"images.npy", npy_bytes("|u1", {4, 2, 3}, image_bytes(4, 1, 2, 3, true))},
                         {"labels.npy", npy_bytes("<i8", {4}, le_ints({1, 0, 1, 1}, 8))},
                         {"class_names.npy", npy_bytes("<U3", {2}, names)}},
                        compress);
    const cf::DatasetFiles files = cf::read_numpy_dataset(numpy_options(dir.path()));
    check_values(files.train, 1, 2, 3);
    CHECK(files.train.labels == std::vector<uint8_t>{1, 0, 1, 1});
    CHECK(files.class_names == std::vector<std::string>{"ant",
                                                        "b\xc3\xa9"
                                                        "e"});
  }
  cf::test::write_npz(dir / "test.npz",
                      {{"images.npy", npy_bytes("|u1", {1, 2, 3}, std::string(6, '\x07'))},
                       {"labels.npy", npy_bytes("<i8", {1}, le_ints({0}, 8))}});
  const cf::DatasetFiles both = cf::read_numpy_dataset(numpy_options(dir.path(), true));
  CHECK(both.test.count == 1);
  CHECK(both.test.pixels == std::vector<uint8_t>(6, 7));
}

TEST_CASE("every NumPy error names the file and the problem", "[data][numpy][errors]") {
  TempDir dir;
  const fs::path images = dir / "train_images.npy", labels = dir / "train_labels.npy";
  const std::string good_images = npy_bytes("|u1", {3, 2, 2}, std::string(12, '\x01'));
  const std::string good_labels = npy_bytes("<i8", {3}, le_ints({0, 1, 0}, 8));
  auto with = [&](const std::string& image_file, const std::string& label_file) {
    write_bytes(images, image_file);
    write_bytes(labels, label_file);
  };
  auto load = [&] { cf::load_dataset(numpy_options(dir.path())); };
  with(good_images, good_labels);
  REQUIRE_NOTHROW(load());
  const std::string im = images.string() + ": ", lb = labels.string() + ": ";

  with("PK\x03\x04 not numpy", good_labels);
  expect_data_error(load, {im + "not a NumPy .npy file (bad magic)"});
  with(npy_bytes("|u1", {3, 2, 2}, std::string(12, '\x01'), true), good_labels);
  expect_data_error(load, {im + "Fortran-order array"});
  with(npy_bytes("<c8", {3, 2, 2}, std::string(96, '\0')), good_labels);
  expect_data_error(load, {im + "unsupported dtype '<c8'"});
  with(npy_bytes("<i4", {3, 2, 2}, std::string(48, '\0')), good_labels);
  expect_data_error(load,
                    {im + "images must be uint8 (0..255) or float32/float64 in [0, 1], not int32"});
  with(npy_bytes("|u1", {3, 2, 2}, std::string(10, '\x01')), good_labels);
  expect_data_error(load,
                    {im + "truncated: shape (3, 2, 2) of uint8 needs 12 bytes, the file has 10"});
  with(npy_bytes("|u1", {3, 2, 2}, std::string(13, '\x01')), good_labels);
  expect_data_error(load, {im + "size mismatch"});
  with(npy_bytes("|u1", {3, 5, 5, 4}, std::string(300, '\x01')), good_labels);
  expect_data_error(load, {im + "images must be N x H x W, N x H x W x C or N x C x H x W with C = "
                                "1 or 3 (shape (3, 5, 5, 4))"});
  with(npy_bytes("|u1", {0, 2, 2}, ""), npy_bytes("<i8", {0}, ""));
  expect_data_error(load, {im + "holds no images"});
  with(npy_bytes("|u1", {1000000000, 1000000, 1000000}, ""), good_labels);
  expect_data_error(load, {im + "shape (1000000000, 1000000, 1000000) is larger than the limit"});
  with(npy_bytes("<f4", {3, 2, 2}, le_floats({0, 0, 0, 0, 0, 0, 0, 1.5f, 0, 0, 0, 0})),
       good_labels);
  expect_data_error(load, {im + "float pixel 1.500000 of image 1 is outside [0, 1]"});
  with(npy_bytes("<f4", {3, 2, 2},
                 le_floats(std::vector<float>(12, std::numeric_limits<float>::quiet_NaN()))),
       good_labels);
  expect_data_error(load, {im + "float pixel", "of image 0 is outside [0, 1]"});

  with(good_images, npy_bytes("<i8", {2}, le_ints({0, 1}, 8)));
  expect_data_error(load, {lb + "2 labels but " + images.string() + " has 3 images"});
  with(good_images, npy_bytes("<i8", {3}, le_ints({0, -1, 0}, 8)));
  expect_data_error(load, {lb + "label -1 of image 1 is negative"});
  with(good_images, npy_bytes("<i4", {3}, le_ints({0, 1, 300}, 4)));
  expect_data_error(load, {lb + "label 300 of image 2 is over 255"});
  with(good_images, npy_bytes("<f4", {3}, le_floats({0, 1, 0})));
  expect_data_error(load, {lb + "labels must be an integer array, not float32"});
  with(good_images, npy_bytes("<i8", {3, 2}, le_ints({0, 1, 0, 1, 0, 1}, 8)));
  expect_data_error(load, {lb + "labels must have shape (N,) or (N, 1), not (3, 2)"});

  with(good_images, good_labels);
  cf::test::write_file(dir / "classes.txt", "only-one\n");
  expect_data_error(load, {lb + "label 1 of image 1 has no class name (1 names)"});
  fs::remove(dir / "classes.txt");

  // Test files: a different shape, or missing when asked for.
  auto load_test = [&] { cf::load_dataset(numpy_options(dir.path(), true)); };
  expect_data_error(load_test, {dir.path().string() + ": no test files", "data.test = false"});
  write_bytes(dir / "test_images.npy", npy_bytes("|u1", {1, 3, 3}, std::string(9, '\0')));
  write_bytes(dir / "test_labels.npy", npy_bytes("<i8", {1}, le_ints({0}, 8)));
  expect_data_error(load_test, {(dir / "test_images.npy").string() +
                                ": images are 1x3x3 but the training images"});
  fs::remove(dir / "test_labels.npy");
  expect_data_error(load_test, {(dir / "test_labels.npy").string() + ": file not found"});

  // npz: a missing array, a damaged archive.
  TempDir z;
  cf::test::write_npz(z / "train.npz", {{"images.npy", good_images}});
  expect_data_error([&] { cf::load_dataset(numpy_options(z.path())); },
                    {(z / "train.npz").string() + ": has no array 'labels'"});
  cf::test::write_npz(z / "train.npz", {{"images.npy", good_images}, {"labels.npy", good_labels}});
  const std::string archive = cf::test::read_bytes(z / "train.npz");
  write_bytes(z / "train.npz", archive.substr(0, archive.size() / 2));
  expect_data_error([&] { cf::load_dataset(numpy_options(z.path())); },
                    {(z / "train.npz").string() + ": cannot open as a .npz (zip) archive"});
}

// trainer/data_folder: image-folder datasets decoded with OpenCV — exact pixels and labels for
// PNG, near-exact for JPEG, class order, channel and size conversion, every bad-file and layout
// error, and the decoded-image cache (reused, invalidated by a changed file, rebuilt when damaged).
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "image_fixtures.h"
#include "trainer/data.h"
#include "trainer/data_folder.h"

namespace fs = std::filesystem;
using cf::test::pattern_image;
using cf::test::pattern_pixel;
using cf::test::expect_data_error;
using cf::test::TempDir;
using cf::test::write_image;

namespace {

cf::DataOptions folder_options(const fs::path& dir) {
  cf::DataOptions options;
  options.dir = dir;
  options.format = cf::DatasetFormat::folder;
  options.valid_images = 0;
  options.load_test = true;
  return options;
}

// Image `index` of `set` equals the pattern image `id` (RGB or grey, CHW).
bool equals_pattern(const cf::ImageSet& set, int index, int id) {
  const cf::Shape& s = set.shape;
  const uint8_t* p = set.image(index);
  for (int c = 0; c < s.c; ++c)
    for (int y = 0; y < s.h; ++y)
      for (int x = 0; x < s.w; ++x)
        if (p[(c * s.h + y) * s.w + x] != pattern_pixel(id, y, x, c)) return false;
  return true;
}

}  // namespace

TEST_CASE("PNG folders read back exactly: pixels, labels, byte-wise class order",
          "[data][folder]") {
  TempDir dir;
  // Byte-wise order: digits, then upper case, then lower case ("10" before "9").
  const std::vector<std::string> sorted = {"10", "9", "B", "a", "b"};
  int id = 0;
  for (const std::string name : {"b", "B", "a", "10", "9"}) {
    const int label =
        static_cast<int>(std::find(sorted.begin(), sorted.end(), name) - sorted.begin());
    for (int i = 0; i < 3; ++i, ++id) {
      // ids encode the label: image id = label * 10 + i.
      const int image_id = label * 10 + i;
      write_image(dir / "train" / name / ("img" + std::to_string(i) + ".png"),
                  pattern_image(image_id, 6, 5, 3));
    }
    write_image(dir / "test" / name / "t.png", pattern_image(100 + label, 6, 5, 3));
  }
  cf::test::write_file(dir / "train" / "a" / "notes.txt", "not an image");  // ignored
  const cf::DatasetFiles files = cf::read_folder_dataset(folder_options(dir.path()));
  CHECK(files.class_names == sorted);
  REQUIRE(files.train.count == 15);
  CHECK(files.train.shape == cf::Shape{3, 6, 5});
  CHECK(files.train.classes == 5);
  for (int n = 0; n < 15; ++n) {
    INFO(n);
    CHECK(files.train.labels[n] == n / 3);  // classes in order, files in name order
    CHECK(equals_pattern(files.train, n, (n / 3) * 10 + n % 3));
  }
  REQUIRE(files.test.count == 5);
  for (int n = 0; n < 5; ++n) {
    CHECK(files.test.labels[n] == n);
    CHECK(equals_pattern(files.test, n, 100 + n));
  }
  CHECK(cf::list_folder_dataset(dir.path()).ignored_files == 1);

  // Through load_dataset: format detected, class names carried, the flip and crop defaults.
  cf::DataOptions options = folder_options(dir.path());
  options.format = cf::DatasetFormat::automatic;
  options.valid_images = 5;
  const cf::DataSplits data = cf::load_dataset(options);
  CHECK(data.format == cf::DatasetFormat::folder);
  CHECK(data.class_names == sorted);
  CHECK(data.train.count == 10);
  CHECK(data.valid.count == 5);
  CHECK(data.test.count == 5);
  CHECK(data.crop_padding == 2);  // images under 32 pixels
  CHECK(data.horizontal_flip);
  options.crop_padding = 5;
  options.horizontal_flip = false;
  const cf::Augmentation a = cf::default_augmentation(cf::load_dataset(options));
  CHECK(a.crop_padding == 5);
  CHECK_FALSE(a.horizontal_flip);
}

TEST_CASE("grey and colour, JPEG and BMP, channels auto, 1 and 3", "[data][folder]") {
  TempDir dir;
  write_image(dir / "grey" / "a.png", pattern_image(1, 4, 4, 1));
  write_image(dir / "grey" / "b.bmp", pattern_image(2, 4, 4, 1));
  write_image(dir / "grey" / "c.jpg", cf::test::flat_image(4, 4, 1, 90, 0, 0));
  cf::DataOptions options = folder_options(dir.path());
  options.load_test = false;
  SECTION("all grey: one channel, exact for PNG and BMP") {
    const cf::DatasetFiles files = cf::read_folder_dataset(options);
    REQUIRE(files.train.count == 3);
    CHECK(files.train.shape == cf::Shape{1, 4, 4});
    CHECK(equals_pattern(files.train, 0, 1));
    CHECK(equals_pattern(files.train, 1, 2));
    for (int p = 0; p < 16; ++p) CHECK(std::abs(files.train.image(2)[p] - 90) <= 2);
  }
  SECTION("one colour image makes three channels; grey ones are replicated") {
    write_image(dir / "colour" / "d.jpeg", cf::test::flat_image(4, 4, 3, 200, 100, 30));
    const cf::DatasetFiles files = cf::read_folder_dataset(options);
    REQUIRE(files.train.count == 4);
    CHECK(files.train.shape == cf::Shape{3, 4, 4});
    CHECK(files.class_names == std::vector<std::string>{"colour", "grey"});
    // colour/d.jpeg first (label 0), in R, G, B planes.
    CHECK(files.train.labels[0] == 0);
    const uint8_t* rgb = files.train.image(0);
    for (int p = 0; p < 16; ++p) {
      CHECK(std::abs(rgb[p] - 200) <= 3);
      CHECK(std::abs(rgb[16 + p] - 100) <= 3);
      CHECK(std::abs(rgb[32 + p] - 30) <= 3);
    }
    const uint8_t* grey = files.train.image(1);  // grey/a.png in every channel
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 16; ++p) CHECK(grey[c * 16 + p] == pattern_pixel(1, p / 4, p % 4, 0));
    SECTION("channels = 1 turns colour into grey (0.299 R + 0.587 G + 0.114 B)") {
      options.conversion.channels = 1;
      const cf::DatasetFiles g = cf::read_folder_dataset(options);
      CHECK(g.train.shape == cf::Shape{1, 4, 4});
      CHECK(std::abs(g.train.image(0)[0] - (0.299 * 200 + 0.587 * 100 + 0.114 * 30)) <= 3);
      CHECK(equals_pattern(g.train, 1, 1));
    }
  }
}

TEST_CASE("image size: differing sizes need data.image_size, then resize or center_crop",
          "[data][folder]") {
  TempDir dir;
  // 8 rows x 16 columns: the outer 4 columns on each side are black, the middle 8 white.
  cv::Mat wide(8, 16, CV_8UC1, cv::Scalar(0));
  wide(cv::Rect(4, 0, 8, 8)).setTo(255);
  write_image(dir / "x" / "wide.png", wide);
  write_image(dir / "x" / "small.png", pattern_image(3, 8, 8, 1));
  cf::DataOptions options = folder_options(dir.path());
  options.load_test = false;
  expect_data_error(
      [&] { cf::read_folder_dataset(options); },
      {"images differ in size", "small.png is 8x8", "wide.png is 16x8", "data.image_size"});
  options.conversion.image_size = 8;
  options.conversion.resize = cf::ResizeMode::center_crop;
  cf::DatasetFiles files = cf::read_folder_dataset(options);
  REQUIRE(files.train.count == 2);
  CHECK(files.train.shape == cf::Shape{1, 8, 8});
  CHECK(equals_pattern(files.train, 0, 3));                            // already 8x8: unchanged
  for (int p = 0; p < 64; ++p) CHECK(files.train.image(1)[p] == 255);  // the white centre
  options.conversion.resize = cf::ResizeMode::resize;
  files = cf::read_folder_dataset(options);
  const uint8_t* squeezed = files.train.image(1);
  CHECK(squeezed[0] == 0);    // black border kept, squeezed to 2 columns
  CHECK(squeezed[4] == 255);  // centre
  CHECK(squeezed[7] == 0);
  options.conversion.image_size = 4;
  CHECK(cf::read_folder_dataset(options).train.shape == cf::Shape{1, 4, 4});
}

TEST_CASE("bad images: one clear error naming the file, or skipped and counted",
          "[data][folder][errors]") {
  TempDir dir;
  for (int i = 0; i < 3; ++i)
    write_image(dir / "train" / "ok" / ("good" + std::to_string(i) + ".png"),
                pattern_image(i, 8, 8, 3));
  write_image(dir / "train" / "ok" / "good.jpg", cf::test::flat_image(8, 8, 3, 10, 20, 30));
  const std::string png = cf::test::read_bytes(dir / "train" / "ok" / "good0.png");
  const std::string jpg = cf::test::read_bytes(dir / "train" / "ok" / "good.jpg");
  struct Bad {
    std::string name, bytes, message;
  };
  const std::vector<Bad> bad = {
      {"empty.png", "", "empty file (0 bytes)"},
      {"cut.png", png.substr(0, png.size() / 2), "truncated PNG"},
      {"cut.jpg", jpg.substr(0, jpg.size() - 20), "truncated JPEG (no end-of-image marker)"},
      {"text.jpg", "hello, I am not a picture", "not a readable PNG, JPEG or BMP image"},
      {"flipped.png",
       [&] {
         std::string b = png;
         b[b.size() / 2] ^= 0x55;
         return b;
       }(),
       "corrupt PNG (chunk checksum mismatch)"},
  };
  for (const Bad& b : bad) {
    TempDir one;
    fs::copy(dir / "train", one / "train", fs::copy_options::recursive);
    cf::test::write_bytes(one / "train" / "ok" / b.name, b.bytes);
    cf::DataOptions options = folder_options(one.path());
    options.load_test = false;
    INFO(b.name);
    expect_data_error([&] { cf::load_dataset(options); },
                      {(one / "train" / "ok" / b.name).string() + ": " + b.message,
                       "data.skip_bad_images = true"});
    options.skip_bad_images = true;
    const cf::DataSplits data = cf::load_dataset(options);
    CHECK(data.train.count == 4);
    REQUIRE(data.bad_files.size() == 1);
    CHECK(data.bad_files[0].find(b.message) != std::string::npos);
  }
  // All at once: the error counts the rest; skipping keeps the 4 good images.
  for (const Bad& b : bad) cf::test::write_bytes(dir / "train" / "ok" / b.name, b.bytes);
  cf::DataOptions options = folder_options(dir.path());
  options.load_test = false;
  expect_data_error([&] { cf::load_dataset(options); }, {"and 4 more bad images"});
  options.skip_bad_images = true;
  const cf::DataSplits data = cf::load_dataset(options);
  CHECK(data.train.count == 4);
  CHECK(data.bad_files.size() == 5);
}

TEST_CASE("folder layout errors name the folder", "[data][folder][errors]") {
  TempDir dir;
  cf::DataOptions options = folder_options(dir.path());
  SECTION("no class folders") {
    fs::create_directories(dir / "train");
    expect_data_error([&] { cf::read_folder_dataset(options); },
                      {(dir / "train").string(), "no class folders"});
  }
  SECTION("an empty class folder") {
    write_image(dir / "train" / "a" / "x.png", pattern_image(0, 4, 4, 1));
    fs::create_directories(dir / "train" / "b");
    expect_data_error([&] { cf::read_folder_dataset(options); },
                      {(dir / "train" / "b").string(), "no images"});
  }
  SECTION("a test class the training split lacks") {
    write_image(dir / "train" / "a" / "x.png", pattern_image(0, 4, 4, 1));
    write_image(dir / "test" / "z" / "x.png", pattern_image(0, 4, 4, 1));
    expect_data_error([&] { cf::read_folder_dataset(options); },
                      {(dir / "test" / "z").string(), "not in the training split"});
  }
  SECTION("a single tree has no test images unless they are optional") {
    write_image(dir / "a" / "x.png", pattern_image(0, 4, 4, 1));
    write_image(dir / "b" / "y.png", pattern_image(1, 4, 4, 1));
    expect_data_error([&] { cf::read_folder_dataset(options); },
                      {dir.path().string(), "no test/ folder", "data.test = false"});
    options.test_if_present = true;
    const cf::DatasetFiles files = cf::read_folder_dataset(options);
    CHECK(files.train.count == 2);
    CHECK(files.test.count == 0);
    CHECK_FALSE(files.has_test);
    CHECK(files.class_names == std::vector<std::string>{"a", "b"});
    CHECK(cf::detect_dataset_format(dir.path()) == cf::DatasetFormat::folder);
  }
}

TEST_CASE("the decoded-image cache is reused, invalidated by a changed file, rebuilt when damaged",
          "[data][folder][cache]") {
  TempDir dir;
  for (int i = 0; i < 6; ++i)
    write_image(dir / "train" / (i % 2 ? "odd" : "even") / (std::to_string(i) + ".png"),
                pattern_image(i, 8, 8, 3));
  cf::DataOptions options = folder_options(dir.path());
  options.load_test = false;
  const fs::path cache_dir = dir / ".cellforge-cache";

  int64_t before = cf::folder_images_decoded();
  const cf::DatasetFiles first = cf::read_folder_dataset(options);
  CHECK(cf::folder_images_decoded() - before == 6);
  CHECK(first.cache_status.rfind("written " + cache_dir.string(), 0) == 0);
  std::vector<fs::path> cache_files;
  for (const auto& e : fs::directory_iterator(cache_dir)) cache_files.push_back(e.path());
  REQUIRE(cache_files.size() == 1);  // no temporary files left behind

  before = cf::folder_images_decoded();
  const cf::DatasetFiles second = cf::read_folder_dataset(options);
  CHECK(cf::folder_images_decoded() - before == 0);
  CHECK(second.cache_status.rfind("reused ", 0) == 0);
  CHECK(second.train.pixels == first.train.pixels);
  CHECK(second.train.labels == first.train.labels);
  CHECK(second.class_names == first.class_names);

  SECTION("a changed image is decoded again, with its new pixels") {
    write_image(dir / "train" / "even" / "2.png", pattern_image(42, 8, 8, 3));
    struct timespec times[2] = {{0, UTIME_NOW}, {1000, 0}};  // a different mtime, surely
    utimensat(AT_FDCWD, (dir / "train" / "even" / "2.png").c_str(), times, 0);
    before = cf::folder_images_decoded();
    const cf::DatasetFiles changed = cf::read_folder_dataset(options);
    CHECK(cf::folder_images_decoded() - before == 6);
    CHECK(changed.cache_status.rfind("written ", 0) == 0);
    CHECK(equals_pattern(changed.train, 1, 42));  // even: 0, 2, 4
    CHECK(cf::read_folder_dataset(options).cache_status.rfind("reused ", 0) == 0);
  }
  SECTION("a new image invalidates the cache") {
    write_image(dir / "train" / "odd" / "7.png", pattern_image(7, 8, 8, 3));
    before = cf::folder_images_decoded();
    CHECK(cf::read_folder_dataset(options).train.count == 7);
    CHECK(cf::folder_images_decoded() - before == 7);
  }
  SECTION("another conversion is another cache file") {
    options.conversion.channels = 1;
    before = cf::folder_images_decoded();
    CHECK(cf::read_folder_dataset(options).train.shape.c == 1);
    CHECK(cf::folder_images_decoded() - before == 6);
    CHECK(std::distance(fs::directory_iterator(cache_dir), fs::directory_iterator()) == 2);
  }
  SECTION("a damaged cache is rebuilt, never trusted") {
    const std::string good = cf::test::read_bytes(cache_files[0]);
    const std::vector<std::string> damaged = {good.substr(0, good.size() - 10),  // truncated
                                              good + "x",                        // trailing byte
                                              [&] {
                                                std::string b = good;
                                                b[b.size() - 5] ^= 1;
                                                return b;
                                              }(),  // a pixel flipped
                                              [&] {
                                                std::string b = good;
                                                b[0] = 'X';
                                                return b;
                                              }(),  // bad magic
                                              ""};
    for (const std::string& bytes : damaged) {
      cf::test::write_bytes(cache_files[0], bytes);
      before = cf::folder_images_decoded();
      const cf::DatasetFiles rebuilt = cf::read_folder_dataset(options);
      CHECK(cf::folder_images_decoded() - before == 6);
      CHECK(rebuilt.train.pixels == first.train.pixels);
      CHECK(cf::test::read_bytes(cache_files[0]) == good);
    }
  }
  SECTION("an explicit cache directory, and none at all, still load") {
    TempDir other;
    options.cache_dir = other / "cache";
    CHECK(cf::read_folder_dataset(options).cache_status.rfind(
              "written " + (other / "cache").string(), 0) == 0);
    options.cache_dir = "/proc/cellforge-no-such-dir";
    const cf::DatasetFiles uncached = cf::read_folder_dataset(options);
    CHECK(uncached.cache_status.rfind("not written", 0) == 0);
    CHECK(uncached.train.pixels == first.train.pixels);
  }
}

// trainer/data: IDX and CIFAR readers with every error, the seeded validation split, normalisation
// statistics, batch filling and augmentation, and the real Fashion-MNIST files when installed.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "trainer/data.h"
#include "skip.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("cf_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const Bytes& bytes, bool gzip = false) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    REQUIRE(file != nullptr);
    REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
    REQUIRE(gzclose(file) == Z_OK);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
  }
}

Bytes read_raw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put_be32(Bytes& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<uint8_t>(value >> shift));
}

// Pixel (y, x) of image i in the synthetic IDX set: distinct across images and positions.
uint8_t idx_pixel(int i, int y, int x) {
  return static_cast<uint8_t>(i * 37 + y * 5 + x);
}
uint8_t idx_label(int i) {
  return static_cast<uint8_t>((i * 3) % 10);
}

Bytes idx_images(int count, int height, int width, uint32_t magic = 0x00000803) {
  Bytes bytes;
  put_be32(bytes, magic);
  put_be32(bytes, count);
  put_be32(bytes, height);
  put_be32(bytes, width);
  for (int i = 0; i < count; ++i) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) bytes.push_back(idx_pixel(i, y, x));
    }
  }
  return bytes;
}

Bytes idx_labels(int count, uint32_t magic = 0x00000801) {
  Bytes bytes;
  put_be32(bytes, magic);
  put_be32(bytes, count);
  for (int i = 0; i < count; ++i) bytes.push_back(idx_label(i));
  return bytes;
}

// A complete IDX dataset directory: train (count images) and t10k (test_count) files.
void write_idx_dataset(const fs::path& dir, int count, int test_count, int height, int width,
                       bool gzip) {
  fs::create_directories(dir);
  const std::string gz = gzip ? ".gz" : "";
  write_file(dir / ("train-images-idx3-ubyte" + gz), idx_images(count, height, width), gzip);
  write_file(dir / ("train-labels-idx1-ubyte" + gz), idx_labels(count), gzip);
  write_file(dir / ("t10k-images-idx3-ubyte" + gz), idx_images(test_count, height, width), gzip);
  write_file(dir / ("t10k-labels-idx1-ubyte" + gz), idx_labels(test_count), gzip);
}

// Pixel p (of 3072, CHW) of CIFAR record r in a file tagged `file_tag`: image means differ, so
// statistics depend on which images are counted.
uint8_t cifar_pixel(int file_tag, int record, int p) {
  return static_cast<uint8_t>((file_tag * 29 + record * 13 + (p % 1024) * (p / 1024 + 1) / 8) %
                              256);
}

Bytes cifar_batch(int file_tag, int records, bool cifar100) {
  Bytes bytes;
  for (int r = 0; r < records; ++r) {
    if (cifar100) {
      bytes.push_back(static_cast<uint8_t>((file_tag + r) % 20));  // coarse
      bytes.push_back(static_cast<uint8_t>((file_tag * 13 + r) % 100));
    } else {
      bytes.push_back(static_cast<uint8_t>((file_tag + r) % 10));
    }
    for (int p = 0; p < 3072; ++p) bytes.push_back(cifar_pixel(file_tag, r, p));
  }
  return bytes;
}

void write_cifar10_dataset(const fs::path& dir, int records_per_batch) {
  fs::create_directories(dir);
  for (int i = 1; i <= 5; ++i) {
    write_file(dir / ("data_batch_" + std::to_string(i) + ".bin"),
               cifar_batch(i, records_per_batch, false));
  }
  write_file(dir / "test_batch.bin", cifar_batch(9, records_per_batch, false));
}

void write_cifar100_dataset(const fs::path& dir, int records) {
  fs::create_directories(dir);
  write_file(dir / "train.bin", cifar_batch(1, records, true));
  write_file(dir / "test.bin", cifar_batch(2, records, true));
}

// Expects `action` to throw a DataError whose one-line message starts with `file` and contains
// every fragment.
void expect_data_error(const std::function<void()>& action, const fs::path& file,
                       const std::vector<std::string>& fragments) {
  try {
    action();
    FAIL("expected a DataError about " << file.string());
  } catch (const cf::DataError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.rfind(file.string() + ": ", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
    for (const auto& fragment : fragments) CHECK(message.find(fragment) != std::string::npos);
  }
}

cf::DataOptions options_for(const fs::path& dir, int valid_images = 0) {
  cf::DataOptions options;
  options.dir = dir;
  options.valid_images = valid_images;
  return options;
}

// Normalised value of pixel value v in channel c.
float normalised(uint8_t v, const std::vector<float>& mean, const std::vector<float>& stddev,
                 int c) {
  return (static_cast<float>(v) / 255.0f - mean[c]) / stddev[c];
}

// A one-image set whose pixel (c, y, x) is given by `pixel`; labels 0.
cf::ImageSet single_image(cf::Shape shape, const std::function<uint8_t(int, int, int)>& pixel) {
  cf::ImageSet set;
  set.count = 1;
  set.shape = shape;
  set.classes = 10;
  for (int c = 0; c < shape.c; ++c) {
    for (int y = 0; y < shape.h; ++y) {
      for (int x = 0; x < shape.w; ++x) set.pixels.push_back(pixel(c, y, x));
    }
  }
  set.labels = {7};
  return set;
}

}  // namespace

TEST_CASE("IDX files parse exactly, plain and gzip", "[data][idx]") {
  for (const bool gzip : {false, true}) {
    INFO("gzip " << gzip);
    TempDir dir;
    write_idx_dataset(dir.path(), 6, 4, 5, 3, gzip);
    const std::string gz = gzip ? ".gz" : "";
    const cf::ImageSet set = cf::read_idx(dir / ("train-images-idx3-ubyte" + gz),
                                          dir / ("train-labels-idx1-ubyte" + gz));
    CHECK(set.count == 6);
    CHECK(set.shape == cf::Shape{1, 5, 3});
    CHECK(set.classes == 10);
    REQUIRE(set.pixels.size() == 6u * 5 * 3);
    REQUIRE(set.labels.size() == 6u);
    for (int i = 0; i < 6; ++i) {
      CHECK(set.labels[i] == idx_label(i));
      for (int y = 0; y < 5; ++y) {
        for (int x = 0; x < 3; ++x) CHECK(set.image(i)[y * 3 + x] == idx_pixel(i, y, x));
      }
    }

    cf::DataOptions options = options_for(dir.path());
    options.load_test = true;
    const cf::DataSplits data = cf::load_dataset(options);
    CHECK(data.train.count == 6);
    CHECK(data.valid.count == 0);
    CHECK(data.test.count == 4);
    CHECK(data.test.shape == cf::Shape{1, 5, 3});
    for (int i = 0; i < 4; ++i) {
      CHECK(data.test.labels[i] == idx_label(i));
      CHECK(data.test.image(i)[4] == idx_pixel(i, 1, 1));
    }
  }
}

TEST_CASE("gzip and plain IDX files mix, test files are read only on request", "[data][idx]") {
  TempDir dir;
  write_file(dir / "train-images-idx3-ubyte.gz", idx_images(3, 2, 2), true);
  write_file(dir / "train-labels-idx1-ubyte", idx_labels(3), false);
  const cf::DataSplits data = cf::load_dataset(options_for(dir.path()));
  CHECK(data.train.count == 3);
  CHECK(data.test.count == 0);  // no t10k files exist and none were asked for

  cf::DataOptions with_test = options_for(dir.path());
  with_test.load_test = true;
  expect_data_error([&] { cf::load_dataset(with_test); }, dir / "t10k-images-idx3-ubyte.gz",
                    {"file not found"});
}

TEST_CASE("every IDX error names the file and the problem", "[data][idx][errors]") {
  TempDir dir;
  const fs::path images = dir / "train-images-idx3-ubyte";
  const fs::path labels = dir / "train-labels-idx1-ubyte";
  const auto read = [&] { cf::read_idx(images, labels); };
  const auto load = [&] { cf::load_dataset(options_for(dir.path())); };

  SECTION("missing images file") {
    write_file(labels, idx_labels(3));
    cf::DataOptions options = options_for(dir.path());
    options.format = cf::DatasetFormat::idx;
    expect_data_error([&] { cf::load_dataset(options); }, dir / "train-images-idx3-ubyte.gz",
                      {"file not found", "train-images-idx3-ubyte"});
    expect_data_error(read, images, {"file not found"});
  }
  SECTION("missing labels file") {
    write_file(images, idx_images(3, 2, 2));
    expect_data_error(load, dir / "train-labels-idx1-ubyte.gz", {"file not found"});
  }
  SECTION("bad magic in the images file") {
    write_file(images, idx_images(3, 2, 2, 0x00000801));
    write_file(labels, idx_labels(3));
    expect_data_error(read, images, {"bad magic 0x00000801", "expected 0x00000803"});
  }
  SECTION("bad magic in the labels file, gzip") {
    write_file(images, idx_images(3, 2, 2));
    write_file(labels, idx_labels(3, 0x00000803), true);
    expect_data_error(read, labels, {"bad magic 0x00000803", "expected 0x00000801"});
  }
  SECTION("a CIFAR batch given as IDX has a bad magic") {
    write_file(images, cifar_batch(1, 1, false));
    write_file(labels, idx_labels(1));
    expect_data_error(read, images, {"bad magic"});
  }
  SECTION("truncated image data, plain and gzip") {
    for (const bool gzip : {false, true}) {
      Bytes bytes = idx_images(4, 3, 3);
      bytes.resize(bytes.size() - 5);
      write_file(images, bytes, gzip);
      write_file(labels, idx_labels(4));
      expect_data_error(read, images, {"truncated", "4 images of 3x3 (36 bytes)", "only 31 bytes"});
    }
  }
  SECTION("truncated header") {
    write_file(images, Bytes{0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
    write_file(labels, idx_labels(1));
    expect_data_error(read, images, {"truncated", "10 bytes", "16-byte IDX header"});
  }
  SECTION("truncated labels") {
    write_file(images, idx_images(4, 2, 2));
    Bytes bytes = idx_labels(4);
    bytes.pop_back();
    write_file(labels, bytes);
    expect_data_error(read, labels, {"truncated", "4 labels", "only 3 bytes"});
  }
  SECTION("a cut gzip stream") {
    write_file(images, idx_images(50, 10, 10), true);
    Bytes compressed = read_raw(images);
    compressed.resize(compressed.size() / 2);
    write_file(images, compressed);
    write_file(labels, idx_labels(50));
    expect_data_error(read, images, {"truncated"});
  }
  SECTION("a corrupt gzip stream") {
    write_file(images, idx_images(5, 4, 4), true);
    Bytes compressed = read_raw(images);
    compressed[compressed.size() - 8] ^= 0xff;  // the CRC-32 in the gzip trailer
    write_file(images, compressed);
    write_file(labels, idx_labels(5));
    expect_data_error(read, images, {"corrupt gzip data"});
  }
  SECTION("trailing bytes after the declared images") {
    Bytes bytes = idx_images(2, 2, 2);
    bytes.push_back(1);
    bytes.push_back(2);
    write_file(images, bytes);
    write_file(labels, idx_labels(2));
    expect_data_error(read, images, {"2 unexpected bytes", "2 images of 2x2"});
  }
  SECTION("image and label counts differ") {
    write_file(images, idx_images(4, 2, 2));
    write_file(labels, idx_labels(3));
    expect_data_error(read, labels, {"3 labels", images.string() + " has 4 images"});
  }
  SECTION("label out of range") {
    write_file(images, idx_images(4, 2, 2));
    Bytes bytes = idx_labels(4);
    bytes[8 + 2] = 10;
    write_file(labels, bytes);
    expect_data_error(read, labels, {"label 10 of image 2", "out of range", "10 classes"});
  }
  SECTION("zero images") {
    write_file(images, idx_images(0, 28, 28));
    write_file(labels, idx_labels(0));
    expect_data_error(read, images, {"no images"});
  }
  SECTION("zero-size images") {
    write_file(images, idx_images(3, 0, 28));
    write_file(labels, idx_labels(3));
    expect_data_error(read, images, {"0x28", "impossible size"});
  }
  SECTION("test images of other dimensions than the training images") {
    write_file(images, idx_images(4, 3, 3));
    write_file(labels, idx_labels(4));
    write_file(dir / "t10k-images-idx3-ubyte.gz", idx_images(2, 3, 4), true);
    write_file(dir / "t10k-labels-idx1-ubyte.gz", idx_labels(2), true);
    cf::DataOptions options = options_for(dir.path());
    options.load_test = true;
    expect_data_error([&] { cf::load_dataset(options); }, dir / "t10k-images-idx3-ubyte.gz",
                      {"1x3x4", "1x3x3", images.string()});
  }
  SECTION("an unreadable directory entry") {
    fs::create_directories(images);  // a directory where the file should be
    write_file(labels, idx_labels(1));
    expect_data_error(read, images, {"not a regular file"});
  }
}

TEST_CASE("CIFAR-10 and CIFAR-100 batches parse exactly", "[data][cifar]") {
  SECTION("CIFAR-10: five batches concatenated in order, CHW pixels") {
    TempDir dir;
    write_cifar10_dataset(dir.path(), 3);
    std::vector<fs::path> files;
    for (int i = 1; i <= 5; ++i)
      files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
    const cf::ImageSet set = cf::read_cifar(files, false);
    CHECK(set.count == 15);
    CHECK(set.shape == cf::Shape{3, 32, 32});
    CHECK(set.classes == 10);
    for (int i = 0; i < 15; ++i) {
      const int tag = i / 3 + 1, record = i % 3;
      CHECK(set.labels[i] == (tag + record) % 10);
      for (int p : {0, 1, 1023, 1024, 2047, 2048, 3071}) {
        CHECK(set.image(i)[p] == cifar_pixel(tag, record, p));
      }
    }
    cf::DataOptions options = options_for(dir.path(), 5);
    options.load_test = true;
    const cf::DataSplits data = cf::load_dataset(options);
    CHECK(data.name == "cifar10");
    CHECK(data.train.count == 10);
    CHECK(data.valid.count == 5);
    CHECK(data.test.count == 3);
    CHECK(data.test.image(2)[100] == cifar_pixel(9, 2, 100));
    CHECK(data.mean.size() == 3);
    CHECK(data.stddev.size() == 3);
  }
  SECTION("CIFAR-100: the fine label is kept, 100 classes") {
    TempDir dir;
    write_cifar100_dataset(dir.path(), 4);
    const cf::ImageSet set = cf::read_cifar({dir / "train.bin"}, true);
    CHECK(set.count == 4);
    CHECK(set.classes == 100);
    for (int r = 0; r < 4; ++r) {
      CHECK(set.labels[r] == (13 + r) % 100);
      CHECK(set.image(r)[3071] == cifar_pixel(1, r, 3071));
    }
    cf::DataOptions options = options_for(dir.path(), 1);
    options.load_test = true;
    const cf::DataSplits data = cf::load_dataset(options);
    CHECK(data.name == "cifar100");
    CHECK(data.train.count == 3);
    CHECK(data.test.count == 4);
    CHECK(data.test.labels[1] == (26 + 1) % 100);
  }
  SECTION("the archives' own subfolders are found") {
    TempDir dir;
    write_cifar10_dataset(dir / "cifar-10-batches-bin", 1);
    CHECK(cf::detect_dataset_format(dir.path()) == cf::DatasetFormat::cifar10);
    CHECK(cf::load_dataset(options_for(dir.path())).train.count == 5);
    TempDir dir100;
    write_cifar100_dataset(dir100 / "cifar-100-binary", 2);
    CHECK(cf::detect_dataset_format(dir100.path()) == cf::DatasetFormat::cifar100);
    cf::DataOptions options = options_for(dir100.path());
    options.format = cf::DatasetFormat::cifar100;
    CHECK(cf::load_dataset(options).train.count == 2);
  }
}

TEST_CASE("every CIFAR error names the file and the problem", "[data][cifar][errors]") {
  TempDir dir;
  SECTION("a missing batch") {
    write_cifar10_dataset(dir.path(), 1);
    fs::remove(dir / "data_batch_3.bin");
    expect_data_error([&] { cf::load_dataset(options_for(dir.path())); }, dir / "data_batch_3.bin",
                      {"file not found"});
  }
  SECTION("a missing test batch") {
    write_cifar10_dataset(dir.path(), 1);
    fs::remove(dir / "test_batch.bin");
    cf::DataOptions options = options_for(dir.path());
    options.load_test = true;
    expect_data_error([&] { cf::load_dataset(options); }, dir / "test_batch.bin",
                      {"file not found"});
  }
  SECTION("CIFAR-10 size not a multiple of the record") {
    write_cifar10_dataset(dir.path(), 2);
    Bytes bytes = cifar_batch(4, 2, false);
    bytes.pop_back();
    write_file(dir / "data_batch_4.bin", bytes);
    expect_data_error([&] { cf::load_dataset(options_for(dir.path())); }, dir / "data_batch_4.bin",
                      {"6145 bytes", "not a multiple of the 3073-byte CIFAR-10 record"});
  }
  SECTION("CIFAR-100 size not a multiple of the record (a CIFAR-10 batch)") {
    write_file(dir / "train.bin", cifar_batch(1, 2, false));
    expect_data_error([&] { cf::read_cifar({dir / "train.bin"}, true); }, dir / "train.bin",
                      {"not a multiple of the 3074-byte CIFAR-100 record"});
  }
  SECTION("an empty batch") {
    write_file(dir / "data_batch_1.bin", {});
    expect_data_error([&] { cf::read_cifar({dir / "data_batch_1.bin"}, false); },
                      dir / "data_batch_1.bin", {"no images"});
  }
  SECTION("CIFAR-10 label out of range") {
    Bytes bytes = cifar_batch(1, 3, false);
    bytes[2 * 3073] = 10;
    write_file(dir / "data_batch_1.bin", bytes);
    expect_data_error([&] { cf::read_cifar({dir / "data_batch_1.bin"}, false); },
                      dir / "data_batch_1.bin", {"label 10 of record 2", "10 classes"});
  }
  SECTION("CIFAR-100 fine label out of range") {
    Bytes bytes = cifar_batch(1, 3, true);
    bytes[1 * 3074 + 1] = 100;
    write_file(dir / "train.bin", bytes);
    expect_data_error([&] { cf::read_cifar({dir / "train.bin"}, true); }, dir / "train.bin",
                      {"fine label 100 of record 1", "100 classes"});
  }
  SECTION("CIFAR-100 coarse label out of range") {
    Bytes bytes = cifar_batch(1, 3, true);
    bytes[0] = 20;
    write_file(dir / "train.bin", bytes);
    expect_data_error([&] { cf::read_cifar({dir / "train.bin"}, true); }, dir / "train.bin",
                      {"coarse label 20 of record 0", "20 classes"});
  }
}

TEST_CASE("format detection and dataset names", "[data]") {
  TempDir dir;
  SECTION("nothing recognisable lists what was expected") {
    write_file(dir / "readme.txt", {1, 2, 3});
    expect_data_error(
        [&] { cf::load_dataset(options_for(dir.path())); }, dir.path(),
        {"no dataset found", "train-images-idx3-ubyte[.gz]", "data_batch_1..5.bin", "train.bin"});
  }
  SECTION("a missing directory") {
    expect_data_error([&] { cf::load_dataset(options_for(dir / "nowhere")); }, dir / "nowhere",
                      {"directory not found"});
  }
  SECTION("names from the directory") {
    const std::map<std::string, std::string> expected = {{"fashion-mnist", "fashion-mnist"},
                                                         {"FashionMNIST", "fashion-mnist"},
                                                         {"mnist", "mnist"},
                                                         {"kmnist", "kmnist"}};
    for (const auto& [folder, name] : expected) {
      write_idx_dataset(dir / folder, 2, 1, 2, 2, true);
      CHECK(cf::load_dataset(options_for(dir / folder)).name == name);
      CHECK(cf::load_dataset(options_for((dir / folder) / "")).name == name);
    }
  }
  SECTION("the flip is decided by the format and the caller, never by the directory's name") {
    // The same IDX files under two names get the same augmentation (the name used to decide).
    write_idx_dataset(dir / "mnist", 2, 1, 2, 2, true);
    write_idx_dataset(dir / "fashion-mnist", 2, 1, 2, 2, true);
    const cf::DataSplits digits = cf::load_dataset(options_for(dir / "mnist"));
    const cf::DataSplits fashion = cf::load_dataset(options_for(dir / "fashion-mnist"));
    CHECK(digits.format == cf::DatasetFormat::idx);
    CHECK(cf::default_augmentation(digits).horizontal_flip ==
          cf::default_augmentation(fashion).horizontal_flip);
    CHECK(cf::default_augmentation(fashion).horizontal_flip);  // Fashion-MNIST as before
    CHECK(cf::default_augmentation(fashion).crop_padding == 2);
    for (auto format : {cf::DatasetFormat::idx, cf::DatasetFormat::cifar10,
                        cf::DatasetFormat::cifar100})
      CHECK(cf::default_horizontal_flip(format));
    CHECK_THROWS_AS(cf::default_horizontal_flip(cf::DatasetFormat::automatic),
                    std::invalid_argument);
    // The caller overrides either way.
    for (bool flip : {false, true}) {
      cf::DataOptions options = options_for(dir / "fashion-mnist");
      options.horizontal_flip = flip;
      const cf::DataSplits data = cf::load_dataset(options);
      CHECK(data.horizontal_flip == flip);
      CHECK(cf::default_augmentation(data).horizontal_flip == flip);
    }
  }
  SECTION("format names round-trip") {
    for (auto format : {cf::DatasetFormat::automatic, cf::DatasetFormat::idx,
                        cf::DatasetFormat::cifar10, cf::DatasetFormat::cifar100}) {
      CHECK(cf::parse_dataset_format(cf::dataset_format_name(format)) == format);
    }
    CHECK_FALSE(cf::parse_dataset_format("svhn").has_value());
  }
}

TEST_CASE("impossible split options are errors naming the option and the count", "[data][errors]") {
  TempDir dir;
  write_idx_dataset(dir.path(), 10, 2, 2, 2, false);
  const fs::path images = dir / "train-images-idx3-ubyte";
  cf::DataOptions options = options_for(dir.path(), 4);
  const auto load = [&] { cf::load_dataset(options); };

  options.train_images = 7;
  expect_data_error(load, images, {"train_images = 7", "valid_images = 4", "10 images available"});
  options.train_images = 0;
  options.valid_images = 10;
  expect_data_error(load, images, {"valid_images = 10", "no training images", "10 available"});
  options.valid_images = -1;
  expect_data_error(load, images, {"valid_images = -1", "negative"});
  options.valid_images = 0;
  options.train_images = -3;
  expect_data_error(load, images, {"train_images = -3", "negative"});
  options.valid_images = 4;
  options.train_images = 6;  // exactly all
  CHECK(cf::load_dataset(options).train.count == 6);
}

TEST_CASE("the validation split is seeded, disjoint and complete", "[data][split]") {
  TempDir dir;
  const int count = 200;
  // Images of 1x1x2 whose two bytes encode the image index.
  Bytes images;
  put_be32(images, 0x00000803);
  put_be32(images, count);
  put_be32(images, 1);
  put_be32(images, 2);
  for (int i = 0; i < count; ++i) {
    images.push_back(static_cast<uint8_t>(i & 0xff));
    images.push_back(static_cast<uint8_t>(i >> 8));
  }
  write_file(dir / "train-images-idx3-ubyte.gz", images, true);
  write_file(dir / "train-labels-idx1-ubyte.gz", idx_labels(count), true);

  const auto indices_of = [](const cf::ImageSet& set) {
    std::vector<int> indices;
    for (int i = 0; i < set.count; ++i) {
      const int index = set.image(i)[0] | set.image(i)[1] << 8;
      CHECK(set.labels[i] == idx_label(index));  // labels travel with their images
      indices.push_back(index);
    }
    return indices;
  };
  cf::DataOptions options = options_for(dir.path(), 50);
  options.seed = 42;
  const cf::DataSplits a = cf::load_dataset(options);
  const cf::DataSplits again = cf::load_dataset(options);
  const std::vector<int> valid = indices_of(a.valid), train = indices_of(a.train);
  CHECK(valid.size() == 50);
  CHECK(train.size() == 150);
  CHECK(indices_of(again.valid) == valid);
  CHECK(indices_of(again.train) == train);

  std::set<int> seen(valid.begin(), valid.end());
  seen.insert(train.begin(), train.end());
  CHECK(seen.size() == static_cast<size_t>(count));  // disjoint and together complete
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == count - 1);
  std::vector<int> sorted_valid = valid;
  std::sort(sorted_valid.begin(), sorted_valid.end());
  CHECK(sorted_valid != valid);  // a random selection, not the first or any sorted block

  options.seed = 43;
  const cf::DataSplits other = cf::load_dataset(options);
  CHECK(indices_of(other.valid) != valid);
  CHECK(indices_of(other.train) != train);

  // A smaller train_images takes a prefix of the same permutation; valid is unchanged.
  options.seed = 42;
  options.train_images = 30;
  const cf::DataSplits limited = cf::load_dataset(options);
  CHECK(indices_of(limited.valid) == valid);
  CHECK(indices_of(limited.train) == std::vector<int>(train.begin(), train.begin() + 30));
}

TEST_CASE("normalisation statistics are per channel, from the train split", "[data][stats]") {
  SECTION("known values") {
    cf::ImageSet set;
    set.count = 2;
    set.shape = {2, 1, 2};
    set.classes = 10;
    // Channel 0: 0, 255, 0, 255 -> mean 0.5, std 0.5. Channel 1: constant 51 -> mean 0.2, std 1.
    set.pixels = {0, 255, 51, 51, 0, 255, 51, 51};
    set.labels = {0, 1};
    std::vector<float> mean, stddev;
    cf::channel_statistics(set, mean, stddev);
    REQUIRE(mean.size() == 2);
    REQUIRE(stddev.size() == 2);
    CHECK(mean[0] == Approx(0.5f));
    CHECK(stddev[0] == Approx(0.5f));
    CHECK(mean[1] == Approx(0.2f));
    CHECK(stddev[1] == 1.0f);  // constant: no division by zero later
  }
  SECTION("load_dataset uses the train split only") {
    TempDir dir;
    write_cifar10_dataset(dir.path(), 4);
    cf::DataOptions options = options_for(dir.path(), 8);
    options.seed = 5;
    const cf::DataSplits data = cf::load_dataset(options);
    // Independent double-precision computation over the train images only.
    for (int c = 0; c < 3; ++c) {
      double sum = 0, squares = 0;
      const int plane = 32 * 32;
      for (int i = 0; i < data.train.count; ++i) {
        for (int p = 0; p < plane; ++p) {
          const double v = data.train.image(i)[c * plane + p] / 255.0;
          sum += v;
          squares += v * v;
        }
      }
      const double n = static_cast<double>(data.train.count) * plane;
      const double mean = sum / n;
      CHECK(data.mean[c] == Approx(mean).epsilon(1e-5));
      CHECK(data.stddev[c] == Approx(std::sqrt(squares / n - mean * mean)).epsilon(1e-5));
    }
    // The valid split differs, so statistics over all images would differ.
    std::vector<float> valid_mean, valid_stddev;
    cf::channel_statistics(data.valid, valid_mean, valid_stddev);
    CHECK(valid_mean != data.mean);
  }
}

TEST_CASE("fill_batch without augmentation is the exact normalised copy", "[data][batch]") {
  TempDir dir;
  write_cifar10_dataset(dir.path(), 2);
  const cf::DataSplits data = cf::load_dataset(options_for(dir.path()));
  const cf::ImageSet& set = data.train;
  const std::vector<int> indices = {3, 0, 9, 3};
  const int image_size = 3 * 32 * 32;
  std::vector<float> images(indices.size() * image_size, -99.0f);
  std::vector<int32_t> labels(indices.size(), -1);
  cf::fill_batch(set, data.mean, data.stddev, indices.data(), 4, images.data(), labels.data(),
                 nullptr, nullptr);
  for (int b = 0; b < 4; ++b) {
    CHECK(labels[b] == set.labels[indices[b]]);
    for (int p = 0; p < image_size; ++p) {
      const float expected = normalised(set.image(indices[b])[p], data.mean, data.stddev, p / 1024);
      if (std::abs(images[b * image_size + p] - expected) > 1e-5f) {
        FAIL("image " << b << " value " << p << ": " << images[b * image_size + p]
                      << " != " << expected);
      }
    }
  }

  // Augmentation that is all off draws nothing and changes nothing.
  cf::Rng rng(1);
  const auto state = rng.state();
  std::vector<float> again(images.size());
  const cf::Augmentation off;
  cf::fill_batch(set, data.mean, data.stddev, indices.data(), 4, again.data(), labels.data(), &off,
                 &rng);
  CHECK(again == images);
  CHECK(rng.state() == state);
}

TEST_CASE("flip mirrors a gradient image", "[data][augment]") {
  const cf::Shape shape{2, 3, 8};
  const cf::ImageSet set = single_image(
      shape, [](int c, int y, int x) { return static_cast<uint8_t>(c * 100 + y * 20 + x * 2); });
  const std::vector<float> mean = {0.1f, 0.3f}, stddev = {0.5f, 0.25f};
  cf::Augmentation flip_only;
  flip_only.horizontal_flip = true;
  cf::Rng rng(7);
  const int batch = 64;
  const std::vector<int> indices(batch, 0);
  std::vector<float> images(batch * shape.numel());
  std::vector<int32_t> labels(batch);
  cf::fill_batch(set, mean, stddev, indices.data(), batch, images.data(), labels.data(), &flip_only,
                 &rng);
  int flipped = 0;
  for (int b = 0; b < batch; ++b) {
    CHECK(labels[b] == 7);
    const float* out = images.data() + b * shape.numel();
    const bool is_flipped = out[0] > out[1];  // the gradient rises left to right
    flipped += is_flipped;
    for (int c = 0; c < shape.c; ++c) {
      for (int y = 0; y < shape.h; ++y) {
        for (int x = 0; x < shape.w; ++x) {
          const int source_x = is_flipped ? shape.w - 1 - x : x;
          const float expected =
              normalised(set.image(0)[(c * shape.h + y) * shape.w + source_x], mean, stddev, c);
          REQUIRE(out[(c * shape.h + y) * shape.w + x] == Approx(expected).margin(1e-5));
        }
      }
    }
  }
  CHECK(flipped > 16);  // p = 0.5 over 64 images
  CHECK(flipped < 48);
}

TEST_CASE("crop with padding shifts content and pads with the mean", "[data][augment]") {
  const cf::Shape shape{1, 6, 7};
  // Distinct values, none normalised to 0: each pixel identifies its position.
  const cf::ImageSet set =
      single_image(shape, [](int, int y, int x) { return static_cast<uint8_t>(100 + y * 7 + x); });
  const std::vector<float> mean = {0.2f}, stddev = {0.5f};
  for (const bool flip : {false, true}) {
    INFO("with flip " << flip);
    cf::Augmentation crop;
    crop.crop_padding = 2;
    crop.horizontal_flip = flip;
    cf::Rng rng(3);
    const int batch = 400;
    const std::vector<int> indices(batch, 0);
    std::vector<float> images(batch * shape.numel());
    std::vector<int32_t> labels(batch);
    cf::fill_batch(set, mean, stddev, indices.data(), batch, images.data(), labels.data(), &crop,
                   &rng);
    std::set<std::tuple<int, int, bool>> seen;
    for (int b = 0; b < batch; ++b) {
      const float* out = images.data() + b * shape.numel();
      // Shift and mirroring are read off the first row that shows the image (>= 5 columns).
      int shift_y = 99, shift_x = 99;
      bool mirrored = false;
      for (int p = 0; p < shape.numel() && shift_y == 99; ++p) {
        if (out[p] == 0.0f) continue;
        const auto source_at = [&](int q) {
          return static_cast<int>(std::lround((out[q] * stddev[0] + mean[0]) * 255.0f)) - 100;
        };
        const int source = source_at(p);
        mirrored = source_at(p + 1) < source;
        const int x = mirrored ? shape.w - 1 - p % 7 : p % 7;
        shift_y = source / 7 - p / 7;
        shift_x = source % 7 - x;
      }
      REQUIRE(std::abs(shift_y) <= 2);
      REQUIRE(std::abs(shift_x) <= 2);
      REQUIRE((flip || !mirrored));
      seen.insert({shift_y, shift_x, mirrored});
      for (int y = 0; y < shape.h; ++y) {
        for (int x = 0; x < shape.w; ++x) {
          const int sy = y + shift_y, sx = (mirrored ? shape.w - 1 - x : x) + shift_x;
          const bool inside = sy >= 0 && sy < shape.h && sx >= 0 && sx < shape.w;
          const float expected =
              inside ? normalised(static_cast<uint8_t>(100 + sy * 7 + sx), mean, stddev, 0) : 0.0f;
          REQUIRE(out[y * shape.w + x] == Approx(expected).margin(1e-5));
        }
      }
    }
    CHECK(seen.size() == (flip ? 50u : 25u));  // every offset in [-2, 2]^2, both ways when flipping
  }
}

TEST_CASE("cutout zeroes one clipped square in every channel", "[data][augment]") {
  const cf::Shape shape{3, 10, 12};
  const cf::ImageSet set = single_image(shape, [](int, int, int) { return uint8_t{200}; });
  const std::vector<float> mean = {0.1f, 0.2f, 0.3f}, stddev = {0.2f, 0.2f, 0.2f};
  cf::Augmentation cutout;
  cutout.cutout = 4;
  cf::Rng rng(11);
  const int batch = 300;
  const std::vector<int> indices(batch, 0);
  std::vector<float> images(batch * shape.numel());
  std::vector<int32_t> labels(batch);
  cf::fill_batch(set, mean, stddev, indices.data(), batch, images.data(), labels.data(), &cutout,
                 &rng);
  int full_squares = 0, clipped = 0;
  for (int b = 0; b < batch; ++b) {
    const float* out = images.data() + b * shape.numel();
    int y0 = shape.h, y1 = -1, x0 = shape.w, x1 = -1, zeros = 0;
    for (int y = 0; y < shape.h; ++y) {
      for (int x = 0; x < shape.w; ++x) {
        if (out[y * shape.w + x] != 0.0f) continue;
        ++zeros;
        y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x), x1 = std::max(x1, x);
      }
    }
    REQUIRE(zeros > 0);
    const int height = y1 - y0 + 1, width = x1 - x0 + 1;
    REQUIRE(zeros == height * width);  // one solid rectangle
    REQUIRE(height <= 4);
    REQUIRE(width <= 4);
    if (height == 4 && width == 4) {
      ++full_squares;
    } else {
      ++clipped;
      REQUIRE((y0 == 0 || y1 == shape.h - 1 || x0 == 0 || x1 == shape.w - 1));
    }
    for (int c = 0; c < shape.c; ++c) {
      for (int p = 0; p < shape.h * shape.w; ++p) {
        const bool cut = out[p] == 0.0f;  // channel 0 decides
        const float expected = cut ? 0.0f : normalised(200, mean, stddev, c);
        REQUIRE(out[c * shape.h * shape.w + p] == Approx(expected).margin(1e-5));
      }
    }
  }
  CHECK(full_squares > 0);
  CHECK(clipped > 0);
}

TEST_CASE("augmented batches are reproducible from the Rng seed", "[data][augment]") {
  TempDir dir;
  write_cifar10_dataset(dir.path(), 4);
  const cf::DataSplits data = cf::load_dataset(options_for(dir.path()));
  cf::Augmentation all_on;
  all_on.crop_padding = 4;
  all_on.horizontal_flip = true;
  all_on.cutout = 8;
  std::vector<int> indices(20);
  std::iota(indices.begin(), indices.end(), 0);
  const auto batch_for = [&](uint64_t seed) {
    cf::Rng rng(seed);
    std::vector<float> images(indices.size() * 3 * 32 * 32);
    std::vector<int32_t> labels(indices.size());
    cf::fill_batch(data.train, data.mean, data.stddev, indices.data(), 20, images.data(),
                   labels.data(), &all_on, &rng);
    return images;
  };
  CHECK(batch_for(1) == batch_for(1));
  CHECK(batch_for(1) != batch_for(2));
}

TEST_CASE("fill_batch rejects bad arguments", "[data][batch][errors]") {
  const cf::ImageSet set = single_image({1, 2, 2}, [](int, int, int) { return uint8_t{1}; });
  std::vector<float> images(4 * 4);
  std::vector<int32_t> labels(4);
  const std::vector<float> mean = {0.5f}, stddev = {0.5f};
  const int bad_index = 1;
  CHECK_THROWS_AS(cf::fill_batch(set, mean, stddev, &bad_index, 1, images.data(), labels.data(),
                                 nullptr, nullptr),
                  std::out_of_range);
  const int good_index = 0;
  CHECK_THROWS_AS(cf::fill_batch(set, {0.5f, 0.5f}, stddev, &good_index, 1, images.data(),
                                 labels.data(), nullptr, nullptr),
                  std::invalid_argument);
  const cf::Augmentation flip{0, true, 0};
  CHECK_THROWS_AS(cf::fill_batch(set, mean, stddev, &good_index, 1, images.data(), labels.data(),
                                 &flip, nullptr),
                  std::invalid_argument);
}

TEST_CASE("Fashion-MNIST from dataset-fashion-mnist", "[data][fashion-mnist]") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz")) {
    cf::test::skip(dir.string() + " is absent (Debian package dataset-fashion-mnist)");
    return;
  }
  cf::DataOptions options;  // the defaults point at it
  options.valid_images = 0;
  options.load_test = true;
  const cf::DataSplits data = cf::load_dataset(options);
  CHECK(data.name == "fashion-mnist");
  CHECK(data.train.count == 60000);
  CHECK(data.test.count == 10000);
  CHECK(data.train.shape == cf::Shape{1, 28, 28});
  CHECK(data.test.shape == cf::Shape{1, 28, 28});
  CHECK(data.train.classes == 10);
  std::vector<int> train_per_class(10), test_per_class(10);
  for (uint8_t label : data.train.labels) ++train_per_class[label];
  for (uint8_t label : data.test.labels) ++test_per_class[label];
  CHECK(train_per_class == std::vector<int>(10, 6000));
  CHECK(test_per_class == std::vector<int>(10, 1000));
  // The well-known statistics of the Fashion-MNIST training set.
  CHECK(data.mean[0] == Approx(0.2860).margin(5e-4));
  CHECK(data.stddev[0] == Approx(0.3530).margin(5e-4));

  // The default split: 5000 held out, never the test files.
  cf::DataOptions defaults;
  const cf::DataSplits split = cf::load_dataset(defaults);
  CHECK(split.train.count == 55000);
  CHECK(split.valid.count == 5000);
  CHECK(split.test.count == 0);
  const cf::Augmentation augmentation = cf::default_augmentation(split);
  CHECK(augmentation.horizontal_flip);
}

TEST_CASE("class names: numbers unless a names file exists, whatever the directory is called",
          "[data][classes]") {
  TempDir dir;
  write_idx_dataset(dir / "fashion-mnist", 12, 2, 3, 3, false);
  const cf::DataSplits numbered = cf::load_dataset(options_for(dir / "fashion-mnist"));
  CHECK(numbered.class_names ==
        std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  write_file(dir / "fashion-mnist" / "classes.txt",
             Bytes{'t', 'o', 'p', '\n', 'b', 'a', 'g', '\n'});
  expect_data_error([&] { cf::load_dataset(options_for(dir / "fashion-mnist")); },
                    dir / "fashion-mnist" / "classes.txt", {"2 class names for 10 classes"});
  std::string ten;
  for (const char* name : {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                           "Sneaker", "Bag", "Ankle boot"})
    ten += std::string(name) + "\n";
  write_file(dir / "fashion-mnist" / "classes.txt", Bytes(ten.begin(), ten.end()));
  const cf::DataSplits named = cf::load_dataset(options_for(dir / "fashion-mnist"));
  CHECK(named.class_names[0] == "T-shirt/top");
  CHECK(named.class_names[9] == "Ankle boot");

  // CIFAR-10's batches.meta.txt (blank lines at its end, as in the archive).
  write_cifar10_dataset(dir / "c10" / "cifar-10-batches-bin", 3);
  const std::string meta =
      "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  write_file(dir / "c10" / "cifar-10-batches-bin" / "batches.meta.txt",
             Bytes(meta.begin(), meta.end()));
  const cf::DataSplits cifar = cf::load_dataset(options_for(dir / "c10"));
  CHECK(cifar.class_names.size() == 10);
  CHECK(cifar.class_names[1] == "automobile");
  CHECK(cifar.crop_padding == 4);
}

TEST_CASE("channels and size conversion apply to stored formats only when set", "[data][convert]") {
  TempDir dir;
  write_idx_dataset(dir.path(), 6, 2, 4, 4, false);
  cf::DataOptions options = options_for(dir.path());
  const cf::DataSplits plain = cf::load_dataset(options);
  CHECK(plain.train.shape == cf::Shape{1, 4, 4});
  options.conversion.channels = 3;
  const cf::DataSplits rgb = cf::load_dataset(options);
  REQUIRE(rgb.train.shape == cf::Shape{3, 4, 4});
  for (int i = 0; i < rgb.train.count; ++i)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 16; ++p)
        REQUIRE(rgb.train.image(i)[c * 16 + p] == plain.train.image(i)[p]);  // grey replicated
  options.conversion.channels = 0;
  options.conversion.image_size = 2;
  const cf::DataSplits small = cf::load_dataset(options);
  CHECK(small.train.shape == cf::Shape{1, 2, 2});
  // Area interpolation: each output pixel is the rounded mean of a 2x2 block.
  const uint8_t* in = plain.train.image(0);
  const int mean = (in[0] + in[1] + in[4] + in[5] + 2) / 4;
  CHECK(std::abs(small.train.image(0)[0] - mean) <= 1);
}

#include "trainer/data.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "space/file_io.h"
#include "trainer/data_folder.h"
#include "trainer/data_numpy.h"
#include "trainer/image_convert.h"

namespace cf {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& file, const std::string& problem) {
  throw DataError(file.string() + ": " + problem);
}

std::string plural(int64_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// A gzip or plain file read through zlib, which detects gzip by its magic bytes.
class GzReader {
 public:
  explicit GzReader(const fs::path& path) : path_(path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(path, "file not found");
    if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");
    file_size_ = fs::file_size(path, ec);
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail(path, std::string("cannot open: ") + std::strerror(errno));
    gzbuffer(file_, 1 << 18);  // fewer, larger reads: inflating Fashion-MNIST is the load time
  }
  ~GzReader() { gzclose_r(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to size bytes; fewer only at the end of the data.
  size_t read(uint8_t* out, size_t size) {
    size_t done = 0;
    while (done < size) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) stream_error();
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    if (done < size) stream_error();  // a cut gzip stream reports itself only via gzerror
    return done;
  }

  // The most bytes the file can yield: its size when plain; for gzip, deflate's largest
  // expansion (1032:1) of its size. A header declaring more is corrupt, and is refused before
  // anything is allocated.
  // (Valid after the first read: zlib knows by then whether the file is gzip or plain.)
  uint64_t max_content_bytes() const { return gzdirect(file_) ? file_size_ : file_size_ * 1032 + 1024; }

  // Reads what is left, but never more than `limit` bytes: memory grows with the data actually
  // read (never with what a header claims), so a gzip bomb or a lying header costs at most
  // limit bytes. A result of exactly `limit` bytes means more data may follow.
  // Counts (without keeping) the bytes left, stopping at `limit`.
  uint64_t count_rest(uint64_t limit) {
    std::vector<uint8_t> chunk(1 << 16);
    uint64_t total = 0;
    while (total < limit) {
      const size_t got = read(chunk.data(), chunk.size());
      total += got;
      if (got < chunk.size()) break;
    }
    return total;
  }

  std::vector<uint8_t> read_rest(uint64_t limit) {
    std::vector<uint8_t> bytes(static_cast<size_t>(std::min<uint64_t>(limit, uint64_t{1} << 20)));
    size_t size = 0;
    for (;;) {
      size += read(bytes.data() + size, bytes.size() - size);
      if (size < bytes.size() || bytes.size() >= limit) break;
      bytes.resize(static_cast<size_t>(std::min<uint64_t>(uint64_t{bytes.size()} * 2, limit)));
    }
    bytes.resize(size);
    return bytes;
  }

 private:
  void stream_error() {
    int code = Z_OK;
    std::string message = gzerror(file_, &code);
    if (code == Z_OK) return;
    // zlib prefixes its message with the path, which our message starts with already.
    const std::string prefix = path_.string() + ": ";
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    if (code == Z_BUF_ERROR) fail(path_, "truncated gzip stream (" + message + ")");
    if (code == Z_ERRNO) fail(path_, std::string("read error: ") + std::strerror(errno));
    fail(path_, "corrupt gzip data (" + message + ")");
  }

  fs::path path_;
  gzFile file_ = nullptr;
  uint64_t file_size_ = 0;
};

uint32_t big_endian32(const uint8_t* bytes) {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
         uint32_t{bytes[3]};
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

constexpr uint32_t kIdxImagesMagic = 0x00000803;  // uint8 elements, 3 dimensions
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // uint8 elements, 1 dimension
constexpr int kIdxClasses = 10;
// Limits (README): the pixels of one IDX file, and one CIFAR batch file (the real ones hold
// 30.7 MB (CIFAR-10) and 153.8 MB (CIFAR-100 train)).
constexpr uint64_t kMaxDatasetBytes = uint64_t{8} << 30;
constexpr uint64_t kMaxCifarFileBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxTrailingCount = uint64_t{1} << 20;  // trailing bytes counted for the error message

// Reads a header of `header_words` big-endian words, the first being the magic.
std::vector<uint32_t> read_idx_header(GzReader& reader, const fs::path& file, uint32_t magic,
                                      int header_words, const char* what) {
  std::array<uint8_t, 16> bytes{};
  const size_t header_bytes = 4 * static_cast<size_t>(header_words);
  const size_t got = reader.read(bytes.data(), header_bytes);
  if (got < header_bytes) {
    fail(file, "truncated: " + std::to_string(got) + " bytes, shorter than the " +
                   std::to_string(header_bytes) + "-byte IDX header");
  }
  std::vector<uint32_t> words(header_words);
  for (int i = 0; i < header_words; ++i) words[i] = big_endian32(bytes.data() + 4 * i);
  if (words[0] != magic) {
    fail(file,
         "bad magic " + hex32(words[0]) + ", expected " + hex32(magic) + " (IDX " + what + ")");
  }
  return words;
}

// Checks that exactly `expected` bytes followed the header; `trailing` counts the bytes after
// them (the reader stops keeping data at expected + 1 bytes and only counts the rest, up to a cap).
void check_payload_size(const fs::path& file, size_t got, uint64_t expected, const std::string& declared,
                        uint64_t trailing) {
  if (got < expected) {
    fail(file, "truncated: header says " + declared + " (" + std::to_string(expected) +
                   " bytes) but only " + std::to_string(got) + " bytes follow");
  }
  if (trailing > 0) {
    fail(file, (trailing > kMaxTrailingCount ? "more than " + std::to_string(kMaxTrailingCount) : std::to_string(trailing)) +
                   " unexpected bytes after the " + declared + " the header declares");
  }
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool exists_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// The IDX file `stem` in dir, preferring the plain file when both it and the .gz exist.
fs::path idx_file(const fs::path& dir, const std::string& stem) {
  const fs::path plain = dir / stem;
  const fs::path gz = dir / (stem + ".gz");
  if (exists_file(plain)) return plain;
  if (exists_file(gz)) return gz;
  fail(gz, "file not found (nor " + stem + ")");
}

bool has_idx(const fs::path& dir) {
  return exists_file(dir / "train-images-idx3-ubyte") ||
         exists_file(dir / "train-images-idx3-ubyte.gz");
}
bool has_cifar10(const fs::path& dir) {
  return exists_file(dir / "data_batch_1.bin");
}
bool has_cifar100(const fs::path& dir) {
  return exists_file(dir / "train.bin");
}

// The directory holding the files of `format`: dir itself or the archive's own subfolder.
fs::path cifar_dir(const fs::path& dir, DatasetFormat format) {
  const bool cifar100 = format == DatasetFormat::cifar100;
  if (cifar100 ? has_cifar100(dir) : has_cifar10(dir)) return dir;
  const fs::path sub = dir / (cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin");
  if (cifar100 ? has_cifar100(sub) : has_cifar10(sub)) return sub;
  return dir;  // the reader reports the missing file
}

// The images of `set` at positions order[begin, end), in that order.
ImageSet take(const ImageSet& set, const std::vector<int>& order, size_t begin, size_t end) {
  ImageSet out;
  out.count = static_cast<int>(end - begin);
  out.shape = set.shape;
  out.classes = set.classes;
  const auto image_size = static_cast<size_t>(set.shape.numel());
  out.pixels.resize(out.count * image_size);
  out.labels.resize(out.count);
  for (size_t i = begin; i < end; ++i) {
    std::memcpy(out.pixels.data() + (i - begin) * image_size, set.image(order[i]), image_size);
    out.labels[i - begin] = set.labels[order[i]];
  }
  return out;
}

// For display only (nothing else may depend on a directory's name).
std::string dataset_name(const fs::path& dir, DatasetFormat format) {
  if (format == DatasetFormat::cifar10) return "cifar10";
  if (format == DatasetFormat::cifar100) return "cifar100";
  fs::path named = dir.lexically_normal();
  if (!named.has_filename()) named = named.parent_path();  // "dir/" has an empty filename
  const std::string name = named.filename().string();
  if (format != DatasetFormat::idx)
    return name.empty() ? std::string(dataset_format_name(format)) : name;
  const std::string key = lower(name);
  if (key.find("fashion") != std::string::npos && key.find("mnist") != std::string::npos) {
    return "fashion-mnist";
  }
  if (key == "mnist") return "mnist";
  return name.empty() ? "idx" : name;
}

}  // namespace

std::string_view dataset_format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::automatic:
      return "auto";
    case DatasetFormat::idx:
      return "idx";
    case DatasetFormat::cifar10:
      return "cifar10";
    case DatasetFormat::cifar100:
      return "cifar100";
    case DatasetFormat::folder:
      return "folder";
    case DatasetFormat::numpy:
      return "numpy";
  }
  return "?";
}

std::optional<DatasetFormat> parse_dataset_format(std::string_view name) {
  for (DatasetFormat format :
       {DatasetFormat::automatic, DatasetFormat::idx, DatasetFormat::cifar10,
        DatasetFormat::cifar100, DatasetFormat::folder, DatasetFormat::numpy}) {
    if (name == dataset_format_name(format)) return format;
  }
  return std::nullopt;
}

std::string_view resize_mode_name(ResizeMode mode) {
  return mode == ResizeMode::resize ? "resize" : "center_crop";
}

std::optional<ResizeMode> parse_resize_mode(std::string_view name) {
  for (ResizeMode mode : {ResizeMode::resize, ResizeMode::center_crop})
    if (name == resize_mode_name(mode)) return mode;
  return std::nullopt;
}

std::vector<std::string> read_class_names_file(const fs::path& file, int classes) {
  std::string text;
  try {
    text = read_file_capped(file, int64_t{16} << 20, "class names file");
  } catch (const FileError& e) {
    throw DataError(e.what());
  }
  std::vector<std::string> names;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) names.push_back(line);
    start = end + 1;
  }
  if (names.empty()) fail(file, "no class names (one per line expected)");
  if (classes > 0 && static_cast<int>(names.size()) != classes)
    fail(file, plural(static_cast<int64_t>(names.size()), "class name") + " for " +
                   std::to_string(classes) + " classes");
  return names;
}

ImageSet read_idx(const fs::path& images_file, const fs::path& labels_file) {
  ImageSet set;
  {
    GzReader reader(images_file);
    const auto header = read_idx_header(reader, images_file, kIdxImagesMagic, 4, "images");
    const uint32_t count = header[1], height = header[2], width = header[3];
    if (count == 0) fail(images_file, "contains no images (the header says 0)");
    if (count > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
      fail(images_file, "header says " + std::to_string(count) + " images, too many");
    }
    if (height == 0 || width == 0 || height > 65535 || width > 65535) {
      fail(images_file, "header says the images are " + std::to_string(height) + "x" +
                            std::to_string(width) + ", an impossible size");
    }
    set.count = static_cast<int>(count);
    set.shape = {1, static_cast<int>(height), static_cast<int>(width)};
    const uint64_t expected = uint64_t{count} * set.shape.numel();
    if (expected > kMaxDatasetBytes)
      fail(images_file, "header declares " + plural(count, "image") + " of " + std::to_string(height) + "x" +
                            std::to_string(width) + " (" + std::to_string(expected) + " bytes), more than the limit of " +
                            std::to_string(kMaxDatasetBytes) + " bytes");
    if (expected > reader.max_content_bytes())
      fail(images_file, "header declares " + plural(count, "image") + " of " + std::to_string(height) + "x" +
                            std::to_string(width) + " (" + std::to_string(expected) +
                            " bytes), more than a file of this size can hold (truncated file or corrupt header)");
    // +1 byte so that trailing data is seen without growing the buffer.
    set.pixels = reader.read_rest(expected + 1);
    const uint64_t trailing = set.pixels.size() > expected ? 1 + reader.count_rest(kMaxTrailingCount) : 0;
    set.pixels.resize(std::min<uint64_t>(set.pixels.size(), expected));
    check_payload_size(images_file, set.pixels.size(), expected,
                       plural(count, "image") + " of " + std::to_string(height) + "x" + std::to_string(width),
                       trailing);
  }
  {
    GzReader reader(labels_file);
    const auto header = read_idx_header(reader, labels_file, kIdxLabelsMagic, 2, "labels");
    const uint32_t count = header[1];
    if (count != static_cast<uint32_t>(set.count)) {
      fail(labels_file, "header says " + plural(count, "label") + " but " + images_file.string() +
                            " has " + plural(set.count, "image"));
    }
    if (count > reader.max_content_bytes())
      fail(labels_file, "header declares " + plural(count, "label") +
                            ", more than a file of this size can hold (truncated file or corrupt header)");
    set.labels = reader.read_rest(uint64_t{count} + 1);
    const uint64_t trailing = set.labels.size() > count ? 1 + reader.count_rest(kMaxTrailingCount) : 0;
    set.labels.resize(std::min<uint64_t>(set.labels.size(), count));
    check_payload_size(labels_file, set.labels.size(), count, plural(count, "label"), trailing);
  }
  set.classes = kIdxClasses;
  for (size_t i = 0; i < set.labels.size(); ++i) {
    if (set.labels[i] >= set.classes) {
      fail(labels_file, "label " + std::to_string(set.labels[i]) + " of image " +
                            std::to_string(i) + " is out of range (" + std::to_string(set.classes) +
                            " classes)");
    }
  }
  return set;
}

ImageSet read_cifar(const std::vector<fs::path>& files, bool cifar100) {
  constexpr int kImageBytes = 3 * 32 * 32;
  const int label_bytes = cifar100 ? 2 : 1;
  const int record_bytes = label_bytes + kImageBytes;
  const int fine_classes = cifar100 ? 100 : 10;
  constexpr int kCoarseClasses = 20;
  ImageSet set;
  set.shape = {3, 32, 32};
  set.classes = fine_classes;
  for (const fs::path& file : files) {
    GzReader reader(file);  // reports a missing file
    const std::vector<uint8_t> bytes = reader.read_rest(kMaxCifarFileBytes + 1);
    if (bytes.empty()) fail(file, "empty file, no images");
    if (bytes.size() > kMaxCifarFileBytes)
      fail(file, "more than " + std::to_string(kMaxCifarFileBytes) + " bytes, larger than any CIFAR batch file");
    if (bytes.size() % record_bytes != 0) {
      fail(file, "size " + std::to_string(bytes.size()) + " bytes is not a multiple of the " +
                     std::to_string(record_bytes) + "-byte " +
                     (cifar100 ? "CIFAR-100" : "CIFAR-10") + " record (truncated or not a " +
                     (cifar100 ? "CIFAR-100" : "CIFAR-10") + " batch?)");
    }
    const size_t records = bytes.size() / record_bytes;
    if (set.count + records > static_cast<size_t>(std::numeric_limits<int>::max())) {
      fail(file, "too many images");
    }
    const size_t first = set.count;
    set.pixels.resize((first + records) * kImageBytes);
    set.labels.resize(first + records);
    for (size_t r = 0; r < records; ++r) {
      const uint8_t* record = bytes.data() + r * record_bytes;
      if (cifar100 && record[0] >= kCoarseClasses) {
        fail(file, "coarse label " + std::to_string(record[0]) + " of record " + std::to_string(r) +
                       " is out of range (" + std::to_string(kCoarseClasses) + " classes)");
      }
      const uint8_t label = record[label_bytes - 1];
      if (label >= fine_classes) {
        fail(file, std::string(cifar100 ? "fine label " : "label ") + std::to_string(label) +
                       " of record " + std::to_string(r) + " is out of range (" +
                       std::to_string(fine_classes) + " classes)");
      }
      set.labels[first + r] = label;
      std::memcpy(set.pixels.data() + (first + r) * kImageBytes, record + label_bytes, kImageBytes);
    }
    set.count += static_cast<int>(records);
  }
  return set;
}

DatasetFormat detect_dataset_format(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "dataset directory not found");
  if (has_idx(dir)) return DatasetFormat::idx;
  if (has_cifar10(dir) || has_cifar10(dir / "cifar-10-batches-bin")) return DatasetFormat::cifar10;
  if (has_cifar100(dir) || has_cifar100(dir / "cifar-100-binary")) return DatasetFormat::cifar100;
  if (has_numpy_dataset(dir)) return DatasetFormat::numpy;
  if (has_folder_dataset(dir)) return DatasetFormat::folder;
  fail(dir,
       "no dataset found: expected train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
       "(IDX), data_batch_1..5.bin and test_batch.bin (CIFAR-10, also in cifar-10-batches-bin/), "
       "train.bin and test.bin (CIFAR-100, also in cifar-100-binary/), train.npz or "
       "train_images.npy and train_labels.npy (NumPy), or class folders train/<class>/*.png "
       "(images)");
}

void channel_statistics(const ImageSet& set, std::vector<float>& mean, std::vector<float>& stddev) {
  const int channels = set.shape.c;
  const auto plane = static_cast<size_t>(set.shape.h) * set.shape.w;
  mean.assign(channels, 0.0f);
  stddev.assign(channels, 1.0f);
  if (set.count == 0) return;
  for (int c = 0; c < channels; ++c) {
    // Integer sums are exact (64 bits hold 255^2 times 2^47 pixels); doubles would drift.
    uint64_t sum = 0, sum_squares = 0;
    for (int i = 0; i < set.count; ++i) {
      const uint8_t* pixels = set.image(i) + c * plane;
      uint64_t image_sum = 0, image_squares = 0;
      for (size_t p = 0; p < plane; ++p) {
        image_sum += pixels[p];
        image_squares += uint32_t{pixels[p]} * pixels[p];
      }
      sum += image_sum;
      sum_squares += image_squares;
    }
    const double n = static_cast<double>(set.count) * static_cast<double>(plane);
    const double m = static_cast<double>(sum) / n;
    const double variance = std::max(0.0, static_cast<double>(sum_squares) / n - m * m);
    mean[c] = static_cast<float>(m / 255.0);
    const double sd = std::sqrt(variance) / 255.0;
    stddev[c] = sd > 1e-6 ? static_cast<float>(sd) : 1.0f;
  }
}

namespace {

DatasetFiles read_idx_files(const DataOptions& options) {
  DatasetFiles files;
  files.train_source = idx_file(options.dir, "train-images-idx3-ubyte");
  files.train = read_idx(files.train_source, idx_file(options.dir, "train-labels-idx1-ubyte"));
  files.has_test = exists_file(options.dir / "t10k-images-idx3-ubyte") ||
                   exists_file(options.dir / "t10k-images-idx3-ubyte.gz");
  if (options.load_test && (files.has_test || !options.test_if_present)) {
    const fs::path test_images = idx_file(options.dir, "t10k-images-idx3-ubyte");
    files.test = read_idx(test_images, idx_file(options.dir, "t10k-labels-idx1-ubyte"));
    if (files.test.shape != files.train.shape) {
      fail(test_images, "images are " + to_string(files.test.shape) + " but the training images (" +
                            files.train_source.string() + ") are " + to_string(files.train.shape));
    }
  }
  if (exists_file(options.dir / "classes.txt"))
    files.class_names = read_class_names_file(options.dir / "classes.txt", files.train.classes);
  return files;
}

DatasetFiles read_cifar_files(const DataOptions& options, DatasetFormat format) {
  DatasetFiles files;
  const bool cifar100 = format == DatasetFormat::cifar100;
  const fs::path dir = cifar_dir(options.dir, format);
  std::vector<fs::path> train_files;
  if (cifar100) {
    train_files.push_back(dir / "train.bin");
  } else {
    for (int i = 1; i <= 5; ++i)
      train_files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
  }
  files.train_source = cifar100 ? train_files[0] : dir / "data_batch_[1-5].bin";
  files.train = read_cifar(train_files, cifar100);
  const fs::path test_file = dir / (cifar100 ? "test.bin" : "test_batch.bin");
  files.has_test = exists_file(test_file);
  if (options.load_test && (files.has_test || !options.test_if_present))
    files.test = read_cifar({test_file}, cifar100);
  // The names files of the archives (binary versions).
  const fs::path names = dir / (cifar100 ? "fine_label_names.txt" : "batches.meta.txt");
  if (exists_file(names)) files.class_names = read_class_names_file(names, files.train.classes);
  return files;
}

DatasetFiles read_dataset_files(const DataOptions& options, DatasetFormat format) {
  switch (format) {
    case DatasetFormat::idx:
      return read_idx_files(options);
    case DatasetFormat::cifar10:
    case DatasetFormat::cifar100:
      return read_cifar_files(options, format);
    case DatasetFormat::folder:
      return read_folder_dataset(options);
    case DatasetFormat::numpy:
      return read_numpy_dataset(options);
    case DatasetFormat::automatic:
      break;
  }
  throw std::invalid_argument("read_dataset_files: the format must be known");
}

std::vector<std::string> numbered_class_names(int classes) {
  std::vector<std::string> names;
  for (int c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

}  // namespace

DataSplits load_dataset(const DataOptions& options) {
  DataSplits data;
  const DatasetFormat format = options.format == DatasetFormat::automatic
                                   ? detect_dataset_format(options.dir)
                                   : options.format;
  data.name = dataset_name(options.dir, format);
  data.format = format;
  data.horizontal_flip = options.horizontal_flip.value_or(default_horizontal_flip(format));

  DatasetFiles files = read_dataset_files(options, format);
  if (format != DatasetFormat::folder) {  // folders are converted while decoding
    convert_image_set(files.train, options.conversion);
    convert_image_set(files.test, options.conversion);
  }
  ImageSet& all = files.train;
  const fs::path& train_source = files.train_source;
  data.test = std::move(files.test);
  data.class_names =
      files.class_names.empty() ? numbered_class_names(all.classes) : files.class_names;
  data.bad_files = std::move(files.bad_files);
  data.cache_status = std::move(files.cache_status);
  data.crop_padding = options.crop_padding.value_or(default_crop_padding(format, all.shape));

  if (options.valid_images < 0) {
    fail(train_source, "valid_images = " + std::to_string(options.valid_images) + " is negative");
  }
  if (options.train_images < 0) {
    fail(train_source, "train_images = " + std::to_string(options.train_images) + " is negative");
  }
  const int64_t available = all.count;
  if (options.valid_images >= available) {
    fail(train_source, "valid_images = " + std::to_string(options.valid_images) +
                           " leaves no training images (" + std::to_string(available) +
                           " available)");
  }
  if (int64_t{options.valid_images} + options.train_images > available) {
    fail(train_source, "train_images = " + std::to_string(options.train_images) +
                           " plus valid_images = " + std::to_string(options.valid_images) +
                           " exceeds the " + std::to_string(available) + " images available");
  }

  std::vector<int> order(all.count);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(options.seed);
  for (int i = all.count - 1; i > 0; --i) std::swap(order[i], order[rng.uniform_int(i + 1)]);

  const size_t valid_end = options.valid_images;
  const size_t train_end =
      options.train_images == 0 ? order.size() : valid_end + options.train_images;
  data.valid = take(all, order, 0, valid_end);
  data.train = take(all, order, valid_end, train_end);
  data.valid_source.assign(order.begin(), order.begin() + valid_end);
  data.train_source.assign(order.begin() + valid_end, order.begin() + train_end);
  channel_statistics(data.train, data.mean, data.stddev);
  return data;
}

bool default_horizontal_flip(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::idx:
    case DatasetFormat::cifar10:
    case DatasetFormat::cifar100:
    case DatasetFormat::folder:
    case DatasetFormat::numpy:
      return true;
    case DatasetFormat::automatic:
      break;
  }
  throw std::invalid_argument("default_horizontal_flip: the format must be known");
}

int default_crop_padding(DatasetFormat format, const Shape& shape) {
  switch (format) {
    case DatasetFormat::idx:
      return 2;
    case DatasetFormat::cifar10:
    case DatasetFormat::cifar100:
      return 4;
    case DatasetFormat::folder:
    case DatasetFormat::numpy:
      return shape.h >= 32 && shape.w >= 32 ? 4 : 2;
    case DatasetFormat::automatic:
      break;
  }
  throw std::invalid_argument("default_crop_padding: the format must be known");
}

Augmentation default_augmentation(const DataSplits& data) {
  Augmentation augmentation;
  augmentation.crop_padding = data.crop_padding;
  augmentation.horizontal_flip = data.horizontal_flip;
  return augmentation;
}

void fill_batch(const ImageSet& set, const std::vector<float>& mean,
                const std::vector<float>& stddev, const int* indices, int batch, float* images_out,
                int32_t* labels_out, const Augmentation* augment, Rng* rng) {
  const int channels = set.shape.c, height = set.shape.h, width = set.shape.w;
  if (static_cast<int>(mean.size()) != channels || static_cast<int>(stddev.size()) != channels) {
    throw std::invalid_argument("fill_batch: mean/stddev have " + std::to_string(mean.size()) +
                                "/" + std::to_string(stddev.size()) + " entries for " +
                                std::to_string(channels) + " channels");
  }
  if (augment && !rng) throw std::invalid_argument("fill_batch: augmentation needs an Rng");
  if (augment && (augment->crop_padding < 0 || augment->cutout < 0)) {
    throw std::invalid_argument("fill_batch: negative crop padding or cutout size");
  }
  // x/255 - mean over stddev as one multiply-add per pixel.
  constexpr int kMaxChannels = 4;
  if (channels > kMaxChannels) throw std::invalid_argument("fill_batch: too many channels");
  float scale[kMaxChannels], shift[kMaxChannels];
  for (int c = 0; c < channels; ++c) {
    scale[c] = 1.0f / (255.0f * stddev[c]);
    shift[c] = -mean[c] / stddev[c];
  }
  const size_t plane = static_cast<size_t>(height) * width;
  const size_t image_size = channels * plane;

  for (int b = 0; b < batch; ++b) {
    const int index = indices[b];
    if (index < 0 || index >= set.count) {
      throw std::out_of_range("fill_batch: index " + std::to_string(index) + " outside the " +
                              std::to_string(set.count) + " images");
    }
    labels_out[b] = set.labels[index];
    const uint8_t* source = set.image(index);
    float* out = images_out + b * image_size;

    int shift_y = 0, shift_x = 0;  // output (y, x) shows source (y + shift_y, x + shift_x)
    bool flip = false;
    if (augment) {
      const int pad = augment->crop_padding;
      if (pad > 0) {
        shift_y = rng->uniform_int(2 * pad + 1) - pad;
        shift_x = rng->uniform_int(2 * pad + 1) - pad;
      }
      if (augment->horizontal_flip) flip = (rng->next() >> 63) != 0;
    }

    if (shift_y == 0 && shift_x == 0 && !flip) {
      for (int c = 0; c < channels; ++c) {
        const uint8_t* in = source + c * plane;
        float* o = out + c * plane;
        const float a = scale[c], s = shift[c];
        for (size_t p = 0; p < plane; ++p) o[p] = static_cast<float>(in[p]) * a + s;
      }
    } else {
      // Columns x in [x_begin, x_end) come from the image; the rest is padding.
      const int x_begin = std::max(0, -shift_x), x_end = std::min(width, width - shift_x);
      for (int c = 0; c < channels; ++c) {
        const float a = scale[c], s = shift[c];
        for (int y = 0; y < height; ++y) {
          float* row = out + c * plane + static_cast<size_t>(y) * width;
          const int source_y = y + shift_y;
          if (source_y < 0 || source_y >= height || x_begin >= x_end) {
            std::fill(row, row + width, 0.0f);
            continue;
          }
          const uint8_t* in = source + c * plane + static_cast<size_t>(source_y) * width;
          if (!flip) {
            std::fill(row, row + x_begin, 0.0f);
            for (int x = x_begin; x < x_end; ++x) {
              row[x] = static_cast<float>(in[x + shift_x]) * a + s;
            }
            std::fill(row + x_end, row + width, 0.0f);
          } else {
            // Mirrored: output column x shows the unflipped column width-1-x.
            const int mirror = width - 1 + shift_x;
            std::fill(row, row + width - x_end, 0.0f);
            for (int x = width - x_end; x < width - x_begin; ++x) {
              row[x] = static_cast<float>(in[mirror - x]) * a + s;
            }
            std::fill(row + width - x_begin, row + width, 0.0f);
          }
        }
      }
    }

    if (augment && augment->cutout > 0) {
      const int side = augment->cutout;
      const int centre_y = rng->uniform_int(height), centre_x = rng->uniform_int(width);
      const int y0 = std::max(0, centre_y - side / 2),
                y1 = std::min(height, centre_y - side / 2 + side);
      const int x0 = std::max(0, centre_x - side / 2),
                x1 = std::min(width, centre_x - side / 2 + side);
      for (int c = 0; c < channels; ++c) {
        for (int y = y0; y < y1; ++y) {
          float* row = out + c * plane + static_cast<size_t>(y) * width;
          std::fill(row + x0, row + x1, 0.0f);
        }
      }
    }
  }
}

}  // namespace cf

#include "trainer/data_folder.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "space/file_io.h"
#include "trainer/image_cache.h"
#include "trainer/image_convert.h"

namespace cf {

namespace fs = std::filesystem;

namespace {

std::atomic<int64_t> images_decoded{0};

constexpr int kMaxClasses = 256;                            // labels are stored as uint8
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;  // one image file

[[noreturn]] void fail(const fs::path& where, const std::string& problem) {
  throw DataError(where.string() + ": " + problem);
}

bool hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

bool is_image_file_name(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// The class folders of a split's root, byte-wise sorted (std::string compares as unsigned bytes).
std::vector<std::string> class_folders(const fs::path& root) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path()) && it->is_directory(ec))
      names.push_back(it->path().filename().string());
  if (ec) fail(root, "cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

void stat_image(FolderImage& image) {
  struct stat st {};
  if (::stat(image.path.c_str(), &st) != 0) return;  // decoding reports the problem
  image.size = static_cast<uint64_t>(st.st_size);
  image.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The image files of one class folder (recursively, hidden entries skipped), byte-wise sorted.
void list_class(const fs::path& root, const std::string& name, int label,
                std::vector<FolderImage>& out, int& ignored) {
  const fs::path folder = root / name;
  std::vector<FolderImage> images;
  std::error_code ec;
  for (fs::recursive_directory_iterator
           it(folder, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) continue;
    if (!is_image_file_name(it->path())) {
      ++ignored;
      continue;
    }
    FolderImage image;
    image.path = it->path();
    image.relative = fs::relative(it->path(), root, ec).generic_string();
    image.label = label;
    stat_image(image);
    images.push_back(std::move(image));
  }
  if (ec) fail(folder, "cannot list: " + ec.message());
  if (images.empty())
    fail(folder, "no images (.png, .jpg, .jpeg or .bmp files) in this class folder");
  std::sort(images.begin(), images.end(),
            [](const FolderImage& a, const FolderImage& b) { return a.relative < b.relative; });
  out.insert(out.end(), images.begin(), images.end());
}

uint32_t big_endian32(const uint8_t* b) {
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

// Structural checks before OpenCV sees the bytes: its decoders accept a cut JPEG (the missing part
// comes out grey) and libpng prints its own complaints; these give one clear reason instead.
std::string structure_problem(const std::string& bytes) {
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::equal(kPng, kPng + 8, b)) {
    size_t at = 8;
    while (at + 12 <= n) {
      const uint32_t length = big_endian32(b + at);
      if (length > n - at - 12) return "truncated PNG (a chunk runs past the end of the file)";
      const uLong crc = crc32(crc32(0L, Z_NULL, 0), b + at + 4, length + 4);
      if (crc != big_endian32(b + at + 8 + length)) return "corrupt PNG (chunk checksum mismatch)";
      if (std::equal(b + at + 4, b + at + 8, reinterpret_cast<const uint8_t*>("IEND"))) return "";
      at += 12 + length;
    }
    return "truncated PNG (no IEND chunk)";
  }
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) {
    size_t end = n;
    while (end > 2 && b[end - 1] == 0) --end;  // some writers pad with zeros
    if (end < 4 || b[end - 2] != 0xff || b[end - 1] != 0xd9)
      return "truncated JPEG (no end-of-image marker)";
    return "";
  }
  if (n >= 6 && b[0] == 'B' && b[1] == 'M') {
    const uint32_t declared = b[2] | b[3] << 8 | b[4] << 16 | uint32_t{b[5]} << 24;
    if (declared > n)
      return "truncated BMP (header says " + std::to_string(declared) + " bytes, the file has " +
             std::to_string(n) + ")";
  }
  return "";
}

struct Decoded {
  cv::Mat image;        // RGB or grey; at the final channels and size when those are set
  std::string problem;  // why the file is unusable (empty when decoded)
};

Decoded decode(const FolderImage& file, const ImageConversion& conversion) {
  Decoded d;
  std::string bytes;
  try {
    bytes = read_file_capped(file.path, kMaxImageFileBytes, "image");
  } catch (const FileError& e) {
    const std::string what = e.what(), prefix = file.path.string() + ": ";
    d.problem = what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
    return d;
  }
  if (bytes.empty()) {
    d.problem = "empty file (0 bytes)";
    return d;
  }
  d.problem = structure_problem(bytes);
  if (!d.problem.empty()) return d;
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, bytes.data()),
                           cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception&) {
    decoded.release();
  }
  ++images_decoded;
  if (decoded.empty() || decoded.depth() != CV_8U) {
    d.problem = "not a readable PNG, JPEG or BMP image (corrupt, or another format)";
    return d;
  }
  d.image =
      to_size(to_channels(decoded, conversion.channels), conversion.image_size, conversion.resize);
  return d;
}

std::string conversion_text(const ImageConversion& c) {
  return "channels=" + std::to_string(c.channels) + " size=" + std::to_string(c.image_size) +
         " resize=" + std::string(resize_mode_name(c.resize));
}

// What the cache must match: the conversion and every file with its size and modification time.
std::string cache_key(const FolderListing& listing, const ImageConversion& conversion) {
  std::string key = "cellforge folder cache v1\n" + conversion_text(conversion) + "\n";
  for (const auto& name : listing.class_names) key += "class\t" + name + "\n";
  for (const auto* split : {&listing.train, &listing.test})
    for (const FolderImage& f : *split)
      key += std::string(split == &listing.train ? "train\t" : "test\t") + f.relative + "\t" +
             std::to_string(f.size) + "\t" + std::to_string(f.mtime_ns) + "\n";
  return key;
}

// Decodes a split's files (in parallel; results in file order).
std::vector<Decoded> decode_all(const std::vector<FolderImage>& files,
                                const ImageConversion& conversion) {
  std::vector<Decoded> out(files.size());
  const auto count = static_cast<int64_t>(files.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < count; ++i) {
    try {
      out[i] = decode(files[i], conversion);
    } catch (const std::exception& e) {
      out[i].problem = std::string("cannot decode: ") + e.what();
    }
  }
  return out;
}

// The decoded splits as image sets at one shape: channels as set (auto: 3 when any image has
// colour), size as set (auto: the images' own, which must agree).
void assemble(const FolderListing& listing, std::vector<Decoded> (&decoded)[2],
              const ImageConversion& conversion, const fs::path& dir, DatasetFiles& files) {
  int channels = conversion.channels;
  const FolderImage* first = nullptr;
  const cv::Mat* first_image = nullptr;
  for (int s = 0; s < 2; ++s) {
    const auto& split = s == 0 ? listing.train : listing.test;
    for (size_t i = 0; i < split.size(); ++i) {
      const cv::Mat& image = decoded[s][i].image;
      if (image.empty()) {
        files.bad_files.push_back(split[i].path.string() + ": " + decoded[s][i].problem);
        continue;
      }
      if (conversion.channels == 0) channels = std::max(channels, image.channels());
      if (!first) {
        first = &split[i];
        first_image = &image;
      } else if (image.rows != first_image->rows || image.cols != first_image->cols) {
        fail(dir, "images differ in size: " + first->path.string() + " is " +
                      std::to_string(first_image->cols) + "x" + std::to_string(first_image->rows) +
                      ", " + split[i].path.string() + " is " + std::to_string(image.cols) + "x" +
                      std::to_string(image.rows) + " (set data.image_size, e.g. --image-size 32)");
      }
    }
  }
  if (!first) fail(dir, "no readable images (" + std::to_string(files.bad_files.size()) + " bad)");
  const Shape shape{channels, first_image->rows, first_image->cols};
  for (int s = 0; s < 2; ++s) {
    const auto& split = s == 0 ? listing.train : listing.test;
    ImageSet& set = s == 0 ? files.train : files.test;
    set.shape = shape;
    set.classes = static_cast<int>(listing.class_names.size());
    for (size_t i = 0; i < split.size(); ++i) {
      cv::Mat image = decoded[s][i].image;
      if (image.empty()) continue;
      if (image.channels() != channels) image = to_channels(image, channels);  // grey to RGB
      set.pixels.resize(set.pixels.size() + shape.numel());
      hwc_to_chw(image, set.pixels.data() + set.pixels.size() - shape.numel());
      set.labels.push_back(static_cast<uint8_t>(split[i].label));
      ++set.count;
    }
  }
}

// Decodes the listed files (no cache involved).
DatasetFiles decode_folder_dataset(const FolderListing& listing, const ImageConversion& conversion,
                                   const fs::path& dir) {
  DatasetFiles files;
  std::vector<Decoded> decoded[2] = {decode_all(listing.train, conversion),
                                     decode_all(listing.test, conversion)};
  assemble(listing, decoded, conversion, dir, files);
  files.class_names = listing.class_names;
  files.has_test = !listing.test_root.empty();
  return files;
}

}  // namespace

bool has_folder_dataset(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir / "train", ec)) return true;
  for (const auto& name : class_folders(dir)) {
    for (fs::directory_iterator it(dir / name, ec), end; !ec && it != end; it.increment(ec))
      if (is_image_file_name(it->path())) return true;
  }
  return false;
}

FolderListing list_folder_dataset(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "dataset directory not found");
  FolderListing listing;
  const bool split = fs::is_directory(dir / "train", ec);
  listing.train_root = split ? dir / "train" : dir;
  if (split && fs::is_directory(dir / "test", ec)) listing.test_root = dir / "test";
  listing.class_names = class_folders(listing.train_root);
  if (listing.class_names.empty())
    fail(listing.train_root, "no class folders (expected " +
                                 (listing.train_root / "<class>/*.png").string() + ", .jpg, .bmp)");
  if (listing.class_names.size() > kMaxClasses)
    fail(listing.train_root, std::to_string(listing.class_names.size()) +
                                 " class folders, more than the " + std::to_string(kMaxClasses) +
                                 " cellforge supports");
  for (size_t c = 0; c < listing.class_names.size(); ++c)
    list_class(listing.train_root, listing.class_names[c], static_cast<int>(c), listing.train,
               listing.ignored_files);
  if (!listing.test_root.empty()) {
    for (const auto& name : class_folders(listing.test_root)) {
      const auto at =
          std::lower_bound(listing.class_names.begin(), listing.class_names.end(), name);
      if (at == listing.class_names.end() || *at != name)
        fail(listing.test_root / name,
             "class folder not in the training split (" + listing.train_root.string() + ")");
      list_class(listing.test_root, name, static_cast<int>(at - listing.class_names.begin()),
                 listing.test, listing.ignored_files);
    }
  }
  return listing;
}

DatasetFiles read_folder_dataset(const DataOptions& options) {
  const FolderListing listing = list_folder_dataset(options.dir);
  if (options.load_test && listing.test_root.empty() && !options.test_if_present)
    fail(options.dir,
         "no test/ folder: a single class tree has no test images (set data.test = "
         "false, or use DATA_DIR/train/<class>/ and DATA_DIR/test/<class>/)");
  const std::string key = cache_key(listing, options.conversion);
  const fs::path cache_dir = image_cache_dir(options.dir, options.cache_dir);
  const fs::path cache_file =
      cache_dir.empty()
          ? fs::path()
          : image_cache_file(cache_dir, options.dir, conversion_text(options.conversion));
  std::optional<DatasetFiles> cached;
  if (!cache_file.empty()) cached = read_image_cache(cache_file, key);
  DatasetFiles files;
  if (cached) {
    files = std::move(*cached);
    files.cache_status = "reused " + cache_file.string();
  } else {
    files = decode_folder_dataset(listing, options.conversion, options.dir);
    const std::string problem = cache_file.empty() ? "no writable cache directory"
                                                   : write_image_cache(cache_file, key, files);
    files.cache_status =
        problem.empty() ? "written " + cache_file.string() : "not written: " + problem;
  }
  if (!options.skip_bad_images && !files.bad_files.empty()) {
    const size_t more = files.bad_files.size() - 1;
    throw DataError(
        files.bad_files.front() + " (" +
        (more ? "and " + std::to_string(more) + " more bad image" + (more == 1 ? "" : "s") + "; "
              : std::string()) +
        "data.skip_bad_images = true skips bad images)");
  }
  if (files.train.count == 0) fail(listing.train_root, "no readable training images");
  if (!options.load_test) files.test = ImageSet{};
  files.train_source = listing.train_root;
  return files;
}

int64_t folder_images_decoded() {
  return images_decoded.load();
}

}  // namespace cf

#include "trainer/image_cache.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "space/file_io.h"
#include "space/genotype.h"

namespace cf {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[12] = {'C', 'F', 'I', 'M', 'G', 'C', 'A', 'C', 'H', 'E', '1', '\n'};

// Fixed-size header after the magic; integers in the machine's byte order (a cache from another
// machine fails the magic-and-size checks at worst and is rebuilt).
struct Header {
  uint64_t key_fnv;
  uint32_t key_crc;
  uint32_t channels, height, width, classes;
  uint32_t train_count, test_count, has_test;
  uint32_t names_bytes, bad_bytes;
  uint64_t payload_bytes;
  uint32_t payload_crc;
  uint32_t reserved;
};

uint64_t key_fnv(const std::string& key) {
  return std::strtoull(hash_hex(key).c_str(), nullptr, 16);
}

uint32_t crc_of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const auto chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + '\n';
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(text.substr(start, end - start));
  return lines;
}

uint64_t payload_size(const Header& h) {
  const uint64_t image = uint64_t{h.channels} * h.height * h.width;
  const uint64_t images = uint64_t{h.train_count} + h.test_count;
  return uint64_t{h.names_bytes} + h.bad_bytes + images + images * image;
}

bool writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return fs::is_directory(dir, ec) && ::access(dir.c_str(), W_OK | X_OK) == 0;
}

}  // namespace

fs::path image_cache_dir(const fs::path& data_dir, const fs::path& override_dir) {
  if (!override_dir.empty()) return writable_dir(override_dir) ? override_dir : fs::path();
  if (writable_dir(data_dir / ".cellforge-cache")) return data_dir / ".cellforge-cache";
  fs::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = fs::path(home) / ".cache";
  if (!base.empty() && writable_dir(base / "cellforge")) return base / "cellforge";
  return {};
}

fs::path image_cache_file(const fs::path& cache_dir, const fs::path& data_dir,
                          const std::string& conversion_text) {
  std::error_code ec;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(data_dir, ec), ec);
  return cache_dir / ("images-" + hash_hex(absolute.string() + "\n" + conversion_text) + ".bin");
}

std::optional<DatasetFiles> read_image_cache(const fs::path& file, const std::string& key) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  char magic[sizeof kMagic];
  Header h{};
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0 ||
      !in.read(reinterpret_cast<char*>(&h), sizeof h))
    return std::nullopt;
  if (h.key_fnv != key_fnv(key) ||
      h.key_crc != crc_of(reinterpret_cast<const uint8_t*>(key.data()), key.size()))
    return std::nullopt;
  std::error_code ec;
  const uint64_t size = fs::file_size(file, ec);
  if (ec || h.channels == 0 || h.channels > 4 || h.height == 0 || h.height > 65535 ||
      h.width == 0 || h.width > 65535 || h.classes == 0 || h.classes > 256 ||
      h.payload_bytes != payload_size(h) || size != sizeof magic + sizeof h + h.payload_bytes)
    return std::nullopt;
  std::vector<uint8_t> payload(h.payload_bytes);
  if (!in.read(reinterpret_cast<char*>(payload.data()),
               static_cast<std::streamsize>(payload.size())) ||
      crc_of(payload.data(), payload.size()) != h.payload_crc)
    return std::nullopt;

  DatasetFiles files;
  const uint8_t* p = payload.data();
  auto text = [&](uint32_t bytes) {
    std::string s(reinterpret_cast<const char*>(p), bytes);
    p += bytes;
    return s;
  };
  files.class_names = split_lines(text(h.names_bytes));
  files.bad_files = split_lines(text(h.bad_bytes));
  if (files.class_names.size() != h.classes) return std::nullopt;
  const Shape shape{static_cast<int>(h.channels), static_cast<int>(h.height),
                    static_cast<int>(h.width)};
  for (ImageSet* set : {&files.train, &files.test}) {
    set->count = static_cast<int>(set == &files.train ? h.train_count : h.test_count);
    set->shape = shape;
    set->classes = static_cast<int>(h.classes);
    set->labels.assign(p, p + set->count);
    p += set->count;
    for (uint8_t label : set->labels)
      if (label >= h.classes) return std::nullopt;
  }
  for (ImageSet* set : {&files.train, &files.test}) {
    const size_t bytes = static_cast<size_t>(set->count) * shape.numel();
    set->pixels.assign(p, p + bytes);
    p += bytes;
  }
  files.has_test = h.has_test != 0;
  return files;
}

std::string write_image_cache(const fs::path& file, const std::string& key,
                              const DatasetFiles& files) {
  Header h{};
  h.key_fnv = key_fnv(key);
  h.key_crc = crc_of(reinterpret_cast<const uint8_t*>(key.data()), key.size());
  h.channels = files.train.shape.c;
  h.height = files.train.shape.h;
  h.width = files.train.shape.w;
  h.classes = static_cast<uint32_t>(files.class_names.size());
  h.train_count = files.train.count;
  h.test_count = files.test.count;
  h.has_test = files.has_test;
  const std::string names = joined(files.class_names), bad = joined(files.bad_files);
  h.names_bytes = static_cast<uint32_t>(names.size());
  h.bad_bytes = static_cast<uint32_t>(bad.size());
  h.payload_bytes = payload_size(h);
  std::string bytes(sizeof kMagic + sizeof h, '\0');
  bytes.reserve(bytes.size() + h.payload_bytes);
  bytes += names;
  bytes += bad;
  for (const ImageSet* set : {&files.train, &files.test})
    bytes.append(set->labels.begin(), set->labels.end());
  for (const ImageSet* set : {&files.train, &files.test})
    bytes.append(set->pixels.begin(), set->pixels.end());
  const size_t payload_at = sizeof kMagic + sizeof h;
  h.payload_crc = crc_of(reinterpret_cast<const uint8_t*>(bytes.data()) + payload_at,
                         bytes.size() - payload_at);
  std::memcpy(bytes.data(), kMagic, sizeof kMagic);
  std::memcpy(bytes.data() + sizeof kMagic, &h, sizeof h);
  try {
    write_file_atomic(file, bytes);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace cf

#include "trainer/data_numpy.h"

#include <zip.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "space/file_io.h"

namespace cf {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxArrayBytes = int64_t{8} << 30;  // as IDX: the pixels of one dataset file
constexpr int kMaxLabel = 255;                        // labels are stored as uint8

[[noreturn]] void fail(const std::string& where, const std::string& problem) {
  throw DataError(where + ": " + problem);
}

// The value of `key` in the header dict text ("{'descr': '<u1', 'fortran_order': False, ...}"):
// the text after "'key':" up to the matching end (a quoted string, a tuple, or a word).
std::string header_value(const std::string& header, const std::string& key,
                         const std::string& where) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) at = header.find("\"" + key + "\"");
  if (at != std::string::npos) at = header.find(':', at);
  if (at != std::string::npos) at = header.find_first_not_of(' ', at + 1);
  if (at == std::string::npos) fail(where, "NPY header has no '" + key + "' (" + header + ")");
  const char open = header[at];
  size_t end;
  if (open == '\'' || open == '"' || open == '(') {
    end = header.find(open == '(' ? ')' : open, at + 1);
    if (end == std::string::npos) fail(where, "malformed NPY header (" + header + ")");
    return header.substr(at + 1, end - at - 1);
  }
  end = header.find_first_of(",}", at);
  if (end == std::string::npos) fail(where, "malformed NPY header (" + header + ")");
  std::string word = header.substr(at, end - at);
  while (!word.empty() && word.back() == ' ') word.pop_back();
  return word;
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& where) {
  std::vector<int64_t> shape;
  size_t at = 0;
  while (at < text.size()) {
    at = text.find_first_not_of(" ,L", at);
    if (at == std::string::npos) break;
    size_t end = at;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == at || end - at > 12) fail(where, "NPY shape (" + text + ") is not a tuple of sizes");
    shape.push_back(std::stoll(text.substr(at, end - at)));
    at = end;
  }
  return shape;
}

uint64_t load_unsigned(const char* p, int size, bool big_endian) {
  uint64_t v = 0;
  for (int k = 0; k < size; ++k) {
    const auto byte = static_cast<uint8_t>(p[big_endian ? k : size - 1 - k]);
    v = v << 8 | byte;
  }
  return v;
}

std::string to_utf8(uint32_t code) {
  std::string out;
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | code >> 6);
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | code >> 12);
    out += static_cast<char>(0x80 | (code >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | code >> 18);
    out += static_cast<char>(0x80 | (code >> 12 & 0x3f));
    out += static_cast<char>(0x80 | (code >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
  return out;
}

// The strings of a 1-D text array ('U': UTF-32 code points, 'S': bytes), trailing NULs removed.
std::vector<std::string> strings_of(const NpyArray& a, const std::string& where) {
  if ((a.kind != 'U' && a.kind != 'S') || a.shape.size() != 1)
    fail(where, "class_names must be a 1-D string array (got " + a.dtype_text() + " " +
                    a.shape_text() + ")");
  std::vector<std::string> names;
  for (int64_t i = 0; i < a.count(); ++i) {
    const char* p = a.bytes.data() + i * a.item_size;
    std::string name;
    if (a.kind == 'S') {
      name.assign(p, strnlen(p, a.item_size));
    } else {
      for (int k = 0; k < a.item_size / 4; ++k) {
        const auto code = static_cast<uint32_t>(load_unsigned(p + 4 * k, 4, a.big_endian));
        if (code == 0) break;
        name += to_utf8(code);
      }
    }
    names.push_back(name);
  }
  return names;
}

// Where each image's pixels are: the layout of an images array.
struct ImagesLayout {
  int64_t count = 0;
  Shape shape;
  bool channels_last = false;
};

ImagesLayout images_layout(const NpyArray& a, const std::string& where) {
  const auto& s = a.shape;
  ImagesLayout layout;
  auto bad = [&] {
    fail(where, "images must be N x H x W, N x H x W x C or N x C x H x W with C = 1 or 3 (shape " +
                    a.shape_text() + ")");
  };
  if (s.size() == 3) {
    layout.shape = {1, static_cast<int>(std::min<int64_t>(s[1], 1 << 20)),
                    static_cast<int>(std::min<int64_t>(s[2], 1 << 20))};
  } else if (s.size() == 4 && (s[3] == 1 || s[3] == 3)) {
    layout.channels_last = true;
    layout.shape = {static_cast<int>(s[3]), static_cast<int>(std::min<int64_t>(s[1], 1 << 20)),
                    static_cast<int>(std::min<int64_t>(s[2], 1 << 20))};
  } else if (s.size() == 4 && (s[1] == 1 || s[1] == 3)) {
    layout.shape = {static_cast<int>(s[1]), static_cast<int>(std::min<int64_t>(s[2], 1 << 20)),
                    static_cast<int>(std::min<int64_t>(s[3], 1 << 20))};
  } else {
    bad();
  }
  layout.count = s[0];
  if (layout.count < 1) fail(where, "holds no images (shape " + a.shape_text() + ")");
  if (layout.count > std::numeric_limits<int>::max()) fail(where, "too many images");
  if (layout.shape.h < 1 || layout.shape.w < 1 || layout.shape.h > 65535 || layout.shape.w > 65535)
    fail(where, "impossible image size " + std::to_string(layout.shape.h) + "x" +
                    std::to_string(layout.shape.w));
  return layout;
}

// The images as uint8 CHW: uint8 kept, floats in [0, 1] scaled to round(x * 255).
ImageSet images_from(const NpyArray& a, const std::string& where) {
  const bool is_float = a.kind == 'f' && (a.item_size == 4 || a.item_size == 8);
  if (!is_float && !(a.kind == 'u' && a.item_size == 1))
    fail(where,
         "images must be uint8 (0..255) or float32/float64 in [0, 1], not " + a.dtype_text());
  const ImagesLayout layout = images_layout(a, where);
  ImageSet set;
  set.count = static_cast<int>(layout.count);
  set.shape = layout.shape;
  const int64_t plane = int64_t{layout.shape.h} * layout.shape.w, image = plane * layout.shape.c;
  set.pixels.resize(static_cast<size_t>(layout.count * image));
  for (int64_t i = 0; i < layout.count; ++i) {
    for (int64_t c = 0; c < layout.shape.c; ++c) {
      for (int64_t p = 0; p < plane; ++p) {
        const int64_t source =
            i * image + (layout.channels_last ? p * layout.shape.c + c : c * plane + p);
        uint8_t value;
        if (is_float) {
          const double x = a.real(source);
          if (!(x >= 0.0 && x <= 1.0))  // also NaN
            fail(where, "float pixel " + std::to_string(x) + " of image " + std::to_string(i) +
                            " is outside [0, 1] (float images must be scaled to [0, 1])");
          value = static_cast<uint8_t>(std::lround(x * 255.0));
        } else {
          value = static_cast<uint8_t>(a.bytes[source]);
        }
        set.pixels[i * image + c * plane + p] = value;
      }
    }
  }
  return set;
}

void attach_labels(ImageSet& set, const NpyArray& a, const std::string& images_where,
                   const std::string& where) {
  if (a.kind != 'u' && a.kind != 'i')
    fail(where, "labels must be an integer array, not " + a.dtype_text());
  if (!(a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1)))
    fail(where, "labels must have shape (N,) or (N, 1), not " + a.shape_text());
  if (a.shape[0] != set.count)
    fail(where, std::to_string(a.shape[0]) + " labels but " + images_where + " has " +
                    std::to_string(set.count) + " images");
  set.labels.resize(set.count);
  for (int i = 0; i < set.count; ++i) {
    const int64_t label = a.integer(i);
    if (label < 0 || label > kMaxLabel)
      fail(where, "label " + std::to_string(label) + " of image " + std::to_string(i) +
                      (label < 0 ? " is negative" : " is over 255 (at most 256 classes)"));
    set.labels[i] = static_cast<uint8_t>(label);
  }
}

struct SplitFiles {
  std::string images_where, labels_where, class_names_where;
  NpyArray images, labels, class_names;
};

SplitFiles read_split(const fs::path& dir, const std::string& split) {
  SplitFiles f;
  const fs::path archive = dir / (split + ".npz");
  std::error_code ec;
  if (fs::is_regular_file(archive, ec)) {
    f.images_where = archive.string() + ":images.npy";
    f.labels_where = archive.string() + ":labels.npy";
    f.images = read_npz_entry(archive, "images.npy");
    f.labels = read_npz_entry(archive, "labels.npy");
    f.class_names = read_npz_entry(archive, "class_names.npy", false);
    f.class_names_where = archive.string() + ":class_names.npy";
  } else {
    const fs::path images = dir / (split + "_images.npy"), labels = dir / (split + "_labels.npy");
    f.images_where = images.string();
    f.labels_where = labels.string();
    f.images = read_npy_file(images);
    f.labels = read_npy_file(labels);
  }
  return f;
}

bool has_split(const fs::path& dir, const std::string& split) {
  std::error_code ec;
  return fs::is_regular_file(dir / (split + ".npz"), ec) ||
         fs::is_regular_file(dir / (split + "_images.npy"), ec);
}

}  // namespace

int64_t NpyArray::count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t NpyArray::integer(int64_t index) const {
  const uint64_t raw = load_unsigned(bytes.data() + index * item_size, item_size, big_endian);
  if (kind != 'i' || item_size == 8) return static_cast<int64_t>(raw);
  const uint64_t sign = uint64_t{1} << (8 * item_size - 1);
  return static_cast<int64_t>(raw & sign ? raw | ~((sign << 1) - 1) : raw);
}

double NpyArray::real(int64_t index) const {
  const uint64_t raw = load_unsigned(bytes.data() + index * item_size, item_size, big_endian);
  if (item_size == 4) {
    float f;
    const auto bits = static_cast<uint32_t>(raw);
    std::memcpy(&f, &bits, 4);
    return f;
  }
  double d;
  std::memcpy(&d, &raw, 8);
  return d;
}

std::string NpyArray::dtype_text() const {
  const char* base = kind == 'u' ? "uint" : kind == 'i' ? "int" : kind == 'f' ? "float" : nullptr;
  if (base) return base + std::to_string(8 * item_size);
  if (kind == 'b') return "bool";
  return std::string(1, kind) + std::to_string(kind == 'U' ? item_size / 4 : item_size);
}

std::string NpyArray::shape_text() const {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

NpyArray parse_npy(const std::string& bytes, const std::string& where) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    fail(where, "not a NumPy .npy file (bad magic)");
  const int major = static_cast<uint8_t>(bytes[6]);
  if (major < 1 || major > 3)
    fail(where, "unsupported .npy format version " + std::to_string(major));
  const size_t length_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + length_bytes) fail(where, "truncated .npy header");
  const uint64_t header_length =
      load_unsigned(bytes.data() + 8, static_cast<int>(length_bytes), false);
  const size_t data_at = 8 + length_bytes + header_length;
  if (data_at > bytes.size()) fail(where, "truncated .npy header");
  const std::string header = bytes.substr(8 + length_bytes, header_length);

  NpyArray a;
  const std::string descr = header_value(header, "descr", where);
  if (descr.size() < 3 || std::string("<>|=").find(descr[0]) == std::string::npos)
    fail(where, "unsupported dtype '" + descr + "' (structured or object arrays are not images)");
  a.big_endian = descr[0] == '>';
  a.kind = descr[1];
  const std::string size_text = descr.substr(2);
  if (size_text.empty() || size_text.size() > 6 ||
      !std::all_of(size_text.begin(), size_text.end(), [](char c) { return std::isdigit(c); }))
    fail(where, "unsupported dtype '" + descr + "'");
  a.item_size = std::stoi(size_text) * (a.kind == 'U' ? 4 : 1);
  const bool known = (a.kind == 'u' || a.kind == 'i') ? (a.item_size == 1 || a.item_size == 2 ||
                                                         a.item_size == 4 || a.item_size == 8)
                     : a.kind == 'f'                  ? (a.item_size == 4 || a.item_size == 8)
                     : a.kind == 'b'                  ? a.item_size == 1
                                     : (a.kind == 'U' || a.kind == 'S') && a.item_size > 0;
  if (!known) fail(where, "unsupported dtype '" + descr + "'");
  if (header_value(header, "fortran_order", where) != "False")
    fail(where, "Fortran-order array (save it with np.save(f, np.ascontiguousarray(a)))");
  a.shape = parse_shape(header_value(header, "shape", where), where);
  uint64_t expected = a.item_size;
  for (int64_t d : a.shape) {
    if (d > 0 && expected > static_cast<uint64_t>(kMaxArrayBytes) / d)
      fail(where, "shape " + a.shape_text() + " is larger than the limit of " +
                      std::to_string(kMaxArrayBytes) + " bytes");
    expected *= static_cast<uint64_t>(d);
  }
  const uint64_t got = bytes.size() - data_at;
  if (got != expected)
    fail(where, (got < expected ? "truncated: " : "size mismatch: ") + std::string("shape ") +
                    a.shape_text() + " of " + a.dtype_text() + " needs " +
                    std::to_string(expected) + " bytes, the file has " + std::to_string(got));
  a.bytes = bytes.substr(data_at);
  return a;
}

NpyArray read_npy_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) fail(file.string(), "file not found");
  std::string bytes;
  try {
    bytes = read_file_capped(file, kMaxArrayBytes + (1 << 20), "NumPy file");
  } catch (const FileError& e) {
    throw DataError(e.what());
  }
  return parse_npy(bytes, file.string());
}

NpyArray read_npz_entry(const fs::path& archive, const std::string& name, bool required) {
  const std::string where = archive.string() + ":" + name;
  int error = 0;
  zip_t* zip = zip_open(archive.c_str(), ZIP_RDONLY, &error);
  if (!zip) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string message = zip_error_strerror(&e);
    zip_error_fini(&e);
    fail(archive.string(), "cannot open as a .npz (zip) archive: " + message);
  }
  struct Closer {
    zip_t* z;
    ~Closer() { zip_discard(z); }
  } closer{zip};
  const zip_int64_t index = zip_name_locate(zip, name.c_str(), 0);
  if (index < 0) {
    if (!required) return NpyArray{'u', 1, false, {}, {}};
    fail(archive.string(),
         "has no array '" + name.substr(0, name.size() - 4) +
             "' (expected images and labels, e.g. np.savez(f, images=x, labels=y))");
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    fail(where, "cannot read the archive entry's size");
  if (st.size > static_cast<zip_uint64_t>(kMaxArrayBytes))
    fail(where, "entry of " + std::to_string(st.size) + " bytes is larger than the limit");
  zip_file_t* file = zip_fopen_index(zip, index, 0);
  if (!file) fail(where, std::string("cannot open the entry: ") + zip_strerror(zip));
  std::string bytes(st.size, '\0');
  const zip_int64_t got = zip_fread(file, bytes.data(), st.size);
  const bool failed = got < 0 || static_cast<zip_uint64_t>(got) != st.size;
  std::string message = failed ? zip_file_strerror(file) : "";
  zip_fclose(file);
  if (failed) fail(where, "corrupt or truncated archive entry (" + message + ")");
  return parse_npy(bytes, where);
}

bool has_numpy_dataset(const fs::path& dir) {
  return has_split(dir, "train");
}

DatasetFiles read_numpy_dataset(const DataOptions& options) {
  const fs::path& dir = options.dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir.string(), "dataset directory not found");
  if (!has_split(dir, "train"))
    fail(dir.string(),
         "no NumPy dataset: expected train.npz (arrays images, labels) or "
         "train_images.npy and train_labels.npy");
  DatasetFiles files;
  SplitFiles train = read_split(dir, "train");
  files.train = images_from(train.images, train.images_where);
  attach_labels(files.train, train.labels, train.images_where, train.labels_where);
  files.train_source = train.images_where;
  files.has_test = has_split(dir, "test");
  SplitFiles test;
  if (options.load_test && files.has_test) {
    test = read_split(dir, "test");
    files.test = images_from(test.images, test.images_where);
    attach_labels(files.test, test.labels, test.images_where, test.labels_where);
    if (files.test.shape != files.train.shape)
      fail(test.images_where, "images are " + to_string(files.test.shape) +
                                  " but the training images (" + train.images_where + ") are " +
                                  to_string(files.train.shape));
  } else if (options.load_test && !options.test_if_present) {
    fail(dir.string(),
         "no test files: expected test.npz or test_images.npy and test_labels.npy "
         "(or set data.test = false)");
  }
  if (!train.class_names.shape.empty())
    files.class_names = strings_of(train.class_names, train.class_names_where);
  int classes = 0;
  for (const ImageSet* set : {&files.train, &files.test})
    for (uint8_t label : set->labels) classes = std::max(classes, label + 1);
  if (fs::is_regular_file(dir / "classes.txt", ec)) {
    const auto names = read_class_names_file(dir / "classes.txt", 0);
    files.class_names = names;
  }
  if (!files.class_names.empty()) {
    const int named = static_cast<int>(files.class_names.size());
    for (const ImageSet* set : {&files.train, &files.test}) {
      const std::string& where = set == &files.train ? train.labels_where : test.labels_where;
      for (int i = 0; i < set->count; ++i)
        if (set->labels[i] >= named)
          fail(where, "label " + std::to_string(set->labels[i]) + " of image " + std::to_string(i) +
                          " has no class name (" + std::to_string(named) + " names)");
    }
    classes = named;
  }
  files.train.classes = files.test.classes = classes;
  return files;
}

}  // namespace cf

#pragma once
// NumPy datasets: DATA_DIR/train_images.npy + train_labels.npy (and test_images.npy +
// test_labels.npy), or DATA_DIR/train.npz (and test.npz) holding the arrays `images` and `labels`
// (np.savez / np.savez_compressed), optionally `class_names`; an optional DATA_DIR/classes.txt
// (one name per line) names the classes too. Images: uint8 (0..255) or float32/float64 in [0, 1]
// (scaled to round(x * 255) and stored as uint8), shaped N x H x W (grey), N x H x W x C or
// N x C x H x W with C = 1 or 3 (N x H x W x C wins when both fit). Labels: any integer dtype,
// shape N or N x 1, values 0..255. The .npy format is read here (a short documented header);
// .npz archives are opened with libzip.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "trainer/data.h"

namespace cf {

// One array as stored: dtype kind ('u', 'i', 'f', 'b', 'U', 'S'), item size, byte order, shape
// and the raw element bytes (C order).
struct NpyArray {
  char kind = 'u';
  int item_size = 1;
  bool big_endian = false;
  std::vector<int64_t> shape;
  std::string bytes;  // the element data only
  int64_t count() const;
  int64_t integer(int64_t index) const;  // kinds 'u', 'i', 'b'
  double real(int64_t index) const;      // kind 'f'
  std::string dtype_text() const;        // "uint8", "float32", "<U5", ...
  std::string shape_text() const;        // "(60000, 28, 28)"
};

// Parses .npy bytes; DataError starting with `where` (the file, or "ARCHIVE:ENTRY") for a bad
// magic, version, header, unsupported dtype, Fortran order or a size that disagrees with the shape.
NpyArray parse_npy(const std::string& bytes, const std::string& where);
NpyArray read_npy_file(const std::filesystem::path& file);
// The entry `name` (e.g. "images.npy") of an .npz archive; `required` false returns an empty
// shape when the entry is absent.
NpyArray read_npz_entry(const std::filesystem::path& archive, const std::string& name,
                        bool required = true);

// Whether dir holds train.npz or train_images.npy.
bool has_numpy_dataset(const std::filesystem::path& dir);

// Reads the NumPy dataset in options.dir (test files when options.load_test), checking images
// against labels (counts, dtypes, shapes, label and float ranges) and test against train.
DatasetFiles read_numpy_dataset(const DataOptions& options);

}  // namespace cf

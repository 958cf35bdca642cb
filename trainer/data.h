#pragma once
// Image datasets for the trainer: readers for IDX files (MNIST / Fashion-MNIST, gzip or plain),
// CIFAR-10/100 binary batches, image folders (trainer/data_folder.h) and NumPy arrays
// (trainer/data_numpy.h), a seeded train/validation split of the training files, per-channel
// normalisation and cheap per-step augmentation into float NCHW batches.
// Search only ever uses train and valid; the test files are read only when asked for.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "space/network.h"
#include "space/rng.h"

namespace cf {

// A missing, truncated or inconsistent dataset file, or impossible data options.
// The one-line message starts with the file (or directory) and says what is wrong.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Images as stored: uint8, each image CHW, images back to back.
struct ImageSet {
  int count = 0;
  Shape shape;
  int classes = 0;
  std::vector<uint8_t> pixels;  // count * shape.numel()
  std::vector<uint8_t> labels;  // count, each < classes

  const uint8_t* image(int index) const { return pixels.data() + index * shape.numel(); }
};

enum class DatasetFormat { automatic, idx, cifar10, cifar100, folder, numpy };
// "auto", "idx", "cifar10", "cifar100", "folder", "numpy"
std::string_view dataset_format_name(DatasetFormat format);
std::optional<DatasetFormat> parse_dataset_format(std::string_view name);

// How an image reaches data.image_size: stretched to the square (resize), or its shorter side
// scaled to the size and the centre square kept (center_crop, torchvision's Resize + CenterCrop).
enum class ResizeMode { resize, center_crop };
std::string_view resize_mode_name(ResizeMode mode);  // "resize", "center_crop"
std::optional<ResizeMode> parse_resize_mode(std::string_view name);

// The images the network sees. Folders are always converted to it; the other formats only when a
// field is set (the defaults keep IDX and CIFAR data exactly as stored).
struct ImageConversion {
  int channels = 0;    // 0 = auto (folders: 3 if any image has colour, else 1), 1 or 3
  int image_size = 0;  // 0 = auto (the files' own size, which must agree), else a square side
  ResizeMode resize = ResizeMode::resize;
  bool is_default() const { return channels == 0 && image_size == 0; }
};

struct DataOptions {
  std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  DatasetFormat format = DatasetFormat::automatic;
  int train_images = 0;  // 0 = all training-file images left after the validation split
  int valid_images = 5000;
  bool load_test = false;
  uint64_t seed = 0;  // seeds the validation split
  // Random horizontal flips in training: nullopt = the format's default (default_horizontal_flip);
  // set it to say otherwise, e.g. false for digits or text, where a mirror image is another symbol.
  std::optional<bool> horizontal_flip;
  // Padding of the random crop in training: nullopt = the format's default (default_crop_padding).
  std::optional<int> crop_padding;
  ImageConversion conversion;
  // Folders: skip unreadable, empty or corrupt images (listed in DataSplits::bad_files) instead of
  // stopping at the first with a DataError.
  bool skip_bad_images = false;
  // With load_test: a dataset without test files is no error (its test split stays empty).
  bool test_if_present = false;
  // Folders: where decoded images are cached; empty = DATA_DIR/.cellforge-cache when writable, else
  // $XDG_CACHE_HOME/cellforge (or ~/.cache/cellforge).
  std::filesystem::path cache_dir;
};

// The flip default of a dataset format: on for IDX, CIFAR-10 and CIFAR-100 (Fashion-MNIST and
// CIFAR images mean the same mirrored). Never decided by a directory's name: IDX digits (MNIST)
// need DataOptions::horizontal_flip = false.
bool default_horizontal_flip(DatasetFormat format);
// The crop padding default of a format and image shape: 4 for CIFAR, 2 for IDX; folders and NumPy
// 4 when both sides are at least 32 pixels, else 2.
int default_crop_padding(DatasetFormat format, const Shape& shape);

// What a reader found in a dataset directory, before the validation split.
struct DatasetFiles {
  ImageSet train, test;  // the training files' images; test when asked for and present
  bool has_test = false;
  std::vector<std::string> class_names;  // empty = the reader knows none
  std::vector<std::string> bad_files;    // "FILE: problem" of each skipped image
  std::filesystem::path train_source;    // named in option errors
  std::string cache_status;              // folders: what happened to the decoded-image cache
};

struct DataSplits {
  ImageSet train, valid, test;      // test is empty unless DataOptions::load_test
  std::vector<float> mean, stddev;  // per channel, in [0,1] pixel units, from the train split only
  std::string name;                 // for display: "fashion-mnist", "mnist", "cifar10", "cifar100"
  DatasetFormat format = DatasetFormat::idx;  // the format read (never automatic)
  bool horizontal_flip = true;  // DataOptions::horizontal_flip, or the format's default
  // Where each train / valid image came from: its index in the training files (so that another
  // trainer can be given exactly this split).
  std::vector<int> train_source, valid_source;
  int crop_padding = 2;         // DataOptions::crop_padding, or the format's default
  // One per class, in label order: a names file, folder names or "0".."N-1".
  std::vector<std::string> class_names;
  std::vector<std::string> bad_files;  // images skipped (DataOptions::skip_bad_images)
  std::string cache_status;            // folders: "reused FILE", "written FILE", "not written: ..."
};

// Reads the dataset in options.dir and splits its training files: a Fisher-Yates permutation
// seeded by options.seed; its first valid_images images form valid, the next train_images train.
// CIFAR files may also sit in the archives' own subfolders (cifar-10-batches-bin,
// cifar-100-binary) of dir. Throws DataError for any bad file or impossible option.
DataSplits load_dataset(const DataOptions& options);

// The format of the files in dir (IDX, then CIFAR-10, CIFAR-100, NumPy files, then class folders
// are looked for); DataError listing the expected files if none is there.
DatasetFormat detect_dataset_format(const std::filesystem::path& dir);

// Single readers, used by load_dataset. Files may be gzip-compressed or plain.
// IDX: images magic 0x00000803 (n, h, w), labels magic 0x00000801 (n), labels < 10.
ImageSet read_idx(const std::filesystem::path& images_file,
                  const std::filesystem::path& labels_file);
// CIFAR-10 records: label, 3072 CHW pixels. CIFAR-100 records: coarse label, fine label, 3072
// pixels; the fine label (100 classes) is kept. The files are concatenated in order.
ImageSet read_cifar(const std::vector<std::filesystem::path>& files, bool cifar100);

// Class names from a text file, one per line (blank lines and trailing spaces ignored); DataError
// naming the file when it cannot be read, holds no name, or (classes > 0) not exactly `classes`.
std::vector<std::string> read_class_names_file(const std::filesystem::path& file, int classes);

// Per-channel mean and (population) standard deviation of all images, in [0,1] pixel units.
// A constant channel gets stddev 1 so that normalising never divides by zero.
void channel_statistics(const ImageSet& set, std::vector<float>& mean, std::vector<float>& stddev);

struct Augmentation {
  int crop_padding = 0;  // random crop of the original size from the zero-padded image
  bool horizontal_flip = false;
  int cutout = 0;  // side of the zeroed square, 0 = off
};

// The usual training augmentation for a loaded dataset: padded crop as data.crop_padding says,
// horizontal flip as data.horizontal_flip says (each the caller's DataOptions choice or the
// format's default), no cutout.
Augmentation default_augmentation(const DataSplits& data);

// Fills a float NCHW batch with the images set[indices[0..batch)]: normalised
// ((x/255 - mean)/stddev), then, when augment is given, randomly cropped from the image padded by
// crop_padding zeros (zero after normalisation, i.e. the mean), flipped with p = 0.5, and cut out
// (a zeroed cutout x cutout square, centre uniform over the image, clipped at the borders).
// labels_out receives the labels. No allocation; rng is needed only with augment and is drawn per
// image in a fixed order (crop y, crop x, flip, cutout y, cutout x) for reproducibility.
void fill_batch(const ImageSet& set, const std::vector<float>& mean,
                const std::vector<float>& stddev, const int* indices, int batch, float* images_out,
                int32_t* labels_out, const Augmentation* augment, Rng* rng);

}  // namespace cf

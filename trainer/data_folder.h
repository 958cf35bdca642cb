#pragma once
// Image-folder datasets (the layout of PyTorch's ImageFolder and Keras'
// image_dataset_from_directory): DATA_DIR/train/<class>/*.{png,jpg,jpeg,bmp} with an optional
// DATA_DIR/test/<class>/..., or a single tree DATA_DIR/<class>/... (all training files; the
// validation split is the usual seeded one). Class names are the folder names sorted byte-wise,
// labels their positions. Images are decoded with OpenCV (imgcodecs), converted to the configured
// channels and size, and cached (trainer/image_cache.h) so that they are decoded once.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "trainer/data.h"

namespace cf {

// One image file of a folder dataset.
struct FolderImage {
  std::filesystem::path path;
  std::string relative;  // to the split's root: "<class>/<file>"
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int label = 0;
};

// The files of a folder dataset, in order: classes byte-wise, files byte-wise within a class.
struct FolderListing {
  std::filesystem::path train_root, test_root;  // test_root empty when there is no test/
  std::vector<std::string> class_names;
  std::vector<FolderImage> train, test;
  int ignored_files = 0;  // files without an image extension
};

// Whether dir looks like a folder dataset: a train/ folder, or sub-folders (not hidden) holding
// image files.
bool has_folder_dataset(const std::filesystem::path& dir);

// Lists the dataset; DataError naming the folder when there are no classes, a class has no
// images, the test split has a class the training split lacks, or there are over 256 classes.
FolderListing list_folder_dataset(const std::filesystem::path& dir);

// Reads (from the cache, or by decoding) the folder dataset in options.dir as
// options.conversion, options.skip_bad_images, options.load_test and options.cache_dir say.
DatasetFiles read_folder_dataset(const DataOptions& options);

// Images decoded by this process so far (tests check that a cached dataset is not decoded).
int64_t folder_images_decoded();

}  // namespace cf

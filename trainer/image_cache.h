#pragma once
// The decoded-image cache of folder datasets: one compact binary file per dataset directory and
// conversion, so that epochs, candidates (each a separate `cellforge _evaluate` process) and
// `data check` decode each image once. The file records a key (the list of image files with
// their sizes and modification times, and the conversion settings); a cache whose key, header,
// sizes or checksum do not match is ignored and rebuilt, never trusted.
#include <filesystem>
#include <optional>
#include <string>

#include "trainer/data.h"

namespace cf {

// Where the cache of `data_dir` lives: `override_dir` when given, else DATA_DIR/.cellforge-cache
// when it can be created and written, else $XDG_CACHE_HOME/cellforge (or ~/.cache/cellforge);
// empty when none is usable.
std::filesystem::path image_cache_dir(const std::filesystem::path& data_dir,
                                      const std::filesystem::path& override_dir);

// The cache file of a dataset directory and conversion in cache_dir (a changed image list
// overwrites the same file).
std::filesystem::path image_cache_file(const std::filesystem::path& cache_dir,
                                       const std::filesystem::path& data_dir,
                                       const std::string& conversion_text);

// The cached dataset when `file` exists, is intact and was written for exactly `key`; nullopt
// otherwise (missing, damaged, stale: the caller decodes again).
std::optional<DatasetFiles> read_image_cache(const std::filesystem::path& file,
                                             const std::string& key);

// Writes the cache atomically (temporary file, rename). Returns an empty string, or why the
// cache could not be written (the dataset is still usable).
std::string write_image_cache(const std::filesystem::path& file, const std::string& key,
                              const DatasetFiles& files);

}  // namespace cf

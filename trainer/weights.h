#pragma once
// Weight files: every parameter and batch-norm running statistic of a network, by name.
// Layout: "CFWEIGHTS" magic, a JSON header line (network notation, then name and size of every
// tensor in order), then the float32 values (little-endian, plain layouts) back to back.
#include <filesystem>
#include <stdexcept>

#include "trainer/executor.h"

namespace cf {

class WeightsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Written to a temporary file and renamed, so an interrupted save never leaves a torn file.
void save_weights(const Executor& executor, const std::filesystem::path& path);
// Every tensor of the executor's network must be in the file with the same size; errors name
// the file and the tensor.
void load_weights(Executor& executor, const std::filesystem::path& path);

}  // namespace cf

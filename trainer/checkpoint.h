#pragma once
// Training checkpoints on disk: DIR/epoch-N/{weights.bin,state.bin} plus DIR/latest naming the
// newest complete one (replaced atomically), so a crash at any moment leaves a usable checkpoint.
#include <filesystem>
#include <optional>

#include "trainer/executor.h"
#include "trainer/train.h"

namespace cf {

void save_checkpoint(const std::filesystem::path& dir, const Executor& executor,
                     const TrainCheckpoint& state);
// Loads the newest checkpoint into the executor; nullopt when there is none. Errors name the file.
std::optional<TrainCheckpoint> load_checkpoint(const std::filesystem::path& dir, Executor& executor);

}  // namespace cf

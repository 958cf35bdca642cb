#pragma once
// The training loop: a network from space/, data from trainer/data.h, options as a typed struct
// (trainer/ never reads config files). Failures are results: a diverged loss or a network over
// the memory limit ends training with a status and a reason instead of an exception.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "space/network.h"
#include "trainer/data.h"
#include "trainer/executor.h"
#include "trainer/optimizer.h"

namespace cf {

struct TrainOptions {
  int epochs = 1;  // the length of the learning-rate and drop-path schedules
  // Stop after this epoch (0: after `epochs`): a part of a longer schedule, continued later from
  // the checkpoint (successive halving's rungs). The last epoch trained is always validated.
  int stop_after_epochs = 0;
  int batch = 64;
  float lr = 0.05f;  // base learning rate (cosine decay to min_lr)
  float min_lr = 0.0f;
  float warmup_epochs = 0.0f;
  SgdOptions sgd{0.9f, true, 3e-4f, 5.0f};
  float label_smoothing = 0.0f;
  float drop_path = 0.0f;   // ScheduledDropPath probability reached at the end of training
  float aux_weight = 0.4f;  // auxiliary head loss weight (when the network has one)
  bool augment = true;      // data's default augmentation (plus cutout below)
  int cutout = 0;
  InitScheme init = InitScheme::torch_default;  // fresh weights (not when resuming or loading)
  int threads = 2;
  // bf16 on a CPU without native bf16 trains in fp32 with a warning (usable_precision).
  Precision precision = Precision::fp32;
  uint64_t seed = 0;
  int64_t memory_limit_bytes = int64_t{16} << 30;
  bool evaluate_every_epoch = true;
  bool evaluate_test = false;
};

enum class TrainStatus { ok, diverged, memory_limit, failed };
const char* train_status_name(TrainStatus status);

struct EpochStats {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double valid_accuracy = -1;  // -1 when not evaluated
  double images_per_second = 0;
  double seconds = 0;
  float lr = 0;
};

struct TrainResult {
  TrainStatus status = TrainStatus::ok;
  std::string reason;  // why training stopped early (empty when ok)
  std::vector<EpochStats> epochs;
  std::vector<float> losses;  // every step's training loss
  double valid_accuracy = -1, test_accuracy = -1;
  double seconds = 0;
  int64_t estimated_bytes = 0;
};

// Everything needed to continue training exactly where an epoch ended (weights and BN statistics
// live in the executor and are saved beside it; see trainer/checkpoint.h).
struct TrainCheckpoint {
  int epochs_done = 0;
  int64_t step = 0;
  std::array<uint64_t, 4> order_rng{}, augment_rng{}, drop_rng{};
  std::vector<int> order;                    // the running permutation of training images
  std::vector<std::vector<float>> velocity;  // SGD momentum, parameter order
  std::vector<EpochStats> epochs;
  std::vector<float> losses;
};

// Data-parallel peers: K processes train one network on the same global batches (trainer/ knows
// nothing of MPI; search/ supplies an MPI implementation). Shard r computes images
// [r * B/K, (r+1) * B/K) of every batch of TrainOptions::batch = B; the data order and the
// augmentation are drawn for the whole batch on every shard, gradients are averaged in rank order
// (so every shard applies the same update and the weights stay identical), and batch-norm running
// statistics are averaged at the end of every epoch. Batch-norm batch statistics are per shard
// (over B/K images), as in PyTorch's DistributedDataParallel without SyncBatchNorm.
class ShardGroup {
 public:
  virtual ~ShardGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Replaces values, on every shard, by the sum over shards of each shard's values (the same
  // count everywhere), added in rank order so that every shard gets the same bits.
  virtual void sum(std::vector<float>& values) = 0;
  virtual void sum(std::vector<double>& values) = 0;
};

struct TrainCallbacks {
  std::function<void(int epoch, int step, int steps_per_epoch, double loss, double accuracy)>
      on_step;
  std::function<void(const EpochStats&)> on_epoch;
  std::function<bool()> should_stop;  // polled every step; true ends training (status failed)
  std::function<void(const TrainCheckpoint&)> on_checkpoint;  // after every epoch
  // After each epoch's shuffle: the positions in data.train in the order this epoch trains them
  // (the first steps_per_epoch * batch of them; the rest wait for a later epoch).
  std::function<void(int epoch, const std::vector<int>& order)> on_shuffle;
  // Once before the first step, when the weights are initialised (or loaded, or restored).
  std::function<void()> on_start;
  // Data-parallel peers (nullptr: train alone). The executor's batch is then B/K.
  ShardGroup* shards = nullptr;
};

// Trains `network` from scratch (or from the weights already in `executor`, when given).
// The executor is created inside when null; pass one to keep the trained weights.
// With `resume`, training continues after resume->epochs_done epochs; the executor must already
// hold the weights saved with that checkpoint.
TrainResult train_network(const Network& network, const DataSplits& data,
                          const TrainOptions& options, const TrainCallbacks& callbacks = {},
                          Executor* executor = nullptr, bool init_weights = true,
                          const TrainCheckpoint* resume = nullptr);

// Top-1 accuracy (0..1) of the executor's network on an image set (its first `limit` images when
// limit > 0), in inference mode.
double evaluate_accuracy(Executor& executor, const ImageSet& set, const std::vector<float>& mean,
                         const std::vector<float>& stddev, int limit = 0);

}  // namespace cf

#pragma once
// Weight sharing (Single-Path One-Shot, Guo et al. 2019): one bank of parameters for every cell of
// a NASNet space at one stacking. A path is a genotype's stand-alone network (space/'s
// build_network); its parameters are the bank's entries of the same name and plain shape. Names
// say cell, block, side and op ("cell3.b1.left.sep_conv_3x3.sep1.depthwise.weights"), shapes say
// what the chosen inputs imply (a combine of concat widens the state a later op reads; the
// previous cell's width, from the "unused" concat rule, sets a preprocessing convolution's), so
// paths share exactly what they have in common. Each training step trains one path on one batch
// (the caller samples it); scoring recalibrates the path's batch-norm statistics on a few training
// batches and measures accuracy on held-out images. trainer/ knows no search space: paths arrive
// as genotypes.
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "space/genotype.h"
#include "space/network.h"
#include "trainer/data.h"
#include "trainer/executor.h"
#include "trainer/optimizer.h"
#include "trainer/train.h"

namespace cf {

struct SharedParam {
  std::vector<float> value;     // plain layout
  std::vector<float> velocity;  // SGD momentum, plain layout
  bool decay = false;           // weight decay applies (conv and FC weights)
  int64_t steps = 0;            // training steps of paths that contain it
};

class ParamBank {
 public:
  // "<parameter name>@<plain dims joined by x>", e.g. "cell0.pre_prev.conv.weights@16x48x1x1".
  static std::string key(const Param& p);

  // Writes the path's shared values into the executor. Parameters the bank does not hold yet are
  // added first, with `fresh`'s values (init_param_values of the executor's network), which is
  // called at most once; returns how many values were added.
  int64_t load_into(Executor& executor, const std::function<ParamValues()>& fresh);
  // One SGD step on the path's entries from the executor's gradients (after backward): global
  // gradient-norm clipping over the path, then sgd_update on each entry. Returns the norm.
  double update(const Executor& executor, float lr, const SgdOptions& sgd);
  // Values of the path's parameters the bank does not hold.
  int64_t missing_values(const Executor& executor) const;

  const std::map<std::string, SharedParam>& entries() const { return entries_; }
  std::map<std::string, SharedParam>& entries() { return entries_; }
  int64_t values() const;  // shared values (not counting momentum)

 private:
  std::map<std::string, SharedParam> entries_;
};

struct SupernetTrainOptions {
  NetworkSpec network;  // every path's stacking (input shape and classes: the dataset's)
  int epochs = 1;
  int batch = 64;
  float lr = 0.05f;  // cosine decay to min_lr over all epochs' steps
  float min_lr = 0.0f;
  float warmup_epochs = 0.0f;  // linear warm-up to lr first
  SgdOptions sgd{0.9f, true, 3e-4f, 5.0f};
  float label_smoothing = 0.0f;
  float drop_path = 0.0f;  // ScheduledDropPath probability at the last step (train_network's rule)
  float aux_weight = 0.4f;
  bool augment = true;
  int cutout = 0;  // with augment
  InitScheme init = InitScheme::torch_default;
  Precision precision = Precision::fp32;
  uint64_t seed = 0;
  int threads = 2;             // OpenMP threads (pinned as train_network pins them)
  int checkpoint_steps = 200;  // on_checkpoint after this many steps (and after the last)
  int64_t memory_limit_bytes = int64_t{16} << 30;
};

// A supernet run between two steps: the bank and the loop. Saved whole by save_supernet, so a
// run resumed from it continues with the same bits as one never interrupted.
struct SupernetState {
  ParamBank bank;
  int64_t step = 0;  // steps done
  std::array<uint64_t, 4> order_rng{}, augment_rng{}, path_rng{}, init_rng{};
  std::array<uint64_t, 4> drop_rng{};  // drop-path and dropout masks
  std::vector<int> order;     // training images in the current epoch's order
  std::vector<float> losses;  // every step's training loss
};

// A fresh run: empty bank, random streams from options.seed, identity order.
SupernetState new_supernet_state(const DataSplits& data, const SupernetTrainOptions& options);

// Draws one path; its randomness must come from `rng` (saved with the state).
using PathSampler = std::function<Genotype(Rng& rng)>;

struct SupernetCallbacks {
  std::function<void(int64_t step, int64_t total_steps, double loss, const Genotype& path)> on_step;
  std::function<void(const SupernetState&)> on_checkpoint;
  std::function<bool()> should_stop;  // polled every step; true ends training (status failed)
};

struct SupernetResult {
  TrainStatus status = TrainStatus::ok;
  std::string reason;
  int64_t steps = 0;         // steps run by this call
  double seconds = 0;        // wall time of this call
  double build_seconds = 0;  // of which building paths (graph, primitives, weights in and out)
};

// Trains the bank for options.epochs epochs of data.train / batch steps each, continuing from
// state.step. One path per step: sampled, built (a new Executor; oneDNN's primitive cache makes
// repeated shapes cheap), its shared weights loaded, one SGD step, the weights written back.
SupernetResult train_supernet(SupernetState& state, const DataSplits& data,
                              const SupernetTrainOptions& options, const PathSampler& sample,
                              const SupernetCallbacks& callbacks = {});

// Checkpoint file: magic, a JSON header line (loop state, entry names and sizes, `meta`), then
// every entry's values and momentum as float32. Written atomically. Errors name the file.
void save_supernet(const std::filesystem::path& file, const SupernetState& state,
                   const std::string& meta);
SupernetState load_supernet(const std::filesystem::path& file, std::string* meta = nullptr);

struct PathScoreOptions {
  int batch = 64;
  int calibration_batches = 4;  // training images, in file order, no augmentation
  int images = 256;             // held-out images scored (the first of data.valid; 0 = all)
  Precision precision = Precision::fp32;
};

struct PathScore {
  double accuracy = 0;  // top-1 on the held-out images, 0..1
  int images = 0;
  int64_t untrained_values = 0;  // the path's values the bank never trained (fresh init)
  double seconds = 0;
};

// Replaces every batch norm's running statistics by the mean, over the first `batches` batches of
// data.train (file order, no augmentation), of each batch's statistics. The executor must have
// bn_momentum = 1 (a training pass then leaves its batch's statistics); parameters are unchanged.
void recalibrate_batch_norm(Executor& executor, const DataSplits& data, int batches);

// A candidate's score with inherited weights: batch-norm running statistics replaced by the mean
// over the calibration batches of each batch's statistics (nothing else changes), then accuracy
// on held-out images.
PathScore score_path(const ParamBank& bank, const Genotype& path, const DataSplits& data,
                     const NetworkSpec& spec, const PathScoreOptions& options);

}  // namespace cf

#include "trainer/train.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "trainer/cpus.h"

namespace cf {

const char* train_status_name(TrainStatus status) {
  switch (status) {
    case TrainStatus::ok:
      return "ok";
    case TrainStatus::diverged:
      return "diverged";
    case TrainStatus::memory_limit:
      return "memory_limit";
    case TrainStatus::failed:
      return "failed";
  }
  return "?";
}

double evaluate_accuracy(Executor& executor, const ImageSet& set, const std::vector<float>& mean,
                         const std::vector<float>& stddev, int limit) {
  const int count = limit > 0 ? std::min(limit, set.count) : set.count;
  const int batch = executor.batch();
  const int classes = executor.network().spec.classes;
  std::vector<int> indices(batch);
  std::vector<int32_t> labels(batch);
  int64_t correct = 0;
  for (int start = 0; start < count; start += batch) {
    const int real = std::min(batch, count - start);
    // A short last batch is padded with repeats; inference BN makes images independent.
    for (int k = 0; k < batch; ++k) indices[k] = start + (k < real ? k : 0);
    fill_batch(set, mean, stddev, indices.data(), batch, executor.input(), labels.data(), nullptr,
               nullptr);
    executor.forward(false);
    const float* logits = executor.logits();
    for (int k = 0; k < real; ++k) {
      const float* z = logits + int64_t{k} * classes;
      correct += std::max_element(z, z + classes) - z == labels[k];
    }
  }
  return count ? static_cast<double>(correct) / count : 0.0;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Why training cannot start (an empty string when it can): a split smaller than one batch, or
// a network over the memory limit (checked only when this call creates the executor).
std::string refuse_reason(const Network& network, const DataSplits& data,
                          const TrainOptions& options, int shard_count, bool have_executor,
                          TrainResult& result) {
  const int batch = options.batch;
  if (shard_count > 1 && batch % shard_count != 0) {
    result.status = TrainStatus::failed;
    return "batch " + std::to_string(batch) + " does not split evenly over " +
           std::to_string(shard_count) + " data-parallel ranks";
  }
  if (data.train.count < batch) {
    result.status = TrainStatus::failed;
    return "the training split has " + std::to_string(data.train.count) +
           " images, fewer than one batch of " + std::to_string(batch);
  }
  result.estimated_bytes = Executor::estimate_bytes(network, batch / shard_count);
  if (!have_executor && result.estimated_bytes > options.memory_limit_bytes) {
    result.status = TrainStatus::memory_limit;
    return "estimated memory " + std::to_string(result.estimated_bytes >> 20) +
           " MiB exceeds the limit of " + std::to_string(options.memory_limit_bytes >> 20) + " MiB";
  }
  return {};
}

// The training loop's state between steps: what an epoch checkpoint holds besides the weights.
struct LoopState {
  Rng order_rng, augment_rng, drop_rng;
  std::vector<int> order;  // the training images' current shuffle
  int64_t step = 0;
  int first_epoch = 1;
};

// Restores the loop and optimiser state from a checkpoint; returns why it does not fit, or an
// empty string.
std::string restore(const TrainCheckpoint& resume, Sgd& sgd, LoopState& loop, TrainResult& result) {
  if (resume.order.size() != loop.order.size() || resume.velocity.size() != sgd.velocity().size())
    return "the checkpoint does not match this network and dataset";
  for (size_t k = 0; k < resume.velocity.size(); ++k) {
    if (resume.velocity[k].size() != sgd.velocity()[k].size())
      return "the checkpoint's optimiser state does not match this network";
    sgd.velocity()[k] = resume.velocity[k];
  }
  loop.order = resume.order;
  loop.order_rng.set_state(resume.order_rng);
  loop.augment_rng.set_state(resume.augment_rng);
  loop.drop_rng.set_state(resume.drop_rng);
  loop.step = resume.step;
  loop.first_epoch = resume.epochs_done + 1;
  result.epochs = resume.epochs;
  result.losses = resume.losses;
  if (!result.epochs.empty()) result.valid_accuracy = result.epochs.back().valid_accuracy;
  return {};
}

TrainCheckpoint make_checkpoint(int epoch, const LoopState& loop, Sgd& sgd,
                                const TrainResult& result) {
  TrainCheckpoint c;
  c.epochs_done = epoch;
  c.step = loop.step;
  c.order_rng = loop.order_rng.state();
  c.augment_rng = loop.augment_rng.state();
  c.drop_rng = loop.drop_rng.state();
  c.order = loop.order;
  c.velocity = sgd.velocity();
  c.epochs = result.epochs;
  c.losses = result.losses;
  return c;
}

// What data-parallel shards exchange (see ShardGroup): flattened into one buffer per exchange.
struct ShardExchange {
  ShardGroup& group;
  std::vector<float> buffer;

  // Every parameter's gradient, averaged over the shards.
  void average_gradients(std::vector<Param>& params) {
    buffer.clear();
    for (const Param& p : params) {
      const float* g = static_cast<const float*>(p.diff.get_data_handle());
      buffer.insert(buffer.end(), g, g + p.diff.get_desc().get_size() / sizeof(float));
    }
    group.sum(buffer);
    const float scale = 1.0f / static_cast<float>(group.size());
    size_t offset = 0;
    for (Param& p : params) {
      float* g = static_cast<float*>(p.diff.get_data_handle());
      const size_t n = p.diff.get_desc().get_size() / sizeof(float);
      for (size_t i = 0; i < n; ++i) g[i] = buffer[offset + i] * scale;
      offset += n;
    }
  }

  // Batch-norm running statistics, averaged over the shards (written in place: the inference
  // primitives point into these vectors).
  void average_bn_stats(std::vector<BnStats>& stats) {
    buffer.clear();
    for (const BnStats& s : stats) {
      buffer.insert(buffer.end(), s.running_mean.begin(), s.running_mean.end());
      buffer.insert(buffer.end(), s.running_var.begin(), s.running_var.end());
    }
    group.sum(buffer);
    const float scale = 1.0f / static_cast<float>(group.size());
    size_t offset = 0;
    for (BnStats& s : stats)
      for (auto* v : {&s.running_mean, &s.running_var})
        for (float& x : *v) x = buffer[offset++] * scale;
  }

  // Sums a few numbers over the shards.
  std::vector<double> sum(std::vector<double> values) {
    group.sum(values);
    return values;
  }
};

// A fingerprint of the parameters' memory layouts: shards average raw gradient buffers, so their
// oneDNN builds must have chosen the same layouts (not so between different CPUs).
double layout_fingerprint(const std::vector<Param>& params) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](int64_t v) { h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull; };
  for (const Param& p : params) {
    const dnnl_memory_desc_t& d = p.value.get_desc().data;
    mix(d.ndims);
    for (int k = 0; k < d.ndims; ++k) mix(d.padded_dims[k]), mix(d.format_desc.blocking.strides[k]);
    mix(d.format_desc.blocking.inner_nblks);
    for (int k = 0; k < d.format_desc.blocking.inner_nblks; ++k)
      mix(d.format_desc.blocking.inner_blks[k]), mix(d.format_desc.blocking.inner_idxs[k]);
  }
  return static_cast<double>(h >> 24);  // 40 bits: K equal values sum exactly in a double
}

// One training run's fixed parts, and the steps of an epoch.
struct TrainLoop {
  const DataSplits& data;
  const TrainOptions& options;
  const TrainCallbacks& callbacks;
  Executor& ex;
  Sgd& sgd;
  LoopState& loop;
  TrainResult& result;
  LrSchedule schedule;
  Augmentation augment;
  int steps_per_epoch = 0;
  int64_t total_steps = 0;
  std::vector<int32_t> labels;
  std::optional<ShardExchange> shards;  // data-parallel training
  std::vector<float> staging;           // the whole batch, of which a shard takes its part
  std::vector<int32_t> staging_labels;

  int last_epoch() const {
    return options.stop_after_epochs > 0 ? std::min(options.stop_after_epochs, options.epochs)
                                         : options.epochs;
  }

  // This process's images of batch s into the executor: with shards, the whole batch is drawn
  // (so that every shard's augmentation stream stays the same) and its part copied.
  void fill(int s) {
    const int batch = options.batch;
    const int* indices = loop.order.data() + int64_t{s} * batch;
    const Augmentation* aug = options.augment ? &augment : nullptr;
    if (!shards) {
      fill_batch(data.train, data.mean, data.stddev, indices, batch, ex.input(), labels.data(), aug,
                 &loop.augment_rng);
      return;
    }
    fill_batch(data.train, data.mean, data.stddev, indices, batch, staging.data(),
               staging_labels.data(), aug, &loop.augment_rng);
    const int local = ex.batch();
    const int64_t image = data.train.shape.numel();
    const int64_t first = int64_t{local} * shards->group.rank();
    std::copy_n(staging.data() + first * image, local * image, ex.input());
    std::copy_n(staging_labels.data() + first, local, labels.data());
  }

  // Whether any shard was asked to stop (each polls its own should_stop).
  bool stop_requested() {
    bool stop = callbacks.should_stop && callbacks.should_stop();
    if (shards) stop = shards->sum({stop ? 1.0 : 0.0})[0] > 0;
    return stop;
  }

  // Runs one step: returns false when training ends here (status and reason set).
  bool step(int epoch, int s, EpochStats& stats, double& loss_sum, int64_t& correct_sum) {
    const int batch = options.batch;
    if (stop_requested()) {
      result.status = TrainStatus::failed;
      result.reason = "stopped";
      return false;
    }
    fill(s);
    ForwardState fs;
    fs.drop_path_prob = scheduled_drop_path_prob(options.drop_path, loop.step, total_steps);
    fs.rng = &loop.drop_rng;
    Rng shard_drop_rng;
    if (shards) {
      // A stream of this shard's own for this step's masks; the shared one moves on by one draw,
      // so that every shard (and a checkpoint of rank 0) holds the same state.
      shard_drop_rng = loop.drop_rng;
      for (int r = 0; r <= shards->group.rank(); ++r) shard_drop_rng = shard_drop_rng.split();
      loop.drop_rng.next();
      fs.rng = &shard_drop_rng;
    }
    ex.forward(true, fs);
    int correct = 0;
    double loss = ex.loss(labels.data(), options.label_smoothing, options.aux_weight, &correct);
    if (shards) {
      const auto total = shards->sum({loss, static_cast<double>(correct)});
      loss = total[0] / shards->group.size();
      correct = static_cast<int>(total[1]);
    }
    result.losses.push_back(static_cast<float>(loss));
    if (!std::isfinite(loss)) {
      result.status = TrainStatus::diverged;
      result.reason = std::string("training loss became ") +
                      (std::isnan(loss) ? "NaN" : "infinite") + " at epoch " +
                      std::to_string(epoch) + ", step " + std::to_string(s + 1);
      return false;
    }
    ex.backward();
    if (shards) shards->average_gradients(ex.params());
    stats.lr = schedule.at(loop.step);
    sgd.step(stats.lr);
    loss_sum += loss;
    correct_sum += correct;
    if (callbacks.on_step)
      callbacks.on_step(epoch, s + 1, steps_per_epoch, loss_sum / (s + 1),
                        static_cast<double>(correct_sum) / ((s + 1) * int64_t{batch}));
    return true;
  }

  // Runs one epoch (shuffle, steps, validation, callbacks): false when training ends early.
  bool epoch(int epoch) {
    const int batch = options.batch;
    const auto t_epoch = Clock::now();
    std::vector<int>& order = loop.order;
    loop.order_rng.shuffle(order);
    if (callbacks.on_shuffle) callbacks.on_shuffle(epoch, order);
    double loss_sum = 0;
    int64_t correct_sum = 0;
    EpochStats stats;
    stats.epoch = epoch;
    for (int s = 0; s < steps_per_epoch; ++s, ++loop.step)
      if (!step(epoch, s, stats, loss_sum, correct_sum)) return false;
    stats.seconds = seconds_since(t_epoch);
    stats.images_per_second = steps_per_epoch * double{1.0} * batch / stats.seconds;
    stats.train_loss = loss_sum / steps_per_epoch;
    stats.train_accuracy = static_cast<double>(correct_sum) / (int64_t{steps_per_epoch} * batch);
    if (shards) shards->average_bn_stats(ex.bn_stats());
    if (data.valid.count > 0 && (options.evaluate_every_epoch || epoch == last_epoch())) {
      stats.valid_accuracy = evaluate_accuracy(ex, data.valid, data.mean, data.stddev);
      result.valid_accuracy = stats.valid_accuracy;
    }
    result.epochs.push_back(stats);
    if (callbacks.on_epoch) callbacks.on_epoch(stats);
    if (callbacks.on_checkpoint) callbacks.on_checkpoint(make_checkpoint(epoch, loop, sgd, result));
    return true;
  }
};

// Prepares data-parallel training: the staging batch, and a check that every shard lowered the
// network to the same parameter layouts. Returns why the shards cannot train together, or "".
std::string join_shards(TrainLoop& run, ShardGroup& group) {
  run.shards.emplace(ShardExchange{group, {}});
  run.staging.resize(static_cast<size_t>(run.options.batch) * run.data.train.shape.numel());
  run.staging_labels.resize(run.options.batch);
  const double mine = layout_fingerprint(run.ex.params());
  if (run.shards->sum({mine})[0] != mine * group.size())
    return "the data-parallel ranks chose different memory layouts for the weights (different "
           "CPUs or oneDNN builds); run all ranks on one kind of CPU";
  return {};
}

}  // namespace

TrainResult train_network(const Network& network, const DataSplits& data,
                          const TrainOptions& options, const TrainCallbacks& callbacks,
                          Executor* executor, bool init_weights, const TrainCheckpoint* resume) {
  const auto t_start = Clock::now();
  TrainResult result;
  omp_set_num_threads(std::max(1, options.threads));
  const ThreadPinning pinning(std::max(1, options.threads));  // trainer/cpus.h: why
  const int batch = options.batch;
  const int shard_count = callbacks.shards ? callbacks.shards->size() : 1;
  result.reason = refuse_reason(network, data, options, shard_count, executor != nullptr, result);
  if (!result.reason.empty()) return result;
  std::unique_ptr<Executor> owned;
  if (!executor) {
    ExecutorOptions eo;
    eo.batch = batch / shard_count;
    eo.drop_path = options.drop_path > 0.0f;
    eo.precision = usable_precision(options.precision);
    owned = std::make_unique<Executor>(network, eo);
    executor = owned.get();
  }
  Executor& ex = *executor;
  if (ex.batch() * shard_count != batch) {
    result.status = TrainStatus::failed;
    result.reason = "the executor's batch is " + std::to_string(ex.batch()) + ", not " +
                    std::to_string(batch) + " / " + std::to_string(shard_count) + " ranks";
    return result;
  }
  // Independent streams so that, e.g., turning augmentation off does not change the init.
  Rng root(options.seed);
  Rng init_rng = root.split();
  LoopState loop{root.split(), root.split(), root.split(), {}, 0, 1};
  if (init_weights && !resume) ex.init_params(init_rng, options.init);
  Sgd sgd(ex.params(), options.sgd);
  TrainLoop run{data, options, callbacks, ex, sgd, loop, result, {}, {}, 0, 0, {}, {}, {}, {}};
  run.steps_per_epoch = data.train.count / batch;  // the remainder waits for the next epoch
  run.total_steps = int64_t{run.steps_per_epoch} * options.epochs;
  run.schedule.base_lr = options.lr;
  run.schedule.min_lr = options.min_lr;
  run.schedule.total_steps = run.total_steps;
  run.schedule.warmup_steps = static_cast<int64_t>(options.warmup_epochs * run.steps_per_epoch);
  run.augment = default_augmentation(data);
  run.augment.cutout = options.cutout;
  run.labels.resize(ex.batch());
  if (callbacks.shards) {
    result.reason = join_shards(run, *callbacks.shards);
    if (!result.reason.empty()) {
      result.status = TrainStatus::failed;
      return result;
    }
  }
  loop.order.resize(data.train.count);
  std::iota(loop.order.begin(), loop.order.end(), 0);
  if (resume) {
    result.reason = restore(*resume, sgd, loop, result);
    if (!result.reason.empty()) {
      result.status = TrainStatus::failed;
      return result;
    }
  }
  if (callbacks.on_start) callbacks.on_start();
  for (int epoch = loop.first_epoch; epoch <= run.last_epoch(); ++epoch) {
    if (!run.epoch(epoch)) {
      result.seconds = seconds_since(t_start);
      return result;
    }
  }
  if (options.evaluate_test && data.test.count > 0)
    result.test_accuracy = evaluate_accuracy(ex, data.test, data.mean, data.stddev);
  result.seconds = seconds_since(t_start);
  return result;
}

}  // namespace cf

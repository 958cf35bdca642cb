#include "trainer/train.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <numeric>

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
                         const std::vector<float>& stddev) {
  const int batch = executor.batch();
  const int classes = executor.network().spec.classes;
  std::vector<int> indices(batch);
  std::vector<int32_t> labels(batch);
  int64_t correct = 0;
  for (int start = 0; start < set.count; start += batch) {
    const int real = std::min(batch, set.count - start);
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
  return set.count ? static_cast<double>(correct) / set.count : 0.0;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Why training cannot start (an empty string when it can): a split smaller than one batch, or
// a network over the memory limit (checked only when this call creates the executor).
std::string refuse_reason(const Network& network, const DataSplits& data,
                          const TrainOptions& options, bool have_executor, TrainResult& result) {
  const int batch = options.batch;
  if (data.train.count < batch) {
    result.status = TrainStatus::failed;
    return "the training split has " + std::to_string(data.train.count) +
           " images, fewer than one batch of " + std::to_string(batch);
  }
  result.estimated_bytes = Executor::estimate_bytes(network, batch);
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

  // Runs one step: returns false when training ends here (status and reason set).
  bool step(int epoch, int s, EpochStats& stats, double& loss_sum, int64_t& correct_sum) {
    const int batch = options.batch;
    if (callbacks.should_stop && callbacks.should_stop()) {
      result.status = TrainStatus::failed;
      result.reason = "stopped";
      return false;
    }
    fill_batch(data.train, data.mean, data.stddev, loop.order.data() + int64_t{s} * batch, batch,
               ex.input(), labels.data(), options.augment ? &augment : nullptr, &loop.augment_rng);
    ForwardState fs;
    fs.drop_path_prob = options.drop_path * static_cast<float>(loop.step) /
                        static_cast<float>(std::max<int64_t>(1, total_steps));
    fs.rng = &loop.drop_rng;
    ex.forward(true, fs);
    int correct = 0;
    const double loss =
        ex.loss(labels.data(), options.label_smoothing, options.aux_weight, &correct);
    result.losses.push_back(static_cast<float>(loss));
    if (!std::isfinite(loss)) {
      result.status = TrainStatus::diverged;
      result.reason = std::string("training loss became ") +
                      (std::isnan(loss) ? "NaN" : "infinite") + " at epoch " +
                      std::to_string(epoch) + ", step " + std::to_string(s + 1);
      return false;
    }
    ex.backward();
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
    for (int k = data.train.count - 1; k > 0; --k)
      std::swap(order[k], order[loop.order_rng.uniform_int(k + 1)]);
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
    if (data.valid.count > 0 && (options.evaluate_every_epoch || epoch == options.epochs)) {
      stats.valid_accuracy = evaluate_accuracy(ex, data.valid, data.mean, data.stddev);
      result.valid_accuracy = stats.valid_accuracy;
    }
    result.epochs.push_back(stats);
    if (callbacks.on_epoch) callbacks.on_epoch(stats);
    if (callbacks.on_checkpoint) callbacks.on_checkpoint(make_checkpoint(epoch, loop, sgd, result));
    return true;
  }
};

}  // namespace

TrainResult train_network(const Network& network, const DataSplits& data,
                          const TrainOptions& options, const TrainCallbacks& callbacks,
                          Executor* executor, bool init_weights, const TrainCheckpoint* resume) {
  const auto t_start = Clock::now();
  TrainResult result;
  omp_set_num_threads(std::max(1, options.threads));
  const ThreadPinning pinning(std::max(1, options.threads));  // trainer/cpus.h: why
  const int batch = options.batch;
  result.reason = refuse_reason(network, data, options, executor != nullptr, result);
  if (!result.reason.empty()) return result;
  std::unique_ptr<Executor> owned;
  if (!executor) {
    ExecutorOptions eo;
    eo.batch = batch;
    eo.drop_path = options.drop_path > 0.0f;
    owned = std::make_unique<Executor>(network, eo);
    executor = owned.get();
  }
  Executor& ex = *executor;
  // Independent streams so that, e.g., turning augmentation off does not change the init.
  Rng root(options.seed);
  Rng init_rng = root.split();
  LoopState loop{root.split(), root.split(), root.split(), {}, 0, 1};
  if (init_weights && !resume) ex.init_params(init_rng, options.init);
  Sgd sgd(ex.params(), options.sgd);
  TrainLoop run{data, options, callbacks, ex, sgd, loop, result, {}, {}, 0, 0, {}};
  run.steps_per_epoch = data.train.count / batch;  // the remainder waits for the next epoch
  run.total_steps = int64_t{run.steps_per_epoch} * options.epochs;
  run.schedule.base_lr = options.lr;
  run.schedule.min_lr = options.min_lr;
  run.schedule.total_steps = run.total_steps;
  run.schedule.warmup_steps = static_cast<int64_t>(options.warmup_epochs * run.steps_per_epoch);
  run.augment = default_augmentation(data);
  run.augment.cutout = options.cutout;
  run.labels.resize(batch);
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
  for (int epoch = loop.first_epoch; epoch <= options.epochs; ++epoch) {
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

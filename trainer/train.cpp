#include "trainer/train.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <numeric>

namespace cf {

const char* train_status_name(TrainStatus status) {
  switch (status) {
    case TrainStatus::ok: return "ok";
    case TrainStatus::diverged: return "diverged";
    case TrainStatus::memory_limit: return "memory_limit";
    case TrainStatus::failed: return "failed";
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

TrainResult train_network(const Network& network, const DataSplits& data,
                          const TrainOptions& options, const TrainCallbacks& callbacks,
                          Executor* executor, bool init_weights, const TrainCheckpoint* resume) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  TrainResult result;
  omp_set_num_threads(std::max(1, options.threads));
  const int batch = options.batch;
  const ImageSet& train = data.train;
  if (train.count < batch) {
    result.status = TrainStatus::failed;
    result.reason = "the training split has " + std::to_string(train.count) +
                    " images, fewer than one batch of " + std::to_string(batch);
    return result;
  }
  result.estimated_bytes = Executor::estimate_bytes(network, batch);
  if (!executor && result.estimated_bytes > options.memory_limit_bytes) {
    result.status = TrainStatus::memory_limit;
    result.reason = "estimated memory " + std::to_string(result.estimated_bytes >> 20) +
                    " MiB exceeds the limit of " +
                    std::to_string(options.memory_limit_bytes >> 20) + " MiB";
    return result;
  }
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
  Rng init_rng = root.split(), order_rng = root.split(), augment_rng = root.split(),
      drop_rng = root.split();
  if (init_weights && !resume) ex.init_params(init_rng);
  Sgd sgd(ex.params(), options.sgd);
  const int steps_per_epoch = train.count / batch;  // the remainder waits for the next epoch
  const int64_t total_steps = int64_t{steps_per_epoch} * options.epochs;
  LrSchedule schedule;
  schedule.base_lr = options.lr;
  schedule.min_lr = options.min_lr;
  schedule.total_steps = total_steps;
  schedule.warmup_steps = static_cast<int64_t>(options.warmup_epochs * steps_per_epoch);
  Augmentation augment = default_augmentation(data);
  augment.cutout = options.cutout;
  std::vector<int> order(train.count);
  std::iota(order.begin(), order.end(), 0);
  std::vector<int32_t> labels(batch);
  int64_t step = 0;
  int first_epoch = 1;
  if (resume) {
    if (resume->order.size() != order.size() || resume->velocity.size() != sgd.velocity().size()) {
      result.status = TrainStatus::failed;
      result.reason = "the checkpoint does not match this network and dataset";
      return result;
    }
    for (size_t k = 0; k < resume->velocity.size(); ++k) {
      if (resume->velocity[k].size() != sgd.velocity()[k].size()) {
        result.status = TrainStatus::failed;
        result.reason = "the checkpoint's optimiser state does not match this network";
        return result;
      }
      sgd.velocity()[k] = resume->velocity[k];
    }
    order = resume->order;
    order_rng.set_state(resume->order_rng);
    augment_rng.set_state(resume->augment_rng);
    drop_rng.set_state(resume->drop_rng);
    step = resume->step;
    first_epoch = resume->epochs_done + 1;
    result.epochs = resume->epochs;
    result.losses = resume->losses;
    if (!result.epochs.empty()) result.valid_accuracy = result.epochs.back().valid_accuracy;
  }
  for (int epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    const auto t_epoch = clock::now();
    for (int k = train.count - 1; k > 0; --k) std::swap(order[k], order[order_rng.uniform_int(k + 1)]);
    double loss_sum = 0;
    int64_t correct_sum = 0;
    EpochStats stats;
    stats.epoch = epoch;
    for (int s = 0; s < steps_per_epoch; ++s, ++step) {
      if (callbacks.should_stop && callbacks.should_stop()) {
        result.status = TrainStatus::failed;
        result.reason = "stopped";
        result.seconds = std::chrono::duration<double>(clock::now() - t_start).count();
        return result;
      }
      fill_batch(train, data.mean, data.stddev, order.data() + int64_t{s} * batch, batch,
                 ex.input(), labels.data(), options.augment ? &augment : nullptr, &augment_rng);
      ForwardState fs;
      fs.drop_path_prob =
          options.drop_path * static_cast<float>(step) / static_cast<float>(std::max<int64_t>(1, total_steps));
      fs.rng = &drop_rng;
      ex.forward(true, fs);
      int correct = 0;
      const double loss = ex.loss(labels.data(), options.label_smoothing, options.aux_weight, &correct);
      result.losses.push_back(static_cast<float>(loss));
      if (!std::isfinite(loss)) {
        result.status = TrainStatus::diverged;
        result.reason = std::string("training loss became ") + (std::isnan(loss) ? "NaN" : "infinite") +
                        " at epoch " + std::to_string(epoch) + ", step " + std::to_string(s + 1);
        result.seconds = std::chrono::duration<double>(clock::now() - t_start).count();
        return result;
      }
      ex.backward();
      stats.lr = schedule.at(step);
      sgd.step(stats.lr);
      loss_sum += loss;
      correct_sum += correct;
      if (callbacks.on_step)
        callbacks.on_step(epoch, s + 1, steps_per_epoch, loss_sum / (s + 1),
                          static_cast<double>(correct_sum) / ((s + 1) * int64_t{batch}));
    }
    stats.seconds = std::chrono::duration<double>(clock::now() - t_epoch).count();
    stats.images_per_second = steps_per_epoch * double{1.0} * batch / stats.seconds;
    stats.train_loss = loss_sum / steps_per_epoch;
    stats.train_accuracy = static_cast<double>(correct_sum) / (int64_t{steps_per_epoch} * batch);
    if (data.valid.count > 0 && (options.evaluate_every_epoch || epoch == options.epochs)) {
      stats.valid_accuracy = evaluate_accuracy(ex, data.valid, data.mean, data.stddev);
      result.valid_accuracy = stats.valid_accuracy;
    }
    result.epochs.push_back(stats);
    if (callbacks.on_epoch) callbacks.on_epoch(stats);
    if (callbacks.on_checkpoint) {
      TrainCheckpoint c;
      c.epochs_done = epoch;
      c.step = step;
      c.order_rng = order_rng.state();
      c.augment_rng = augment_rng.state();
      c.drop_rng = drop_rng.state();
      c.order = order;
      c.velocity = sgd.velocity();
      c.epochs = result.epochs;
      c.losses = result.losses;
      callbacks.on_checkpoint(c);
    }
  }
  if (options.evaluate_test && data.test.count > 0)
    result.test_accuracy = evaluate_accuracy(ex, data.test, data.mean, data.stddev);
  result.seconds = std::chrono::duration<double>(clock::now() - t_start).count();
  return result;
}

}  // namespace cf

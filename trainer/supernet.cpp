#include "trainer/supernet.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "space/file_io.h"
#include "space/json_text.h"
#include "trainer/cpus.h"

namespace cf {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Every path's executor: one batch; drop-path layers compiled only when training uses them.
ExecutorOptions path_executor_options(int batch, Precision precision, bool drop_path = false) {
  ExecutorOptions o;
  o.batch = batch;
  o.drop_path = drop_path;
  o.precision = precision;
  return o;
}

NetworkSpec path_spec(NetworkSpec spec, const DataSplits& data) {
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  return spec;
}

}  // namespace

std::string ParamBank::key(const Param& p) {
  std::string k = p.name + "@";
  const auto dims = p.plain.dims();
  for (size_t i = 0; i < dims.size(); ++i) k += (i ? "x" : "") + std::to_string(dims[i]);
  return k;
}

int64_t ParamBank::load_into(Executor& executor, const std::function<ParamValues()>& fresh) {
  int64_t added = 0;
  ParamValues values;
  bool drawn = false;
  for (Param& p : executor.params()) {
    const std::string k = key(p);
    auto it = entries_.find(k);
    if (it == entries_.end()) {
      if (!drawn) values = fresh(), drawn = true;
      SharedParam entry;
      entry.value = values.at(p.name);
      entry.velocity.assign(entry.value.size(), 0.0f);
      entry.decay = p.decay;
      added += static_cast<int64_t>(entry.value.size());
      it = entries_.emplace(k, std::move(entry)).first;
    }
    executor.write_param(p, it->second.value);
  }
  return added;
}

int64_t ParamBank::missing_values(const Executor& executor) const {
  int64_t missing = 0;
  for (const Param& p : executor.params())
    if (!entries_.count(key(p))) missing += p.numel;
  return missing;
}

double ParamBank::update(const Executor& executor, float lr, const SgdOptions& sgd) {
  std::vector<std::vector<float>> grads;
  grads.reserve(executor.params().size());
  // Squared norm in parameter order, plain layout, double accumulators: deterministic.
  double sq = 0.0;
  for (const Param& p : executor.params()) {
    grads.push_back(executor.read_grad(p));
    double s = 0.0;
    for (float g : grads.back()) s += double{g} * g;
    sq += s;
  }
  const double norm = std::sqrt(sq);
  const float scale = clip_scale(norm, sgd);
  for (size_t k = 0; k < grads.size(); ++k) {
    const Param& p = executor.params()[k];
    SharedParam& entry = entries_.at(key(p));
    const float wd = entry.decay || sgd.decay_all ? sgd.weight_decay : 0.0f;
    sgd_update(entry.value.data(), grads[k].data(), entry.velocity.data(), entry.value.size(), lr,
               wd, scale, sgd);
    ++entry.steps;
  }
  return norm;
}

int64_t ParamBank::values() const {
  int64_t n = 0;
  for (const auto& [key, entry] : entries_) n += static_cast<int64_t>(entry.value.size());
  return n;
}

SupernetState new_supernet_state(const DataSplits& data, const SupernetTrainOptions& options) {
  SupernetState state;
  // Independent streams, as in train_network: turning augmentation off changes no path.
  Rng root(options.seed);
  state.init_rng = root.split().state();
  state.order_rng = root.split().state();
  state.augment_rng = root.split().state();
  state.path_rng = root.split().state();
  state.drop_rng = root.split().state();
  state.order.resize(data.train.count);
  std::iota(state.order.begin(), state.order.end(), 0);
  return state;
}

SupernetResult train_supernet(SupernetState& state, const DataSplits& data,
                              const SupernetTrainOptions& options, const PathSampler& sample,
                              const SupernetCallbacks& callbacks) {
  SupernetResult result;
  const auto t_start = Clock::now();
  const int batch = options.batch;
  const int64_t steps_per_epoch = data.train.count / batch;
  if (steps_per_epoch < 1 || static_cast<int64_t>(state.order.size()) != data.train.count) {
    result.status = TrainStatus::failed;
    result.reason = steps_per_epoch < 1
                        ? "the training split (" + std::to_string(data.train.count) +
                              " images) is smaller than one batch of " + std::to_string(batch)
                        : "the supernet state was saved for another training split";
    return result;
  }
  const NetworkSpec spec = path_spec(options.network, data);
  const int64_t total_steps = steps_per_epoch * options.epochs;
  LrSchedule schedule{options.lr, options.min_lr, total_steps,
                      static_cast<int64_t>(options.warmup_epochs * steps_per_epoch)};
  Augmentation augment = default_augmentation(data);
  augment.cutout = options.cutout;
  Rng order_rng, augment_rng, path_rng, init_rng, drop_rng;
  order_rng.set_state(state.order_rng);
  augment_rng.set_state(state.augment_rng);
  path_rng.set_state(state.path_rng);
  init_rng.set_state(state.init_rng);
  drop_rng.set_state(state.drop_rng);
  auto store_streams = [&] {
    state.order_rng = order_rng.state();
    state.augment_rng = augment_rng.state();
    state.path_rng = path_rng.state();
    state.init_rng = init_rng.state();
    state.drop_rng = drop_rng.state();
  };
  omp_set_num_threads(std::max(1, options.threads));
  const ThreadPinning pinning(std::max(1, options.threads));  // trainer/cpus.h: why
  std::vector<int32_t> labels(batch);
  const ExecutorOptions exec_options =
      path_executor_options(batch, options.precision, options.drop_path > 0.0f);
  int64_t since_checkpoint = 0;
  while (state.step < total_steps) {
    if (callbacks.should_stop && callbacks.should_stop()) {
      result.status = TrainStatus::failed;
      result.reason = "stopped";
      break;
    }
    const int64_t s = state.step % steps_per_epoch;
    if (s == 0) order_rng.shuffle(state.order);  // a new epoch
    const Genotype path = sample(path_rng);
    const auto t_build = Clock::now();
    const Network net = build_network(path, spec);
    if (Executor::estimate_bytes(net, batch) > options.memory_limit_bytes) {
      result.status = TrainStatus::memory_limit;
      result.reason = "path " + path.name + " needs more than the memory limit";
      break;
    }
    Executor ex(net, exec_options);
    // A path's fresh values come from its own stream, drawn only when it brings new entries.
    Rng path_init = init_rng.split();
    state.bank.load_into(ex, [&] { return init_param_values(net, path_init, options.init); });
    result.build_seconds += seconds_since(t_build);

    fill_batch(data.train, data.mean, data.stddev, state.order.data() + s * batch, batch,
               ex.input(), labels.data(), options.augment ? &augment : nullptr, &augment_rng);
    ForwardState fs;
    fs.drop_path_prob = scheduled_drop_path_prob(options.drop_path, state.step, total_steps);
    fs.rng = &drop_rng;
    ex.forward(true, fs);
    const double loss =
        ex.loss(labels.data(), options.label_smoothing, options.aux_weight, nullptr);
    if (!std::isfinite(loss)) {
      result.status = TrainStatus::diverged;
      result.reason = "training loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                      " at step " + std::to_string(state.step + 1) + " (path " + path.name + ")";
      break;
    }
    ex.backward();
    const auto t_update = Clock::now();
    state.bank.update(ex, schedule.at(state.step), options.sgd);
    result.build_seconds += seconds_since(t_update);
    state.losses.push_back(static_cast<float>(loss));
    ++state.step;
    ++result.steps;
    store_streams();
    if (callbacks.on_step) callbacks.on_step(state.step, total_steps, loss, path);
    if (++since_checkpoint >= options.checkpoint_steps || state.step == total_steps) {
      since_checkpoint = 0;
      if (callbacks.on_checkpoint) callbacks.on_checkpoint(state);
    }
  }
  store_streams();
  result.seconds = seconds_since(t_start);
  return result;
}

namespace {

constexpr char kMagic[] = "CFSUPERNET1\n";
constexpr int64_t kMaxSupernetBytes = int64_t{16} << 30;

void append_floats(std::string& out, const std::vector<float>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

}  // namespace

void save_supernet(const std::filesystem::path& file, const SupernetState& state,
                   const std::string& meta) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [key, e] : state.bank.entries())
    entries.push_back({key, e.value.size(), e.decay, e.steps});
  const nlohmann::json header = {{"step", state.step},
                                 {"order_rng", state.order_rng},
                                 {"augment_rng", state.augment_rng},
                                 {"path_rng", state.path_rng},
                                 {"init_rng", state.init_rng},
                                 {"drop_rng", state.drop_rng},
                                 {"order", state.order},
                                 {"losses", state.losses},
                                 {"entries", entries},
                                 {"meta", meta}};
  std::string out = kMagic;
  out += header.dump();
  out += '\n';
  for (const auto& [key, e] : state.bank.entries()) {
    append_floats(out, e.value);
    append_floats(out, e.velocity);
  }
  write_file_atomic(file, out);
}

SupernetState load_supernet(const std::filesystem::path& file, std::string* meta) {
  const std::string where = file.string();
  const std::string bytes = read_file_capped(file, kMaxSupernetBytes, "supernet checkpoint");
  auto damaged = [&](const std::string& what) {
    return std::runtime_error(where + ": " + what + " (a damaged supernet checkpoint)");
  };
  const size_t magic = sizeof(kMagic) - 1;
  if (bytes.compare(0, magic, kMagic) != 0)
    throw std::runtime_error(where + ": not a cellforge supernet checkpoint");
  const size_t eol = bytes.find('\n', magic);
  if (eol == std::string::npos) throw damaged("no header line");
  SupernetState state;
  try {
    const nlohmann::json h = parse_json_text(bytes.substr(magic, eol - magic), where);
    state.step = h.at("step");
    state.order_rng = h.at("order_rng");
    state.augment_rng = h.at("augment_rng");
    state.path_rng = h.at("path_rng");
    state.init_rng = h.at("init_rng");
    // Checkpoints from before drop path and dropout were trained have no mask stream; their
    // runs drew no masks, so any fixed stream continues them deterministically.
    state.drop_rng = h.contains("drop_rng") ? h.at("drop_rng").get<std::array<uint64_t, 4>>()
                                            : Rng(static_cast<uint64_t>(state.step)).state();
    state.order = h.at("order").get<std::vector<int>>();
    state.losses = h.at("losses").get<std::vector<float>>();
    if (meta) *meta = h.at("meta").get<std::string>();
    size_t offset = eol + 1;
    for (const auto& row : h.at("entries")) {
      SharedParam e;
      const std::string key = row.at(0);
      const size_t n = row.at(1);
      e.decay = row.at(2);
      e.steps = row.at(3);
      if (bytes.size() - offset < 2 * n * sizeof(float))
        throw damaged("values of " + key + " cut short");
      e.value.resize(n);
      e.velocity.resize(n);
      std::memcpy(e.value.data(), bytes.data() + offset, n * sizeof(float));
      offset += n * sizeof(float);
      std::memcpy(e.velocity.data(), bytes.data() + offset, n * sizeof(float));
      offset += n * sizeof(float);
      state.bank.entries().emplace(key, std::move(e));
    }
    if (offset != bytes.size()) throw damaged("trailing bytes after the last entry");
  } catch (const JsonTextError& e) {
    throw damaged(e.what());
  } catch (const nlohmann::json::exception& e) {
    throw damaged(std::string("header: ") + e.what());
  }
  return state;
}

void recalibrate_batch_norm(Executor& executor, const DataSplits& data, int batches) {
  if (executor.bn_stats().empty()) return;
  const int batch = executor.batch();
  batches = std::min(batches, data.train.count / batch);
  std::vector<int32_t> labels(batch);
  std::vector<int> indices(batch);
  std::vector<std::vector<double>> mean_sum, var_sum;
  for (const BnStats& s : executor.bn_stats()) {
    mean_sum.emplace_back(s.running_mean.size(), 0.0);
    var_sum.emplace_back(s.running_var.size(), 0.0);
  }
  for (int b = 0; b < batches; ++b) {
    std::iota(indices.begin(), indices.end(), b * batch);
    fill_batch(data.train, data.mean, data.stddev, indices.data(), batch, executor.input(),
               labels.data(), nullptr, nullptr);
    executor.forward(true);
    const auto& stats = std::as_const(executor).bn_stats();
    for (size_t k = 0; k < stats.size(); ++k)
      for (size_t c = 0; c < mean_sum[k].size(); ++c) {
        mean_sum[k][c] += stats[k].running_mean[c];
        var_sum[k][c] += stats[k].running_var[c];
      }
  }
  if (batches == 0) return;
  auto& stats = executor.bn_stats();
  for (size_t k = 0; k < stats.size(); ++k)
    for (size_t c = 0; c < mean_sum[k].size(); ++c) {
      stats[k].running_mean[c] = static_cast<float>(mean_sum[k][c] / batches);
      stats[k].running_var[c] = static_cast<float>(var_sum[k][c] / batches);
    }
}

PathScore score_path(const ParamBank& bank, const Genotype& path, const DataSplits& data,
                     const NetworkSpec& network, const PathScoreOptions& options) {
  const auto t_start = Clock::now();
  PathScore score;
  const Network net = build_network(path, path_spec(network, data));
  ExecutorOptions eo = path_executor_options(options.batch, options.precision);
  eo.bn_momentum = 1.0f;  // a training pass leaves exactly its batch's statistics
  eo.fold_batch_norm = true;
  Executor ex(net, eo);
  // The bank is not changed: a copy supplies what it lacks, drawn from a fixed stream.
  ParamBank view;
  for (const Param& p : ex.params()) {
    auto it = bank.entries().find(ParamBank::key(p));
    if (it != bank.entries().end()) view.entries().emplace(it->first, it->second);
  }
  score.untrained_values = view.missing_values(ex);
  Rng fresh_rng(0);
  view.load_into(ex, [&] { return init_param_values(net, fresh_rng, InitScheme::torch_default); });

  recalibrate_batch_norm(ex, data, options.calibration_batches);
  const int images =
      options.images > 0 ? std::min(options.images, data.valid.count) : data.valid.count;
  score.accuracy = evaluate_accuracy(ex, data.valid, data.mean, data.stddev, images);
  score.images = images;
  score.seconds = seconds_since(t_start);
  return score;
}

}  // namespace cf

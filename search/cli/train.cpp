// cellforge train: train a stacked network on an image dataset.
#include "trainer/train.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "results/store.h"
#include "search/cli/options.h"
#include "search/config.h"
#include "search/mpi_train.h"
#include "space/file_io.h"
#include "trainer/checkpoint.h"
#include "trainer/cpus.h"
#include "trainer/weights.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

// A progress bar on a terminal, plain lines otherwise.
class Progress {
 public:
  explicit Progress(int epochs) : epochs_(epochs), tty_(isatty(fileno(stdout))) {}
  void step(int epoch, int step, int steps, double loss, double acc) {
    if (!tty_) return;
    const int width = 30;
    const int filled = width * step / steps;
    std::printf("\repoch %d/%d [%s%s] %3d%% loss %.4f acc %5.2f%%", epoch, epochs_,
                std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(),
                100 * step / steps, loss, 100 * acc);
    std::fflush(stdout);
  }
  void epoch(const EpochStats& s) {
    if (tty_) std::printf("\r%*s\r", 80, "");
    std::printf("epoch %d/%d  loss %.4f  train acc %.2f%%", s.epoch, epochs_, s.train_loss,
                100 * s.train_accuracy);
    if (s.valid_accuracy >= 0) std::printf("  valid acc %.2f%%", 100 * s.valid_accuracy);
    std::printf("  %.0f images/s  %.1f s  lr %.4g\n", s.images_per_second, s.seconds, s.lr);
    std::fflush(stdout);
  }

 private:
  int epochs_;
  bool tty_;
};

// Every flag's value (bound to the options), then checked against the training schema.
struct TrainFlags {
  std::string arch, data_dir = "/usr/share/datasets/fashion-mnist", format = "auto", save, load;
  StackingOptions stacking;
  TrainOptions opts;
  int train_images = 0, valid_images = 5000;
  double memory_limit_gib = 16;
  bool test = false, no_augment = false, json = false, nesterov_off = false, resume = false,
       help_config = false;
  std::string from, config_file, out_dir, flip = "auto", threads = "auto", init = "uniform_fan_in",
                                          decay_scope = "weights", save_init, save_trace;
  std::string channels = "auto", image_size = "auto", resize = "resize", crop_padding = "auto";
  std::string precision = "fp32";
  bool skip_bad_images = false;
  std::vector<std::string> sets;
  int rank = 1;
};

// What train does, resolved: the flags plus the training config they (or --config) give.
struct TrainRequest {
  TrainFlags flags;
  TrainConfig config;
  std::string usage;
  std::optional<Architecture> arch;  // --arch, resolved (before the flags' stacking defaults)
};

void add_train_options(po::options_description& options, TrainFlags& f) {
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&f.arch),
      "built-in name (nasnet_a, amoebanet_a), NAS-Bench-201 string or genotype JSON file");
  add_stacking_options(options, f.stacking, false);
  options.add_options()("data-dir", po::value(&f.data_dir)->default_value(f.data_dir),
                        "dataset directory (IDX, CIFAR binary, image folders or NumPy files)")(
      "format", po::value(&f.format)->default_value(f.format),
      "auto | idx | cifar10 | cifar100 | folder | numpy")(
      "channels", po::value(&f.channels)->default_value(f.channels),
      "image channels: auto | 1 (grey) | 3 (RGB)")(
      "image-size", po::value(&f.image_size)->default_value(f.image_size),
      "square image side in pixels, or auto (the files' own size)")(
      "resize", po::value(&f.resize)->default_value(f.resize),
      "how images reach --image-size: resize | center_crop")(
      "skip-bad-images", po::bool_switch(&f.skip_bad_images),
      "image folders: skip unreadable or corrupt images instead of stopping")(
      "crop-padding", po::value(&f.crop_padding)->default_value(f.crop_padding),
      "random-crop padding in training, or auto (the format's default)")(
      "epochs", po::value(&f.opts.epochs)->default_value(f.opts.epochs),
      "training epochs (0: evaluate only)")(
      "batch", po::value(&f.opts.batch)->default_value(f.opts.batch), "batch size")(
      "lr", po::value(&f.opts.lr)->default_value(f.opts.lr),
      "base learning rate (cosine schedule)")(
      "min-lr", po::value(&f.opts.min_lr)->default_value(f.opts.min_lr), "final learning rate")(
      "warmup-epochs", po::value(&f.opts.warmup_epochs)->default_value(f.opts.warmup_epochs),
      "linear warm-up")("momentum",
                        po::value(&f.opts.sgd.momentum)->default_value(f.opts.sgd.momentum),
                        "SGD momentum")("no-nesterov", po::bool_switch(&f.nesterov_off),
                                        "plain instead of Nesterov momentum")(
      "weight-decay", po::value(&f.opts.sgd.weight_decay)->default_value(f.opts.sgd.weight_decay),
      "L2 on weights")("clip-norm",
                       po::value(&f.opts.sgd.clip_norm)->default_value(f.opts.sgd.clip_norm),
                       "gradient-norm clip (0: off)")(
      "label-smoothing", po::value(&f.opts.label_smoothing)->default_value(f.opts.label_smoothing),
      "label smoothing")("drop-path", po::value(&f.opts.drop_path)->default_value(f.opts.drop_path),
                         "ScheduledDropPath final probability")(
      "dropout", po::value<float>()->default_value(0.0f), "head dropout rate")(
      "cutout", po::value(&f.opts.cutout)->default_value(f.opts.cutout),
      "cutout square side (0: off)")("no-augment", po::bool_switch(&f.no_augment),
                                     "no crop or flip")(
      "init", po::value(&f.init)->default_value(f.init),
      "initial weights: uniform_fan_in (PyTorch's default) | he_normal | glorot")(
      "flip", po::value(&f.flip)->default_value(f.flip),
      "random horizontal flips: auto (the format's default) | true | false (digits)")(
      "train-images", po::value(&f.train_images)->default_value(f.train_images),
      "training images (0: all)")("valid-images",
                                  po::value(&f.valid_images)->default_value(f.valid_images),
                                  "held-out validation images")("test", po::bool_switch(&f.test),
                                                                "also report test-set accuracy")(
      "threads", po::value(&f.threads)->default_value(f.threads),
      "CPU threads, or auto: the CPUs this process may use (affinity, cgroup quota)")(
      "precision", po::value(&f.precision)->default_value(f.precision),
      "fp32 | bf16 (bfloat16 activations, fp32 master weights; needs avx512_bf16, else fp32 "
      "with a warning); with --config it overrides train.precision")(
      "seed", po::value(&f.opts.seed)->default_value(f.opts.seed),
      "seed (init, split, order, augmentation)")(
      "memory-limit-gb", po::value(&f.memory_limit_gib)->default_value(f.memory_limit_gib),
      "refuse networks estimated above this")("save", po::value(&f.save),
                                              "write the trained weights to FILE")(
      "load", po::value(&f.load), "start from the weights in FILE")(
      "save-init", po::value(&f.save_init),
      "write the weights before the first step (fresh or loaded) to FILE")(
      "save-trace", po::value(&f.save_trace),
      "write the split (image indices in the training files), each epoch's data order and every "
      "step's loss to FILE (JSON), to replay the run in another trainer")(
      "decay-scope", po::value(&f.decay_scope)->default_value(f.decay_scope),
      "weight decay on: weights (conv and FC) | all (BN and biases too, as PyTorch's SGD)")(
      "json", po::bool_switch(&f.json), "print the result as one JSON object")(
      "from", po::value(&f.from),
      "campaign run directory: train its --rank best cell (instead of --arch)")(
      "rank", po::value(&f.rank)->default_value(f.rank),
      "which of the campaign's best cells (1 = best)")(
      "config", po::value(&f.config_file),
      "training config file ([network] [data] [train]), e.g. configs/fashion-mnist-full.ini")(
      "set", po::value(&f.sets)->composing(),
      "override a training-config key, e.g. --set train.epochs=5")(
      "out", po::value(&f.out_dir),
      "directory for epoch checkpoints and the result (default with --from: "
      "RUN_DIR/transfer/rank<K>_<hash>)")("resume", po::bool_switch(&f.resume),
                                          "continue from the last epoch checkpoint in --out");
  options.add_options()("help-config", po::bool_switch(&f.help_config),
                        "document every training-config key");
}

// Without --config every flag becomes a setting checked against the training schema (one set of
// defaults and ranges for flags and files), and the trained directory gets a config.ini that
// export and resume read back like a config file's.
TrainConfig settings_from_flags(const TrainFlags& f, const po::variables_map& vm,
                                const std::string& usage) {
  auto num = [](double x) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9g", x);
    return std::string(buf);
  };
  const std::vector<Setting> settings = {
      {"network.cells_per_stack", std::to_string(f.stacking.cells_per_stack), "--cells-per-stack"},
      {"network.filters", std::to_string(f.stacking.filters), "--filters"},
      {"network.stem", f.stacking.stem, "--stem"},
      {"network.stem_multiplier", num(f.stacking.stem_multiplier), "--stem-multiplier"},
      {"network.aux_head", f.stacking.aux_head ? "true" : "false", "--aux-head"},
      {"network.dropout", num(vm["dropout"].as<float>()), "--dropout"},
      {"data.data_dir", f.data_dir, "--data-dir"},
      {"data.format", f.format, "--format"},
      {"data.channels", f.channels, "--channels"},
      {"data.image_size", f.image_size, "--image-size"},
      {"data.resize", f.resize, "--resize"},
      {"data.skip_bad_images", f.skip_bad_images ? "true" : "false", "--skip-bad-images"},
      {"data.crop_padding", f.crop_padding, "--crop-padding"},
      {"data.train_images", std::to_string(f.train_images), "--train-images"},
      {"data.valid_images", std::to_string(f.valid_images), "--valid-images"},
      {"data.test", f.test ? "true" : "false", "--test"},
      {"train.epochs", std::to_string(f.opts.epochs), "--epochs"},
      {"train.batch", std::to_string(f.opts.batch), "--batch"},
      {"train.lr", num(f.opts.lr), "--lr"},
      {"train.min_lr", num(f.opts.min_lr), "--min-lr"},
      {"train.warmup_epochs", num(f.opts.warmup_epochs), "--warmup-epochs"},
      {"train.momentum", num(f.opts.sgd.momentum), "--momentum"},
      {"train.nesterov", f.nesterov_off ? "false" : "true", "--no-nesterov"},
      {"train.weight_decay", num(f.opts.sgd.weight_decay), "--weight-decay"},
      {"train.clip_norm", num(f.opts.sgd.clip_norm), "--clip-norm"},
      {"train.label_smoothing", num(f.opts.label_smoothing), "--label-smoothing"},
      {"train.drop_path", num(f.opts.drop_path), "--drop-path"},
      {"train.cutout", std::to_string(f.opts.cutout), "--cutout"},
      {"train.augment", f.no_augment ? "false" : "true", "--no-augment"},
      {"data.horizontal_flip", f.flip, "--flip"},
      {"train.init", f.init, "--init"},
      {"train.decay_scope", f.decay_scope, "--decay-scope"},
      {"train.threads", f.threads, "--threads"},
      {"train.precision", f.precision, "--precision"},
      {"train.seed", std::to_string(f.opts.seed), "--seed"},
      {"train.memory_limit_gb", num(f.memory_limit_gib), "--memory-limit-gb"},
  };
  try {
    return train_config_from_settings(settings);
  } catch (const ConfigError& e) {
    throw UsageError(e.what(), usage);
  }
}

// --config with --threads or --precision (how to run, not what to train): the file's settings
// plus the flags given, checked again.
TrainConfig config_with_flags(const TrainFlags& f, const po::variables_map& vm,
                              const std::string& usage) {
  TrainConfig tc = load_train_config(f.config_file, f.sets);
  std::vector<Setting> all;
  for (const auto& [key, value] : tc.values) all.push_back({key, value, f.config_file});
  if (!vm["threads"].defaulted()) all.push_back({"train.threads", f.threads, "--threads"});
  if (!vm["precision"].defaulted()) all.push_back({"train.precision", f.precision, "--precision"});
  try {
    return train_config_from_settings(all);
  } catch (const ConfigError& e) {
    throw UsageError(e.what(), usage);
  }
}

// Parses and checks the command line; nullopt after --help.
std::optional<TrainRequest> parse_train_request(const Args& args) {
  const std::string usage_line =
      "cellforge train --arch NAME|FILE|NB201_STRING [stacking options] --data-dir DIR --epochs E "
      "--batch B "
      "--lr X --train-images N --valid-images M [--test] [--threads T] [--seed S] [--save FILE] "
      "[--load FILE]";
  TrainRequest r;
  TrainFlags& f = r.flags;
  po::options_description options("options");
  add_train_options(options, f);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return std::nullopt;
  if (f.help_config) {
    std::cout << "Training-config keys (INI sections [network] [data] [train]; flags of the same "
                 "names):\n\n"
              << train_config_reference_markdown();
    return std::nullopt;
  }
  r.usage = usage_text(usage_line, options);
  const std::string& usage = r.usage;
  if (f.arch.empty() == f.from.empty())
    throw UsageError("give either --arch or --from RUN_DIR", usage);
  if (f.rank < 1) throw UsageError("--rank must be at least 1", usage);
  if (!f.config_file.empty()) {
    // A training config owns the schedule; command-line training flags would silently disagree.
    for (const char* flag : {"epochs",       "batch",           "lr",
                             "min-lr",       "warmup-epochs",   "momentum",
                             "weight-decay", "clip-norm",       "label-smoothing",
                             "drop-path",    "dropout",         "cutout",
                             "train-images", "valid-images",    "data-dir",
                             "format",       "cells-per-stack", "filters",
                             "stem",         "stem-multiplier", "flip",
                             "init",         "decay-scope",     "channels",
                             "image-size",   "resize",          "crop-padding"})
      if (vm.count(flag) && !vm[flag].defaulted())
        throw UsageError(std::string("--") + flag + " cannot be combined with --config; use --set",
                         usage);
    if (f.skip_bad_images)
      throw UsageError("--skip-bad-images cannot be combined with --config; use --set", usage);
    r.config = vm["threads"].defaulted() && vm["precision"].defaulted()
                   ? load_train_config(f.config_file, f.sets)
                   : config_with_flags(f, vm, usage);
  } else {
    if (!f.sets.empty()) throw UsageError("--set needs --config", usage);
    if (!f.arch.empty()) {
      r.arch = resolve_architecture(f.arch);
      apply_space_defaults(*r.arch, vm, f.stacking, usage);
    }
    r.config = settings_from_flags(f, vm, usage);
  }
  return r;
}

// What --save-trace writes: the split, each epoch's order, every step's loss.
struct TrainTrace {
  std::vector<std::vector<int>> orders;
  void record(TrainCallbacks& callbacks) {
    callbacks.on_shuffle = [this](int, const std::vector<int>& order) { orders.push_back(order); };
  }
  std::string json(const DataSplits& data, const TrainResult& result) const {
    nlohmann::json out = {{"train_source", data.train_source},
                          {"valid_source", data.valid_source},
                          {"epoch_orders", orders},
                          {"losses", result.losses},
                          {"valid_accuracy", result.valid_accuracy}};
    return out.dump();
  }
};

struct ChosenArch {
  Architecture arch = Genotype{};
  std::string label, hash;
};

// The architecture: a file or built-in, or the K-th best cell of a campaign (whose transfer
// directory is the default output).
ChosenArch choose_architecture(TrainRequest& r) {
  TrainFlags& f = r.flags;
  ChosenArch c;
  c.label = f.arch;
  if (f.from.empty()) {
    c.arch = r.arch ? *r.arch : resolve_architecture(f.arch);
    c.hash = canonical_hash(c.arch);
  } else {
    ResultsStore store(std::filesystem::path(f.from) / "results.sqlite", StoreAccess::read);
    std::vector<CandidateRecord> best = store.ranked_candidates();
    if (static_cast<int>(best.size()) < f.rank)
      throw std::runtime_error(f.from + ": has " + std::to_string(best.size()) +
                               " finished candidates, no rank " + std::to_string(f.rank));
    const CandidateRecord& pick = best[f.rank - 1];
    c.arch = store.genotype(pick);
    c.hash = pick.hash;
    c.arch.set_name("rank" + std::to_string(f.rank) + "_" + c.hash);
    c.label = f.from + " rank " + std::to_string(f.rank) + " (candidate " +
              std::to_string(pick.id) + ", proxy " +
              std::to_string(100 * *pick.accuracy).substr(0, 5) + "%)";
    if (f.out_dir.empty())
      f.out_dir = (std::filesystem::path(f.from) / "transfer" / c.arch.name()).string();
  }
  if (f.resume && f.out_dir.empty()) throw UsageError("--resume needs --out (or --from)", r.usage);
  return c;
}

// The output directory: a checkpoint to resume from (with --resume), the genotype and config
// (written by the writer: rank 0 of data-parallel ranks; every rank reads the checkpoint).
std::optional<TrainCheckpoint> prepare_output(const TrainRequest& r, Executor& executor,
                                              const Architecture& arch, bool writer) {
  const TrainFlags& f = r.flags;
  if (f.out_dir.empty()) return std::nullopt;
  const std::filesystem::path out = f.out_dir;
  std::optional<TrainCheckpoint> checkpoint;
  if (f.resume) {
    checkpoint = load_checkpoint(out / "checkpoint", executor);
    if (!checkpoint) throw std::runtime_error(f.out_dir + ": no checkpoint to resume from");
    if (!f.json && writer) std::printf("resuming after epoch %d\n", checkpoint->epochs_done);
  } else if (std::filesystem::exists(out / "checkpoint" / "latest")) {
    throw std::runtime_error(f.out_dir +
                             " already holds a training run; use --resume to continue it");
  }
  if (!writer) return checkpoint;
  std::filesystem::create_directories(out);
  write_file_atomic(out / "genotype.json", write_architecture(arch));
  write_file_atomic(out / "config.ini", ini_text(r.config.values));
  return checkpoint;
}

// result.json in the output directory, and an event in the campaign it came from.
void record_result(const TrainRequest& r, const ChosenArch& arch, const Network& network,
                   const TrainResult& result, const DataSplits& data) {
  const TrainFlags& f = r.flags;
  const std::filesystem::path out = f.out_dir;
  nlohmann::json record = {
      {"arch", arch.label},
      {"hash", arch.hash},
      {"params", network.params()},
      {"macs", network.macs()},
      {"notation", network.notation()},
      {"valid_accuracy", result.valid_accuracy},
      {"test_accuracy", result.test_accuracy},
      {"epochs", r.config.train.epochs},
      {"precision", precision_name(usable_precision(r.config.train.precision))},
      {"class_names", data.class_names},
      {"seconds", result.seconds},
      {"finished_at", utc_now()}};
  write_file_atomic(out / "result.json", record.dump(2) + "\n");
  if (!f.from.empty()) {
    ResultsStore store(std::filesystem::path(f.from) / "results.sqlite", StoreAccess::write);
    store.add_event("transfer", arch.arch.name() + " trained in " + f.out_dir + ": test accuracy " +
                                    std::to_string(100 * result.test_accuracy) + "%, " +
                                    std::to_string(network.params()) + " params");
  }
}

void print_result(const TrainRequest& r, const Network& network, const TrainResult& result) {
  const bool test = r.config.data.load_test;
  if (r.flags.json) {
    nlohmann::json out = {{"status", train_status_name(result.status)},
                          {"reason", result.reason},
                          {"params", network.params()},
                          {"macs", network.macs()},
                          {"notation", network.notation()},
                          {"valid_accuracy", result.valid_accuracy},
                          {"precision", precision_name(usable_precision(r.config.train.precision))},
                          {"seconds", result.seconds}};
    if (test) out["test_accuracy"] = result.test_accuracy;
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& e : result.epochs)
      epochs.push_back({{"epoch", e.epoch},
                        {"train_loss", e.train_loss},
                        {"train_accuracy", e.train_accuracy},
                        {"valid_accuracy", e.valid_accuracy},
                        {"images_per_second", e.images_per_second}});
    out["epochs"] = epochs;
    std::cout << out.dump() << "\n";
  } else if (result.status != TrainStatus::ok) {
    std::printf("training ended: %s (%s)\n", train_status_name(result.status),
                result.reason.c_str());
  } else {
    if (result.valid_accuracy >= 0)
      std::printf("final validation accuracy %.2f%%\n", 100 * result.valid_accuracy);
    if (test) std::printf("test accuracy %.2f%%\n", 100 * result.test_accuracy);
    if (!r.flags.save.empty()) std::printf("weights saved to %s\n", r.flags.save.c_str());
  }
}

// Data-parallel ranks under an MPI launcher: each trains batch / K images of every batch.
struct Ranks {
  MpiTrainGroup* group = nullptr;  // nullptr: training alone
  bool writer() const { return !group || group->rank() == 0; }
  int count() const { return group ? group->size() : 1; }
};

// The network for the dataset's shape, with errors naming where the stacking came from.
Network network_for(const TrainRequest& r, const ChosenArch& arch, const DataSplits& data) {
  NetworkSpec spec = r.config.network;
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  try {
    validate(spec);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(
        (r.flags.config_file.empty() ? std::string("stacking options") : r.flags.config_file) +
        ": " + e.what());
  }
  return build_network(arch.arch, spec);
}

// The training options for this process: with data-parallel ranks sharing a machine's CPUs,
// --threads auto divides them (unless the launcher already bound each rank to its own CPUs).
TrainOptions options_for(const TrainRequest& r, const Ranks& ranks) {
  TrainOptions opts = r.config.train;
  opts.precision = usable_precision(opts.precision);
  if (ranks.group && r.flags.threads == "auto" && ranks.group->local_size() > 1 &&
      static_cast<long>(cpu_budget().affinity) >= sysconf(_SC_NPROCESSORS_ONLN))
    opts.threads = std::max(1, usable_cpus() / ranks.group->local_size());
  if (opts.batch % ranks.count() != 0)
    throw UsageError("--batch " + std::to_string(opts.batch) + " does not split evenly over " +
                         std::to_string(ranks.count()) + " data-parallel ranks",
                     r.usage);
  return opts;
}

void print_header(const ChosenArch& arch, const Network& network, const DataSplits& data,
                  const TrainOptions& opts, const Ranks& ranks) {
  std::printf(
      "training %s %s (%.2fM params, %.1fM MACs) on %s: %d train / %d valid images, "
      "%d epochs, batch %d, %d threads, %s",
      arch.arch.name().empty() ? arch.label.c_str() : arch.arch.name().c_str(),
      network.notation().c_str(), network.params() / 1e6, network.macs() / 1e6, data.name.c_str(),
      data.train.count, data.valid.count, opts.epochs, opts.batch, opts.threads,
      precision_name(opts.precision));
  if (ranks.group)
    std::printf(" per rank, %d data-parallel ranks (%d images each per batch)", ranks.count(),
                opts.batch / ranks.count());
  std::printf("\n");
}

int train_on(TrainRequest& r, const Ranks& ranks) {
  const TrainFlags& f = r.flags;
  const bool writer = ranks.writer();
  const ChosenArch arch = choose_architecture(r);
  const TrainOptions opts = options_for(r, ranks);
  const DataSplits data = load_dataset(r.config.data);
  const Network network = network_for(r, arch, data);
  if (!f.json && writer) print_header(arch, network, data, opts, ranks);
  const int local_batch = opts.batch / ranks.count();
  const int64_t estimate = Executor::estimate_bytes(network, local_batch);
  if (estimate > opts.memory_limit_bytes)
    throw std::runtime_error("estimated memory " + std::to_string(estimate >> 20) +
                             " MiB exceeds the memory limit of " +
                             std::to_string(opts.memory_limit_bytes >> 20) + " MiB");
  ExecutorOptions eo;
  eo.batch = local_batch;
  eo.drop_path = opts.drop_path > 0.0f;
  eo.precision = opts.precision;
  Executor executor(network, eo);
  if (!f.load.empty()) load_weights(executor, f.load);
  std::optional<TrainCheckpoint> checkpoint = prepare_output(r, executor, arch.arch, writer);
  Progress progress(opts.epochs);
  TrainCallbacks callbacks;
  callbacks.shards = ranks.group && ranks.group->active() ? ranks.group : nullptr;
  if (!f.json && writer) {
    callbacks.on_step = [&](int e, int s, int n, double loss, double acc) {
      progress.step(e, s, n, loss, acc);
    };
    callbacks.on_epoch = [&](const EpochStats& s) { progress.epoch(s); };
  }
  const std::filesystem::path out = f.out_dir;
  if (!f.out_dir.empty() && writer)
    callbacks.on_checkpoint = [&](const TrainCheckpoint& c) {
      save_checkpoint(out / "checkpoint", executor, c);
    };
  TrainTrace trace;
  if (!f.save_trace.empty() && writer) trace.record(callbacks);
  if (!f.save_init.empty() && writer)
    callbacks.on_start = [&] { save_weights(executor, f.save_init); };
  TrainResult result;
  if (opts.epochs > 0) {
    result = train_network(network, data, opts, callbacks, &executor, f.load.empty(),
                           checkpoint ? &*checkpoint : nullptr);
  } else {
    if (callbacks.on_start) callbacks.on_start();
    result.valid_accuracy = evaluate_accuracy(executor, data.valid, data.mean, data.stddev);
    if (r.config.data.load_test)
      result.test_accuracy = evaluate_accuracy(executor, data.test, data.mean, data.stddev);
  }
  if (!writer) return result.status == TrainStatus::ok ? 0 : 1;
  if (!f.out_dir.empty() && result.status == TrainStatus::ok) {
    save_weights(executor, out / "weights.bin");
    record_result(r, arch, network, result, data);
  }
  if (result.status == TrainStatus::ok && !f.save.empty()) save_weights(executor, f.save);
  if (!f.save_trace.empty()) write_file_atomic(f.save_trace, trace.json(data, result) + "\n");
  print_result(r, network, result);
  return result.status == TrainStatus::ok ? 0 : 1;
}

}  // namespace

int run_train(const Args& args) {
  std::optional<TrainRequest> request = parse_train_request(args);
  if (!request) return 0;
  MpiTrainGroup group;  // several ranks under mpirun / srun; one otherwise
  if (!group.active()) return train_on(*request, {});
  try {
    return train_on(*request, {&group});
  } catch (const std::exception& e) {
    // The other ranks would wait for this one forever.
    std::fprintf(stderr, "cellforge train: rank %d: error: %s\n", group.rank(), e.what());
    std::fflush(stderr);
    group.abort_all();
  }
}

}  // namespace cf::cli

// cellforge train: train a stacked network on an image dataset.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "search/cli_common.h"
#include "results/store.h"
#include "search/config.h"
#include "space/file_io.h"
#include "trainer/checkpoint.h"
#include "trainer/train.h"
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

}  // namespace

int run_train(const Args& args) {
  const std::string usage_line =
      "cellforge train --arch NAME|FILE [stacking options] --data-dir DIR --epochs E --batch B "
      "--lr X --train-images N --valid-images M [--test] [--threads T] [--seed S] [--save FILE] "
      "[--load FILE]";
  std::string arch, data_dir = "/usr/share/datasets/fashion-mnist", format = "auto", save, load;
  StackingOptions stacking;
  TrainOptions opts;
  int train_images = 0, valid_images = 5000;
  double memory_limit_gib = 16;
  bool test = false, no_augment = false, json = false, nesterov_off = false, resume = false;
  std::string from, config_file, out_dir;
  std::vector<std::string> sets;
  int rank = 1;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch), "built-in name (nasnet_a, amoebanet_a) or genotype JSON file");
  add_stacking_options(options, stacking, false);
  options.add_options()
      ("data-dir", po::value(&data_dir)->default_value(data_dir), "dataset directory (IDX or CIFAR binary)")
      ("format", po::value(&format)->default_value(format), "auto | idx | cifar10 | cifar100")
      ("epochs", po::value(&opts.epochs)->default_value(opts.epochs), "training epochs (0: evaluate only)")
      ("batch", po::value(&opts.batch)->default_value(opts.batch), "batch size")
      ("lr", po::value(&opts.lr)->default_value(opts.lr), "base learning rate (cosine schedule)")
      ("min-lr", po::value(&opts.min_lr)->default_value(opts.min_lr), "final learning rate")
      ("warmup-epochs", po::value(&opts.warmup_epochs)->default_value(opts.warmup_epochs), "linear warm-up")
      ("momentum", po::value(&opts.sgd.momentum)->default_value(opts.sgd.momentum), "SGD momentum")
      ("no-nesterov", po::bool_switch(&nesterov_off), "plain instead of Nesterov momentum")
      ("weight-decay", po::value(&opts.sgd.weight_decay)->default_value(opts.sgd.weight_decay), "L2 on weights")
      ("clip-norm", po::value(&opts.sgd.clip_norm)->default_value(opts.sgd.clip_norm), "gradient-norm clip (0: off)")
      ("label-smoothing", po::value(&opts.label_smoothing)->default_value(opts.label_smoothing), "label smoothing")
      ("drop-path", po::value(&opts.drop_path)->default_value(opts.drop_path), "ScheduledDropPath final probability")
      ("dropout", po::value<float>()->default_value(0.0f), "head dropout rate")
      ("cutout", po::value(&opts.cutout)->default_value(opts.cutout), "cutout square side (0: off)")
      ("no-augment", po::bool_switch(&no_augment), "no crop or flip")
      ("train-images", po::value(&train_images)->default_value(train_images), "training images (0: all)")
      ("valid-images", po::value(&valid_images)->default_value(valid_images), "held-out validation images")
      ("test", po::bool_switch(&test), "also report test-set accuracy")
      ("threads", po::value(&opts.threads)->default_value(opts.threads), "CPU threads")
      ("seed", po::value(&opts.seed)->default_value(opts.seed), "seed (init, split, order, augmentation)")
      ("memory-limit-gb", po::value(&memory_limit_gib)->default_value(memory_limit_gib), "refuse networks estimated above this")
      ("save", po::value(&save), "write the trained weights to FILE")
      ("load", po::value(&load), "start from the weights in FILE")
      ("json", po::bool_switch(&json), "print the result as one JSON object")
      ("from", po::value(&from), "campaign run directory: train its --rank best cell (instead of --arch)")
      ("rank", po::value(&rank)->default_value(rank), "which of the campaign's best cells (1 = best)")
      ("config", po::value(&config_file), "training config file ([network] [data] [train]), e.g. configs/fashion-mnist-full.ini")
      ("set", po::value(&sets)->composing(), "override a training-config key, e.g. --set train.epochs=5")
      ("out", po::value(&out_dir), "directory for epoch checkpoints and the result (default with --from: RUN_DIR/transfer/rank<K>_<hash>)")
      ("resume", po::bool_switch(&resume), "continue from the last epoch checkpoint in --out");
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (arch.empty() == from.empty()) throw UsageError("give either --arch or --from RUN_DIR", usage);
  if (rank < 1) throw UsageError("--rank must be at least 1", usage);
  if (!config_file.empty()) {
    // A training config owns the schedule; command-line training flags would silently disagree.
    for (const char* flag : {"epochs", "batch", "lr", "min-lr", "warmup-epochs", "momentum", "weight-decay",
                             "clip-norm", "label-smoothing", "drop-path", "dropout", "cutout", "train-images",
                             "valid-images", "data-dir", "format", "cells-per-stack", "filters", "stem",
                             "stem-multiplier"})
      if (vm.count(flag) && !vm[flag].defaulted())
        throw UsageError(std::string("--") + flag + " cannot be combined with --config; use --set", usage);
  } else if (!sets.empty()) {
    throw UsageError("--set needs --config", usage);
  }
  // Flags and training configs share one schema (defaults, types and ranges stated once): without
  // --config, every flag becomes a setting checked against it, and the trained directory gets a
  // config.ini that export and resume read back like a config file's.
  TrainConfig tc;
  if (config_file.empty()) {
    auto num = [](double x) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.9g", x);
      return std::string(buf);
    };
    const std::vector<Setting> settings = {
        {"network.cells_per_stack", std::to_string(stacking.cells_per_stack), "--cells-per-stack"},
        {"network.filters", std::to_string(stacking.filters), "--filters"},
        {"network.stem", stacking.stem, "--stem"},
        {"network.stem_multiplier", num(stacking.stem_multiplier), "--stem-multiplier"},
        {"network.aux_head", stacking.aux_head ? "true" : "false", "--aux-head"},
        {"network.dropout", num(vm["dropout"].as<float>()), "--dropout"},
        {"data.data_dir", data_dir, "--data-dir"},
        {"data.format", format, "--format"},
        {"data.train_images", std::to_string(train_images), "--train-images"},
        {"data.valid_images", std::to_string(valid_images), "--valid-images"},
        {"data.test", test ? "true" : "false", "--test"},
        {"train.epochs", std::to_string(opts.epochs), "--epochs"},
        {"train.batch", std::to_string(opts.batch), "--batch"},
        {"train.lr", num(opts.lr), "--lr"},
        {"train.min_lr", num(opts.min_lr), "--min-lr"},
        {"train.warmup_epochs", num(opts.warmup_epochs), "--warmup-epochs"},
        {"train.momentum", num(opts.sgd.momentum), "--momentum"},
        {"train.nesterov", nesterov_off ? "false" : "true", "--no-nesterov"},
        {"train.weight_decay", num(opts.sgd.weight_decay), "--weight-decay"},
        {"train.clip_norm", num(opts.sgd.clip_norm), "--clip-norm"},
        {"train.label_smoothing", num(opts.label_smoothing), "--label-smoothing"},
        {"train.drop_path", num(opts.drop_path), "--drop-path"},
        {"train.cutout", std::to_string(opts.cutout), "--cutout"},
        {"train.augment", no_augment ? "false" : "true", "--no-augment"},
        {"train.threads", std::to_string(opts.threads), "--threads"},
        {"train.seed", std::to_string(opts.seed), "--seed"},
        {"train.memory_limit_gb", num(memory_limit_gib), "--memory-limit-gb"},
    };
    try {
      tc = train_config_from_settings(settings);
    } catch (const ConfigError& e) {
      throw UsageError(e.what(), usage);
    }
  } else {
    tc = load_train_config(config_file, sets);
    if (!vm["threads"].defaulted()) {
      try {
        tc = train_config_from_settings([&] {
          std::vector<Setting> all;
          for (const auto& [key, value] : tc.values) all.push_back({key, value, config_file});
          all.push_back({"train.threads", std::to_string(opts.threads), "--threads"});
          return all;
        }());
      } catch (const ConfigError& e) {
        throw UsageError(e.what(), usage);
      }
    }
  }
  DataOptions data_options = tc.data;
  NetworkSpec spec = tc.network;
  opts = tc.train;
  test = data_options.load_test;
  const std::map<std::string, std::string> config_values = tc.values;

  // The architecture: a file or built-in, or the K-th best cell of a campaign.
  Genotype genotype;
  std::string arch_label = arch, hash;
  if (!from.empty()) {
    ResultsStore store(std::filesystem::path(from) / "results.sqlite", StoreAccess::read);
    std::vector<CandidateRecord> best = store.ranked_candidates();
    if (static_cast<int>(best.size()) < rank)
      throw std::runtime_error(from + ": has " + std::to_string(best.size()) + " finished candidates, no rank " +
                               std::to_string(rank));
    const CandidateRecord& pick = best[rank - 1];
    genotype = store.genotype(pick);
    hash = pick.hash;
    genotype.name = "rank" + std::to_string(rank) + "_" + hash;
    arch_label = from + " rank " + std::to_string(rank) + " (candidate " + std::to_string(pick.id) + ", proxy " +
                 std::to_string(100 * *pick.accuracy).substr(0, 5) + "%)";
    if (out_dir.empty()) out_dir = (std::filesystem::path(from) / "transfer" / genotype.name).string();
  } else {
    genotype = resolve_genotype(arch);
    hash = canonical_hash(genotype);
  }
  if (resume && out_dir.empty()) throw UsageError("--resume needs --out (or --from)", usage);

  const DataSplits data = load_dataset(data_options);
  spec.input = data.train.shape;
  spec.classes = data.train.classes;
  try {
    validate(spec);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error((config_file.empty() ? std::string("stacking options") : config_file) + ": " + e.what());
  }
  const Network network = build_network(genotype, spec);
  if (!json)
    std::printf("training %s %s (%.2fM params, %.1fM MACs) on %s: %d train / %d valid images, "
                "%d epochs, batch %d, %d threads\n",
                genotype.name.empty() ? arch_label.c_str() : genotype.name.c_str(),
                network.notation().c_str(), network.params() / 1e6, network.macs() / 1e6,
                data.name.c_str(), data.train.count, data.valid.count, opts.epochs, opts.batch,
                opts.threads);

  ExecutorOptions eo;
  eo.batch = opts.batch;
  eo.drop_path = opts.drop_path > 0.0f;
  const int64_t estimate = Executor::estimate_bytes(network, opts.batch);
  if (estimate > opts.memory_limit_bytes) {
    std::fprintf(stderr, "cellforge train: error: estimated memory %lld MiB exceeds the memory limit of %lld MiB\n",
                 static_cast<long long>(estimate >> 20), static_cast<long long>(opts.memory_limit_bytes >> 20));
    return 1;
  }
  Executor executor(network, eo);
  if (!load.empty()) load_weights(executor, load);
  std::optional<TrainCheckpoint> checkpoint;
  const std::filesystem::path out = out_dir;
  if (!out_dir.empty()) {
    std::filesystem::create_directories(out);
    if (resume) {
      checkpoint = load_checkpoint(out / "checkpoint", executor);
      if (!checkpoint) throw std::runtime_error(out_dir + ": no checkpoint to resume from");
      if (!json) std::printf("resuming after epoch %d\n", checkpoint->epochs_done);
    } else if (std::filesystem::exists(out / "checkpoint" / "latest")) {
      throw std::runtime_error(out_dir + " already holds a training run; use --resume to continue it");
    }
    write_file_atomic(out / "genotype.json", write_genotype(genotype));
    write_file_atomic(out / "config.ini", ini_text(config_values));
  }
  Progress progress(opts.epochs);
  TrainCallbacks callbacks;
  if (!json) {
    callbacks.on_step = [&](int e, int s, int n, double loss, double acc) { progress.step(e, s, n, loss, acc); };
    callbacks.on_epoch = [&](const EpochStats& s) { progress.epoch(s); };
  }
  if (!out_dir.empty())
    callbacks.on_checkpoint = [&](const TrainCheckpoint& c) { save_checkpoint(out / "checkpoint", executor, c); };
  TrainResult result;
  if (opts.epochs > 0) {
    result = train_network(network, data, opts, callbacks, &executor, load.empty(),
                           checkpoint ? &*checkpoint : nullptr);
  } else {
    result.valid_accuracy = evaluate_accuracy(executor, data.valid, data.mean, data.stddev);
    if (test) result.test_accuracy = evaluate_accuracy(executor, data.test, data.mean, data.stddev);
  }
  if (!out_dir.empty() && result.status == TrainStatus::ok) {
    save_weights(executor, out / "weights.bin");
    nlohmann::json record = {{"arch", arch_label}, {"hash", hash}, {"params", network.params()},
                             {"macs", network.macs()}, {"notation", network.notation()},
                             {"valid_accuracy", result.valid_accuracy}, {"test_accuracy", result.test_accuracy},
                             {"epochs", opts.epochs}, {"seconds", result.seconds}, {"finished_at", utc_now()}};
    write_file_atomic(out / "result.json", record.dump(2) + "\n");
    if (!from.empty()) {
      ResultsStore store(std::filesystem::path(from) / "results.sqlite", StoreAccess::write);
      store.add_event("transfer", genotype.name + " trained in " + out_dir + ": test accuracy " +
                                      std::to_string(100 * result.test_accuracy) + "%, " +
                                      std::to_string(network.params()) + " params");
    }
  }
  if (result.status == TrainStatus::ok && !save.empty()) save_weights(executor, save);
  if (json) {
    nlohmann::json out = {{"status", train_status_name(result.status)},
                          {"reason", result.reason},
                          {"params", network.params()},
                          {"macs", network.macs()},
                          {"notation", network.notation()},
                          {"valid_accuracy", result.valid_accuracy},
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
  } else {
    if (result.status != TrainStatus::ok) {
      std::printf("training ended: %s (%s)\n", train_status_name(result.status), result.reason.c_str());
    } else {
      if (result.valid_accuracy >= 0) std::printf("final validation accuracy %.2f%%\n", 100 * result.valid_accuracy);
      if (test) std::printf("test accuracy %.2f%%\n", 100 * result.test_accuracy);
      if (!save.empty()) std::printf("weights saved to %s\n", save.c_str());
    }
  }
  return result.status == TrainStatus::ok ? 0 : 1;
}

}  // namespace cf::cli

// cellforge data check DIR: what cellforge sees in a dataset directory (format, classes with
// counts per split, image shape, pixel statistics, bad files) and the settings training would use.
#include "trainer/data.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "search/cli/options.h"
#include "search/config.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

struct DataCheckFlags {
  std::string dir, format = "auto", channels = "auto", image_size = "auto", resize = "resize",
                   flip = "auto", crop_padding = "auto";
  bool skip_bad_images = false, json = false;
};

// The flags as data settings, checked by the training schema (same ranges and messages as train).
TrainConfig data_settings(const DataCheckFlags& f, const std::string& usage) {
  try {
    return train_config_from_settings({{"data.data_dir", f.dir, "DIR"},
                                       {"data.format", f.format, "--format"},
                                       {"data.channels", f.channels, "--channels"},
                                       {"data.image_size", f.image_size, "--image-size"},
                                       {"data.resize", f.resize, "--resize"},
                                       {"data.horizontal_flip", f.flip, "--flip"},
                                       {"data.crop_padding", f.crop_padding, "--crop-padding"}});
  } catch (const ConfigError& e) {
    throw UsageError(e.what(), usage);
  }
}

std::vector<int> class_counts(const ImageSet& set, size_t classes) {
  std::vector<int> counts(classes, 0);
  for (uint8_t label : set.labels) ++counts[label];
  return counts;
}

std::string setting_source(bool given) {
  return given ? "as set" : "the format's default";
}

void print_text(const DataCheckFlags& f, const DataOptions& options, const DataSplits& data) {
  const size_t classes = data.class_names.size();
  const auto train = class_counts(data.train, classes), test = class_counts(data.test, classes);
  const Shape& s = data.train.shape;
  std::printf("dataset    %s\n", f.dir.c_str());
  std::printf("format     %s\n", std::string(dataset_format_name(data.format)).c_str());
  std::printf("images     %d x %d (H x W), %d channel%s; %d training images, %d test images%s\n",
              s.h, s.w, s.c, s.c == 1 ? "" : "s", data.train.count, data.test.count,
              data.test.count == 0 ? " (no test files)" : "");
  std::printf("classes    %zu\n", classes);
  std::printf("  %-5s %-24s %8s %8s\n", "label", "name", "train", "test");
  for (size_t c = 0; c < classes; ++c)
    std::printf("  %-5zu %-24s %8d %8d\n", c, data.class_names[c].c_str(), train[c], test[c]);
  std::printf("pixels     mean");
  for (float m : data.mean) std::printf(" %.4f", m);
  std::printf("  std");
  for (float sd : data.stddev) std::printf(" %.4f", sd);
  std::printf("  (per channel, [0,1] units, training files)\n");
  std::printf("bad files  %zu%s\n", data.bad_files.size(),
              data.bad_files.empty() || options.skip_bad_images
                  ? ""
                  : " (training stops at the first; data.skip_bad_images = true skips them)");
  for (const auto& bad : data.bad_files) std::printf("  %s\n", bad.c_str());
  if (!data.cache_status.empty()) std::printf("cache      %s\n", data.cache_status.c_str());
  const Augmentation a = default_augmentation(data);
  std::printf("training   crop padding %d (%s), horizontal flip %s (%s), cutout 0 (train.cutout)\n",
              a.crop_padding, setting_source(options.crop_padding.has_value()).c_str(),
              a.horizontal_flip ? "on" : "off",
              setting_source(options.horizontal_flip.has_value()).c_str());
}

void print_json(const DataCheckFlags& f, const DataOptions& options, const DataSplits& data) {
  const size_t classes = data.class_names.size();
  const auto train = class_counts(data.train, classes), test = class_counts(data.test, classes);
  nlohmann::json out = {{"dir", f.dir},
                        {"format", dataset_format_name(data.format)},
                        {"shape",
                         {{"channels", data.train.shape.c},
                          {"height", data.train.shape.h},
                          {"width", data.train.shape.w}}},
                        {"train_images", data.train.count},
                        {"test_images", data.test.count},
                        {"mean", data.mean},
                        {"std", data.stddev},
                        {"bad_files", data.bad_files},
                        {"skip_bad_images", options.skip_bad_images},
                        {"cache", data.cache_status}};
  nlohmann::json rows = nlohmann::json::array();
  for (size_t c = 0; c < classes; ++c)
    rows.push_back(
        {{"label", c}, {"name", data.class_names[c]}, {"train", train[c]}, {"test", test[c]}});
  out["classes"] = rows;
  const Augmentation a = default_augmentation(data);
  out["augmentation"] = {{"crop_padding", a.crop_padding},
                         {"horizontal_flip", a.horizontal_flip},
                         {"cutout", a.cutout}};
  std::cout << out.dump() << "\n";
}

int run_data_check(const Args& args) {
  const std::string usage_line =
      "cellforge data check DIR [--format F] [--channels auto|1|3] [--image-size N] "
      "[--resize resize|center_crop] [--json]";
  DataCheckFlags f;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("dir", po::value(&f.dir), "dataset directory")
      ("format", po::value(&f.format)->default_value(f.format), "auto | idx | cifar10 | cifar100 | folder | numpy")
      ("channels", po::value(&f.channels)->default_value(f.channels), "auto | 1 | 3")
      ("image-size", po::value(&f.image_size)->default_value(f.image_size), "square side in pixels, or auto")
      ("resize", po::value(&f.resize)->default_value(f.resize), "resize | center_crop")
      ("flip", po::value(&f.flip)->default_value(f.flip), "horizontal flips: auto | true | false")
      ("crop-padding", po::value(&f.crop_padding)->default_value(f.crop_padding), "random-crop padding, or auto")
      ("skip-bad-images", po::bool_switch(&f.skip_bad_images), "training would skip bad images")
      ("json", po::bool_switch(&f.json), "print one JSON object");
  // clang-format on
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (f.dir.empty()) throw UsageError("give the dataset directory", usage);
  DataOptions d = data_settings(f, usage).data;
  d.skip_bad_images = f.skip_bad_images;
  DataOptions read = d;
  read.skip_bad_images = true;  // list every bad file, whatever training would do
  read.valid_images = 0;        // statistics and counts over all training files
  read.train_images = 0;
  read.load_test = true;
  read.test_if_present = true;
  const DataSplits data = load_dataset(read);
  if (f.json)
    print_json(f, d, data);
  else
    print_text(f, d, data);
  return 0;
}

}  // namespace

int run_data(const Args& args) {
  const std::string usage =
      "usage: cellforge data check DIR [options] (cellforge data check --help)\n";
  if (args.empty() || args[0] != "check")
    throw UsageError(args.empty() ? "missing subcommand 'check'"
                                  : "unknown subcommand '" + args[0] + "' (only 'check')",
                     usage);
  return run_data_check(Args(args.begin() + 1, args.end()));
}

}  // namespace cf::cli

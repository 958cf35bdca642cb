#include "search/cli/options.h"

#include <iostream>
#include <sstream>

#include "search/campaign.h"
#include "search/front.h"

namespace cf::cli {

namespace po = boost::program_options;

std::string usage_text(const std::string& usage_line, const po::options_description& options) {
  std::ostringstream out;
  out << "usage: " << usage_line << "\n" << options;
  return out.str();
}

bool parse_args(const Args& args, const po::options_description& options,
                const std::string& usage_line, po::variables_map& vm,
                const po::positional_options_description* positional) {
  const std::string usage = usage_text(usage_line, options);
  try {
    po::command_line_parser parser(args);
    parser.options(options);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << usage;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what(), usage);
  }
  return true;
}

void add_stacking_options(po::options_description& options, StackingOptions& values,
                          bool with_input_and_classes) {
  options.add_options()("stem", po::value(&values.stem)->default_value(values.stem),
                        "stem: cifar | imagenet")(
      "stem-multiplier", po::value(&values.stem_multiplier)->default_value(values.stem_multiplier),
      "stem channels multiplier")(
      "cells-per-stack", po::value(&values.cells_per_stack)->default_value(values.cells_per_stack),
      "N: normal cells per stack")(
      "filters", po::value(&values.filters)->default_value(values.filters), "F: base filters");
  if (with_input_and_classes)
    options.add_options()("input", po::value(&values.input)->default_value(values.input),
                          "input HxWxC")(
        "classes", po::value(&values.classes)->default_value(values.classes), "number of classes");
  options.add_options()("aux-head", po::bool_switch(&values.aux_head), "add the auxiliary head");
}

NetworkSpec to_network_spec(const StackingOptions& values, const std::string& usage) {
  NetworkSpec spec;
  const auto stem = stem_from_name(values.stem);
  if (!stem) throw UsageError("--stem: '" + values.stem + "' is not cifar or imagenet", usage);
  spec.stem = *stem;
  auto shape = parse_input_shape(values.input);
  if (!shape)
    throw UsageError("--input: '" + values.input + "' is not HxWxC (e.g. 28x28x1)", usage);
  spec.input = *shape;
  spec.stem_multiplier = values.stem_multiplier;
  spec.cells_per_stack = values.cells_per_stack;
  spec.filters = values.filters;
  spec.classes = values.classes;
  spec.aux_head = values.aux_head;
  try {
    validate(spec);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what(), usage);
  }
  return spec;
}

// The RUN_DIR argument of a command that takes nothing else; nullopt after --help.
std::optional<std::string> run_dir_argument(const Args& args, const std::string& usage_line) {
  std::string run_dir;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("run-dir", po::value(&run_dir),
                                                    "run directory");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return std::nullopt;
  if (run_dir.empty()) throw UsageError("RUN_DIR is required", usage_text(usage_line, options));
  return run_dir;
}

Architecture load_arch(const std::string& arch, const std::string& usage,
                       const std::string& space) {
  if (arch.empty()) throw UsageError("--arch is required", usage);
  if (!space.empty() && space != "nasnet" && space != "nb201")
    throw UsageError("--space: '" + space + "' is not nasnet or nb201", usage);
  Architecture a = resolve_architecture(arch);
  if (!space.empty() && a.space() != space)
    throw UsageError("--arch is a " + std::string(a.space()) + " architecture, not " + space,
                     usage);
  return a;
}

void add_space_option(po::options_description& options, std::string& space) {
  options.add_options()("space", po::value(&space),
                        "nasnet | nb201: the space --arch must belong to (optional; a "
                        "NAS-Bench-201 string |op~0|+... is nb201)");
}

void apply_space_defaults(const Architecture& arch, const po::variables_map& vm,
                          StackingOptions& values, const std::string& usage) {
  if (!arch.is_nb201()) return;
  auto given = [&](const char* option) { return vm.count(option) && !vm[option].defaulted(); };
  for (const char* option : {"stem", "stem-multiplier"})
    if (given(option))
      throw UsageError(std::string("--") + option + " does not apply to the NAS-Bench-201 network",
                       usage);
  if (values.aux_head)
    throw UsageError("--aux-head does not apply to the NAS-Bench-201 network", usage);
  const NetworkSpec nb201 = default_network_spec("nb201");
  if (!given("cells-per-stack")) values.cells_per_stack = nb201.cells_per_stack;
  if (!given("filters")) values.filters = nb201.filters;
}

std::vector<CostKind> front_costs_option(const std::string& objectives, const std::string& run_dir,
                                         const std::string& usage) {
  if (objectives.empty()) return default_front_costs(load_run_config(run_dir, {}));
  try {
    return parse_cost_list(objectives);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--objectives: ") + e.what(), usage);
  }
}

}  // namespace cf::cli

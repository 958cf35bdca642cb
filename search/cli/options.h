#pragma once
// Shared command-line plumbing: option parsing that turns every mistake into a UsageError,
// and the stacking options that stats, draw, train and export share.
#include <boost/program_options.hpp>
#include <optional>
#include <string>

#include "search/cli/commands.h"
#include "search/objective.h"
#include "space/architecture.h"
#include "space/genotype.h"
#include "space/network.h"

namespace cf::cli {

// Parses args; unknown options, missing values and malformed numbers throw UsageError with the
// usage text (options description). Returns false when --help was asked for (help printed).
bool parse_args(const Args& args, const boost::program_options::options_description& options,
                const std::string& usage_line, boost::program_options::variables_map& vm,
                const boost::program_options::positional_options_description* positional = nullptr);

std::string usage_text(const std::string& usage_line,
                       const boost::program_options::options_description& options);

struct StackingOptions {
  std::string stem = "cifar";
  double stem_multiplier = 3.0;
  int cells_per_stack = 6;
  int filters = 32;
  std::string input = "32x32x3";
  int classes = 10;
  bool aux_head = false;
};

// Adds --stem --stem-multiplier --cells-per-stack --filters [--input --classes] --aux-head.
void add_stacking_options(boost::program_options::options_description& options,
                          StackingOptions& values, bool with_input_and_classes = true);

// Validated NetworkSpec; a bad value throws UsageError naming the option.
NetworkSpec to_network_spec(const StackingOptions& values, const std::string& usage);

// The RUN_DIR argument of a command that takes nothing else; nullopt after --help.
std::optional<std::string> run_dir_argument(const Args& args, const std::string& usage_line);

// --arch: a built-in name, a NAS-Bench-201 architecture string or a genotype file of either space
// (UsageError when missing).
// `space`, when not empty (--space), must be the architecture's ("nasnet" or "nb201").
Architecture load_arch(const std::string& arch, const std::string& usage,
                       const std::string& space = {});
// Adds --space nasnet|nb201: which space --arch belongs to (checked, optional).
void add_space_option(boost::program_options::options_description& options, std::string& space);

// The costs of a campaign's Pareto front for `top --pareto` / `export --pareto`: --objectives
// (a comma list of one or two of params, macs, latency; UsageError naming it otherwise), or when
// empty the campaign's (objective.pareto, or params for a scalar campaign).
std::vector<CostKind> front_costs_option(const std::string& objectives, const std::string& run_dir,
                                         const std::string& usage);

// The stacking options a space does not share with NASNet: a NAS-Bench-201 architecture takes
// the benchmark's N = 5 and F = 16 unless --cells-per-stack / --filters were given, and refuses
// --stem, --stem-multiplier and --aux-head (its network has no such parts).
void apply_space_defaults(const Architecture& arch, const boost::program_options::variables_map& vm,
                          StackingOptions& values, const std::string& usage);

}  // namespace cf::cli

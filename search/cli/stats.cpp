// cellforge stats: params, MACs and notation of a stacked network.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

}  // namespace

int run_stats(const Args& args) {
  const std::string usage_line =
      "cellforge stats --arch NAME|FILE|NB201_STRING [stacking options] [--json]";
  std::string space;
  std::string arch;
  bool json = false;
  StackingOptions stacking;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch),
      "built-in name (nasnet_a, amoebanet_a), NAS-Bench-201 string (|op~0|+...) or genotype JSON "
      "file of either space")("json", po::bool_switch(&json), "print one JSON object");
  add_stacking_options(options, stacking);
  add_space_option(options, space);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const std::string usage = usage_text(usage_line, options);
  const Architecture architecture = load_arch(arch, usage, space);
  apply_space_defaults(architecture, vm, stacking, usage);
  const NetworkSpec spec = to_network_spec(stacking, usage);
  const Network net = build_network(architecture, spec);
  const std::string name = architecture.name().empty() ? arch : architecture.name();
  const std::string hash = canonical_hash(architecture);
  const bool nb201 = architecture.is_nb201();
  if (json) {
    nlohmann::json out = {{"arch", name},
                          {"space", architecture.space()},
                          {"hash", hash},
                          {"params", net.params()},
                          {"macs", net.macs()},
                          {"notation", net.notation()},
                          {"stem", nb201 ? "nb201" : stem_name(spec.stem)},
                          {"stem_multiplier", nb201 ? 1.0 : spec.stem_multiplier},
                          {"cells_per_stack", spec.cells_per_stack},
                          {"filters", spec.filters},
                          {"input", {spec.input.h, spec.input.w, spec.input.c}},
                          {"classes", spec.classes},
                          {"aux_head", spec.aux_head},
                          {"cells", net.num_cells},
                          {"layers", net.layers.size()}};
    std::cout << out.dump() << "\n";
  } else {
    std::printf("arch      %s (hash %s)\n", name.c_str(), hash.c_str());
    char stem[64];
    if (nb201)
      std::snprintf(stem, sizeof stem, "NAS-Bench-201 network, C=%d", spec.filters);
    else
      std::snprintf(stem, sizeof stem, "%s stem x%g", std::string(stem_name(spec.stem)).c_str(),
                    spec.stem_multiplier);
    std::printf("network   %s, %s, input %dx%dx%d, %d classes%s\n", net.notation().c_str(), stem,
                spec.input.h, spec.input.w, spec.input.c, spec.classes,
                spec.aux_head ? ", auxiliary head" : "");
    std::printf("params    %s (%.2fM)\n", with_commas(net.params()).c_str(), net.params() / 1e6);
    std::printf("macs      %s (%.1fM)\n", with_commas(net.macs()).c_str(), net.macs() / 1e6);
    std::printf("cells     %d, layers %zu\n", net.num_cells, net.layers.size());
  }
  return 0;
}

}  // namespace cf::cli

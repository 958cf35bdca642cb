// cellforge stats / draw / version.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "results/draw.h"
#include "search/cli_common.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

Genotype load_arch(const std::string& arch, const std::string& usage) {
  if (arch.empty()) throw UsageError("--arch is required", usage);
  return resolve_genotype(arch);
}

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

}  // namespace

int run_version(const Args&) {
  std::printf("cellforge %s\n", CELLFORGE_VERSION);
  return 0;
}

int run_stats(const Args& args) {
  const std::string usage_line = "cellforge stats --arch NAME|FILE [stacking options] [--json]";
  std::string arch;
  bool json = false;
  StackingOptions stacking;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch), "built-in name (nasnet_a, amoebanet_a) or genotype JSON file")(
      "json", po::bool_switch(&json), "print one JSON object");
  add_stacking_options(options, stacking);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const std::string usage = usage_text(usage_line, options);
  const NetworkSpec spec = to_network_spec(stacking, usage);
  const Genotype genotype = load_arch(arch, usage);
  const Network net = build_network(genotype, spec);
  const std::string name = genotype.name.empty() ? arch : genotype.name;
  if (json) {
    nlohmann::json out = {{"arch", name},
                          {"hash", canonical_hash(genotype)},
                          {"params", net.params()},
                          {"macs", net.macs()},
                          {"notation", net.notation()},
                          {"stem", stem_name(spec.stem)},
                          {"stem_multiplier", spec.stem_multiplier},
                          {"cells_per_stack", spec.cells_per_stack},
                          {"filters", spec.filters},
                          {"input", {spec.input.h, spec.input.w, spec.input.c}},
                          {"classes", spec.classes},
                          {"aux_head", spec.aux_head},
                          {"cells", net.num_cells},
                          {"layers", net.layers.size()}};
    std::cout << out.dump() << "\n";
  } else {
    std::printf("arch      %s (hash %s)\n", name.c_str(), canonical_hash(genotype).c_str());
    std::printf("network   %s, %s stem x%g, input %dx%dx%d, %d classes%s\n",
                net.notation().c_str(), std::string(stem_name(spec.stem)).c_str(),
                spec.stem_multiplier, spec.input.h, spec.input.w, spec.input.c, spec.classes,
                spec.aux_head ? ", auxiliary head" : "");
    std::printf("params    %s (%.2fM)\n", with_commas(net.params()).c_str(), net.params() / 1e6);
    std::printf("macs      %s (%.1fM)\n", with_commas(net.macs()).c_str(), net.macs() / 1e6);
    std::printf("cells     %d, layers %zu\n", net.num_cells, net.layers.size());
  }
  return 0;
}

int run_show(const Args& args) {
  const std::string usage_line = "cellforge show --arch NAME|FILE [--canonical]";
  std::string arch;
  bool canonical = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch), "built-in name or genotype JSON file")(
      "canonical", po::bool_switch(&canonical), "print the canonical form and hash instead");
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const Genotype genotype = load_arch(arch, usage_text(usage_line, options));
  if (canonical)
    std::printf("%s\n%s\n", canonical_string(genotype).c_str(), canonical_hash(genotype).c_str());
  else
    std::fputs(write_genotype(genotype).c_str(), stdout);
  return 0;
}

int run_draw(const Args& args) {
  const std::string usage_line = "cellforge draw --arch NAME|FILE -o FILE.dot";
  std::string arch, output;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch), "built-in name or genotype JSON file")(
      "output,o", po::value(&output), "DOT file to write (an .svg is written beside it)");
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (output.empty()) throw UsageError("-o FILE.dot is required", usage);
  const Genotype genotype = load_arch(arch, usage);
  const auto svg = write_dot_and_svg(genotype, output);
  std::printf("wrote %s%s%s\n", output.c_str(), svg.empty() ? "" : " and ", svg.string().c_str());
  return 0;
}

}  // namespace cf::cli

// cellforge draw: Graphviz pictures of an architecture's cells.
#include "results/draw.h"

#include <cstdio>

#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_draw(const Args& args) {
  const std::string usage_line = "cellforge draw --arch NAME|FILE -o FILE.dot";
  std::string space;
  std::string arch, output;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch), "built-in name, NAS-Bench-201 string or genotype JSON file")(
      "output,o", po::value(&output), "DOT file to write (an .svg is written beside it)");
  add_space_option(options, space);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (output.empty()) throw UsageError("-o FILE.dot is required", usage);
  const Architecture architecture = load_arch(arch, usage, space);
  const auto svg = write_dot_and_svg(architecture, output);
  std::printf("wrote %s%s%s\n", output.c_str(), svg.empty() ? "" : " and ", svg.string().c_str());
  return 0;
}

}  // namespace cf::cli

// cellforge show: an architecture's genotype JSON or canonical form.
#include <cstdio>

#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_show(const Args& args) {
  const std::string usage_line = "cellforge show --arch NAME|FILE|NB201_STRING [--canonical]";
  std::string space;
  std::string arch;
  bool canonical = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch), "built-in name, NAS-Bench-201 string or genotype JSON file")(
      "canonical", po::bool_switch(&canonical), "print the canonical form and hash instead");
  add_space_option(options, space);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const Architecture architecture = load_arch(arch, usage_text(usage_line, options), space);
  if (canonical)
    std::printf("%s\n%s\n", describe(architecture).c_str(), canonical_hash(architecture).c_str());
  else
    std::fputs(write_architecture(architecture).c_str(), stdout);
  return 0;
}

}  // namespace cf::cli

// cellforge show: an architecture's genotype JSON or canonical form.
#include <cstdio>

#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_show(const Args& args) {
  const std::string usage_line = "cellforge show --arch NAME|FILE [--canonical]";
  std::string arch;
  bool canonical = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("arch", po::value(&arch),
                                                    "built-in name or genotype JSON file")(
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

}  // namespace cf::cli

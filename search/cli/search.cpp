// cellforge search: start a campaign from a config file.
#include <iostream>

#include "search/cli/campaign_command.h"
#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_search(const Args& args) {
  const std::string usage_line =
      "cellforge search CONFIG [--set section.key=value ...] [--help-config]";
  std::string config_file;
  std::vector<std::string> overrides;
  bool help_config = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("config", po::value(&config_file),
                                                    "campaign config file (INI)")(
      "set", po::value(&overrides)->composing(),
      "override a config key, e.g. --set proxy.epochs=2")(
      "help-config", po::bool_switch(&help_config), "document every config key");
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  if (help_config) {
    std::cout << "Config keys (INI sections [campaign] [space] [controller] [proxy] [budget]):\n\n"
              << config_reference_markdown();
    return 0;
  }
  if (config_file.empty()) throw UsageError("CONFIG is required", usage_text(usage_line, options));
  CampaignConfig config = load_config(config_file, overrides);
  return run_campaign_command(config, {}, "search");
}

}  // namespace cf::cli

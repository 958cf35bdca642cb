// cellforge resume: continue a stopped campaign.
#include "search/cli/campaign_command.h"
#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_resume(const Args& args) {
  const std::string usage_line = "cellforge resume RUN_DIR [--set budget.key=value ...] [--force]";
  std::string run_dir;
  std::vector<std::string> overrides;
  bool force = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("run-dir", po::value(&run_dir),
                                                    "the campaign's run directory")(
      "set", po::value(&overrides)->composing(),
      "override a key, e.g. --set budget.candidates=200")("force", po::bool_switch(&force),
                                                          "resume even though the config changed");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  if (run_dir.empty()) throw UsageError("RUN_DIR is required", usage_text(usage_line, options));
  CampaignConfig config = load_run_config(run_dir, overrides);
  config.dir = run_dir;  // the directory may have moved since
  config.values["campaign.dir"] = run_dir;
  CampaignRunOptions run;
  run.resume = true;
  run.force = force;
  return run_campaign_command(config, run, "resume");
}

}  // namespace cf::cli

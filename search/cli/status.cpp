// cellforge status: a summary of a run directory (running or not).
#include <iostream>

#include "search/campaign.h"
#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_status(const Args& args) {
  const auto run_dir = run_dir_argument(args, "cellforge status RUN_DIR");
  if (run_dir) std::cout << campaign_status_text(*run_dir);
  return 0;
}

}  // namespace cf::cli

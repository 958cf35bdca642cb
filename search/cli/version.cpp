// cellforge version.
#include <cstdio>

#include "search/cli/commands.h"

namespace cf::cli {

int run_version(const Args&) {
  std::printf("cellforge %s\n", CELLFORGE_VERSION);
  return 0;
}

}  // namespace cf::cli

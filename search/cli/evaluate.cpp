// cellforge _evaluate: the worker process that trains one candidate (internal).
#include <cstdio>

#include "search/cli/commands.h"
#include "search/evaluator.h"

namespace cf::cli {

int run_evaluate_worker(const Args&) {
  return run_worker(stdin, stdout);
}

}  // namespace cf::cli

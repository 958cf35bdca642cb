#pragma once
// Subcommands of the cellforge executable. Each takes the arguments after its name and returns
// the process exit code. Bad command lines throw UsageError (main prints it with the usage, exit
// 2).
#include <stdexcept>
#include <string>
#include <vector>

namespace cf::cli {

class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string usage)
      : std::runtime_error(message), usage_(std::move(usage)) {}
  const std::string& usage() const { return usage_; }

 private:
  std::string usage_;
};

using Args = std::vector<std::string>;

int run_version(const Args& args);
int run_stats(const Args& args);
int run_latency(const Args& args);
int run_draw(const Args& args);
int run_show(const Args& args);
int run_export(const Args& args);
int run_report(const Args& args);
int run_fidelity(const Args& args);
int run_train(const Args& args);
int run_benchmark(const Args& args);
int run_zero_cost(const Args& args);
int run_search(const Args& args);
int run_resume(const Args& args);
int run_status(const Args& args);
int run_top(const Args& args);
int run_check(const Args& args);
int run_supernet(const Args& args);        // supernet train|score CONFIG
int run_data(const Args& args);             // data check DIR
int run_evaluate_worker(const Args& args);  // internal: one candidate in a worker process

}  // namespace cf::cli

// cellforge: one executable, one subcommand per job.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "search/cli/commands.h"
#include "search/mpi_session.h"
#include "trainer/cpus.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(const cf::cli::Args&);
  std::string_view summary;
};

constexpr Command kCommands[] = {
    {"search", cf::cli::run_search, "run a search campaign from a config file"},
    {"resume", cf::cli::run_resume, "continue a stopped campaign"},
    {"status", cf::cli::run_status, "summarise a campaign (running or not)"},
    {"top", cf::cli::run_top, "list a campaign's best candidates"},
    {"check", cf::cli::run_check, "check a run directory's results database for damage"},
    {"stats", cf::cli::run_stats, "params, MACs and N@P notation of a stacked network"},
    {"latency", cf::cli::run_latency, "batch-1 inference latency of a stacked network"},
    {"fidelity", cf::cli::run_fidelity, "Kendall tau between proxy and full-size accuracy"},
    {"report", cf::cli::run_report, "self-contained HTML report of a campaign"},
    {"export", cf::cli::run_export, "genotype JSON, DOT/SVG, PyTorch and ONNX of found networks"},
    {"show", cf::cli::run_show, "print an architecture's genotype JSON (or canonical form)"},
    {"draw", cf::cli::run_draw, "Graphviz picture of an architecture's cells"},
    {"train", cf::cli::run_train, "train a stacked network on an image dataset"},
    {"data", cf::cli::run_data, "data check DIR: what cellforge sees in a dataset directory"},
    {"supernet", cf::cli::run_supernet,
     "weight sharing: train a one-shot supernet over a config's space, score cells with it"},
    {"benchmark", cf::cli::run_benchmark, "search strategies on the NAS-Bench-201 table"},
    {"zero-cost", cf::cli::run_zero_cost,
     "zero-cost proxy scores of architectures (CSV, resumable)"},
    {"version", cf::cli::run_version, "print the version"},
};

void print_help(std::FILE* out) {
  std::fprintf(out,
               "cellforge %s - neural architecture search for NASNet-style cells\n\n"
               "usage: cellforge <command> [options]   (cellforge <command> --help)\n\ncommands:\n",
               CELLFORGE_VERSION);
  for (const auto& c : kCommands)
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
}

}  // namespace

int main(int argc, char** argv) {
  cf::reexec_with_openmp_policy(argv);  // before anything else: it may start the program again
  if (argc < 2) {
    print_help(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_help(stdout);
    return 0;
  }
  if (name == "--version") return cf::cli::run_version({});
  if (name == "_evaluate") return cf::cli::run_evaluate_worker({});  // worker processes
  // Under mpirun / srun, search and resume run as MPI ranks: rank 0 goes on to run the campaign,
  // the other ranks only train its candidates.
  cf::MpiSession mpi(name == "search" || name == "resume");
  if (const auto worker_rank_exit_code = mpi.serve_unless_rank0()) return *worker_rank_exit_code;
  for (const auto& c : kCommands) {
    if (c.name != name) continue;
    const cf::cli::Args args(argv + 2, argv + argc);
    try {
      return c.run(args);
    } catch (const cf::cli::UsageError& e) {
      std::fprintf(stderr, "cellforge %s: error: %s\n%s", argv[1], e.what(), e.usage().c_str());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cellforge %s: error: %s\n", argv[1], e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "cellforge: error: unknown command '%s'\n", argv[1]);
  print_help(stderr);
  return 2;
}

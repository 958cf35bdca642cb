#pragma once
// Campaigns across machines: under an MPI launcher (mpirun, srun), `search` and `resume` run as K
// ranks. Rank 0 runs the campaign (controller, results database, logs); ranks 1..K-1 only train the
// candidates rank 0 sends them, each in a `cellforge _evaluate` child process as a local worker
// would, and send progress and results back. K ranks evaluate exactly like K-1 local workers.
#include <filesystem>
#include <memory>
#include <optional>

#include "search/config.h"
#include "search/evaluator.h"

namespace cf {

// Rank and size as an MPI launcher announces them in the environment: Open MPI's mpirun, PMIx
// (srun --mpi=pmix) or PMI (MPICH's hydra, srun --mpi=pmi2); nullopt when no launcher started
// this process. Size 0: not announced.
struct MpiLaunch {
  int rank = 0;
  int size = 0;
};
std::optional<MpiLaunch> mpi_launch_from_environment();

// MPI for one `search` / `resume` process. Does nothing unless `wanted` and an MPI launcher
// started the process (its environment says so); then initialises MPI. On rank 0 the destructor
// stops every worker rank before finalising MPI, whatever way the command ended.
class MpiSession {
 public:
  explicit MpiSession(bool wanted);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  // Ranks other than 0 train candidates until rank 0 stops them and return their exit code here;
  // nullopt on rank 0 and outside MPI, where the command runs as usual. A build without MPI
  // launched as several ranks returns 1 on every rank (rank 0 says why).
  std::optional<int> serve_unless_rank0();

 private:
  int rank_ = 0;
  int size_ = 1;
  bool initialised_ = false;
};

// Ranks that train candidates for this process (K-1 under `mpirun -np K` on rank 0; 0 without
// MPI, with a single rank, or outside an MpiSession).
int mpi_worker_ranks();

// Rank 0's evaluator: one job at a time on each worker rank. Worker processes' stderr comes back
// with each result and is appended to worker_log. Threads per candidate: config.threads split
// among config.workers, as for local workers.
std::unique_ptr<Evaluator> make_mpi_evaluator(const CampaignConfig& config,
                                              const std::filesystem::path& worker_log);

}  // namespace cf

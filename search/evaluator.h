#pragma once
// How a campaign gets candidates evaluated: training in worker processes (crash-isolated), or a
// tabular benchmark looked up in process. Both take jobs and hand back results as they finish.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "search/config.h"
#include "space/genotype.h"
#include "space/network.h"
#include "trainer/latency.h"

namespace cf {

struct Job {
  int64_t id = 0;
  std::string hash;
  nlohmann::json genotype;
  // Successive halving ([scheduler]): the epochs this evaluation stops after (0: the proxy's
  // epochs), the candidate's checkpoint directory (empty: none; train from scratch, keep
  // nothing), and whether to measure an [objective] latency (only its first evaluation does).
  int epochs = 0;
  std::string checkpoint_dir;
  bool measure_latency = true;
};

struct JobResult {
  int64_t id = 0;
  bool ok = false;
  double accuracy = 0;        // proxy validation accuracy (0..1)
  std::string status = "ok";  // ok | diverged | memory_limit | failed | crashed
  std::string reason;
  int64_t params = 0, macs = 0;
  double seconds = 0;
  nlohmann::json metrics = nlohmann::json::object();
};

struct JobProgress {
  int64_t id = 0;
  int epoch = 0, epochs = 0, step = 0, steps = 0;
  double loss = 0;
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual int capacity() const = 0;  // jobs at once
  virtual int in_flight() const = 0;
  virtual void submit(const Job& job) = 0;
  // Finished jobs, waiting up to timeout_seconds for the first one.
  virtual std::vector<JobResult> wait(double timeout_seconds) = 0;
  // Latest progress of the running job with the lowest id.
  virtual std::optional<JobProgress> progress() const { return std::nullopt; }
  // Stops every running job (their work is lost and redone on resume).
  virtual void cancel_all() = 0;
};

// Runs each job as `cellforge _evaluate` in its own process: a crash or out-of-memory kill of one
// candidate marks that candidate failed and nothing else. The threads of config.proxy are split
// evenly among config.budget.workers processes.
std::unique_ptr<Evaluator> make_process_evaluator(const CampaignConfig& config,
                                                  const std::filesystem::path& worker_log);

// Looks candidates up in the NAS-Bench-201 table (config.proxy.table / dataset).
std::unique_ptr<Evaluator> make_table_evaluator(const CampaignConfig& config);

// One `cellforge _evaluate` child process training one job: the job JSON line goes to its stdin,
// progress and result lines come back on its stdout, its stderr goes to log_fd. Shared by the
// process evaluator and MPI worker ranks. Dies with its parent; killed and reaped when destroyed
// before it has ended.
class EvaluateProcess {
 public:
  // `cpus`: the worker process's CPUs (a campaign gives each worker slot its own, so that the
  // trainer's thread pinning, trainer/cpus.h, never puts two workers on one CPU); empty: the
  // parent's.
  EvaluateProcess(int64_t job_id, const std::string& job_json, int log_fd,
                  const std::vector<int>& cpus = {});
  ~EvaluateProcess();
  EvaluateProcess(const EvaluateProcess&) = delete;
  EvaluateProcess& operator=(const EvaluateProcess&) = delete;

  int64_t job_id() const { return job_id_; }
  int output_fd() const { return fd_; }  // poll() it for input
  // Reads what the child has written (one read: call when output_fd() is readable). Returns true
  // once the child has ended and been reaped.
  bool read_output();
  bool ended() const { return fd_ < 0; }
  // Latest progress line of the child, if any yet.
  const std::optional<JobProgress>& progress() const { return progress_; }
  // After ended(): the result the child reported, or status "crashed" with how it ended.
  JobResult result() const;

 private:
  void handle_line(const std::string& line);

  int64_t job_id_ = 0;
  pid_t pid_ = -1;
  int fd_ = -1;
  int exit_status_ = 0;
  std::string buffer_;
  std::optional<JobProgress> progress_;
  std::optional<JobResult> reported_;
};

// The JSON forms of results and progress, as worker processes and MPI ranks send them.
nlohmann::json job_result_to_json(const JobResult& result);
JobResult job_result_from_json(const nlohmann::json& j);  // id is left 0
nlohmann::json job_progress_to_json(const JobProgress& progress);
JobProgress job_progress_from_json(int64_t id, const nlohmann::json& j);

// [objective] latency: the proxy network (`spec`) as inference runs it (no auxiliary head, no
// dropout; cells_per_stack / filters > 0 replace the stacking's), measured before training so
// that a candidate over objective.max_latency_ms is not trained. The metrics.latency JSON.
nlohmann::json candidate_latency(const Genotype& genotype, NetworkSpec spec,
                                 const LatencyOptions& options, int cells_per_stack, int filters);

// The job description a worker process reads: the candidate plus the proxy settings.
nlohmann::json job_to_json(const Job& job, const CampaignConfig& config, int threads);
// The worker side: reads one job (JSON line) from `in`, trains, writes progress lines and a final
// result line to `out`. Returns the process exit code.
int run_worker(std::FILE* in, std::FILE* out);

}  // namespace cf

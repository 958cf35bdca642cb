#include "search/evaluator.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "controller/nb201_table.h"
#include "space/genotype.h"
#include "space/json_text.h"
#include "space/network.h"
#include "trainer/checkpoint.h"
#include "trainer/cpus.h"
#include "trainer/latency.h"
#include "trainer/train.h"

namespace cf {

namespace {

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    std::string reason =
        "worker killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    if (sig == SIGKILL) reason += ", e.g. by the out-of-memory killer";
    return reason;
  }
  if (WIFEXITED(status))
    return "worker exited with code " + std::to_string(WEXITSTATUS(status)) + " without a result";
  return "worker ended abnormally";
}

class ProcessEvaluator final : public Evaluator {
 public:
  ProcessEvaluator(const CampaignConfig& config, std::filesystem::path worker_log)
      : config_(config), worker_log_(std::move(worker_log)) {
    threads_ = std::max(1, config.proxy.train.threads / std::max(1, config.workers));
  }

  int capacity() const override { return config_.workers; }
  int in_flight() const override { return static_cast<int>(processes_.size()); }

  void submit(const Job& job) override {
    const int log_fd = open(worker_log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    std::unique_ptr<EvaluateProcess> process;
    const int slot = free_slot();
    try {
      process = std::make_unique<EvaluateProcess>(
          job.id, job_to_json(job, config_, threads_).dump(), log_fd, slot_cpus(slot));
    } catch (...) {
      if (log_fd >= 0) close(log_fd);
      throw;
    }
    if (log_fd >= 0) close(log_fd);
    processes_.push_back(std::move(process));
    slots_.push_back(slot);
  }

  std::vector<JobResult> wait(double timeout_seconds) override {
    std::vector<JobResult> done;
    if (processes_.empty()) return done;
    std::vector<pollfd> fds;
    for (const auto& p : processes_) fds.push_back({p->output_fd(), POLLIN, 0});
    const int rc = poll(fds.data(), fds.size(), static_cast<int>(timeout_seconds * 1000));
    if (rc < 0 && errno != EINTR)
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (processes_[k]->read_output()) done.push_back(processes_[k]->result());
    }
    for (size_t k = processes_.size(); k-- > 0;)
      if (processes_[k]->ended()) {
        processes_.erase(processes_.begin() + static_cast<std::ptrdiff_t>(k));
        slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(k));
      }
    return done;
  }

  std::optional<JobProgress> progress() const override {
    const EvaluateProcess* first = nullptr;
    for (const auto& p : processes_)
      if (p->progress() && (!first || p->job_id() < first->job_id())) first = p.get();
    if (!first) return std::nullopt;
    return first->progress();
  }

  void cancel_all() override {  // each destructor kills its process
    processes_.clear();
    slots_.clear();
  }

 private:
  int free_slot() const {
    for (int slot = 0;; ++slot)
      if (std::find(slots_.begin(), slots_.end(), slot) == slots_.end()) return slot;
  }

  // Worker slot k trains on CPUs [k * threads, (k + 1) * threads) of the campaign's affinity
  // mask when all slots fit; otherwise workers are not pinned.
  std::vector<int> slot_cpus(int slot) const {
    const std::vector<int> cpus = affinity_cpus();
    if (!pinning_permitted() ||
        static_cast<int64_t>(config_.workers) * threads_ > static_cast<int64_t>(cpus.size()))
      return {};
    return {cpus.begin() + slot * threads_, cpus.begin() + (slot + 1) * threads_};
  }

  const CampaignConfig& config_;
  std::filesystem::path worker_log_;
  int threads_ = 1;
  std::vector<std::unique_ptr<EvaluateProcess>> processes_;
  std::vector<int> slots_;  // slots_[k]: the worker slot of processes_[k]
};

class TableEvaluator final : public Evaluator {
 public:
  explicit TableEvaluator(const CampaignConfig& config)
      : table_(Nb201Table::load(config.table)),
        evaluator_(table_, *nb201_dataset_from_name(config.dataset)) {}
  int capacity() const override { return 1; }
  // A job is looked up when submitted and held until wait() hands it back: in flight until then.
  int in_flight() const override { return static_cast<int>(not_yet_returned_.size()); }
  void submit(const Job& job) override {
    const DecisionSeq seq = table_.space().from_json(job.genotype);
    const EvalResult r = evaluator_.evaluate(seq);
    JobResult out;
    out.id = job.id;
    out.ok = r.ok();
    out.status = r.ok() ? "ok" : "failed";
    out.reason = r.failure_reason;
    out.accuracy = r.ok() ? *r.reward : 0.0;
    if (auto test = evaluator_.final_test_accuracy(seq)) out.metrics["test_accuracy_200ep"] = *test;
    not_yet_returned_.push_back(out);
  }
  std::vector<JobResult> wait(double) override { return std::exchange(not_yet_returned_, {}); }
  void cancel_all() override { not_yet_returned_.clear(); }

 private:
  Nb201Table table_;
  Nb201Evaluator evaluator_;
  std::vector<JobResult> not_yet_returned_;
};

uint64_t candidate_seed(uint64_t campaign_seed, const std::string& hash) {
  // Duplicates of an architecture train identically; different campaigns differ.
  return campaign_seed ^ std::stoull(hash.substr(0, 16), nullptr, 16);
}

}  // namespace

std::unique_ptr<Evaluator> make_process_evaluator(const CampaignConfig& config,
                                                  const std::filesystem::path& worker_log) {
  return std::make_unique<ProcessEvaluator>(config, worker_log);
}

std::unique_ptr<Evaluator> make_table_evaluator(const CampaignConfig& config) {
  return std::make_unique<TableEvaluator>(config);
}

EvaluateProcess::EvaluateProcess(int64_t job_id, const std::string& job_json, int log_fd,
                                 const std::vector<int>& cpus)
    : job_id_(job_id) {
  // Prepared here: between fork and exec the child only makes system calls (the parent may
  // have other threads, so no allocation there).
  cpu_set_t pin;
  CPU_ZERO(&pin);
  for (int cpu : cpus)
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &pin);
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("cannot create a pipe for a worker: ") +
                             std::strerror(errno));
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    const int error = errno;
    close(to_child[0]);
    close(to_child[1]);
    throw std::runtime_error(std::string("cannot create a pipe for a worker: ") +
                             std::strerror(error));
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    const int error = errno;
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) close(fd);
    throw std::runtime_error(std::string("cannot start a worker: ") + std::strerror(error));
  }
  if (pid_ == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    if (log_fd >= 0) dup2(log_fd, 2);
    // Nothing else of the parent's (the results database, MPI's sockets) belongs in a worker.
    close_range(3, ~0U, 0);
    // Ignored signals stay ignored across exec (MPI worker ranks ignore these): a worker takes the
    // defaults.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGINT, &default_action, nullptr);
    sigaction(SIGTERM, &default_action, nullptr);
    setpgid(0, 0);  // a Ctrl-C in the terminal goes to the campaign, which stops its workers
    prctl(PR_SET_PDEATHSIG, SIGKILL);   // and a killed campaign takes its workers with it
    if (getppid() != parent) _exit(1);  // the campaign died before prctl took effect
    if (!cpus.empty()) sched_setaffinity(0, sizeof pin, &pin);
    execl("/proc/self/exe", "cellforge", "_evaluate", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  fd_ = from_child[0];
  const std::string line = job_json + "\n";
  // The job is small (well under a pipe buffer), so this write cannot block. Should it fail, the
  // worker reads no job and exits without a result, which fails the candidate.
  [[maybe_unused]] const ssize_t written = write(to_child[1], line.data(), line.size());
  close(to_child[1]);
}

EvaluateProcess::~EvaluateProcess() {
  if (ended()) return;
  ::kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  close(fd_);
}

bool EvaluateProcess::read_output() {
  if (ended()) return true;
  char buf[65536];
  const ssize_t n = read(fd_, buf, sizeof buf);
  if (n > 0) {
    buffer_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      handle_line(buffer_.substr(0, nl));
      buffer_.erase(0, nl + 1);
    }
    return false;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  // End of output: the worker is done or dead.
  close(fd_);
  fd_ = -1;
  waitpid(pid_, &exit_status_, 0);
  return true;
}

JobResult EvaluateProcess::result() const {
  JobResult r;
  if (reported_ && WIFEXITED(exit_status_) && WEXITSTATUS(exit_status_) == 0) {
    r = *reported_;
  } else {
    r.ok = false;
    r.status = "crashed";
    r.reason = describe_exit(exit_status_);
  }
  r.id = job_id_;
  return r;
}

void EvaluateProcess::handle_line(const std::string& line) {
  nlohmann::json j;
  try {
    j = parse_json_text(line, "worker");
  } catch (const JsonTextError&) {
    return;  // not a protocol line
  }
  if (!j.is_object()) return;
  if (j.contains("progress"))
    progress_ = job_progress_from_json(job_id_, j["progress"]);
  else if (j.contains("result"))
    reported_ = job_result_from_json(j["result"]);
}

nlohmann::json job_result_to_json(const JobResult& r) {
  return {{"ok", r.ok},           {"accuracy", r.accuracy}, {"status", r.status},
          {"reason", r.reason},   {"params", r.params},     {"macs", r.macs},
          {"seconds", r.seconds}, {"metrics", r.metrics}};
}

JobResult job_result_from_json(const nlohmann::json& r) {
  JobResult res;
  res.ok = r.value("ok", false);
  res.accuracy = r.value("accuracy", 0.0);
  res.status = r.value("status", std::string("failed"));
  res.reason = r.value("reason", std::string());
  res.params = r.value("params", int64_t{0});
  res.macs = r.value("macs", int64_t{0});
  res.seconds = r.value("seconds", 0.0);
  res.metrics = r.value("metrics", nlohmann::json::object());
  return res;
}

nlohmann::json job_progress_to_json(const JobProgress& p) {
  return {{"epoch", p.epoch},
          {"epochs", p.epochs},
          {"step", p.step},
          {"steps", p.steps},
          {"loss", p.loss}};
}

JobProgress job_progress_from_json(int64_t id, const nlohmann::json& p) {
  return JobProgress{id,
                     p.value("epoch", 0),
                     p.value("epochs", 0),
                     p.value("step", 0),
                     p.value("steps", 0),
                     p.value("loss", 0.0)};
}

nlohmann::json job_to_json(const Job& job, const CampaignConfig& c, int threads) {
  // The proxy settings in the training schema's own keys, with this worker's thread count and the
  // candidate's seed; the worker converts them with the same schema (search/config.h).
  std::map<std::string, std::string> settings = c.proxy_settings();
  settings["train.threads"] = std::to_string(threads);
  settings["train.seed"] = std::to_string(candidate_seed(c.seed, job.hash));
  nlohmann::json out = {{"id", job.id},
                        {"hash", job.hash},
                        {"genotype", job.genotype},
                        {"settings", settings},
                        {"data_seed", c.seed}};
  // Successive halving: this evaluation stops after job.epochs of the proxy's schedule and
  // continues from (and leaves) the candidate's checkpoint.
  if (job.epochs > 0) out["stop_after_epochs"] = job.epochs;
  if (!job.checkpoint_dir.empty()) out["checkpoint_dir"] = job.checkpoint_dir;
  if (c.objective.needs_latency() && job.measure_latency)
    out["latency"] = {{"threads", c.objective.latency.threads},
                      {"warmup", c.objective.latency.warmup},
                      {"runs", c.objective.latency.runs},
                      {"max_ms", c.objective.max_latency_ms},
                      {"cells_per_stack", c.objective.latency_cells_per_stack},
                      {"filters", c.objective.latency_filters}};
  return out;
}

namespace {

// A worker's job back into typed settings, checked by the training schema.
TrainSettings job_settings(const nlohmann::json& job) {
  std::vector<Setting> settings;
  for (const auto& [key, value] : job.at("settings").items())
    settings.push_back({key, value.get<std::string>(), "worker job"});
  TrainSettings s = train_config_from_settings(settings);
  s.data.seed = job.at("data_seed").get<uint64_t>();  // one validation split for the whole campaign
  return s;
}

// Trains a job's network: from scratch, or (with "checkpoint_dir") continuing from the
// candidate's newest epoch checkpoint and saving one after every epoch, so that a promotion
// continues where the rung below stopped. Training resumes bit-exactly, so a missing checkpoint
// (removed, or never written) costs time, never a different result.
TrainResult train_job(const nlohmann::json& job, const Network& network, const DataSplits& data,
                      TrainOptions opts, TrainCallbacks callbacks) {
  opts.stop_after_epochs = job.value("stop_after_epochs", 0);
  if (!job.contains("checkpoint_dir")) return train_network(network, data, opts, callbacks);
  const std::filesystem::path dir = job.at("checkpoint_dir").get<std::string>();
  TrainResult refused;
  refused.estimated_bytes = Executor::estimate_bytes(network, opts.batch);
  if (refused.estimated_bytes > opts.memory_limit_bytes) {
    refused.status = TrainStatus::memory_limit;
    refused.reason = "estimated memory " + std::to_string(refused.estimated_bytes >> 20) +
                     " MiB exceeds the limit of " + std::to_string(opts.memory_limit_bytes >> 20) +
                     " MiB";
    return refused;
  }
  ExecutorOptions eo;
  eo.batch = opts.batch;
  eo.drop_path = opts.drop_path > 0.0f;
  eo.precision = usable_precision(opts.precision);
  Executor executor(network, eo);
  std::optional<TrainCheckpoint> checkpoint;
  try {
    checkpoint = load_checkpoint(dir, executor);
  } catch (const std::exception&) {
    // Damaged (a full disk, an edit): training from scratch gives the same result.
    std::filesystem::remove_all(dir);
  }
  // Beyond this job's stop (not made by this campaign's schedule): start over.
  if (checkpoint && opts.stop_after_epochs > 0 &&
      checkpoint->epochs_done > opts.stop_after_epochs) {
    std::filesystem::remove_all(dir);
    checkpoint.reset();
  }
  callbacks.on_checkpoint = [&](const TrainCheckpoint& c) { save_checkpoint(dir, executor, c); };
  TrainResult r = train_network(network, data, opts, callbacks, &executor, !checkpoint,
                                checkpoint ? &*checkpoint : nullptr);
  r.estimated_bytes = refused.estimated_bytes;
  return r;
}

nlohmann::json measure_job_latency(const nlohmann::json& job, const Genotype& genotype,
                                   const NetworkSpec& spec) {
  const nlohmann::json& l = job.at("latency");
  LatencyOptions options;
  options.threads = l.at("threads").get<int>();
  options.warmup = l.at("warmup").get<int>();
  options.runs = l.at("runs").get<int>();
  return candidate_latency(genotype, spec, options, l.value("cells_per_stack", 0),
                           l.value("filters", 0));
}

}  // namespace

nlohmann::json candidate_latency(const Genotype& genotype, NetworkSpec spec,
                                 const LatencyOptions& options, int cells_per_stack,
                                 int filters) {
  spec.aux_head = false;
  spec.dropout = 0;
  if (cells_per_stack > 0) spec.cells_per_stack = cells_per_stack;
  if (filters > 0) spec.filters = filters;
  const LatencyResult r = measure_latency(build_network(genotype, spec), options);
  return {{"median_ms", r.median_ms},     {"min_ms", r.min_ms},
          {"cv", r.cv},                   {"runs", r.runs},
          {"threads", r.threads},         {"cells_per_stack", spec.cells_per_stack},
          {"filters", spec.filters}};
}

int run_worker(std::FILE* in, std::FILE* out) {
  char* line = nullptr;
  size_t cap = 0;
  if (getline(&line, &cap, in) < 0) return 2;
  const std::string text = line;
  std::free(line);
  const nlohmann::json job = parse_json_text(text, "worker job");
  const int64_t id = job.at("id").get<int64_t>();
  // Fault injection for the crash-isolation test: CELLFORGE_FAULT=crash:<candidate id>.
  if (const char* fault = std::getenv("CELLFORGE_FAULT"))
    if (std::string(fault) == "crash:" + std::to_string(id)) std::abort();
  auto emit = [&](const nlohmann::json& j) {
    std::fputs((j.dump() + "\n").c_str(), out);
    std::fflush(out);
  };
  nlohmann::json result = {{"ok", false}, {"status", "failed"}};
  try {
    const TrainSettings settings = job_settings(job);
    const TrainOptions& opts = settings.train;
    const DataSplits data = load_dataset(settings.data);
    NetworkSpec spec = settings.network;
    spec.input = data.train.shape;
    spec.classes = data.train.classes;
    const Genotype genotype = genotype_from_json(job.at("genotype"));
    const Network network = build_network(genotype, spec);
    result["params"] = network.params();
    result["macs"] = network.macs();
    nlohmann::json latency;
    if (job.contains("latency")) {
      latency = measure_job_latency(job, genotype, spec);
      if (const auto over = latency_cap_violation(job.at("latency").at("max_ms").get<double>(),
                                                  latency.at("median_ms").get<double>())) {
        result["status"] = "rejected";
        result["reason"] = *over;
        result["metrics"] = {{"latency", latency}};
        emit({{"result", result}});
        return 0;
      }
    }
    TrainCallbacks callbacks;
    int last_percent = -1;
    callbacks.on_step = [&](int epoch, int step, int steps, double loss, double) {
      const int percent = 100 * step / steps;
      if (percent == last_percent) return;
      last_percent = percent;
      emit({{"progress", job_progress_to_json({id, epoch, opts.epochs, step, steps, loss})}});
    };
    const TrainResult r = train_job(job, network, data, opts, callbacks);
    result["status"] = train_status_name(r.status);
    result["ok"] = r.status == TrainStatus::ok;
    result["reason"] = r.reason;
    result["accuracy"] = r.valid_accuracy;
    result["seconds"] = r.seconds;
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& e : r.epochs)
      epochs.push_back({{"epoch", e.epoch},
                        {"train_loss", e.train_loss},
                        {"train_accuracy", e.train_accuracy},
                        {"valid_accuracy", e.valid_accuracy},
                        {"images_per_second", e.images_per_second}});
    result["metrics"] = {{"epochs", epochs}, {"estimated_bytes", r.estimated_bytes}};
    if (!latency.is_null()) result["metrics"]["latency"] = latency;
  } catch (const std::exception& e) {
    result["ok"] = false;
    result["status"] = "failed";
    result["reason"] = e.what();
  }
  emit({{"result", result}});
  return 0;
}

}  // namespace cf

#include "search/campaign.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "controller/controller.h"
#include "results/store.h"
#include "search/evaluator.h"
#include "search/mpi_session.h"
#include "space/nb201.h"
#include "space/file_io.h"
#include "space/network.h"

namespace cf {

namespace {

std::atomic<int> g_stop_signal{0};
void on_stop_signal(int sig) { g_stop_signal = sig; }

// Exclusive lock on RUN_DIR/lock (an open-file-description lock, released by the kernel when the
// process ends in any way). Readers test it with lock_holder() without taking it, so `status`
// never makes a concurrent `resume` fail.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir) {
    const auto file = dir / "lock";
    fd_ = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(file.string() + ": cannot create the lock file");
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (fcntl(fd_, F_OFD_SETLK, &lock) != 0) {
      char buf[32] = {0};
      const ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
      close(fd_);
      throw std::runtime_error(dir.string() + ": another cellforge process (pid " +
                               (n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?")) +
                               ") is running this campaign");
    }
    const std::string pid = std::to_string(getpid());
    if (ftruncate(fd_, 0) == 0 && pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      // The pid is only informational.
    }
  }
  ~RunLock() { close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Whether a process holds the run lock (tested without taking it; works in a read-only directory).
bool run_lock_held(const std::filesystem::path& dir) {
  const int fd = open((dir / "lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool held = fcntl(fd, F_OFD_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  close(fd);
  return held;
}

std::unique_ptr<SearchSpace> make_space(const CampaignConfig& c) {
  if (c.space_type == "nb201") return std::make_unique<Nb201Space>();
  NasnetSpaceConfig sc;
  for (const auto& op : c.ops) sc.ops.push_back(*op_from_name(op));
  sc.blocks = c.blocks;
  sc.combines.clear();
  for (const auto& comb : c.combines) sc.combines.push_back(comb == "add" ? Combine::add : Combine::concat);
  return std::make_unique<NasnetSpace>(sc);
}

ControllerOptions controller_options(const CampaignConfig& c) {
  ControllerOptions o;
  o.evolution.population = c.population;
  o.evolution.sample_size = c.sample_size;
  o.evolution.identity_prob = c.identity_prob;
  o.rl.algorithm = *rl_algorithm_from_name(c.rl_algorithm);
  o.rl.lstm_hidden = c.rl_hidden;
  o.rl.batch_size = c.rl_batch;
  o.rl.learning_rate = c.rl_lr;
  o.rl.entropy_weight = c.rl_entropy;
  o.rl.baseline_decay = c.rl_baseline_decay;
  return o;
}

void write_text_atomic(const std::filesystem::path& file, const std::string& text) { write_file_atomic(file, text); }

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

}  // namespace

CampaignConfig load_run_config(const std::filesystem::path& run_dir,
                               const std::vector<std::string>& overrides) {
  const auto file = run_dir / "config.ini";
  if (!std::filesystem::exists(run_dir / "results.sqlite"))
    throw std::runtime_error(run_dir.string() + ": not a campaign run directory (no results.sqlite)");
  return load_config(file, overrides);
}

namespace {

constexpr const char* kCreatingPrefix = ".results.sqlite.creating";

// A new campaign's database is built under a hidden name and renamed into place once complete, so
// RUN_DIR/results.sqlite exists only for a campaign whose creation finished: a failed or killed
// creation leaves nothing that `search` would refuse or `resume` could not open.
void create_campaign_files(const CampaignConfig& config, const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().rfind(kCreatingPrefix, 0) == 0) std::filesystem::remove(entry.path());
  const auto tmp = dir / (std::string(kCreatingPrefix) + "-" + std::to_string(getpid()));
  try {
    {
      ResultsStore store(tmp, StoreAccess::create);
      store.set_meta("config_identity", config.identity_hash());
      store.set_meta("name", config.name);
      store.set_meta("created_at", utc_now());
      store.add_event("start", "campaign '" + config.name + "' started");
    }  // closed: the WAL is folded into the file and removed
    write_text_atomic(dir / "config.ini", config.to_ini());
    std::filesystem::rename(tmp, dir / "results.sqlite");
  } catch (...) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(tmp.string() + suffix, ec);
    throw;
  }
}

// Refuses to resume a database that check() finds inconsistent: resuming would overwrite rows.
void require_consistent(const ResultsStore& store, const std::filesystem::path& dir) {
  const StoreProblems found = store.check();
  if (found.ok()) return;
  throw std::runtime_error(store.file().string() + ": " + found.problems.front() +
                           "; nothing was changed (details: `cellforge check " + dir.string() + "`)");
}

// After restoring the controller: it must have proposed exactly the stored candidates and still
// wait for exactly the unobserved ones, or observing on would overwrite stored rows.
void require_controller_matches(const Controller& controller, const std::map<int64_t, CandidateRecord>& records,
                                const std::filesystem::path& file) {
  std::set<int64_t> unobserved, pending;
  for (const auto& [id, r] : records)
    if (!r.observed) unobserved.insert(id);
  for (const Candidate& c : controller.pending()) pending.insert(static_cast<int64_t>(c.id));
  const auto proposed = static_cast<int64_t>(controller.proposed_count());
  if (proposed != static_cast<int64_t>(records.size()) || pending != unobserved)
    throw std::runtime_error(file.string() + ": the controller checkpoint has proposed " + std::to_string(proposed) +
                             " candidates with " + std::to_string(pending.size()) + " unobserved, the database holds " +
                             std::to_string(records.size()) + " with " + std::to_string(unobserved.size()) +
                             " unobserved; nothing was changed (details: `cellforge check " +
                             file.parent_path().string() + "`)");
}

}  // namespace

int run_campaign(const CampaignConfig& config, const CampaignRunOptions& options) {
  using clock = std::chrono::steady_clock;
  const std::filesystem::path dir = config.dir;
  // What a bad config or table breaks is built before the run directory is touched.
  auto space = make_space(config);
  auto controller = make_controller(config.strategy, controller_options(config), *space, config.seed);
  std::unique_ptr<Evaluator> table_evaluator;
  if (config.space_type == "nb201") table_evaluator = make_table_evaluator(config);

  if (!options.resume && std::filesystem::exists(dir / "results.sqlite"))
    throw std::runtime_error(dir.string() + " already holds a campaign; continue it with `cellforge resume " +
                             dir.string() + "`");
  std::filesystem::create_directories(dir);
  RunLock lock(dir);
  if (!options.resume) {
    if (std::filesystem::exists(dir / "results.sqlite"))  // created meanwhile by another process
      throw std::runtime_error(dir.string() + " already holds a campaign");
    create_campaign_files(config, dir);
  }
  ResultsStore store(dir / "results.sqlite", StoreAccess::write);
  if (options.resume) require_consistent(store, dir);

  // Logging: campaign.log always; the console gets plain lines unless a live line is shown.
  auto file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((dir / "campaign.log").string());
  std::vector<spdlog::sink_ptr> sinks{file_sink};
  if (!options.tty) sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto log = std::make_shared<spdlog::logger>("campaign", sinks.begin(), sinks.end());
  log->set_pattern("%Y-%m-%d %H:%M:%S %^%l%$ %v");
  log->flush_on(spdlog::level::info);

  const std::string identity = config.identity_hash();
  if (!options.resume) {
    log->info("campaign '{}' in {}: {} space, {} strategy, {} candidates, {} worker(s)", config.name,
              dir.string(), config.space_type, config.strategy, config.candidates, config.workers);
  } else {
    const auto stored = store.meta("config_identity");
    if (stored && *stored != identity && !options.force)
      throw std::runtime_error(dir.string() + "/config.ini differs from the config this campaign ran with "
                               "(only [budget] keys may change); use --force to resume anyway");
    if (stored && *stored != identity) {
      store.set_meta("config_identity", identity);
      store.add_event("force", "resumed with a changed config (--force)");
    }
    write_text_atomic(dir / "config.ini", config.to_ini());
    store.add_event("resume", "campaign resumed");
    log->info("resuming campaign '{}' in {}", config.name, dir.string());
  }

  if (auto checkpoint = store.latest_checkpoint()) controller->restore_state(checkpoint->second);

  std::map<int64_t, CandidateRecord> records;
  for (auto& r : store.candidates()) records[r.id] = r;
  require_controller_matches(*controller, records, store.file());

  std::unique_ptr<Evaluator> evaluator;
  if (config.space_type == "nb201") {
    evaluator = std::move(table_evaluator);
    if (mpi_worker_ranks() > 0)
      log->warn("MPI: the NAS-Bench-201 table is looked up on rank 0; the other {} rank(s) stay idle",
                mpi_worker_ranks());
  } else if (mpi_worker_ranks() > 0) {
    // The worker ranks are the workers (budget.workers was set to their number).
    evaluator = make_mpi_evaluator(config, dir / "workers.log");
    log->info("MPI: {} worker rank(s) train the candidates, {} thread(s) each", mpi_worker_ranks(),
              std::max(1, config.threads / std::max(1, config.workers)));
  } else {
    evaluator = make_process_evaluator(config, dir / "workers.log");
  }

  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  struct RestoreSignals {
    struct sigaction i, t;
    ~RestoreSignals() {
      sigaction(SIGINT, &i, nullptr);
      sigaction(SIGTERM, &t, nullptr);
    }
  } restore{old_int, old_term};

  const auto t_start = clock::now();
  const auto budget_seconds = config.hours > 0 ? config.hours * 3600 : 0.0;
  std::set<int64_t> running;  // submitted to the evaluator
  std::map<int64_t, int64_t> waiting_on;  // duplicate candidate -> the in-flight one it reuses
  double eval_seconds_sum = 0;
  int eval_count = 0;

  auto best_accuracy = [&] {
    double best = -1;
    for (const auto& [id, r] : records)
      if (r.status == CandidateStatus::done && r.accuracy) best = std::max(best, *r.accuracy);
    return best;
  };
  auto observed_count = [&] {
    return static_cast<int64_t>(std::count_if(records.begin(), records.end(),
                                              [](const auto& kv) { return kv.second.observed; }));
  };
  auto propose = [&]() -> CandidateRecord {
    const Candidate c = controller->propose();
    CandidateRecord r;
    r.id = static_cast<int64_t>(c.id);
    r.hash = space->canonical_hash(c.seq);
    r.genotype = space->to_json(c.seq).dump();
    r.status = CandidateStatus::pending;
    r.proposed_at = utc_now();
    return r;
  };
  auto to_eval_result = [](const CandidateRecord& r) {
    return r.status == CandidateStatus::done && r.accuracy ? EvalResult::success(*r.accuracy)
                                                           : EvalResult::failure(r.failure_reason);
  };

  // Fill the pipeline: keep `workers` candidates proposed and not yet observed.
  const int window = std::max(1, config.workers);
  auto fill = [&] {
    while (static_cast<int64_t>(controller->pending().size()) < window &&
           static_cast<int64_t>(controller->proposed_count()) < config.candidates) {
      CandidateRecord r = propose();
      records[r.id] = r;
      store.commit({r}, controller->save_state());
    }
  };
  fill();

  int exit_code = 0;
  std::string last_line;
  auto show = [&](const std::string& line) {
    if (!options.tty) return;
    std::fprintf(stdout, "\r\033[K%s", line.c_str());
    std::fflush(stdout);
  };
  auto announce = [&](const CandidateRecord& r) {
    std::ostringstream msg;
    msg << "candidate " << r.id << " (" << r.hash << ") ";
    if (r.status == CandidateStatus::done)
      msg << "accuracy " << std::fixed;
    if (r.status == CandidateStatus::done) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f%%", 100 * *r.accuracy);
      msg << buf;
    } else {
      msg << "failed: " << r.failure_reason;
    }
    if (r.reused_from) msg << " (reused from candidate " << *r.reused_from << ")";
    if (r.params) msg << ", " << r.params << " params";
    if (r.train_seconds > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, ", %.1f s", r.train_seconds);
      msg << buf;
    }
    log->info("{}", msg.str());
    if (options.tty) std::fprintf(stdout, "\r\033[K%s\n", msg.str().c_str());
  };

  while (true) {
    if (g_stop_signal) {
      evaluator->cancel_all();
      store.add_event("interrupted", std::string("stopped by ") + strsignal(g_stop_signal) +
                                         "; running candidates will be redone on resume");
      log->info("stopped by {}: state saved; continue with `cellforge resume {}`", strsignal(g_stop_signal),
                dir.string());
      exit_code = 130;
      break;
    }
    const double elapsed = std::chrono::duration<double>(clock::now() - t_start).count();
    if (budget_seconds > 0 && elapsed > budget_seconds) {
      evaluator->cancel_all();
      store.add_event("budget", "time budget of " + std::to_string(config.hours) + " h reached");
      log->info("time budget of {} h reached", config.hours);
      break;
    }
    // Schedule pending candidates: reuse a finished duplicate, wait for a running one, or submit.
    for (const Candidate& c : controller->pending()) {
      const int64_t id = static_cast<int64_t>(c.id);
      CandidateRecord& r = records[id];
      if (r.status != CandidateStatus::pending || running.count(id) || waiting_on.count(id)) continue;
      if (auto prior = store.find_by_hash(r.hash); prior && prior->id != id) {
        r.status = prior->status;
        r.accuracy = prior->accuracy;
        r.params = prior->params;
        r.macs = prior->macs;
        r.failure_reason = prior->failure_reason;
        r.metrics = prior->metrics;
        r.reused_from = prior->id;
        r.finished_at = utc_now();
        store.commit({r});
        announce(r);
        continue;
      }
      bool duplicate = false;
      for (int64_t other : running)
        if (records[other].hash == r.hash) {
          waiting_on[id] = other;
          duplicate = true;
          break;
        }
      if (duplicate || evaluator->in_flight() >= evaluator->capacity()) continue;
      evaluator->submit({id, r.hash, store.genotype_json(r)});
      running.insert(id);
    }
    // Collect finished evaluations and store them at once (observed later, in order).
    for (const JobResult& res : evaluator->wait(0.2)) {
      running.erase(res.id);
      CandidateRecord& r = records[res.id];
      r.status = res.ok ? CandidateStatus::done : CandidateStatus::failed;
      if (res.ok) r.accuracy = res.accuracy;
      r.failure_reason = res.ok ? "" : res.status + ": " + res.reason;
      r.params = res.params;
      r.macs = res.macs;
      r.train_seconds = res.seconds;
      r.metrics = res.metrics.dump();
      r.finished_at = utc_now();
      if (res.seconds > 0) eval_seconds_sum += res.seconds, ++eval_count;
      std::vector<CandidateRecord> changed{r};
      for (auto it = waiting_on.begin(); it != waiting_on.end();) {
        if (it->second != res.id) {
          ++it;
          continue;
        }
        CandidateRecord& dup = records[it->first];
        dup.status = r.status;
        dup.accuracy = r.accuracy;
        dup.params = r.params;
        dup.macs = r.macs;
        dup.failure_reason = r.failure_reason;
        dup.metrics = r.metrics;
        dup.reused_from = r.id;
        dup.finished_at = r.finished_at;
        changed.push_back(dup);
        it = waiting_on.erase(it);
      }
      store.commit(changed);
      for (const auto& c : changed) announce(c);
    }
    // Observe in candidate order, proposing the next candidate in the same transaction.
    while (true) {
      const auto pending = controller->pending();
      if (pending.empty()) break;
      CandidateRecord& r = records[static_cast<int64_t>(pending.front().id)];
      if (r.status == CandidateStatus::pending) break;
      controller->observe(pending.front().id, to_eval_result(r));
      r.observed = true;
      std::vector<CandidateRecord> changed{r};
      if (static_cast<int64_t>(controller->proposed_count()) < config.candidates) {
        CandidateRecord next = propose();
        records[next.id] = next;
        changed.push_back(next);
      }
      store.commit(changed, controller->save_state());
    }
    if (controller->pending().empty()) {
      store.add_event("finished", std::to_string(observed_count()) + " candidates evaluated");
      break;
    }
    if (options.tty) {
      const int64_t done = observed_count();
      const double best = best_accuracy();
      std::ostringstream line;
      line << "candidates " << done << "/" << config.candidates;
      if (best >= 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "  best %.2f%%", 100 * best);
        line << buf;
      }
      if (eval_count > 0) {
        const double eta = (eval_seconds_sum / eval_count) * (config.candidates - done) / window;
        line << "  ETA " << format_duration(eta);
      }
      if (auto p = evaluator->progress()) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "  | #%lld epoch %d/%d %d%% loss %.3f", static_cast<long long>(p->id),
                      p->epoch, p->epochs, p->steps ? 100 * p->step / p->steps : 0, p->loss);
        line << buf;
      }
      show(line.str());
    }
  }
  if (options.tty) std::fprintf(stdout, "\r\033[K");
  const double best = best_accuracy();
  log->info("{} candidates observed; best accuracy {}", observed_count(),
            best >= 0 ? std::to_string(100 * best) + "%" : std::string("n/a"));
  // A campaign whose every finished candidate failed found nothing: say why, and fail.
  const CandidateRecord* first_failure = nullptr;
  bool any_done = false;
  for (const auto& [id, r] : records) {
    if (r.status == CandidateStatus::done) any_done = true;
    if (r.status == CandidateStatus::failed && !first_failure) first_failure = &r;
  }
  if (exit_code == 0 && !any_done && first_failure) {
    log->error("every finished candidate failed (candidate {}: {})", first_failure->id, first_failure->failure_reason);
    if (options.tty)
      std::fprintf(stderr, "error: every finished candidate failed (candidate %lld: %s)\n",
                   static_cast<long long>(first_failure->id), first_failure->failure_reason.c_str());
    exit_code = 1;
  }
  spdlog::drop("campaign");
  return exit_code;
}

std::string campaign_status_text(const std::filesystem::path& run_dir) {
  const CampaignConfig config = load_run_config(run_dir, {});
  ResultsStore store(run_dir / "results.sqlite", StoreAccess::read);
  const auto records = store.candidates();
  int done = 0, failed = 0, pending = 0, reused = 0;
  double best = -1, seconds = 0;
  int64_t best_id = 0;
  for (const auto& r : records) {
    if (r.status == CandidateStatus::done) ++done;
    if (r.status == CandidateStatus::failed) ++failed;
    if (r.status == CandidateStatus::pending) ++pending;
    if (r.reused_from) ++reused;
    seconds += r.reused_from ? 0 : r.train_seconds;
    if (r.status == CandidateStatus::done && r.accuracy && *r.accuracy > best) best = *r.accuracy, best_id = r.id;
  }
  const bool running = run_lock_held(run_dir);
  const auto events = store.events();
  std::ostringstream out;
  out << "campaign   " << config.name << " (" << run_dir.string() << ")" << (running ? ", running" : ", not running") << "\n";
  out << "space      " << config.space_type << ", strategy " << config.strategy << ", " << config.workers << " worker(s)\n";
  out << "candidates " << done + failed << " finished of " << config.candidates << " budgeted: " << done << " done, "
      << failed << " failed, " << pending << " pending, " << reused << " reused duplicates\n";
  if (best >= 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100 * best);
    out << "best       candidate " << best_id << " with " << buf << "\n";
  }
  out << "time       " << format_duration(seconds) << " of training\n";
  if (!events.empty()) out << "last event " << events.back().at << " " << events.back().kind << ": " << events.back().message << "\n";
  return out.str();
}

}  // namespace cf

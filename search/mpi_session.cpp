#include "search/mpi_session.h"

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#if CELLFORGE_HAVE_MPI
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "search/mpi_protocol.h"
#endif

namespace cf {

namespace {

int g_worker_ranks = 0;  // of the live session on rank 0

}  // namespace

std::optional<MpiLaunch> mpi_launch_from_environment() {
  auto first_number = [](std::initializer_list<const char*> names) -> std::optional<int> {
    for (const char* name : names)
      if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
    return std::nullopt;
  };
  const auto rank = first_number({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"});
  if (!rank) return std::nullopt;
  return MpiLaunch{*rank, first_number({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}).value_or(0)};
}

int mpi_worker_ranks() { return g_worker_ranks; }

#if CELLFORGE_HAVE_MPI

namespace mpi_protocol {

void Outbox::send(int rank, Tag tag, std::string payload) {
  Message& m = messages_.emplace_back();
  m.payload = std::move(payload);
  MPI_Isend(m.payload.data(), static_cast<int>(m.payload.size()), MPI_CHAR, rank, tag, MPI_COMM_WORLD, &m.request);
}

void Outbox::progress() {
  for (auto it = messages_.begin(); it != messages_.end();) {
    int delivered = 0;
    MPI_Test(&it->request, &delivered, MPI_STATUS_IGNORE);
    it = delivered ? messages_.erase(it) : std::next(it);
  }
}

void Outbox::flush() {
  for (auto& m : messages_) MPI_Wait(&m.request, MPI_STATUS_IGNORE);
  messages_.clear();
}

Outbox& outbox() {
  static Outbox box;
  return box;
}

std::optional<Message> try_receive(int source) {
  int arrived = 0;
  MPI_Status status;
  MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
  if (!arrived) return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  Message m;
  m.source = status.MPI_SOURCE;
  m.tag = status.MPI_TAG;
  m.payload.resize(static_cast<size_t>(count));
  MPI_Recv(m.payload.data(), count, MPI_CHAR, m.source, m.tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return m;
}

}  // namespace mpi_protocol

namespace {

namespace proto = mpi_protocol;

std::string host_name() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

// An unlinked temporary file that takes the stderr of one worker process at a time; its tail goes
// back to rank 0 with the result, so worker ranks never write to the terminal mpirun shares.
class StderrCapture {
 public:
  StderrCapture() {
    std::string path = (std::filesystem::temp_directory_path() / "cellforge-worker-XXXXXX").string();
    fd_ = mkostemp(path.data(), O_CLOEXEC | O_APPEND);
    if (fd_ < 0) throw std::runtime_error(path + ": cannot create a file for worker output: " + std::strerror(errno));
    unlink(path.c_str());
  }
  ~StderrCapture() { close(fd_); }
  int fd() const { return fd_; }
  // Should this fail, the log only carries an earlier candidate's lines too.
  void clear() { [[maybe_unused]] const int rc = ftruncate(fd_, 0); }
  // The last `limit` bytes written.
  std::string tail(size_t limit = 64 * 1024) const {
    struct stat st {};
    if (fstat(fd_, &st) != 0 || st.st_size <= 0) return {};
    const auto size = static_cast<size_t>(st.st_size);
    const size_t begin = size > limit ? size - limit : 0;
    std::string text(size - begin, '\0');
    const ssize_t n = pread(fd_, text.data(), text.size(), static_cast<off_t>(begin));
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return text;
  }

 private:
  int fd_ = -1;
};

// Rank 0 asks every worker rank to stop and waits for their answers (the results of cancelled
// jobs still arriving are dropped). A rank that does not answer is a hung or lost machine: rather
// than hang in MPI_Finalize, abort the MPI job; the results database is consistent at any moment.
void stop_worker_ranks(int size) {
  using clock = std::chrono::steady_clock;
  for (int rank = 1; rank < size; ++rank) proto::outbox().send(rank, proto::stop, "");
  std::set<int> stopped;
  const auto deadline = clock::now() + std::chrono::seconds(10);
  while (static_cast<int>(stopped.size()) < size - 1) {
    proto::outbox().progress();
    while (auto m = proto::try_receive(MPI_ANY_SOURCE))
      if (m->tag == proto::stopped) stopped.insert(m->source);
    if (static_cast<int>(stopped.size()) == size - 1) break;
    if (clock::now() > deadline) {
      std::fprintf(stderr, "cellforge: %d MPI worker rank(s) did not stop within 10 s; aborting the MPI job\n",
                   size - 1 - static_cast<int>(stopped.size()));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  proto::outbox().flush();
}

// A worker rank's life: one candidate at a time in a `cellforge _evaluate` process, exactly as a
// local worker runs it (so a crash fails only that candidate, with the same reason).
int serve_candidates(int rank) {
  // Rank 0 handles Ctrl-C and SIGTERM (scancel signals every task) and then stops the worker ranks
  // itself; mpirun's own teardown ends them with SIGKILL.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  const std::string host = host_name();
  proto::Outbox& out = proto::outbox();
  auto fail = [&](const std::string& what) {
    out.send(0, proto::error, "MPI rank " + std::to_string(rank) + " on " + host + ": " + what);
  };
  StderrCapture captured;
  std::unique_ptr<EvaluateProcess> running;
  std::optional<JobProgress> sent_progress;
  while (true) {
    out.progress();
    while (auto m = proto::try_receive(0)) {
      if (m->tag == proto::stop) {
        running.reset();
        out.send(0, proto::stopped, "");
        out.flush();
        return 0;
      }
      if (m->tag == proto::cancel) {
        if (running && std::to_string(running->job_id()) == m->payload) running.reset();
        continue;
      }
      if (m->tag != proto::job) continue;
      if (running) {
        fail("received candidate while candidate " + std::to_string(running->job_id()) + " is training");
        continue;
      }
      try {
        const int64_t id = nlohmann::json::parse(m->payload).at("id").get<int64_t>();
        captured.clear();
        sent_progress.reset();
        running = std::make_unique<EvaluateProcess>(id, m->payload, captured.fd());
      } catch (const std::exception& e) {
        fail(e.what());
      }
    }
    if (!running) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    pollfd fd{running->output_fd(), POLLIN, 0};
    if (poll(&fd, 1, 50) <= 0 || !(fd.revents & (POLLIN | POLLHUP | POLLERR))) continue;
    const bool ended = running->read_output();
    const auto& progress = running->progress();
    if (progress && (!sent_progress || progress->epoch != sent_progress->epoch || progress->step != sent_progress->step)) {
      sent_progress = progress;
      out.send(0, proto::progress,
               nlohmann::json{{"id", running->job_id()}, {"progress", job_progress_to_json(*progress)}}.dump());
    }
    if (ended) {
      const JobResult result = running->result();
      out.send(0, proto::result,
               nlohmann::json{{"id", result.id}, {"result", job_result_to_json(result)}, {"log", captured.tail()},
                              {"host", host}}
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      running.reset();
    }
  }
}

}  // namespace

MpiSession::MpiSession(bool wanted) {
  if (!wanted || !mpi_launch_from_environment()) return;
  MPI_Init(nullptr, nullptr);
  initialised_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (rank_ == 0) g_worker_ranks = size_ - 1;
}

MpiSession::~MpiSession() {
  if (!initialised_) return;
  if (rank_ == 0) {
    g_worker_ranks = 0;
    stop_worker_ranks(size_);
  }
  MPI_Finalize();
}

std::optional<int> MpiSession::serve_unless_rank0() {
  if (!initialised_ || rank_ == 0) return std::nullopt;
  try {
    return serve_candidates(rank_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cellforge: MPI rank %d: error: %s\n", rank_, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);  // rank 0 would otherwise wait for this rank forever
    return 1;
  }
}

#else  // built without MPI

MpiSession::MpiSession(bool wanted) {
  if (!wanted) return;
  if (const auto launch = mpi_launch_from_environment()) rank_ = launch->rank, size_ = launch->size;
}

MpiSession::~MpiSession() = default;

std::optional<int> MpiSession::serve_unless_rank0() {
  if (size_ == 1) return std::nullopt;  // not launched as several ranks
  if (rank_ == 0)
    std::fprintf(stderr,
                 "cellforge: error: started by an MPI launcher as %s ranks, but this cellforge was built "
                 "without MPI (configure with -DCELLFORGE_MPI=ON, or run it without mpirun)\n",
                 size_ > 0 ? std::to_string(size_).c_str() : "several");
  return 1;
}

#endif

}  // namespace cf

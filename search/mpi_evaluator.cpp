// Rank 0's side of an MPI campaign: an Evaluator whose workers are the other ranks.
#include <stdexcept>

#include "search/mpi_session.h"

#if CELLFORGE_HAVE_MPI
#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/mpi_protocol.h"
#endif

namespace cf {

#if CELLFORGE_HAVE_MPI

namespace {

namespace proto = mpi_protocol;

class MpiEvaluator final : public Evaluator {
 public:
  MpiEvaluator(const CampaignConfig& config, std::filesystem::path worker_log, int worker_ranks)
      : config_(config), worker_log_(std::move(worker_log)), job_on_rank_(static_cast<size_t>(worker_ranks) + 1, 0),
        progress_on_rank_(job_on_rank_.size()) {
    // The same split as local workers: results depend on the threads a candidate trains with.
    threads_ = std::max(1, config.proxy.train.threads / std::max(1, config.workers));
    std::ofstream touch(worker_log_, std::ios::app);  // a run directory always has its workers.log
  }
  ~MpiEvaluator() override { cancel_all(); }

  int capacity() const override { return static_cast<int>(job_on_rank_.size()) - 1; }
  int in_flight() const override {
    return static_cast<int>(std::count_if(job_on_rank_.begin() + 1, job_on_rank_.end(), [](int64_t id) { return id != 0; }));
  }

  void submit(const Job& job) override {
    const auto free_rank = std::find(job_on_rank_.begin() + 1, job_on_rank_.end(), 0);
    if (free_rank == job_on_rank_.end())
      throw std::logic_error("MPI evaluator: candidate " + std::to_string(job.id) + " submitted with every rank busy");
    const int rank = static_cast<int>(free_rank - job_on_rank_.begin());
    proto::outbox().send(rank, proto::job, job_to_json(job, config_, threads_).dump());
    job_on_rank_[rank] = job.id;
    progress_on_rank_[rank].reset();
  }

  std::vector<JobResult> wait(double timeout_seconds) override {
    std::vector<JobResult> done;
    if (in_flight() == 0) return done;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
    while (true) {
      proto::outbox().progress();
      while (auto m = proto::try_receive(MPI_ANY_SOURCE)) handle(*m, done);
      if (!done.empty() || std::chrono::steady_clock::now() >= deadline) return done;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::optional<JobProgress> progress() const override {
    std::optional<JobProgress> first;
    for (size_t rank = 1; rank < job_on_rank_.size(); ++rank)
      if (job_on_rank_[rank] && progress_on_rank_[rank] && (!first || progress_on_rank_[rank]->id < first->id))
        first = progress_on_rank_[rank];
    return first;
  }

  void cancel_all() override {
    for (size_t rank = 1; rank < job_on_rank_.size(); ++rank) {
      if (!job_on_rank_[rank]) continue;
      proto::outbox().send(static_cast<int>(rank), proto::cancel, std::to_string(job_on_rank_[rank]));
      job_on_rank_[rank] = 0;
    }
  }

 private:
  void handle(const proto::Message& m, std::vector<JobResult>& done) {
    if (m.tag == proto::error) throw std::runtime_error(m.payload);
    if (m.tag != proto::progress && m.tag != proto::result) return;
    const auto j = nlohmann::json::parse(m.payload);
    const int64_t id = j.at("id").get<int64_t>();
    if (m.source < 1 || m.source >= static_cast<int>(job_on_rank_.size()) || job_on_rank_[m.source] != id)
      return;  // a cancelled candidate's last words
    if (m.tag == proto::progress) {
      progress_on_rank_[m.source] = job_progress_from_json(id, j.at("progress"));
      return;
    }
    JobResult result = job_result_from_json(j.at("result"));
    result.id = id;
    append_worker_log(id, m.source, j.value("host", std::string()), j.value("log", std::string()));
    job_on_rank_[m.source] = 0;
    progress_on_rank_[m.source].reset();
    done.push_back(std::move(result));
  }

  void append_worker_log(int64_t id, int rank, const std::string& host, const std::string& text) {
    if (text.empty()) return;
    std::ofstream log(worker_log_, std::ios::app);
    log << "--- candidate " << id << " on MPI rank " << rank << " (" << host << ") ---\n" << text;
    if (text.back() != '\n') log << "\n";
  }

  const CampaignConfig& config_;
  std::filesystem::path worker_log_;
  int threads_ = 1;
  std::vector<int64_t> job_on_rank_;  // by rank (0 unused): the candidate it trains, 0 when free
  std::vector<std::optional<JobProgress>> progress_on_rank_;
};

}  // namespace

std::unique_ptr<Evaluator> make_mpi_evaluator(const CampaignConfig& config, const std::filesystem::path& worker_log) {
  if (mpi_worker_ranks() < 1) throw std::logic_error("make_mpi_evaluator: no MPI worker ranks in this process");
  return std::make_unique<MpiEvaluator>(config, worker_log, mpi_worker_ranks());
}

#else  // built without MPI: mpi_worker_ranks() is always 0, so campaigns never ask for this

std::unique_ptr<Evaluator> make_mpi_evaluator(const CampaignConfig&, const std::filesystem::path&) {
  throw std::logic_error("make_mpi_evaluator: this cellforge was built without MPI");
}

#endif

}  // namespace cf

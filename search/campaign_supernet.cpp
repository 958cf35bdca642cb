#include "search/campaign_supernet.h"

#include <omp.h>

#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>

#include "search/objective.h"
#include "space/file_io.h"
#include "trainer/cpus.h"

namespace cf {

CampaignSupernet campaign_supernet(const CampaignConfig& c, const std::string& where) {
  if (c.space_type != "nasnet")
    throw ConfigError(where + ": space.type = " + c.space_type +
                      ": the supernet shares weights between NASNet cells (space.type = nasnet)");
  if (c.supernet.epochs < 1)
    throw ConfigError(where +
                      ": supernet.epochs = 0: set the supernet's training length "
                      "(e.g. --set supernet.epochs=5)");
  CampaignSupernet s;
  s.dir = std::filesystem::path(c.dir) / "supernet";
  s.state_file = s.dir / "state.bin";
  s.summary_file = s.dir / "summary.json";
  SupernetTrainOptions& o = s.train;
  const TrainOptions& t = c.proxy.train;
  o.network = c.proxy.network;
  o.epochs = c.supernet.epochs;
  o.batch = t.batch;
  o.lr = t.lr;
  o.min_lr = t.min_lr;
  o.warmup_epochs = t.warmup_epochs;
  o.sgd = t.sgd;
  o.label_smoothing = t.label_smoothing;
  o.drop_path = t.drop_path;
  o.aux_weight = t.aux_weight;
  o.augment = t.augment;
  o.cutout = t.cutout;
  o.init = t.init;
  o.precision = usable_precision(t.precision);
  o.seed = c.seed;
  o.threads = t.threads;
  o.checkpoint_steps = c.supernet.checkpoint_steps;
  o.memory_limit_bytes = t.memory_limit_bytes;
  s.score.batch = t.batch;
  s.score.calibration_batches = c.supernet.calibration_batches;
  s.score.images = c.supernet.score_images;
  s.score.precision = o.precision;
  s.identity = c.identity_hash_of([](const std::string& key) {
    return key.rfind("space.", 0) == 0 || key.rfind("proxy.", 0) == 0 ||
           key == "supernet.epochs" || key == "campaign.seed";
  });
  return s;
}

std::optional<SupernetState> load_campaign_supernet(const CampaignSupernet& s) {
  if (!std::filesystem::exists(s.state_file)) return std::nullopt;
  std::string identity;
  SupernetState state = load_supernet(s.state_file, &identity);
  if (identity != s.identity)
    throw ConfigError(s.state_file.string() +
                      ": was trained under other [space], [proxy] or supernet.epochs settings "
                      "than this config's; use the config it was trained with, or another "
                      "campaign.dir");
  return state;
}

SupernetTraining train_campaign_supernet(const CampaignSupernet& s, const NasnetSpace& space,
                                         const DataSplits& data,
                                         const SupernetCallbacks& callbacks) {
  std::filesystem::create_directories(s.dir);
  SupernetTraining out;
  std::optional<SupernetState> saved = load_campaign_supernet(s);
  if (saved) out.resumed = saved->step;
  out.state = saved ? std::move(*saved) : new_supernet_state(data, s.train);
  const PathSampler uniform = [&space](Rng& rng) { return space.decode(space.sample(rng)); };
  SupernetCallbacks inner = callbacks;
  inner.on_checkpoint = [&](const SupernetState& state) {
    save_supernet(s.state_file, state, s.identity);
    if (callbacks.on_checkpoint) callbacks.on_checkpoint(state);
  };
  out.result = train_supernet(out.state, data, s.train, uniform, inner);
  save_supernet(s.state_file, out.state, s.identity);  // a consistent state between two steps
  // Wall seconds of every run so far (those that ended or were stopped; a killed run's are lost).
  out.seconds_total = out.result.seconds;
  if (saved && std::filesystem::exists(s.summary_file)) {
    const nlohmann::json before = nlohmann::json::parse(
        read_file_capped(s.summary_file, 1 << 20, "supernet summary"), nullptr, false);
    if (before.is_object() && before.value("seconds_total", nlohmann::json()).is_number())
      out.seconds_total += before["seconds_total"].get<double>();
  }
  const SupernetResult& r = out.result;
  const nlohmann::json summary = {
      {"status", train_status_name(r.status)},
      {"reason", r.reason},
      {"steps_done", out.state.step},
      {"steps_this_run", r.steps},
      {"seconds_this_run", r.seconds},
      {"seconds_total", out.seconds_total},
      {"build_seconds_this_run", r.build_seconds},
      {"steps_per_second", r.seconds > 0 ? r.steps / r.seconds : 0.0},
      {"shared_tensors", out.state.bank.entries().size()},
      {"shared_values", out.state.bank.values()},
      {"precision", precision_name(s.train.precision)}};
  write_file_atomic(s.summary_file, summary.dump(2) + "\n");
  return out;
}

namespace {

// In process and synchronous: `wait` scores the oldest submitted job (a fraction of a second)
// and returns it; a campaign polls between jobs, so a stop request waits for one score at most.
class SupernetEvaluator : public Evaluator {
 public:
  SupernetEvaluator(const CampaignConfig& config, const CampaignSupernet& supernet, ParamBank bank,
                    std::shared_ptr<const DataSplits> data)
      : objective_(config.objective),
        score_(supernet.score),
        threads_(std::max(1, config.proxy.train.threads)),
        bank_(std::move(bank)),
        data_(std::move(data)),
        spec_(supernet.train.network) {
    spec_.input = data_->train.shape;
    spec_.classes = data_->train.classes;
  }

  int capacity() const override { return 1; }
  int in_flight() const override { return static_cast<int>(queue_.size()); }
  void submit(const Job& job) override { queue_.push_back(job); }
  void cancel_all() override { queue_.clear(); }

  std::vector<JobResult> wait(double) override {
    if (queue_.empty()) return {};
    const Job job = queue_.front();
    queue_.pop_front();
    return {score(job)};
  }

 private:
  JobResult score(const Job& job) const {
    JobResult res;
    res.id = job.id;
    try {
      const Genotype genotype = genotype_from_json(job.genotype);
      const Network network = build_network(genotype, spec_);
      res.params = network.params();
      res.macs = network.macs();
      if (objective_.needs_latency() && job.measure_latency) {
        res.metrics["latency"] =
            candidate_latency(genotype, spec_, objective_.latency,
                              objective_.latency_cells_per_stack, objective_.latency_filters);
        const auto over = latency_cap_violation(objective_.max_latency_ms,
                                                res.metrics["latency"]["median_ms"].get<double>());
        if (over) {
          res.status = "rejected";
          res.reason = *over;
          return res;
        }
      }
      omp_set_num_threads(threads_);
      const ThreadPinning pinning(threads_);  // trainer/cpus.h: why
      const PathScore s = score_path(bank_, genotype, *data_, spec_, score_);
      res.ok = true;
      res.status = "ok";
      res.accuracy = s.accuracy;
      res.seconds = s.seconds;
      res.metrics["supernet"] = {{"accuracy", s.accuracy},
                                 {"images", s.images},
                                 {"untrained_values", s.untrained_values}};
    } catch (const std::exception& e) {
      res.ok = false;
      res.status = "failed";
      res.reason = e.what();
    }
    return res;
  }

  ObjectiveOptions objective_;
  PathScoreOptions score_;
  int threads_;
  ParamBank bank_;
  std::shared_ptr<const DataSplits> data_;
  NetworkSpec spec_;
  std::deque<Job> queue_;
};

}  // namespace

std::unique_ptr<Evaluator> make_supernet_evaluator(const CampaignConfig& config,
                                                   const CampaignSupernet& supernet,
                                                   ParamBank bank,
                                                   std::shared_ptr<const DataSplits> data) {
  return std::make_unique<SupernetEvaluator>(config, supernet, std::move(bank), std::move(data));
}

}  // namespace cf

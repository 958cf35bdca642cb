#include "search/zero_cost_guide.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "results/zero_cost_csv.h"
#include "space/nb201.h"
#include "trainer/data.h"

namespace cf {

CampaignScorer::CampaignScorer(const CampaignConfig& config, const SearchSpace& space)
    : config_(config), space_(space) {
  const GuideSpec& guide = config.warmup.count > 0 ? config.warmup : config.proposal;
  if (!guide.proxies.empty()) proxy_ = guide.proxies.front();
  if (config.space_type == "nb201") {
    try {
      table_ = nb201_guide_scores(read_zero_cost_csv(config.scores), guide.proxies);
    } catch (const std::exception& e) {
      throw std::runtime_error("controller.scores: " + std::string(e.what()));
    }
    const auto missing = std::count(table_.begin(), table_.end(), std::nullopt);
    if (missing > 0)
      throw std::runtime_error("controller.scores: " + config.scores + " has no score for " +
                               std::to_string(missing) + " of the " +
                               std::to_string(table_.size()) +
                               " cells (score every cell: cellforge zero-cost --all)");
  }
}

double CampaignScorer::operator()(const DecisionSeq& seq) {
  const auto start = std::chrono::steady_clock::now();
  double value = 0;
  if (config_.space_type == "nb201") {
    const auto& nb201 = static_cast<const Nb201Space&>(space_);
    const auto& v = table_[nb201.dense_index(seq)];
    if (!v)
      throw std::runtime_error(config_.scores + " has no score for " + nb201.arch_string(seq) +
                               " (score every cell: cellforge zero-cost --all)");
    value = *v;
  } else {
    value = compute(seq);
  }
  ++count_;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return value;
}

double CampaignScorer::compute(const DecisionSeq& seq) {
  const bool needs_data = proxy_ != ZeroCostProxy::synflow && proxy_ != ZeroCostProxy::params &&
                          proxy_ != ZeroCostProxy::macs;
  if (!spec_) {
    DataOptions d = config_.proxy.data;
    d.train_images = needs_data ? std::max(2, std::min(config_.proxy.train.batch, 64)) : 1;
    d.valid_images = 1;
    d.load_test = false;
    const DataSplits data = load_dataset(d);
    spec_ = config_.proxy.network;
    spec_->input = data.train.shape;
    spec_->classes = data.train.classes;
    if (needs_data) batch_ = zero_cost_batch(data, d.train_images, spec_->input);
  }
  const Genotype genotype = static_cast<const NasnetSpace&>(space_).decode(seq);
  ZeroCostOptions options;
  options.seed = config_.seed;
  options.proxies = {proxy_};
  const ZeroCostScores s =
      score_zero_cost(build_network(genotype, *spec_), batch_ ? *batch_ : ZeroCostBatch{}, options);
  return s.get(proxy_);
}

}  // namespace cf

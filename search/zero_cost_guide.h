#pragma once
// The zero-cost scorer of a guided campaign (controller.warmup / controller.proposal):
// NAS-Bench-201 campaigns look scores up in controller.scores (cellforge zero-cost --all); NASNet
// campaigns compute the proxy on the candidate's own proxy network and, for the proxies that need
// data, on one minibatch of the proxy dataset (loaded once, on first use). Scorings are not
// candidates; their count and time are reported separately.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "search/config.h"
#include "space/search_space.h"

namespace cf {

class CampaignScorer {
 public:
  // Reads the scores file (nb201) now, so a bad one fails before the run directory is touched.
  CampaignScorer(const CampaignConfig& config, const SearchSpace& space);
  double operator()(const DecisionSeq& seq);
  int64_t count() const { return count_; }
  double seconds() const { return seconds_; }

 private:
  double compute(const DecisionSeq& seq);  // nasnet

  const CampaignConfig& config_;
  const SearchSpace& space_;
  ZeroCostProxy proxy_ = ZeroCostProxy::synflow;
  std::vector<std::optional<double>> table_;  // nb201: by dense index
  std::optional<ZeroCostBatch> batch_;        // nasnet: loaded on first use
  std::optional<NetworkSpec> spec_;
  int64_t count_ = 0;
  double seconds_ = 0;
};

}  // namespace cf

#include "trainer/optimizer.h"

#include <cmath>

namespace cf {

Sgd::Sgd(std::vector<Param>& params, const SgdOptions& options)
    : params_(params), options_(options) {
  for (const Param& p : params_)
    velocity_.emplace_back(p.value.get_desc().get_size() / sizeof(float), 0.0f);
}

double Sgd::step(float lr) {
  // Squared norm summed in parameter order with double accumulators: deterministic.
  double sq = 0.0;
  for (const Param& p : params_) {
    const float* g = static_cast<const float*>(p.diff.get_data_handle());
    const size_t n = p.diff.get_desc().get_size() / sizeof(float);
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += double{g[i]} * g[i];
    sq += s;
  }
  const double norm = std::sqrt(sq);
  float clip_scale = 1.0f;
  if (options_.clip_norm > 0.0f && norm > options_.clip_norm)
    clip_scale = static_cast<float>(options_.clip_norm / norm);
  const float mu = options_.momentum;
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = params_[k];
    float* w = static_cast<float*>(p.value.get_data_handle());
    const float* g = static_cast<const float*>(p.diff.get_data_handle());
    float* v = velocity_[k].data();
    const size_t n = velocity_[k].size();
    const float wd = p.decay || options_.decay_all ? options_.weight_decay : 0.0f;
    if (options_.nesterov) {
      for (size_t i = 0; i < n; ++i) {
        const float grad = g[i] * clip_scale + wd * w[i];
        v[i] = mu * v[i] + grad;
        w[i] -= lr * (grad + mu * v[i]);
      }
    } else {
      for (size_t i = 0; i < n; ++i) {
        const float grad = g[i] * clip_scale + wd * w[i];
        v[i] = mu * v[i] + grad;
        w[i] -= lr * v[i];
      }
    }
  }
  return norm;
}

float LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps)
    return base_lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return static_cast<float>(min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace cf

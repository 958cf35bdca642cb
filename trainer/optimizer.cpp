#include "trainer/optimizer.h"

#include <cmath>

namespace cf {

void sgd_update(float* w, const float* g, float* v, size_t n, float lr, float weight_decay,
                float clip_scale, const SgdOptions& options) {
  const float mu = options.momentum;
  if (options.nesterov) {
    for (size_t i = 0; i < n; ++i) {
      const float grad = g[i] * clip_scale + weight_decay * w[i];
      v[i] = mu * v[i] + grad;
      w[i] -= lr * (grad + mu * v[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float grad = g[i] * clip_scale + weight_decay * w[i];
      v[i] = mu * v[i] + grad;
      w[i] -= lr * v[i];
    }
  }
}

float clip_scale(double norm, const SgdOptions& options) {
  if (options.clip_norm > 0.0f && norm > options.clip_norm)
    return static_cast<float>(options.clip_norm / norm);
  return 1.0f;
}

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
  const float scale = clip_scale(norm, options_);
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = params_[k];
    const float wd = p.decay || options_.decay_all ? options_.weight_decay : 0.0f;
    sgd_update(static_cast<float*>(p.value.get_data_handle()),
               static_cast<const float*>(p.diff.get_data_handle()), velocity_[k].data(),
               velocity_[k].size(), lr, wd, scale, options_);
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

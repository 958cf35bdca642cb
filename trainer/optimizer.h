#pragma once
// SGD with momentum (optionally Nesterov), decoupled-from-nothing L2 weight decay, global
// gradient-norm clipping, and the cosine learning-rate schedule with linear warm-up.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "trainer/executor.h"

namespace cf {

struct SgdOptions {
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2 on conv and FC weights (Param::decay)
  float clip_norm = 0.0f;     // max global gradient L2 norm; 0 = off
  // Weight decay on every parameter (BN scale and shift, biases too), as torch.optim.SGD applies
  // it to all the parameters it is given; false: conv and FC weights only.
  bool decay_all = false;
};

// One tensor's update (what Sgd::step does to each parameter, and the supernet's bank to each
// shared one): grad = g * clip_scale + weight_decay * w; v = momentum * v + grad;
// w -= lr * (nesterov ? grad + momentum * v : v).
void sgd_update(float* w, const float* g, float* v, size_t n, float lr, float weight_decay,
                float clip_scale, const SgdOptions& options);

// The factor that brings a global gradient norm down to options.clip_norm (1 when clipping is off
// or not needed).
float clip_scale(double norm, const SgdOptions& options);

class Sgd {
 public:
  Sgd(std::vector<Param>& params, const SgdOptions& options);
  // One update with learning rate lr; returns the global gradient norm before clipping.
  double step(float lr);
  // Momentum buffers, in parameter order (for checkpoints).
  std::vector<std::vector<float>>& velocity() { return velocity_; }

 private:
  std::vector<Param>& params_;
  SgdOptions options_;
  std::vector<std::vector<float>> velocity_;
};

struct LrSchedule {
  float base_lr = 0.05f;
  float min_lr = 0.0f;
  int64_t total_steps = 1;
  int64_t warmup_steps = 0;
  // Linear warm-up to base_lr, then cosine decay to min_lr at total_steps.
  float at(int64_t step) const;
};

}  // namespace cf

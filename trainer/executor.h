#pragma once
// Compiles a space/ layer graph into oneDNN primitives once (for one batch size), then runs
// forward, loss and backward passes as many times as asked without creating anything new.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "space/network.h"
#include "space/rng.h"
#include "trainer/init.h"

namespace cf {

enum class ParamRole : uint8_t { weights, bias, bn_scale, bn_shift };

// Numeric format of activations and convolution inputs. bf16: activations, their gradients and
// the weights a convolution reads are bfloat16; accumulation inside the kernels, the master
// weights, their gradients, the optimizer state, batch-norm statistics, the input images and the
// logits stay fp32 (bf16 keeps fp32's exponent range, so no loss scaling is needed).
enum class Precision : uint8_t { fp32, bf16 };
const char* precision_name(Precision precision);
// True when oneDNN runs bf16 convolutions natively on this CPU (avx512_bf16 or AMX; honours
// ONEDNN_MAX_CPU_ISA). Without it, bf16 would run on emulation or reference kernels.
bool bf16_supported();
// `requested`, or fp32 with a one-line warning (logged once per process) when this CPU has no
// native bf16.
Precision usable_precision(Precision requested);

struct Param {
  std::string name;  // "<layer name>.weights", ".bias", ".scale", ".shift"
  ParamRole role;
  int layer;                 // index in the network
  dnnl::memory::desc plain;  // logical layout (oihw, goihw, oi, x) for init, save, load, export
  dnnl::memory value;        // layout chosen by the primitive
  dnnl::memory diff;         // same layout as value
  int64_t numel = 0;         // logical number of values
  bool decay = false;        // weight decay applies (conv and FC weights)
  bool aux = false;          // belongs to the auxiliary head
};

// Running statistics of one batch-norm layer (not trainable, saved with the weights). The
// inference primitives point into these vectors: change values in place, never reassign.
struct BnStats {
  std::string name;
  int layer;
  std::vector<float> running_mean, running_var;
};

struct ExecutorOptions {
  int batch = 64;
  float bn_momentum = 0.1f;  // running = (1 - m) * running + m * batch statistic
  bool profile = false;      // time every step by layer kind (adds a little overhead)
  // Compile drop-path layers; when false they become pass-through aliases (no copies), for
  // training without drop path. Dropout layers with rate 0 are always aliases.
  bool drop_path = true;
  // Gradient buffers are shared between tensors whose gradients are not live at the same time
  // (and an add's inputs use its gradient buffer). Set false to keep every layer's gradient
  // readable through layer_diff() after backward().
  bool reuse_gradient_buffers = true;
  // A ReLU that is a batch norm's only consumer runs inside the batch-norm primitive.
  bool fuse_bn_relu = true;
  // A concat whose only consumer is a ReLU (a NASNet cell's output) writes the ReLU's output in
  // one pass, summing on the way the adds that only it reads (the cell's blocks); backward
  // masks the gradient and writes (or adds) each input's slice in one pass too. Neither the
  // concat's value nor those adds' values are stored; layer_value() recomputes them.
  bool fuse_concat = true;
  // backward() also computes the gradient with respect to the input images (input_grad()), as
  // the jacob_cov zero-cost proxy needs.
  bool input_grad = false;
  // Inference (forward(false)) runs each convolution whose only consumer is a batch norm as one
  // convolution with the batch norm folded into its weights and a bias (and the batch norm's
  // fused ReLU as a post-op): w' = w * s, b' = shift - mean * s, s = scale / sqrt(var + eps).
  // The folded weights are recomputed before the first inference pass after any change of the
  // parameters or statistics (through params(), bn_stats(), write_param, init_params or a
  // training pass). Training is unchanged. With it, layer_value() of a folded convolution or
  // its batch norm is not available after an inference pass.
  bool fold_batch_norm = false;
  // Precision::bf16 needs bf16_supported() (the constructor refuses it otherwise).
  Precision precision = Precision::fp32;
};

// Per-step regularisation state of the forward pass.
struct ForwardState {
  float drop_path_prob = 0.0f;  // ScheduledDropPath probability at the last cell, this step
  Rng* rng = nullptr;           // drop-path and dropout masks
};

// ScheduledDropPath (Zoph et al. 2018): the probability rises linearly from 0 at the first step
// to final_prob at the end of training. The one rule of train_network and train_supernet.
inline float scheduled_drop_path_prob(float final_prob, int64_t step, int64_t total_steps) {
  return final_prob * static_cast<float>(step) /
         static_cast<float>(std::max<int64_t>(1, total_steps));
}

class Executor {
 public:
  Executor(const Network& network, const ExecutorOptions& options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Bytes a network would need at this batch size, estimated without allocating anything
  // (activations, gradients, parameters, scratch), for the memory limit check.
  static int64_t estimate_bytes(const Network& network, int batch);

  const Network& network() const { return network_; }
  int batch() const { return options_.batch; }
  Precision precision() const { return options_.precision; }

  // The input batch in NCHW float (batch x C x H x W), written by the caller before forward().
  float* input();
  // Logits (batch x classes, row-major) after forward(); auxiliary logits or nullptr.
  const float* logits() const;
  const float* aux_logits() const;

  void forward(bool training, const ForwardState& state = {});
  // The gradient backward() starts from (batch x classes), written by loss() or by the caller.
  float* logits_grad();
  // After backward(), with options.input_grad: d(whatever started backward)/d(input images).
  const float* input_grad() const;
  // Softmax cross-entropy on the logits (and 0.4-weighted auxiliary head when present); writes
  // the logit gradients for backward(). Returns the main loss; counts correct predictions.
  double loss(const int32_t* labels, float label_smoothing, float aux_weight, int* correct,
              double* aux_loss = nullptr);
  void backward();

  // Mutable access may change values: the folded inference weights are recomputed.
  std::vector<Param>& params() {
    fold_stale_ = true;
    return params_;
  }
  const std::vector<Param>& params() const { return params_; }
  std::vector<BnStats>& bn_stats() {
    fold_stale_ = true;
    return bn_stats_;
  }
  const std::vector<BnStats>& bn_stats() const { return bn_stats_; }

  // Fresh weights (trainer/init.h); BN running statistics 0 / 1.
  void init_params(Rng& rng, InitScheme scheme = InitScheme::he_normal);
  // Logical (plain layout) copies of a parameter, and back.
  std::vector<float> read_param(const Param& p) const;
  std::vector<float> read_grad(const Param& p) const;
  void write_param(Param& p, const std::vector<float>& values);

  int64_t allocated_bytes() const { return allocated_bytes_; }
  // Batch norms folded into their convolution for inference (options.fold_batch_norm).
  int folded_batch_norms() const { return folded_batch_norms_; }
  // Chosen implementation per primitive ("layer: impl"), for profiling and tests.
  const std::vector<std::string>& implementations() const { return implementations_; }
  // Accumulated seconds per "phase kind" (e.g. "bwd conv_dw"), when options.profile.
  const std::map<std::string, double>& profile() const { return profile_; }

  // Debug access to a layer's output value and gradient in plain NCHW (for gradient checks; the
  // gradient needs options.reuse_gradient_buffers = false).
  std::vector<float> layer_value(int layer) const;
  std::vector<float> layer_diff(int layer) const;

 private:
  struct Impl;
  const Network network_;
  ExecutorOptions options_;
  std::unique_ptr<Impl> impl_;
  std::vector<Param> params_;
  std::vector<BnStats> bn_stats_;
  std::vector<std::string> implementations_;
  std::map<std::string, double> profile_;
  int64_t allocated_bytes_ = 0;
  int folded_batch_norms_ = 0;
  bool fold_stale_ = true;  // the folded inference weights must be recomputed
};

}  // namespace cf

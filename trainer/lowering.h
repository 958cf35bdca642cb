#pragma once
// Internal to trainer/: lowering a planned layer graph into a Program. One function per layer
// kind (trainer/lower_*.cpp), dispatched through a table indexed by LayerKind; LowerContext holds
// the idioms they share (forward steps in both passes, backward steps with their gradient
// targets, parameters, outputs with gradients, scratch regions).
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "space/network.h"
#include "trainer/executor.h"
#include "trainer/plan.h"
#include "trainer/program.h"

namespace cf::detail {

inline memory::dims nchw_dims(int batch, const Shape& s) {
  return {batch, s.c, s.h, s.w};
}

// Padding after the last window so that `out` windows of extent `kernel_ext` cover `in`.
inline int pad_end(int in, int out, int kernel_ext, int stride, int pad_begin) {
  return window_pad_end(in, out, kernel_ext, stride, pad_begin);
}

// Memories of a parameter that LowerContext::make_param created (and registered).
struct ParamMemory {
  memory value, diff;
};

class LowerContext {
 public:
  LowerContext(Program& program, const Plan& plan, const Network& network,
               const ExecutorOptions& options, std::vector<Param>& params,
               std::vector<BnStats>& bn_stats, std::vector<std::string>& implementations);

  // Lowers every layer in order through the table, then puts the backward steps in backward
  // order (layers last to first) into the program.
  void lower_all();

  // The layer being lowered and its surroundings.
  int index() const { return layer_; }
  const Layer& layer() const { return network_.layers[layer_]; }
  const Network& network() const { return network_; }
  const ExecutorOptions& options() const { return options_; }
  int batch() const { return options_.batch; }
  // Data type of the activations a layer creates (the input images and the logits stay f32).
  memory::data_type act_dt() const {
    return options_.precision == Precision::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  }
  std::string kind_name() const { return std::string(layer_kind_name(layer().kind)); }
  Program& program() { return program_; }
  dnnl::engine& engine() { return program_.engine; }
  const dnnl::primitive_attr& attr() const { return program_.attr; }

  Tensor& out() { return program_.tensors[layer_]; }
  int inputs() const { return static_cast<int>(plan_.inputs[layer_].size()); }
  int input(int slot) const { return plan_.inputs[layer_][slot]; }  // tensor index
  Tensor& in(int slot) { return program_.tensors[input(slot)]; }
  bool needs_grad(int tensor) const { return plan_.needs_grad(tensor); }
  bool input_grad(int slot) const { return needs_grad(input(slot)); }
  // Input 0 exists and receives a gradient.
  bool src_grad() const { return inputs() > 0 && input_grad(0); }
  bool first_grad(int slot) const { return plan_.first_grad[layer_][slot]; }
  bool bn_relu() const { return plan_.bn_relu[layer_]; }
  // ExecutorOptions::fold_batch_norm: the batch norm this conv is folded into, or the conv this
  // batch norm folds (-1: none).
  int fold_bn() const { return plan_.fold_bn[layer_]; }
  int fold_conv() const { return plan_.fold_conv[layer_]; }
  int grad_host(int tensor) const { return plan_.grad_host[tensor]; }
  // ExecutorOptions::fuse_concat: this concat writes its ReLU's output; the fused concat that
  // sums this add (-1: none); a layer's inputs (tensor indices).
  bool concat_relu() const { return plan_.concat_relu[layer_]; }
  int summed_by(int tensor) const { return plan_.summed_by[tensor]; }
  const std::vector<int>& inputs_of(int tensor) const { return plan_.inputs[tensor]; }

  // The output tensor in layout `md`, with a gradient memory when a gradient flows into it;
  // without a value buffer when not `stored` (a layer another one computes fused).
  void make_output(const memory::desc& md, bool stored = true);
  // A parameter of this layer (name "<layer>.<suffix>"), stored in layout `layout`, registered
  // with the executor; weights get weight decay.
  ParamMemory make_param(const std::string& suffix, ParamRole role, const memory::desc& plain,
                         const memory::desc& layout, int64_t numel);
  BnStats& make_bn_stats();
  void note_impl(const char* what, const dnnl::primitive_desc_base& pd);
  void note(const std::string& text);  // "<layer> <text>"

  // Forward: a step in both passes, or one pass only.
  void forward(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd, const Args& args,
               const std::string& phase);
  void forward_train(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                     const Args& args, const std::string& phase);
  void forward_infer(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                     const Args& args, const std::string& phase);
  void forward_train(std::function<void()> run, const std::string& phase);
  void forward_infer(std::function<void()> run, const std::string& phase);
  void forward_reorder(const memory& src, const memory& dst, const std::string& phase);
  // `src` in layout `want` for a forward primitive (reordered in both passes when it differs).
  memory forward_input(const memory& src, const memory::desc& want);

  // Backward steps of this layer, in the order they run.
  void backward(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd, const Args& args,
                const std::string& phase);
  void backward(std::function<void()> run, const std::string& phase);
  void backward_reorder(const memory& src, const memory& dst, bool accumulate,
                        const std::string& phase);
  // `src` in layout `want` for a backward primitive: a new buffer, or a scratch region.
  memory backward_input(const memory& src, const memory::desc& want);
  memory backward_input(const memory& src, const memory::desc& want, Scratch region);
  // `emit(target)` appends the steps that write input `slot`'s gradient (layout `md`) into
  // `target`: its diff when this is the first contribution in that layout, otherwise a scratch
  // region that the steps appended after `emit` write or add into the diff.
  void backward_to_input(int slot, const memory::desc& md,
                         const std::function<void(const memory& target)>& emit);
  // A backward primitive writing input `slot`'s gradient as DNNL_ARG_DIFF_SRC in layout `md`.
  void backward_to_input(int slot, const memory::desc& md, const dnnl::primitive& p,
                         const dnnl::primitive_desc_base& pd, Args args, const std::string& phase);
  // A backward primitive writing argument `arg` (layout `md`) for `dst`, through a reorder after
  // it when the layouts differ.
  void backward_into(const memory& dst, int arg, const memory::desc& md, const dnnl::primitive& p,
                     const dnnl::primitive_desc_base& pd, Args args, const std::string& phase);
  // Puts `src`, a gradient for input `slot`, into that input's diff (write or accumulate).
  void deliver(int slot, const memory& src, const std::string& phase);

  memory scratch(Scratch region, const memory::desc& md) { return program_.scratch(region, md); }
  memory diff_view(int tensor, const memory::desc& md) { return program_.diff_view(tensor, md); }

 private:
  void lower(int layer);

  Program& program_;
  const Plan& plan_;
  const Network& network_;
  const ExecutorOptions& options_;
  std::vector<Param>& params_;
  std::vector<BnStats>& bn_stats_;
  std::vector<std::string>& implementations_;
  std::vector<std::vector<Step>> bwd_by_layer_;
  int layer_ = 0;
};

// Input `slot`'s value in the activation data type: itself, or a converted copy (an f32
// input image joined with bf16 activations).
memory same_type_input(LowerContext& ctx, int slot);

using LowerFn = void (*)(LowerContext&);

void lower_input(LowerContext& ctx);  // in lowering.cpp
void lower_conv(LowerContext& ctx);
void lower_batch_norm(LowerContext& ctx);
void lower_relu(LowerContext& ctx);
void lower_pool(LowerContext& ctx);  // max_pool, avg_pool, global_avg_pool
void lower_add(LowerContext& ctx);
void lower_concat(LowerContext& ctx);
void lower_shift(LowerContext& ctx);
void lower_drop(LowerContext& ctx);  // drop_path, dropout
void lower_zero(LowerContext& ctx);
void lower_fully_connected(LowerContext& ctx);

}  // namespace cf::detail

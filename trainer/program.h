#pragma once
// Internal to trainer/: what a compiled Executor runs. The tensors, the three step lists
// (training forward, inference forward, backward), the buffers they own and the shared regions
// bound after compilation, with the helpers that append steps. Not part of the public interface.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "trainer/executor.h"

namespace cf::detail {

using dnnl::memory;
using Args = std::unordered_map<int, memory>;

struct Step {
  Step(std::function<void()> r, std::string p) : run(std::move(r)), phase(std::move(p)) {}
  std::function<void()> run;
  std::string phase;  // profile bucket, e.g. "fwd conv"
  std::string layer;  // for error messages
};

struct Tensor {
  memory::desc md;
  memory value;
  memory diff;  // empty when no gradient flows into this tensor
};

// An aligned, zero-initialised buffer owned outside oneDNN.
struct AlignedBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit AlignedBuffer(size_t n);
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// Shared backward scratch regions. Each is one buffer, as large as its largest user, that its
// memories are bound to after compilation; a user's contents live only from the step that
// writes them to the next steps that read them.
enum class Scratch : int {
  input_grad,   // an input's gradient contribution, before it is delivered into the input's diff
  output_grad,  // a layer's output gradient copied into another layout (primitive or plain copy)
  count,
};
constexpr int kScratchRegions = static_cast<int>(Scratch::count);

struct Program {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::primitive_attr attr;  // user scratchpad, shared by every primitive
  std::vector<Tensor> tensors;
  std::vector<Step> fwd_train, fwd_infer, bwd;
  std::vector<std::unique_ptr<AlignedBuffer>> owned;
  // Memories that live in a shared region; their handles are set once sizes are known.
  std::vector<memory> scratch_mems[kScratchRegions];
  size_t scratch_bytes[kScratchRegions] = {};
  std::vector<memory> scratchpad_mems;
  size_t scratchpad_bytes = 0;
  // Gradient memories get their buffers after compilation, from the liveness plan; views are
  // sub-memories (channel slices, shifted windows) of a tensor's gradient buffer.
  std::vector<std::vector<memory>> diff_views;
  std::vector<std::pair<int, int>> shared_grads;  // (tensor, add): gradient in the add's buffer
  ForwardState state;
  bool last_forward_training = true;
  // Layers whose own value is not stored (a batch norm or concat with its ReLU fused in, an add
  // summed inside a concat): how layer_value() recomputes it into `dst` (the tensor's layout)
  // from the last forward pass (`training`: a training pass).
  std::map<int, std::function<void(const memory& dst, bool training)>> recompute;
  // A convolution whose batch norm is folded into it at inference (ExecutorOptions::
  // fold_batch_norm): what the batch norm's lowering needs to build the folded convolution.
  struct FoldSource {
    dnnl::convolution_forward::desc infer_desc;  // with a bias, dst = the conv's output layout
    memory src;      // the conv's input as its producer writes it (training may reorder it)
    memory weights;  // the conv's weights parameter
    memory::desc weights_plain;  // oihw / goihw
  };
  std::map<int, FoldSource> fold_sources;
  // Recompute the folded weights and biases from the parameters and running statistics.
  std::vector<std::function<void()>> refold;
  int64_t allocated = 0;
  bool profile = false;
  std::map<std::string, double>* profile_out = nullptr;

  Program() { attr.set_scratchpad_mode(dnnl::scratchpad_mode::user); }

  memory alloc(const memory::desc& md);
  float* alloc_floats(size_t count);
  // A memory of `tensor`'s gradient buffer (bound with the gradient buffers).
  memory diff_view(int tensor, const memory::desc& md);
  // A memory in a shared scratch region, which grows to hold it.
  memory scratch(Scratch region, const memory::desc& md);
  // A memory bound to the start of a region without growing it (a view into a larger user).
  void scratch_view(Scratch region, const memory& view);

  void add_primitive(std::vector<Step>& list, const dnnl::primitive& p,
                     const dnnl::primitive_desc_base& pd, Args args, std::string phase);
  // dst = src in dst's layout, or dst += src with accumulate (a sum post-op).
  void add_reorder(std::vector<Step>& list, const memory& src, const memory& dst, bool accumulate,
                   const std::string& phase);
  // `src` in layout `want`: `src` itself when the layouts agree, otherwise a new buffer (or
  // `*region` when given) that a reorder step appended to each of `lists` fills.
  memory in_layout(std::initializer_list<std::vector<Step>*> lists, const memory& src,
                   const memory::desc& want, const std::string& phase,
                   const Scratch* region = nullptr);
  // Where a primitive that writes layout `want` should put a result that belongs in `dst`:
  // `dst` itself when the layouts agree, otherwise a new buffer that a reorder step appended to
  // `post` (run right after the primitive) copies into `dst`.
  memory out_layout(std::vector<Step>& post, const memory& dst, const memory::desc& want,
                    const std::string& phase);
  // Adds steps that put `src` (a gradient contribution) into tensor `target`'s diff: written
  // when `first` (the first contribution in backward order), accumulated otherwise.
  void deliver(std::vector<Step>& list, bool first, int target, const memory& src,
               const std::string& phase);
  // Memory a backward step should write a contribution to `target`'s gradient into (layout
  // `md`), plus the steps to run right after it.
  memory grad_target(bool first, int target, const memory::desc& md, std::vector<Step>& post,
                     const std::string& phase);
  // Allocates the shared regions (gradient scratch, oneDNN scratchpad) and binds their users.
  void bind_regions();

  void run(std::vector<Step>& steps);
};

}  // namespace cf::detail

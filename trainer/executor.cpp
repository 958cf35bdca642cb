#include "trainer/executor.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "trainer/buffer_plan.h"
#include "trainer/dnnl_compat.h"
#include "trainer/kernels.h"

namespace cf {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

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

// Frees an aligned buffer owned outside oneDNN.
struct AlignedBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit AlignedBuffer(size_t n) : bytes(std::max<size_t>(n, 64)) {
    ptr = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!ptr) throw std::bad_alloc();
    std::memset(ptr, 0, bytes);
  }
  ~AlignedBuffer() { std::free(ptr); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

memory::dims nchw_dims(int batch, const Shape& s) { return {batch, s.c, s.h, s.w}; }

int pad_end(int in, int out, int kernel_ext, int stride, int pad_begin) {
  return (out - 1) * stride + kernel_ext - in - pad_begin;
}

std::string conv_kind(const Layer& l) {
  const std::string k = std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w) +
                        (l.stride_h > 1 || l.stride_w > 1 ? " s2" : "");
  if (l.groups > 1) return "conv_dw " + k;
  return "conv " + k;
}

}  // namespace

struct Executor::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::primitive_attr attr;  // user scratchpad, shared by every primitive
  std::vector<Tensor> tensors;
  std::vector<Step> fwd_train, fwd_infer, bwd;
  std::vector<std::unique_ptr<AlignedBuffer>> owned;
  // Memories that live in a shared region; their handles are set once sizes are known.
  std::vector<memory> scratch_mems[2];
  size_t scratch_bytes[2] = {0, 0};
  std::vector<memory> scratchpad_mems;
  size_t scratchpad_bytes = 0;
  std::vector<std::vector<bool>> first_grad;  // [layer][slot]: first gradient written in backward
  // Gradient memories get their buffers after compilation, from the liveness plan; views are
  // sub-memories (channel slices, shifted windows) of a tensor's gradient buffer.
  std::vector<std::vector<memory>> diff_views;
  std::vector<std::pair<int, int>> shared_grads;  // (tensor, add): gradient in the add's buffer
  ForwardState state;
  bool last_forward_training = true;
  // Batch norms with a fused ReLU: how to recompute the output before the ReLU (debug access).
  struct BnBeforeRelu {
    dnnl::primitive plain;  // inference form, fed the statistics of the last forward pass
    std::unordered_map<int, memory> train_args, infer_args;  // without DST
  };
  std::map<int, BnBeforeRelu> bn_before_relu;
  int64_t allocated = 0;
  std::vector<int32_t> labels;
  bool profile = false;
  std::map<std::string, double>* profile_out = nullptr;

  Impl() { attr.set_scratchpad_mode(dnnl::scratchpad_mode::user); }

  memory alloc(const memory::desc& md) {
    owned.push_back(std::make_unique<AlignedBuffer>(md.get_size()));
    allocated += static_cast<int64_t>(owned.back()->bytes);
    return memory(md, engine, owned.back()->ptr);
  }
  float* alloc_floats(size_t count) {
    owned.push_back(std::make_unique<AlignedBuffer>(count * sizeof(float)));
    allocated += static_cast<int64_t>(owned.back()->bytes);
    return static_cast<float*>(owned.back()->ptr);
  }
  memory diff_view(int tensor, const memory::desc& md) {
    memory m(md, engine, DNNL_MEMORY_NONE);
    diff_views[tensor].push_back(m);
    return m;
  }
  memory scratch(int region, const memory::desc& md) {
    memory m(md, engine, DNNL_MEMORY_NONE);
    scratch_bytes[region] = std::max(scratch_bytes[region], md.get_size());
    scratch_mems[region].push_back(m);
    return m;
  }

  void add_primitive(std::vector<Step>& list, const dnnl::primitive& p,
                     const dnnl::primitive_desc_base& pd,
                     std::unordered_map<int, memory> args, std::string phase) {
    const memory::desc sp = pd.scratchpad_desc();
    if (sp.get_size() > 0) {
      memory m(sp, engine, DNNL_MEMORY_NONE);
      scratchpad_bytes = std::max(scratchpad_bytes, sp.get_size());
      scratchpad_mems.push_back(m);
      args[DNNL_ARG_SCRATCHPAD] = m;
    }
    list.push_back({[this, p, args] { p.execute(stream, args); }, std::move(phase)});
  }

  // dst = src in dst's layout, or dst += src with accumulate (a sum post-op).
  void add_reorder(std::vector<Step>& list, const memory& src, const memory& dst, bool accumulate,
                   const std::string& phase) {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      a.set_post_ops(ops);
    }
    dnnl::reorder::primitive_desc pd(engine, src.get_desc(), engine, dst.get_desc(), a);
    add_primitive(list, dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, phase);
  }

  // `src` in layout `want`: `src` itself when the layouts agree, otherwise a new buffer (scratch
  // region `region` when >= 0) that a reorder step appended to each of `lists` fills.
  memory in_layout(std::initializer_list<std::vector<Step>*> lists, const memory& src,
                   const memory::desc& want, const std::string& phase, int region = -1) {
    if (src.get_desc() == want) return src;
    memory dst = region >= 0 ? scratch(region, want) : alloc(want);
    for (auto* list : lists) add_reorder(*list, src, dst, false, phase);
    return dst;
  }

  // Where a primitive that writes layout `want` should put a result that belongs in `dst`:
  // `dst` itself when the layouts agree, otherwise a new buffer that a reorder step appended to
  // `post` (run right after the primitive) copies into `dst`.
  memory out_layout(std::vector<Step>& post, const memory& dst, const memory::desc& want,
                    const std::string& phase) {
    if (dst.get_desc() == want) return dst;
    memory tmp = alloc(want);
    add_reorder(post, tmp, dst, false, phase);
    return tmp;
  }

  // Adds steps that put `src` (a gradient for input `slot` of `layer`) into that tensor's diff:
  // written on the first contribution in backward order, accumulated afterwards.
  void deliver(std::vector<Step>& list, int layer, int slot, int target, const memory& src,
               const std::string& phase) {
    Tensor& t = tensors[target];
    const bool first = first_grad[layer][slot];
    const bool same = src.get_desc() == t.md;
    if (same && !first) {
      const size_t count = t.md.get_size() / sizeof(float);
      memory dst = t.diff;
      list.push_back({[src, dst, count] {
                        kernels::accumulate(static_cast<float*>(dst.get_data_handle()),
                                            static_cast<const float*>(src.get_data_handle()),
                                            static_cast<int64_t>(count));
                      },
                      phase});
      return;
    }
    add_reorder(list, src, t.diff, !first, phase);
  }

  // Memory a backward primitive should write input `slot`'s gradient into (layout `md`), plus
  // the steps to run right after it.
  memory grad_target(int layer, int slot, int target, const memory::desc& md,
                     std::vector<Step>& post, const std::string& phase) {
    Tensor& t = tensors[target];
    if (first_grad[layer][slot] && md == t.md) return t.diff;
    memory tmp = scratch(0, md);
    deliver(post, layer, slot, target, tmp, phase);
    return tmp;
  }

  void run(std::vector<Step>& steps) {
    for (auto& s : steps) {
      try {
        if (!profile) {
          s.run();
          continue;
        }
        const auto t0 = std::chrono::steady_clock::now();
        s.run();
        stream.wait();
        (*profile_out)[s.phase] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } catch (const dnnl::error& e) {
        throw std::runtime_error(s.layer + " (" + s.phase + "): oneDNN: " + e.what());
      }
    }
  }
};

Executor::Executor(const Network& network, const ExecutorOptions& options)
    : network_(network), options_(options), impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.profile = options.profile;
  m.profile_out = &profile_;
  const int N = options.batch;
  if (N < 1) throw std::invalid_argument("batch size must be at least 1");
  const auto& layers = network_.layers;
  const int L = static_cast<int>(layers.size());
  m.tensors.resize(L);
  m.first_grad.resize(L);
  m.diff_views.resize(L);
  // Pass-through layers alias their input's tensor; every other layer's inputs are resolved
  // through the aliases.
  std::vector<int> alias(L);
  for (int i = 0; i < L; ++i) {
    const Layer& l = layers[i];
    const bool pass_through = (l.kind == LayerKind::drop_path && !options.drop_path) ||
                              (l.kind == LayerKind::dropout && l.rate <= 0.0f);
    alias[i] = pass_through && i != network_.logits ? alias[l.inputs[0]] : i;
  }
  // A ReLU that is the only consumer of a batch norm runs inside it (oneDNN's fused BN + ReLU
  // saves a pass over the tensor each way); the ReLU layer then aliases the BN's tensor, which
  // holds the ReLU output.
  std::vector<bool> bn_relu(L, false);
  if (options.fuse_bn_relu) {
    std::vector<int> consumers(L, 0);
    for (int i = 0; i < L; ++i)
      if (alias[i] == i)
        for (int in : layers[i].inputs) ++consumers[alias[in]];
    for (int i = 0; i < L; ++i) {
      const Layer& l = layers[i];
      if (l.kind != LayerKind::relu || alias[i] != i || i == network_.logits ||
          i == network_.aux_logits)
        continue;
      const int b = alias[l.inputs[0]];
      if (layers[b].kind != LayerKind::batch_norm || consumers[b] != 1 || b == network_.logits ||
          b == network_.aux_logits)
        continue;
      alias[i] = b;
      bn_relu[b] = true;
    }
    for (int i = 0; i < L; ++i) alias[i] = alias[alias[i]];  // targets are earlier: resolved
  }
  std::vector<std::vector<int>> inputs_of(L);
  for (int i = 0; i < L; ++i)
    for (int in : layers[i].inputs) inputs_of[i].push_back(alias[in]);
  {
    // Backward visits layers last to first and a layer's slots in order: the first visit of each
    // tensor writes its gradient, later ones add to it.
    std::vector<bool> seen(L, false);
    for (int i = L - 1; i >= 0; --i) {
      m.first_grad[i].assign(inputs_of[i].size(), false);
      if (alias[i] != i) continue;
      for (size_t s = 0; s < inputs_of[i].size(); ++s) {
        const int t = inputs_of[i][s];
        if (!seen[t]) m.first_grad[i][s] = seen[t] = true;
      }
    }
  }
  auto needs_grad = [&](int t) { return layers[t].kind != LayerKind::input; };
  // Gradient contributions each tensor receives in backward, and its last consumer (whose
  // backward writes the tensor's gradient first).
  std::vector<int> contributions(L, 0), last_consumer(L, -1);
  for (int i = 0; i < L; ++i) {
    if (alias[i] != i) continue;
    for (int t : inputs_of[i]) ++contributions[t], last_consumer[t] = i;
  }
  // An add passes its gradient unchanged to every input, so an input can use the add's gradient
  // buffer instead of a copy. Inputs with no other contribution share it read-only (any number
  // of them); otherwise one input whose gradient the add writes first may take it over and
  // accumulate its later contributions there, once nothing else still reads it. Decided last
  // layer to first, the order in which backward fills the buffers.
  std::vector<int> grad_host(L, -1);  // planned: the tensor's gradient lives in this add's buffer
  if (options.reuse_gradient_buffers) {
    std::vector<int> group(L);
    std::vector<std::vector<int>> members(L);
    for (int i = 0; i < L; ++i) group[i] = i, members[i] = {i};
    std::vector<bool> takes_over(L, false);
    auto join = [&](int t, int host) {
      const int g = group[host];
      for (int x : members[group[t]]) group[x] = g, members[g].push_back(x);
      grad_host[t] = host;
    };
    for (int a = L - 1; a >= 0; --a) {
      if (alias[a] != a || layers[a].kind != LayerKind::add) continue;
      const std::vector<int>& ins = inputs_of[a];
      // Members whose gradient is still to be read (or, when taken over, written) after the add.
      bool later_reader = false, later_writer = false;
      for (int x : members[group[a]])
        if (x < a) later_reader = true, later_writer = later_writer || takes_over[x];
      std::vector<int> readers;
      for (int t : ins)
        if (needs_grad(t) && contributions[t] == 1 && grad_host[t] < 0) readers.push_back(t);
      if (!readers.empty()) {
        if (!later_writer)
          for (int t : readers) join(t, a);
        continue;
      }
      if (later_reader) continue;
      for (size_t s = 0; s < ins.size(); ++s) {
        const int t = ins[s];
        if (needs_grad(t) && m.first_grad[a][s] && grad_host[t] < 0 &&
            std::count(ins.begin(), ins.end(), t) == 1) {
          join(t, a);
          takes_over[t] = true;
          break;
        }
      }
    }
  }
  std::vector<std::vector<Step>> bwd_by_layer(L);
  int bn_count = 0;
  for (const auto& l : layers) bn_count += l.kind == LayerKind::batch_norm;
  bn_stats_.reserve(bn_count);

  auto& eng = m.engine;
  auto make_diff = [&](int i) {
    if (needs_grad(i)) m.tensors[i].diff = memory(m.tensors[i].md, eng, DNNL_MEMORY_NONE);
  };
  auto note_impl = [&](const Layer& l, const char* what, const dnnl::primitive_desc_base& pd) {
    implementations_.push_back(l.name + " " + what + ": " + dnnl_compat::impl_name(pd));
  };

  for (int i = 0; i < L; ++i) {
    const Layer& l = layers[i];
    Tensor& out = m.tensors[i];
    const size_t fwd_train_begin = m.fwd_train.size(), fwd_infer_begin = m.fwd_infer.size();
    struct NameSteps {  // labels this layer's steps for error messages, whatever path exits
      std::vector<Step>* lists[2];
      size_t begins[2];
      std::vector<Step>* bwd;
      const std::string& name;
      ~NameSteps() {
        for (int k = 0; k < 2; ++k)
          for (size_t j = begins[k]; j < lists[k]->size(); ++j) (*lists[k])[j].layer = name;
        for (auto& st : *bwd) st.layer = name;
      }
    } name_steps{{&m.fwd_train, &m.fwd_infer}, {fwd_train_begin, fwd_infer_begin},
                 &bwd_by_layer[i], l.name};
    const std::string kind = std::string(layer_kind_name(l.kind));
    if (alias[i] != i) {
      out = m.tensors[alias[i]];  // shares the input's value and gradient memory
      continue;
    }
    const std::vector<int>& ins = inputs_of[i];
    auto in = [&](int slot) -> Tensor& { return m.tensors[ins[slot]]; };
    const int src_layer = ins.empty() ? -1 : ins[0];
    const bool src_grad = src_layer >= 0 && needs_grad(src_layer);
    std::vector<Step>& bwd_steps = bwd_by_layer[i];

    switch (l.kind) {
      case LayerKind::input: {
        out.md = memory::desc(nchw_dims(N, l.out), dt::f32, tag::nchw);
        out.value = m.alloc(out.md);
        break;
      }
      case LayerKind::conv: {
        const Shape is = network_.in_shape(i);
        const int ext_h = (l.kernel_h - 1) * l.dilation_h + 1;
        const int ext_w = (l.kernel_w - 1) * l.dilation_w + 1;
        const memory::dims strides{l.stride_h, l.stride_w};
        const memory::dims dilates{l.dilation_h - 1, l.dilation_w - 1};
        const memory::dims pad_l{l.pad_h, l.pad_w};
        const memory::dims pad_r{pad_end(is.h, l.out.h, ext_h, l.stride_h, l.pad_h),
                                 pad_end(is.w, l.out.w, ext_w, l.stride_w, l.pad_w)};
        const bool grouped = l.groups > 1;
        const memory::dims wdims =
            grouped ? memory::dims{l.groups, l.out.c / l.groups, is.c / l.groups, l.kernel_h,
                                   l.kernel_w}
                    : memory::dims{l.out.c, is.c, l.kernel_h, l.kernel_w};
        const memory::desc src_any(nchw_dims(N, is), dt::f32, tag::any);
        const memory::desc w_any(wdims, dt::f32, tag::any);
        const memory::desc dst_any(nchw_dims(N, l.out), dt::f32, tag::any);
        dnnl::convolution_forward::primitive_desc fwd_pd(
            dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                            dnnl::algorithm::convolution_direct, src_any, w_any,
                                            dst_any, strides, dilates, pad_l, pad_r),
            m.attr, eng);
        note_impl(l, "fwd", fwd_pd);
        out.md = fwd_pd.dst_desc();
        out.value = m.alloc(out.md);
        // Weights live in the primitive's layout; the plain layout is for init and files.
        Param p;
        p.name = l.name + ".weights";
        p.role = ParamRole::weights;
        p.layer = i;
        p.plain = memory::desc(wdims, dt::f32, grouped ? tag::goihw : tag::oihw);
        p.value = m.alloc(fwd_pd.weights_desc());
        p.diff = m.alloc(fwd_pd.weights_desc());
        p.numel = network_.layer_params(i);
        p.decay = true;
        p.aux = l.aux;
        // Source: reorder only when the producer's layout differs from the one conv wants.
        const memory conv_src = m.in_layout({&m.fwd_train, &m.fwd_infer}, in(0).value,
                                            fwd_pd.src_desc(), "fwd reorder");
        const std::string phase = conv_kind(l);
        for (auto* list : {&m.fwd_train, &m.fwd_infer})
          m.add_primitive(*list, dnnl::convolution_forward(fwd_pd), fwd_pd,
                          {{DNNL_ARG_SRC, conv_src},
                           {DNNL_ARG_WEIGHTS, p.value},
                           {DNNL_ARG_DST, out.value}},
                          "fwd " + phase);
        make_diff(i);
        // Backward, weights.
        dnnl::convolution_backward_weights::primitive_desc bwdw_pd(
            dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any,
                                                     w_any, dst_any, strides, dilates, pad_l,
                                                     pad_r),
            m.attr, eng, fwd_pd);
        const std::string bwdw_impl = dnnl_compat::impl_name(bwdw_pd);
        const bool custom_dw =
            grouped && l.groups == is.c && l.groups == l.out.c &&
            (bwdw_impl.find("gemm") != std::string::npos ||
             bwdw_impl.find("ref") != std::string::npos) &&
            dnnl_compat::channel_block(fwd_pd.src_desc()) == 16 &&
            dnnl_compat::channel_block(out.md) == 16 &&
            fwd_pd.weights_desc() ==
                memory::desc(wdims, dt::f32, tag::Goihw16g) &&
            l.kernel_w <= 16;
        if (custom_dw) {
          implementations_.push_back(l.name + " bwd_weights: cellforge depthwise nChw16c (" +
                                     bwdw_impl + " avoided)");
          kernels::DepthwiseGeometry g{N,          is.c,       is.h,         is.w,
                                       l.out.h,    l.out.w,    l.kernel_h,   l.kernel_w,
                                       l.stride_h, l.stride_w, l.pad_h,      l.pad_w,
                                       l.dilation_h, l.dilation_w};
          memory src_mem = conv_src, dd = out.diff, dw = p.diff;
          bwd_steps.push_back({[g, src_mem, dd, dw] {
                                 kernels::depthwise_backward_weights_nchw16c(
                                     g, static_cast<const float*>(src_mem.get_data_handle()),
                                     static_cast<const float*>(dd.get_data_handle()),
                                     static_cast<float*>(dw.get_data_handle()));
                               },
                               "bwd_w " + phase});
        } else {
          implementations_.push_back(l.name + " bwd_weights: " + bwdw_impl);
          const memory bw_src =
              m.in_layout({&bwd_steps}, conv_src, bwdw_pd.src_desc(), "bwd reorder");
          const memory bw_dd =
              m.in_layout({&bwd_steps}, out.diff, bwdw_pd.diff_dst_desc(), "bwd reorder", 1);
          std::vector<Step> post;
          const memory bw_dw =
              m.out_layout(post, p.diff, bwdw_pd.diff_weights_desc(), "bwd reorder");
          m.add_primitive(bwd_steps, dnnl::convolution_backward_weights(bwdw_pd), bwdw_pd,
                          {{DNNL_ARG_SRC, bw_src},
                           {DNNL_ARG_DIFF_DST, bw_dd},
                           {DNNL_ARG_DIFF_WEIGHTS, bw_dw}},
                          "bwd_w " + phase);
          for (auto& s : post) bwd_steps.push_back(std::move(s));
        }
        // Backward, data.
        if (src_grad) {
          dnnl::convolution_backward_data::primitive_desc bwdd_pd(
              dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src_any,
                                                    w_any, dst_any, strides, dilates, pad_l,
                                                    pad_r),
              m.attr, eng, fwd_pd);
          note_impl(l, "bwd_data", bwdd_pd);
          const memory bd_w =
              m.in_layout({&bwd_steps}, p.value, bwdd_pd.weights_desc(), "bwd reorder");
          const memory bd_dd =
              m.in_layout({&bwd_steps}, out.diff, bwdd_pd.diff_dst_desc(), "bwd reorder", 1);
          std::vector<Step> post;
          memory target = m.grad_target(i, 0, src_layer, bwdd_pd.diff_src_desc(), post,
                                        "bwd accumulate");
          m.add_primitive(bwd_steps, dnnl::convolution_backward_data(bwdd_pd), bwdd_pd,
                          {{DNNL_ARG_DIFF_DST, bd_dd},
                           {DNNL_ARG_WEIGHTS, bd_w},
                           {DNNL_ARG_DIFF_SRC, target}},
                          "bwd_d " + phase);
          for (auto& s : post) bwd_steps.push_back(std::move(s));
        }
        params_.push_back(std::move(p));
        break;
      }
      case LayerKind::batch_norm: {
        const memory::desc md = in(0).md;
        out.md = md;
        out.value = m.alloc(md);
        make_diff(i);
        const float eps = options_.bn_epsilon;
        const bool fused = bn_relu[i];
        dnnl::batch_normalization_forward::primitive_desc train_pd(
            dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training, md, eps,
                                                    dnnl_compat::bn_flags(false, fused)),
            m.attr, eng);
        dnnl::batch_normalization_forward::primitive_desc infer_pd(
            dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, md, eps,
                                                    dnnl_compat::bn_flags(true, fused)),
            m.attr, eng);
        const std::string phase = fused ? "batch_norm+relu" : "batch_norm";
        memory workspace;  // ReLU mask of the fused form
        if (fused) workspace = m.alloc(train_pd.workspace_desc());
        note_impl(l, "fwd", train_pd);
        const memory::desc cmd({l.out.c}, dt::f32, tag::x);
        Param scale, shift;
        scale.name = l.name + ".scale";
        scale.role = ParamRole::bn_scale;
        shift.name = l.name + ".shift";
        shift.role = ParamRole::bn_shift;
        for (Param* p : {&scale, &shift}) {
          p->layer = i;
          p->plain = cmd;
          p->value = m.alloc(cmd);
          p->diff = m.alloc(cmd);
          p->numel = l.out.c;
          p->aux = l.aux;
        }
        memory mean = m.alloc(cmd), var = m.alloc(cmd);
        bn_stats_.push_back({l.name, i, std::vector<float>(l.out.c, 0.0f),
                             std::vector<float>(l.out.c, 1.0f)});
        BnStats& stats = bn_stats_.back();
        memory running_mean(cmd, eng, stats.running_mean.data());
        memory running_var(cmd, eng, stats.running_var.data());
        std::unordered_map<int, memory> train_args{{DNNL_ARG_SRC, in(0).value},
                                                   {DNNL_ARG_DST, out.value},
                                                   {DNNL_ARG_SCALE, scale.value},
                                                   {DNNL_ARG_SHIFT, shift.value},
                                                   {DNNL_ARG_MEAN, mean},
                                                   {DNNL_ARG_VARIANCE, var}};
        if (fused) train_args[DNNL_ARG_WORKSPACE] = workspace;
        m.add_primitive(m.fwd_train, dnnl::batch_normalization_forward(train_pd), train_pd,
                        train_args, "fwd " + phase);
        // Running statistics (unbiased variance, as PyTorch keeps them).
        const float momentum = options_.bn_momentum;
        const double count = static_cast<double>(N) * l.out.h * l.out.w;
        const float unbias = count > 1 ? static_cast<float>(count / (count - 1)) : 1.0f;
        const int channels = l.out.c;
        m.fwd_train.push_back({[mean, var, running_mean, running_var, momentum, unbias, channels] {
                                 const float* bm = static_cast<const float*>(mean.get_data_handle());
                                 const float* bv = static_cast<const float*>(var.get_data_handle());
                                 float* rm = static_cast<float*>(running_mean.get_data_handle());
                                 float* rv = static_cast<float*>(running_var.get_data_handle());
                                 for (int c = 0; c < channels; ++c) {
                                   rm[c] = (1 - momentum) * rm[c] + momentum * bm[c];
                                   rv[c] = (1 - momentum) * rv[c] + momentum * bv[c] * unbias;
                                 }
                               },
                               "fwd " + phase});
        std::unordered_map<int, memory> infer_args{{DNNL_ARG_SRC, in(0).value},
                                                   {DNNL_ARG_DST, out.value},
                                                   {DNNL_ARG_SCALE, scale.value},
                                                   {DNNL_ARG_SHIFT, shift.value},
                                                   {DNNL_ARG_MEAN, running_mean},
                                                   {DNNL_ARG_VARIANCE, running_var}};
        m.add_primitive(m.fwd_infer, dnnl::batch_normalization_forward(infer_pd), infer_pd,
                        infer_args, "fwd " + phase);
        if (fused) {
          // The BN output before the ReLU is not kept; layer_value() recomputes it from the
          // statistics of the last forward pass.
          dnnl::batch_normalization_forward::primitive_desc plain_pd(
              dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, md,
                                                      eps, dnnl_compat::bn_flags(true)),
              eng);
          train_args.erase(DNNL_ARG_WORKSPACE);
          train_args.erase(DNNL_ARG_DST);
          infer_args.erase(DNNL_ARG_DST);
          m.bn_before_relu[i] = {dnnl::batch_normalization_forward(plain_pd), train_args,
                                 infer_args};
        }
        if (src_grad) {
          dnnl::batch_normalization_backward::primitive_desc bwd_pd(
              dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, md, md, eps,
                                                       dnnl_compat::bn_flags(false, fused)),
              m.attr, eng, train_pd);
          std::vector<Step> post;
          memory target = m.grad_target(i, 0, src_layer, bwd_pd.diff_src_desc(), post,
                                        "bwd accumulate");
          std::unordered_map<int, memory> bwd_args{{DNNL_ARG_SRC, in(0).value},
                                                   {DNNL_ARG_MEAN, mean},
                                                   {DNNL_ARG_VARIANCE, var},
                                                   {DNNL_ARG_DIFF_DST, out.diff},
                                                   {DNNL_ARG_SCALE, scale.value},
                                                   {DNNL_ARG_SHIFT, shift.value},
                                                   {DNNL_ARG_DIFF_SRC, target},
                                                   {DNNL_ARG_DIFF_SCALE, scale.diff},
                                                   {DNNL_ARG_DIFF_SHIFT, shift.diff}};
          if (fused) bwd_args[DNNL_ARG_WORKSPACE] = workspace;
          m.add_primitive(bwd_steps, dnnl::batch_normalization_backward(bwd_pd), bwd_pd,
                          bwd_args, "bwd " + phase);
          for (auto& s : post) bwd_steps.push_back(std::move(s));
        }
        params_.push_back(std::move(scale));
        params_.push_back(std::move(shift));
        break;
      }
      case LayerKind::relu: {
        const memory::desc md = in(0).md;
        out.md = md;
        out.value = m.alloc(md);
        make_diff(i);
        dnnl::eltwise_forward::primitive_desc fwd_pd(
            dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training,
                                        dnnl::algorithm::eltwise_relu, md, 0.0f, 0.0f),
            m.attr, eng);
        for (auto* list : {&m.fwd_train, &m.fwd_infer})
          m.add_primitive(*list, dnnl::eltwise_forward(fwd_pd), fwd_pd,
                          {{DNNL_ARG_SRC, in(0).value}, {DNNL_ARG_DST, out.value}}, "fwd relu");
        if (src_grad) {
          dnnl::eltwise_backward::primitive_desc bwd_pd(
              dnnl::eltwise_backward::desc(dnnl::algorithm::eltwise_relu, md, md, 0.0f, 0.0f),
              m.attr, eng, fwd_pd);
          std::vector<Step> post;
          memory target = m.grad_target(i, 0, src_layer, bwd_pd.diff_src_desc(), post,
                                        "bwd accumulate");
          m.add_primitive(bwd_steps, dnnl::eltwise_backward(bwd_pd), bwd_pd,
                          {{DNNL_ARG_SRC, in(0).value},
                           {DNNL_ARG_DIFF_DST, out.diff},
                           {DNNL_ARG_DIFF_SRC, target}},
                          "bwd relu");
          for (auto& s : post) bwd_steps.push_back(std::move(s));
        }
        break;
      }
      case LayerKind::max_pool:
      case LayerKind::avg_pool:
      case LayerKind::global_avg_pool: {
        const Shape is = network_.in_shape(i);
        const bool global = l.kind == LayerKind::global_avg_pool;
        const auto alg = l.kind == LayerKind::max_pool ? dnnl::algorithm::pooling_max
                                                       : dnnl::algorithm::pooling_avg_exclude_padding;
        const memory::dims kernel = global ? memory::dims{is.h, is.w}
                                           : memory::dims{l.kernel_h, l.kernel_w};
        const memory::dims strides = global ? memory::dims{1, 1}
                                            : memory::dims{l.stride_h, l.stride_w};
        const memory::dims pad_l = global ? memory::dims{0, 0} : memory::dims{l.pad_h, l.pad_w};
        const memory::dims pad_r =
            global ? memory::dims{0, 0}
                   : memory::dims{pad_end(is.h, l.out.h, l.kernel_h, l.stride_h, l.pad_h),
                                  pad_end(is.w, l.out.w, l.kernel_w, l.stride_w, l.pad_w)};
        const memory::desc dst_any(nchw_dims(N, l.out), dt::f32, tag::any);
        dnnl::pooling_forward::primitive_desc fwd_pd(
            dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg, in(0).md, dst_any,
                                        strides, kernel, pad_l, pad_r),
            m.attr, eng);
        note_impl(l, "fwd", fwd_pd);
        out.md = fwd_pd.dst_desc();
        out.value = m.alloc(out.md);
        make_diff(i);
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, in(0).value},
                                             {DNNL_ARG_DST, out.value}};
        memory workspace;
        if (l.kind == LayerKind::max_pool) {
          workspace = m.alloc(fwd_pd.workspace_desc());
          args[DNNL_ARG_WORKSPACE] = workspace;
        }
        for (auto* list : {&m.fwd_train, &m.fwd_infer})
          m.add_primitive(*list, dnnl::pooling_forward(fwd_pd), fwd_pd, args, "fwd " + kind);
        if (src_grad) {
          dnnl::pooling_backward::primitive_desc bwd_pd(
              dnnl::pooling_backward::desc(alg, memory::desc(nchw_dims(N, is), dt::f32, tag::any),
                                           out.md, strides, kernel, pad_l, pad_r),
              m.attr, eng, fwd_pd);
          std::vector<Step> post;
          memory target = m.grad_target(i, 0, src_layer, bwd_pd.diff_src_desc(), post,
                                        "bwd accumulate");
          std::unordered_map<int, memory> bargs{{DNNL_ARG_DIFF_DST, out.diff},
                                                {DNNL_ARG_DIFF_SRC, target}};
          if (workspace) bargs[DNNL_ARG_WORKSPACE] = workspace;
          m.add_primitive(bwd_steps, dnnl::pooling_backward(bwd_pd), bwd_pd, bargs, "bwd " + kind);
          for (auto& s : post) bwd_steps.push_back(std::move(s));
        }
        break;
      }
      case LayerKind::add: {
        std::vector<memory::desc> srcs;
        for (size_t s = 0; s < ins.size(); ++s) srcs.push_back(in(s).md);
        const std::vector<float> scales(srcs.size(), 1.0f);
        dnnl::sum::primitive_desc pd(scales, srcs, eng, m.attr);
        out.md = pd.dst_desc();
        out.value = m.alloc(out.md);
        make_diff(i);
        std::unordered_map<int, memory> args{{DNNL_ARG_DST, out.value}};
        for (size_t s = 0; s < ins.size(); ++s)
          args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(s)] = in(s).value;
        for (auto* list : {&m.fwd_train, &m.fwd_infer})
          m.add_primitive(*list, dnnl::sum(pd), pd, args, "fwd add");
        for (size_t s = 0; s < ins.size(); ++s) {
          if (!needs_grad(ins[s])) continue;
          if (grad_host[ins[s]] == i && in(s).md == out.md)
            m.shared_grads.push_back({ins[s], i});  // no step: same buffer
          else
            m.deliver(bwd_steps, i, static_cast<int>(s), ins[s], out.diff, "bwd add");
        }
        break;
      }
      case LayerKind::concat: {
        std::vector<memory::desc> srcs;
        for (size_t s = 0; s < ins.size(); ++s) srcs.push_back(in(s).md);
        dnnl::concat::primitive_desc pd(1, srcs, eng, m.attr);
        note_impl(l, "fwd", pd);
        out.md = pd.dst_desc();
        out.value = m.alloc(out.md);
        make_diff(i);
        std::unordered_map<int, memory> args{{DNNL_ARG_DST, out.value}};
        for (size_t s = 0; s < ins.size(); ++s)
          args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(s)] = in(s).value;
        for (auto* list : {&m.fwd_train, &m.fwd_infer})
          m.add_primitive(*list, dnnl::concat(pd), pd, args, "fwd concat");
        // Backward: each input's gradient is a channel slice of the output gradient. Blocked
        // layouts can only be sliced at block boundaries; otherwise slice a plain copy.
        const int block = dnnl_compat::channel_block(out.md);
        bool aligned = block >= 1;
        {
          int offset = 0;
          for (size_t s = 0; s < ins.size(); ++s) {
            if (block > 1 && offset % block != 0) aligned = false;
            offset += network_.in_shape(i, static_cast<int>(s)).c;
          }
        }
        memory sliced = out.diff;
        if (!aligned) {
          sliced = m.scratch(1, memory::desc(nchw_dims(N, l.out), dt::f32, tag::nchw));
          m.add_reorder(bwd_steps, out.diff, sliced, false, "bwd concat");
        }
        int offset = 0;
        for (size_t s = 0; s < ins.size(); ++s) {
          const Shape is = network_.in_shape(i, static_cast<int>(s));
          if (needs_grad(ins[s])) {
            const memory::desc sub =
                sliced.get_desc().submemory_desc(nchw_dims(N, is), {0, offset, 0, 0});
            memory part = aligned ? m.diff_view(i, sub) : memory(sub, eng, DNNL_MEMORY_NONE);
            if (!aligned) m.scratch_mems[1].push_back(part);  // lives in the plain copy
            m.deliver(bwd_steps, i, static_cast<int>(s), ins[s], part, "bwd concat");
          }
          offset += is.c;
        }
        break;
      }
      case LayerKind::shift: {
        const Shape is = network_.in_shape(i);
        out.md = in(0).md;
        out.value = m.alloc(out.md);  // zero-initialised: the last row and column stay zero
        make_diff(i);
        if (is.h > 1 && is.w > 1) {
          const memory::dims inner{N, is.c, is.h - 1, is.w - 1};
          const memory::desc from_md = in(0).md.submemory_desc(inner, {0, 0, 1, 1});
          const memory::desc to_md = out.md.submemory_desc(inner, {0, 0, 0, 0});
          memory from(from_md, eng, in(0).value.get_data_handle());
          memory to(to_md, eng, out.value.get_data_handle());
          for (auto* list : {&m.fwd_train, &m.fwd_infer})
            m.add_reorder(*list, from, to, false, "fwd shift");
          if (src_grad) {
            const Tensor& src_t = in(0);
            const bool first = m.first_grad[i][0];
            memory grad_from = m.diff_view(i, out.md.submemory_desc(inner, {0, 0, 0, 0}));
            memory grad_to = m.diff_view(ins[0], src_t.md.submemory_desc(inner, {0, 0, 1, 1}));
            if (first) {
              // The first row and column of the input get no gradient.
              memory whole = src_t.diff;
              const size_t bytes = src_t.md.get_size();
              bwd_steps.push_back(
                  {[whole, bytes] { std::memset(whole.get_data_handle(), 0, bytes); }, "bwd shift"});
            }
            m.add_reorder(bwd_steps, grad_from, grad_to, true, "bwd shift");
          }
        } else if (src_grad && m.first_grad[i][0]) {
          memory whole = in(0).diff;
          const size_t bytes = in(0).md.get_size();
          bwd_steps.push_back(
              {[whole, bytes] { std::memset(whole.get_data_handle(), 0, bytes); }, "bwd shift"});
        }
        break;
      }
      case LayerKind::drop_path:
      case LayerKind::dropout: {
        out.md = in(0).md;
        out.value = m.alloc(out.md);
        make_diff(i);
        const size_t bytes = out.md.get_size();
        const int64_t count = static_cast<int64_t>(bytes / sizeof(float));
        memory src = in(0).value, dst = out.value;
        m.fwd_infer.push_back({[src, dst, bytes] {
                                 std::memcpy(dst.get_data_handle(), src.get_data_handle(), bytes);
                               },
                               "fwd " + kind});
        if (!dnnl_compat::batch_outermost(out.md))
          throw std::logic_error(l.name + ": unexpected activation layout");
        // Multiplier per image (drop path) or per element (dropout), drawn each training step.
        const bool per_image = l.kind == LayerKind::drop_path;
        float* mask = m.alloc_floats(per_image ? static_cast<size_t>(N) : static_cast<size_t>(count));
        const float depth = network_.num_cells > 0
                                ? static_cast<float>(l.cell + 1) / network_.num_cells
                                : 1.0f;
        const float rate = l.rate;
        Impl* mp = &m;
        m.fwd_train.push_back(
            {[mp, src, dst, bytes, count, mask, per_image, depth, rate, N] {
               const float p = per_image ? mp->state.drop_path_prob * depth : rate;
               const int64_t n_mask = per_image ? N : count;
               if (p <= 0.0f || mp->state.rng == nullptr) {
                 std::fill(mask, mask + n_mask, 1.0f);
                 std::memcpy(dst.get_data_handle(), src.get_data_handle(), bytes);
                 return;
               }
               const float keep = 1.0f - p;
               for (int64_t k = 0; k < n_mask; ++k)
                 mask[k] = mp->state.rng->uniform01() < keep ? 1.0f / keep : 0.0f;
               if (per_image)
                 kernels::scale_images(static_cast<const float*>(src.get_data_handle()),
                                       static_cast<float*>(dst.get_data_handle()), mask, N,
                                       count / N);
               else
                 kernels::multiply(static_cast<const float*>(src.get_data_handle()), mask,
                                   static_cast<float*>(dst.get_data_handle()), count);
             },
             "fwd " + kind});
        if (src_grad) {
          memory tmp = m.first_grad[i][0] ? in(0).diff : m.scratch(0, out.md);
          memory dd = out.diff;
          bwd_steps.push_back({[dd, tmp, mask, per_image, count, N] {
                                 if (per_image)
                                   kernels::scale_images(
                                       static_cast<const float*>(dd.get_data_handle()),
                                       static_cast<float*>(tmp.get_data_handle()), mask, N,
                                       count / N);
                                 else
                                   kernels::multiply(static_cast<const float*>(dd.get_data_handle()),
                                                     mask, static_cast<float*>(tmp.get_data_handle()),
                                                     count);
                               },
                               "bwd " + kind});
          if (!m.first_grad[i][0]) m.deliver(bwd_steps, i, 0, src_layer, tmp, "bwd accumulate");
        }
        break;
      }
      case LayerKind::fully_connected: {
        const Shape is = network_.in_shape(i);
        const memory::dims wdims{l.out.c, is.c, is.h, is.w};
        const memory::desc w_any(wdims, dt::f32, tag::any);
        const memory::desc bias_md({l.out.c}, dt::f32, tag::x);
        const memory::desc dst_md({N, l.out.c}, dt::f32, tag::nc);
        const memory::desc src_any(nchw_dims(N, is), dt::f32, tag::any);
        dnnl::inner_product_forward::primitive_desc fwd_pd(
            dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, src_any, w_any,
                                              bias_md, dst_md),
            m.attr, eng);
        note_impl(l, "fwd", fwd_pd);
        out.md = dst_md;
        out.value = m.alloc(dst_md);
        make_diff(i);
        Param w, b;
        w.name = l.name + ".weights";
        w.role = ParamRole::weights;
        w.plain = memory::desc(wdims, dt::f32, tag::oihw);
        w.value = m.alloc(fwd_pd.weights_desc());
        w.diff = m.alloc(fwd_pd.weights_desc());
        w.numel = int64_t{l.out.c} * is.numel();
        w.decay = true;
        b.name = l.name + ".bias";
        b.role = ParamRole::bias;
        b.plain = bias_md;
        b.value = m.alloc(bias_md);
        b.diff = m.alloc(bias_md);
        b.numel = l.out.c;
        for (Param* p : {&w, &b}) {
          p->layer = i;
          p->aux = l.aux;
        }
        const memory fc_src = m.in_layout({&m.fwd_train, &m.fwd_infer}, in(0).value,
                                          fwd_pd.src_desc(), "fwd reorder");
        for (auto* list : {&m.fwd_train, &m.fwd_infer})
          m.add_primitive(*list, dnnl::inner_product_forward(fwd_pd), fwd_pd,
                          {{DNNL_ARG_SRC, fc_src},
                           {DNNL_ARG_WEIGHTS, w.value},
                           {DNNL_ARG_BIAS, b.value},
                           {DNNL_ARG_DST, out.value}},
                          "fwd fully_connected");
        dnnl::inner_product_backward_weights::primitive_desc bwdw_pd(
            dnnl::inner_product_backward_weights::desc(src_any, w_any, bias_md, dst_md), m.attr,
            eng, fwd_pd);
        const memory bw_src = m.in_layout({&bwd_steps}, fc_src, bwdw_pd.src_desc(), "bwd reorder");
        std::vector<Step> post_w;
        const memory bw_dw =
            m.out_layout(post_w, w.diff, bwdw_pd.diff_weights_desc(), "bwd reorder");
        m.add_primitive(bwd_steps, dnnl::inner_product_backward_weights(bwdw_pd), bwdw_pd,
                        {{DNNL_ARG_SRC, bw_src},
                         {DNNL_ARG_DIFF_DST, out.diff},
                         {DNNL_ARG_DIFF_WEIGHTS, bw_dw},
                         {DNNL_ARG_DIFF_BIAS, b.diff}},
                        "bwd_w fully_connected");
        for (auto& s : post_w) bwd_steps.push_back(std::move(s));
        if (src_grad) {
          dnnl::inner_product_backward_data::primitive_desc bwdd_pd(
              dnnl::inner_product_backward_data::desc(src_any, w_any, dst_md), m.attr, eng,
              fwd_pd);
          const memory bd_w =
              m.in_layout({&bwd_steps}, w.value, bwdd_pd.weights_desc(), "bwd reorder");
          std::vector<Step> post;
          memory target = m.grad_target(i, 0, src_layer, bwdd_pd.diff_src_desc(), post,
                                        "bwd accumulate");
          m.add_primitive(bwd_steps, dnnl::inner_product_backward_data(bwdd_pd), bwdd_pd,
                          {{DNNL_ARG_DIFF_DST, out.diff},
                           {DNNL_ARG_WEIGHTS, bd_w},
                           {DNNL_ARG_DIFF_SRC, target}},
                          "bwd_d fully_connected");
          for (auto& s : post) bwd_steps.push_back(std::move(s));
        }
        params_.push_back(std::move(w));
        params_.push_back(std::move(b));
        break;
      }
    }
  }

  // Backward runs layers last to first.
  for (int i = L - 1; i >= 0; --i)
    for (auto& step : bwd_by_layer[i]) m.bwd.push_back(std::move(step));

  // Gradient buffers by liveness. Backward step k runs layer L-1-k; a tensor's gradient is live
  // from its first write (its last consumer's backward; the loss, before step 0, for logits)
  // to its own backward. Tensors joined through an add share one lifetime.
  {
    std::vector<int> group(L);
    for (int t = 0; t < L; ++t) group[t] = t;
    auto root = [&](int t) {
      while (group[t] != t) t = group[t];
      return t;
    };
    for (auto [t, a] : m.shared_grads) group[root(t)] = root(a);
    std::vector<int> group_life(L, -1);  // root -> index into lifetimes
    std::vector<Lifetime> lifetimes;
    std::vector<memory::desc> kinds;
    std::vector<int> owner;  // lifetime -> root tensor
    for (int t = 0; t < L; ++t) {
      if (alias[t] != t || !m.tensors[t].diff) continue;
      const bool by_loss = t == network_.logits || t == network_.aux_logits;
      const int begin = by_loss ? -1 : last_consumer[t] >= 0 ? L - 1 - last_consumer[t] : -2;
      const int end = L - 1 - t;
      const int r = root(t);
      if (group_life[r] < 0) {
        group_life[r] = static_cast<int>(lifetimes.size());
        lifetimes.push_back({begin, end, -1});
        owner.push_back(r);
      }
      Lifetime& life = lifetimes[group_life[r]];
      life.begin = std::min(life.begin, begin);
      life.end = std::max(life.end, end);
    }
    for (size_t k = 0; k < lifetimes.size(); ++k) {
      const memory::desc& md = m.tensors[owner[k]].md;
      // Never written (no consumer): a buffer of its own keeps it zero. Without reuse every
      // lifetime is a kind of its own.
      const bool alone = lifetimes[k].begin == -2 || !options.reuse_gradient_buffers;
      int kind = -1;
      if (!alone)
        for (size_t j = 0; j < kinds.size() && kind < 0; ++j)
          if (kinds[j] == md) kind = static_cast<int>(j);
      if (kind < 0) kind = static_cast<int>(kinds.size()), kinds.push_back(md);
      lifetimes[k].kind = kind;
    }
    int buffer_count = 0;
    const std::vector<int> buffer_of = assign_buffers(lifetimes, &buffer_count);
    std::vector<void*> buffers(buffer_count, nullptr);
    for (size_t k = 0; k < lifetimes.size(); ++k) {
      void*& ptr = buffers[buffer_of[k]];
      if (!ptr) ptr = m.alloc_floats(kinds[lifetimes[k].kind].get_size() / sizeof(float));
    }
    for (int t = 0; t < L; ++t) {
      if (alias[t] != t || !m.tensors[t].diff) continue;
      void* ptr = buffers[buffer_of[group_life[root(t)]]];
      m.tensors[t].diff.set_data_handle(ptr);
      for (auto& view : m.diff_views[t]) view.set_data_handle(ptr);
    }
  }

  // Shared regions: gradient scratch and the oneDNN scratchpad.
  for (int r = 0; r < 2; ++r) {
    if (m.scratch_mems[r].empty()) continue;
    float* region = m.alloc_floats(m.scratch_bytes[r] / sizeof(float) + 16);
    for (auto& mem : m.scratch_mems[r]) mem.set_data_handle(region);
  }
  if (!m.scratchpad_mems.empty()) {
    float* pad = m.alloc_floats(m.scratchpad_bytes / sizeof(float) + 16);
    for (auto& mem : m.scratchpad_mems) mem.set_data_handle(pad);
  }
  allocated_bytes_ = m.allocated;
}

Executor::~Executor() = default;

float* Executor::input() {
  return static_cast<float*>(impl_->tensors[0].value.get_data_handle());
}

const float* Executor::logits() const {
  return static_cast<const float*>(impl_->tensors[network_.logits].value.get_data_handle());
}

const float* Executor::aux_logits() const {
  if (network_.aux_logits < 0) return nullptr;
  return static_cast<const float*>(impl_->tensors[network_.aux_logits].value.get_data_handle());
}

void Executor::forward(bool training, const ForwardState& state) {
  impl_->state = state;
  impl_->last_forward_training = training;
  impl_->run(training ? impl_->fwd_train : impl_->fwd_infer);
  impl_->stream.wait();
}

double Executor::loss(const int32_t* labels, float label_smoothing, float aux_weight, int* correct,
                      double* aux_loss) {
  const int classes = network_.spec.classes;
  auto& t = impl_->tensors;
  const double main = kernels::softmax_cross_entropy(
      logits(), labels, options_.batch, classes, label_smoothing, 1.0f,
      static_cast<float*>(t[network_.logits].diff.get_data_handle()), correct);
  if (network_.aux_logits >= 0) {
    const double aux = kernels::softmax_cross_entropy(
        aux_logits(), labels, options_.batch, classes, label_smoothing, aux_weight,
        static_cast<float*>(t[network_.aux_logits].diff.get_data_handle()), nullptr);
    if (aux_loss) *aux_loss = aux;
  }
  return main;
}

void Executor::backward() {
  impl_->run(impl_->bwd);
  impl_->stream.wait();
}

void Executor::init_params(Rng& rng) {
  auto normal = [&rng] {
    // Box-Muller on the project RNG (std:: distributions differ between standard libraries).
    const double u1 = 1.0 - rng.uniform01(), u2 = rng.uniform01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  };
  for (Param& p : params_) {
    std::vector<float> v(static_cast<size_t>(p.numel));
    const Layer& l = network_.layers[p.layer];
    switch (p.role) {
      case ParamRole::weights: {
        const int64_t fan_in = p.numel / l.out.c;
        if (l.kind == LayerKind::fully_connected) {
          const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
          for (auto& x : v) x = static_cast<float>((2 * rng.uniform01() - 1) * bound);
        } else {
          const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in));  // He et al.
          for (auto& x : v) x = static_cast<float>(normal() * stddev);
        }
        break;
      }
      case ParamRole::bias:
      case ParamRole::bn_shift:
        std::fill(v.begin(), v.end(), 0.0f);
        break;
      case ParamRole::bn_scale:
        std::fill(v.begin(), v.end(), 1.0f);
        break;
    }
    write_param(p, v);
  }
  for (auto& s : bn_stats_) {
    std::fill(s.running_mean.begin(), s.running_mean.end(), 0.0f);
    std::fill(s.running_var.begin(), s.running_var.end(), 1.0f);
  }
}

namespace {
std::vector<float> read_plain(const dnnl::memory& mem, const memory::desc& plain_md,
                              const dnnl::engine& engine, dnnl::stream& stream) {
  std::vector<float> v(plain_md.get_size() / sizeof(float));
  memory plain(plain_md, engine, v.data());
  memory src = mem;
  dnnl::reorder(src, plain).execute(stream, src, plain);
  stream.wait();
  return v;
}
}  // namespace

std::vector<float> Executor::read_param(const Param& p) const {
  return read_plain(p.value, p.plain, impl_->engine, impl_->stream);
}

std::vector<float> Executor::read_grad(const Param& p) const {
  return read_plain(p.diff, p.plain, impl_->engine, impl_->stream);
}

void Executor::write_param(Param& p, const std::vector<float>& values) {
  if (values.size() * sizeof(float) != p.plain.get_size())
    throw std::invalid_argument(p.name + ": expected " + std::to_string(p.plain.get_size() / 4) +
                                " values, got " + std::to_string(values.size()));
  std::vector<float> copy = values;
  dnnl::memory plain(p.plain, impl_->engine, copy.data());
  dnnl::reorder(plain, p.value).execute(impl_->stream, plain, p.value);
  impl_->stream.wait();
}

namespace {
std::vector<float> to_plain(const dnnl::memory& mem, const dnnl::engine& engine,
                            dnnl::stream& stream) {
  const memory::desc md = mem.get_desc();
  const memory::dims dims = md.dims();
  const memory::desc plain(dims, dt::f32, dims.size() == 2 ? tag::nc : tag::nchw);
  std::vector<float> v(plain.get_size() / sizeof(float));
  memory out(plain, engine, v.data());
  memory src = mem;
  dnnl::reorder(src, out).execute(stream, src, out);
  stream.wait();
  return v;
}
}  // namespace

std::vector<float> Executor::layer_value(int layer) const {
  const auto fused = impl_->bn_before_relu.find(layer);
  if (fused != impl_->bn_before_relu.end()) {
    memory before(impl_->tensors[layer].md, impl_->engine);
    auto args = impl_->last_forward_training ? fused->second.train_args : fused->second.infer_args;
    args[DNNL_ARG_DST] = before;
    fused->second.plain.execute(impl_->stream, args);
    impl_->stream.wait();
    return to_plain(before, impl_->engine, impl_->stream);
  }
  return to_plain(impl_->tensors[layer].value, impl_->engine, impl_->stream);
}

std::vector<float> Executor::layer_diff(int layer) const {
  if (!impl_->tensors[layer].diff) return {};
  return to_plain(impl_->tensors[layer].diff, impl_->engine, impl_->stream);
}

int64_t Executor::estimate_bytes(const Network& network, int batch) {
  // Activations and their gradients with channels padded to the 16-wide blocks oneDNN uses,
  // parameters with gradients and momentum, plus a 25% allowance for reorders and scratch.
  int64_t total = 0;
  for (size_t i = 0; i < network.layers.size(); ++i) {
    const Layer& l = network.layers[i];
    const int64_t padded_c = (l.out.c + 15) / 16 * 16;
    const int64_t act = int64_t{batch} * padded_c * l.out.h * l.out.w * 4;
    total += l.kind == LayerKind::input ? act : 2 * act;
    total += 3 * network.layer_params(static_cast<int>(i)) * 4;
  }
  return total + total / 4;
}

}  // namespace cf

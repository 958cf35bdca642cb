#include "trainer/lowering.h"

#include <iterator>

#include "trainer/dnnl_compat.h"

namespace cf::detail {

namespace {

struct Lowering {
  LayerKind kind;
  LowerFn lower;
};

// One entry per LayerKind, in enum order.
constexpr Lowering kLowerings[] = {
    {LayerKind::input, lower_input},
    {LayerKind::conv, lower_conv},
    {LayerKind::batch_norm, lower_batch_norm},
    {LayerKind::relu, lower_relu},
    {LayerKind::max_pool, lower_pool},
    {LayerKind::avg_pool, lower_pool},
    {LayerKind::add, lower_add},
    {LayerKind::concat, lower_concat},
    {LayerKind::shift, lower_shift},
    {LayerKind::drop_path, lower_drop},
    {LayerKind::global_avg_pool, lower_pool},
    {LayerKind::dropout, lower_drop},
    {LayerKind::zero, lower_zero},
    {LayerKind::fully_connected, lower_fully_connected},
};
static_assert(std::size(kLowerings) == kLayerKindCount, "one lowering per layer kind");

constexpr bool lowerings_in_enum_order() {
  for (size_t k = 0; k < std::size(kLowerings); ++k)
    if (static_cast<size_t>(kLowerings[k].kind) != k) return false;
  return true;
}
static_assert(lowerings_in_enum_order(), "kLowerings must be indexed by LayerKind");

}  // namespace

memory same_type_input(LowerContext& ctx, int slot) {
  const memory& value = ctx.in(slot).value;
  const memory::desc& md = ctx.in(slot).md;
  if (md.data_type() == ctx.act_dt()) return value;
  return ctx.forward_input(value, dnnl_compat::with_data_type(md, ctx.act_dt()));
}

void lower_input(LowerContext& ctx) {
  ctx.make_output(memory::desc(nchw_dims(ctx.batch(), ctx.layer().out), memory::data_type::f32,
                               memory::format_tag::nchw));
}

LowerContext::LowerContext(Program& program, const Plan& plan, const Network& network,
                           const ExecutorOptions& options, std::vector<Param>& params,
                           std::vector<BnStats>& bn_stats,
                           std::vector<std::string>& implementations)
    : program_(program),
      plan_(plan),
      network_(network),
      options_(options),
      params_(params),
      bn_stats_(bn_stats),
      implementations_(implementations) {}

void LowerContext::lower_all() {
  const int L = static_cast<int>(network_.layers.size());
  program_.tensors.resize(L);
  program_.diff_views.resize(L);
  bwd_by_layer_.assign(L, {});
  int bn_count = 0;
  for (const auto& l : network_.layers) bn_count += l.kind == LayerKind::batch_norm;
  bn_stats_.reserve(bn_count);
  for (int i = 0; i < L; ++i) lower(i);
  for (int i = L - 1; i >= 0; --i)
    for (auto& step : bwd_by_layer_[i]) program_.bwd.push_back(std::move(step));
  bwd_by_layer_.clear();
}

void LowerContext::lower(int i) {
  layer_ = i;
  const size_t train_begin = program_.fwd_train.size(), infer_begin = program_.fwd_infer.size();
  if (plan_.alias[i] != i) {
    out() = program_.tensors[plan_.alias[i]];  // shares the input's value and gradient memory
    return;
  }
  kLowerings[static_cast<int>(layer().kind)].lower(*this);
  // Label this layer's steps for error messages.
  const std::string& name = layer().name;
  for (size_t j = train_begin; j < program_.fwd_train.size(); ++j)
    program_.fwd_train[j].layer = name;
  for (size_t j = infer_begin; j < program_.fwd_infer.size(); ++j)
    program_.fwd_infer[j].layer = name;
  for (auto& st : bwd_by_layer_[i]) st.layer = name;
}

void LowerContext::make_output(const memory::desc& md, bool stored) {
  Tensor& t = out();
  t.md = md;
  if (stored) t.value = program_.alloc(md);
  if (needs_grad(layer_)) t.diff = memory(md, program_.engine, DNNL_MEMORY_NONE);
}

ParamMemory LowerContext::make_param(const std::string& suffix, ParamRole role,
                                     const memory::desc& plain, const memory::desc& layout,
                                     int64_t numel) {
  Param p;
  p.name = layer().name + "." + suffix;
  p.role = role;
  p.layer = layer_;
  p.plain = plain;
  p.value = program_.alloc(layout);
  p.diff = program_.alloc(layout);
  p.numel = numel;
  p.decay = role == ParamRole::weights;
  p.aux = layer().aux;
  params_.push_back(std::move(p));
  return {params_.back().value, params_.back().diff};
}

BnStats& LowerContext::make_bn_stats() {
  const int c = layer().out.c;
  bn_stats_.push_back(
      {layer().name, layer_, std::vector<float>(c, 0.0f), std::vector<float>(c, 1.0f)});
  return bn_stats_.back();
}

void LowerContext::note_impl(const char* what, const dnnl::primitive_desc_base& pd) {
  implementations_.push_back(layer().name + " " + what + ": " + dnnl_compat::impl_name(pd));
}

void LowerContext::note(const std::string& text) {
  implementations_.push_back(layer().name + " " + text);
}

void LowerContext::forward(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                           const Args& args, const std::string& phase) {
  forward_train(p, pd, args, phase);
  forward_infer(p, pd, args, phase);
}

void LowerContext::forward_train(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                                 const Args& args, const std::string& phase) {
  program_.add_primitive(program_.fwd_train, p, pd, args, phase);
}

void LowerContext::forward_infer(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                                 const Args& args, const std::string& phase) {
  program_.add_primitive(program_.fwd_infer, p, pd, args, phase);
}

void LowerContext::forward_train(std::function<void()> run, const std::string& phase) {
  program_.fwd_train.push_back({std::move(run), phase});
}

void LowerContext::forward_infer(std::function<void()> run, const std::string& phase) {
  program_.fwd_infer.push_back({std::move(run), phase});
}

void LowerContext::forward_reorder(const memory& src, const memory& dst, const std::string& phase) {
  program_.add_reorder(program_.fwd_train, src, dst, false, phase);
  program_.add_reorder(program_.fwd_infer, src, dst, false, phase);
}

memory LowerContext::forward_input(const memory& src, const memory::desc& want) {
  return program_.in_layout({&program_.fwd_train, &program_.fwd_infer}, src, want, "fwd reorder");
}

void LowerContext::backward(const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                            const Args& args, const std::string& phase) {
  program_.add_primitive(bwd_by_layer_[layer_], p, pd, args, phase);
}

void LowerContext::backward(std::function<void()> run, const std::string& phase) {
  bwd_by_layer_[layer_].push_back({std::move(run), phase});
}

void LowerContext::backward_reorder(const memory& src, const memory& dst, bool accumulate,
                                    const std::string& phase) {
  program_.add_reorder(bwd_by_layer_[layer_], src, dst, accumulate, phase);
}

memory LowerContext::backward_input(const memory& src, const memory::desc& want) {
  return program_.in_layout({&bwd_by_layer_[layer_]}, src, want, "bwd reorder");
}

memory LowerContext::backward_input(const memory& src, const memory::desc& want, Scratch region) {
  return program_.in_layout({&bwd_by_layer_[layer_]}, src, want, "bwd reorder", &region);
}

void LowerContext::backward_to_input(int slot, const memory::desc& md,
                                     const std::function<void(const memory& target)>& emit) {
  std::vector<Step> post;
  const memory target =
      program_.grad_target(first_grad(slot), input(slot), md, post, "bwd accumulate");
  emit(target);
  for (auto& s : post) bwd_by_layer_[layer_].push_back(std::move(s));
}

void LowerContext::backward_to_input(int slot, const memory::desc& md, const dnnl::primitive& p,
                                     const dnnl::primitive_desc_base& pd, Args args,
                                     const std::string& phase) {
  backward_to_input(slot, md, [&](const memory& target) {
    args[DNNL_ARG_DIFF_SRC] = target;
    backward(p, pd, args, phase);
  });
}

void LowerContext::backward_into(const memory& dst, int arg, const memory::desc& md,
                                 const dnnl::primitive& p, const dnnl::primitive_desc_base& pd,
                                 Args args, const std::string& phase) {
  std::vector<Step> post;
  args[arg] = program_.out_layout(post, dst, md, "bwd reorder");
  backward(p, pd, args, phase);
  for (auto& s : post) bwd_by_layer_[layer_].push_back(std::move(s));
}

void LowerContext::deliver(int slot, const memory& src, const std::string& phase) {
  program_.deliver(bwd_by_layer_[layer_], first_grad(slot), input(slot), src, phase);
}

}  // namespace cf::detail

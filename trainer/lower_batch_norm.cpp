// Batch norm with learned scale and shift, batch statistics in training and running statistics
// (updated in place in the executor's BnStats) at inference; with a consumer ReLU fused in when
// the plan says so.
#include <cmath>
#include <string>

#include "trainer/dnnl_compat.h"
#include "trainer/lowering.h"

namespace cf::detail {

namespace {

using bn_fwd = dnnl::batch_normalization_forward;

// What the forward and backward primitives share.
struct BnMemories {
  memory::desc md;
  memory scale, shift, scale_diff, shift_diff;
  memory mean, var;                  // batch statistics of the last training step
  memory running_mean, running_var;  // point into the executor's BnStats
  memory workspace;                  // ReLU mask of the fused form
  bool fused = false;
  std::string phase;
};

// Running statistics (unbiased variance, as PyTorch keeps them), after each training forward.
void update_running_stats(LowerContext& ctx, const BnMemories& b) {
  const Layer& l = ctx.layer();
  const float momentum = ctx.options().bn_momentum;
  const double count = static_cast<double>(ctx.batch()) * l.out.h * l.out.w;
  const float unbias = count > 1 ? static_cast<float>(count / (count - 1)) : 1.0f;
  const int channels = l.out.c;
  const memory mean = b.mean, var = b.var, running_mean = b.running_mean,
               running_var = b.running_var;
  ctx.forward_train(
      [mean, var, running_mean, running_var, momentum, unbias, channels] {
        const float* bm = static_cast<const float*>(mean.get_data_handle());
        const float* bv = static_cast<const float*>(var.get_data_handle());
        float* rm = static_cast<float*>(running_mean.get_data_handle());
        float* rv = static_cast<float*>(running_var.get_data_handle());
        for (int c = 0; c < channels; ++c) {
          rm[c] = (1 - momentum) * rm[c] + momentum * bm[c];
          rv[c] = (1 - momentum) * rv[c] + momentum * bv[c] * unbias;
        }
      },
      "fwd " + b.phase);
}

// The BN output before a fused ReLU is not kept; layer_value() recomputes it from the
// statistics of the last forward pass.
void keep_before_relu(LowerContext& ctx, const BnMemories& b, Args train_args, Args infer_args) {
  bn_fwd::primitive_desc plain_pd(bn_fwd::desc(dnnl::prop_kind::forward_inference, b.md,
                                               ctx.layer().bn_epsilon, dnnl_compat::bn_flags(true)),
                                  ctx.engine());
  train_args.erase(DNNL_ARG_WORKSPACE);
  Program& program = ctx.program();
  const bn_fwd plain(plain_pd);
  program.recompute[ctx.index()] = [&program, plain, train_args, infer_args](const memory& dst,
                                                                             bool training) {
    Args args = training ? train_args : infer_args;
    args[DNNL_ARG_DST] = dst;
    plain.execute(program.stream, args);
  };
}

void bn_backward(LowerContext& ctx, const BnMemories& b, const bn_fwd::primitive_desc& train_pd) {
  dnnl::batch_normalization_backward::primitive_desc bwd_pd(
      dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, b.md, b.md,
                                               ctx.layer().bn_epsilon,
                                               dnnl_compat::bn_flags(false, b.fused)),
      ctx.attr(), ctx.engine(), train_pd);
  Args args{{DNNL_ARG_SRC, ctx.in(0).value},     {DNNL_ARG_MEAN, b.mean},
            {DNNL_ARG_VARIANCE, b.var},          {DNNL_ARG_DIFF_DST, ctx.out().diff},
            {DNNL_ARG_SCALE, b.scale},           {DNNL_ARG_SHIFT, b.shift},
            {DNNL_ARG_DIFF_SCALE, b.scale_diff}, {DNNL_ARG_DIFF_SHIFT, b.shift_diff}};
  if (b.fused) args[DNNL_ARG_WORKSPACE] = b.workspace;
  ctx.backward_to_input(0, bwd_pd.diff_src_desc(), dnnl::batch_normalization_backward(bwd_pd),
                        bwd_pd, args, "bwd " + b.phase);
}

// Inference of a batch norm folded into its convolution (ExecutorOptions::fold_batch_norm): one
// convolution with the folded weights and bias writes this layer's output (through the ReLU
// post-op when the ReLU is fused), and a refold step recomputes them from the conv's weights,
// the scale and shift and the running statistics.
void fold_into_conv(LowerContext& ctx, const BnMemories& b, const Args& infer_args) {
  const Program::FoldSource& source = ctx.program().fold_sources.at(ctx.fold_conv());
  // A new attribute: copying ctx.attr() would copy a handle to the one every primitive shares.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (b.fused) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  const dnnl::convolution_forward::primitive_desc pd(source.infer_desc, attr, ctx.engine());
  ctx.note_impl("fwd folded into conv", pd);
  Program& program = ctx.program();
  memory folded = program.alloc(pd.weights_desc());
  const memory bias = program.alloc(pd.bias_desc());
  memory plain = program.alloc(source.weights_plain);
  const dnnl::reorder to_plain(source.weights, plain), to_folded(plain, folded);
  const int channels = ctx.layer().out.c;
  const float eps = ctx.layer().bn_epsilon;
  memory weights = source.weights;
  const memory scale = b.scale, shift = b.shift, mean = infer_args.at(DNNL_ARG_MEAN),
               var = infer_args.at(DNNL_ARG_VARIANCE);
  program.refold.push_back([&program, to_plain, to_folded, weights, plain, folded, bias, scale,
                            shift, mean, var, channels, eps]() mutable {
    to_plain.execute(program.stream, weights, plain);
    program.stream.wait();
    float* w = static_cast<float*>(plain.get_data_handle());
    const size_t per_channel = plain.get_desc().get_size() / sizeof(float) / channels;
    const float* gamma = static_cast<const float*>(scale.get_data_handle());
    const float* beta = static_cast<const float*>(shift.get_data_handle());
    const float* mu = static_cast<const float*>(mean.get_data_handle());
    const float* sigma2 = static_cast<const float*>(var.get_data_handle());
    float* out_bias = static_cast<float*>(bias.get_data_handle());
    for (int c = 0; c < channels; ++c) {
      const float s = gamma[c] / std::sqrt(sigma2[c] + eps);
      for (size_t k = 0; k < per_channel; ++k) w[c * per_channel + k] *= s;
      out_bias[c] = beta[c] - mu[c] * s;
    }
    to_folded.execute(program.stream, plain, folded);
    program.stream.wait();
  });
  // The layout training picked for the conv's source need not suit inference (at batch 1 it can
  // send this one to oneDNN's reference kernel): the folded conv chooses its own.
  const memory src =
      program.in_layout({&program.fwd_infer}, source.src, pd.src_desc(), "fwd reorder");
  ctx.forward_infer(dnnl::convolution_forward(pd), pd,
                    {{DNNL_ARG_SRC, src},
                     {DNNL_ARG_WEIGHTS, folded},
                     {DNNL_ARG_BIAS, bias},
                     {DNNL_ARG_DST, ctx.out().value}},
                    "fwd conv+batch_norm (folded)");
}

}  // namespace

void lower_batch_norm(LowerContext& ctx) {
  const Layer& l = ctx.layer();
  BnMemories b;
  b.md = ctx.in(0).md;
  ctx.make_output(b.md);
  const float eps = ctx.layer().bn_epsilon;
  b.fused = ctx.bn_relu();
  bn_fwd::primitive_desc train_pd(bn_fwd::desc(dnnl::prop_kind::forward_training, b.md, eps,
                                               dnnl_compat::bn_flags(false, b.fused)),
                                  ctx.attr(), ctx.engine());
  bn_fwd::primitive_desc infer_pd(bn_fwd::desc(dnnl::prop_kind::forward_inference, b.md, eps,
                                               dnnl_compat::bn_flags(true, b.fused)),
                                  ctx.attr(), ctx.engine());
  b.phase = b.fused ? "batch_norm+relu" : "batch_norm";
  if (b.fused) b.workspace = ctx.program().alloc(train_pd.workspace_desc());
  ctx.note_impl("fwd", train_pd);
  const memory::desc cmd({l.out.c}, memory::data_type::f32, memory::format_tag::x);
  const ParamMemory scale = ctx.make_param("scale", ParamRole::bn_scale, cmd, cmd, l.out.c);
  const ParamMemory shift = ctx.make_param("shift", ParamRole::bn_shift, cmd, cmd, l.out.c);
  b.scale = scale.value, b.scale_diff = scale.diff;
  b.shift = shift.value, b.shift_diff = shift.diff;
  b.mean = ctx.program().alloc(cmd);
  b.var = ctx.program().alloc(cmd);
  BnStats& stats = ctx.make_bn_stats();
  b.running_mean = memory(cmd, ctx.engine(), stats.running_mean.data());
  b.running_var = memory(cmd, ctx.engine(), stats.running_var.data());
  Args train_args{{DNNL_ARG_SRC, ctx.in(0).value}, {DNNL_ARG_DST, ctx.out().value},
                  {DNNL_ARG_SCALE, b.scale},       {DNNL_ARG_SHIFT, b.shift},
                  {DNNL_ARG_MEAN, b.mean},         {DNNL_ARG_VARIANCE, b.var}};
  if (b.fused) train_args[DNNL_ARG_WORKSPACE] = b.workspace;
  ctx.forward_train(bn_fwd(train_pd), train_pd, train_args, "fwd " + b.phase);
  update_running_stats(ctx, b);
  Args infer_args{{DNNL_ARG_SRC, ctx.in(0).value}, {DNNL_ARG_DST, ctx.out().value},
                  {DNNL_ARG_SCALE, b.scale},       {DNNL_ARG_SHIFT, b.shift},
                  {DNNL_ARG_MEAN, b.running_mean}, {DNNL_ARG_VARIANCE, b.running_var}};
  if (ctx.fold_conv() >= 0)
    fold_into_conv(ctx, b, infer_args);
  else
    ctx.forward_infer(bn_fwd(infer_pd), infer_pd, infer_args, "fwd " + b.phase);
  if (b.fused) keep_before_relu(ctx, b, train_args, infer_args);
  if (ctx.src_grad()) bn_backward(ctx, b, train_pd);
}

}  // namespace cf::detail

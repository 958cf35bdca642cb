// Convolution (plain, grouped, depthwise): forward, backward weights (oneDNN, or the cellforge
// depthwise kernel where oneDNN 2.6 would fall back to a slow one), backward data.
#include <string>

#include "trainer/dnnl_compat.h"
#include "trainer/kernels.h"
#include "trainer/lowering.h"

namespace cf::detail {

namespace {

using tag = memory::format_tag;
using dt = memory::data_type;

// Descriptors shared by the forward and both backward primitives.
struct ConvGeometry {
  Shape in;
  memory::dims strides, dilates, pad_l, pad_r, wdims;
  memory::desc src_any, w_any, dst_any;  // in the activation data type
  memory::desc diff_w_any;               // f32: the gradient of the f32 master weights
  bool grouped = false;
};

ConvGeometry conv_geometry(const LowerContext& ctx) {
  const Layer& l = ctx.layer();
  const int N = ctx.batch();
  ConvGeometry g;
  g.in = ctx.network().in_shape(ctx.index());
  const int ext_h = (l.kernel_h - 1) * l.dilation_h + 1;
  const int ext_w = (l.kernel_w - 1) * l.dilation_w + 1;
  g.strides = {l.stride_h, l.stride_w};
  g.dilates = {l.dilation_h - 1, l.dilation_w - 1};
  g.pad_l = {l.pad_h, l.pad_w};
  g.pad_r = {pad_end(g.in.h, l.out.h, ext_h, l.stride_h, l.pad_h),
             pad_end(g.in.w, l.out.w, ext_w, l.stride_w, l.pad_w)};
  g.grouped = l.groups > 1;
  g.wdims = g.grouped ? memory::dims{l.groups, l.out.c / l.groups, g.in.c / l.groups, l.kernel_h,
                                     l.kernel_w}
                      : memory::dims{l.out.c, g.in.c, l.kernel_h, l.kernel_w};
  const dt act = ctx.act_dt();
  g.src_any = memory::desc(nchw_dims(N, g.in), act, tag::any);
  g.w_any = memory::desc(g.wdims, act, tag::any);
  g.dst_any = memory::desc(nchw_dims(N, l.out), act, tag::any);
  g.diff_w_any = memory::desc(g.wdims, dt::f32, tag::any);
  return g;
}

// Profile bucket, e.g. "conv 3x3 s2" or "conv_dw 5x5".
std::string conv_kind(const Layer& l) {
  const std::string k = std::to_string(l.kernel_h) + "x" + std::to_string(l.kernel_w) +
                        (l.stride_h > 1 || l.stride_w > 1 ? " s2" : "");
  if (l.groups > 1) return "conv_dw " + k;
  return "conv " + k;
}

// Depthwise backward weights where oneDNN 2.6 picks a gemm or reference implementation, in
// the nChw16c layouts the kernel handles.
bool use_custom_depthwise(const LowerContext& ctx, const ConvGeometry& g,
                          const dnnl::convolution_forward::primitive_desc& fwd_pd,
                          const std::string& bwdw_impl) {
  const Layer& l = ctx.layer();
  return g.grouped && l.groups == g.in.c && l.groups == l.out.c &&
         (bwdw_impl.find("gemm") != std::string::npos ||
          bwdw_impl.find("ref") != std::string::npos) &&
         dnnl_compat::channel_block(fwd_pd.src_desc()) == 16 &&
         dnnl_compat::channel_block(fwd_pd.dst_desc()) == 16 &&
         fwd_pd.weights_desc() == memory::desc(g.wdims, ctx.act_dt(), tag::Goihw16g) &&
         l.kernel_w <= 16;
}

void conv_backward_weights(LowerContext& ctx, const ConvGeometry& g,
                           const dnnl::convolution_forward::primitive_desc& fwd_pd,
                           const memory& conv_src, const memory& dw, const std::string& phase) {
  const Layer& l = ctx.layer();
  const memory dd = ctx.out().diff;
  dnnl::convolution_backward_weights::primitive_desc bwdw_pd(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, g.src_any,
                                               g.diff_w_any, g.dst_any, g.strides, g.dilates,
                                               g.pad_l, g.pad_r),
      ctx.attr(), ctx.engine(), fwd_pd);
  const std::string bwdw_impl = dnnl_compat::impl_name(bwdw_pd);
  if (use_custom_depthwise(ctx, g, fwd_pd, bwdw_impl)) {
    ctx.note("bwd_weights: cellforge depthwise nChw16c (" + bwdw_impl + " avoided)");
    const kernels::DepthwiseGeometry k{
        ctx.batch(), g.in.c,     g.in.h,     g.in.w,  l.out.h, l.out.w,      l.kernel_h,
        l.kernel_w,  l.stride_h, l.stride_w, l.pad_h, l.pad_w, l.dilation_h, l.dilation_w};
    const memory src = conv_src;
    if (ctx.act_dt() == dt::bf16)
      ctx.backward(
          [k, src, dd, dw] {
            kernels::depthwise_backward_weights_nchw16c_bf16(
                k, static_cast<const uint16_t*>(src.get_data_handle()),
                static_cast<const uint16_t*>(dd.get_data_handle()),
                static_cast<float*>(dw.get_data_handle()));
          },
          "bwd_w " + phase);
    else
      ctx.backward(
          [k, src, dd, dw] {
            kernels::depthwise_backward_weights_nchw16c(
                k, static_cast<const float*>(src.get_data_handle()),
                static_cast<const float*>(dd.get_data_handle()),
                static_cast<float*>(dw.get_data_handle()));
          },
          "bwd_w " + phase);
    return;
  }
  ctx.note("bwd_weights: " + bwdw_impl);
  const memory bw_src = ctx.backward_input(conv_src, bwdw_pd.src_desc());
  const memory bw_dd = ctx.backward_input(dd, bwdw_pd.diff_dst_desc(), Scratch::output_grad);
  ctx.backward_into(dw, DNNL_ARG_DIFF_WEIGHTS, bwdw_pd.diff_weights_desc(),
                    dnnl::convolution_backward_weights(bwdw_pd), bwdw_pd,
                    {{DNNL_ARG_SRC, bw_src}, {DNNL_ARG_DIFF_DST, bw_dd}}, "bwd_w " + phase);
}

void conv_backward_data(LowerContext& ctx, const ConvGeometry& g,
                        const dnnl::convolution_forward::primitive_desc& fwd_pd,
                        const memory& weights, const std::string& phase) {
  dnnl::convolution_backward_data::primitive_desc bwdd_pd(
      dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, g.src_any, g.w_any,
                                            g.dst_any, g.strides, g.dilates, g.pad_l, g.pad_r),
      ctx.attr(), ctx.engine(), fwd_pd);
  ctx.note_impl("bwd_data", bwdd_pd);
  const memory bd_w = ctx.backward_input(weights, bwdd_pd.weights_desc());
  const memory bd_dd =
      ctx.backward_input(ctx.out().diff, bwdd_pd.diff_dst_desc(), Scratch::output_grad);
  ctx.backward_to_input(0, bwdd_pd.diff_src_desc(), dnnl::convolution_backward_data(bwdd_pd),
                        bwdd_pd, {{DNNL_ARG_DIFF_DST, bd_dd}, {DNNL_ARG_WEIGHTS, bd_w}},
                        "bwd_d " + phase);
}

}  // namespace

void lower_conv(LowerContext& ctx) {
  const Layer& l = ctx.layer();
  const ConvGeometry g = conv_geometry(ctx);
  dnnl::convolution_forward::primitive_desc fwd_pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, g.src_any, g.w_any,
                                      g.dst_any, g.strides, g.dilates, g.pad_l, g.pad_r),
      ctx.attr(), ctx.engine());
  ctx.note_impl("fwd", fwd_pd);
  ctx.make_output(fwd_pd.dst_desc());
  // Weights live in the primitive's layout (f32 master weights in bf16 too, in the same
  // blocking); the plain layout is for init and files.
  const ParamMemory w =
      ctx.make_param("weights", ParamRole::weights,
                     memory::desc(g.wdims, dt::f32, g.grouped ? tag::goihw : tag::oihw),
                     dnnl_compat::with_data_type(fwd_pd.weights_desc(), dt::f32),
                     ctx.network().layer_params(ctx.index()));
  const std::string phase = conv_kind(l);
  // bf16: the primitives read a bf16 copy of the master weights, refreshed every pass.
  memory weights = w.value;
  if (fwd_pd.weights_desc() != w.value.get_desc()) {
    weights = ctx.program().alloc(fwd_pd.weights_desc());
    ctx.forward_reorder(w.value, weights, "fwd weights to bf16");
  }
  // Source: reorder only when the producer's layout differs from the one conv wants.
  const memory conv_src = ctx.forward_input(ctx.in(0).value, fwd_pd.src_desc());
  const dnnl::convolution_forward conv(fwd_pd);
  const Args args{
      {DNNL_ARG_SRC, conv_src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, ctx.out().value}};
  if (ctx.fold_bn() < 0) {
    ctx.forward(conv, fwd_pd, args, "fwd " + phase);
  } else {
    // Inference runs this conv inside its batch norm's step (lower_batch_norm.cpp).
    ctx.forward_train(conv, fwd_pd, args, "fwd " + phase);
    const memory::desc bias_md({l.out.c}, dt::f32, tag::x);
    ctx.program().fold_sources.emplace(
        ctx.index(),
        Program::FoldSource{
            dnnl::convolution_forward::desc(
                dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, g.src_any,
                g.w_any, bias_md, fwd_pd.dst_desc(), g.strides, g.dilates, g.pad_l, g.pad_r),
            ctx.in(0).value, w.value,
            memory::desc(g.wdims, dt::f32, g.grouped ? tag::goihw : tag::oihw)});
  }
  conv_backward_weights(ctx, g, fwd_pd, conv_src, w.diff, phase);
  if (ctx.src_grad()) conv_backward_data(ctx, g, fwd_pd, weights, phase);
}

}  // namespace cf::detail

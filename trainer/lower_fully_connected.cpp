// Fully connected layer with bias (oneDNN inner product); output classes x 1 x 1.
#include "trainer/lowering.h"

namespace cf::detail {

namespace {

using tag = memory::format_tag;
using dt = memory::data_type;
using ip_fwd = dnnl::inner_product_forward;

struct FcDescs {
  memory::desc src_any, w_any, bias_md, dst_md;
};

void fc_backward(LowerContext& ctx, const FcDescs& d, const ip_fwd::primitive_desc& fwd_pd,
                 const memory& fc_src, const ParamMemory& w, const ParamMemory& b) {
  const memory out_diff = ctx.out().diff;
  dnnl::inner_product_backward_weights::primitive_desc bwdw_pd(
      dnnl::inner_product_backward_weights::desc(d.src_any, d.w_any, d.bias_md, d.dst_md),
      ctx.attr(), ctx.engine(), fwd_pd);
  const memory bw_src = ctx.backward_input(fc_src, bwdw_pd.src_desc());
  ctx.backward_into(
      w.diff, DNNL_ARG_DIFF_WEIGHTS, bwdw_pd.diff_weights_desc(),
      dnnl::inner_product_backward_weights(bwdw_pd), bwdw_pd,
      {{DNNL_ARG_SRC, bw_src}, {DNNL_ARG_DIFF_DST, out_diff}, {DNNL_ARG_DIFF_BIAS, b.diff}},
      "bwd_w fully_connected");
  if (!ctx.src_grad()) return;
  dnnl::inner_product_backward_data::primitive_desc bwdd_pd(
      dnnl::inner_product_backward_data::desc(d.src_any, d.w_any, d.dst_md), ctx.attr(),
      ctx.engine(), fwd_pd);
  const memory bd_w = ctx.backward_input(w.value, bwdd_pd.weights_desc());
  ctx.backward_to_input(0, bwdd_pd.diff_src_desc(), dnnl::inner_product_backward_data(bwdd_pd),
                        bwdd_pd, {{DNNL_ARG_DIFF_DST, out_diff}, {DNNL_ARG_WEIGHTS, bd_w}},
                        "bwd_d fully_connected");
}

}  // namespace

void lower_fully_connected(LowerContext& ctx) {
  const Layer& l = ctx.layer();
  const int N = ctx.batch();
  const Shape is = ctx.network().in_shape(ctx.index());
  const memory::dims wdims{l.out.c, is.c, is.h, is.w};
  FcDescs d;
  d.w_any = memory::desc(wdims, dt::f32, tag::any);
  d.bias_md = memory::desc({l.out.c}, dt::f32, tag::x);
  d.dst_md = memory::desc({N, l.out.c}, dt::f32, tag::nc);
  d.src_any = memory::desc(nchw_dims(N, is), dt::f32, tag::any);
  ip_fwd::primitive_desc fwd_pd(
      ip_fwd::desc(dnnl::prop_kind::forward_training, d.src_any, d.w_any, d.bias_md, d.dst_md),
      ctx.attr(), ctx.engine());
  ctx.note_impl("fwd", fwd_pd);
  ctx.make_output(d.dst_md);
  const ParamMemory w =
      ctx.make_param("weights", ParamRole::weights, memory::desc(wdims, dt::f32, tag::oihw),
                     fwd_pd.weights_desc(), int64_t{l.out.c} * is.numel());
  const ParamMemory b = ctx.make_param("bias", ParamRole::bias, d.bias_md, d.bias_md, l.out.c);
  const memory fc_src = ctx.forward_input(ctx.in(0).value, fwd_pd.src_desc());
  ctx.forward(ip_fwd(fwd_pd), fwd_pd,
              {{DNNL_ARG_SRC, fc_src},
               {DNNL_ARG_WEIGHTS, w.value},
               {DNNL_ARG_BIAS, b.value},
               {DNNL_ARG_DST, ctx.out().value}},
              "fwd fully_connected");
  fc_backward(ctx, d, fwd_pd, fc_src, w, b);
}

}  // namespace cf::detail

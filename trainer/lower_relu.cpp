// ReLU on its own (a ReLU that is a batch norm's only consumer is fused into it instead).
#include "trainer/lowering.h"

namespace cf::detail {

void lower_relu(LowerContext& ctx) {
  const memory::desc md = ctx.in(0).md;
  ctx.make_output(md);
  dnnl::eltwise_forward::primitive_desc fwd_pd(
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu,
                                  md, 0.0f, 0.0f),
      ctx.attr(), ctx.engine());
  ctx.forward(dnnl::eltwise_forward(fwd_pd), fwd_pd,
              {{DNNL_ARG_SRC, ctx.in(0).value}, {DNNL_ARG_DST, ctx.out().value}}, "fwd relu");
  if (!ctx.src_grad()) return;
  dnnl::eltwise_backward::primitive_desc bwd_pd(
      dnnl::eltwise_backward::desc(dnnl::algorithm::eltwise_relu, md, md, 0.0f, 0.0f), ctx.attr(),
      ctx.engine(), fwd_pd);
  ctx.backward_to_input(0, bwd_pd.diff_src_desc(), dnnl::eltwise_backward(bwd_pd), bwd_pd,
                        {{DNNL_ARG_SRC, ctx.in(0).value}, {DNNL_ARG_DIFF_DST, ctx.out().diff}},
                        "bwd relu");
}

}  // namespace cf::detail

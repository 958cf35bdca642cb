// Pooling: max (padding cells never win), average (padding excluded), global average.
#include "trainer/lowering.h"

namespace cf::detail {

void lower_pool(LowerContext& ctx) {
  const Layer& l = ctx.layer();
  const int N = ctx.batch();
  const Shape is = ctx.network().in_shape(ctx.index());
  const bool global = l.kind == LayerKind::global_avg_pool;
  const bool max = l.kind == LayerKind::max_pool;
  const auto alg =
      max ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
  const memory::dims kernel =
      global ? memory::dims{is.h, is.w} : memory::dims{l.kernel_h, l.kernel_w};
  const memory::dims strides = global ? memory::dims{1, 1} : memory::dims{l.stride_h, l.stride_w};
  const memory::dims pad_l = global ? memory::dims{0, 0} : memory::dims{l.pad_h, l.pad_w};
  const memory::dims pad_r =
      global ? memory::dims{0, 0}
             : memory::dims{pad_end(is.h, l.out.h, l.kernel_h, l.stride_h, l.pad_h),
                            pad_end(is.w, l.out.w, l.kernel_w, l.stride_w, l.pad_w)};
  const memory::data_type type = ctx.in(0).md.data_type();
  const memory::desc dst_any(nchw_dims(N, l.out), type, memory::format_tag::any);
  dnnl::pooling_forward::primitive_desc fwd_pd(
      dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg, ctx.in(0).md, dst_any,
                                  strides, kernel, pad_l, pad_r),
      ctx.attr(), ctx.engine());
  ctx.note_impl("fwd", fwd_pd);
  ctx.make_output(fwd_pd.dst_desc());
  const std::string kind = ctx.kind_name();
  Args args{{DNNL_ARG_SRC, ctx.in(0).value}, {DNNL_ARG_DST, ctx.out().value}};
  memory workspace;
  if (max) {
    workspace = ctx.program().alloc(fwd_pd.workspace_desc());
    args[DNNL_ARG_WORKSPACE] = workspace;
  }
  ctx.forward(dnnl::pooling_forward(fwd_pd), fwd_pd, args, "fwd " + kind);
  if (!ctx.src_grad()) return;
  const memory::desc src_any(nchw_dims(N, is), type, memory::format_tag::any);
  dnnl::pooling_backward::primitive_desc bwd_pd(
      dnnl::pooling_backward::desc(alg, src_any, ctx.out().md, strides, kernel, pad_l, pad_r),
      ctx.attr(), ctx.engine(), fwd_pd);
  Args bargs{{DNNL_ARG_DIFF_DST, ctx.out().diff}};
  if (workspace) bargs[DNNL_ARG_WORKSPACE] = workspace;
  ctx.backward_to_input(0, bwd_pd.diff_src_desc(), dnnl::pooling_backward(bwd_pd), bwd_pd, bargs,
                        "bwd " + kind);
}

}  // namespace cf::detail

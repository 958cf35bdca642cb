// Inputs joined on channels, in order. Backward hands each input a channel slice of the output
// gradient.
#include <optional>

#include "trainer/dnnl_compat.h"
#include "trainer/lowering.h"

namespace cf::detail {

namespace {

// Blocked layouts can only be sliced at block boundaries.
bool slices_aligned(const LowerContext& ctx, const memory::desc& md) {
  const int block = dnnl_compat::channel_block(md);
  if (block < 1) return false;
  int offset = 0;
  for (int s = 0; s < ctx.inputs(); ++s) {
    if (block > 1 && offset % block != 0) return false;
    offset += ctx.network().in_shape(ctx.index(), s).c;
  }
  return true;
}

void concat_backward(LowerContext& ctx) {
  const int N = ctx.batch();
  const memory out_diff = ctx.out().diff;
  const bool aligned = slices_aligned(ctx, ctx.out().md);
  // Unaligned: slice a plain copy of the output gradient instead.
  memory sliced = out_diff;
  if (!aligned) {
    sliced = ctx.scratch(Scratch::output_grad,
                         memory::desc(nchw_dims(N, ctx.layer().out), ctx.out().md.data_type(),
                                      memory::format_tag::nchw));
    ctx.backward_reorder(out_diff, sliced, false, "bwd concat");
  }
  int offset = 0;
  for (int s = 0; s < ctx.inputs(); ++s) {
    const Shape is = ctx.network().in_shape(ctx.index(), s);
    if (ctx.input_grad(s)) {
      const memory::desc sub =
          sliced.get_desc().submemory_desc(nchw_dims(N, is), {0, offset, 0, 0});
      memory part;
      if (aligned) {
        part = ctx.diff_view(ctx.index(), sub);
      } else {
        part = memory(sub, ctx.engine(), DNNL_MEMORY_NONE);
        ctx.program().scratch_view(Scratch::output_grad, part);  // lives in the plain copy
      }
      ctx.deliver(s, part, "bwd concat");
    }
    offset += is.c;
  }
}

}  // namespace

void lower_concat(LowerContext& ctx) {
  const int n = ctx.inputs();
  std::vector<memory::desc> srcs;
  std::vector<memory> src_values;
  bool blocked16 = true;
  for (int s = 0; s < n; ++s) {
    src_values.push_back(same_type_input(ctx, s));
    srcs.push_back(src_values.back().get_desc());
    blocked16 = blocked16 && dnnl_compat::channel_block(ctx.in(s).md) == 16 &&
                dnnl_compat::batch_outermost(ctx.in(s).md);
  }
  // At batch 1 oneDNN 2.6 lets the concat pick a channel-block-outermost layout (Bacd16b) that
  // its pooling and convolution kernels do not take (reference kernels, 40x slower): ask for
  // the sources' own nChw16c instead. Larger batches keep oneDNN's choice.
  const std::optional<memory::desc> dst =
      ctx.batch() == 1 && blocked16
          ? std::optional(memory::desc(nchw_dims(1, ctx.layer().out), ctx.act_dt(),
                                       memory::format_tag::nChw16c))
          : std::nullopt;
  const dnnl::concat::primitive_desc pd =
      dst ? dnnl::concat::primitive_desc(*dst, 1, srcs, ctx.engine(), ctx.attr())
          : dnnl::concat::primitive_desc(1, srcs, ctx.engine(), ctx.attr());
  ctx.note_impl("fwd", pd);
  ctx.make_output(pd.dst_desc());
  Args args{{DNNL_ARG_DST, ctx.out().value}};
  for (int s = 0; s < n; ++s) args[DNNL_ARG_MULTIPLE_SRC + s] = src_values[s];
  ctx.forward(dnnl::concat(pd), pd, args, "fwd concat");
  concat_backward(ctx);
}

}  // namespace cf::detail

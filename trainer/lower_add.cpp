// Elementwise sum of all inputs. Backward passes the gradient unchanged to every input; an
// input that the plan hosts in this add's gradient buffer gets no step at all. An add that a
// fused concat sums (ExecutorOptions::fuse_concat) stores no value and has no forward step.
#include "trainer/lowering.h"

namespace cf::detail {

void lower_add(LowerContext& ctx) {
  const int n = ctx.inputs();
  std::vector<memory::desc> srcs;
  std::vector<memory> src_values;
  for (int s = 0; s < n; ++s) {
    src_values.push_back(same_type_input(ctx, s));
    srcs.push_back(src_values.back().get_desc());
  }
  const std::vector<float> scales(srcs.size(), 1.0f);
  dnnl::sum::primitive_desc pd(scales, srcs, ctx.engine(), ctx.attr());
  const bool summed = ctx.summed_by(ctx.index()) >= 0;
  ctx.make_output(pd.dst_desc(), !summed);
  Tensor& out = ctx.out();
  Args args;
  for (int s = 0; s < n; ++s) args[DNNL_ARG_MULTIPLE_SRC + s] = src_values[s];
  if (summed) {
    // Its own primitive for layer_value(): outside the step lists, with oneDNN's scratchpad.
    Program& program = ctx.program();
    const dnnl::sum sum(dnnl::sum::primitive_desc(scales, srcs, ctx.engine()));
    program.recompute[ctx.index()] = [&program, sum, args](const memory& dst, bool) {
      Args with_dst = args;
      with_dst[DNNL_ARG_DST] = dst;
      sum.execute(program.stream, with_dst);
    };
  } else {
    args[DNNL_ARG_DST] = out.value;
    ctx.forward(dnnl::sum(pd), pd, args, "fwd add");
  }
  for (int s = 0; s < n; ++s) {
    if (!ctx.input_grad(s)) continue;
    if (ctx.grad_host(ctx.input(s)) == ctx.index() && ctx.in(s).md == out.md)
      ctx.program().shared_grads.push_back({ctx.input(s), ctx.index()});  // same buffer
    else
      ctx.deliver(s, out.diff, "bwd add");
  }
}

}  // namespace cf::detail

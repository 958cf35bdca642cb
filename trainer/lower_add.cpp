// Elementwise sum of all inputs. Backward passes the gradient unchanged to every input; an
// input that the plan hosts in this add's gradient buffer gets no step at all.
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
  ctx.make_output(pd.dst_desc());
  Tensor& out = ctx.out();
  Args args{{DNNL_ARG_DST, out.value}};
  for (int s = 0; s < n; ++s) args[DNNL_ARG_MULTIPLE_SRC + s] = src_values[s];
  ctx.forward(dnnl::sum(pd), pd, args, "fwd add");
  for (int s = 0; s < n; ++s) {
    if (!ctx.input_grad(s)) continue;
    if (ctx.grad_host(ctx.input(s)) == ctx.index() && ctx.in(s).md == out.md)
      ctx.program().shared_grads.push_back({ctx.input(s), ctx.index()});  // same buffer
    else
      ctx.deliver(s, out.diff, "bwd add");
  }
}

}  // namespace cf::detail

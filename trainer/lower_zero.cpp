// Zeros of the input's shape (NAS-Bench-201's "none" edge when a node has nothing else). The plan
// gives this layer no inputs and no gradient, so nothing flows back through it.
#include <cstring>

#include "trainer/lowering.h"

namespace cf::detail {

void lower_zero(LowerContext& ctx) {
  ctx.make_output(memory::desc(nchw_dims(ctx.batch(), ctx.layer().out), ctx.act_dt(),
                               memory::format_tag::nchw));
  const memory dst = ctx.out().value;
  const size_t bytes = ctx.out().md.get_size();
  auto fill = [dst, bytes] { std::memset(dst.get_data_handle(), 0, bytes); };
  ctx.forward_train(fill, "fwd zero");
  ctx.forward_infer(fill, "fwd zero");
}

}  // namespace cf::detail

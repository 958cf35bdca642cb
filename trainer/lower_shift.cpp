// Shift (factorized reduction): drop the first row and column, zero-pad at the end. Both
// directions are reorders between shifted windows of the same layout.
#include <cstring>

#include "trainer/lowering.h"

namespace cf::detail {

namespace {

// The first row and column of the input get no gradient: its first contribution zeroes it.
void zero_input_grad(LowerContext& ctx) {
  const memory whole = ctx.in(0).diff;
  const size_t bytes = ctx.in(0).md.get_size();
  ctx.backward([whole, bytes] { std::memset(whole.get_data_handle(), 0, bytes); }, "bwd shift");
}

}  // namespace

void lower_shift(LowerContext& ctx) {
  const Shape is = ctx.network().in_shape(ctx.index());
  ctx.make_output(ctx.in(0).md);  // zero-initialised: the last row and column stay zero
  const Tensor& src = ctx.in(0);
  const Tensor& out = ctx.out();
  if (is.h <= 1 || is.w <= 1) {
    if (ctx.src_grad() && ctx.first_grad(0)) zero_input_grad(ctx);
    return;
  }
  const memory::dims inner{ctx.batch(), is.c, is.h - 1, is.w - 1};
  const memory::desc from_md = src.md.submemory_desc(inner, {0, 0, 1, 1});
  const memory::desc to_md = out.md.submemory_desc(inner, {0, 0, 0, 0});
  memory from(from_md, ctx.engine(), src.value.get_data_handle());
  memory to(to_md, ctx.engine(), out.value.get_data_handle());
  ctx.forward_reorder(from, to, "fwd shift");
  if (!ctx.src_grad()) return;
  memory grad_from = ctx.diff_view(ctx.index(), out.md.submemory_desc(inner, {0, 0, 0, 0}));
  memory grad_to = ctx.diff_view(ctx.input(0), src.md.submemory_desc(inner, {0, 0, 1, 1}));
  if (ctx.first_grad(0)) zero_input_grad(ctx);
  ctx.backward_reorder(grad_from, grad_to, true, "bwd shift");
}

}  // namespace cf::detail

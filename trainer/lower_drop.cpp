// Drop path (a multiplier per image, scaled by cell depth) and dropout (per element): a mask
// drawn each training step, a copy at inference. When off they are aliases (see plan.cpp).
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "trainer/dnnl_compat.h"
#include "trainer/kernels.h"
#include "trainer/lowering.h"

namespace cf::detail {

namespace {

struct DropMask {
  float* mask = nullptr;
  bool per_image = false;
  bool bf16 = false;  // the tensor holds bfloat16 values, else float
  int64_t count = 0;  // values in the tensor
  int batch = 0;
};

// dst = src * mask, per image or per element.
template <typename T>
void apply_mask(const DropMask& m, const T* src, T* dst) {
  if (m.per_image)
    kernels::scale_images(src, dst, m.mask, m.batch, m.count / m.batch);
  else
    kernels::multiply(src, m.mask, dst, m.count);
}

void apply_mask(const DropMask& m, const memory& src, const memory& dst) {
  if (m.bf16)
    apply_mask(m, static_cast<const uint16_t*>(src.get_data_handle()),
               static_cast<uint16_t*>(dst.get_data_handle()));
  else
    apply_mask(m, static_cast<const float*>(src.get_data_handle()),
               static_cast<float*>(dst.get_data_handle()));
}

void drop_forward_train(LowerContext& ctx, const DropMask& m, const memory& src,
                        const memory& dst) {
  const Layer& l = ctx.layer();
  const Network& net = ctx.network();
  const float depth = net.num_cells > 0 ? static_cast<float>(l.cell + 1) / net.num_cells : 1.0f;
  const float rate = l.rate;
  const size_t bytes = ctx.out().md.get_size();
  const Program* prog = &ctx.program();
  ctx.forward_train(
      [prog, src, dst, bytes, m, depth, rate] {
        const float p = m.per_image ? prog->state.drop_path_prob * depth : rate;
        const int64_t n_mask = m.per_image ? m.batch : m.count;
        if (p <= 0.0f || prog->state.rng == nullptr) {
          std::fill(m.mask, m.mask + n_mask, 1.0f);
          std::memcpy(dst.get_data_handle(), src.get_data_handle(), bytes);
          return;
        }
        const float keep = 1.0f - p;
        for (int64_t k = 0; k < n_mask; ++k)
          m.mask[k] = prog->state.rng->uniform01() < keep ? 1.0f / keep : 0.0f;
        apply_mask(m, src, dst);
      },
      "fwd " + ctx.kind_name());
}

}  // namespace

void lower_drop(LowerContext& ctx) {
  const Layer& l = ctx.layer();
  ctx.make_output(ctx.in(0).md);
  const memory::desc& md = ctx.out().md;
  const size_t bytes = md.get_size();
  const memory src = ctx.in(0).value, dst = ctx.out().value;
  ctx.forward_infer(
      [src, dst, bytes] { std::memcpy(dst.get_data_handle(), src.get_data_handle(), bytes); },
      "fwd " + ctx.kind_name());
  if (!dnnl_compat::batch_outermost(md))
    throw std::logic_error(l.name + ": unexpected activation layout");
  // Multiplier per image (drop path) or per element (dropout), drawn each training step.
  DropMask m;
  m.per_image = l.kind == LayerKind::drop_path;
  m.bf16 = md.data_type() == memory::data_type::bf16;
  m.count = static_cast<int64_t>(bytes / memory::data_type_size(md.data_type()));
  m.batch = ctx.batch();
  m.mask = ctx.program().alloc_floats(m.per_image ? static_cast<size_t>(m.batch)
                                                  : static_cast<size_t>(m.count));
  drop_forward_train(ctx, m, src, dst);
  if (!ctx.src_grad()) return;
  const memory dd = ctx.out().diff;
  ctx.backward_to_input(0, md, [&](const memory& target) {
    ctx.backward([dd, target, m] { apply_mask(m, dd, target); }, "bwd " + ctx.kind_name());
  });
}

}  // namespace cf::detail

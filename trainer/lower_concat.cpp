// Inputs joined on channels, in order. Backward hands each input a channel slice of the output
// gradient. With its consumer ReLU fused in (ExecutorOptions::fuse_concat), one hand-written
// pass sums the adds it absorbs, joins and applies the ReLU; backward masks the gradient and
// writes or adds each input's slice, also in one pass.
#include <array>
#include <cstdint>
#include <optional>

#include "trainer/dnnl_compat.h"
#include "trainer/kernels.h"
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

// A layout in which every input's channels fill whole blocks, so that each input is one
// contiguous range of every output image: the first input's own layout when it qualifies
// (usually nChw16c), else the first of nChw16c, nChw8c, nchw that does.
memory::format_tag fused_layout(LowerContext& ctx) {
  using tag = memory::format_tag;
  constexpr std::array<std::pair<tag, int>, 3> kLayouts = {
      {{tag::nChw16c, 16}, {tag::nChw8c, 8}, {tag::nchw, 1}}};
  auto aligned = [&](int block) {
    for (int s = 0; s < ctx.inputs(); ++s)
      if (ctx.network().in_shape(ctx.index(), s).c % block != 0) return false;
    return true;
  };
  const memory::desc& first = ctx.in(0).md;
  for (const auto& [t, block] : kLayouts)
    if (first == memory::desc(first.dims(), first.data_type(), t) && aligned(block)) return t;
  for (const auto& [t, block] : kLayouts)
    if (aligned(block)) return t;
  return tag::nchw;
}

template <typename T>
T* data_of(const memory& m) {
  return static_cast<T*>(m.get_data_handle());
}

// Runs the fused kernel over the terms' current buffers (gradient and some input buffers are
// bound after compilation, so pointers are read when the step runs).
void run_concat_sum(const std::vector<std::vector<memory>>& terms,
                    std::vector<kernels::ConcatPiece> pieces, const memory& dst,
                    int64_t dst_per_image, int batch, bool relu) {
  for (size_t p = 0; p < pieces.size(); ++p)
    for (const memory& t : terms[p]) pieces[p].terms.push_back(t.get_data_handle());
  if (dst.get_desc().data_type() == memory::data_type::bf16)
    kernels::concat_sum(pieces, data_of<uint16_t>(dst), dst_per_image, batch, relu);
  else
    kernels::concat_sum(pieces, data_of<float>(dst), dst_per_image, batch, relu);
}

void lower_concat_relu(LowerContext& ctx) {
  const int N = ctx.batch();
  const memory::format_tag layout = fused_layout(ctx);
  const int64_t hw = int64_t{ctx.layer().out.h} * ctx.layer().out.w;
  auto want = [&](const Shape& s) { return memory::desc(nchw_dims(N, s), ctx.act_dt(), layout); };
  // Each input's terms in the fused layout: an absorbed add's own inputs, else the input.
  std::vector<std::vector<memory>> terms(ctx.inputs());
  std::vector<kernels::ConcatPiece> pieces(ctx.inputs());
  int64_t offset = 0;
  for (int s = 0; s < ctx.inputs(); ++s) {
    const Shape shape = ctx.network().in_shape(ctx.index(), s);
    const int t = ctx.input(s);
    if (ctx.summed_by(t) == ctx.index()) {
      for (int term : ctx.inputs_of(t))
        terms[s].push_back(ctx.forward_input(ctx.program().tensors[term].value, want(shape)));
    } else {
      terms[s].push_back(ctx.forward_input(ctx.in(s).value, want(shape)));
    }
    pieces[s].per_image = shape.c * hw;
    pieces[s].offset = offset;
    offset += pieces[s].per_image;
  }
  const int64_t dst_per_image = offset;
  ctx.make_output(want(ctx.layer().out));
  const memory dst = ctx.out().value;
  auto fused = [terms, pieces, dst, dst_per_image, N] {
    run_concat_sum(terms, pieces, dst, dst_per_image, N, true);
  };
  ctx.forward_train(fused, "fwd concat+relu");
  ctx.forward_infer(fused, "fwd concat+relu");
  ctx.note("fwd: fused concat+relu (" +
           std::string(layout == memory::format_tag::nChw16c  ? "nChw16c"
                       : layout == memory::format_tag::nChw8c ? "nChw8c"
                                                              : "nchw") +
           ")");
  ctx.program().recompute[ctx.index()] = [terms, pieces, dst_per_image, N](const memory& out,
                                                                           bool) {
    run_concat_sum(terms, pieces, out, dst_per_image, N, false);
  };

  const memory diff_dst = ctx.out().diff;
  for (int s = 0; s < ctx.inputs(); ++s) {
    if (!ctx.input_grad(s)) continue;
    const kernels::ConcatPiece piece = pieces[s];
    auto emit = [&ctx, dst, diff_dst, dst_per_image, piece, N](const memory& target,
                                                               bool accumulate) {
      ctx.backward(
          [dst, diff_dst, dst_per_image, piece, N, target, accumulate] {
            if (dst.get_desc().data_type() == memory::data_type::bf16)
              kernels::relu_backward_piece(data_of<uint16_t>(dst), data_of<uint16_t>(diff_dst),
                                           dst_per_image, piece.offset, data_of<uint16_t>(target),
                                           piece.per_image, N, accumulate);
            else
              kernels::relu_backward_piece(data_of<float>(dst), data_of<float>(diff_dst),
                                           dst_per_image, piece.offset, data_of<float>(target),
                                           piece.per_image, N, accumulate);
          },
          "bwd concat+relu");
    };
    const memory::desc md = want(ctx.network().in_shape(ctx.index(), s));
    if (ctx.in(s).md == md)  // written or added in place: no scratch, no second pass
      emit(ctx.in(s).diff, !ctx.first_grad(s));
    else
      ctx.backward_to_input(s, md, [&](const memory& target) { emit(target, false); });
  }
}

}  // namespace

void lower_concat(LowerContext& ctx) {
  if (ctx.concat_relu()) return lower_concat_relu(ctx);
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

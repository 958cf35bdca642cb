#include "space/network.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "space/graph_builder.h"

namespace cf {

using detail::GraphBuilder;

std::string to_string(const Shape& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

std::string_view layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::input:
      return "input";
    case LayerKind::conv:
      return "conv";
    case LayerKind::batch_norm:
      return "batch_norm";
    case LayerKind::relu:
      return "relu";
    case LayerKind::max_pool:
      return "max_pool";
    case LayerKind::avg_pool:
      return "avg_pool";
    case LayerKind::add:
      return "add";
    case LayerKind::concat:
      return "concat";
    case LayerKind::shift:
      return "shift";
    case LayerKind::drop_path:
      return "drop_path";
    case LayerKind::global_avg_pool:
      return "global_avg_pool";
    case LayerKind::dropout:
      return "dropout";
    case LayerKind::zero:
      return "zero";
    case LayerKind::fully_connected:
      return "fully_connected";
  }
  return "?";
}

std::string_view stem_name(Stem stem) {
  return stem == Stem::cifar ? "cifar" : "imagenet";
}

std::optional<Stem> stem_from_name(std::string_view name) {
  if (name == "cifar") return Stem::cifar;
  if (name == "imagenet") return Stem::imagenet;
  return std::nullopt;
}

void validate(const NetworkSpec& spec) {
  auto range = [](const char* what, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi))
      throw std::invalid_argument(std::string(what) + " = " + std::to_string(v) +
                                  " is out of range [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "]");
  };
  range("cells-per-stack (N)", spec.cells_per_stack, 1, 64);
  range("filters (F)", spec.filters, 4, 4096);
  range("stem-multiplier", spec.stem_multiplier, 0.01, 64);
  range("input channels", spec.input.c, 1, 64);
  range("input height", spec.input.h, spec.stem == Stem::imagenet ? 3 : 1, 8192);
  range("input width", spec.input.w, spec.stem == Stem::imagenet ? 3 : 1, 8192);
  range("classes", spec.classes, 2, 100000);
  range("dropout", spec.dropout, 0.0, 0.99);
  const double stem_c =
      spec.stem == Stem::cifar ? spec.stem_multiplier * spec.filters : 32.0 * spec.stem_multiplier;
  if (static_cast<int>(stem_c) < 1)
    throw std::invalid_argument("stem-multiplier " + std::to_string(spec.stem_multiplier) +
                                " gives a stem with no channels");
}

Network build_network(const Genotype& genotype, const NetworkSpec& spec) {
  validate(spec);
  validate(genotype);
  Network net;
  net.spec = spec;
  GraphBuilder g(net);
  const int image = g.input(spec.input);

  int prev = -1, prev_prev = -1;
  int cell_index = 0;
  auto run_cell = [&](bool reduction, int f_cell) {
    const std::string name = "cell" + std::to_string(cell_index);
    g.set_cell(cell_index);
    const int out = g.cell(reduction ? genotype.reduction : genotype.normal, reduction, prev,
                           prev_prev, f_cell, name);
    g.set_cell(-1);
    net.cell_outputs.push_back(out);
    ++cell_index;
    prev_prev = prev;
    prev = out;
  };

  if (spec.stem == Stem::cifar) {
    const int c = static_cast<int>(spec.stem_multiplier * spec.filters);
    int x = g.conv_same(image, c, 3, 1, 1, 1, "stem.conv");
    x = g.batch_norm(x, "stem");
    prev = prev_prev = x;
  } else {
    const int c = static_cast<int>(32 * spec.stem_multiplier);
    int x = g.conv(image, c, 3, 3, 2, 2, 0, 0, 1, 1, 1, "stem.conv");
    x = g.batch_norm(x, "stem");
    prev = prev_prev = x;
    run_cell(true, std::max(1, spec.filters / 4));
    run_cell(true, std::max(1, spec.filters / 2));
  }

  int reductions = 0;
  for (int stack = 0; stack < 3; ++stack) {
    const int f_cell = spec.filters << stack;
    if (stack > 0) {
      run_cell(true, f_cell);
      ++reductions;
      if (reductions == 2 && spec.aux_head) {
        // Auxiliary head (spec section 4): the kernel covering the pooled map.
        g.set_aux(true);
        int x = g.relu(prev, "aux");
        const Shape s = g.shape(x);
        const int k = std::min({5, s.h, s.w});
        x = g.pool(LayerKind::avg_pool, x, k, 3, 0, "aux.pool");
        x = g.conv_same(x, 128, 1, 1, 1, 1, "aux.conv1");
        x = g.batch_norm(x, "aux.conv1");
        x = g.relu(x, "aux.conv1");
        const Shape pooled = g.shape(x);
        x = g.conv(x, 768, pooled.h, pooled.w, 1, 1, 0, 0, 1, 1, 1, "aux.conv2");
        x = g.batch_norm(x, "aux.conv2");
        x = g.relu(x, "aux.conv2");
        net.aux_logits = g.fully_connected(x, spec.classes, "aux.fc");
        g.set_aux(false);
      }
    }
    for (int n = 0; n < spec.cells_per_stack; ++n) run_cell(false, f_cell);
  }
  net.num_cells = cell_index;

  int x = g.relu(prev, "head");
  x = g.global_avg_pool(x, "head");
  x = g.dropout(x, spec.dropout, "head");
  net.logits = g.fully_connected(x, spec.classes, "head.fc");
  return net;
}

namespace {

// Counts of huge stackings must not wrap around: every product and sum is checked.
int64_t checked(bool overflowed, int64_t value) {
  if (overflowed)
    throw std::overflow_error(
        "the network is too large to count: more than 2^63 parameters or MACs "
        "(reduce the filters, cells per stack or input size)");
  return value;
}
int64_t mul(int64_t a, int64_t b) {
  int64_t out = 0;
  const bool overflowed = __builtin_mul_overflow(a, b, &out);
  return checked(overflowed, out);
}
int64_t add(int64_t a, int64_t b) {
  int64_t out = 0;
  const bool overflowed = __builtin_add_overflow(a, b, &out);
  return checked(overflowed, out);
}

}  // namespace

int64_t Network::layer_params(int i) const {
  const Layer& l = layers[i];
  switch (l.kind) {
    case LayerKind::conv:
      return mul(mul(mul(l.out.c, in_shape(i).c / l.groups), l.kernel_h), l.kernel_w);
    case LayerKind::batch_norm:
      return 2 * int64_t{l.out.c};
    case LayerKind::fully_connected:
      return add(mul(in_shape(i).numel(), l.out.c), l.out.c);
    default:
      return 0;
  }
}

int64_t Network::layer_macs(int i) const {
  const Layer& l = layers[i];
  switch (l.kind) {
    case LayerKind::conv:
      return mul(mul(layer_params(i), l.out.h), l.out.w);
    case LayerKind::fully_connected:
      return mul(in_shape(i).numel(), l.out.c);
    default:
      return 0;
  }
}

int64_t Network::params() const {
  int64_t total = 0;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) total = add(total, layer_params(i));
  return total;
}

int64_t Network::macs() const {
  int64_t total = 0;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i)
    if (!layers[i].aux) total = add(total, layer_macs(i));
  return total;
}

std::string Network::notation() const {
  return std::to_string(spec.cells_per_stack) + "@" +
         std::to_string(layers[cell_outputs.back()].out.c);
}

Network build_op_network(OpId op, Shape in, int c_out, int stride, int classes) {
  Network net;
  net.spec.input = in;
  net.spec.classes = classes;
  net.spec.filters = c_out;
  GraphBuilder g(net);
  int x = g.input(in);
  x = g.conv_same(x, in.c, 1, 1, 1, 1, "pre.conv");
  g.set_cell(0);
  x = g.op(op, x, c_out, stride, "op." + std::string(op_name(op)));
  g.set_cell(-1);
  net.cell_outputs.push_back(x);
  net.num_cells = 1;
  net.logits = g.fully_connected(x, classes, "head.fc");
  return net;
}

OpCost op_cost(OpId op, Shape in, int c_out, int stride) {
  Network net;
  GraphBuilder g(net);
  const int x = g.input(in);
  const int y = g.op(op, x, c_out, stride, "op");
  OpCost cost;
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    cost.params += net.layer_params(i);
    cost.macs += net.layer_macs(i);
  }
  cost.out = net.layers[y].out;
  return cost;
}

std::optional<Shape> parse_input_shape(std::string_view text) {
  int v[3];
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int k = 0; k < 3; ++k) {
    auto [next, ec] = std::from_chars(p, end, v[k]);
    if (ec != std::errc() || v[k] <= 0) return std::nullopt;
    p = next;
    if (k < 2) {
      if (p == end || (*p != 'x' && *p != 'X')) return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return Shape{v[2], v[0], v[1]};
}

}  // namespace cf

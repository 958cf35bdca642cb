#include "space/network.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace cf {

namespace {

int conv_out(int in, int kernel, int stride, int pad, int dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

// Appends layers to a network; every helper returns the index of the layer it added.
class GraphBuilder {
 public:
  explicit GraphBuilder(Network& net) : net_(net) {}

  const Shape& shape(int x) const { return net_.layers[x].out; }

  int add_layer(Layer layer) {
    layer.cell = cell_;
    layer.aux = aux_;
    net_.layers.push_back(std::move(layer));
    return static_cast<int>(net_.layers.size()) - 1;
  }

  int input(Shape s) {
    Layer l;
    l.kind = LayerKind::input;
    l.out = s;
    l.name = "input";
    return add_layer(std::move(l));
  }

  // ReLU of a tensor is computed once however many ops start with it (a cell state often feeds
  // several ReLU-conv ops); the layer keeps the name of its first user.
  int relu(int x, const std::string& name) {
    for (int i : consumers_of(x))
      if (net_.layers[i].kind == LayerKind::relu && net_.layers[i].aux == aux_) return i;
    return unary(LayerKind::relu, x, shape(x), name + ".relu");
  }
  std::vector<int> consumers_of(int x) const {
    std::vector<int> out;
    for (int i = x + 1; i < static_cast<int>(net_.layers.size()); ++i)
      for (int in : net_.layers[i].inputs)
        if (in == x) out.push_back(i);
    return out;
  }
  int batch_norm(int x, const std::string& name) {
    return unary(LayerKind::batch_norm, x, shape(x), name + ".bn");
  }
  int shift(int x, const std::string& name) {
    return unary(LayerKind::shift, x, shape(x), name + ".shift");
  }
  int drop_path(int x, const std::string& name) {
    return unary(LayerKind::drop_path, x, shape(x), name + ".drop_path");
  }

  int conv(int x, int c_out, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
           int groups, const std::string& name) {
    const Shape in = shape(x);
    Layer l;
    l.kind = LayerKind::conv;
    l.inputs = {x};
    l.kernel_h = kh;
    l.kernel_w = kw;
    l.stride_h = sh;
    l.stride_w = sw;
    l.pad_h = ph;
    l.pad_w = pw;
    l.dilation_h = dh;
    l.dilation_w = dw;
    l.groups = groups;
    l.out = {c_out, conv_out(in.h, kh, sh, ph, dh), conv_out(in.w, kw, sw, pw, dw)};
    if (l.out.h < 1 || l.out.w < 1)
      throw std::invalid_argument(name + ": input " + to_string(in) + " is too small for a " +
                                  std::to_string(kh) + "x" + std::to_string(kw) + " kernel");
    l.name = name;
    return add_layer(std::move(l));
  }
  // Square kernel, "same" padding.
  int conv_same(int x, int c_out, int k, int stride, int dilation, int groups,
                const std::string& name) {
    const int pad = dilation * (k - 1) / 2;
    return conv(x, c_out, k, k, stride, stride, pad, pad, dilation, dilation, groups, name);
  }

  int pool(LayerKind kind, int x, int k, int stride, int pad, const std::string& name) {
    const Shape in = shape(x);
    Layer l;
    l.kind = kind;
    l.inputs = {x};
    l.kernel_h = l.kernel_w = k;
    l.stride_h = l.stride_w = stride;
    l.pad_h = l.pad_w = pad;
    l.out = {in.c, conv_out(in.h, k, stride, pad, 1), conv_out(in.w, k, stride, pad, 1)};
    l.name = name;
    return add_layer(std::move(l));
  }

  int add(std::vector<int> xs, const std::string& name) {
    Layer l;
    l.kind = LayerKind::add;
    l.out = shape(xs[0]);
    l.inputs = std::move(xs);
    l.name = name;
    return add_layer(std::move(l));
  }

  int concat(std::vector<int> xs, const std::string& name) {
    if (xs.size() == 1) return xs[0];
    Layer l;
    l.kind = LayerKind::concat;
    l.out = shape(xs[0]);
    l.out.c = 0;
    for (int x : xs) l.out.c += shape(x).c;
    l.inputs = std::move(xs);
    l.name = name;
    return add_layer(std::move(l));
  }

  // ReLU, conv, BN (conv "same" padding).
  int relu_conv_bn(int x, int c_out, int k, int stride, const std::string& name) {
    x = relu(x, name);
    x = conv_same(x, c_out, k, stride, 1, 1, name + ".conv");
    return batch_norm(x, name);
  }

  // Spec 3.2: two 1x1-pooled, 1x1-convolved paths (one shifted by a pixel), concat, BN.
  int factorized_reduction(int x, int c_out, const std::string& name) {
    const int a = pool(LayerKind::avg_pool, x, 1, 2, 0, name + ".path_a.pool");
    const int a_conv = conv_same(a, c_out / 2, 1, 1, 1, 1, name + ".path_a.conv");
    const int b_shift = shift(x, name + ".path_b");
    const int b = pool(LayerKind::avg_pool, b_shift, 1, 2, 0, name + ".path_b.pool");
    const int b_conv = conv_same(b, c_out - c_out / 2, 1, 1, 1, 1, name + ".path_b.conv");
    return batch_norm(concat({a_conv, b_conv}, name + ".concat"), name);
  }

  // One op of spec section 2 applied to x.
  int op(OpId id, int x, int c_out, int stride, const std::string& name) {
    const OpInfo& info = op_info(id);
    const int c_in = shape(x).c;
    const int k = info.kernel;
    int y = x;
    switch (info.family) {
      case OpFamily::identity:
        if (stride == 1 && c_in == c_out) return x;
        return relu_conv_bn(x, c_out, 1, stride, name);
      case OpFamily::conv:
        y = relu_conv_bn(x, c_out, k, stride, name);
        break;
      case OpFamily::factorized_conv:
        y = relu(x, name);
        y = conv(y, c_out, 1, k, 1, stride, 0, k / 2, 1, 1, 1, name + ".conv_1x" + std::to_string(k));
        y = conv(y, c_out, k, 1, stride, 1, k / 2, 0, 1, 1, 1, name + ".conv_" + std::to_string(k) + "x1");
        y = batch_norm(y, name);
        break;
      case OpFamily::dil_conv:
        y = relu(x, name);
        y = conv_same(y, c_out, k, stride, info.dilation, 1, name + ".conv");
        y = batch_norm(y, name);
        break;
      case OpFamily::dil_sep_conv:
        y = relu(x, name);
        y = conv_same(y, c_in, k, stride, info.dilation, c_in, name + ".depthwise");
        y = conv_same(y, c_out, 1, 1, 1, 1, name + ".pointwise");
        y = batch_norm(y, name);
        break;
      case OpFamily::sep_conv:
        for (int rep = 0; rep < 2; ++rep) {
          const std::string n = name + ".sep" + std::to_string(rep + 1);
          const int c = shape(y).c;
          y = relu(y, n);
          y = conv_same(y, c, k, rep == 0 ? stride : 1, 1, c, n + ".depthwise");
          y = conv_same(y, c_out, 1, 1, 1, 1, n + ".pointwise");
          y = batch_norm(y, n);
        }
        break;
      case OpFamily::avg_pool:
      case OpFamily::max_pool:
        y = pool(info.family == OpFamily::avg_pool ? LayerKind::avg_pool : LayerKind::max_pool, x,
                 k, stride, k / 2, name + ".pool");
        if (c_in != c_out) {
          y = conv_same(y, c_out, 1, 1, 1, 1, name + ".conv");
          y = batch_norm(y, name);
        }
        break;
    }
    return drop_path(y, name);
  }

  // One cell (spec section 3). Returns the cell output.
  int cell(const Cell& cell, bool reduction, int prev, int prev_prev, int f_cell,
           const std::string& name) {
    std::vector<int> states(block_state(static_cast<int>(cell.blocks.size())), -1);
    states[kPrev] = relu_conv_bn(prev, f_cell, 1, 1, name + ".pre_prev");
    const Shape pp = shape(prev_prev);
    const Shape p = shape(prev);
    if (pp.h != p.h || pp.w != p.w) {
      const int r = relu(prev_prev, name + ".pre_prev_prev");
      states[kPrevPrev] = factorized_reduction(r, f_cell, name + ".pre_prev_prev.reduce");
    } else if (pp.c != f_cell) {
      states[kPrevPrev] = relu_conv_bn(prev_prev, f_cell, 1, 1, name + ".pre_prev_prev");
    } else {
      states[kPrevPrev] = prev_prev;
    }
    for (size_t b = 0; b < cell.blocks.size(); ++b) {
      const Block& block = cell.blocks[b];
      const std::string bname = name + ".b" + std::to_string(b);
      std::vector<int> halves;
      for (int k = 0; k < 2; ++k) {
        const int s = block.inputs[k];
        const int stride = (reduction && s < 2) ? 2 : 1;
        halves.push_back(op(block.ops[k], states[s], f_cell, stride,
                            bname + (k == 0 ? ".left." : ".right.") +
                                std::string(op_name(block.ops[k]))));
      }
      states[block_state(static_cast<int>(b))] =
          block.combine == Combine::add ? add(halves, bname + ".add")
                                        : concat(halves, bname + ".concat");
    }
    // Every stride-2 op maps H to ceil(H/2).
    const Shape cell_out = reduction ? Shape{p.c, (p.h + 1) / 2, (p.w + 1) / 2} : p;
    std::vector<int> outs;
    for (int s : cell.output_states()) {
      int x = states[s];
      if (shape(x).h > cell_out.h || shape(x).w > cell_out.w)
        x = factorized_reduction(x, shape(x).c, name + ".out_" + state_name(s) + ".reduce");
      outs.push_back(x);
    }
    return concat(outs, name + ".concat");
  }

  void set_cell(int c) { cell_ = c; }
  void set_aux(bool a) { aux_ = a; }

 private:
  int unary(LayerKind kind, int x, Shape out, std::string name) {
    Layer l;
    l.kind = kind;
    l.inputs = {x};
    l.out = out;
    l.name = std::move(name);
    return add_layer(std::move(l));
  }

  Network& net_;
  int cell_ = -1;
  bool aux_ = false;
};

}  // namespace

std::string to_string(const Shape& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

std::string_view layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::input: return "input";
    case LayerKind::conv: return "conv";
    case LayerKind::batch_norm: return "batch_norm";
    case LayerKind::relu: return "relu";
    case LayerKind::max_pool: return "max_pool";
    case LayerKind::avg_pool: return "avg_pool";
    case LayerKind::add: return "add";
    case LayerKind::concat: return "concat";
    case LayerKind::shift: return "shift";
    case LayerKind::drop_path: return "drop_path";
    case LayerKind::global_avg_pool: return "global_avg_pool";
    case LayerKind::dropout: return "dropout";
    case LayerKind::fully_connected: return "fully_connected";
  }
  return "?";
}

std::string_view stem_name(Stem stem) { return stem == Stem::cifar ? "cifar" : "imagenet"; }

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
  const double stem_c = spec.stem == Stem::cifar ? spec.stem_multiplier * spec.filters
                                                 : 32.0 * spec.stem_multiplier;
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
        Layer fc;
        fc.kind = LayerKind::fully_connected;
        fc.inputs = {x};
        fc.out = {spec.classes, 1, 1};
        fc.name = "aux.fc";
        net.aux_logits = g.add_layer(std::move(fc));
        g.set_aux(false);
      }
    }
    for (int n = 0; n < spec.cells_per_stack; ++n) run_cell(false, f_cell);
  }
  net.num_cells = cell_index;

  int x = g.relu(prev, "head");
  {
    Layer gap;
    gap.kind = LayerKind::global_avg_pool;
    gap.inputs = {x};
    gap.out = {g.shape(x).c, 1, 1};
    gap.name = "head.global_pool";
    x = g.add_layer(std::move(gap));
  }
  {
    Layer drop;
    drop.kind = LayerKind::dropout;
    drop.inputs = {x};
    drop.out = g.shape(x);
    drop.rate = spec.dropout;
    drop.name = "head.dropout";
    x = g.add_layer(std::move(drop));
  }
  Layer fc;
  fc.kind = LayerKind::fully_connected;
  fc.inputs = {x};
  fc.out = {spec.classes, 1, 1};
  fc.name = "head.fc";
  net.logits = g.add_layer(std::move(fc));
  return net;
}

namespace {

// Counts of huge stackings must not wrap around: every product and sum is checked.
int64_t checked(bool overflowed, int64_t value) {
  if (overflowed)
    throw std::overflow_error("the network is too large to count: more than 2^63 parameters or MACs "
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
  Layer fc;
  fc.kind = LayerKind::fully_connected;
  fc.inputs = {x};
  fc.out = {classes, 1, 1};
  fc.name = "head.fc";
  net.logits = g.add_layer(std::move(fc));
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

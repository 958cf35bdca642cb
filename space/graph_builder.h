#pragma once
// Internal to space/: appends layers to a Network. The NASNet stacking (network.cpp) and the
// NAS-Bench-201 network (nb201_network.cpp) are both built with it; every helper returns the
// index of the layer it added.
#include <stdexcept>
#include <string>
#include <vector>

#include "space/genotype.h"
#include "space/network.h"
#include "space/ops.h"

namespace cf::detail {

inline int conv_out(int in, int kernel, int stride, int pad, int dilation) {
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
  int batch_norm(int x, const std::string& name, float epsilon = kBatchNormEpsilon) {
    const int y = unary(LayerKind::batch_norm, x, shape(x), name + ".bn");
    net_.layers[y].bn_epsilon = epsilon;
    return y;
  }
  int zero(int x, const std::string& name) {
    return unary(LayerKind::zero, x, shape(x), name + ".zero");
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
    for (int x : xs)
      if (shape(x) != shape(xs[0]))
        throw std::logic_error(name + ": adds " + to_string(shape(x)) + " to " +
                               to_string(shape(xs[0])));
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
  int relu_conv_bn(int x, int c_out, int k, int stride, const std::string& name,
                   float epsilon = kBatchNormEpsilon) {
    x = relu(x, name);
    x = conv_same(x, c_out, k, stride, 1, 1, name + ".conv");
    return batch_norm(x, name, epsilon);
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
        y = conv(y, c_out, 1, k, 1, stride, 0, k / 2, 1, 1, 1,
                 name + ".conv_1x" + std::to_string(k));
        y = conv(y, c_out, k, 1, stride, 1, k / 2, 0, 1, 1, 1,
                 name + ".conv_" + std::to_string(k) + "x1");
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
        halves.push_back(
            op(block.ops[k], states[s], f_cell, stride,
               bname + (k == 0 ? ".left." : ".right.") + std::string(op_name(block.ops[k]))));
      }
      states[block_state(static_cast<int>(b))] = block.combine == Combine::add
                                                     ? add(halves, bname + ".add")
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

  int global_avg_pool(int x, const std::string& name) {
    return unary(LayerKind::global_avg_pool, x, {shape(x).c, 1, 1}, name + ".global_pool");
  }
  int dropout(int x, float rate, const std::string& name) {
    const int y = unary(LayerKind::dropout, x, shape(x), name + ".dropout");
    net_.layers[y].rate = rate;
    return y;
  }
  int fully_connected(int x, int classes, const std::string& name) {
    Layer fc;
    fc.kind = LayerKind::fully_connected;
    fc.inputs = {x};
    fc.out = {classes, 1, 1};
    fc.name = name;
    return add_layer(std::move(fc));
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

}  // namespace cf::detail

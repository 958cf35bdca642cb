#include "trainer/synflow.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

namespace cf {

namespace {

using Values = std::vector<double>;  // one image: C x H x W

// One layer of the pass: its values and gradients, and its inputs'.
struct Step {
  const Network& net;
  const ParamValues& params;
  const Layer& l;
  std::vector<Values>& y;  // every layer's output
  std::vector<Values>& g;  // every layer's dR/d(output)
  int index;

  const Values& in(int k = 0) const { return y[l.inputs[k]]; }
  Values& in_grad(int k = 0) const { return g[l.inputs[k]]; }
  Shape in_shape(int k = 0) const { return net.layers[l.inputs[k]].out; }
  Values& out() const { return y[index]; }
  const Values& out_grad() const { return g[index]; }
  // |values| of a parameter of this layer, in double.
  Values param(const char* suffix) const {
    auto it = params.find(l.name + suffix);
    if (it == params.end()) throw std::runtime_error("synflow: no values for " + l.name + suffix);
    Values v(it->second.size());
    std::transform(it->second.begin(), it->second.end(), v.begin(),
                   [](float x) { return std::fabs(static_cast<double>(x)); });
    return v;
  }
};

// The output columns [lo, hi] whose input column ow * stride - pad + offset lies in [0, in).
void valid_range(int in, int out, int stride, int pad, int offset, int& lo, int& hi) {
  const int shift = pad - offset;  // ow * stride >= shift
  lo = shift <= 0 ? 0 : (shift + stride - 1) / stride;
  hi = std::min(out - 1, (in - 1 + shift) / stride);
  if (in - 1 + shift < 0) hi = -1;
}

// Calls body(out_index, in_index, weight_index) for every multiply of a convolution.
template <class Body>
void conv_loop(const Layer& l, Shape is, Body body) {
  const Shape os = l.out;
  const int cin_g = is.c / l.groups, cout_g = os.c / l.groups;
  for (int oc = 0; oc < os.c; ++oc) {
    const int group = oc / cout_g;
    for (int icg = 0; icg < cin_g; ++icg) {
      const int ic = group * cin_g + icg;
      for (int kh = 0; kh < l.kernel_h; ++kh)
        for (int kw = 0; kw < l.kernel_w; ++kw) {
          const size_t wi =
              ((static_cast<size_t>(oc) * cin_g + icg) * l.kernel_h + kh) * l.kernel_w + kw;
          int lo, hi;
          valid_range(is.w, os.w, l.stride_w, l.pad_w, kw * l.dilation_w, lo, hi);
          for (int oh = 0; oh < os.h; ++oh) {
            const int ih = oh * l.stride_h - l.pad_h + kh * l.dilation_h;
            if (ih < 0 || ih >= is.h) continue;
            const size_t out_row = (static_cast<size_t>(oc) * os.h + oh) * os.w;
            const size_t in_row = (static_cast<size_t>(ic) * is.h + ih) * is.w;
            const int in_col0 = -l.pad_w + kw * l.dilation_w;
            body(out_row, in_row, in_col0, lo, hi, wi);
          }
        }
    }
  }
}

void conv_forward(const Step& s) {
  const Values w = s.param(".weights");
  Values& y = s.out();
  const Values& x = s.in();
  const int sw = s.l.stride_w;
  conv_loop(s.l, s.in_shape(),
            [&](size_t out_row, size_t in_row, int in_col0, int lo, int hi, size_t wi) {
              const double wv = w[wi];
              for (int ow = lo; ow <= hi; ++ow)
                y[out_row + ow] += wv * x[in_row + ow * sw + in_col0];
            });
}

void conv_backward(const Step& s) {
  const Values w = s.param(".weights");
  Values& gx = s.in_grad();
  const Values& gy = s.out_grad();
  const int sw = s.l.stride_w;
  conv_loop(s.l, s.in_shape(),
            [&](size_t out_row, size_t in_row, int in_col0, int lo, int hi, size_t wi) {
              const double wv = w[wi];
              for (int ow = lo; ow <= hi; ++ow)
                gx[in_row + ow * sw + in_col0] += wv * gy[out_row + ow];
            });
}

void copy_forward(const Step& s) {
  s.out() = s.in();
}
void copy_backward(const Step& s) {
  Values& gx = s.in_grad();
  const Values& gy = s.out_grad();
  for (size_t k = 0; k < gy.size(); ++k) gx[k] += gy[k];
}

void relu_forward(const Step& s) {
  const Values& x = s.in();
  Values& y = s.out();
  for (size_t k = 0; k < x.size(); ++k) y[k] = std::max(x[k], 0.0);
}
void relu_backward(const Step& s) {
  const Values& x = s.in();
  Values& gx = s.in_grad();
  const Values& gy = s.out_grad();
  for (size_t k = 0; k < x.size(); ++k)
    if (x[k] > 0) gx[k] += gy[k];
}

// Calls body(out_index, in_index) for every input cell of every pooling window (padding skipped).
template <class Body>
void pool_loop(const Layer& l, Shape is, Body body) {
  const Shape os = l.out;
  for (int c = 0; c < os.c; ++c)
    for (int oh = 0; oh < os.h; ++oh)
      for (int ow = 0; ow < os.w; ++ow) {
        const size_t o = (static_cast<size_t>(c) * os.h + oh) * os.w + ow;
        for (int kh = 0; kh < l.kernel_h; ++kh) {
          const int ih = oh * l.stride_h - l.pad_h + kh;
          if (ih < 0 || ih >= is.h) continue;
          for (int kw = 0; kw < l.kernel_w; ++kw) {
            const int iw = ow * l.stride_w - l.pad_w + kw;
            if (iw >= 0 && iw < is.w) body(o, (static_cast<size_t>(c) * is.h + ih) * is.w + iw);
          }
        }
      }
}

void avg_pool_forward(const Step& s) {
  std::vector<int> count(s.out().size(), 0);
  const Values& x = s.in();
  Values& y = s.out();
  pool_loop(s.l, s.in_shape(), [&](size_t o, size_t i) { y[o] += x[i], ++count[o]; });
  for (size_t o = 0; o < y.size(); ++o) y[o] /= std::max(count[o], 1);
}
void avg_pool_backward(const Step& s) {
  std::vector<int> count(s.out().size(), 0);
  pool_loop(s.l, s.in_shape(), [&](size_t o, size_t) { ++count[o]; });
  Values& gx = s.in_grad();
  const Values& gy = s.out_grad();
  pool_loop(s.l, s.in_shape(), [&](size_t o, size_t i) { gx[i] += gy[o] / count[o]; });
}

// The first maximum of each window in scan order takes the gradient (as PyTorch's CPU kernel).
std::vector<size_t> max_pool_argmax(const Step& s) {
  std::vector<size_t> arg(s.out().size(), SIZE_MAX);
  const Values& x = s.in();
  pool_loop(s.l, s.in_shape(), [&](size_t o, size_t i) {
    if (arg[o] == SIZE_MAX || x[i] > x[arg[o]]) arg[o] = i;
  });
  return arg;
}
void max_pool_forward(const Step& s) {
  const std::vector<size_t> arg = max_pool_argmax(s);
  for (size_t o = 0; o < arg.size(); ++o) s.out()[o] = s.in()[arg[o]];
}
void max_pool_backward(const Step& s) {
  const std::vector<size_t> arg = max_pool_argmax(s);
  for (size_t o = 0; o < arg.size(); ++o) s.in_grad()[arg[o]] += s.out_grad()[o];
}

void add_forward(const Step& s) {
  Values& y = s.out();
  for (size_t k = 0; k < s.l.inputs.size(); ++k)
    for (size_t j = 0; j < y.size(); ++j) y[j] += s.in(static_cast<int>(k))[j];
}
void add_backward(const Step& s) {
  for (size_t k = 0; k < s.l.inputs.size(); ++k) {
    Values& gx = s.in_grad(static_cast<int>(k));
    for (size_t j = 0; j < gx.size(); ++j) gx[j] += s.out_grad()[j];
  }
}

void concat_forward(const Step& s) {
  size_t offset = 0;
  for (size_t k = 0; k < s.l.inputs.size(); ++k) {
    const Values& x = s.in(static_cast<int>(k));
    std::copy(x.begin(), x.end(), s.out().begin() + static_cast<std::ptrdiff_t>(offset));
    offset += x.size();
  }
}
void concat_backward(const Step& s) {
  size_t offset = 0;
  for (size_t k = 0; k < s.l.inputs.size(); ++k) {
    Values& gx = s.in_grad(static_cast<int>(k));
    for (size_t j = 0; j < gx.size(); ++j) gx[j] += s.out_grad()[offset + j];
    offset += gx.size();
  }
}

// y[c][h][w] = x[c][h+1][w+1], zero in the last row and column.
template <class Body>
void shift_loop(Shape sh, Body body) {
  for (int c = 0; c < sh.c; ++c)
    for (int h = 0; h + 1 < sh.h; ++h)
      for (int w = 0; w + 1 < sh.w; ++w)
        body((static_cast<size_t>(c) * sh.h + h) * sh.w + w,
             (static_cast<size_t>(c) * sh.h + h + 1) * sh.w + w + 1);
}
void shift_forward(const Step& s) {
  shift_loop(s.l.out, [&](size_t o, size_t i) { s.out()[o] = s.in()[i]; });
}
void shift_backward(const Step& s) {
  shift_loop(s.l.out, [&](size_t o, size_t i) { s.in_grad()[i] += s.out_grad()[o]; });
}

void global_avg_pool_forward(const Step& s) {
  const Shape is = s.in_shape();
  const size_t hw = static_cast<size_t>(is.h) * is.w;
  for (int c = 0; c < is.c; ++c) {
    double sum = 0;
    for (size_t k = 0; k < hw; ++k) sum += s.in()[c * hw + k];
    s.out()[c] = sum / static_cast<double>(hw);
  }
}
void global_avg_pool_backward(const Step& s) {
  const Shape is = s.in_shape();
  const size_t hw = static_cast<size_t>(is.h) * is.w;
  for (int c = 0; c < is.c; ++c)
    for (size_t k = 0; k < hw; ++k)
      s.in_grad()[c * hw + k] += s.out_grad()[c] / static_cast<double>(hw);
}

void fully_connected_forward(const Step& s) {
  const Values w = s.param(".weights"), b = s.param(".bias");
  const Values& x = s.in();
  for (int k = 0; k < s.l.out.c; ++k) {
    double acc = b[k];
    for (size_t j = 0; j < x.size(); ++j) acc += w[k * x.size() + j] * x[j];
    s.out()[k] = acc;
  }
}
void fully_connected_backward(const Step& s) {
  const Values w = s.param(".weights");
  Values& gx = s.in_grad();
  for (int k = 0; k < s.l.out.c; ++k)
    for (size_t j = 0; j < gx.size(); ++j) gx[j] += w[k * gx.size() + j] * s.out_grad()[k];
}

void input_forward(const Step& s) {
  std::fill(s.out().begin(), s.out().end(), 1.0);
}
void nothing(const Step&) {}

struct SynflowKind {
  LayerKind kind;
  void (*forward)(const Step&);
  void (*backward)(const Step&);
};

// One entry per LayerKind, in enum order. Batch norm is left out (identity), as the proxy's
// "bn=False" form does.
constexpr SynflowKind kSynflowKinds[] = {
    {LayerKind::input, input_forward, nothing},
    {LayerKind::conv, conv_forward, conv_backward},
    {LayerKind::batch_norm, copy_forward, copy_backward},
    {LayerKind::relu, relu_forward, relu_backward},
    {LayerKind::max_pool, max_pool_forward, max_pool_backward},
    {LayerKind::avg_pool, avg_pool_forward, avg_pool_backward},
    {LayerKind::add, add_forward, add_backward},
    {LayerKind::concat, concat_forward, concat_backward},
    {LayerKind::shift, shift_forward, shift_backward},
    {LayerKind::drop_path, copy_forward, copy_backward},
    {LayerKind::global_avg_pool, global_avg_pool_forward, global_avg_pool_backward},
    {LayerKind::dropout, copy_forward, copy_backward},
    {LayerKind::zero, nothing, nothing},
    {LayerKind::fully_connected, fully_connected_forward, fully_connected_backward},
};
static_assert(std::size(kSynflowKinds) == kLayerKindCount, "one synflow entry per layer kind");
constexpr bool synflow_kinds_in_order() {
  for (size_t k = 0; k < std::size(kSynflowKinds); ++k)
    if (static_cast<size_t>(kSynflowKinds[k].kind) != k) return false;
  return true;
}
static_assert(synflow_kinds_in_order(), "kSynflowKinds must be indexed by LayerKind");

}  // namespace

double synflow_score(const Network& network, const ParamValues& params) {
  const int L = static_cast<int>(network.layers.size());
  std::vector<Values> y(L), g(L);
  auto step = [&](int i) { return Step{network, params, network.layers[i], y, g, i}; };
  for (int i = 0; i < L; ++i) {
    const Layer& l = network.layers[i];
    if (l.aux) continue;  // the auxiliary head does not reach R
    y[i].assign(static_cast<size_t>(l.out.numel()), 0.0);
    g[i].assign(y[i].size(), 0.0);
    kSynflowKinds[static_cast<int>(l.kind)].forward(step(i));
  }
  std::fill(g[network.logits].begin(), g[network.logits].end(), 1.0);  // R = sum of the logits
  double score = 0;
  for (int i = L - 1; i >= 0; --i) {
    const Layer& l = network.layers[i];
    if (l.aux) continue;
    kSynflowKinds[static_cast<int>(l.kind)].backward(step(i));
    // Per layer, sum(w * dR/dw) = sum(dR/dy * (y - bias)): the layer is linear in its weights.
    if (l.kind == LayerKind::conv || l.kind == LayerKind::fully_connected) {
      const Values bias = l.kind == LayerKind::fully_connected ? step(i).param(".bias") : Values{};
      for (size_t k = 0; k < y[i].size(); ++k)
        score += g[i][k] * (y[i][k] - (bias.empty() ? 0.0 : bias[k]));
    }
    y[i] = Values();  // no longer needed by anything before this layer's backward
  }
  return score;
}

}  // namespace cf

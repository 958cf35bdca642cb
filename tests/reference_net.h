#pragma once
// A naive, double-precision interpreter of a space/ layer graph: the reference the oneDNN
// executor is checked against (forward values) and the function finite differences are taken
// of (gradients). Written for clarity, not speed; use it on small networks. One function per
// layer kind, dispatched through a table indexed by LayerKind (like the trainer's lowerings and
// the exporters' emitters).
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "space/network.h"

namespace cf::test {

using Tensor4 = std::vector<double>;  // N x C x H x W, row-major
using ParamMap = std::map<std::string, std::vector<double>>;

struct ReferenceNet {
  const Network& net;
  int batch;
  bool training = true;  // batch statistics (true) or running statistics from `running`
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> running;

  size_t idx(const Shape& s, int n, int c, int h, int w) const {
    return ((static_cast<size_t>(n) * s.c + c) * s.h + h) * s.w + w;
  }

  // Returns every layer's output.
  std::vector<Tensor4> forward(const ParamMap& params, const Tensor4& input) const;

  // Mean softmax cross-entropy of the logits (plus aux_weight x the auxiliary head's).
  double loss(const ParamMap& params, const Tensor4& input, const std::vector<int>& labels,
              double aux_weight = 0.4) const {
    const auto outs = forward(params, input);
    auto ce = [&](int layer) {
      const int k = net.spec.classes;
      double total = 0;
      for (int n = 0; n < batch; ++n) {
        const double* z = &outs[layer][static_cast<size_t>(n) * k];
        const double mx = *std::max_element(z, z + k);
        double sum = 0;
        for (int j = 0; j < k; ++j) sum += std::exp(z[j] - mx);
        total += -(z[labels[n]] - mx - std::log(sum));
      }
      return total / batch;
    };
    double l = ce(net.logits);
    if (net.aux_logits >= 0) l += aux_weight * ce(net.aux_logits);
    return l;
  }
};

namespace reference_detail {

// What a layer function sees: the layer, every earlier output, the parameters, and its output
// `y` (zero-filled, batch x out shape).
struct RefLayer {
  const ReferenceNet& ref;
  int index;
  const Layer& l;
  const std::vector<Tensor4>& outs;
  const ParamMap& params;
  const Tensor4& input;  // the network's input
  Shape os, is;          // output and first input's shape
  Tensor4& y;

  const Tensor4& in(int k) const { return outs[l.inputs[k]]; }
  size_t idx(const Shape& s, int n, int c, int h, int w) const { return ref.idx(s, n, c, h, w); }
  int batch() const { return ref.batch; }
};

inline void ref_input(const RefLayer& r) {
  r.y = r.input;
}

inline void ref_conv(const RefLayer& r) {
  const Layer& l = r.l;
  const Shape is = r.is, os = r.os;
  const auto& w = r.params.at(l.name + ".weights");
  const int cin_g = is.c / l.groups, cout_g = os.c / l.groups;
  for (int n = 0; n < r.batch(); ++n)
    for (int oc = 0; oc < os.c; ++oc) {
      const int g = oc / cout_g;
      for (int oh = 0; oh < os.h; ++oh)
        for (int ow = 0; ow < os.w; ++ow) {
          double acc = 0;
          for (int ic = 0; ic < cin_g; ++ic)
            for (int kh = 0; kh < l.kernel_h; ++kh)
              for (int kw = 0; kw < l.kernel_w; ++kw) {
                const int ih = oh * l.stride_h - l.pad_h + kh * l.dilation_h;
                const int iw = ow * l.stride_w - l.pad_w + kw * l.dilation_w;
                if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w) continue;
                // oihw (groups: goihw == o-major with i per group)
                const size_t widx =
                    ((static_cast<size_t>(oc) * cin_g + ic) * l.kernel_h + kh) * l.kernel_w + kw;
                acc += w[widx] * r.in(0)[r.idx(is, n, g * cin_g + ic, ih, iw)];
              }
          r.y[r.idx(os, n, oc, oh, ow)] = acc;
        }
    }
}

inline void ref_batch_norm(const RefLayer& r) {
  const Shape os = r.os;
  const auto& scale = r.params.at(r.l.name + ".scale");
  const auto& shift = r.params.at(r.l.name + ".shift");
  const double m = static_cast<double>(r.batch()) * os.h * os.w;
  for (int c = 0; c < os.c; ++c) {
    double mean = 0, var = 0;
    if (r.ref.training) {
      for (int n = 0; n < r.batch(); ++n)
        for (int h = 0; h < os.h; ++h)
          for (int w = 0; w < os.w; ++w) mean += r.in(0)[r.idx(os, n, c, h, w)];
      mean /= m;
      for (int n = 0; n < r.batch(); ++n)
        for (int h = 0; h < os.h; ++h)
          for (int w = 0; w < os.w; ++w) {
            const double d = r.in(0)[r.idx(os, n, c, h, w)] - mean;
            var += d * d;
          }
      var /= m;
    } else {
      mean = r.ref.running.at(r.l.name).first[c];
      var = r.ref.running.at(r.l.name).second[c];
    }
    const double inv = 1.0 / std::sqrt(var + static_cast<double>(r.l.bn_epsilon));
    for (int n = 0; n < r.batch(); ++n)
      for (int h = 0; h < os.h; ++h)
        for (int w = 0; w < os.w; ++w) {
          const size_t k = r.idx(os, n, c, h, w);
          r.y[k] = scale[c] * (r.in(0)[k] - mean) * inv + shift[c];
        }
  }
}

inline void ref_relu(const RefLayer& r) {
  for (size_t k = 0; k < r.y.size(); ++k) r.y[k] = std::max(0.0, r.in(0)[k]);
}

// Max or average (padding cells excluded) over each window.
inline void ref_pool(const RefLayer& r, bool max) {
  const Layer& l = r.l;
  const Shape is = r.is, os = r.os;
  for (int n = 0; n < r.batch(); ++n)
    for (int c = 0; c < os.c; ++c)
      for (int oh = 0; oh < os.h; ++oh)
        for (int ow = 0; ow < os.w; ++ow) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int count = 0;
          for (int kh = 0; kh < l.kernel_h; ++kh)
            for (int kw = 0; kw < l.kernel_w; ++kw) {
              const int ih = oh * l.stride_h - l.pad_h + kh;
              const int iw = ow * l.stride_w - l.pad_w + kw;
              if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w) continue;
              const double v = r.in(0)[r.idx(is, n, c, ih, iw)];
              best = std::max(best, v);
              sum += v;
              ++count;
            }
          r.y[r.idx(os, n, c, oh, ow)] = max ? best : sum / count;
        }
}

inline void ref_max_pool(const RefLayer& r) {
  ref_pool(r, true);
}

inline void ref_avg_pool(const RefLayer& r) {
  ref_pool(r, false);
}

inline void ref_add(const RefLayer& r) {
  for (size_t s = 0; s < r.l.inputs.size(); ++s)
    for (size_t k = 0; k < r.y.size(); ++k) r.y[k] += r.in(static_cast<int>(s))[k];
}

inline void ref_concat(const RefLayer& r) {
  const Shape os = r.os;
  int offset = 0;
  for (size_t s = 0; s < r.l.inputs.size(); ++s) {
    const Shape ps = r.ref.net.in_shape(r.index, static_cast<int>(s));
    for (int n = 0; n < r.batch(); ++n)
      for (int c = 0; c < ps.c; ++c)
        for (int h = 0; h < ps.h; ++h)
          for (int w = 0; w < ps.w; ++w)
            r.y[r.idx(os, n, offset + c, h, w)] = r.in(static_cast<int>(s))[r.idx(ps, n, c, h, w)];
    offset += ps.c;
  }
}

inline void ref_shift(const RefLayer& r) {
  const Shape is = r.is, os = r.os;
  for (int n = 0; n < r.batch(); ++n)
    for (int c = 0; c < os.c; ++c)
      for (int h = 0; h + 1 < os.h; ++h)
        for (int w = 0; w + 1 < os.w; ++w)
          r.y[r.idx(os, n, c, h, w)] = r.in(0)[r.idx(is, n, c, h + 1, w + 1)];
}

// drop_path and dropout: no dropping in the reference.
inline void ref_identity(const RefLayer& r) {
  r.y = r.in(0);
}

// zero: the output starts as zeros.
inline void ref_zero(const RefLayer&) {}

inline void ref_global_avg_pool(const RefLayer& r) {
  const Shape is = r.is, os = r.os;
  for (int n = 0; n < r.batch(); ++n)
    for (int c = 0; c < is.c; ++c) {
      double sum = 0;
      for (int h = 0; h < is.h; ++h)
        for (int w = 0; w < is.w; ++w) sum += r.in(0)[r.idx(is, n, c, h, w)];
      r.y[r.idx(os, n, c, 0, 0)] = sum / (is.h * is.w);
    }
}

inline void ref_fully_connected(const RefLayer& r) {
  const auto& w = r.params.at(r.l.name + ".weights");
  const auto& b = r.params.at(r.l.name + ".bias");
  const size_t per = static_cast<size_t>(r.is.numel());
  for (int n = 0; n < r.batch(); ++n)
    for (int k = 0; k < r.os.c; ++k) {
      double acc = b[k];
      for (size_t j = 0; j < per; ++j) acc += w[k * per + j] * r.in(0)[n * per + j];
      r.y[static_cast<size_t>(n) * r.os.c + k] = acc;
    }
}

struct RefKind {
  LayerKind kind;
  void (*run)(const RefLayer&);
};

// One entry per LayerKind, in enum order.
inline constexpr RefKind kRefKinds[] = {
    {LayerKind::input, ref_input},
    {LayerKind::conv, ref_conv},
    {LayerKind::batch_norm, ref_batch_norm},
    {LayerKind::relu, ref_relu},
    {LayerKind::max_pool, ref_max_pool},
    {LayerKind::avg_pool, ref_avg_pool},
    {LayerKind::add, ref_add},
    {LayerKind::concat, ref_concat},
    {LayerKind::shift, ref_shift},
    {LayerKind::drop_path, ref_identity},
    {LayerKind::global_avg_pool, ref_global_avg_pool},
    {LayerKind::dropout, ref_identity},
    {LayerKind::zero, ref_zero},
    {LayerKind::fully_connected, ref_fully_connected},
};
static_assert(std::size(kRefKinds) == kLayerKindCount, "one reference function per layer kind");

constexpr bool ref_kinds_in_enum_order() {
  for (size_t k = 0; k < std::size(kRefKinds); ++k)
    if (static_cast<size_t>(kRefKinds[k].kind) != k) return false;
  return true;
}
static_assert(ref_kinds_in_enum_order(), "kRefKinds must be indexed by LayerKind");

}  // namespace reference_detail

inline std::vector<Tensor4> ReferenceNet::forward(const ParamMap& params,
                                                  const Tensor4& input) const {
  std::vector<Tensor4> out(net.layers.size());
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    Tensor4 y(static_cast<size_t>(batch) * l.out.numel(), 0.0);
    const Shape is = l.inputs.empty() ? l.out : net.in_shape(static_cast<int>(i));
    const reference_detail::RefLayer layer{
        *this, static_cast<int>(i), l, out, params, input, l.out, is, y};
    reference_detail::kRefKinds[static_cast<int>(l.kind)].run(layer);
    out[i] = std::move(y);
  }
  return out;
}

}  // namespace cf::test

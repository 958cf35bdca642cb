#pragma once
// A naive, double-precision interpreter of a space/ layer graph: the reference the oneDNN
// executor is checked against (forward values) and the function finite differences are taken
// of (gradients). Written for clarity, not speed; use it on small networks.
#include <algorithm>
#include <cmath>
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
  double bn_epsilon = 1e-3;
  bool training = true;  // batch statistics (true) or running statistics from `running`
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> running;

  size_t idx(const Shape& s, int n, int c, int h, int w) const {
    return ((static_cast<size_t>(n) * s.c + c) * s.h + h) * s.w + w;
  }

  // Returns every layer's output.
  std::vector<Tensor4> forward(const ParamMap& params, const Tensor4& input) const {
    std::vector<Tensor4> out(net.layers.size());
    for (size_t i = 0; i < net.layers.size(); ++i) {
      const Layer& l = net.layers[i];
      const Shape os = l.out;
      Tensor4 y(static_cast<size_t>(batch) * os.numel(), 0.0);
      auto in = [&](int k) -> const Tensor4& { return out[l.inputs[k]]; };
      const Shape is = l.inputs.empty() ? os : net.in_shape(static_cast<int>(i));
      switch (l.kind) {
        case LayerKind::input:
          y = input;
          break;
        case LayerKind::conv: {
          const auto& w = params.at(l.name + ".weights");
          const int cin_g = is.c / l.groups, cout_g = os.c / l.groups;
          for (int n = 0; n < batch; ++n)
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
                        acc += w[widx] * in(0)[idx(is, n, g * cin_g + ic, ih, iw)];
                      }
                  y[idx(os, n, oc, oh, ow)] = acc;
                }
            }
          break;
        }
        case LayerKind::batch_norm: {
          const auto& scale = params.at(l.name + ".scale");
          const auto& shift = params.at(l.name + ".shift");
          const double m = static_cast<double>(batch) * os.h * os.w;
          for (int c = 0; c < os.c; ++c) {
            double mean = 0, var = 0;
            if (training) {
              for (int n = 0; n < batch; ++n)
                for (int h = 0; h < os.h; ++h)
                  for (int w = 0; w < os.w; ++w) mean += in(0)[idx(os, n, c, h, w)];
              mean /= m;
              for (int n = 0; n < batch; ++n)
                for (int h = 0; h < os.h; ++h)
                  for (int w = 0; w < os.w; ++w) {
                    const double d = in(0)[idx(os, n, c, h, w)] - mean;
                    var += d * d;
                  }
              var /= m;
            } else {
              mean = running.at(l.name).first[c];
              var = running.at(l.name).second[c];
            }
            const double inv = 1.0 / std::sqrt(var + bn_epsilon);
            for (int n = 0; n < batch; ++n)
              for (int h = 0; h < os.h; ++h)
                for (int w = 0; w < os.w; ++w) {
                  const size_t k = idx(os, n, c, h, w);
                  y[k] = scale[c] * (in(0)[k] - mean) * inv + shift[c];
                }
          }
          break;
        }
        case LayerKind::relu:
          for (size_t k = 0; k < y.size(); ++k) y[k] = std::max(0.0, in(0)[k]);
          break;
        case LayerKind::max_pool:
        case LayerKind::avg_pool:
          for (int n = 0; n < batch; ++n)
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
                      const double v = in(0)[idx(is, n, c, ih, iw)];
                      best = std::max(best, v);
                      sum += v;
                      ++count;
                    }
                  y[idx(os, n, c, oh, ow)] = l.kind == LayerKind::max_pool ? best : sum / count;
                }
          break;
        case LayerKind::add:
          for (size_t s = 0; s < l.inputs.size(); ++s)
            for (size_t k = 0; k < y.size(); ++k) y[k] += in(static_cast<int>(s))[k];
          break;
        case LayerKind::concat: {
          int offset = 0;
          for (size_t s = 0; s < l.inputs.size(); ++s) {
            const Shape ps = net.in_shape(static_cast<int>(i), static_cast<int>(s));
            for (int n = 0; n < batch; ++n)
              for (int c = 0; c < ps.c; ++c)
                for (int h = 0; h < ps.h; ++h)
                  for (int w = 0; w < ps.w; ++w)
                    y[idx(os, n, offset + c, h, w)] = in(static_cast<int>(s))[idx(ps, n, c, h, w)];
            offset += ps.c;
          }
          break;
        }
        case LayerKind::shift:
          for (int n = 0; n < batch; ++n)
            for (int c = 0; c < os.c; ++c)
              for (int h = 0; h + 1 < os.h; ++h)
                for (int w = 0; w + 1 < os.w; ++w)
                  y[idx(os, n, c, h, w)] = in(0)[idx(is, n, c, h + 1, w + 1)];
          break;
        case LayerKind::drop_path:
        case LayerKind::dropout:
          y = in(0);  // no dropping in the reference
          break;
        case LayerKind::global_avg_pool:
          for (int n = 0; n < batch; ++n)
            for (int c = 0; c < is.c; ++c) {
              double sum = 0;
              for (int h = 0; h < is.h; ++h)
                for (int w = 0; w < is.w; ++w) sum += in(0)[idx(is, n, c, h, w)];
              y[idx(os, n, c, 0, 0)] = sum / (is.h * is.w);
            }
          break;
        case LayerKind::fully_connected: {
          const auto& w = params.at(l.name + ".weights");
          const auto& b = params.at(l.name + ".bias");
          const size_t per = static_cast<size_t>(is.numel());
          for (int n = 0; n < batch; ++n)
            for (int k = 0; k < os.c; ++k) {
              double acc = b[k];
              for (size_t j = 0; j < per; ++j) acc += w[k * per + j] * in(0)[n * per + j];
              y[static_cast<size_t>(n) * os.c + k] = acc;
            }
          break;
        }
      }
      out[i] = std::move(y);
    }
    return out;
  }

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

}  // namespace cf::test

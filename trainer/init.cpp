#include "trainer/init.h"

#include <cmath>
#include <iterator>

namespace cf {

namespace {

// Box-Muller on the project RNG (std:: distributions differ between standard libraries).
double normal(Rng& rng) {
  const double u1 = 1.0 - rng.uniform01(), u2 = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// Glorot & Bengio's bound; fan_out as PyTorch and Keras count it: output channels times the
// kernel window (a depthwise conv's fan_in is its window alone).
double glorot_bound(const Layer& l, int64_t fan_in) {
  const int64_t window = l.kind == LayerKind::conv ? int64_t{l.kernel_h} * l.kernel_w : 1;
  const int64_t fan_out = int64_t{l.out.c} * window;
  return fan_in + fan_out > 0 ? std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)) : 0.0;
}

std::vector<float> uniform(Rng& rng, int64_t count, double bound) {
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<float>((2 * rng.uniform01() - 1) * bound);
  return v;
}

constexpr const char* kInitSchemeNames[] = {"he_normal", "uniform_fan_in", "glorot"};
static_assert(std::size(kInitSchemeNames) == kInitSchemeCount);
static_assert(static_cast<int>(InitScheme::glorot) == kInitSchemeCount - 1);

}  // namespace

const char* init_scheme_name(InitScheme scheme) {
  return kInitSchemeNames[static_cast<int>(scheme)];
}

std::optional<InitScheme> init_scheme_from_name(std::string_view name) {
  for (int k = 0; k < kInitSchemeCount; ++k)
    if (name == kInitSchemeNames[k]) return static_cast<InitScheme>(k);
  return std::nullopt;
}

ParamValues init_param_values(const Network& network, Rng& rng, InitScheme scheme) {
  ParamValues values;
  for (int i = 0; i < static_cast<int>(network.layers.size()); ++i) {
    const Layer& l = network.layers[i];
    const int64_t weights =
        network.layer_params(i) - (l.kind == LayerKind::fully_connected ? l.out.c : 0);
    const int64_t fan_in = l.out.c > 0 ? weights / l.out.c : 0;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    switch (l.kind) {
      case LayerKind::conv:
        if (scheme == InitScheme::torch_default) {
          values[l.name + ".weights"] = uniform(rng, weights, bound);
        } else if (scheme == InitScheme::glorot) {
          values[l.name + ".weights"] = uniform(rng, weights, glorot_bound(l, fan_in));
        } else {
          const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in));  // He et al.
          std::vector<float> v(static_cast<size_t>(weights));
          for (auto& x : v) x = static_cast<float>(normal(rng) * stddev);
          values[l.name + ".weights"] = std::move(v);
        }
        break;
      case LayerKind::fully_connected:
        values[l.name + ".weights"] =
            uniform(rng, weights, scheme == InitScheme::glorot ? glorot_bound(l, fan_in) : bound);
        values[l.name + ".bias"] = scheme == InitScheme::torch_default
                                       ? uniform(rng, l.out.c, bound)
                                       : std::vector<float>(static_cast<size_t>(l.out.c), 0.0f);
        break;
      case LayerKind::batch_norm:
        values[l.name + ".scale"] = std::vector<float>(static_cast<size_t>(l.out.c), 1.0f);
        values[l.name + ".shift"] = std::vector<float>(static_cast<size_t>(l.out.c), 0.0f);
        break;
      default:
        break;
    }
  }
  return values;
}

}  // namespace cf

#include "trainer/init.h"

#include <cmath>

namespace cf {

namespace {

// Box-Muller on the project RNG (std:: distributions differ between standard libraries).
double normal(Rng& rng) {
  const double u1 = 1.0 - rng.uniform01(), u2 = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::vector<float> uniform(Rng& rng, int64_t count, double bound) {
  std::vector<float> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<float>((2 * rng.uniform01() - 1) * bound);
  return v;
}

}  // namespace

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
        } else {
          const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in));  // He et al.
          std::vector<float> v(static_cast<size_t>(weights));
          for (auto& x : v) x = static_cast<float>(normal(rng) * stddev);
          values[l.name + ".weights"] = std::move(v);
        }
        break;
      case LayerKind::fully_connected:
        values[l.name + ".weights"] = uniform(rng, weights, bound);
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

// trainer/init.h: the initialisation schemes draw from the documented distributions.
#include <catch2/catch.hpp>
#include <cmath>

#include "space/network.h"
#include "trainer/init.h"

namespace {

struct Moments {
  double max_abs = 0, variance = 0;
};

Moments moments(const std::vector<float>& v) {
  Moments m;
  for (float x : v)
    m.max_abs = std::max(m.max_abs, std::abs(double{x})), m.variance += double{x} * x;
  m.variance /= static_cast<double>(v.size());
  return m;
}

}  // namespace

TEST_CASE("initial weights: he_normal, uniform_fan_in and glorot", "[trainer][init]") {
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 16;
  spec.input = {1, 28, 28};
  const cf::Network net = cf::build_network(cf::resolve_genotype("nasnet_a"), spec);
  for (int k = 0; k < cf::kInitSchemeCount; ++k) {
    const auto scheme = static_cast<cf::InitScheme>(k);
    INFO(cf::init_scheme_name(scheme));
    CHECK(cf::init_scheme_from_name(cf::init_scheme_name(scheme)) == scheme);
    cf::Rng rng(3);
    const cf::ParamValues values = cf::init_param_values(net, rng, scheme);
    int checked = 0;
    for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
      const cf::Layer& l = net.layers[i];
      if (l.kind != cf::LayerKind::conv && l.kind != cf::LayerKind::fully_connected) continue;
      const std::vector<float>& w = values.at(l.name + ".weights");
      if (w.size() < 2000) continue;  // too few draws for the moments below
      const bool conv = l.kind == cf::LayerKind::conv;
      const double fan_in = static_cast<double>(w.size()) / l.out.c;
      const double fan_out = l.out.c * (conv ? static_cast<double>(l.kernel_h) * l.kernel_w : 1.0);
      const Moments m = moments(w);
      double bound = 1 / std::sqrt(fan_in), variance = bound * bound / 3;  // uniform
      if (scheme == cf::InitScheme::glorot)
        bound = std::sqrt(6 / (fan_in + fan_out)), variance = bound * bound / 3;
      if (scheme == cf::InitScheme::he_normal && conv)
        bound = 1e9, variance = 2 / fan_in;  // normal: no bound
      INFO(l.name << " fan_in " << fan_in << " fan_out " << fan_out);
      CHECK(m.max_abs <= bound);
      CHECK(m.variance == Approx(variance).epsilon(0.1));
      ++checked;
    }
    CHECK(checked >= 5);
  }
  CHECK_FALSE(cf::init_scheme_from_name("xavier"));
}

#pragma once
// Fresh parameter values of a network in plain layout, by name ("<layer>.weights", ".bias",
// ".scale", ".shift"), drawn layer by layer in network order. Executor::init_params writes these
// into its primitives' layouts; the synflow proxy reads them directly (no Executor needed).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "space/network.h"
#include "space/rng.h"

namespace cf {

using ParamValues = std::map<std::string, std::vector<float>>;

// How fresh weights are drawn.
enum class InitScheme : uint8_t {
  he_normal,      // conv weights He-normal, FC weights U(+-1/sqrt(fan_in)), FC bias 0 (training)
  torch_default,  // PyTorch's defaults: conv and FC weights and FC bias U(+-1/sqrt(fan_in))
};

// Every trainable value of `network` (the auxiliary head's too); BN scale 1 and shift 0.
ParamValues init_param_values(const Network& network, Rng& rng, InitScheme scheme);

}  // namespace cf

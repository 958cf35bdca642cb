#pragma once
// Fresh parameter values of a network in plain layout, by name ("<layer>.weights", ".bias",
// ".scale", ".shift"), drawn layer by layer in network order. Executor::init_params writes these
// into its primitives' layouts; the synflow proxy reads them directly (no Executor needed).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "space/network.h"
#include "space/rng.h"

namespace cf {

using ParamValues = std::map<std::string, std::vector<float>>;

// How fresh weights are drawn.
enum class InitScheme : uint8_t {
  he_normal,      // conv weights He-normal, FC weights U(+-1/sqrt(fan_in)), FC bias 0 (training)
  torch_default,  // PyTorch's defaults: conv and FC weights and FC bias U(+-1/sqrt(fan_in))
  glorot,         // conv and FC weights U(+-sqrt(6 / (fan_in + fan_out))), FC bias 0 (Keras)
};
inline constexpr int kInitSchemeCount = 3;

// Names in configs and on the command line: he_normal, uniform_fan_in (torch_default), glorot.
const char* init_scheme_name(InitScheme scheme);
std::optional<InitScheme> init_scheme_from_name(std::string_view name);

// Every trainable value of `network` (the auxiliary head's too); BN scale 1 and shift 0.
ParamValues init_param_values(const Network& network, Rng& rng, InitScheme scheme);

}  // namespace cf

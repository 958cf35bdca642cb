#pragma once
// Exports of a stacked network that leave the toolkit: a self-contained PyTorch module and an
// ONNX model. Both are generated from the same space/ layer graph the trainer compiles, so they
// compute exactly the trained network (inference: BN with running statistics, drop path and
// dropout as identity).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "space/network.h"

namespace cf {

// How training turned raw pixels p (0..255) into the network's input, per input channel:
// x = p * (1 / (255 * stddev)) - mean / stddev (float arithmetic, as trainer/data.cpp does it).
// Empty when unknown (an architecture exported without its training run).
struct InputNormalisation {
  std::vector<float> mean, stddev;
};

// Python source of a module class `class_name` (constructor without arguments) that builds
// exactly `network`, plus `load_cellforge_weights(model, path)` reading a cellforge weights file
// and `normalise(pixels)` turning raw pixels into the network's input (when `norm` is known),
// `INPUT_SHAPE` (C, H, W) and `CLASSES` (the class names in label order, or None when unknown).
// Needs only torch.
std::string pytorch_module_source(const Network& network, const std::string& class_name,
                                  const std::string& description,
                                  const InputNormalisation& norm = {},
                                  const std::vector<std::string>& class_names = {});

// Every tensor of a trained network by cellforge name ("<layer>.weights", ".bias", ".scale",
// ".shift", ".running_mean", ".running_var"), each in its plain layout.
using TensorMap = std::map<std::string, std::vector<float>>;

// Writes an ONNX model (opset 13) of the network for inference: input "images" (N x C x H x W,
// dynamic batch), output "logits" (N x classes); a known normalisation is recorded in the model's
// metadata ("input_mean", "input_std": comma-separated, per channel, pixels in [0, 1]), and known
// class names too ("class_names": a JSON array of strings in label order). Throws
// std::runtime_error naming the file.
void write_onnx(const Network& network, const TensorMap& tensors, const std::string& model_name,
                const std::filesystem::path& file, const InputNormalisation& norm = {},
                const std::vector<std::string>& class_names = {});

// Floats joined by `separator`, each printed so that it reads back as the same float32.
std::string float_text(const std::vector<float>& values, const std::string& separator);

// Python-safe module key of a layer name ("cell0.b1.left" -> "cell0__b1__left").
std::string module_key(const std::string& layer_name);

// The shortest decimal that reads back as `value` in float32, in Python/C exponent form without
// padding ("1e-3" for 1e-3f, "2.5e0" for 2.5f).
std::string short_float_literal(float value);

}  // namespace cf

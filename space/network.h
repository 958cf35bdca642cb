#pragma once
// Stacking (spec sections 3 and 4): a genotype plus stacking parameters becomes a flat layer
// graph with the shape of every tensor. The trainer compiles this graph; exports walk it; the
// params/MACs counts of `cellforge stats` are sums over it. space/ knows nothing of oneDNN.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "space/genotype.h"

namespace cf {

// One image's tensor shape (channels, height, width).
struct Shape {
  int c = 0, h = 0, w = 0;
  int64_t numel() const { return int64_t{c} * h * w; }
  bool operator==(const Shape&) const = default;
};
std::string to_string(const Shape& s);  // "CxHxW"

enum class LayerKind : uint8_t {
  input,       // the image batch
  conv,        // convolution without bias; groups == channels for depthwise
  batch_norm,  // learned scale and shift; batch statistics in training
  relu,
  max_pool,         // padding cells never win
  avg_pool,         // padding cells excluded from the average
  add,              // elementwise sum of all inputs
  concat,           // inputs joined on channels, in order
  shift,            // drop the first row and column, zero-pad at the end (factorized reduction)
  drop_path,        // ScheduledDropPath point on an op output; identity at inference
  global_avg_pool,  // CxHxW -> Cx1x1
  dropout,          // identity at inference
  zero,             // zeros of its input's shape (NAS-Bench-201's "none"); no gradient flows back
  fully_connected,  // with bias; output classes x 1 x 1
};
std::string_view layer_kind_name(LayerKind kind);

// Number of layer kinds. Every table indexed by LayerKind (the trainer's lowerings, the exporters'
// emitters, the tests' reference) static_asserts its size against it; fully_connected is last.
inline constexpr int kLayerKindCount = static_cast<int>(LayerKind::fully_connected) + 1;

// The epsilon of the NASNet networks' batch-norm layers (TF-slim's); each batch-norm layer
// carries its own (Layer::bn_epsilon), which the trainer and both exports read.
inline constexpr float kBatchNormEpsilon = 1e-3f;
// PyTorch's default, used by the NAS-Bench-201 network.
inline constexpr float kTorchBatchNormEpsilon = 1e-5f;

// Padding after the last of `out` windows of extent `kernel_ext` (the dilated kernel), `stride`
// apart, over `in` positions with `pad_begin` padding in front: what a floor-mode output size
// implies at the end. Negative when the last input positions are never read. The trainer (oneDNN
// right padding) and the ONNX export (end pads) both take it from here.
constexpr int window_pad_end(int in, int out, int kernel_ext, int stride, int pad_begin) {
  return (out - 1) * stride + kernel_ext - in - pad_begin;
}

struct Layer {
  LayerKind kind = LayerKind::input;
  std::vector<int> inputs;  // indices of earlier layers
  Shape out;
  // conv and pooling geometry (symmetric padding)
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  float rate = 0.0f;                     // dropout rate
  float bn_epsilon = kBatchNormEpsilon;  // batch norm only
  int cell = -1;     // index of the cell this layer belongs to (-1: stem or head)
  bool aux = false;  // part of the auxiliary head (training only)
  std::string name;  // stable, unique: used for weight files and exports
};

enum class Stem : uint8_t { cifar, imagenet };
std::string_view stem_name(Stem stem);
std::optional<Stem> stem_from_name(
    std::string_view name);  // "cifar", "imagenet"; nullopt otherwise

struct NetworkSpec {
  int cells_per_stack = 6;  // N
  int filters = 32;         // F
  Stem stem = Stem::cifar;
  double stem_multiplier = 3.0;
  Shape input{3, 32, 32};
  int classes = 10;
  bool aux_head = false;
  float dropout = 0.0f;  // head dropout rate
};

// Checks every stacking parameter; throws std::invalid_argument naming the parameter and the
// valid range.
void validate(const NetworkSpec& spec);

struct Network {
  NetworkSpec spec;
  std::vector<Layer> layers;
  int logits = -1;      // fully connected output
  int aux_logits = -1;  // auxiliary head output, -1 when off
  int num_cells = 0;    // all cells, including an imagenet stem's two reduction cells
  std::vector<int> cell_outputs;

  Shape in_shape(int layer, int input = 0) const { return layers[layers[layer].inputs[input]].out; }
  int64_t layer_params(int layer) const;  // trainable values (no BN running statistics)
  int64_t layer_macs(int layer) const;    // convolutions and fully connected only
  int64_t params() const;                 // includes the auxiliary head only when enabled
  int64_t macs() const;                   // one image at inference (no auxiliary head)
  std::string notation() const;           // "N@P"
};

Network build_network(const Genotype& genotype, const NetworkSpec& spec);

// A network of one op for tests and benchmarks: input -> conv 1x1 (so the op's input carries a
// gradient) -> op (c_out channels, stride) -> fully connected to `classes` over every position.
Network build_op_network(OpId op, Shape in, int c_out, int stride, int classes);

// Cost of one op in isolation: its layers for an input of shape `in`, F_cell = c_out, stride s.
struct OpCost {
  int64_t params = 0;
  int64_t macs = 0;
  Shape out;
};
OpCost op_cost(OpId op, Shape in, int c_out, int stride);

// Parses "HxWxC" (e.g. 28x28x1) into a Shape; nullopt on malformed text.
std::optional<Shape> parse_input_shape(std::string_view text);

}  // namespace cf

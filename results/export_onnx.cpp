// The ONNX export: one emitter per layer kind (kOnnxEmitters, indexed by LayerKind) adds the
// layer's nodes and initializers to the graph; write_onnx wraps the graph in a model.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "results/export.h"
#include "results/export_table.h"
#include "space/file_io.h"

namespace cf {

namespace {

void add_ints(onnx::NodeProto* node, const std::string& name,
              std::initializer_list<int64_t> values) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void add_int(onnx::NodeProto* node, const std::string& name, int64_t value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void add_float(onnx::NodeProto* node, const std::string& name, float value) {
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op,
                          const std::vector<std::string>& inputs, const std::string& output,
                          const std::string& name) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& in : inputs) n->add_input(in);
  n->add_output(output);
  return n;
}

void add_float_initializer(onnx::GraphProto* g, const std::string& name,
                           const std::vector<int64_t>& dims, const std::vector<float>& values) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  if (static_cast<int64_t>(values.size()) != count)
    throw std::runtime_error("tensor " + name + " has " + std::to_string(values.size()) +
                             " values, expected " + std::to_string(count));
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(values.data(), values.size() * sizeof(float));
}

void add_int64_initializer(onnx::GraphProto* g, const std::string& name,
                           const std::vector<int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  t->set_raw_data(values.data(), values.size() * sizeof(int64_t));
}

const std::vector<float>& tensor(const TensorMap& tensors, const std::string& name) {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::runtime_error("no values for tensor " + name);
  return it->second;
}

// End padding that gives `out` with floor semantics (space/network.h); never negative (OpenCV
// rejects that, and when the exact value is negative, zero gives the same output size).
int pad_end(int in, int out, int kernel_ext, int stride, int pad_begin) {
  return std::max(0, window_pad_end(in, out, kernel_ext, stride, pad_begin));
}

void set_value_info(onnx::ValueInfoProto* v, const std::string& name,
                    std::initializer_list<int64_t> dims) {
  v->set_name(name);
  auto* type = v->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = type->mutable_shape();
  bool first = true;
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (first)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
    first = false;
  }
}

// The graph being built and what every emitter shares.
struct OnnxGraph {
  const Network& net;
  const TensorMap& tensors;
  onnx::GraphProto* g;
  std::vector<std::string> name;  // each layer's output value ("" for skipped aux layers)
  bool slice_constants = false;   // the shift constants are in the graph
  bool zero_constant = false;     // the zero layers' scalar is in the graph
};

// What an emitter sees: the layer, the value it must define, and its first input.
struct OnnxLayer {
  OnnxGraph& graph;
  int index;
  const Layer& l;
  std::string out;  // the value name to define ("logits" for the network's output)
  std::string in;   // first input's value
  Shape is;         // first input's shape

  onnx::GraphProto* g() const { return graph.g; }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs) const {
    return add_node(graph.g, op, inputs, out, l.name);
  }
  // The initializer "<layer><suffix>" from the trained tensors; returns its name.
  std::string initializer(const std::string& suffix, const std::vector<int64_t>& dims) const {
    const std::string n = l.name + suffix;
    add_float_initializer(graph.g, n, dims, tensor(graph.tensors, n));
    return n;
  }
};

void onnx_input(OnnxLayer& e) {
  e.graph.name[e.index] = "images";
  set_value_info(e.g()->add_input(), "images", {1, e.l.out.c, e.l.out.h, e.l.out.w});
}

void onnx_conv(OnnxLayer& e) {
  const Layer& l = e.l;
  const std::string w =
      e.initializer(".weights", {l.out.c, e.is.c / l.groups, l.kernel_h, l.kernel_w});
  auto* n = e.node("Conv", {e.in, w});
  add_ints(n, "kernel_shape", {l.kernel_h, l.kernel_w});
  add_ints(n, "strides", {l.stride_h, l.stride_w});
  add_ints(n, "dilations", {l.dilation_h, l.dilation_w});
  add_ints(n, "pads",
           {l.pad_h, l.pad_w,
            pad_end(e.is.h, l.out.h, (l.kernel_h - 1) * l.dilation_h + 1, l.stride_h, l.pad_h),
            pad_end(e.is.w, l.out.w, (l.kernel_w - 1) * l.dilation_w + 1, l.stride_w, l.pad_w)});
  add_int(n, "group", l.groups);
}

void onnx_batch_norm(OnnxLayer& e) {
  std::vector<std::string> inputs{e.in};
  for (const char* suffix : {".scale", ".shift", ".running_mean", ".running_var"})
    inputs.push_back(e.initializer(suffix, {e.l.out.c}));
  add_float(e.node("BatchNormalization", inputs), "epsilon", e.l.bn_epsilon);
}

void onnx_relu(OnnxLayer& e) {
  e.node("Relu", {e.in});
}

onnx::NodeProto* onnx_pool(OnnxLayer& e, const std::string& op) {
  const Layer& l = e.l;
  auto* n = e.node(op, {e.in});
  add_ints(n, "kernel_shape", {l.kernel_h, l.kernel_w});
  add_ints(n, "strides", {l.stride_h, l.stride_w});
  add_ints(n, "pads",
           {l.pad_h, l.pad_w, pad_end(e.is.h, l.out.h, l.kernel_h, l.stride_h, l.pad_h),
            pad_end(e.is.w, l.out.w, l.kernel_w, l.stride_w, l.pad_w)});
  return n;
}

void onnx_max_pool(OnnxLayer& e) {
  onnx_pool(e, "MaxPool");
}

void onnx_avg_pool(OnnxLayer& e) {
  add_int(onnx_pool(e, "AveragePool"), "count_include_pad", 0);
}

// A chain of two-input Adds; the last one defines the layer's value.
void onnx_add(OnnxLayer& e) {
  const auto& inputs = e.l.inputs;
  std::string acc = e.graph.name[inputs[0]];
  for (size_t k = 1; k < inputs.size(); ++k) {
    const std::string o = k + 1 == inputs.size() ? e.out : e.out + "_" + std::to_string(k);
    add_node(e.g(), "Add", {acc, e.graph.name[inputs[k]]}, o,
             e.l.name + (k > 1 ? "_" + std::to_string(k) : ""));
    acc = o;
  }
}

void onnx_concat(OnnxLayer& e) {
  std::vector<std::string> inputs;
  for (int k : e.l.inputs) inputs.push_back(e.graph.name[k]);
  add_int(e.node("Concat", inputs), "axis", 1);
}

// Drop the first row and column, zero-pad the end: Slice then Pad.
void onnx_shift(OnnxLayer& e) {
  if (!e.graph.slice_constants) {
    constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
    add_int64_initializer(e.g(), "shift_starts", {1, 1});
    add_int64_initializer(e.g(), "shift_ends", {kEnd, kEnd});
    add_int64_initializer(e.g(), "shift_axes", {2, 3});
    add_int64_initializer(e.g(), "shift_pads", {0, 0, 0, 0, 0, 0, 1, 1});
    e.graph.slice_constants = true;
  }
  add_node(e.g(), "Slice", {e.in, "shift_starts", "shift_ends", "shift_axes"}, e.out + "_sliced",
           e.l.name + "_slice");
  add_node(e.g(), "Pad", {e.out + "_sliced", "shift_pads"}, e.out, e.l.name);
}

// drop_path and dropout: identity at inference, so the layer's value is its input's.
void onnx_identity(OnnxLayer& e) {
  e.graph.name[e.index] = e.in;
}

// Zeros of the input's shape: the input times a zero scalar (every importer folds a Mul; the
// inputs here are finite).
void onnx_zero(OnnxLayer& e) {
  if (!e.graph.zero_constant) {
    add_float_initializer(e.g(), "zero_scalar", {}, {0.0f});
    e.graph.zero_constant = true;
  }
  e.node("Mul", {e.in, "zero_scalar"});
}

void onnx_global_avg_pool(OnnxLayer& e) {
  e.node("GlobalAveragePool", {e.in});
}

void onnx_fully_connected(OnnxLayer& e) {
  const Layer& l = e.l;
  add_int(add_node(e.g(), "Flatten", {e.in}, e.out + "_flat", l.name + "_flatten"), "axis", 1);
  const std::string w = e.initializer(".weights", {l.out.c, e.is.numel()});
  const std::string b = e.initializer(".bias", {l.out.c});
  add_int(e.node("Gemm", {e.out + "_flat", w, b}), "transB", 1);
}

using OnnxEmitFn = void (*)(OnnxLayer&);

// One entry per LayerKind, in enum order.
constexpr KindEmitter<OnnxEmitFn> kOnnxEmitters[] = {
    {LayerKind::input, onnx_input},
    {LayerKind::conv, onnx_conv},
    {LayerKind::batch_norm, onnx_batch_norm},
    {LayerKind::relu, onnx_relu},
    {LayerKind::max_pool, onnx_max_pool},
    {LayerKind::avg_pool, onnx_avg_pool},
    {LayerKind::add, onnx_add},
    {LayerKind::concat, onnx_concat},
    {LayerKind::shift, onnx_shift},
    {LayerKind::drop_path, onnx_identity},
    {LayerKind::global_avg_pool, onnx_global_avg_pool},
    {LayerKind::dropout, onnx_identity},
    {LayerKind::zero, onnx_zero},
    {LayerKind::fully_connected, onnx_fully_connected},
};
static_assert(std::size(kOnnxEmitters) == kLayerKindCount, "one ONNX emitter per layer kind");
static_assert(indexed_by_layer_kind(kOnnxEmitters), "kOnnxEmitters must be indexed by LayerKind");

// Header of the model: metadata, versions, opset.
void set_model_header(onnx::ModelProto& model, const InputNormalisation& norm,
                      const std::vector<std::string>& class_names) {
  if (!class_names.empty()) {
    auto* prop = model.add_metadata_props();
    prop->set_key("class_names");
    prop->set_value(nlohmann::json(class_names).dump());
  }
  if (!norm.mean.empty()) {
    for (const auto& [key, values] :
         {std::pair{"input_mean", &norm.mean}, std::pair{"input_std", &norm.stddev}}) {
      auto* prop = model.add_metadata_props();
      prop->set_key(key);
      prop->set_value(float_text(*values, ","));
    }
    model.set_doc_string(
        "input: (pixels / 255 - input_mean) / input_std per channel, as in training");
  }
  model.set_ir_version(7);
  model.set_producer_name("cellforge");
  model.set_producer_version(CELLFORGE_VERSION);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
}

}  // namespace

void write_onnx(const Network& net, const TensorMap& tensors, const std::string& model_name,
                const std::filesystem::path& file, const InputNormalisation& norm,
                const std::vector<std::string>& class_names) {
  onnx::ModelProto model;
  set_model_header(model, norm, class_names);
  auto* g = model.mutable_graph();
  g->set_name(model_name);
  OnnxGraph graph{net, tensors, g, std::vector<std::string>(net.layers.size())};
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    const Layer& l = net.layers[i];
    if (l.aux) continue;  // the auxiliary head only matters in training
    OnnxLayer layer{graph,
                    i,
                    l,
                    i == net.logits ? "logits" : "t" + std::to_string(i),
                    l.inputs.empty() ? "" : graph.name[l.inputs[0]],
                    l.inputs.empty() ? l.out : net.in_shape(i)};
    graph.name[i] = layer.out;
    kOnnxEmitters[static_cast<int>(l.kind)].emit(layer);
  }
  auto* output = g->add_output();
  output->set_name("logits");
  auto* type = output->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  type->mutable_shape()->add_dim()->set_dim_param("batch");
  type->mutable_shape()->add_dim()->set_dim_value(net.spec.classes);
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw std::runtime_error(file.string() + ": cannot serialise the ONNX model");
  write_file_atomic(file, bytes);
}

}  // namespace cf

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "results/export.h"
#include "space/file_io.h"

namespace cf {

namespace {

void add_ints(onnx::NodeProto* node, const std::string& name, std::initializer_list<int64_t> values) {
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

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& inputs,
                          const std::string& output, const std::string& name) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& in : inputs) n->add_input(in);
  n->add_output(output);
  return n;
}

void add_float_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<float>& values) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  if (static_cast<int64_t>(values.size()) != count)
    throw std::runtime_error("tensor " + name + " has " + std::to_string(values.size()) + " values, expected " +
                             std::to_string(count));
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(values.data(), values.size() * sizeof(float));
}

void add_int64_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& values) {
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

// End padding that gives `out` with floor semantics; never negative (OpenCV rejects that, and
// when the exact value is negative, zero gives the same output size).
int pad_end(int in, int out, int kernel_ext, int stride, int pad_begin) {
  return std::max(0, (out - 1) * stride + kernel_ext - in - pad_begin);
}

void set_value_info(onnx::ValueInfoProto* v, const std::string& name, std::initializer_list<int64_t> dims) {
  v->set_name(name);
  auto* type = v->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = type->mutable_shape();
  bool first = true;
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (first) dim->set_dim_param("batch");
    else dim->set_dim_value(d);
    first = false;
  }
}

}  // namespace

void write_onnx(const Network& net, const TensorMap& tensors, const std::string& model_name,
                const std::filesystem::path& file, const InputNormalisation& norm) {
  onnx::ModelProto model;
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
  auto* g = model.mutable_graph();
  g->set_name(model_name);
  std::vector<std::string> name(net.layers.size());
  bool slice_constants = false;
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    const Layer& l = net.layers[i];
    if (l.aux) continue;  // the auxiliary head only matters in training
    const std::string out = i == net.logits ? "logits" : "t" + std::to_string(i);
    const std::string in = l.inputs.empty() ? "" : name[l.inputs[0]];
    const Shape is = l.inputs.empty() ? l.out : net.in_shape(i);
    name[i] = out;
    switch (l.kind) {
      case LayerKind::input:
        name[i] = "images";
        set_value_info(g->add_input(), "images", {1, l.out.c, l.out.h, l.out.w});
        break;
      case LayerKind::conv: {
        const std::string w = l.name + ".weights";
        add_float_initializer(g, w, {l.out.c, is.c / l.groups, l.kernel_h, l.kernel_w}, tensor(tensors, w));
        auto* n = add_node(g, "Conv", {in, w}, out, l.name);
        add_ints(n, "kernel_shape", {l.kernel_h, l.kernel_w});
        add_ints(n, "strides", {l.stride_h, l.stride_w});
        add_ints(n, "dilations", {l.dilation_h, l.dilation_w});
        add_ints(n, "pads", {l.pad_h, l.pad_w,
                             pad_end(is.h, l.out.h, (l.kernel_h - 1) * l.dilation_h + 1, l.stride_h, l.pad_h),
                             pad_end(is.w, l.out.w, (l.kernel_w - 1) * l.dilation_w + 1, l.stride_w, l.pad_w)});
        add_int(n, "group", l.groups);
        break;
      }
      case LayerKind::batch_norm: {
        std::vector<std::string> inputs{in};
        for (const char* suffix : {".scale", ".shift", ".running_mean", ".running_var"}) {
          add_float_initializer(g, l.name + suffix, {l.out.c}, tensor(tensors, l.name + suffix));
          inputs.push_back(l.name + suffix);
        }
        auto* n = add_node(g, "BatchNormalization", inputs, out, l.name);
        add_float(n, "epsilon", 1e-3f);
        break;
      }
      case LayerKind::relu:
        add_node(g, "Relu", {in}, out, l.name);
        break;
      case LayerKind::max_pool:
      case LayerKind::avg_pool: {
        auto* n = add_node(g, l.kind == LayerKind::max_pool ? "MaxPool" : "AveragePool", {in}, out, l.name);
        add_ints(n, "kernel_shape", {l.kernel_h, l.kernel_w});
        add_ints(n, "strides", {l.stride_h, l.stride_w});
        add_ints(n, "pads", {l.pad_h, l.pad_w, pad_end(is.h, l.out.h, l.kernel_h, l.stride_h, l.pad_h),
                             pad_end(is.w, l.out.w, l.kernel_w, l.stride_w, l.pad_w)});
        if (l.kind == LayerKind::avg_pool) add_int(n, "count_include_pad", 0);
        break;
      }
      case LayerKind::add: {
        std::string acc = name[l.inputs[0]];
        for (size_t k = 1; k < l.inputs.size(); ++k) {
          const std::string o = k + 1 == l.inputs.size() ? out : out + "_" + std::to_string(k);
          add_node(g, "Add", {acc, name[l.inputs[k]]}, o, l.name + (k > 1 ? "_" + std::to_string(k) : ""));
          acc = o;
        }
        break;
      }
      case LayerKind::concat: {
        std::vector<std::string> inputs;
        for (int k : l.inputs) inputs.push_back(name[k]);
        add_int(add_node(g, "Concat", inputs, out, l.name), "axis", 1);
        break;
      }
      case LayerKind::shift: {
        // Drop the first row and column, zero-pad the end: Slice then Pad.
        if (!slice_constants) {
          add_int64_initializer(g, "shift_starts", {1, 1});
          add_int64_initializer(g, "shift_ends", {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()});
          add_int64_initializer(g, "shift_axes", {2, 3});
          add_int64_initializer(g, "shift_pads", {0, 0, 0, 0, 0, 0, 1, 1});
          slice_constants = true;
        }
        add_node(g, "Slice", {in, "shift_starts", "shift_ends", "shift_axes"}, out + "_sliced", l.name + "_slice");
        add_node(g, "Pad", {out + "_sliced", "shift_pads"}, out, l.name);
        break;
      }
      case LayerKind::drop_path:
      case LayerKind::dropout:
        name[i] = in;  // identity at inference
        break;
      case LayerKind::global_avg_pool:
        add_node(g, "GlobalAveragePool", {in}, out, l.name);
        break;
      case LayerKind::fully_connected: {
        add_int(add_node(g, "Flatten", {in}, out + "_flat", l.name + "_flatten"), "axis", 1);
        add_float_initializer(g, l.name + ".weights", {l.out.c, is.numel()}, tensor(tensors, l.name + ".weights"));
        add_float_initializer(g, l.name + ".bias", {l.out.c}, tensor(tensors, l.name + ".bias"));
        auto* n = add_node(g, "Gemm", {out + "_flat", l.name + ".weights", l.name + ".bias"}, out, l.name);
        add_int(n, "transB", 1);
        break;
      }
    }
  }
  auto* output = g->add_output();
  output->set_name("logits");
  auto* type = output->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  type->mutable_shape()->add_dim()->set_dim_param("batch");
  type->mutable_shape()->add_dim()->set_dim_value(net.spec.classes);
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw std::runtime_error(file.string() + ": cannot serialise the ONNX model");
  write_file_atomic(file, bytes);
}

}  // namespace cf

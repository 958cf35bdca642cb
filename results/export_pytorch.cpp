// The PyTorch export: one emitter per layer kind (kPyEmitters, indexed by LayerKind) writes the
// layer's module (constructor) and its line of `forward`; the rest of the file is fixed text.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <sstream>

#include "results/escape.h"
#include "results/export.h"
#include "results/export_table.h"

namespace cf {

std::string module_key(const std::string& layer_name) {
  std::string key;
  for (char c : layer_name) {
    if (c == '.')
      key += "__";
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_')
      key += c;
    else
      key += '_';
  }
  return key;
}

std::string float_text(const std::vector<float>& values, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(values[i]));
    out += (i ? separator : "") + std::string(buf);
  }
  return out;
}

std::string short_float_literal(float value) {
  char buf[32];
  for (int digits = 0; digits < 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*e", digits, static_cast<double>(value));
    if (std::strtof(buf, nullptr) == value) break;
  }
  // "1e-03" -> "1e-3", "2.5e+00" -> "2.5e0": no sign for positive exponents, no leading zeros.
  std::string text = buf;
  const size_t e = text.find('e');
  std::string exponent = text.substr(e + 1);
  const bool negative = exponent[0] == '-';
  exponent = exponent.substr(1);
  while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
  return text.substr(0, e + 1) + (negative ? "-" : "") + exponent;
}

namespace {

std::string tensor_name(int layer) {
  return "t" + std::to_string(layer);
}

// What an emitter sees: the layer, its input, and the two places it writes to. `fwd` already
// holds the line's indentation; every emitter writes exactly one forward line.
struct PyLayer {
  const Network& net;
  int index;
  const Layer& l;
  std::string key;  // the module's key in self.m
  std::string in;   // first input's tensor ("" for the input layer)
  Shape is;         // first input's shape
  std::ostringstream& init;
  std::ostringstream& fwd;

  std::string out() const { return tensor_name(index); }
  // "tN = self.m["key"](<arg>)"
  void call_module(const std::string& arg) const {
    fwd << out() << " = self.m[\"" << key << "\"](" << arg << ")\n";
  }
  // "tN = a<sep>b<sep>c" over every input, between `open` and `close`.
  void join_inputs(const char* open, const char* separator, const char* close) const {
    fwd << out() << " = " << open;
    for (size_t k = 0; k < l.inputs.size(); ++k)
      fwd << (k ? separator : "") << tensor_name(l.inputs[k]);
    fwd << close << "\n";
  }
};

void py_input(const PyLayer& e) {
  e.fwd << e.out() << " = x\n";
}

void py_conv(const PyLayer& e) {
  const Layer& l = e.l;
  e.init << "        self.m[\"" << e.key << "\"] = nn.Conv2d(" << e.is.c << ", " << l.out.c << ", ("
         << l.kernel_h << ", " << l.kernel_w << "), stride=(" << l.stride_h << ", " << l.stride_w
         << "), padding=(" << l.pad_h << ", " << l.pad_w << "), dilation=(" << l.dilation_h << ", "
         << l.dilation_w << "), groups=" << l.groups << ", bias=False)\n";
  e.call_module(e.in);
}

void py_batch_norm(const PyLayer& e) {
  const float eps = e.l.bn_epsilon;
  e.init << "        self.m[\"" << e.key << "\"] = nn.BatchNorm2d(" << e.l.out.c
         << ", eps=" << (eps == kBatchNormEpsilon ? "BN_EPS" : short_float_literal(eps))
         << ", momentum=0.1)\n";
  e.call_module(e.in);
}

void py_relu(const PyLayer& e) {
  e.fwd << e.out() << " = F.relu(" << e.in << ")\n";
}

void py_max_pool(const PyLayer& e) {
  e.fwd << e.out() << " = F.max_pool2d(" << e.in << ", " << e.l.kernel_h << ", " << e.l.stride_h
        << ", " << e.l.pad_h << ")\n";
}

void py_avg_pool(const PyLayer& e) {
  e.fwd << e.out() << " = F.avg_pool2d(" << e.in << ", " << e.l.kernel_h << ", " << e.l.stride_h
        << ", " << e.l.pad_h << ", count_include_pad=False)\n";
}

void py_add(const PyLayer& e) {
  e.join_inputs("", " + ", "");
}

void py_concat(const PyLayer& e) {
  e.join_inputs("torch.cat([", ", ", "], 1)");
}

void py_shift(const PyLayer& e) {
  e.fwd << e.out() << " = F.pad(" << e.in << "[:, :, 1:, 1:], (0, 1, 0, 1))\n";
}

void py_drop_path(const PyLayer& e) {
  e.fwd << e.out() << " = self._drop_path(" << e.in << ", " << e.l.cell << ")\n";
}

void py_global_avg_pool(const PyLayer& e) {
  e.fwd << e.out() << " = " << e.in << ".mean((2, 3), keepdim=True)\n";
}

void py_dropout(const PyLayer& e) {
  e.fwd << e.out() << " = F.dropout(" << e.in << ", " << e.l.rate << ", self.training)\n";
}

void py_zero(const PyLayer& e) {
  e.fwd << e.out() << " = torch.zeros_like(" << e.in << ")\n";
}

void py_fully_connected(const PyLayer& e) {
  e.init << "        self.m[\"" << e.key << "\"] = nn.Linear(" << e.is.numel() << ", " << e.l.out.c
         << ")\n";
  e.call_module("torch.flatten(" + e.in + ", 1)");
}

using PyEmitFn = void (*)(const PyLayer&);

// One entry per LayerKind, in enum order.
constexpr KindEmitter<PyEmitFn> kPyEmitters[] = {
    {LayerKind::input, py_input},
    {LayerKind::conv, py_conv},
    {LayerKind::batch_norm, py_batch_norm},
    {LayerKind::relu, py_relu},
    {LayerKind::max_pool, py_max_pool},
    {LayerKind::avg_pool, py_avg_pool},
    {LayerKind::add, py_add},
    {LayerKind::concat, py_concat},
    {LayerKind::shift, py_shift},
    {LayerKind::drop_path, py_drop_path},
    {LayerKind::global_avg_pool, py_global_avg_pool},
    {LayerKind::dropout, py_dropout},
    {LayerKind::zero, py_zero},
    {LayerKind::fully_connected, py_fully_connected},
};
static_assert(std::size(kPyEmitters) == kLayerKindCount, "one PyTorch emitter per layer kind");
static_assert(indexed_by_layer_kind(kPyEmitters), "kPyEmitters must be indexed by LayerKind");

// Module docstring, imports, constants and normalise().
std::string python_list_of_strings(const std::vector<std::string>& items) {
  if (items.empty()) return "None";
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + python_string_literal(items[i]);
  return out + "]";
}

void write_preamble(std::ostream& py, const Network& net, const std::string& class_name,
                    const std::string& description, const InputNormalisation& norm,
                    const std::vector<std::string>& class_names) {
  // clang-format off
  py << "\"\"\"" << python_comment_text(description, 400) << "\n\nGenerated by cellforge export; needs only PyTorch.\n"
     << "    model = " << class_name << "()\n"
     << "    load_cellforge_weights(model, \"weights.bin\")  # a cellforge weights file\n"
     << "    model.eval(); logits = model(normalise(pixels))  # pixels: N x " << net.spec.input.c << " x "
     << net.spec.input.h << " x " << net.spec.input.w << ", raw values 0..255\n\"\"\"\n"
     << "import json\n\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
     << "BN_EPS = " << short_float_literal(kBatchNormEpsilon) << "\nNUM_CELLS = " << net.num_cells
     << "\nPARAMS = " << net.params() << "\n"
     << "INPUT_SHAPE = (" << net.spec.input.c << ", " << net.spec.input.h << ", " << net.spec.input.w << ")  # C, H, W\n"
     << "# The class of each output, in label order (None: not known at export).\n"
     << "CLASSES = " << python_list_of_strings(class_names) << "\n"
     << "# Per-channel statistics of the training images (pixels in [0, 1]); None: not known at export.\n"
     << "INPUT_MEAN = " << (norm.mean.empty() ? "None" : "[" + float_text(norm.mean, ", ") + "]") << "\n"
     << "INPUT_STD = " << (norm.stddev.empty() ? "None" : "[" + float_text(norm.stddev, ", ") + "]") << "\n\n\n"
     << "def normalise(pixels):\n"
     << "    \"\"\"Raw pixels (N x C x H x W, values 0..255, any dtype) -> the network's input, computed\n"
     << "    as cellforge's trainer does: p * (1 / (255 * std)) - mean / std in float32.\"\"\"\n"
     << "    if INPUT_MEAN is None:\n"
     << "        raise ValueError(\"this export does not know the training normalisation \"\n"
     << "                         \"(export the directory that cellforge train wrote)\")\n"
     << "    mean = torch.tensor(INPUT_MEAN, dtype=torch.float32).view(1, -1, 1, 1)\n"
     << "    std = torch.tensor(INPUT_STD, dtype=torch.float32).view(1, -1, 1, 1)\n"
     << "    return pixels.to(torch.float32) * (1.0 / (255.0 * std)) + (-mean / std)\n\n\n";
  // clang-format on
}

// The module class around the emitted constructor lines and forward body.
void write_class(std::ostream& py, const Network& net, const std::string& class_name,
                 const std::string& init, const std::string& fwd) {
  // clang-format off
  py << "class " << class_name << "(nn.Module):\n"
     << "    def __init__(self):\n        super().__init__()\n"
     << "        # ScheduledDropPath: probability at the last cell, scaled by depth (cell + 1) / NUM_CELLS.\n"
     << "        self.drop_path_prob = 0.0\n"
     << "        self.m = nn.ModuleDict()\n"
     << init << "\n"
     << "    def _drop_path(self, x, cell):\n"
     << "        p = self.drop_path_prob * (cell + 1) / NUM_CELLS\n"
     << "        if not self.training or p <= 0.0:\n            return x\n"
     << "        keep = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), 1.0 - p, device=x.device))\n"
     << "        return x * keep / (1.0 - p)\n\n"
     << "    def forward(self, x):\n" << fwd;
  // clang-format on
  if (net.aux_logits >= 0)
    py << "        if self.training:\n            return " << tensor_name(net.logits) << ", "
       << tensor_name(net.aux_logits) << "\n";
  py << "        return " << tensor_name(net.logits) << "\n\n\n";
}

// load_cellforge_weights(model, path): fixed text.
void write_loader(std::ostream& py) {
  // clang-format off
  py << "def load_cellforge_weights(model, path):\n"
     << "    \"\"\"Loads a cellforge weights file (every parameter and BN running statistic by name).\"\"\"\n"
     << "    with open(path, \"rb\") as f:\n"
     << "        if f.readline() != b\"CFWEIGHTS1\\n\":\n"
     << "            raise ValueError(path + \": not a cellforge weights file\")\n"
     << "        header = json.loads(f.readline())\n"
     << "        data = f.read()\n"
     << "    offset = 0\n"
     << "    suffixes = {\".weights\": \"weight\", \".bias\": \"bias\", \".scale\": \"weight\", \".shift\": \"bias\",\n"
     << "                \".running_mean\": \"running_mean\", \".running_var\": \"running_var\"}\n"
     << "    seen = set()\n"
     << "    for tensor in header[\"tensors\"]:\n"
     << "        name, count = tensor[\"name\"], tensor[\"count\"]\n"
     << "        values = torch.frombuffer(bytearray(data[offset:offset + 4 * count]), dtype=torch.float32)\n"
     << "        offset += 4 * count\n"
     << "        suffix = next(s for s in suffixes if name.endswith(s))\n"
     << "        layer = name[: -len(suffix)]\n"
     << "        key = layer.replace(\".\", \"__\")\n"
     << "        module = model.m[key]\n"
     << "        target = getattr(module, suffixes[suffix])\n"
     << "        if target.numel() != count:\n"
     << "            raise ValueError(f\"{path}: tensor {name} has {count} values, the model needs {target.numel()}\")\n"
     << "        with torch.no_grad():\n"
     << "            target.copy_(values.reshape(target.shape))\n"
     << "        seen.add((key, suffixes[suffix]))\n"
     << "    missing = [k for k, m in model.m.items() for p, _ in list(m.named_parameters()) + list(m.named_buffers())\n"
     << "               if p != \"num_batches_tracked\" and (k, p) not in seen]\n"
     << "    if missing:\n"
     << "        raise ValueError(f\"{path}: no values for {missing[:3]}\")\n"
     << "    return model\n";
  // clang-format on
}

}  // namespace

std::string pytorch_module_source(const Network& net, const std::string& class_name,
                                  const std::string& description, const InputNormalisation& norm,
                                  const std::vector<std::string>& class_names) {
  std::ostringstream init, fwd;
  for (int i = 0; i < static_cast<int>(net.layers.size()); ++i) {
    const Layer& l = net.layers[i];
    const PyLayer layer{net,
                        i,
                        l,
                        module_key(l.name),
                        l.inputs.empty() ? "" : tensor_name(l.inputs[0]),
                        l.inputs.empty() ? l.out : net.in_shape(i),
                        init,
                        fwd};
    fwd << "        ";
    kPyEmitters[static_cast<int>(l.kind)].emit(layer);
  }
  std::ostringstream py;
  write_preamble(py, net, class_name, description, norm, class_names);
  write_class(py, net, class_name, init.str(), fwd.str());
  write_loader(py);
  return py.str();
}

}  // namespace cf

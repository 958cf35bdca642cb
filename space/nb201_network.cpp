#include "space/nb201_network.h"

#include <stdexcept>
#include <string>

#include "space/graph_builder.h"

namespace cf {

namespace {

using detail::GraphBuilder;

constexpr float kEps = kTorchBatchNormEpsilon;

// Op indices of Nb201Space::kOpNames.
enum Nb201Op { kNone = 0, kSkip = 1, kConv1x1 = 2, kConv3x3 = 3, kAvgPool = 4 };

int edge(GraphBuilder& g, int op, int x, int channels, const std::string& name) {
  switch (op) {
    case kSkip:
      return x;
    case kConv1x1:
      return g.relu_conv_bn(x, channels, 1, 1, name, kEps);
    case kConv3x3:
      return g.relu_conv_bn(x, channels, 3, 1, name, kEps);
    case kAvgPool:
      return g.pool(LayerKind::avg_pool, x, 3, 1, 1, name + ".pool");
    default:
      return -1;  // none: no term in the node's sum
  }
}

int cell(GraphBuilder& g, const DecisionSeq& ops, int x, const std::string& name) {
  const int channels = g.shape(x).c;
  int nodes[Nb201Space::kNodes] = {x};
  for (int to = 1; to < Nb201Space::kNodes; ++to) {
    const std::string node = name + ".node" + std::to_string(to);
    std::vector<int> terms;
    for (int from = 0; from < to; ++from) {
      const int op = ops[Nb201Space::edge_index(to, from)];
      const std::string edge_name =
          node + ".edge" + std::to_string(from) + "." + std::string(Nb201Space::kOpNames[op]);
      const int y = edge(g, op, nodes[from], channels, edge_name);
      if (y >= 0) terms.push_back(y);
    }
    if (terms.empty())
      nodes[to] = g.zero(x, node);
    else if (terms.size() == 1)
      nodes[to] = terms[0];
    else
      nodes[to] = g.add(std::move(terms), node + ".add");
  }
  return nodes[Nb201Space::kNodes - 1];
}

// ResNet basic block with stride 2: the benchmark's reduction between stages.
int reduction_block(GraphBuilder& g, int x, int channels, const std::string& name) {
  int basic = g.relu_conv_bn(x, channels, 3, 2, name + ".conv_a", kEps);
  basic = g.relu_conv_bn(basic, channels, 3, 1, name + ".conv_b", kEps);
  int shortcut = g.pool(LayerKind::avg_pool, x, 2, 2, 0, name + ".shortcut.pool");
  shortcut = g.conv_same(shortcut, channels, 1, 1, 1, 1, name + ".shortcut.conv");
  return g.add({shortcut, basic}, name + ".add");
}

}  // namespace

NetworkSpec nb201_network_spec() {
  NetworkSpec spec;
  spec.cells_per_stack = 5;
  spec.filters = 16;
  spec.input = {3, 32, 32};
  spec.classes = 10;
  return spec;
}

Network build_nb201_network(const DecisionSeq& ops, const NetworkSpec& spec) {
  validate(spec);
  if (spec.aux_head)
    throw std::invalid_argument("the NAS-Bench-201 network has no auxiliary head (aux-head)");
  // Each reduction adds a 2x2 average-pooled shortcut to a stride-2 convolution: their outputs
  // agree only on even sizes, so both reductions need an even input (as in the benchmark).
  if (spec.input.h % 4 != 0 || spec.input.w % 4 != 0)
    throw std::invalid_argument(
        "the NAS-Bench-201 network needs an input height and width "
        "divisible by 4 (its two reductions halve even sizes), not " +
        std::to_string(spec.input.h) + "x" + std::to_string(spec.input.w));
  Nb201Space().check(ops);
  Network net;
  net.spec = spec;
  GraphBuilder g(net);
  int x = g.input(spec.input);
  x = g.conv_same(x, spec.filters, 3, 1, 1, 1, "stem.conv");
  x = g.batch_norm(x, "stem", kEps);
  int index = 0;
  auto enter = [&](int out) {
    net.cell_outputs.push_back(out);
    ++index;
    g.set_cell(-1);
    return out;
  };
  for (int stage = 0; stage < 3; ++stage) {
    const int channels = spec.filters << stage;
    if (stage > 0) {
      g.set_cell(index);
      x = enter(reduction_block(g, x, channels, "cell" + std::to_string(index) + ".reduce"));
    }
    for (int n = 0; n < spec.cells_per_stack; ++n) {
      g.set_cell(index);
      x = enter(cell(g, ops, x, "cell" + std::to_string(index)));
    }
  }
  net.num_cells = index;
  x = g.batch_norm(x, "head", kEps);
  x = g.relu(x, "head");
  x = g.global_avg_pool(x, "head");
  if (spec.dropout > 0) x = g.dropout(x, spec.dropout, "head");
  net.logits = g.fully_connected(x, spec.classes, "head.fc");
  return net;
}

}  // namespace cf

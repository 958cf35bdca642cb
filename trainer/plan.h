#pragma once
// Internal to trainer/: the decisions the executor makes about a layer graph before it emits
// any primitive (which layers alias another's tensor, which batch norms run their ReLU fused,
// which contribution writes each gradient first, which tensors keep their gradient in an add's
// buffer), and, after lowering, the gradient buffers shared by liveness.
#include <vector>

#include "space/network.h"
#include "trainer/executor.h"
#include "trainer/program.h"

namespace cf::detail {

struct Plan {
  // Tensor each layer's output lives in: the layer itself, or for pass-through layers (drop path
  // when off, dropout 0) and ReLUs fused into a batch norm, the tensor they alias.
  std::vector<int> alias;
  std::vector<bool> bn_relu;             // this batch norm runs with its consumer ReLU fused in
  // options.fuse_concat: this concat writes its consumer ReLU's output (the ReLU aliases it);
  // for an add, the fused concat that computes its sum instead (-1: none).
  std::vector<bool> concat_relu;
  std::vector<int> summed_by;
  // options.fold_batch_norm: for a batch norm, the convolution folded into it at inference
  // (-1: none); for that convolution, the batch norm (-1: none).
  std::vector<int> fold_conv, fold_bn;
  std::vector<std::vector<int>> inputs;  // each layer's inputs, resolved through the aliases
  // [layer][slot]: backward visits layers last to first and a layer's slots in order; the first
  // contribution to each tensor's gradient writes it, later ones add to it.
  std::vector<std::vector<bool>> first_grad;
  std::vector<int> contributions;  // gradient contributions each tensor receives in backward
  std::vector<int> last_consumer;  // its last consumer (whose backward writes it first), or -1
  std::vector<int> grad_host;      // the add whose gradient buffer holds the tensor's, or -1
  std::vector<bool> has_grad;      // a gradient flows into this tensor (all but the input)

  bool needs_grad(int tensor) const { return has_grad[tensor]; }
};

Plan plan_network(const Network& network, const ExecutorOptions& options);

// Binds every tensor's gradient memory, and the views into it, to buffers shared between
// tensors whose gradients are not live at the same time (after lowering, which creates them).
void assign_gradient_buffers(const Plan& plan, const Network& network, bool reuse,
                             Program& program);

}  // namespace cf::detail

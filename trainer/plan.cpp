#include "trainer/plan.h"

#include <algorithm>

#include "trainer/buffer_plan.h"

namespace cf::detail {

namespace {

// Pass-through layers alias their input's tensor; every other layer's inputs are resolved
// through the aliases.
std::vector<int> pass_through_aliases(const Network& network, const ExecutorOptions& options) {
  const auto& layers = network.layers;
  const int L = static_cast<int>(layers.size());
  std::vector<int> alias(L);
  for (int i = 0; i < L; ++i) {
    const Layer& l = layers[i];
    const bool pass_through = (l.kind == LayerKind::drop_path && !options.drop_path) ||
                              (l.kind == LayerKind::dropout && l.rate <= 0.0f);
    alias[i] = pass_through && i != network.logits ? alias[l.inputs[0]] : i;
  }
  return alias;
}

// How many layers read each tensor (layers that alias another's tensor read nothing).
std::vector<int> consumer_counts(const Network& network, const std::vector<int>& alias) {
  const int L = static_cast<int>(network.layers.size());
  std::vector<int> consumers(L, 0);
  for (int i = 0; i < L; ++i)
    if (alias[i] == i)
      for (int in : network.layers[i].inputs) ++consumers[alias[in]];
  return consumers;
}

// A ReLU that is the only consumer of a batch norm runs inside it (oneDNN's fused BN + ReLU
// saves a pass over the tensor each way); the ReLU layer then aliases the BN's tensor, which
// holds the ReLU output.
void fuse_bn_relu(const Network& network, std::vector<int>& alias, std::vector<bool>& bn_relu) {
  const auto& layers = network.layers;
  const int L = static_cast<int>(layers.size());
  const std::vector<int> consumers = consumer_counts(network, alias);
  auto is_head = [&](int i) { return i == network.logits || i == network.aux_logits; };
  for (int i = 0; i < L; ++i) {
    const Layer& l = layers[i];
    if (l.kind != LayerKind::relu || alias[i] != i || is_head(i)) continue;
    const int b = alias[l.inputs[0]];
    if (layers[b].kind != LayerKind::batch_norm || consumers[b] != 1 || is_head(b)) continue;
    alias[i] = b;
    bn_relu[b] = true;
  }
  for (int i = 0; i < L; ++i) alias[i] = alias[alias[i]];  // targets are earlier: resolved
}

// A concat whose only consumer is a ReLU writes the ReLU's output directly (a NASNet cell's
// output, read only through the next cells' ReLUs), and an add read only by such a concat is
// summed inside it: one pass over the cell's output instead of three (add, concat, ReLU).
void fuse_concat_relu(const Network& network, Plan& plan) {
  const auto& layers = network.layers;
  const int L = static_cast<int>(layers.size());
  const std::vector<int> consumers = consumer_counts(network, plan.alias);
  auto is_head = [&](int i) { return i == network.logits || i == network.aux_logits; };
  for (int i = 0; i < L; ++i) {
    const Layer& l = layers[i];
    if (l.kind != LayerKind::relu || plan.alias[i] != i || is_head(i)) continue;
    const int c = plan.alias[l.inputs[0]];
    if (layers[c].kind != LayerKind::concat || consumers[c] != 1 || is_head(c)) continue;
    plan.alias[i] = c;
    plan.concat_relu[c] = true;
    for (int in : layers[c].inputs) {
      const int a = plan.alias[in];
      if (layers[a].kind == LayerKind::add && consumers[a] == 1 && !is_head(a) &&
          std::count(layers[c].inputs.begin(), layers[c].inputs.end(), in) == 1)
        plan.summed_by[a] = c;
    }
  }
  for (int i = 0; i < L; ++i) plan.alias[i] = plan.alias[plan.alias[i]];  // layers aliasing a ReLU
}

// A batch norm whose input is a convolution read by nothing else can be folded into it for
// inference (the convolution's own output is then never computed there).
void plan_batch_norm_folding(const Network& network, Plan& plan) {
  const auto& layers = network.layers;
  const int L = static_cast<int>(layers.size());
  const std::vector<int> consumers = consumer_counts(network, plan.alias);
  for (int i = 0; i < L; ++i) {
    if (layers[i].kind != LayerKind::batch_norm || plan.alias[i] != i) continue;
    const int c = plan.alias[layers[i].inputs[0]];
    if (layers[c].kind != LayerKind::conv || consumers[c] != 1) continue;
    if (c == network.logits || c == network.aux_logits) continue;
    plan.fold_conv[i] = c;
    plan.fold_bn[c] = i;
  }
}

void plan_gradient_order(Plan& plan) {
  const int L = static_cast<int>(plan.alias.size());
  plan.first_grad.resize(L);
  std::vector<bool> seen(L, false);
  for (int i = L - 1; i >= 0; --i) {
    plan.first_grad[i].assign(plan.inputs[i].size(), false);
    if (plan.alias[i] != i) continue;
    for (size_t s = 0; s < plan.inputs[i].size(); ++s) {
      const int t = plan.inputs[i][s];
      if (!seen[t]) plan.first_grad[i][s] = seen[t] = true;
    }
  }
  plan.contributions.assign(L, 0);
  plan.last_consumer.assign(L, -1);
  for (int i = 0; i < L; ++i) {
    if (plan.alias[i] != i) continue;
    for (int t : plan.inputs[i]) ++plan.contributions[t], plan.last_consumer[t] = i;
  }
}

// An add passes its gradient unchanged to every input, so an input can use the add's gradient
// buffer instead of a copy. Inputs with no other contribution share it read-only (any number
// of them); otherwise one input whose gradient the add writes first may take it over and
// accumulate its later contributions there, once nothing else still reads it. Decided last
// layer to first, the order in which backward fills the buffers.
void plan_gradient_hosts(const Network& network, Plan& plan) {
  const int L = static_cast<int>(plan.alias.size());
  std::vector<int> group(L);
  std::vector<std::vector<int>> members(L);
  for (int i = 0; i < L; ++i) group[i] = i, members[i] = {i};
  std::vector<bool> takes_over(L, false);
  auto join = [&](int t, int host) {
    const int g = group[host];
    for (int x : members[group[t]]) group[x] = g, members[g].push_back(x);
    plan.grad_host[t] = host;
  };
  for (int a = L - 1; a >= 0; --a) {
    if (plan.alias[a] != a || network.layers[a].kind != LayerKind::add) continue;
    const std::vector<int>& ins = plan.inputs[a];
    // Members whose gradient is still to be read (or, when taken over, written) after the add.
    bool later_reader = false, later_writer = false;
    for (int x : members[group[a]])
      if (x < a) later_reader = true, later_writer = later_writer || takes_over[x];
    std::vector<int> readers;
    for (int t : ins)
      if (plan.needs_grad(t) && plan.contributions[t] == 1 && plan.grad_host[t] < 0)
        readers.push_back(t);
    if (!readers.empty()) {
      if (!later_writer)
        for (int t : readers) join(t, a);
      continue;
    }
    if (later_reader) continue;
    for (size_t s = 0; s < ins.size(); ++s) {
      const int t = ins[s];
      if (plan.needs_grad(t) && plan.first_grad[a][s] && plan.grad_host[t] < 0 &&
          std::count(ins.begin(), ins.end(), t) == 1) {
        join(t, a);
        takes_over[t] = true;
        break;
      }
    }
  }
}

}  // namespace

Plan plan_network(const Network& network, const ExecutorOptions& options) {
  const auto& layers = network.layers;
  const int L = static_cast<int>(layers.size());
  Plan plan;
  plan.alias = pass_through_aliases(network, options);
  plan.bn_relu.assign(L, false);
  if (options.fuse_bn_relu) fuse_bn_relu(network, plan.alias, plan.bn_relu);
  plan.concat_relu.assign(L, false);
  plan.summed_by.assign(L, -1);
  if (options.fuse_concat) fuse_concat_relu(network, plan);
  plan.fold_conv.assign(L, -1);
  plan.fold_bn.assign(L, -1);
  if (options.fold_batch_norm) plan_batch_norm_folding(network, plan);
  // A zero layer reads nothing of its input (only its shape), so it has no input and no
  // gradient here: its input's gradient counts no contribution from it.
  plan.inputs.resize(L);
  for (int i = 0; i < L; ++i)
    if (layers[i].kind != LayerKind::zero)
      for (int in : layers[i].inputs) plan.inputs[i].push_back(plan.alias[in]);
  plan.has_grad.resize(L);
  for (int i = 0; i < L; ++i)
    plan.has_grad[i] =
        layers[i].kind == LayerKind::input ? options.input_grad : layers[i].kind != LayerKind::zero;
  plan_gradient_order(plan);
  plan.grad_host.assign(L, -1);
  if (options.reuse_gradient_buffers) plan_gradient_hosts(network, plan);
  return plan;
}

namespace {

struct GradientLifetimes {
  std::vector<int> group_life;  // root tensor -> index into lifetimes
  std::vector<Lifetime> lifetimes;
  std::vector<int> owner;  // lifetime -> root tensor
  std::vector<memory::desc> kinds;
};

// Backward step k runs layer L-1-k; a tensor's gradient is live from its first write (its last
// consumer's backward; the loss, before step 0, for logits) to its own backward. Tensors joined
// through an add share one lifetime (`root` gives a tensor's group).
template <class Root>
GradientLifetimes gradient_lifetimes(const Plan& plan, const Network& network, bool reuse,
                                     const Program& program, Root root) {
  const int L = static_cast<int>(plan.alias.size());
  GradientLifetimes g;
  g.group_life.assign(L, -1);
  for (int t = 0; t < L; ++t) {
    if (plan.alias[t] != t || !program.tensors[t].diff) continue;
    const bool by_loss = t == network.logits || t == network.aux_logits;
    const int last = plan.last_consumer[t];
    const int begin = by_loss ? -1 : last >= 0 ? L - 1 - last : -2;
    const int end = L - 1 - t;
    const int r = root(t);
    if (g.group_life[r] < 0) {
      g.group_life[r] = static_cast<int>(g.lifetimes.size());
      g.lifetimes.push_back({begin, end, -1});
      g.owner.push_back(r);
    }
    Lifetime& life = g.lifetimes[g.group_life[r]];
    life.begin = std::min(life.begin, begin);
    life.end = std::max(life.end, end);
  }
  for (size_t k = 0; k < g.lifetimes.size(); ++k) {
    const memory::desc& md = program.tensors[g.owner[k]].md;
    // Never written (no consumer): a buffer of its own keeps it zero. Without reuse every
    // lifetime is a kind of its own.
    const bool alone = g.lifetimes[k].begin == -2 || !reuse;
    int kind = -1;
    if (!alone)
      for (size_t j = 0; j < g.kinds.size() && kind < 0; ++j)
        if (g.kinds[j] == md) kind = static_cast<int>(j);
    if (kind < 0) kind = static_cast<int>(g.kinds.size()), g.kinds.push_back(md);
    g.lifetimes[k].kind = kind;
  }
  return g;
}

}  // namespace

void assign_gradient_buffers(const Plan& plan, const Network& network, bool reuse,
                             Program& program) {
  const int L = static_cast<int>(plan.alias.size());
  std::vector<int> group(L);
  for (int t = 0; t < L; ++t) group[t] = t;
  auto root = [&](int t) {
    while (group[t] != t) t = group[t];
    return t;
  };
  for (auto [t, a] : program.shared_grads) group[root(t)] = root(a);
  const GradientLifetimes g = gradient_lifetimes(plan, network, reuse, program, root);
  int buffer_count = 0;
  const std::vector<int> buffer_of = assign_buffers(g.lifetimes, &buffer_count);
  std::vector<void*> buffers(buffer_count, nullptr);
  for (size_t k = 0; k < g.lifetimes.size(); ++k) {
    void*& ptr = buffers[buffer_of[k]];
    if (!ptr) ptr = program.alloc_floats(g.kinds[g.lifetimes[k].kind].get_size() / sizeof(float));
  }
  for (int t = 0; t < L; ++t) {
    if (plan.alias[t] != t || !program.tensors[t].diff) continue;
    void* ptr = buffers[buffer_of[g.group_life[root(t)]]];
    program.tensors[t].diff.set_data_handle(ptr);
    for (auto& view : program.diff_views[t]) view.set_data_handle(ptr);
  }
}

}  // namespace cf::detail

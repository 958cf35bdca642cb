#include "trainer/executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "trainer/kernels.h"
#include "trainer/lowering.h"
#include "trainer/plan.h"
#include "trainer/program.h"

namespace cf {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

}  // namespace

const char* precision_name(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

bool bf16_supported() {
  // cpu_isa values are bit masks: every ISA with native bf16 (avx512_core_bf16, AMX) contains
  // avx512_core_bf16's bits.
  const auto want = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & want) == want;
}

Precision usable_precision(Precision requested) {
  if (requested != Precision::bf16 || bf16_supported()) return requested;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    std::fprintf(stderr,
                 "warning: precision bf16 needs a CPU with avx512_bf16 (or AMX) and this one has "
                 "none (or ONEDNN_MAX_CPU_ISA hides it); training in fp32\n");
  return Precision::fp32;
}

// Everything the compiled steps use lives in the program (trainer/program.h).
struct Executor::Impl : detail::Program {};

// Three passes: plan the graph (aliases, fusions, gradient order and hosting), lower each layer
// into steps (trainer/lower_*.cpp), then bind the gradient buffers and shared regions.
Executor::Executor(const Network& network, const ExecutorOptions& options)
    : network_(network), options_(options), impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.profile = options.profile;
  m.profile_out = &profile_;
  if (options.batch < 1) throw std::invalid_argument("batch size must be at least 1");
  if (options.precision == Precision::bf16 && !bf16_supported())
    throw std::invalid_argument(
        "precision bf16 needs a CPU with avx512_bf16 or AMX (see usable_precision)");
  const detail::Plan plan = detail::plan_network(network_, options_);
  detail::LowerContext lowering(m, plan, network_, options_, params_, bn_stats_, implementations_);
  lowering.lower_all();
  detail::assign_gradient_buffers(plan, network_, options.reuse_gradient_buffers, m);
  m.bind_regions();
  allocated_bytes_ = m.allocated;
  folded_batch_norms_ = static_cast<int>(m.fold_sources.size());
}

Executor::~Executor() = default;

float* Executor::input() {
  return static_cast<float*>(impl_->tensors[0].value.get_data_handle());
}

const float* Executor::logits() const {
  return static_cast<const float*>(impl_->tensors[network_.logits].value.get_data_handle());
}

const float* Executor::aux_logits() const {
  if (network_.aux_logits < 0) return nullptr;
  return static_cast<const float*>(impl_->tensors[network_.aux_logits].value.get_data_handle());
}

void Executor::forward(bool training, const ForwardState& state) {
  impl_->state = state;
  impl_->last_forward_training = training;
  if (training) {
    fold_stale_ = true;  // the optimiser changes the weights after this pass
  } else if (fold_stale_) {
    for (auto& refold : impl_->refold) refold();
    fold_stale_ = false;
  }
  impl_->run(training ? impl_->fwd_train : impl_->fwd_infer);
  impl_->stream.wait();
}

double Executor::loss(const int32_t* labels, float label_smoothing, float aux_weight, int* correct,
                      double* aux_loss) {
  const int classes = network_.spec.classes;
  auto& t = impl_->tensors;
  const double main = kernels::softmax_cross_entropy(
      logits(), labels, options_.batch, classes, label_smoothing, 1.0f,
      static_cast<float*>(t[network_.logits].diff.get_data_handle()), correct);
  if (network_.aux_logits >= 0) {
    const double aux = kernels::softmax_cross_entropy(
        aux_logits(), labels, options_.batch, classes, label_smoothing, aux_weight,
        static_cast<float*>(t[network_.aux_logits].diff.get_data_handle()), nullptr);
    if (aux_loss) *aux_loss = aux;
  }
  return main;
}

void Executor::backward() {
  impl_->run(impl_->bwd);
  impl_->stream.wait();
}

float* Executor::logits_grad() {
  return static_cast<float*>(impl_->tensors[network_.logits].diff.get_data_handle());
}

const float* Executor::input_grad() const {
  const auto& diff = impl_->tensors[0].diff;
  return diff ? static_cast<const float*>(diff.get_data_handle()) : nullptr;
}

void Executor::init_params(Rng& rng, InitScheme scheme) {
  fold_stale_ = true;
  const ParamValues values = init_param_values(network_, rng, scheme);
  for (Param& p : params_) write_param(p, values.at(p.name));
  for (auto& s : bn_stats_) {
    std::fill(s.running_mean.begin(), s.running_mean.end(), 0.0f);
    std::fill(s.running_var.begin(), s.running_var.end(), 1.0f);
  }
}

namespace {
std::vector<float> read_plain(const dnnl::memory& mem, const memory::desc& plain_md,
                              const dnnl::engine& engine, dnnl::stream& stream) {
  std::vector<float> v(plain_md.get_size() / sizeof(float));
  memory plain(plain_md, engine, v.data());
  memory src = mem;
  dnnl::reorder(src, plain).execute(stream, src, plain);
  stream.wait();
  return v;
}
}  // namespace

std::vector<float> Executor::read_param(const Param& p) const {
  return read_plain(p.value, p.plain, impl_->engine, impl_->stream);
}

std::vector<float> Executor::read_grad(const Param& p) const {
  return read_plain(p.diff, p.plain, impl_->engine, impl_->stream);
}

void Executor::write_param(Param& p, const std::vector<float>& values) {
  if (values.size() * sizeof(float) != p.plain.get_size())
    throw std::invalid_argument(p.name + ": expected " + std::to_string(p.plain.get_size() / 4) +
                                " values, got " + std::to_string(values.size()));
  fold_stale_ = true;
  std::vector<float> copy = values;
  dnnl::memory plain(p.plain, impl_->engine, copy.data());
  dnnl::reorder(plain, p.value).execute(impl_->stream, plain, p.value);
  impl_->stream.wait();
}

namespace {
std::vector<float> to_plain(const dnnl::memory& mem, const dnnl::engine& engine,
                            dnnl::stream& stream) {
  const memory::desc md = mem.get_desc();
  const memory::dims dims = md.dims();
  const memory::desc plain(dims, dt::f32, dims.size() == 2 ? tag::nc : tag::nchw);
  std::vector<float> v(plain.get_size() / sizeof(float));
  memory out(plain, engine, v.data());
  memory src = mem;
  dnnl::reorder(src, out).execute(stream, src, out);
  stream.wait();
  return v;
}
}  // namespace

std::vector<float> Executor::layer_value(int layer) const {
  const auto fused = impl_->recompute.find(layer);
  if (fused != impl_->recompute.end()) {
    memory before(impl_->tensors[layer].md, impl_->engine);
    fused->second(before, impl_->last_forward_training);
    impl_->stream.wait();
    return to_plain(before, impl_->engine, impl_->stream);
  }
  return to_plain(impl_->tensors[layer].value, impl_->engine, impl_->stream);
}

std::vector<float> Executor::layer_diff(int layer) const {
  if (!impl_->tensors[layer].diff) return {};
  return to_plain(impl_->tensors[layer].diff, impl_->engine, impl_->stream);
}

int64_t Executor::estimate_bytes(const Network& network, int batch) {
  // Activations and their gradients with channels padded to the 16-wide blocks oneDNN uses,
  // parameters with gradients and momentum, plus a 25% allowance for reorders and scratch.
  int64_t total = 0;
  for (size_t i = 0; i < network.layers.size(); ++i) {
    const Layer& l = network.layers[i];
    const int64_t padded_c = (l.out.c + 15) / 16 * 16;
    const int64_t act = int64_t{batch} * padded_c * l.out.h * l.out.w * 4;
    total += l.kind == LayerKind::input ? act : 2 * act;
    total += 3 * network.layer_params(static_cast<int>(i)) * 4;
  }
  return total + total / 4;
}

}  // namespace cf

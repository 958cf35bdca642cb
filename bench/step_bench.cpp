// Times training steps of a stacked network with cellforge's executor on random data; prints
// images/s, peak memory and, with --profile, where the time goes.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "trainer/cpus.h"
#include "trainer/executor.h"
#include "trainer/optimizer.h"

int main(int argc, char** argv) {
  cf::reexec_with_openmp_policy(argv);  // the same OpenMP wait policy as cellforge
  std::string arch = "nasnet_a";
  int cells = 2, filters = 16, batch = 64, steps = 20, warmup = 3, threads = 2;
  bool profile = false, impls = false, layers = false;
  cf::ExecutorOptions opts;
  cf::Shape input{1, 28, 28};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] {
      return i + 1 < argc ? argv[++i] : (std::fprintf(stderr, "missing value\n"), std::exit(2), "");
    };
    if (a == "--arch")
      arch = next();
    else if (a == "--cells-per-stack")
      cells = std::atoi(next());
    else if (a == "--filters")
      filters = std::atoi(next());
    else if (a == "--batch")
      batch = std::atoi(next());
    else if (a == "--steps")
      steps = std::atoi(next());
    else if (a == "--threads")
      threads = std::atoi(next());
    else if (a == "--input")
      input = *cf::parse_input_shape(next());
    else if (a == "--profile")
      profile = true;
    else if (a == "--impls")
      impls = true;
    else if (a == "--layers")
      layers = true;
    // A/B switches for the executor's optimisations.
    else if (a == "--no-reuse")
      opts.reuse_gradient_buffers = false;
    else if (a == "--no-fuse")
      opts.fuse_bn_relu = opts.fuse_concat = false;
    else if (a == "--no-fuse-concat")
      opts.fuse_concat = false;
    else if (a == "--precision")
      opts.precision = std::strcmp(next(), "bf16") == 0 ? cf::Precision::bf16 : cf::Precision::fp32;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  omp_set_num_threads(threads);
  const cf::ThreadPinning pinning(threads);  // as train_network does
  cf::NetworkSpec spec;
  spec.cells_per_stack = cells;
  spec.filters = filters;
  spec.input = input;
  const cf::Network net = cf::build_network(cf::resolve_genotype(arch), spec);
  opts.precision = cf::usable_precision(opts.precision);
  opts.batch = batch;
  opts.profile = profile;
  opts.drop_path = false;  // the PyTorch side has no drop path either
  const auto t_compile = std::chrono::steady_clock::now();
  cf::Executor ex(net, opts);
  const double compile_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_compile).count();
  cf::Rng rng(1);
  ex.init_params(rng);
  cf::SgdOptions sgd;
  cf::Sgd opt(ex.params(), sgd);
  std::vector<int32_t> labels(batch);
  float* x = ex.input();
  const size_t n_in = static_cast<size_t>(batch) * input.numel();
  for (size_t k = 0; k < n_in; ++k) x[k] = static_cast<float>(rng.uniform01() * 2 - 1);
  for (auto& l : labels) l = rng.uniform_int(10);
  double t_total = 0, cpu_total = 0;
  auto cpu_seconds = [] {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + 1e-6 * (r.ru_utime.tv_usec + r.ru_stime.tv_usec);
  };
  std::vector<double> step_times;
  for (int s = 0; s < warmup + steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    ex.forward(true);
    int correct = 0;
    ex.loss(labels.data(), 0.0f, 0.4f, &correct);
    ex.backward();
    opt.step(0.01f);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= warmup) t_total += dt, step_times.push_back(dt), cpu_total += cpu_seconds() - c0;
  }
  // Checksum of the trained parameters: equal across runs with the same seed and thread count
  // when training is deterministic.
  uint64_t checksum = 1469598103934665603ull;  // FNV-1a
  for (const auto& p : ex.params())
    for (float v : ex.read_param(p)) {
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      for (int k = 0; k < 4; ++k)
        checksum = (checksum ^ ((bits >> (8 * k)) & 0xff)) * 1099511628211ull;
    }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "cellforge %s N=%d F=%d batch %d input %s threads %d %s: %.1f images/s (%.1f ms/step), "
      "compile %.2f s, allocated %.0f MiB, peak RSS %.0f MiB, params %lld\n",
      arch.c_str(), cells, filters, batch, cf::to_string(input).c_str(), threads,
      cf::precision_name(opts.precision), steps * batch / t_total, 1000 * t_total / steps,
      compile_s, ex.allocated_bytes() / 1048576.0, ru.ru_maxrss / 1024.0,
      static_cast<long long>(net.params()));
  // Median and best step: less sensitive than the mean to other processes on a shared machine.
  std::sort(step_times.begin(), step_times.end());
  std::printf("  parameter checksum %016llx\n", static_cast<unsigned long long>(checksum));
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("  OpenMP: GOMP_SPINCOUNT=%s OMP_WAIT_POLICY=%s, threads %s, %s\n",
              spin ? spin : "(unset)", policy ? policy : "(unset)",
              pinning.active() ? "pinned" : "not pinned", cf::cpu_budget().describe().c_str());
  if (!step_times.empty())
    // CPU time counts work rather than waiting when other processes share the cores (with
    // OMP_WAIT_POLICY=passive, so that idle threads sleep instead of spinning).
    std::printf(
        "  step ms: best %.1f, median %.1f (%.1f images/s at the median); CPU %.1f ms/step\n",
        1000 * step_times.front(), 1000 * step_times[step_times.size() / 2],
        batch / step_times[step_times.size() / 2], 1000 * cpu_total / steps);
  if (profile) {
    std::vector<std::pair<double, std::string>> rows;
    double sum = 0;
    for (auto& [k, v] : ex.profile()) rows.push_back({v, k}), sum += v;
    std::sort(rows.rbegin(), rows.rend());
    for (auto& [v, k] : rows)
      std::printf("  %-28s %7.1f ms/step %5.1f%%\n", k.c_str(), 1000 * v / (steps + warmup),
                  100 * v / sum);
  }
  if (layers)
    for (size_t i = 0; i < net.layers.size(); ++i) {
      const cf::Layer& l = net.layers[i];
      std::string ins;
      for (int in : l.inputs) ins += (ins.empty() ? "" : ",") + std::to_string(in);
      std::printf("  %4zu %-16s %-10s in %-12s k%dx%d s%d g%-3d %9lld MACs %s\n", i,
                  std::string(cf::layer_kind_name(l.kind)).c_str(), cf::to_string(l.out).c_str(),
                  ins.c_str(), l.kernel_h, l.kernel_w, l.stride_h, l.groups,
                  static_cast<long long>(net.layer_macs(static_cast<int>(i))), l.name.c_str());
    }
  if (impls)
    for (auto& s : ex.implementations()) std::printf("  %s\n", s.c_str());
  return 0;
}

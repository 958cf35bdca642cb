// cellforge latency: batch-1 inference latency of a stacked network on this CPU.
#include "trainer/latency.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "search/cli/options.h"

namespace cf::cli {

namespace po = boost::program_options;

int run_latency(const Args& args) {
  const std::string usage_line =
      "cellforge latency --arch NAME|FILE|NB201_STRING [stacking options] [--threads T] "
      "[--runs N] [--warmup N] [--precision fp32|bf16] [--json]";
  std::string space, arch, precision = "fp32";
  bool json = false;
  LatencyOptions latency;
  StackingOptions stacking;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "arch", po::value(&arch),
      "built-in name (nasnet_a, amoebanet_a), NAS-Bench-201 string (|op~0|+...) or genotype JSON "
      "file of either space")("threads", po::value(&latency.threads)->default_value(1),
                              "OpenMP threads")("runs", po::value(&latency.runs)->default_value(50),
                                                "timed forward passes (median)")(
      "warmup", po::value(&latency.warmup)->default_value(10), "untimed passes first")(
      "no-fold", po::bool_switch(),
      "run batch norms as their own primitives instead of folding them into the convolutions")(
      "precision", po::value(&precision)->default_value(precision),
      "fp32 | bf16 (bfloat16 activations and convolution weights; needs avx512_bf16, else fp32 "
      "with a warning)")("json", po::bool_switch(&json),
                         "print one JSON object (with every timed run)");
  add_stacking_options(options, stacking);
  add_space_option(options, space);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm)) return 0;
  const std::string usage = usage_text(usage_line, options);
  latency.fold_batch_norm = !vm["no-fold"].as<bool>();
  if (precision != "fp32" && precision != "bf16")
    throw UsageError("--precision: '" + precision + "' is not one of fp32,bf16", usage);
  latency.precision = usable_precision(precision == "bf16" ? Precision::bf16 : Precision::fp32);
  try {
    validate(latency);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string(e.what()) + " (--threads, --runs, --warmup)", usage);
  }
  if (stacking.aux_head)
    throw UsageError(
        "--aux-head: inference never runs the auxiliary head; latency is measured "
        "without it",
        usage);
  const Architecture architecture = load_arch(arch, usage, space);
  apply_space_defaults(architecture, vm, stacking, usage);
  const NetworkSpec spec = to_network_spec(stacking, usage);
  const Network net = build_network(architecture, spec);
  const LatencyResult r = measure_latency(net, latency);
  const std::string name = architecture.name().empty() ? arch : architecture.name();
  if (json) {
    std::cout << nlohmann::json{{"arch", name},
                                {"hash", canonical_hash(architecture)},
                                {"notation", net.notation()},
                                {"params", net.params()},
                                {"macs", net.macs()},
                                {"batch", 1},
                                {"threads", r.threads},
                                {"warmup", latency.warmup},
                                {"runs", r.runs},
                                {"median_ms", r.median_ms},
                                {"min_ms", r.min_ms},
                                {"mean_ms", r.mean_ms},
                                {"cv", r.cv},
                                {"folded_batch_norms", r.folded_batch_norms},
                                {"precision", precision_name(r.precision)},
                                {"samples_ms", r.samples_ms}}
                     .dump()
              << "\n";
    return 0;
  }
  std::printf("arch      %s, %s, input %dx%dx%d\n", name.c_str(), net.notation().c_str(),
              spec.input.h, spec.input.w, spec.input.c);
  std::printf(
      "latency   %.3f ms median at batch 1 on %d thread%s (min %.3f, mean %.3f, cv %.1f%%, "
      "%d runs after %d warm-up)\n",
      r.median_ms, r.threads, r.threads == 1 ? "" : "s", r.min_ms, r.mean_ms, 100 * r.cv, r.runs,
      latency.warmup);
  std::printf("inference %d batch norms folded into their convolutions, %s\n", r.folded_batch_norms,
              precision_name(r.precision));
  return 0;
}

}  // namespace cf::cli

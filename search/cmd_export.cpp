// cellforge export: genotype JSON, Graphviz DOT/SVG, a PyTorch module and an ONNX model of the
// best candidates of a campaign, of a trained network's directory (what `train --out` or
// `train --from` wrote) or of one architecture file.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "results/draw.h"
#include "results/export.h"
#include "results/store.h"
#include "search/campaign.h"
#include "search/cli_common.h"
#include "search/config.h"
#include "space/file_io.h"
#include "results/escape.h"
#include "trainer/data.h"
#include "trainer/executor.h"
#include "trainer/weights.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

void write_text(const std::filesystem::path& file, const std::string& text) { write_file_atomic(file, text); }

TensorMap read_tensors(const Executor& ex) {
  TensorMap tensors;
  for (const auto& p : ex.params()) tensors[p.name] = ex.read_param(p);
  for (const auto& s : ex.bn_stats()) {
    tensors[s.name + ".running_mean"] = s.running_mean;
    tensors[s.name + ".running_var"] = s.running_var;
  }
  return tensors;
}

std::string shape_text(const Shape& s) {
  return std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c);
}

// A directory written by `cellforge train --out` / `--from`: genotype, training config, weights.
bool is_trained_dir(const std::filesystem::path& dir) {
  return !std::filesystem::exists(dir / "results.sqlite") &&
         std::filesystem::exists(dir / "genotype.json");
}

}  // namespace

int run_export(const Args& args) {
  const std::string usage_line =
      "cellforge export RUN_DIR|TRAINED_DIR|--arch FILE --format json,dot,svg,pytorch,onnx "
      "[--top K] [--weights FILE] [stacking options] -o DIR";
  std::string run_dir, arch, formats = "json,dot,svg,pytorch,onnx", weights, output;
  int top = 1;
  uint64_t seed = 0;
  double memory_limit_gb = 16;
  StackingOptions stacking;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("run-dir", po::value(&run_dir), "campaign run directory, or a trained network's directory "
       "(train --out / --from): its genotype, stacking (config.ini) and weights.bin")
      ("arch", po::value(&arch), "built-in name or genotype JSON file (instead of RUN_DIR)")
      ("format", po::value(&formats)->default_value(formats), "comma-separated: json, dot, svg, pytorch, onnx")
      ("top", po::value(&top)->default_value(top), "export the K best candidates of RUN_DIR")
      ("weights", po::value(&weights), "trained weights (cellforge weights file) for pytorch/onnx")
      ("seed", po::value(&seed)->default_value(seed), "seed of fresh weights when --weights is absent")
      ("memory-limit-gb", po::value(&memory_limit_gb)->default_value(memory_limit_gb),
       "refuse networks whose weights and batch-1 activations are estimated above this")
      ("output,o", po::value(&output), "output directory");
  // clang-format on
  add_stacking_options(options, stacking);
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (run_dir.empty() == arch.empty()) throw UsageError("give either RUN_DIR or --arch", usage);
  if (output.empty()) throw UsageError("-o DIR is required", usage);
  if (top < 1) throw UsageError("--top must be at least 1", usage);
  if (!(memory_limit_gb >= 0.01 && memory_limit_gb <= 1e6))
    throw UsageError("--memory-limit-gb must be a number in [0.01, 1e6]", usage);
  std::set<std::string> wanted;
  {
    std::stringstream in(formats);
    std::string f;
    while (std::getline(in, f, ',')) {
      if (f != "json" && f != "dot" && f != "svg" && f != "pytorch" && f != "onnx")
        throw UsageError("--format: '" + f + "' is not json, dot, svg, pytorch or onnx", usage);
      wanted.insert(f);
    }
  }

  // Stacking defaults that explicit options override.
  auto set_default = [&](const char* name, auto& field, auto value) {
    if (vm[name].defaulted()) field = value;
  };
  // What to export: (file stem, genotype).
  std::vector<std::pair<std::string, Genotype>> archs;
  InputNormalisation norm;  // known only for a trained directory
  if (!run_dir.empty() && is_trained_dir(run_dir)) {
    const std::filesystem::path dir = run_dir;
    Genotype g = resolve_genotype((dir / "genotype.json").string());
    if (std::filesystem::exists(dir / "config.ini")) {
      const TrainConfig tc = load_train_config(dir / "config.ini");
      set_default("cells-per-stack", stacking.cells_per_stack, tc.network.cells_per_stack);
      set_default("filters", stacking.filters, tc.network.filters);
      set_default("stem", stacking.stem, std::string(stem_name(tc.network.stem)));
      set_default("stem-multiplier", stacking.stem_multiplier, tc.network.stem_multiplier);
      if (vm["aux-head"].defaulted()) stacking.aux_head = tc.network.aux_head;
      // The training split, loaded as training loaded it: its shape, and the statistics that
      // normalised the network's inputs.
      DataOptions d = tc.data;
      d.load_test = false;
      const DataSplits data = load_dataset(d);
      set_default("input", stacking.input, shape_text(data.train.shape));
      set_default("classes", stacking.classes, data.train.classes);
      norm = {data.mean, data.stddev};
    }
    if (weights.empty() && std::filesystem::exists(dir / "weights.bin"))
      weights = (dir / "weights.bin").string();
    std::string stem = safe_file_stem(g.name.empty() ? dir.filename().string() : g.name, canonical_hash(g));
    archs.emplace_back(stem, std::move(g));
  } else if (!arch.empty()) {
    Genotype g = resolve_genotype(arch);
    std::string stem =
        safe_file_stem(g.name.empty() ? std::filesystem::path(arch).stem().string() : g.name, canonical_hash(g));
    archs.emplace_back(stem, std::move(g));
  } else {
    const CampaignConfig config = load_run_config(run_dir, {});
    if (config.space_type != "nasnet")
      throw std::runtime_error(run_dir + ": only NASNet-space campaigns can be exported");
    // Stacking defaults come from the campaign's proxy network and dataset.
    set_default("cells-per-stack", stacking.cells_per_stack, config.cells_per_stack);
    set_default("filters", stacking.filters, config.filters);
    set_default("stem", stacking.stem, config.stem);
    set_default("stem-multiplier", stacking.stem_multiplier, config.stem_multiplier);
    if (vm["input"].defaulted() || vm["classes"].defaulted()) {
      DataOptions d;
      d.dir = config.data_dir;
      d.format = *parse_dataset_format(config.data_format);
      d.valid_images = 1;  // the shape is all that is needed
      d.train_images = 1;
      const DataSplits data = load_dataset(d);
      set_default("input", stacking.input, shape_text(data.train.shape));
      set_default("classes", stacking.classes, data.train.classes);
    }
    ResultsStore store(std::filesystem::path(run_dir) / "results.sqlite", StoreAccess::read);
    std::vector<CandidateRecord> best = store.ranked_candidates();
    if (best.empty()) throw std::runtime_error(run_dir + ": no finished candidates to export");
    if (static_cast<int>(best.size()) > top) best.resize(top);
    int rank = 1;
    for (const auto& r : best) {
      Genotype g = store.genotype(r);
      const std::string hash = canonical_hash(g);
      g.name = config.name + "_rank" + std::to_string(rank) + "_" + hash;
      archs.emplace_back(safe_file_stem("rank" + std::to_string(rank++), hash), std::move(g));
    }
  }
  if (!weights.empty() && archs.size() != 1)
    throw UsageError("--weights needs exactly one architecture (use --top 1)", usage);
  const NetworkSpec spec = to_network_spec(stacking, usage);
  std::filesystem::create_directories(output);
  const std::filesystem::path out_dir = output;
  for (const auto& [stem, genotype] : archs) {
    const Network network = build_network(genotype, spec);
    std::vector<std::string> written;
    if (wanted.count("json")) {
      write_text(out_dir / (stem + ".json"), write_genotype(genotype));
      written.push_back(stem + ".json");
    }
    if (wanted.count("dot") || wanted.count("svg")) {
      const auto svg = write_dot_and_svg(genotype, out_dir / (stem + ".dot"));
      written.push_back(stem + ".dot");
      if (wanted.count("svg")) {
        if (svg.empty()) throw std::runtime_error("--format svg needs Graphviz's dot on the PATH (Debian package graphviz)");
        written.push_back(svg.filename().string());
      }
    }
    if (wanted.count("pytorch") || wanted.count("onnx")) {
      const int64_t estimate = Executor::estimate_bytes(network, 1);
      const auto limit = static_cast<int64_t>(memory_limit_gb * double(int64_t{1} << 30));
      if (estimate > limit)
        throw std::runtime_error(stem + ": the network needs an estimated " + std::to_string(estimate >> 20) +
                                 " MiB, more than the memory limit of " + std::to_string(limit >> 20) +
                                 " MiB (--memory-limit-gb)");
      ExecutorOptions eo;
      eo.batch = 1;
      Executor ex(network, eo);
      if (!weights.empty()) {
        load_weights(ex, weights);
      } else {
        Rng rng(seed);
        ex.init_params(rng);
      }
      if (wanted.count("pytorch")) {
        const std::string description = "cellforge network " + (genotype.name.empty() ? stem : genotype.name) + ": " +
                                        network.notation() + ", " + std::string(stem_name(spec.stem)) + " stem, input " +
                                        std::to_string(spec.input.h) + "x" + std::to_string(spec.input.w) + "x" +
                                        std::to_string(spec.input.c) + ", " + std::to_string(spec.classes) +
                                        " classes, " + std::to_string(network.params()) + " parameters.";
        write_text(out_dir / (stem + ".py"),
                   pytorch_module_source(network, "CellforgeNet", description, norm));
        save_weights(ex, out_dir / (stem + ".weights.bin"));
        written.push_back(stem + ".py");
        written.push_back(stem + ".weights.bin");
      }
      if (wanted.count("onnx")) {
        write_onnx(network, read_tensors(ex), stem, out_dir / (stem + ".onnx"), norm);
        written.push_back(stem + ".onnx");
      }
    }
    std::printf("%s (%s, %lld params):", stem.c_str(), network.notation().c_str(),
                static_cast<long long>(network.params()));
    for (const auto& w : written) std::printf(" %s", w.c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace cf::cli

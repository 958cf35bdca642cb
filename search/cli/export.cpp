// cellforge export: genotype JSON, Graphviz DOT/SVG, a PyTorch module and an ONNX model of the
// best candidates (or the Pareto front) of a campaign, of a trained network's directory (what
// `train --out` or `train --from` wrote) or of one architecture file.
#include "results/export.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "results/draw.h"
#include "results/escape.h"
#include "results/store.h"
#include "search/campaign.h"
#include "search/cli/options.h"
#include "search/config.h"
#include "search/front.h"
#include "space/file_io.h"
#include "trainer/data.h"
#include "trainer/executor.h"
#include "trainer/weights.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

void write_text(const std::filesystem::path& file, const std::string& text) {
  write_file_atomic(file, text);
}

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

// The command line, parsed and checked.
struct ExportRequest {
  std::string run_dir, arch, weights, output;
  std::set<std::string> formats;
  int top = 1;
  bool pareto = false;     // every cell of the campaign's Pareto front instead of the top K
  std::string objectives;  // the front's costs (empty: the campaign's)
  uint64_t seed = 0;
  double memory_limit_gb = 16;
  StackingOptions stacking;
  po::variables_map vm;  // which stacking options were given (they override derived defaults)
  std::string usage;
  // Sets a stacking field unless its option was given explicitly.
  template <class T, class V>
  void set_default(const char* option, T& field, V value) const {
    if (vm[option].defaulted()) field = value;
  }
};

// What to export: (file stem, architecture) pairs, and the inputs' normalisation when known.
struct ExportPlan {
  std::vector<std::pair<std::string, Architecture>> archs;
  InputNormalisation norm;
  std::vector<std::string> class_names;  // empty when no dataset was read
};

std::optional<ExportRequest> parse_export_request(const Args& args) {
  const std::string usage_line =
      "cellforge export RUN_DIR|TRAINED_DIR|--arch FILE --format json,dot,svg,pytorch,onnx "
      "[--top K | --pareto [--objectives LIST]] [--weights FILE] [stacking options] -o DIR";
  ExportRequest r;
  std::string formats = "json,dot,svg,pytorch,onnx";
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("run-dir", po::value(&r.run_dir), "campaign run directory, or a trained network's directory "
       "(train --out / --from): its genotype, stacking (config.ini) and weights.bin")
      ("arch", po::value(&r.arch), "built-in name, NAS-Bench-201 string or genotype JSON file (instead of RUN_DIR)")
      ("format", po::value(&formats)->default_value(formats), "comma-separated: json, dot, svg, pytorch, onnx")
      ("top", po::value(&r.top)->default_value(r.top), "export the K best candidates of RUN_DIR")
      ("pareto", po::bool_switch(&r.pareto), "export every cell of RUN_DIR's Pareto front (as "
       "top --pareto lists it) instead of the K best")
      ("objectives", po::value(&r.objectives), "with --pareto: the front's costs, one or two of "
       "params, macs, latency (default: the campaign's objective.pareto, or params)")
      ("weights", po::value(&r.weights), "trained weights (cellforge weights file) for pytorch/onnx")
      ("seed", po::value(&r.seed)->default_value(r.seed), "seed of fresh weights when --weights is absent")
      ("memory-limit-gb", po::value(&r.memory_limit_gb)->default_value(r.memory_limit_gb),
       "refuse networks whose weights and batch-1 activations are estimated above this")
      ("output,o", po::value(&r.output), "output directory");
  // clang-format on
  add_stacking_options(options, r.stacking);
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  if (!parse_args(args, options, usage_line, r.vm, &positional)) return std::nullopt;
  r.usage = usage_text(usage_line, options);
  const std::string& usage = r.usage;
  if (r.run_dir.empty() == r.arch.empty()) throw UsageError("give either RUN_DIR or --arch", usage);
  if (r.output.empty()) throw UsageError("-o DIR is required", usage);
  if (r.top < 1) throw UsageError("--top must be at least 1", usage);
  if (r.pareto && !r.vm["top"].defaulted())
    throw UsageError("give either --top or --pareto", usage);
  if (r.pareto && r.run_dir.empty()) throw UsageError("--pareto needs a campaign RUN_DIR", usage);
  if (!r.pareto && r.vm.count("objectives")) throw UsageError("--objectives needs --pareto", usage);
  if (!(r.memory_limit_gb >= 0.01 && r.memory_limit_gb <= 1e6))
    throw UsageError("--memory-limit-gb must be a number in [0.01, 1e6]", usage);
  std::stringstream in(formats);
  for (std::string f; std::getline(in, f, ',');) {
    if (f != "json" && f != "dot" && f != "svg" && f != "pytorch" && f != "onnx")
      throw UsageError("--format: '" + f + "' is not json, dot, svg, pytorch or onnx", usage);
    r.formats.insert(f);
  }
  return r;
}

// A trained network's directory: its genotype, the stacking and data of its config.ini (the
// training split's statistics normalised its inputs), and its weights.
ExportPlan plan_trained_dir(ExportRequest& r) {
  ExportPlan plan;
  const std::filesystem::path dir = r.run_dir;
  Architecture g = load_architecture_file(dir / "genotype.json");
  if (std::filesystem::exists(dir / "config.ini")) {
    const TrainConfig tc = load_train_config(dir / "config.ini");
    r.set_default("cells-per-stack", r.stacking.cells_per_stack, tc.network.cells_per_stack);
    r.set_default("filters", r.stacking.filters, tc.network.filters);
    r.set_default("stem", r.stacking.stem, std::string(stem_name(tc.network.stem)));
    r.set_default("stem-multiplier", r.stacking.stem_multiplier, tc.network.stem_multiplier);
    r.set_default("aux-head", r.stacking.aux_head, tc.network.aux_head);
    DataOptions d = tc.data;
    d.load_test = false;
    const DataSplits data = load_dataset(d);
    r.set_default("input", r.stacking.input, shape_text(data.train.shape));
    r.set_default("classes", r.stacking.classes, data.train.classes);
    plan.norm = {data.mean, data.stddev};
    plan.class_names = data.class_names;
  }
  if (r.weights.empty() && std::filesystem::exists(dir / "weights.bin"))
    r.weights = (dir / "weights.bin").string();
  std::string stem =
      safe_file_stem(g.name().empty() ? dir.filename().string() : g.name(), canonical_hash(g));
  plan.archs.emplace_back(stem, std::move(g));
  return plan;
}

// The candidates a campaign export takes, with their file stem prefixes: the K best ("rank1",
// ...), or every cell of the Pareto front, best accuracy first ("front1", ...).
std::vector<std::pair<std::string, CandidateRecord>> campaign_selection(const ExportRequest& r,
                                                                        const ResultsStore& store) {
  std::vector<std::pair<std::string, CandidateRecord>> chosen;
  if (r.pareto) {
    const CampaignFront front =
        campaign_front(store, front_costs_option(r.objectives, r.run_dir, r.usage));
    for (const FrontMember& m : front.members)
      chosen.emplace_back("front" + std::to_string(chosen.size() + 1), m.record);
  } else {
    for (CandidateRecord& c : store.ranked_candidates())
      if (static_cast<int>(chosen.size()) < r.top)
        chosen.emplace_back("rank" + std::to_string(chosen.size() + 1), std::move(c));
  }
  if (chosen.empty()) throw std::runtime_error(r.run_dir + ": no finished candidates to export");
  return chosen;
}

// A campaign: its K best cells or its front, stacked as its proxy network on its dataset's shape.
ExportPlan plan_campaign(ExportRequest& r) {
  ExportPlan plan;
  const CampaignConfig config = load_run_config(r.run_dir, {});
  if (config.space_type != "nasnet")
    throw std::runtime_error(r.run_dir + ": only NASNet-space campaigns can be exported");
  const NetworkSpec& proxy = config.proxy.network;
  r.set_default("cells-per-stack", r.stacking.cells_per_stack, proxy.cells_per_stack);
  r.set_default("filters", r.stacking.filters, proxy.filters);
  r.set_default("stem", r.stacking.stem, std::string(stem_name(proxy.stem)));
  r.set_default("stem-multiplier", r.stacking.stem_multiplier, proxy.stem_multiplier);
  if (r.vm["input"].defaulted() || r.vm["classes"].defaulted()) {
    DataOptions d = config.proxy.data;
    d.valid_images = 1;  // the shape is all that is needed
    d.train_images = 1;
    const DataSplits data = load_dataset(d);
    r.set_default("input", r.stacking.input, shape_text(data.train.shape));
    r.set_default("classes", r.stacking.classes, data.train.classes);
    plan.class_names = data.class_names;
  }
  ResultsStore store(std::filesystem::path(r.run_dir) / "results.sqlite", StoreAccess::read);
  for (const auto& [prefix, c] : campaign_selection(r, store)) {
    Genotype g = store.genotype(c);
    const std::string hash = canonical_hash(g);
    g.name = config.name + "_" + prefix + "_" + hash;
    plan.archs.emplace_back(safe_file_stem(prefix, hash), Architecture(std::move(g)));
  }
  return plan;
}

ExportPlan plan_export(ExportRequest& r) {
  if (!r.run_dir.empty() && is_trained_dir(r.run_dir)) return plan_trained_dir(r);
  if (r.run_dir.empty()) {
    ExportPlan plan;
    Architecture g = resolve_architecture(r.arch);
    apply_space_defaults(g, r.vm, r.stacking, r.usage);
    const std::string fallback =
        g.is_nb201() ? std::string("nb201") : std::filesystem::path(r.arch).stem().string();
    std::string stem = safe_file_stem(g.name().empty() ? fallback : g.name(), canonical_hash(g));
    plan.archs.emplace_back(stem, std::move(g));
    return plan;
  }
  return plan_campaign(r);
}

// The PyTorch module and weights, and the ONNX model, of one network (weights loaded or fresh).
void export_weights_formats(const ExportRequest& r, const ExportPlan& plan, const std::string& stem,
                            const Architecture& arch, const Network& network,
                            std::vector<std::string>& written) {
  const int64_t estimate = Executor::estimate_bytes(network, 1);
  const auto limit = static_cast<int64_t>(r.memory_limit_gb * double(int64_t{1} << 30));
  if (estimate > limit)
    throw std::runtime_error(stem + ": the network needs an estimated " +
                             std::to_string(estimate >> 20) +
                             " MiB, more than the memory limit of " + std::to_string(limit >> 20) +
                             " MiB (--memory-limit-gb)");
  ExecutorOptions eo;
  eo.batch = 1;
  Executor ex(network, eo);
  if (!r.weights.empty()) {
    load_weights(ex, r.weights);
  } else {
    Rng rng(r.seed);
    ex.init_params(rng);
  }
  const std::filesystem::path out_dir = r.output;
  const NetworkSpec& spec = network.spec;
  if (r.formats.count("pytorch")) {
    const std::string description =
        "cellforge network " + (arch.name().empty() ? stem : arch.name()) + ": " +
        network.notation() + ", " +
        (arch.is_nb201() ? std::string("NAS-Bench-201 network")
                         : std::string(stem_name(spec.stem)) + " stem") +
        ", input " + std::to_string(spec.input.h) + "x" + std::to_string(spec.input.w) + "x" +
        std::to_string(spec.input.c) + ", " + std::to_string(spec.classes) + " classes, " +
        std::to_string(network.params()) + " parameters.";
    write_text(out_dir / (stem + ".py"), pytorch_module_source(network, "CellforgeNet", description,
                                                               plan.norm, plan.class_names));
    save_weights(ex, out_dir / (stem + ".weights.bin"));
    written.push_back(stem + ".py");
    written.push_back(stem + ".weights.bin");
  }
  if (r.formats.count("onnx")) {
    write_onnx(network, read_tensors(ex), stem, out_dir / (stem + ".onnx"), plan.norm,
               plan.class_names);
    written.push_back(stem + ".onnx");
  }
}

void export_one(const ExportRequest& r, const ExportPlan& plan, const std::string& stem,
                const Architecture& arch, const NetworkSpec& spec) {
  const Network network = build_network(arch, spec);
  const std::filesystem::path out_dir = r.output;
  std::vector<std::string> written;
  if (r.formats.count("json")) {
    write_text(out_dir / (stem + ".json"), write_architecture(arch));
    written.push_back(stem + ".json");
  }
  if (r.formats.count("dot") || r.formats.count("svg")) {
    const auto svg = write_dot_and_svg(arch, out_dir / (stem + ".dot"));
    written.push_back(stem + ".dot");
    if (r.formats.count("svg")) {
      if (svg.empty())
        throw std::runtime_error(
            "--format svg needs Graphviz's dot on the PATH (Debian package graphviz)");
      written.push_back(svg.filename().string());
    }
  }
  if (r.formats.count("pytorch") || r.formats.count("onnx"))
    export_weights_formats(r, plan, stem, arch, network, written);
  std::printf("%s (%s, %lld params):", stem.c_str(), network.notation().c_str(),
              static_cast<long long>(network.params()));
  for (const auto& w : written) std::printf(" %s", w.c_str());
  std::printf("\n");
}

}  // namespace

int run_export(const Args& args) {
  std::optional<ExportRequest> request = parse_export_request(args);
  if (!request) return 0;
  ExportRequest& r = *request;
  ExportPlan plan = plan_export(r);
  if (!r.weights.empty() && plan.archs.size() != 1)
    throw UsageError("--weights needs exactly one architecture (use --top 1)", r.usage);
  const NetworkSpec spec = to_network_spec(r.stacking, r.usage);
  // Names describe the dataset's classes; a --classes count of its own leaves them unknown.
  if (static_cast<int>(plan.class_names.size()) != spec.classes) plan.class_names.clear();
  std::filesystem::create_directories(r.output);
  for (const auto& [stem, arch] : plan.archs) export_one(r, plan, stem, arch, spec);
  return 0;
}

}  // namespace cf::cli

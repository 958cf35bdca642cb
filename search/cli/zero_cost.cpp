// cellforge zero-cost: zero-cost proxy scores of architectures (one, a sample, or all of
// NAS-Bench-201) into a resumable CSV, and their rank correlation with the NAS-Bench-201 table.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "controller/nb201_table.h"
#include "results/statistics.h"
#include "results/store.h"
#include "results/zero_cost_csv.h"
#include "search/campaign.h"
#include "search/cli/options.h"
#include "space/nb201.h"
#include "space/search_space.h"
#include "trainer/cpus.h"
#include "trainer/data.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

struct ZeroCostRequest {
  std::string space = "nb201", arch, output, data_dir = "/usr/share/datasets/fashion-mnist", table;
  std::string run_dir;  // --run: a campaign's candidates on its own proxy network and data
  std::string proxies = "all";
  int sample = 0, batch = 64, threads = usable_cpus();
  bool all = false;
  uint64_t seed = 0;
  StackingOptions stacking;
  po::variables_map vm;
  std::string usage;
  std::vector<ZeroCostProxy> wanted;  // parsed from `proxies`
};

std::optional<ZeroCostRequest> parse_request(const Args& args) {
  const std::string usage_line =
      "cellforge zero-cost --space nb201|nasnet (--arch A | --sample N | --all | --run RUN_DIR) -o "
      "SCORES.csv "
      "[--proxies synflow,naswot,...] [--batch 64] [--data-dir DIR] [--table nb201.csv]";
  ZeroCostRequest r;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("space", po::value(&r.space)->default_value(r.space), "nb201 (the benchmark's network, 32x32x3) | "
       "nasnet (unless given: the Fashion-MNIST proxy network, N=2, F=16, 28x28x1)")
      ("arch", po::value(&r.arch), "one architecture (built-in name, NAS-Bench-201 string, genotype file)")
      ("sample", po::value(&r.sample)->default_value(0), "score N random architectures of the space (seeded)")
      ("all", po::bool_switch(&r.all), "score all 15,625 NAS-Bench-201 cells")
      ("run", po::value(&r.run_dir), "score every finished candidate of a NASNet campaign on its "
       "proxy network and data, then print each proxy's Spearman correlation with the candidates' "
       "proxy accuracy")
      ("output,o", po::value(&r.output), "scores CSV; rows already in it are not scored again (resume)")
      ("proxies", po::value(&r.proxies)->default_value(r.proxies),
       "comma-separated: synflow, naswot, grad_norm, snip, jacob_cov, params, macs, or all")
      ("batch", po::value(&r.batch)->default_value(r.batch), "images in the minibatch (naswot, grad_norm, snip, jacob_cov)")
      ("data-dir", po::value(&r.data_dir)->default_value(r.data_dir),
       "images for the minibatch (IDX or CIFAR); for nb201 padded / replicated to the network's input")
      ("seed", po::value(&r.seed)->default_value(0), "weights, minibatch and --sample")
      ("threads", po::value(&r.threads)->default_value(r.threads), "OpenMP threads (default: the CPUs this process may use)")
      ("table", po::value(&r.table), "NAS-Bench-201 table: print each proxy's Spearman correlation "
       "with its 200-epoch test accuracies over the rows of SCORES.csv");
  // clang-format on
  add_stacking_options(options, r.stacking);
  if (!parse_args(args, options, usage_line, r.vm)) return std::nullopt;
  r.usage = usage_text(usage_line, options);
  const std::string& usage = r.usage;
  if (r.space != "nb201" && r.space != "nasnet")
    throw UsageError("--space: '" + r.space + "' is not nb201 or nasnet", usage);
  if (r.output.empty()) throw UsageError("-o SCORES.csv is required", usage);
  const int sources = !r.arch.empty() + (r.sample > 0) + r.all + !r.run_dir.empty();
  if (sources > 1) throw UsageError("give only one of --arch, --sample, --all and --run", usage);
  if (sources == 0 && r.table.empty())
    throw UsageError("give --arch, --sample N, --all or --run (or --table to only correlate)",
                     usage);
  if (r.sample < 0 || r.sample > 1000000)
    throw UsageError("--sample must be in [0, 1000000]", usage);
  if (r.all && r.space != "nb201") throw UsageError("--all needs --space nb201", usage);
  if (r.batch < 2 || r.batch > 4096) throw UsageError("--batch must be in [2, 4096]", usage);
  if (r.threads < 1 || r.threads > 1024) throw UsageError("--threads must be in [1, 1024]", usage);
  std::stringstream in(r.proxies);
  for (std::string name; std::getline(in, name, ',');) {
    if (name == "all") continue;
    const auto p = zero_cost_proxy_from_name(name);
    if (!p) throw UsageError("--proxies: '" + name + "' is not a zero-cost proxy", usage);
    r.wanted.push_back(*p);
  }
  return r;
}

// The architectures to score, in a fixed order (a resumed run walks the same list).
std::vector<Architecture> architectures(const ZeroCostRequest& r) {
  std::vector<Architecture> out;
  if (!r.arch.empty()) {
    out.push_back(load_arch(r.arch, r.usage, r.space));
    return out;
  }
  const Nb201Space nb201;
  if (r.all) {
    for (int k = 0; k < Nb201Space::kArchitectures; ++k)
      out.push_back(Nb201Genotype{"", nb201.from_dense_index(k)});
    return out;
  }
  const NasnetSpace nasnet{NasnetSpaceConfig{}};
  const SearchSpace& space = r.space == "nb201" ? static_cast<const SearchSpace&>(nb201) : nasnet;
  Rng rng(r.seed);
  std::set<std::string> seen;
  const int limit = r.space == "nb201" ? std::min(r.sample, Nb201Space::kArchitectures) : r.sample;
  while (static_cast<int>(out.size()) < limit) {
    const DecisionSeq seq = space.sample(rng);
    if (!seen.insert(space.canonical_hash(seq)).second) continue;
    if (r.space == "nb201")
      out.push_back(Nb201Genotype{"", seq});
    else
      out.push_back(nasnet.decode(seq));
  }
  return out;
}

bool needs_batch(const std::vector<ZeroCostProxy>& wanted) {
  if (wanted.empty()) return true;
  for (ZeroCostProxy p : wanted)
    if (p != ZeroCostProxy::synflow && p != ZeroCostProxy::params && p != ZeroCostProxy::macs)
      return true;
  return false;
}

// One minibatch of training images in the network's input shape (trainer/zero_cost.h).
ZeroCostBatch load_batch(const ZeroCostRequest& r, Shape input) {
  DataOptions d;
  d.dir = r.data_dir;
  d.train_images = r.batch;
  d.valid_images = 1;
  d.seed = r.seed;
  return zero_cost_batch(load_dataset(d), r.batch, input);
}

NetworkSpec network_spec(ZeroCostRequest& r, const Architecture& first) {
  apply_space_defaults(first, r.vm, r.stacking, r.usage);
  if (r.space == "nasnet") {  // the Fashion-MNIST proxy network of configs/fashion-mnist.ini
    if (r.vm["input"].defaulted()) r.stacking.input = "28x28x1";
    if (r.vm["cells-per-stack"].defaulted()) r.stacking.cells_per_stack = 2;
    if (r.vm["filters"].defaulted()) r.stacking.filters = 16;
  }
  return to_network_spec(r.stacking, r.usage);
}

std::string arch_text(const Architecture& a) {
  return a.is_nb201() ? describe(a) : architecture_to_json(a).dump();
}

// Scores `todo` into r.output, one CSV row per architecture (appended as it is scored, so an
// interrupted run resumes), printing progress about every 1% of the list.
void score_into(const ZeroCostRequest& r, const std::vector<const Architecture*>& todo,
                const NetworkSpec& spec, const ZeroCostBatch& batch, uint64_t seed) {
  ZeroCostOptions options;
  options.seed = seed;
  options.proxies = r.wanted;
  ZeroCostCsvWriter writer(r.output);
  const auto start = std::chrono::steady_clock::now();
  const size_t every = std::max<size_t>(1, todo.size() / 100);
  for (size_t k = 0; k < todo.size(); ++k) {
    const Architecture& a = *todo[k];
    const ZeroCostScores s = score_zero_cost(build_network(a, spec), batch, options);
    writer.append({arch_text(a), canonical_hash(a), s.value, s.total_seconds});
    if ((k + 1) % every == 0 || k + 1 == todo.size()) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%zu/%zu scored (%.2f s each, %.0f s left)  last: synflow %.4g naswot %.4g\n",
                  k + 1, todo.size(), elapsed / (k + 1), elapsed / (k + 1) * (todo.size() - k - 1),
                  s.get(ZeroCostProxy::synflow), s.get(ZeroCostProxy::naswot));
      std::fflush(stdout);
    }
  }
}

// The architectures of `archs` that r.output does not hold yet.
std::vector<const Architecture*> not_scored(const ZeroCostRequest& r,
                                            const std::vector<Architecture>& archs) {
  std::set<std::string> done;
  for (const ZeroCostRow& row : read_zero_cost_csv(r.output)) done.insert(row.hash);
  std::vector<const Architecture*> todo;
  for (const Architecture& a : archs)
    if (!done.count(canonical_hash(a))) todo.push_back(&a);
  std::printf("%zu architectures: %zu already in %s, %zu to score\n", archs.size(),
              archs.size() - todo.size(), r.output.c_str(), todo.size());
  return todo;
}

// One markdown table row per proxy that has any score in `rows`: the proxy's name, then its
// Spearman correlation with each column of `truth` (truth[c][i] belongs to rows[i]).
void print_spearman(const std::vector<const ZeroCostRow*>& rows,
                    const std::vector<std::vector<double>>& truth) {
  for (int k = 0; k < kZeroCostProxyCount; ++k) {
    std::vector<double> x;
    for (const ZeroCostRow* row : rows) x.push_back(row->value[k]);
    if (std::all_of(x.begin(), x.end(), [](double v) { return std::isnan(v); })) continue;
    std::printf("| %s |", std::string(zero_cost_proxy_name(static_cast<ZeroCostProxy>(k))).c_str());
    for (const std::vector<double>& y : truth) std::printf(" %.3f |", spearman_rho(x, y));
    std::printf("\n");
  }
}

void score_all(ZeroCostRequest& r, const std::vector<Architecture>& archs) {
  const std::vector<const Architecture*> todo = not_scored(r, archs);
  if (todo.empty()) return;
  const NetworkSpec spec = network_spec(r, *todo.front());
  ZeroCostBatch batch;
  if (needs_batch(r.wanted)) batch = load_batch(r, spec.input);
  score_into(r, todo, spec, batch, r.seed);
}

// A campaign's finished candidates, scored on its proxy network and a minibatch of its proxy
// data (the campaign's seed), then each proxy's Spearman correlation with their proxy accuracy.
void score_campaign(ZeroCostRequest& r) {
  const CampaignConfig config = load_run_config(r.run_dir, {});
  if (config.space_type != "nasnet")
    throw std::runtime_error(r.run_dir +
                             ": --run scores NASNet campaigns (NAS-Bench-201 cells: --all)");
  const ResultsStore store(std::filesystem::path(r.run_dir) / "results.sqlite", StoreAccess::read);
  std::vector<Architecture> archs;
  std::map<std::string, double> accuracy_of;
  for (const CandidateRecord& c : store.candidates())
    if (c.accuracy && !c.reused_from && accuracy_of.emplace(c.hash, *c.accuracy).second)
      archs.emplace_back(store.genotype(c));
  std::printf("%s: %zu finished candidates\n", r.run_dir.c_str(), archs.size());
  if (const std::vector<const Architecture*> todo = not_scored(r, archs); !todo.empty()) {
    DataOptions d = config.proxy.data;
    d.train_images = r.batch;
    d.valid_images = 1;
    d.load_test = false;
    const DataSplits data = load_dataset(d);
    NetworkSpec spec = config.proxy.network;
    spec.input = data.train.shape;
    spec.classes = data.train.classes;
    score_into(r, todo, spec, zero_cost_batch(data, r.batch, spec.input), config.seed);
  }
  std::vector<const ZeroCostRow*> rows;
  std::vector<double> accuracy;
  const std::vector<ZeroCostRow> scores = read_zero_cost_csv(r.output);
  for (const ZeroCostRow& row : scores)
    if (const auto it = accuracy_of.find(row.hash); it != accuracy_of.end())
      rows.push_back(&row), accuracy.push_back(it->second);
  std::printf(
      "Spearman rank correlation with the proxy accuracy, %zu candidates\n"
      "| proxy | rho |\n|---|---|\n",
      rows.size());
  print_spearman(rows, {accuracy});
}

// Spearman correlation of every proxy with the three datasets' 200-epoch test accuracies.
void correlate(const ZeroCostRequest& r) {
  const Nb201Table table = Nb201Table::load(r.table);
  std::vector<const ZeroCostRow*> rows;
  std::vector<const Nb201Row*> truth;
  const std::vector<ZeroCostRow> scores = read_zero_cost_csv(r.output);
  for (const ZeroCostRow& row : scores) {
    if (row.arch.empty() || row.arch.front() != '|') continue;  // NASNet rows have no table
    if (const Nb201Row* t = table.find(row.arch)) rows.push_back(&row), truth.push_back(t);
  }
  std::printf(
      "Spearman rank correlation with the 200-epoch test accuracy, %zu NAS-Bench-201 cells\n"
      "| proxy | cifar10 | cifar100 | imagenet16 |\n|---|---|---|---|\n",
      rows.size());
  std::vector<std::vector<double>> accuracy(kNb201Datasets);
  for (int d = 0; d < kNb201Datasets; ++d)
    for (const Nb201Row* t : truth) accuracy[d].push_back(t->accuracy[d].test_200ep);
  print_spearman(rows, accuracy);
}

}  // namespace

int run_zero_cost(const Args& args) {
  std::optional<ZeroCostRequest> request = parse_request(args);
  if (!request) return 0;
  ZeroCostRequest& r = *request;
  omp_set_num_threads(r.threads);
  if (!r.run_dir.empty()) {
    score_campaign(r);
    return 0;
  }
  if (!r.arch.empty() || r.sample > 0 || r.all) score_all(r, architectures(r));
  if (!r.table.empty()) correlate(r);
  return 0;
}

}  // namespace cf::cli

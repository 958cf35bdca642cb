// cellforge benchmark nb201: search strategies on the NAS-Bench-201 table.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "controller/nb201_benchmark.h"
#include "results/zero_cost_csv.h"
#include "search/cli/options.h"
#include "trainer/cpus.h"
#include "search/config.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

// Command-line names of the ControllerOptions fields, for error messages.
std::string option_flag(const std::string& field) {
  static const std::pair<const char*, const char*> kFlags[] = {
      {"evolution.population", "--population"},
      {"evolution.sample_size", "--sample-size"},
      {"evolution.identity_prob", "--identity-prob"},
      {"rl.lstm_hidden", "--lstm-hidden"},
      {"rl.init_range", "--init-range"},
      {"rl.learning_rate", "--lr"},
      {"rl.entropy_weight", "--entropy-weight"},
      {"rl.baseline_decay", "--baseline-decay"},
      {"rl.ppo_clip", "--ppo-clip"},
      {"rl.ppo_epochs", "--ppo-epochs"},
      {"rl.batch_size", "--batch-size"},
      {"rl.grad_clip", "--grad-clip"},
  };
  for (const auto& [name, flag] : kFlags)
    if (field == name) return flag;
  return field;
}

// Query counts at which the best-so-far curve is reported: 1, 2, 5, 10, 20, 50, ... and Q.
std::vector<int> curve_points(int queries) {
  std::vector<int> points;
  for (int scale = 1; scale <= queries; scale *= 10)
    for (int m : {1, 2, 5})
      if (m * scale < queries) points.push_back(m * scale);
  points.push_back(queries);
  return points;
}

// A double option whose default shows as "0.05" rather than "0.050000000000000003".
po::typed_value<double>* real(double* value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", *value);
  return po::value(value)->default_value(*value, text);
}

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nullptr;
}

// What the command line asked for, validated.
struct BenchmarkArgs {
  std::string table_path, strategy, scores_path, warmup, proposal;
  std::vector<ZeroCostProxy> warmup_proxies, proposal_proxies;
  Nb201Dataset dataset = Nb201Dataset::cifar10;
  int queries = 0, runs = 0, threads = 1;
  uint64_t seed = 0;
  bool json = false;
  ControllerOptions options;
};

// Defaults tuned for this benchmark at 100 queries on the search signal alone (mean
// cifar10_valid_12ep of the returned cell, seed 777, never the test columns). The library
// defaults (ControllerOptions) are the papers' settings for large campaigns.
ControllerOptions benchmark_defaults() {
  ControllerOptions options;
  options.evolution.population = 30;
  options.evolution.sample_size = 20;
  options.evolution.identity_prob = 0.05;
  options.rl.algorithm = RlAlgorithm::ppo;
  options.rl.learning_rate = 0.02;
  options.rl.entropy_weight = 0.01;
  options.rl.batch_size = 10;
  options.rl.ppo_epochs = 2;
  return options;
}

void add_strategy_options(po::options_description& evolution, po::options_description& rl,
                          ControllerOptions& options, std::string& algorithm_name) {
  auto add = evolution.add_options();
  auto& evo = options.evolution;
  add("population", po::value(&evo.population)->default_value(evo.population),
      "P: population size");
  add("sample-size", po::value(&evo.sample_size)->default_value(evo.sample_size),
      "S: tournament size (drawn with replacement)");
  add("identity-prob", real(&evo.identity_prob), "probability of an unmutated child");
  add = rl.add_options();
  auto& rlo = options.rl;
  add("rl-algorithm", po::value(&algorithm_name)->default_value(algorithm_name), "ppo | reinforce");
  add("lstm-hidden", po::value(&rlo.lstm_hidden)->default_value(rlo.lstm_hidden), "LSTM units");
  add("init-range", real(&rlo.init_range), "initial weights uniform in +-range");
  add("lr", real(&rlo.learning_rate), "Adam learning rate");
  add("entropy-weight", real(&rlo.entropy_weight), "entropy bonus weight");
  add("baseline-decay", real(&rlo.baseline_decay), "reward baseline moving-average decay");
  add("ppo-clip", real(&rlo.ppo_clip), "PPO clip epsilon");
  add("ppo-epochs", po::value(&rlo.ppo_epochs)->default_value(rlo.ppo_epochs),
      "PPO optimiser steps per batch");
  add("batch-size", po::value(&rlo.batch_size)->default_value(rlo.batch_size),
      "episodes per update");
  add("grad-clip", real(&rlo.grad_clip), "gradient-norm limit (0 = none)");
}

// "PROXY[+PROXY...]:N" -> N, with the proxies; 0 for an empty spec.
int parse_guide(const std::string& text, const char* flag, const std::string& usage,
                std::vector<ZeroCostProxy>& proxies) {
  try {
    GuideSpec spec = parse_guide_spec(text);
    proxies = std::move(spec.proxies);
    return spec.count;
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string(flag) + ": " + e.what(), usage);
  }
}

void validate_benchmark_args(BenchmarkArgs& a, const po::variables_map& vm,
                             const std::string& benchmark, const std::string& dataset_name,
                             const std::string& algorithm_name, const std::string& usage) {
  if (benchmark.empty()) throw UsageError("missing the benchmark name (nb201)", usage);
  if (benchmark != "nb201")
    throw UsageError("unknown benchmark '" + benchmark + "' (expected nb201)", usage);
  if (a.table_path.empty()) throw UsageError("--table is required", usage);
  if (a.strategy.empty()) throw UsageError("--strategy is required", usage);
  const auto names = controller_names();
  if (std::find(names.begin(), names.end(), a.strategy) == names.end())
    throw UsageError("--strategy: '" + a.strategy + "' is not random, evolution or rl", usage);
  if (!vm.count("queries")) throw UsageError("--queries is required", usage);
  if (!vm.count("runs")) throw UsageError("--runs is required", usage);
  if (a.queries < 1)
    throw UsageError("--queries: must be >= 1, got " + std::to_string(a.queries), usage);
  if (a.runs < 1) throw UsageError("--runs: must be >= 1, got " + std::to_string(a.runs), usage);
  if (a.threads < 1 || a.threads > 1024)
    throw UsageError("--threads: must be in [1, 1024], got " + std::to_string(a.threads), usage);
  const auto dataset = nb201_dataset_from_name(dataset_name);
  if (!dataset)
    throw UsageError("--dataset: '" + dataset_name + "' is not cifar10, cifar100 or imagenet16",
                     usage);
  a.dataset = *dataset;
  const auto algorithm = rl_algorithm_from_name(algorithm_name);
  if (!algorithm)
    throw UsageError("--rl-algorithm: '" + algorithm_name + "' is not ppo or reinforce", usage);
  a.options.rl.algorithm = *algorithm;
  a.options.guide.warmup = parse_guide(a.warmup, "--warmup", usage, a.warmup_proxies);
  a.options.guide.proposal = parse_guide(a.proposal, "--proposal", usage, a.proposal_proxies);
  if ((!a.warmup.empty() || !a.proposal.empty()) && a.scores_path.empty())
    throw UsageError("--warmup and --proposal need --scores FILE (cellforge zero-cost --all)",
                     usage);
  if (!a.warmup.empty() && !a.proposal.empty() && a.warmup_proxies != a.proposal_proxies)
    throw UsageError("--warmup and --proposal must use the same proxies", usage);
  try {
    validate(a.options);
  } catch (const ControllerError& e) {
    const std::string message = e.what();
    const size_t colon = message.find(':');
    throw UsageError(option_flag(message.substr(0, colon)) + message.substr(colon), usage);
  }
}

// Parses and validates the command line; nullopt after --help.
std::optional<BenchmarkArgs> parse_benchmark_args(const Args& args) {
  const std::string usage_line =
      "cellforge benchmark nb201 --table FILE --strategy random|evolution|rl --queries Q "
      "--runs R [--dataset cifar10|cifar100|imagenet16] [--seed S] [--json] [--warmup PROXY:W] "
      "[--proposal PROXY:M --scores FILE] [strategy options]";
  BenchmarkArgs a;
  a.options = benchmark_defaults();
  a.threads = usable_cpus();
  std::string benchmark, dataset_name = "cifar10";
  std::string algorithm_name(rl_algorithm_name(a.options.rl.algorithm));
  po::options_description general("options");
  auto add = general.add_options();
  add("help,h", "show this help");
  add("table", po::value(&a.table_path), "nb201.csv (shared/data/nas-bench-201/)");
  add("strategy", po::value(&a.strategy), "random | evolution | rl");
  add("queries", po::value(&a.queries), "Q: proposals per search (a repeated architecture counts)");
  add("runs", po::value(&a.runs), "R: independent searches");
  add("dataset", po::value(&dataset_name)->default_value(dataset_name),
      "cifar10 | cifar100 | imagenet16: whose 12-epoch validation accuracy is the search signal");
  add("seed", po::value(&a.seed)->default_value(a.seed),
      "base seed; run r uses a seed derived from it");
  add("threads", po::value(&a.threads)->default_value(a.threads),
      "worker threads (results do not depend on it)");
  add("json", po::bool_switch(&a.json), "print one JSON object");
  add("warmup", po::value(&a.warmup),
      "PROXY[+PROXY...]:W zero-cost warm-up: the best of W random "
      "cells by the proxy (or the average rank of several) start the search");
  add("proposal", po::value(&a.proposal),
      "PROXY[+PROXY...]:M evolution proposes the best-scored "
      "of M mutations");
  add("scores", po::value(&a.scores_path),
      "zero-cost scores of every cell (cellforge zero-cost "
      "--all); needed by --warmup and --proposal");
  po::options_description evolution("evolution options"), rl("rl options");
  add_strategy_options(evolution, rl, a.options, algorithm_name);
  po::options_description all, shown;
  all.add(general).add(evolution).add(rl);
  all.add_options()("benchmark", po::value(&benchmark));  // positional, hidden from the help
  shown.add(general).add(evolution).add(rl);
  po::positional_options_description positional;
  positional.add("benchmark", 1);
  const std::string usage = usage_text(usage_line, shown);
  // parse_args prints the usage of the options it is given; print the visible ones on --help.
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::cout << usage;
    return std::nullopt;
  }
  po::variables_map vm;
  try {
    if (!parse_args(args, all, usage_line, vm, &positional)) return std::nullopt;
  } catch (const UsageError& e) {
    throw UsageError(e.what(), usage);
  }
  validate_benchmark_args(a, vm, benchmark, dataset_name, algorithm_name, usage);
  return a;
}

nlohmann::json strategy_options_json(const std::string& strategy,
                                     const ControllerOptions& options) {
  if (strategy == "evolution")
    return {{"population", options.evolution.population},
            {"sample_size", options.evolution.sample_size},
            {"identity_prob", options.evolution.identity_prob}};
  if (strategy == "rl")
    return {{"algorithm", rl_algorithm_name(options.rl.algorithm)},
            {"lstm_hidden", options.rl.lstm_hidden},
            {"init_range", options.rl.init_range},
            {"learning_rate", options.rl.learning_rate},
            {"entropy_weight", options.rl.entropy_weight},
            {"baseline_decay", options.rl.baseline_decay},
            {"ppo_clip", options.rl.ppo_clip},
            {"ppo_epochs", options.rl.ppo_epochs},
            {"batch_size", options.rl.batch_size},
            {"grad_clip", options.rl.grad_clip}};
  return nlohmann::json::object();
}

struct BenchmarkOutput {
  Nb201BenchmarkSummary summary;
  double table_best = 0, seconds = 0;
  double seconds_per_score = 0;  // mean of the scores file's seconds column
};

void print_json(const BenchmarkArgs& a, const BenchmarkOutput& o) {
  const std::string ds(nb201_dataset_name(a.dataset));
  nlohmann::json curve = nlohmann::json::array();
  for (int q : curve_points(a.queries))
    curve.push_back({{"queries", q}, {"mean", number_or_null(o.summary.mean_curve[q - 1])}});
  const nlohmann::json out = {
      {"benchmark", "nb201"},
      {"strategy", a.strategy},
      {"dataset", ds},
      {"search_signal", ds + "_valid_12ep"},
      {"reported", ds + "_test_200ep"},
      {"runs", a.runs},
      {"queries", a.queries},
      {"seed", a.seed},
      {"mean", number_or_null(o.summary.mean_test)},
      {"std", number_or_null(o.summary.std_test)},
      {"runs_with_result", o.summary.runs_with_result},
      {"mean_signal", number_or_null(o.summary.mean_signal)},
      {"mean_unique", o.summary.mean_unique},
      {"curve", curve},
      {"table_best", o.table_best},
      {"warmup", a.warmup},
      {"proposal", a.proposal},
      {"zero_cost_scored_per_run", o.summary.mean_scored},
      {"zero_cost_seconds_per_run", o.summary.mean_scored * o.seconds_per_score},
      {"options", strategy_options_json(a.strategy, a.options)},
      {"threads", a.threads},
      {"seconds", o.seconds}};
  std::cout << out.dump() << "\n";
}

void print_text(const BenchmarkArgs& a, const BenchmarkOutput& o) {
  const std::string ds(nb201_dataset_name(a.dataset));
  const nlohmann::json strategy_options = strategy_options_json(a.strategy, a.options);
  const Nb201BenchmarkSummary& summary = o.summary;
  const int runs = a.runs, queries = a.queries;
  const std::vector<int> points = curve_points(queries);
  const std::string& strategy = a.strategy;
  const uint64_t seed = a.seed;
  const double table_best = o.table_best, seconds = o.seconds;
  const int threads = a.threads;
  std::printf("NAS-Bench-201 %s, strategy %s%s%s\n", ds.c_str(), strategy.c_str(),
              strategy_options.empty() ? "" : " ",
              strategy_options.empty() ? "" : strategy_options.dump().c_str());
  std::printf(
      "%d runs x %d queries, seed %llu; search signal %s_valid_12ep, reported %s_test_200ep\n",
      runs, queries, static_cast<unsigned long long>(seed), ds.c_str(), ds.c_str());
  if (summary.runs_with_result < runs)
    std::printf("warning: %d of %d runs found no architecture in the table\n",
                runs - summary.runs_with_result, runs);
  std::printf("returned architecture, test accuracy: %.2f +- %.2f %% (mean +- std over runs)\n",
              summary.mean_test, summary.std_test);
  std::printf("its search signal (valid, 12 epochs): %.2f %%\n", summary.mean_signal);
  std::printf("distinct architectures per run: %.1f of %d queries\n", summary.mean_unique, queries);
  if (summary.mean_scored > 0)
    std::printf(
        "zero-cost scorings per run (not queries): %.0f (%s%s%s), about %.0f s of scoring "
        "per run at the scores file's %.3f s per cell\n",
        summary.mean_scored, a.warmup.empty() ? "" : ("warm-up " + a.warmup).c_str(),
        !a.warmup.empty() && !a.proposal.empty() ? ", " : "",
        a.proposal.empty() ? "" : ("proposal " + a.proposal).c_str(),
        summary.mean_scored * o.seconds_per_score, o.seconds_per_score);
  std::printf("best-so-far test accuracy (mean over runs):\n  %-9s", "queries");
  for (int q : points) std::printf(" %7d", q);
  std::printf("\n  %-9s", "test %");
  for (int q : points) std::printf(" %7.2f", summary.mean_curve[q - 1]);
  std::printf("\nbest cell in the table by %s_test_200ep: %.2f %%\n", ds.c_str(), table_best);
  std::printf("time: %.2f s (%d threads)\n", seconds, threads);
}

}  // namespace

int run_benchmark(const Args& args) {
  const std::optional<BenchmarkArgs> a = parse_benchmark_args(args);
  if (!a) return 0;
  const Nb201Table table = Nb201Table::load(a->table_path);
  Nb201BenchmarkConfig config;
  config.strategy = a->strategy;
  config.options = a->options;
  config.dataset = a->dataset;
  config.queries = a->queries;
  config.runs = a->runs;
  config.seed = a->seed;
  config.threads = a->threads;
  BenchmarkOutput out;
  if (!a->scores_path.empty()) {
    const std::vector<ZeroCostRow> rows = read_zero_cost_csv(a->scores_path);
    const auto& proxies = a->warmup_proxies.empty() ? a->proposal_proxies : a->warmup_proxies;
    auto scores = std::make_shared<const std::vector<std::optional<double>>>(
        nb201_guide_scores(rows, proxies));
    double seconds = 0;
    for (const ZeroCostRow& row : rows) seconds += row.seconds;
    out.seconds_per_score = rows.empty() ? 0 : seconds / static_cast<double>(rows.size());
    const std::string path = a->scores_path;
    config.scorer = [scores, path, &table](const DecisionSeq& seq) {
      const auto& v = (*scores)[table.space().dense_index(seq)];
      if (!v)
        throw std::runtime_error(path + " has no score for " + table.space().arch_string(seq) +
                                 " (score every cell: cellforge zero-cost --all)");
      return *v;
    };
  }
  const auto start = std::chrono::steady_clock::now();
  out.summary = run_nb201_benchmark(table, config);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& row : table.rows())
    out.table_best = std::max(out.table_best, row.of(a->dataset).test_200ep);
  if (a->json)
    print_json(*a, out);
  else
    print_text(*a, out);
  return 0;
}

}  // namespace cf::cli

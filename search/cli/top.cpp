// cellforge top: a campaign's best candidates, or its Pareto front, as a table or JSON.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "results/store.h"
#include "search/cli/options.h"
#include "search/front.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {

nlohmann::json candidate_json(const ResultsStore& store, const CandidateRecord& r) {
  return {{"id", r.id},
          {"hash", r.hash},
          {"accuracy", *r.accuracy},
          {"params", r.params},
          {"macs", r.macs},
          {"train_seconds", r.train_seconds},
          {"genotype", store.genotype_json(r)},
          {"metrics", store.metrics_json(r)}};
}

// Successive halving: the epochs of each candidate's rung (empty without a [scheduler]).
std::map<std::pair<int64_t, int>, int> rung_epochs_of(const ResultsStore& store) {
  std::map<std::pair<int64_t, int>, int> out;
  for (const EvaluationRecord& e : store.evaluations()) out[{e.candidate, e.rung}] = e.epochs;
  return out;
}

void print_best(const ResultsStore& store, int n, bool json) {
  std::vector<CandidateRecord> best = store.ranked_candidates();
  if (static_cast<int>(best.size()) > n) best.resize(n);
  const auto epochs = rung_epochs_of(store);
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : best) {
      out.push_back(candidate_json(store, r));
      if (!epochs.empty()) {
        out.back()["rung"] = r.rung;
        out.back()["epochs"] = epochs.count({r.id, r.rung}) ? epochs.at({r.id, r.rung}) : 0;
      }
    }
    std::cout << out.dump(2) << "\n";
    return;
  }
  if (!epochs.empty()) {
    // Ranked by rung first: a score at more epochs is never compared with one at fewer.
    // (A supernet campaign's rung 0 is the supernet score: "supernet" in the epochs column.)
    std::vector<std::string> trained;
    for (const auto& r : best)
      trained.push_back(
          r.rung == 0 && store.metrics_json(r).contains("supernet")
              ? "supernet"
              : std::to_string(epochs.count({r.id, r.rung}) ? epochs.at({r.id, r.rung}) : 0));
    int width = 6;
    for (const auto& t : trained) width = std::max(width, static_cast<int>(t.size()));
    std::printf("%4s  %-6s  %-16s  %4s  %*s  %9s  %10s  %8s\n", "rank", "id", "hash", "rung", width,
                "epochs", "accuracy", "params", "seconds");
    for (size_t k = 0; k < best.size(); ++k) {
      const CandidateRecord& r = best[k];
      std::printf("%4zu  %-6lld  %-16s  %4d  %*s  %8.2f%%  %10lld  %8.1f\n", k + 1,
                  static_cast<long long>(r.id), r.hash.c_str(), r.rung, width, trained[k].c_str(),
                  100 * *r.accuracy, static_cast<long long>(r.params), r.train_seconds);
    }
    return;
  }
  // Tabular benchmarks also know the architecture's final (200-epoch) test accuracy.
  const bool tabular =
      !best.empty() && store.metrics_json(best.front()).contains("test_accuracy_200ep");
  std::printf("%4s  %-6s  %-16s  %9s  %10s  %8s%s\n", "rank", "id", "hash", "accuracy", "params",
              "seconds", tabular ? "  test(200ep)" : "");
  int rank = 1;
  for (const auto& r : best) {
    std::printf("%4d  %-6lld  %-16s  %8.2f%%  %10lld  %8.1f", rank++, static_cast<long long>(r.id),
                r.hash.c_str(), 100 * *r.accuracy, static_cast<long long>(r.params),
                r.train_seconds);
    if (tabular) std::printf("  %10.2f%%", store.metrics_json(r).value("test_accuracy_200ep", 0.0));
    std::printf("\n");
  }
}

// The front, best accuracy first, with every objective column (latency when measured).
void print_front(const ResultsStore& store, const CampaignFront& front, bool json) {
  if (json) {
    nlohmann::json objectives = {"accuracy"};
    for (CostKind kind : front.costs) objectives.push_back(cost_name(kind));
    nlohmann::json members = nlohmann::json::array();
    for (const FrontMember& m : front.members) {
      nlohmann::json entry = candidate_json(store, m.record);
      entry["latency_ms"] = m.latency_ms ? nlohmann::json(*m.latency_ms) : nlohmann::json();
      members.push_back(std::move(entry));
    }
    const nlohmann::json out = {{"objectives", objectives},
                                {"considered", front.considered},
                                {"unmeasured", front.unmeasured},
                                {"front", members}};
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::printf("Pareto front over accuracy and %s: %zu of %lld evaluated candidates\n",
              cost_list_text(front.costs).c_str(), front.members.size(),
              static_cast<long long>(front.considered));
  if (front.unmeasured > 0)
    std::printf("(%lld evaluated candidates without a latency measurement are left out)\n",
                static_cast<long long>(front.unmeasured));
  std::printf("%-6s  %-16s  %9s  %10s  %12s  %11s  %8s\n", "id", "hash", "accuracy", "params",
              "MACs", "latency(ms)", "seconds");
  for (const FrontMember& m : front.members) {
    const CandidateRecord& r = m.record;
    char latency[32] = "-";
    if (m.latency_ms) std::snprintf(latency, sizeof latency, "%.3f", *m.latency_ms);
    std::printf("%-6lld  %-16s  %8.2f%%  %10lld  %12lld  %11s  %8.1f\n",
                static_cast<long long>(r.id), r.hash.c_str(), 100 * *r.accuracy,
                static_cast<long long>(r.params), static_cast<long long>(r.macs), latency,
                r.train_seconds);
  }
}

}  // namespace

int run_top(const Args& args) {
  const std::string usage_line =
      "cellforge top RUN_DIR [-n K | --pareto [--objectives params,macs,latency]] [--json]";
  std::string run_dir, objectives;
  int n = 10;
  bool json = false, pareto = false;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("run-dir", po::value(&run_dir), "run directory")
      (",n", po::value(&n)->default_value(n), "how many candidates")
      ("pareto", po::bool_switch(&pareto),
       "list the Pareto front (non-dominated evaluated candidates) over accuracy and the "
       "campaign's objective.pareto costs (params for a scalar campaign)")
      ("objectives", po::value(&objectives),
       "with --pareto: the costs of the front instead, one or two of params, macs, latency")
      ("json", po::bool_switch(&json), "print JSON (--pareto: an object with the front)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (run_dir.empty()) throw UsageError("RUN_DIR is required", usage);
  if (n < 1) throw UsageError("-n must be at least 1", usage);
  if (pareto && !vm["-n"].defaulted())
    throw UsageError("--pareto lists the whole front; -n does not apply", usage);
  if (!pareto && vm.count("objectives")) throw UsageError("--objectives needs --pareto", usage);
  ResultsStore store(std::filesystem::path(run_dir) / "results.sqlite", StoreAccess::read);
  if (!pareto) {
    print_best(store, n, json);
    return 0;
  }
  print_front(store, campaign_front(store, front_costs_option(objectives, run_dir, usage)), json);
  return 0;
}

}  // namespace cf::cli

#pragma once
// A campaign report: one self-contained HTML file (inline SVG charts, no network access needed).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "results/store.h"

namespace cf {

struct ReportInput {
  std::string name;  // campaign name
  std::string space, strategy;
  int budget_candidates = 0;
  std::vector<CandidateRecord> candidates;
  std::vector<ResultsStore::Event> events;
  int top = 5;                           // candidates shown with their cell pictures
  std::string dataset;                   // the proxy dataset's directory
  std::vector<std::string> class_names;  // its classes in label order (empty: not readable)
  // The campaign's Pareto front (search/front.h computes it, as `top --pareto` lists it): what it
  // is over ("accuracy", "params", ...) and the ids on it, marked in the charts and tables.
  std::vector<std::string> front_objectives;
  std::set<int64_t> front;
  std::map<int64_t, double> latency_ms;  // measured inference latency by candidate id (when any)
  // Successive halving ([scheduler]): every evaluation and the epochs of each rung (both empty
  // otherwise): a table per rung and a chart of the promotions.
  std::vector<EvaluationRecord> evaluations;
  std::vector<int> rung_epochs;
  // Supernet campaigns: each scored candidate's supernet score (0..1), what the charts plot (a
  // candidate's accuracy is its stand-alone one once retrained); `evaluations` then holds the
  // stand-alone retrainings, listed beside their scores. Empty otherwise.
  std::map<int64_t, double> supernet_score;
  // SVG of a genotype's cells (empty when Graphviz is missing: the DOT text is shown instead).
  std::string (*cell_svg)(const std::string& genotype_json) = nullptr;
};

std::string campaign_report_html(const ReportInput& input);

}  // namespace cf

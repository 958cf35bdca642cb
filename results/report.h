#pragma once
// A campaign report: one self-contained HTML file (inline SVG charts, no network access needed).
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
  // SVG of a genotype's cells (empty when Graphviz is missing: the DOT text is shown instead).
  std::string (*cell_svg)(const std::string& genotype_json) = nullptr;
};

std::string campaign_report_html(const ReportInput& input);

}  // namespace cf

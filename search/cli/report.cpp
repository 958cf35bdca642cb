// cellforge report: one self-contained HTML page about a campaign.
#include "results/report.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "results/draw.h"
#include "search/campaign.h"
#include "search/cli/options.h"
#include "search/front.h"
#include "space/file_io.h"
#include "trainer/data.h"

namespace cf::cli {

namespace po = boost::program_options;

namespace {
std::string nasnet_cell_svg(const std::string& genotype_json) {
  try {
    return dot_to_svg(genotype_dot(parse_genotype(genotype_json)));
  } catch (const std::exception&) {
    return "";  // not a NASNet genotype: the report shows the JSON instead
  }
}
}  // namespace

int run_report(const Args& args) {
  const std::string usage_line = "cellforge report RUN_DIR -o report.html [--top K]";
  std::string run_dir, output;
  int top = 5;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "run-dir", po::value(&run_dir), "campaign run directory")("output,o", po::value(&output),
                                                                "HTML file to write")(
      "top", po::value(&top)->default_value(top), "candidates shown with their cell pictures");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_args(args, options, usage_line, vm, &positional)) return 0;
  const std::string usage = usage_text(usage_line, options);
  if (run_dir.empty() || output.empty())
    throw UsageError("RUN_DIR and -o FILE are required", usage);
  if (top < 0) throw UsageError("--top must be >= 0", usage);
  const CampaignConfig config = load_run_config(run_dir, {});
  ResultsStore store(std::filesystem::path(run_dir) / "results.sqlite", StoreAccess::read);
  ReportInput input;
  input.name = config.name;
  input.space = config.space_type;
  input.strategy = config.strategy;
  input.budget_candidates = config.candidates;
  input.candidates = store.candidates();
  input.events = store.events();
  if (config.scheduler.kind != SchedulerKind::none) {
    input.evaluations = store.evaluations();
    input.rung_epochs = rung_epochs(config.scheduler);
  }
  if (config.supernet.epochs > 0) {
    input.evaluations = store.evaluations();
    for (const CandidateRecord& r : input.candidates) {
      const nlohmann::json m = store.metrics_json(r);
      if (r.status == CandidateStatus::done && m.contains("supernet") &&
          m["supernet"].value("accuracy", nlohmann::json()).is_number())
        input.supernet_score[r.id] = m["supernet"]["accuracy"].get<double>();
    }
  }
  input.top = top;
  input.cell_svg = nasnet_cell_svg;
  // The front `top --pareto` lists: over the campaign's objective.pareto costs, or params.
  const CampaignFront front = campaign_front(store, default_front_costs(config));
  input.front_objectives = {"accuracy"};
  for (CostKind kind : front.costs) input.front_objectives.emplace_back(cost_name(kind));
  for (const FrontMember& m : front.members) input.front.insert(m.record.id);
  for (const CandidateRecord& r : input.candidates)
    if (const auto ms = latency_ms(store.metrics_json(r))) input.latency_ms[r.id] = *ms;
  if (config.space_type == "nasnet") {
    input.dataset = config.proxy.data.dir.string();
    try {  // the class names, when the dataset is readable here (image folders: from the cache)
      DataOptions d = config.proxy.data;
      d.valid_images = 1;
      d.train_images = 1;
      d.load_test = false;
      input.class_names = load_dataset(d).class_names;
    } catch (const std::exception&) {
    }
  }
  write_file_atomic(output, campaign_report_html(input));
  std::printf("wrote %s (%zu candidates)\n", output.c_str(), input.candidates.size());
  return 0;
}

}  // namespace cf::cli

#include "results/report.h"

#include "results/escape.h"
#include "space/pareto.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace cf {

namespace {

std::string escape(const std::string& s) { return html_escape(s); }

// A cell picture from Graphviz is inlined only when it holds nothing active (Graphviz escapes
// the names it was given; this guards against a tampered or unusual renderer).
bool inert_svg(const std::string& svg) {
  for (const char* bad : {"<script", "javascript:", "href", "<foreignObject"})
    if (svg.find(bad) != std::string::npos) return false;
  // Event-handler attributes: " on<letters>=".
  for (size_t at = svg.find(" on"); at != std::string::npos; at = svg.find(" on", at + 1)) {
    size_t k = at + 3;
    while (k < svg.size() && std::isalpha(static_cast<unsigned char>(svg[k]))) ++k;
    if (k > at + 3 && k < svg.size() && svg[k] == '=') return false;
  }
  return true;
}

std::string fmt(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

struct Point {
  double x, y;
  int64_t id;
  bool highlight = false;  // on the campaign's Pareto front
};

// How a chart's x axis is scaled and labelled: candidate ids, counts (params, MACs: log scale,
// "k"/"M") or milliseconds.
enum class Axis { linear, log_count, milliseconds };

// A scatter/line chart as inline SVG.
std::string chart_svg(const std::string& id, const std::string& title, const std::string& x_label,
                      const std::string& y_label, const std::vector<Point>& points,
                      const std::vector<std::vector<Point>>& lines, Axis axis) {
  const bool log_x = axis == Axis::log_count;
  const double width = 560, height = 320, left = 60, right = 20, top = 30, bottom = 45;
  std::ostringstream s;
  s << "<svg id=\"" << id << "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " " << height << "\">";
  s << "<text x=\"" << width / 2 << "\" y=\"18\" text-anchor=\"middle\" class=\"title\">" << escape(title) << "</text>";
  if (points.empty()) {
    s << "<text x=\"" << width / 2 << "\" y=\"" << height / 2 << "\" text-anchor=\"middle\">no finished candidates yet</text></svg>";
    return s.str();
  }
  auto tx = [&](double x) { return log_x ? std::log10(std::max(x, 1.0)) : x; };
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& p : points) {
    x0 = std::min(x0, tx(p.x)), x1 = std::max(x1, tx(p.x));
    y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  if (x1 - x0 < 1e-9) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-9) y0 -= 0.5, y1 += 0.5;
  const double ypad = (y1 - y0) * 0.05;
  y0 -= ypad, y1 += ypad;
  auto px = [&](double x) { return left + (tx(x) - x0) / (x1 - x0) * (width - left - right); };
  auto py = [&](double y) { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); };
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << width - left - right << "\" height=\""
    << height - top - bottom << "\" class=\"frame\"/>";
  for (int k = 0; k <= 4; ++k) {
    const double y = y0 + (y1 - y0) * k / 4, x = x0 + (x1 - x0) * k / 4;
    s << "<text x=\"" << left - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\" class=\"tick\">" << fmt(y, 1) << "</text>";
    const double xv = log_x ? std::pow(10.0, x) : x;
    s << "<text x=\"" << left + (x - x0) / (x1 - x0) * (width - left - right) << "\" y=\"" << height - bottom + 16
      << "\" text-anchor=\"middle\" class=\"tick\">"
      << (log_x ? (xv >= 1e6 ? fmt(xv / 1e6, 2) + "M" : fmt(xv / 1e3, 0) + "k") : fmt(xv, axis == Axis::milliseconds ? 2 : 0))
      << "</text>";
  }
  s << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 6 << "\" text-anchor=\"middle\" class=\"label\">"
    << escape(x_label) << "</text>";
  s << "<text x=\"14\" y=\"" << (top + height - bottom) / 2 << "\" text-anchor=\"middle\" class=\"label\" transform=\"rotate(-90 14 "
    << (top + height - bottom) / 2 << ")\">" << escape(y_label) << "</text>";
  for (const auto& line : lines) {
    if (line.size() < 2) continue;
    s << "<polyline class=\"line\" points=\"";
    for (const auto& p : line) s << px(p.x) << "," << py(p.y) << " ";
    s << "\"/>";
  }
  for (const auto& p : points)
    s << "<circle cx=\"" << px(p.x) << "\" cy=\"" << py(p.y) << "\" r=\"" << (p.highlight ? 5 : 3.5) << "\" class=\""
      << (p.highlight ? "pareto" : "point") << "\"><title>candidate " << p.id << ": " << fmt(p.y) << "%"
      << (p.highlight ? " (Pareto front)" : "") << "</title></circle>";
  s << "</svg>";
  return s.str();
}

// Successive halving: per rung, its evaluations and best result; then every evaluation as a
// point at its epochs, each promoted candidate's results joined by a line.
std::string rungs_html(const ReportInput& in) {
  const size_t count = in.rung_epochs.size();
  std::vector<int> done(count), failed(count), pending(count);
  std::vector<double> best(count, -1);
  std::map<int64_t, std::vector<Point>> paths;
  std::vector<Point> points;
  for (const EvaluationRecord& e : in.evaluations) {
    if (e.rung < 0 || static_cast<size_t>(e.rung) >= count) continue;
    const auto k = static_cast<size_t>(e.rung);
    if (e.status == CandidateStatus::pending) ++pending[k];
    if (e.status == CandidateStatus::failed) ++failed[k];
    if (e.status != CandidateStatus::done || !e.accuracy) continue;
    ++done[k];
    best[k] = std::max(best[k], 100 * *e.accuracy);
    if (e.reused_from) continue;
    const Point p{static_cast<double>(e.epochs), 100 * *e.accuracy, e.candidate, e.rung > 0};
    points.push_back(p);
    paths[e.candidate].push_back(p);
  }
  std::vector<std::vector<Point>> lines;
  for (auto& [candidate, path] : paths)
    if (path.size() > 1) lines.push_back(std::move(path));
  std::ostringstream h;
  h << "<h2>Successive halving</h2>\n<table id=\"rungs\"><tr><th>rung</th><th>epochs</th>"
       "<th>done</th><th>failed</th><th>pending</th><th>best accuracy</th></tr>";
  for (size_t k = 0; k < count; ++k)
    h << "<tr><td>" << k << "</td><td>" << in.rung_epochs[k] << "</td><td>" << done[k]
      << "</td><td>" << failed[k] << "</td><td>" << pending[k] << "</td><td>"
      << (best[k] >= 0 ? fmt(best[k]) + "%" : "-") << "</td></tr>";
  h << "</table>\n<div class=\"charts\">"
    << chart_svg("chart-rungs", "Promotions: accuracy at each rung (red: promoted)",
                 "training epochs", "validation accuracy (%)", points, lines, Axis::linear)
    << "</div>\n";
  return h.str();
}

// Supernet campaigns: the best cells by supernet score, retrained stand-alone.
std::string retrained_html(const ReportInput& in) {
  std::map<int64_t, const CandidateRecord*> by_id;
  for (const auto& c : in.candidates) by_id[c.id] = &c;
  std::ostringstream h;
  h << "<h2>Supernet</h2>\n<p>" << in.supernet_score.size()
    << " candidates scored with the supernet's inherited weights (batch-norm statistics "
       "recalibrated); the best " << in.evaluations.size()
    << " distinct cells trained stand-alone with the proxy settings.</p>\n"
       "<table id=\"retrained\"><tr><th>id</th><th>hash</th><th>supernet score</th>"
       "<th>stand-alone accuracy</th><th>params</th><th>seconds</th></tr>";
  for (const EvaluationRecord& e : in.evaluations) {
    const auto c = by_id.find(e.candidate);
    const auto score = in.supernet_score.find(e.candidate);
    h << "<tr><td>" << e.candidate << "</td><td><code>"
      << (c != by_id.end() ? escape(c->second->hash) : "") << "</code></td><td>"
      << (score != in.supernet_score.end() ? fmt(100 * score->second) + "%" : "-") << "</td><td>"
      << (e.status == CandidateStatus::done && e.accuracy
              ? fmt(100 * *e.accuracy) + "%"
              : escape(candidate_status_name(e.status)))
      << "</td><td>" << (c != by_id.end() ? c->second->params : 0) << "</td><td>"
      << fmt(e.train_seconds, 1) << "</td></tr>";
  }
  h << "</table>\n";
  return h.str();
}

}  // namespace

std::string campaign_report_html(const ReportInput& in) {
  std::vector<const CandidateRecord*> done;
  std::map<std::string, int> status_counts;
  double train_seconds = 0;
  for (const auto& c : in.candidates) {
    status_counts[c.reused_from ? "reused" : candidate_status_name(c.status)]++;
    if (!c.reused_from) train_seconds += c.train_seconds;
    if (c.status == CandidateStatus::done && c.accuracy) done.push_back(&c);
  }
  // What the charts plot: the proxy accuracy, or a supernet campaign's supernet score (the
  // measure every candidate has).
  const bool supernet = !in.supernet_score.empty();
  const auto plotted = [&](const CandidateRecord* c) {
    if (!supernet) return 100 * *c->accuracy;
    const auto it = in.supernet_score.find(c->id);
    return it == in.supernet_score.end() ? 0.0 : 100 * it->second;
  };
  const std::string measure = supernet ? "supernet score (%)" : "accuracy (%)";
  // Best so far over candidates (in id order), each candidate as a point.
  std::vector<Point> acc_points, best_line;
  double best = -1, best_plotted = -1;
  for (const auto* c : done) {
    acc_points.push_back({static_cast<double>(c->id), plotted(c), c->id});
    best = std::max(best, 100 * *c->accuracy);
    best_plotted = std::max(best_plotted, plotted(c));
    best_line.push_back({static_cast<double>(c->id), best_plotted, c->id});
  }
  // The params chart's line is the params-accuracy front (space/pareto.h, as everywhere); the
  // highlighted points are the campaign's front (in.front), which is the same set unless the
  // campaign optimises MACs or latency.
  std::vector<Objectives> params_objectives;
  for (const auto* c : done) params_objectives.push_back({-plotted(c), static_cast<double>(c->params)});
  std::vector<Point> front;
  for (size_t i : pareto_front(params_objectives))
    front.push_back({static_cast<double>(done[i]->params), plotted(done[i]), done[i]->id, true});
  std::sort(front.begin(), front.end(), [](const Point& a, const Point& b) { return a.x != b.x ? a.x < b.x : a.y < b.y; });
  // A reused duplicate sits on its source's point: marked with it.
  const auto marked = [&](const CandidateRecord* c) {
    return in.front.count(c->id) > 0 || (c->reused_from && in.front.count(*c->reused_from) > 0);
  };
  std::vector<Point> params_points, macs_points, latency_points;
  for (const auto* c : done) {
    params_points.push_back({static_cast<double>(c->params), plotted(c), c->id, marked(c)});
    macs_points.push_back({static_cast<double>(c->macs), plotted(c), c->id, marked(c)});
    if (const auto it = in.latency_ms.find(c->id); it != in.latency_ms.end())
      latency_points.push_back({it->second, plotted(c), c->id, marked(c)});
  }
  for (size_t i = 0; i < done.size(); ++i) acc_points[i].highlight = marked(done[i]);
  const bool with_latency = !latency_points.empty();
  const auto latency_cell = [&](const CandidateRecord* c) {
    const auto it = in.latency_ms.find(c->id);
    return it == in.latency_ms.end() ? std::string("-") : fmt(it->second, 3);
  };
  std::string objectives;
  for (const auto& o : in.front_objectives) objectives += (objectives.empty() ? "" : ", ") + o;
  // A higher rung (more epochs, successive halving) ranks first, as in `top`.
  std::vector<const CandidateRecord*> top = done;
  std::stable_sort(top.begin(), top.end(), [](const CandidateRecord* a, const CandidateRecord* b) {
    return a->rung != b->rung ? a->rung > b->rung : *a->accuracy > *b->accuracy;
  });
  const bool with_rungs = !in.rung_epochs.empty();
  if (static_cast<int>(top.size()) > in.top) top.resize(in.top);

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cellforge report: " << escape(in.name)
    << "</title>\n<style>\n"
       "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}"
       "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
       ".charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fff;border:1px solid #ddd}"
       ".frame{fill:none;stroke:#999}.tick{font-size:10px;fill:#555}.label{font-size:11px;fill:#333}"
       ".title{font-size:13px;font-weight:bold}.point{fill:#4a7fb5;fill-opacity:.7}.pareto{fill:#d9534f}"
       ".line{fill:none;stroke:#d9534f;stroke-width:2}"
       "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:right}"
       "th{background:#f4f4f4}.cell svg{max-width:1100px;height:auto}pre{font-size:11px;background:#f8f8f8;padding:8px}"
       "\n</style></head><body>\n";
  h << "<h1>cellforge campaign <code>" << escape(in.name) << "</code></h1>\n";
  h << "<p>" << escape(in.space) << " space, " << escape(in.strategy) << " strategy; " << in.candidates.size()
    << " candidates of " << in.budget_candidates << " budgeted; best proxy accuracy "
    << (best >= 0 ? fmt(best) + "%" : std::string("n/a")) << ".</p>\n";
  if (!in.dataset.empty()) {
    h << "<p id=\"dataset\">dataset <code>" << escape(in.dataset) << "</code>";
    if (!in.class_names.empty()) {
      h << ", " << in.class_names.size() << " classes: ";
      for (size_t c = 0; c < in.class_names.size(); ++c)
        h << (c ? ", " : "") << "<code>" << escape(in.class_names[c]) << "</code>";
    }
    h << "</p>\n";
  }
  h << "<h2>Status</h2><table id=\"status\"><tr><th>status</th><th>candidates</th></tr>";
  for (const auto& [k, v] : status_counts) h << "<tr><td>" << k << "</td><td>" << v << "</td></tr>";
  h << "</table>\n";
  std::string first_at = in.events.empty() ? "" : in.events.front().at, last_at = in.events.empty() ? "" : in.events.back().at;
  h << "<h2>Time</h2><p id=\"time\">" << fmt(train_seconds / 3600, 2) << " h of candidate training (" << fmt(train_seconds, 0)
    << " s); campaign from " << escape(first_at) << " to " << escape(last_at) << ".</p>\n";
  h << "<h2>Charts</h2><div class=\"charts\">\n"
    << chart_svg("chart-best", supernet ? "Best-so-far supernet score over candidates" : "Best-so-far accuracy over candidates", "candidate",
                 supernet ? measure : "validation accuracy (%)", acc_points, {best_line}, Axis::linear)
    << "\n"
    << chart_svg("chart-params", supernet ? "Supernet score against parameters (Pareto front in red)" : "Accuracy against parameters (Pareto front in red)", "parameters",
                 measure, params_points, {front}, Axis::log_count)
    << "\n"
    << chart_svg("chart-macs", supernet ? "Supernet score against MACs" : "Accuracy against MACs", "multiply-accumulates", measure,
                 macs_points, {}, Axis::log_count);
  if (with_latency)
    h << "\n" << chart_svg("chart-latency", supernet ? "Supernet score against latency" : "Accuracy against latency", "inference latency (ms, batch 1)", measure, latency_points, {}, Axis::milliseconds);
  h << "\n</div>\n";
  if (!objectives.empty())
    h << "<p id=\"front-note\">Red points: the Pareto front over " << escape(objectives) << " (" << in.front.size() << " candidates).</p>\n";
  if (with_rungs) h << rungs_html(in);
  if (supernet) h << retrained_html(in);
  h << "<h2>Top candidates</h2>\n<table id=\"top\"><tr><th>rank</th><th>id</th><th>hash</th>"
    << (with_rungs ? "<th>rung</th>" : "") << (supernet ? "<th>scored by</th>" : "") << "<th>accuracy</th><th>params</th><th>MACs</th>"
    << (with_latency ? "<th>latency (ms)</th>" : "") << "<th>seconds</th><th>front</th></tr>";
  int rank = 1;
  for (const auto* c : top) {
    h << "<tr><td>" << rank++ << "</td><td>" << c->id << "</td><td><code>" << escape(c->hash)
      << "</code></td><td>";
    if (with_rungs)
      h << c->rung << " (" << in.rung_epochs.at(static_cast<size_t>(c->rung)) << " ep)</td><td>";
    if (supernet) h << (c->rung > 0 ? "stand-alone" : "supernet") << "</td><td>";
    h << fmt(100 * *c->accuracy) << "%</td><td>" << c->params << "</td><td>" << c->macs << "</td>";
    if (with_latency) h << "<td>" << latency_cell(c) << "</td>";
    h << "<td>" << fmt(c->train_seconds, 1) << "</td><td>" << (marked(c) ? "yes" : "") << "</td></tr>";
  }
  h << "</table>\n";
  if (!objectives.empty()) {
    // Best accuracy first, as `top --pareto` lists it.
    std::vector<const CandidateRecord*> on_front;
    for (const auto* c : done)
      if (in.front.count(c->id)) on_front.push_back(c);
    std::stable_sort(on_front.begin(), on_front.end(),
                     [](const CandidateRecord* a, const CandidateRecord* b) { return *a->accuracy > *b->accuracy; });
    h << "<h2>Pareto front</h2>\n<p>Over " << escape(objectives) << ": no other evaluated candidate is at least as good in every "
      << "objective and better in one.</p>\n<table id=\"front\"><tr><th>id</th><th>hash</th><th>accuracy</th><th>params</th><th>MACs</th>"
      << (with_latency ? "<th>latency (ms)</th>" : "") << "<th>seconds</th></tr>";
    for (const auto* c : on_front) {
      h << "<tr><td>" << c->id << "</td><td><code>" << escape(c->hash) << "</code></td><td>" << fmt(100 * *c->accuracy) << "%</td><td>"
        << c->params << "</td><td>" << c->macs << "</td>";
      if (with_latency) h << "<td>" << latency_cell(c) << "</td>";
      h << "<td>" << fmt(c->train_seconds, 1) << "</td></tr>";
    }
    h << "</table>\n";
  }
  rank = 1;
  for (const auto* c : top) {
    h << "<h3>#" << rank++ << ": candidate " << c->id << " (" << fmt(100 * *c->accuracy) << "%)</h3><div class=\"cell\">";
    const std::string svg = in.cell_svg ? in.cell_svg(c->genotype) : "";
    if (!svg.empty() && inert_svg(svg)) h << svg.substr(std::min(svg.find("<svg"), svg.size()));
    else h << "<pre>" << escape(c->genotype) << "</pre>";
    h << "</div>\n";
  }
  h << "<script>\n// Marks the page ready once every chart is in place (checked by the test suite).\n"
       "document.body.dataset.charts = document.querySelectorAll('svg.chart').length;\n"
       "document.body.dataset.ready = 'yes';\n</script>\n</body></html>\n";
  return h.str();
}

}  // namespace cf

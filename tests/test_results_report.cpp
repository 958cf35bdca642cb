// The report's front: the candidates ReportInput::front names are highlighted in every chart
// (a reused duplicate with its source), listed in the front table best first, and latency gets a
// chart and columns only when some candidate has one.
#include <catch2/catch.hpp>
#include <string>

#include "results/report.h"

namespace {

cf::CandidateRecord done(int64_t id, double accuracy, int64_t params) {
  cf::CandidateRecord r;
  r.id = id;
  r.hash = std::string(15, 'a') + std::to_string(id % 10);
  r.genotype = "{}";
  r.status = cf::CandidateStatus::done;
  r.accuracy = accuracy;
  r.params = params;
  r.macs = 10 * params;
  return r;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string section(const std::string& html, const std::string& start) {
  const size_t at = html.find(start);
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</table>", at) - at);
}

}  // namespace

TEST_CASE("the report marks the front and shows latency when measured", "[report][pareto]") {
  cf::ReportInput in;
  in.name = "p";
  in.candidates = {done(1, 0.80, 5000), done(2, 0.90, 9000), done(3, 0.60, 7000),
                   done(4, 0.70, 2000)};
  cf::CandidateRecord duplicate = done(5, 0.90, 9000);
  duplicate.reused_from = 2;
  in.candidates.push_back(duplicate);
  in.front_objectives = {"accuracy", "params"};
  in.front = {1, 2, 4};

  const std::string plain = cf::campaign_report_html(in);
  CHECK(plain.find("id=\"chart-latency\"") == std::string::npos);
  CHECK(plain.find("latency (ms)") == std::string::npos);
  CHECK(plain.find("the Pareto front over accuracy, params (3 candidates)") != std::string::npos);
  // Three charts; candidates 1, 2, 4 and 2's duplicate 5 are highlighted in each.
  CHECK(count(plain, "(Pareto front)</title>") == 3 * 4);
  const std::string front = section(plain, "<table id=\"front\">");
  CHECK(count(front, "<tr><td>") == 3);
  CHECK(front.find("<tr><td>2</td>") < front.find("<tr><td>1</td>"));  // best accuracy first
  CHECK(front.find("<tr><td>1</td>") < front.find("<tr><td>4</td>"));
  CHECK(front.find("<tr><td>3</td>") == std::string::npos);
  CHECK(count(section(plain, "<table id=\"top\">"), "<td>yes</td>") == 4);  // 2, 5, 1, 4

  in.latency_ms = {{1, 0.25}, {2, 1.5}};
  const std::string timed = cf::campaign_report_html(in);
  CHECK(timed.find("id=\"chart-latency\"") != std::string::npos);
  CHECK(count(timed, "<th>latency (ms)</th>") == 2);  // top and front tables
  CHECK(section(timed, "<table id=\"front\">").find("<td>1.500</td>") != std::string::npos);
  CHECK(section(timed, "<table id=\"front\">").find("<td>-</td>") != std::string::npos);  // 4
  CHECK(count(timed, "(Pareto front)</title>") == 3 * 4 + 2);  // and 1, 2 on the latency chart
}

// cellforge report: a self-contained HTML page, rendered by headless Chromium without errors and
// with its charts.
#include <catch2/catch.hpp>

#include <fstream>

#include "campaign_fixtures.h"
#include "cli_helpers.h"
#include "skip.h"

using cf::test::run_cellforge;

TEST_CASE("the campaign report loads in a browser and shows its charts", "[report]") {
  cf::test::TempDir dir;
  cf::test::write_tiny_idx(dir / "data", 256);
  cf::test::write_file(dir / "c.ini", cf::test::tiny_config(dir / "data", dir / "run", 6, 2));
  REQUIRE(run_cellforge("search " + (dir / "c.ini").string()).exit_code == 0);
  const auto r = run_cellforge("report " + (dir / "run").string() + " -o " + (dir / "report.html").string());
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const std::string html = cf::test::read_file(dir / "report.html");
  for (const char* part : {"id=\"chart-best\"", "id=\"chart-params\"", "id=\"chart-macs\"", "id=\"top\"",
                           "id=\"status\"", "Pareto"})
    CHECK(html.find(part) != std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org"));  // nothing fetched from a network
  CHECK(html.find("<script src") == std::string::npos);
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    cf::test::skip("the browser check: chromium not installed (Debian package chromium)");
    return;
  }
  const std::string cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
                          "--disable-component-update --disable-sync --no-first-run --enable-logging=stderr --v=0 "
                          "--user-data-dir=" + (dir / "chromium").string() + " --dump-dom file://" +
                          (dir / "report.html").string() + " > " + (dir / "dom.html").string() + " 2> " +
                          (dir / "chromium.log").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string dom = cf::test::read_file(dir / "dom.html");
  const std::string log = cf::test::read_file(dir / "chromium.log");
  INFO(log.substr(0, 2000));
  CHECK(dom.find("data-ready=\"yes\"") != std::string::npos);  // the page's script ran
  CHECK(dom.find("data-charts=\"3\"") != std::string::npos);
  CHECK(dom.find("<circle") != std::string::npos);
  CHECK(log.find("Uncaught") == std::string::npos);
  CHECK(log.find(":CONSOLE(") == std::string::npos);  // no console errors or warnings
}

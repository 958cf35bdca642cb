// Names from users reach generated Python, DOT, HTML and file names only through results/escape.h:
// hostile names must come out inert in every one of them.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "cli_helpers.h"
#include "results/draw.h"
#include "results/escape.h"
#include "results/export.h"
#include "results/report.h"
#include "space/file_io.h"
#include "space/genotype.h"
#include "space/network.h"

namespace {

const std::vector<std::string> kHostileNames = {
    "x\"\"\"\nimport os; os.system('touch /tmp/cellforge-pwned')\n\"\"\"",
    "a\" URL=\"javascript:alert(1)\" b=\"",
    "</title><script>alert(1)</script>",
    "../../etc/passwd",
    "/abs/path/name",
    std::string("nul\0byte", 8),
    "back\\slash\\",
    "-rf",
    "..",
    "",
    "\xff\xfe bad utf8 \x01\x02",
};

cf::Genotype named(const std::string& name) {
  cf::Genotype g = *cf::builtin_genotype("nasnet_a");
  g.name = name;
  return g;
}

}  // namespace

TEST_CASE("python_string_literal and python_comment_text stay on one line and inside quotes",
          "[escape]") {
  for (const auto& name : kHostileNames) {
    const std::string lit = cf::python_string_literal(name);
    CHECK(lit.find('\n') == std::string::npos);
    CHECK(lit.front() == '"');
    CHECK(lit.back() == '"');
    // Every quote inside is escaped.
    for (size_t i = 1; i + 1 < lit.size(); ++i)
      if (lit[i] == '"') CHECK(lit[i - 1] == '\\');
    const std::string comment = cf::python_comment_text(name);
    CHECK(comment.find_first_of("\"'\\\n\r") == std::string::npos);
  }
  CHECK(cf::python_string_literal("a\"b\\c\n") == "\"a\\\"b\\\\c\\x0a\"");
}

TEST_CASE("html_escape and dot_quoted_text leave no active characters", "[escape]") {
  CHECK(cf::html_escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
  CHECK(cf::dot_quoted_text("a\"b\\c\nd") == "a\\\"b\\\\c?d");
  for (const auto& name : kHostileNames) {
    const std::string html = cf::html_escape(name);
    CHECK(html.find_first_of("<>\"'") == std::string::npos);
    const std::string dot = cf::dot_quoted_text(name);
    for (size_t i = 0; i < dot.size(); ++i)
      if (dot[i] == '"') CHECK((i > 0 && dot[i - 1] == '\\'));
    CHECK(dot.find('\n') == std::string::npos);
  }
}

TEST_CASE("safe_file_stem: a slug plus the hash, never a path", "[escape]") {
  const std::string hash = "0123456789abcdef";
  for (const auto& name : kHostileNames) {
    const std::string stem = cf::safe_file_stem(name, hash);
    INFO(stem);
    CHECK(!stem.empty());
    CHECK(stem.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
          std::string::npos);
    CHECK(stem.front() != '-');
    CHECK(stem.size() <= 48 + 1 + hash.size());
    CHECK(stem.size() >= hash.size());
    CHECK(stem.compare(stem.size() - hash.size(), hash.size(), hash) == 0);
  }
  CHECK(cf::safe_file_stem("nasnet_a", hash) == "nasnet_a_" + hash);
  CHECK(cf::safe_file_stem("rank1_" + hash, hash) == "rank1_" + hash);
  CHECK_THROWS_AS(cf::safe_file_stem("x", "../x"), std::invalid_argument);
}

TEST_CASE("hostile genotype names give inert DOT, SVG and Python", "[escape][draw][export]") {
  cf::NetworkSpec spec;
  spec.cells_per_stack = 1;
  spec.filters = 8;
  spec.input = {1, 8, 8};
  for (const auto& name : kHostileNames) {
    const cf::Genotype g = named(name);
    const std::string dot = cf::genotype_dot(g);
    // The only quoted strings are ours: the digraph name line is a single DOT string.
    const std::string first_line = dot.substr(0, dot.find('\n'));
    REQUIRE(first_line.rfind("digraph \"", 0) == 0);
    size_t end = 9;
    while (end < first_line.size() && first_line[end] != '"')
      end += first_line[end] == '\\' ? 2 : 1;
    CHECK(first_line.substr(end) == "\" {");
    const std::string svg = cf::dot_to_svg(dot);
    if (!svg.empty()) {
      CHECK(svg.find("href=\"javascript") == std::string::npos);
      CHECK(svg.find("<a ") == std::string::npos);
      CHECK(svg.find("<script") == std::string::npos);
    }
    const cf::Network net = cf::build_network(g, spec);
    const std::string py =
        cf::pytorch_module_source(net, "CellforgeNet", "cellforge network " + name);
    // The description lives in the module docstring: no quote or newline of the name gets there.
    const auto doc_end = py.find("\"\"\"", 3);
    REQUIRE(doc_end != std::string::npos);
    CHECK(py.find("\nimport os") == std::string::npos);
    CHECK(py.substr(0, doc_end).find('\n') == py.substr(0, doc_end).find("\n\nGenerated"));
  }
}

TEST_CASE("the report escapes names and hashes read from a database", "[escape][report]") {
  cf::ReportInput in;
  in.name = "</title><script>alert(1)</script>";
  in.space = "nasnet<b>";
  in.strategy = "evolution\"";
  cf::CandidateRecord r;
  r.id = 1;
  r.hash = "<img src=x onerror=alert(1)>";
  r.status = cf::CandidateStatus::done;
  r.accuracy = 0.5;
  r.genotype = "{\"name\": \"<script>alert(2)</script>\"}";
  in.candidates = {r};
  in.cell_svg = [](const std::string&) {
    return std::string("<svg><a href=\"javascript:alert(3)\"><text>x</text></a></svg>");
  };
  const std::string html = cf::campaign_report_html(in);
  CHECK(html.find("<script>alert") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("javascript:") == std::string::npos);  // the active SVG was not inlined
  CHECK(html.find("&lt;/title&gt;") != std::string::npos);
}

TEST_CASE("write_file_atomic replaces whole files and leaves no temporary files", "[file_io]") {
  cf::test::TempDir dir;
  const auto file = dir / "out.txt";
  cf::write_file_atomic(file, "first");
  cf::write_file_atomic(file, "second, longer");
  CHECK(cf::test::read_file(file) == "second, longer");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
  struct stat st {};
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0644 & ~[] {
          const mode_t m = umask(0);
          umask(m);
          return m;
        }()));
  CHECK_THROWS_WITH(cf::write_file_atomic(dir / "missing" / "x", "y"),
                    Catch::Contains("missing/x"));
}

TEST_CASE("read_file_capped refuses devices, FIFOs and oversized files", "[file_io]") {
  cf::test::TempDir dir;
  CHECK_THROWS_WITH(cf::read_file_capped("/dev/zero", 1000, "genotype file"),
                    Catch::Contains("/dev/zero") && Catch::Contains("not a regular file"));
  REQUIRE(mkfifo((dir / "fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(cf::read_file_capped(dir / "fifo", 1000, "config file"),
                    Catch::Contains("not a regular file"));
  cf::test::write_file(dir / "big", std::string(2000, 'x'));
  CHECK_THROWS_WITH(cf::read_file_capped(dir / "big", 1000, "config file"),
                    Catch::Contains("larger than 1000"));
  CHECK(cf::read_file_capped(dir / "big", 2000, "config file").size() == 2000);
  CHECK_THROWS_WITH(cf::read_file_capped(dir / "none", 10, "config file"),
                    Catch::Contains("cannot open"));
}

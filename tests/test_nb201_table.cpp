// The NAS-Bench-201 table reader, the tabular evaluator and the benchmark loop, on synthetic
// tables written to a temporary directory (no dependency on shared/data).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>

#include "controller/nb201_benchmark.h"
#include "controller/nb201_table.h"
#include "controller/result_cache.h"

namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("cellforge-nb201-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

constexpr const char* kHeader =
    "index,arch,cifar10_valid_12ep,cifar10_test_12ep,cifar100_valid_12ep,cifar100_test_12ep,"
    "imagenet16_valid_12ep,imagenet16_test_12ep,cifar10_test_200ep,cifar100_test_200ep,"
    "imagenet16_test_200ep\n";

// A smooth synthetic landscape: convolutions help, "none" hurts.
double synthetic_valid(const cf::DecisionSeq& seq) {
  static constexpr double kOpGain[5] = {0.0, 2.0, 5.0, 8.0, 1.0};
  double acc = 40;
  for (int op : seq) acc += kOpGain[op];
  return acc;
}

using TestOf = std::function<double(const cf::DecisionSeq&, double valid)>;

// One row per architecture with dense index in [first, last); the 200-epoch test accuracy is
// test_of(seq, valid); the other columns are derived from valid so each dataset differs.
std::string synthetic_table(int first, int last, const TestOf& test_of) {
  const cf::Nb201Space space;
  std::ostringstream out;
  out << kHeader;
  char line[512];
  for (int i = first; i < last; ++i) {
    const cf::DecisionSeq seq = space.from_dense_index(i);
    const double v = synthetic_valid(seq);
    const double t = test_of(seq, v);
    std::snprintf(line, sizeof line, "%d,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", i,
                  space.arch_string(seq).c_str(), v, v + 1, v / 2, v / 2 + 1, v / 4, v / 4 + 1, t,
                  t / 2, t / 4);
    out << line;
  }
  return out.str();
}

std::string correlated_table() {
  return synthetic_table(0, cf::Nb201Space::kArchitectures,
                         [](const cf::DecisionSeq&, double v) { return v + 10; });
}

std::string load_error(const fs::path& path) {
  try {
    cf::Nb201Table::load(path);
  } catch (const cf::Nb201TableError& e) {
    return e.what();
  }
  return "";
}

std::string parse_error(const std::string& text) {
  std::istringstream in(text);
  try {
    cf::Nb201Table::parse(in, "t.csv");
  } catch (const cf::Nb201TableError& e) {
    return e.what();
  }
  return "";
}

const char* kRow1 =
    "1,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "skip_connect~2|,82.8340,88.2200,57.8000,58.2600,35.4333,33.8000,93.6600,70.2933,44.0333\n";

}  // namespace

TEST_CASE("nb201 table: a full synthetic table loads and is found by seq and arch") {
  TempDir dir;
  const fs::path path = dir.write("nb201.csv", correlated_table());
  const cf::Nb201Table table = cf::Nb201Table::load(path);
  REQUIRE(table.size() == cf::Nb201Space::kArchitectures);
  const cf::Nb201Space& space = table.space();
  const cf::DecisionSeq seq{3, 3, 4, 1, 3, 1};
  const cf::Nb201Row* row = table.find(seq);
  REQUIRE(row != nullptr);
  CHECK(row->seq == seq);
  CHECK(row->arch == space.arch_string(seq));
  CHECK(row->index == space.dense_index(seq));
  CHECK(table.find(row->arch) == row);
  const double v = synthetic_valid(seq);
  CHECK(row->of(cf::Nb201Dataset::cifar10).valid_12ep == Approx(v));
  CHECK(row->of(cf::Nb201Dataset::cifar10).test_12ep == Approx(v + 1));
  CHECK(row->of(cf::Nb201Dataset::cifar100).valid_12ep == Approx(v / 2));
  CHECK(row->of(cf::Nb201Dataset::imagenet16).test_12ep == Approx(v / 4 + 1));
  CHECK(row->of(cf::Nb201Dataset::cifar10).test_200ep == Approx(v + 10));
  CHECK(row->of(cf::Nb201Dataset::cifar100).test_200ep == Approx((v + 10) / 2));
  CHECK(row->of(cf::Nb201Dataset::imagenet16).test_200ep == Approx((v + 10) / 4));
  CHECK_THROWS_AS(table.find(std::string_view("|bogus|")), cf::GenotypeError);
}

TEST_CASE("nb201 table: columns in another order, extra columns and CRLF are accepted") {
  std::istringstream in(
      "arch,extra,imagenet16_test_200ep,cifar100_test_200ep,cifar10_test_200ep,"
      "imagenet16_test_12ep,imagenet16_valid_12ep,cifar100_test_12ep,cifar100_valid_12ep,"
      "cifar10_test_12ep,cifar10_valid_12ep,index\r\n"
      "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,x,1,2,3,4,5,6,7,8,9,0\r\n");
  const cf::Nb201Table table = cf::Nb201Table::parse(in, "reordered.csv");
  REQUIRE(table.size() == 1);
  const cf::Nb201Row& row = table.rows()[0];
  CHECK(row.index == 0);
  CHECK(row.of(cf::Nb201Dataset::cifar10).valid_12ep == 9);
  CHECK(row.of(cf::Nb201Dataset::cifar10).test_12ep == 8);
  CHECK(row.of(cf::Nb201Dataset::cifar100).valid_12ep == 7);
  CHECK(row.of(cf::Nb201Dataset::imagenet16).valid_12ep == 5);
  CHECK(row.of(cf::Nb201Dataset::cifar10).test_200ep == 3);
  CHECK(row.of(cf::Nb201Dataset::imagenet16).test_200ep == 1);
  CHECK(table.find(cf::DecisionSeq{1, 0, 0, 0, 0, 0}) == nullptr);
}

TEST_CASE("nb201 table: errors name the file and the line") {
  TempDir dir;
  CHECK_THAT(load_error(dir.write("empty.csv", "")),
             Catch::EndsWith("empty.csv: empty file (expected a CSV header line)"));
  const fs::path missing = fs::temp_directory_path() / "cellforge-no-such-dir" / "nb201.csv";
  CHECK_THAT(load_error(missing), Catch::StartsWith(missing.string() + ": cannot open"));

  const std::string header = kHeader;
  CHECK(parse_error(header) == "t.csv: no rows after the header");
  std::string no_column = header;
  no_column.replace(no_column.find("cifar100_test_12ep"), 18, "cifar100_tst_12ep");
  CHECK(parse_error(no_column + kRow1) == "t.csv:1: missing column \"cifar100_test_12ep\"");
  CHECK(parse_error("index,arch,index\n") == "t.csv:1: duplicate column \"index\"");
  CHECK(parse_error(header + kRow1 + "\n" + kRow1) == "t.csv:3: empty line");
  CHECK(parse_error(header + kRow1 + "2,|none~0|,1,2\n") == "t.csv:3: expected 11 fields, got 4");
  std::string bad = kRow1;
  CHECK_THAT(parse_error(header + bad.replace(bad.find("82.8340"), 7, "82.8x")),
             Catch::StartsWith("t.csv:2: column cifar10_valid_12ep: \"82.8x\" is not a number"));
  bad = kRow1;
  CHECK_THAT(parse_error(header + bad.replace(bad.find("93.6600"), 7, "193.66")),
             Catch::StartsWith("t.csv:2: column cifar10_test_200ep: 193.66 is not an accuracy"));
  bad = kRow1;
  CHECK_THAT(parse_error(header + bad.replace(bad.find("93.6600"), 7, "nan")),
             Catch::Contains("is not a number"));
  bad = kRow1;
  CHECK_THAT(parse_error(header + bad.replace(bad.find("avg_pool_3x3"), 12, "max_pool_3x3")),
             Catch::StartsWith("t.csv:2: column arch: ") &&
                 Catch::Contains("\"max_pool_3x3\" is not an op"));
  bad = kRow1;
  CHECK(parse_error(header + bad.replace(0, 1, "-1")) ==
        "t.csv:2: column index: \"-1\" is not a non-negative integer");
  std::string other_index = kRow1;
  other_index.replace(0, 1, "7");
  CHECK(parse_error(header + kRow1 + other_index) ==
        "t.csv:3: architecture "
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "skip_connect~2| repeats the row of index 1");
  CHECK(parse_error(header + kRow1 +
                    "1,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,1,1,1,"
                    "1,1,1,1,1\n") == "t.csv:3: index 1 repeats line 2");
  // The file name is in errors from load() too.
  CHECK_THAT(load_error(dir.write("bad.csv", header + "x")),
             Catch::Contains("bad.csv:2: expected 11 fields, got 1"));
}

TEST_CASE("nb201 evaluator: the reward is the 12-epoch validation accuracy only") {
  std::istringstream in(std::string(kHeader) + kRow1);
  const cf::Nb201Table table = cf::Nb201Table::parse(in, "one.csv");
  const cf::DecisionSeq seq = table.rows()[0].seq;
  const cf::Nb201Evaluator cifar10(table, cf::Nb201Dataset::cifar10);
  const cf::EvalResult r = cifar10.evaluate(seq);
  REQUIRE(r.ok());
  CHECK(*r.reward == Approx(0.82834));
  CHECK(*cifar10.final_test_accuracy(seq) == Approx(93.66));
  const cf::Nb201Evaluator imagenet(table, cf::Nb201Dataset::imagenet16);
  CHECK(*imagenet.evaluate(seq).reward == Approx(0.354333));
  CHECK(*imagenet.final_test_accuracy(seq) == Approx(44.0333));
  // A cell without a row is a failure with a reason, not an exception.
  const cf::EvalResult missing = cifar10.evaluate({0, 0, 0, 0, 0, 0});
  CHECK_FALSE(missing.ok());
  CHECK_THAT(missing.failure_reason, Catch::Contains("is not in the NAS-Bench-201 table"));
  CHECK_FALSE(cifar10.final_test_accuracy({0, 0, 0, 0, 0, 0}).has_value());
  CHECK(cf::nb201_dataset_from_name("cifar100") == cf::Nb201Dataset::cifar100);
  CHECK_FALSE(cf::nb201_dataset_from_name("cifar-10").has_value());
}

TEST_CASE("nb201 benchmark: the search signal never comes from a test column") {
  // Test accuracy anti-correlated with validation accuracy: a search that leaked the test
  // column would return a cell with a high test accuracy.
  std::istringstream in(synthetic_table(0, cf::Nb201Space::kArchitectures,
                                        [](const cf::DecisionSeq&, double v) { return 100 - v; }));
  const cf::Nb201Table table = cf::Nb201Table::parse(in, "anti.csv");
  for (const char* strategy : {"random", "evolution"}) {
    cf::ControllerOptions options;
    options.evolution.population = 10;
    options.evolution.sample_size = 5;
    const cf::Nb201SearchResult r =
        cf::run_nb201_search(table, cf::Nb201Dataset::cifar10, strategy, options, 200, 11);
    REQUIRE(r.has_result);
    CHECK(r.returned_test == Approx(100 - r.returned_signal));
    CHECK(r.returned_signal > 70);  // the landscape: mean 59, best 88
    CHECK(r.returned_test < 30);
    REQUIRE(r.incumbent_test.size() == 200);
    CHECK(r.incumbent_test.back() == r.returned_test);
  }
}

TEST_CASE("nb201 benchmark: the returned cell is the best queried by the signal") {
  TempDir dir;
  const cf::Nb201Table table = cf::Nb201Table::load(dir.write("t.csv", correlated_table()));
  // Re-run the search's controller by hand and track the maximum of the signal.
  const cf::ControllerOptions options;
  const cf::Nb201SearchResult r =
      cf::run_nb201_search(table, cf::Nb201Dataset::cifar10, "random", options, 50, 5);
  auto controller = cf::make_controller("random", options, table.space(), 5);
  double best = -1;
  cf::DecisionSeq best_seq;
  for (int q = 0; q < 50; ++q) {
    const cf::Candidate c = controller->propose();
    const double v = table.find(c.seq)->of(cf::Nb201Dataset::cifar10).valid_12ep;
    if (v > best) {
      best = v;
      best_seq = c.seq;
    }
    controller->observe(c.id, cf::EvalResult::success(v / 100));
    // The curve is non-decreasing here because test = valid + 10 on this table.
    if (q > 0) CHECK(r.incumbent_test[q] >= r.incumbent_test[q - 1]);
  }
  CHECK(r.returned == best_seq);
  CHECK(r.returned_signal == Approx(best));
  CHECK(r.returned_test == Approx(best + 10));
}

TEST_CASE("nb201 benchmark: a partial table gives failures, not errors") {
  // Only cells with node3.edge2 = none (dense index < 3125) have rows.
  std::istringstream in(
      synthetic_table(0, 3125, [](const cf::DecisionSeq&, double v) { return v + 10; }));
  const cf::Nb201Table table = cf::Nb201Table::parse(in, "part.csv");
  cf::ControllerOptions options;
  options.evolution.population = 5;
  options.evolution.sample_size = 2;
  for (const char* strategy : {"random", "evolution", "rl"}) {
    options.rl.lstm_hidden = 8;
    options.rl.batch_size = 4;
    const cf::Nb201SearchResult r =
        cf::run_nb201_search(table, cf::Nb201Dataset::cifar10, strategy, options, 60, 3);
    CHECK(r.failures > 0);
    CHECK(r.failures < 60);
    CHECK(r.has_result);
    CHECK(table.find(r.returned) != nullptr);
  }
}

TEST_CASE("nb201 benchmark: results are reproducible and independent of threads") {
  TempDir dir;
  const cf::Nb201Table table = cf::Nb201Table::load(dir.write("t.csv", correlated_table()));
  cf::Nb201BenchmarkConfig config;
  config.strategy = "evolution";
  config.options.evolution.population = 10;
  config.options.evolution.sample_size = 5;
  config.queries = 40;
  config.runs = 30;
  config.seed = 99;
  config.threads = 1;
  const auto one = cf::run_nb201_benchmark(table, config);
  config.threads = 3;
  const auto three = cf::run_nb201_benchmark(table, config);
  REQUIRE(one.runs.size() == 30);
  for (size_t r = 0; r < one.runs.size(); ++r) {
    CHECK(one.runs[r].returned == three.runs[r].returned);
    CHECK(one.runs[r].incumbent_test == three.runs[r].incumbent_test);
  }
  CHECK(one.mean_test == three.mean_test);
  CHECK(one.std_test == three.std_test);
  CHECK(one.runs_with_result == 30);
  // The statistics are those of the runs.
  double sum = 0;
  for (const auto& run : one.runs) sum += run.returned_test;
  CHECK(one.mean_test == Approx(sum / 30));
  CHECK(one.mean_curve.back() == Approx(one.mean_test));
  CHECK(one.mean_curve.front() <= one.mean_curve.back());
  // Distinct run seeds.
  CHECK(cf::nb201_run_seed(99, 0) != cf::nb201_run_seed(99, 1));
  CHECK(cf::nb201_run_seed(99, 0) != cf::nb201_run_seed(100, 0));
  config.seed = 100;
  const auto other = cf::run_nb201_benchmark(table, config);
  bool differs = false;
  for (size_t r = 0; r < one.runs.size(); ++r)
    differs = differs || one.runs[r].incumbent_test != other.runs[r].incumbent_test;
  CHECK(differs);

  config.queries = 0;
  CHECK_THROWS_WITH(cf::run_nb201_benchmark(table, config), "queries: must be >= 1, got 0");
  config.queries = 5;
  config.strategy = "annealing";
  CHECK_THROWS_AS(cf::run_nb201_benchmark(table, config), cf::ControllerError);
}

TEST_CASE("nb201 benchmark: evolution beats random on a synthetic landscape") {
  TempDir dir;
  const cf::Nb201Table table = cf::Nb201Table::load(dir.write("t.csv", correlated_table()));
  cf::Nb201BenchmarkConfig config;
  config.queries = 60;
  config.runs = 100;
  config.seed = 4;
  config.strategy = "random";
  const auto random = cf::run_nb201_benchmark(table, config);
  config.strategy = "evolution";
  config.options.evolution.population = 10;
  config.options.evolution.sample_size = 5;
  const auto evolution = cf::run_nb201_benchmark(table, config);
  // The optimum is 40 + 6 * 8 + 10 = 98; random search over 60 of 15,625 cells rarely gets near.
  CHECK(evolution.mean_test > random.mean_test + 3);
}

TEST_CASE("cached evaluator reuses results by canonical hash") {
  const cf::Nb201Space space;
  int calls = 0;
  cf::CachedEvaluator cached(
      space,
      [&](const cf::DecisionSeq& seq) {
        ++calls;
        if (seq[0] == 0) return cf::EvalResult::failure("none on the first edge");
        return cf::EvalResult::success(0.1 * seq[0]);
      },
      /*cache_failures=*/false);
  const auto first = cached.evaluate({2, 0, 0, 0, 0, 0});
  CHECK_FALSE(first.cached);
  CHECK(first.hash == space.canonical_hash({2, 0, 0, 0, 0, 0}));
  const auto again = cached.evaluate({2, 0, 0, 0, 0, 0});
  CHECK(again.cached);
  CHECK(*again.result.reward == *first.result.reward);
  CHECK(calls == 1);
  // Failures are evaluated again unless they are cached.
  CHECK_FALSE(cached.evaluate({0, 1, 0, 0, 0, 0}).cached);
  CHECK_FALSE(cached.evaluate({0, 1, 0, 0, 0, 0}).cached);
  CHECK(calls == 3);
  CHECK(cached.evaluations() == 3);
  CHECK(cached.hits() == 1);
  CHECK(cached.cache().size() == 1);

  cf::CachedEvaluator caching_failures(
      space, [&](const cf::DecisionSeq&) { return cf::EvalResult::failure("always"); }, true);
  caching_failures.evaluate({0, 1, 0, 0, 0, 0});
  const auto hit = caching_failures.evaluate({0, 1, 0, 0, 0, 0});
  CHECK(hit.cached);
  CHECK(hit.result.failure_reason == "always");
  // A pre-filled cache (a resumed campaign) answers without evaluating.
  cached.cache().insert(space.canonical_hash({4, 4, 4, 4, 4, 4}), cf::EvalResult::success(0.5));
  CHECK(cached.evaluate({4, 4, 4, 4, 4, 4}).cached);
  CHECK_THROWS_AS(cf::CachedEvaluator(space, nullptr), std::invalid_argument);
}

TEST_CASE("failed and crashed results are not reused, however they reach the cache") {
  const cf::Nb201Space space;
  int calls = 0;
  cf::CachedEvaluator cached(
      space,
      [&](const cf::DecisionSeq&) {
        ++calls;
        return cf::EvalResult::success(0.7);
      },
      /*cache_failures=*/false);
  // A resumed campaign pre-fills the cache from its store, failures included: they must not
  // answer for a later duplicate (a crash or an out-of-memory kill may not happen again).
  const std::string failed = space.canonical_hash({1, 1, 1, 1, 1, 1});
  const std::string crashed = space.canonical_hash({2, 2, 2, 2, 2, 2});
  CHECK_FALSE(cached.cache().insert(failed, cf::EvalResult::failure("failed: diverged")));
  CHECK_FALSE(cached.cache().insert(
      crashed, cf::EvalResult::failure("crashed: worker killed by signal 9")));
  CHECK(cached.cache().find(failed) == nullptr);
  CHECK(cached.cache().size() == 0);
  const auto again = cached.evaluate({2, 2, 2, 2, 2, 2});
  CHECK_FALSE(again.cached);
  CHECK(again.result.ok());
  CHECK(calls == 1);
  // A cache made to keep failures (a deterministic table) keeps them.
  cf::ResultCache keeping(/*keep_failures=*/true);
  CHECK(keeping.insert(failed, cf::EvalResult::failure("no row")));
  REQUIRE(keeping.find(failed) != nullptr);
  CHECK(keeping.find(failed)->failure_reason == "no row");
}


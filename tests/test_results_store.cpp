// The results store: how it opens (create / write / read), the consistency check that guards
// resume, and the checks on what it reads back.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "results/store.h"

using cf::CandidateRecord;
using cf::CandidateStatus;
using cf::ResultsStore;
using cf::StoreAccess;
using cf::test::TempDir;

namespace {

CandidateRecord row(int64_t id, bool observed, CandidateStatus status = CandidateStatus::done) {
  CandidateRecord r;
  r.id = id;
  r.hash = "00000000000000" + std::string(id < 10 ? "0" : "") + std::to_string(id);
  r.genotype = "{}";
  r.status = status;
  if (status == CandidateStatus::done) r.accuracy = 0.5 + 0.01 * id;
  r.observed = observed;
  return r;
}

void sql(const std::filesystem::path& file, const std::string& text) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

// A consistent campaign database: 3 observed candidates, a checkpoint after each.
void make_campaign(const std::filesystem::path& file) {
  ResultsStore store(file, StoreAccess::create);
  store.set_meta("config_identity", "x");
  for (int id = 1; id <= 3; ++id) store.commit({row(id, true)}, std::vector<uint8_t>{1, 2, 3});
}

}  // namespace

TEST_CASE("opening: create needs a new file, write and read need a complete database", "[store]") {
  TempDir dir;
  const auto file = dir / "results.sqlite";
  CHECK_THROWS_WITH(ResultsStore(file, StoreAccess::write), Catch::Contains("no results database"));
  CHECK_THROWS_WITH(ResultsStore(file, StoreAccess::read), Catch::Contains("no results database"));
  CHECK(!std::filesystem::exists(file));  // neither created it
  make_campaign(file);
  CHECK_THROWS_WITH(ResultsStore(file, StoreAccess::create), Catch::Contains("already holds"));
  {
    ResultsStore store(file, StoreAccess::read);
    CHECK(store.candidates().size() == 3);
    CHECK(store.check().ok());
  }
  // A truncated main file (e.g. after losing the -wal file): refused, and left as it was.
  cf::test::write_file(dir / "empty.sqlite", "");
  CHECK_THROWS_WITH(ResultsStore(dir / "empty.sqlite", StoreAccess::write),
                    Catch::Contains("missing tables") && Catch::Contains("-wal"));
  CHECK(std::filesystem::file_size(dir / "empty.sqlite") == 0);
  cf::test::write_file(dir / "junk.sqlite", std::string(4096, 'j'));
  CHECK_THROWS_WITH(ResultsStore(dir / "junk.sqlite", StoreAccess::read),
                    Catch::Contains("junk.sqlite"));
  sql(file, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  CHECK_THROWS_WITH(ResultsStore(file, StoreAccess::write), Catch::Contains("schema version 99"));
}

TEST_CASE("check finds missing rows, a lost checkpoint and a stale observed count", "[store]") {
  TempDir dir;
  const auto file = dir / "results.sqlite";
  make_campaign(file);
  sql(file, "DELETE FROM candidates WHERE id = 2");
  {
    const auto found = ResultsStore(file, StoreAccess::read).check();
    REQUIRE(!found.ok());
    CHECK_THAT(found.problems.front(), Catch::Contains("rows are missing"));
  }
  make_campaign(dir / "b.sqlite");
  sql(dir / "b.sqlite", "DELETE FROM checkpoints");
  CHECK_THAT(ResultsStore(dir / "b.sqlite", StoreAccess::read).check().problems.front(),
             Catch::Contains("checkpoints: empty"));
  make_campaign(dir / "c.sqlite");
  sql(dir / "c.sqlite", "UPDATE candidates SET observed = 0 WHERE id = 3");
  CHECK_THAT(ResultsStore(dir / "c.sqlite", StoreAccess::read).check().problems.front(),
             Catch::Contains("after 3 observed candidates") && Catch::Contains("has 2"));
}

TEST_CASE("rows read back are checked: hashes are hex, JSON errors name the candidate", "[store]") {
  TempDir dir;
  const auto file = dir / "results.sqlite";
  make_campaign(file);
  sql(file, "UPDATE candidates SET genotype = '{\"a\": 1e400}' WHERE id = 2");
  {
    ResultsStore store(file, StoreAccess::read);
    const auto r = *store.candidate(2);
    CHECK_THROWS_WITH(store.genotype_json(r),
                      Catch::Contains("results.sqlite: candidate 2: genotype"));
    CHECK_THROWS_WITH(store.genotype(r), Catch::Contains("candidate 2"));
  }
  sql(file, "UPDATE candidates SET hash = '../../x' WHERE id = 3");
  ResultsStore store(file, StoreAccess::read);
  CHECK_THROWS_WITH(store.candidates(), Catch::Contains("candidate 3: hash") &&
                                            Catch::Contains("not a canonical hash"));
}

TEST_CASE("ranked candidates: done and not reused, best first, ties by id", "[store]") {
  TempDir dir;
  ResultsStore store(dir / "results.sqlite", StoreAccess::create);
  auto a = row(1, true), b = row(2, true), c = row(3, true, CandidateStatus::failed),
       d = row(4, true);
  b.accuracy = 0.9;
  d.accuracy = 0.9;
  auto e = row(5, true);
  e.reused_from = 2;
  e.accuracy = 0.9;
  store.commit({a, b, c, d, e}, std::vector<uint8_t>{0});
  const auto ranked = store.ranked_candidates();
  REQUIRE(ranked.size() == 3);
  CHECK(ranked[0].id == 2);
  CHECK(ranked[1].id == 4);
  CHECK(ranked[2].id == 1);
  CHECK(!store.find_by_hash(c.hash));  // failures are never reused
  CHECK(store.find_by_hash(a.hash)->id == 1);
  CHECK(store.latest_checkpoint()->first == 5);
}

namespace {

// A version-1 database as cellforge wrote it before [scheduler] (no rung column, no evaluations).
void make_v1_campaign(const std::filesystem::path& file) {
  sql(file,
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE candidates(id INTEGER PRIMARY KEY, hash TEXT NOT NULL, genotype TEXT NOT NULL,"
      " status TEXT NOT NULL, accuracy REAL, params INTEGER NOT NULL DEFAULT 0,"
      " macs INTEGER NOT NULL DEFAULT 0, train_seconds REAL NOT NULL DEFAULT 0,"
      " failure_reason TEXT NOT NULL DEFAULT '', parent INTEGER, reused_from INTEGER,"
      " observed INTEGER NOT NULL DEFAULT 0, metrics TEXT NOT NULL DEFAULT '{}',"
      " proposed_at TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT '');"
      "CREATE TABLE checkpoints(id INTEGER PRIMARY KEY AUTOINCREMENT, observed INTEGER NOT NULL,"
      " state BLOB NOT NULL, created_at TEXT NOT NULL);"
      "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
      " kind TEXT NOT NULL, message TEXT NOT NULL);"
      "INSERT INTO meta VALUES('schema_version', '1'), ('config_identity', 'x');"
      "INSERT INTO candidates(id, hash, genotype, status, accuracy, observed) VALUES"
      " (1, '0000000000000001', '{}', 'done', 0.5, 1), (2, '0000000000000002', '{}', 'done', 0.7, "
      "1);"
      "INSERT INTO checkpoints(observed, state, created_at) VALUES(2, x'00', 't');");
}

}  // namespace

TEST_CASE("a version-1 database is read as it is and upgraded when opened for writing", "[store]") {
  TempDir dir;
  const auto file = dir / "results.sqlite";
  make_v1_campaign(file);
  {
    ResultsStore read(file, StoreAccess::read);
    const auto rows = read.candidates();
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].rung == 0);
    CHECK(read.evaluations().empty());
    CHECK(read.ranked_candidates().front().id == 2);
    CHECK(read.meta("schema_version") == "1");  // reading never writes
  }
  {
    ResultsStore write(file, StoreAccess::write);
    CHECK(write.meta("schema_version") == "2");
    CHECK(write.check().ok());
    cf::EvaluationRecord e;
    e.seq = 1;
    e.candidate = 2;
    e.rung = 1;
    e.epochs = 3;
    e.status = CandidateStatus::done;
    e.accuracy = 0.8;
    auto r = write.candidate(2).value();
    r.rung = 1;
    r.accuracy = 0.8;
    write.commit({r}, {e});
  }
  ResultsStore again(file, StoreAccess::read);
  REQUIRE(again.evaluations().size() == 1);
  CHECK(again.evaluations()[0].epochs == 3);
  CHECK(again.candidate(2)->rung == 1);
  // A newer version is refused with the versions this build knows.
  sql(file, "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
  try {
    ResultsStore newer(file, StoreAccess::read);
    FAIL("a version-3 database opened");
  } catch (const cf::StoreError& e) {
    CHECK(std::string(e.what()).find("schema version 3 is not supported") != std::string::npos);
  }
}

TEST_CASE("ranked candidates put a higher rung before a better accuracy", "[store]") {
  TempDir dir;
  ResultsStore store(dir / "results.sqlite", StoreAccess::create);
  auto low = row(1, true);
  low.accuracy = 0.9;
  auto high = row(2, true);
  high.accuracy = 0.6;
  high.rung = 2;
  store.commit({low, high});
  CHECK(store.ranked_candidates().front().id == 2);
}

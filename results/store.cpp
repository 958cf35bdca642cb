#include "results/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "space/json_text.h"

namespace cf {

namespace {

// 1: candidates, checkpoints, events. 2: candidates.rung and the evaluations table ([scheduler]).
constexpr int kSchemaVersion = 2;
constexpr int kCheckpointsKept = 3;  // older controller checkpoints are pruned

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::filesystem::path& file) : file_(file) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      throw StoreError(file.string() + ": " + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int i, const std::string& v) { sqlite3_bind_text(stmt_, i, v.c_str(), -1, SQLITE_TRANSIENT); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }
  void bind_blob(int i, const std::vector<uint8_t>& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  template <class T>
  void bind_opt(int i, const std::optional<T>& v) {
    if (v) bind(i, *v);
    else bind_null(i);
  }
  // true while there is a row
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(file_.string() + ": " + sqlite3_errmsg(sqlite3_db_handle(stmt_)));
  }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t integer(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  bool null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::vector<uint8_t> blob(int c) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, c));
    return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, c));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  const std::filesystem::path& file_;
};

CandidateStatus status_from(const std::string& s) {
  if (s == "done") return CandidateStatus::done;
  if (s == "failed") return CandidateStatus::failed;
  if (s == "rejected") return CandidateStatus::rejected;
  return CandidateStatus::pending;
}

constexpr const char* kCandidateColumns =
    "id, hash, genotype, status, accuracy, params, macs, train_seconds, failure_reason, parent, "
    "reused_from, observed, metrics, proposed_at, finished_at, rung";
// A version-1 database opened read-only has no rung column: every candidate is at rung 0.
constexpr const char* kCandidateColumnsV1 =
    "id, hash, genotype, status, accuracy, params, macs, train_seconds, failure_reason, parent, "
    "reused_from, observed, metrics, proposed_at, finished_at, 0";
constexpr const char* kEvaluationColumns =
    "seq, candidate, rung, epochs, status, accuracy, train_seconds, failure_reason, reused_from, "
    "observed, metrics, created_at, finished_at";

CandidateRecord read_candidate(const Statement& s) {
  CandidateRecord r;
  r.id = s.integer(0);
  r.hash = s.text(1);
  r.genotype = s.text(2);
  r.status = status_from(s.text(3));
  if (!s.null(4)) r.accuracy = s.real(4);
  r.params = s.integer(5);
  r.macs = s.integer(6);
  r.train_seconds = s.real(7);
  r.failure_reason = s.text(8);
  if (!s.null(9)) r.parent = s.integer(9);
  if (!s.null(10)) r.reused_from = s.integer(10);
  r.observed = s.integer(11) != 0;
  r.metrics = s.text(12);
  r.proposed_at = s.text(13);
  r.finished_at = s.text(14);
  r.rung = static_cast<int>(s.integer(15));
  return r;
}

EvaluationRecord read_evaluation(const Statement& s) {
  EvaluationRecord e;
  e.seq = s.integer(0);
  e.candidate = s.integer(1);
  e.rung = static_cast<int>(s.integer(2));
  e.epochs = static_cast<int>(s.integer(3));
  e.status = status_from(s.text(4));
  if (!s.null(5)) e.accuracy = s.real(5);
  e.train_seconds = s.real(6);
  e.failure_reason = s.text(7);
  if (!s.null(8)) e.reused_from = s.integer(8);
  e.observed = s.integer(9) != 0;
  e.metrics = s.text(10);
  e.created_at = s.text(11);
  e.finished_at = s.text(12);
  return e;
}

// Stored hashes become file names and HTML: anything but 16 hex digits is refused on read.
void check_hash(const CandidateRecord& r, const std::filesystem::path& file) {
  bool ok = r.hash.size() == 16;
  for (char c : r.hash) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok)
    throw StoreError(file.string() + ": candidate " + std::to_string(r.id) + ": hash " +
                     nlohmann::json(r.hash).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).substr(0, 40) +
                     " is not a canonical hash (damaged or edited database)");
}

}  // namespace

const char* candidate_status_name(CandidateStatus s) {
  switch (s) {
    case CandidateStatus::pending: return "pending";
    case CandidateStatus::done: return "done";
    case CandidateStatus::failed: return "failed";
    case CandidateStatus::rejected: return "rejected";
  }
  return "?";
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

constexpr const char* kSchemaSql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS candidates("
    " id INTEGER PRIMARY KEY, hash TEXT NOT NULL, genotype TEXT NOT NULL, status TEXT NOT NULL,"
    " accuracy REAL, params INTEGER NOT NULL DEFAULT 0, macs INTEGER NOT NULL DEFAULT 0,"
    " train_seconds REAL NOT NULL DEFAULT 0, failure_reason TEXT NOT NULL DEFAULT '',"
    " parent INTEGER, reused_from INTEGER, observed INTEGER NOT NULL DEFAULT 0,"
    " metrics TEXT NOT NULL DEFAULT '{}', proposed_at TEXT NOT NULL DEFAULT '',"
    " finished_at TEXT NOT NULL DEFAULT '', rung INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS candidates_hash ON candidates(hash);"
    "CREATE TABLE IF NOT EXISTS checkpoints(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " observed INTEGER NOT NULL, state BLOB NOT NULL, created_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
    " kind TEXT NOT NULL, message TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS evaluations(seq INTEGER PRIMARY KEY, candidate INTEGER NOT NULL,"
    " rung INTEGER NOT NULL, epochs INTEGER NOT NULL, status TEXT NOT NULL, accuracy REAL,"
    " train_seconds REAL NOT NULL DEFAULT 0, failure_reason TEXT NOT NULL DEFAULT '',"
    " reused_from INTEGER, observed INTEGER NOT NULL DEFAULT 0, metrics TEXT NOT NULL DEFAULT '{}',"
    " created_at TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT '');";

// Version 1 -> 2, in one transaction with the version change.
constexpr const char* kUpgradeV1Sql =
    "ALTER TABLE candidates ADD COLUMN rung INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE IF NOT EXISTS evaluations(seq INTEGER PRIMARY KEY, candidate INTEGER NOT NULL,"
    " rung INTEGER NOT NULL, epochs INTEGER NOT NULL, status TEXT NOT NULL, accuracy REAL,"
    " train_seconds REAL NOT NULL DEFAULT 0, failure_reason TEXT NOT NULL DEFAULT '',"
    " reused_from INTEGER, observed INTEGER NOT NULL DEFAULT 0, metrics TEXT NOT NULL DEFAULT '{}',"
    " created_at TEXT NOT NULL DEFAULT '', finished_at TEXT NOT NULL DEFAULT '');"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';";

sqlite3* open_db(const std::filesystem::path& file, int flags, const std::string& uri_suffix, std::string& error) {
  sqlite3* db = nullptr;
  const std::string name = uri_suffix.empty() ? file.string() : "file:" + file.string() + uri_suffix;
  const int rc = sqlite3_open_v2(name.c_str(), &db, flags | (uri_suffix.empty() ? 0 : SQLITE_OPEN_URI), nullptr);
  if (rc != SQLITE_OK) {
    error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

}  // namespace

ResultsStore::ResultsStore(const std::filesystem::path& file, StoreAccess access) : file_(file) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(file, ec);
  if (access != StoreAccess::create && !exists)
    throw StoreError(file.string() + ": no results database (not a campaign run directory)");
  std::string error;
  if (access == StoreAccess::read) {
    db_ = open_db(file, SQLITE_OPEN_READONLY, "", error);
    // A read-only directory cannot hold the WAL index (-shm): read the file as immutable then
    // (nothing can write to it while the directory is read-only).
    if (db_ && sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_close(db_);
      db_ = open_db(file, SQLITE_OPEN_READONLY, "?immutable=1", error);
    }
  } else {
    db_ = open_db(file, SQLITE_OPEN_READWRITE | (access == StoreAccess::create ? SQLITE_OPEN_CREATE : 0), "", error);
  }
  if (!db_) throw StoreError(file.string() + ": cannot open results database: " + error);
  sqlite3_busy_timeout(db_, 10000);
  try {
    if (access == StoreAccess::read) {
      require_schema();
      return;
    }
    // An existing campaign is checked before anything is written to its file.
    if (access == StoreAccess::write) require_schema();
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    if (access == StoreAccess::write && version_ == 1) {
      exec(std::string("BEGIN IMMEDIATE;") + kUpgradeV1Sql + "COMMIT;");
      version_ = 2;
    }
    if (access == StoreAccess::create) {
      Statement tables(db_, "SELECT count(*) FROM sqlite_master", file_);
      tables.step();
      if (tables.integer(0) != 0)
        throw StoreError(file.string() + ": already holds a database; a new campaign needs a new file");
      exec(std::string("BEGIN IMMEDIATE;") + kSchemaSql + "INSERT INTO meta(key, value) VALUES('schema_version', '" +
           std::to_string(kSchemaVersion) + "');COMMIT;");
      require_schema();
    }
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

void ResultsStore::require_schema() const {
  std::vector<std::string> missing;
  for (const char* table : {"meta", "candidates", "checkpoints", "events"}) {
    Statement s(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", file_);
    s.bind(1, std::string(table));
    s.step();
    if (s.integer(0) == 0) missing.push_back(table);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& t : missing) list += (list.empty() ? "" : ", ") + t;
    throw StoreError(file_.string() + ": not a complete cellforge results database (missing table" +
                     (missing.size() > 1 ? "s " : " ") + list +
                     "): truncated, or its -wal file was lost after a crash; see `cellforge check`");
  }
  const auto version = meta("schema_version");
  if (!version)
    throw StoreError(file_.string() + ": results database has no schema_version (damaged); see `cellforge check`");
  if (*version != "1" && *version != std::to_string(kSchemaVersion))
    throw StoreError(file_.string() + ": results database schema version " + *version +
                     " is not supported (this cellforge reads versions 1 and " +
                     std::to_string(kSchemaVersion) + ", writes version " +
                     std::to_string(kSchemaVersion) + "; a newer cellforge made it?)");
  version_ = std::stoi(*version);
}

StoreProblems ResultsStore::check() const {
  StoreProblems out;
  auto scalar = [&](const std::string& sql) {
    Statement s(db_, sql, file_);
    s.step();
    return s.integer(0);
  };
  const int64_t count = scalar("SELECT count(*) FROM candidates");
  const int64_t max_id = scalar("SELECT coalesce(max(id), 0) FROM candidates");
  const int64_t min_id = scalar("SELECT coalesce(min(id), 0) FROM candidates");
  const int64_t observed = scalar("SELECT count(*) FROM candidates WHERE observed = 1");
  const int64_t checkpoints = scalar("SELECT count(*) FROM checkpoints");
  if (count > 0 && (min_id != 1 || max_id != count))
    out.problems.push_back("candidates: " + std::to_string(count) + " rows with ids " + std::to_string(min_id) + ".." +
                           std::to_string(max_id) + " (expected 1.." + std::to_string(count) +
                           "): rows are missing");
  const int64_t first_unobserved = scalar("SELECT coalesce(min(id), 0) FROM candidates WHERE observed = 0");
  const int64_t last_observed = scalar("SELECT coalesce(max(id), 0) FROM candidates WHERE observed = 1");
  if (first_unobserved > 0 && last_observed > first_unobserved)
    out.problems.push_back("candidates: candidate " + std::to_string(last_observed) + " is observed but candidate " +
                           std::to_string(first_unobserved) + " is not (the controller observes in id order)");
  if (count > 0 && checkpoints == 0)
    out.problems.push_back("checkpoints: empty, but " + std::to_string(count) +
                           " candidates are stored (the controller state is lost)");
  if (auto latest = latest_checkpoint(); latest && latest->first != observed)
    out.problems.push_back("checkpoints: the latest checkpoint was taken after " + std::to_string(latest->first) +
                           " observed candidates, the candidates table has " + std::to_string(observed));
  if (version_ >= 2) {
    const int64_t first_open =
        scalar("SELECT coalesce(min(seq), 0) FROM evaluations WHERE observed = 0");
    const int64_t last_seen =
        scalar("SELECT coalesce(max(seq), 0) FROM evaluations WHERE observed = 1");
    if (first_open > 0 && last_seen > first_open)
      out.problems.push_back("evaluations: evaluation " + std::to_string(last_seen) +
                             " is observed but evaluation " + std::to_string(first_open) +
                             " is not (evaluations are observed in order)");
    const int64_t orphans = scalar(
        "SELECT count(*) FROM evaluations WHERE candidate NOT IN (SELECT id FROM candidates)");
    if (orphans > 0)
      out.problems.push_back("evaluations: " + std::to_string(orphans) +
                             " rows name a candidate that is not stored");
  }
  int64_t unreadable = 0;
  {
    Statement s(db_, "SELECT id, status, genotype FROM candidates ORDER BY id", file_);
    while (s.step()) {
      const std::string status = s.text(1);
      if (status != "done" && status != "failed" && status != "pending" && status != "rejected")
        ++unreadable;
      if (s.text(2).empty()) ++unreadable;
    }
  }
  if (unreadable > 0)
    out.problems.push_back("candidates: " + std::to_string(unreadable) + " rows with an empty genotype or unknown status");
  if (!meta("config_identity")) out.problems.push_back("meta: no config_identity (the campaign's creation did not finish)");
  const int64_t done = scalar("SELECT count(*) FROM candidates WHERE status = 'done'");
  out.recoverable.push_back(std::to_string(count) + " candidate rows (" + std::to_string(done) +
                            " with results) can be read by top, report and export");
  if (checkpoints > 0) out.recoverable.push_back(std::to_string(checkpoints) + " controller checkpoint(s)");
  return out;
}

ResultsStore::~ResultsStore() { sqlite3_close(db_); }

void ResultsStore::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError(file_.string() + ": " + msg);
  }
}

void ResultsStore::set_meta(const std::string& key, const std::string& value) {
  Statement s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", file_);
  s.bind(1, key);
  s.bind(2, value);
  s.step();
}

std::optional<std::string> ResultsStore::meta(const std::string& key) const {
  Statement s(db_, "SELECT value FROM meta WHERE key = ?", file_);
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

void ResultsStore::commit(const std::vector<CandidateRecord>& candidates,
                          const std::optional<std::vector<uint8_t>>& checkpoint,
                          const std::string& event_kind, const std::string& event_message) {
  commit(candidates, {}, checkpoint, event_kind, event_message);
}

void ResultsStore::commit(const std::vector<CandidateRecord>& candidates,
                          const std::vector<EvaluationRecord>& evaluations,
                          const std::optional<std::vector<uint8_t>>& checkpoint,
                          const std::string& event_kind, const std::string& event_message) {
  exec("BEGIN IMMEDIATE");
  try {
    for (const auto& c : candidates) {
      Statement s(db_,
                  std::string("INSERT OR REPLACE INTO candidates(") + kCandidateColumns +
                      ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  file_);
      s.bind(1, c.id);
      s.bind(2, c.hash);
      s.bind(3, c.genotype);
      s.bind(4, std::string(candidate_status_name(c.status)));
      s.bind_opt(5, c.accuracy);
      s.bind(6, c.params);
      s.bind(7, c.macs);
      s.bind(8, c.train_seconds);
      s.bind(9, c.failure_reason);
      s.bind_opt(10, c.parent);
      s.bind_opt(11, c.reused_from);
      s.bind(12, int64_t{c.observed ? 1 : 0});
      s.bind(13, c.metrics.empty() ? std::string("{}") : c.metrics);
      s.bind(14, c.proposed_at);
      s.bind(15, c.finished_at);
      s.bind(16, int64_t{c.rung});
      s.step();
    }
    for (const auto& e : evaluations) {
      Statement s(db_,
                  std::string("INSERT OR REPLACE INTO evaluations(") + kEvaluationColumns +
                      ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                  file_);
      s.bind(1, e.seq);
      s.bind(2, e.candidate);
      s.bind(3, int64_t{e.rung});
      s.bind(4, int64_t{e.epochs});
      s.bind(5, std::string(candidate_status_name(e.status)));
      s.bind_opt(6, e.accuracy);
      s.bind(7, e.train_seconds);
      s.bind(8, e.failure_reason);
      s.bind_opt(9, e.reused_from);
      s.bind(10, int64_t{e.observed ? 1 : 0});
      s.bind(11, e.metrics.empty() ? std::string("{}") : e.metrics);
      s.bind(12, e.created_at);
      s.bind(13, e.finished_at);
      s.step();
    }
    if (checkpoint) {
      Statement count(db_, "SELECT COUNT(*) FROM candidates WHERE observed = 1", file_);
      count.step();
      const int64_t observed = count.integer(0);
      Statement s(db_, "INSERT INTO checkpoints(observed, state, created_at) VALUES(?, ?, ?)", file_);
      s.bind(1, observed);
      s.bind_blob(2, *checkpoint);
      s.bind(3, utc_now());
      s.step();
      exec("DELETE FROM checkpoints WHERE id NOT IN (SELECT id FROM checkpoints ORDER BY id DESC "
           "LIMIT " + std::to_string(kCheckpointsKept) + ")");
    }
    if (!event_kind.empty()) {
      Statement s(db_, "INSERT INTO events(at, kind, message) VALUES(?, ?, ?)", file_);
      s.bind(1, utc_now());
      s.bind(2, event_kind);
      s.bind(3, event_message);
      s.step();
    }
    exec("COMMIT");
  } catch (...) {
    char* err = nullptr;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, &err);
    sqlite3_free(err);
    throw;
  }
}

void ResultsStore::add_event(const std::string& kind, const std::string& message) {
  commit({}, std::nullopt, kind, message);
}

const char* ResultsStore::candidate_columns() const {
  return version_ == 1 ? kCandidateColumnsV1 : kCandidateColumns;
}

std::vector<EvaluationRecord> ResultsStore::evaluations() const {
  std::vector<EvaluationRecord> out;
  if (version_ == 1) return out;
  Statement s(db_, std::string("SELECT ") + kEvaluationColumns + " FROM evaluations ORDER BY seq",
              file_);
  while (s.step()) out.push_back(read_evaluation(s));
  return out;
}

std::vector<CandidateRecord> ResultsStore::candidates() const {
  Statement s(db_, std::string("SELECT ") + candidate_columns() + " FROM candidates ORDER BY id",
              file_);
  std::vector<CandidateRecord> out;
  while (s.step()) {
    out.push_back(read_candidate(s));
    check_hash(out.back(), file_);
  }
  return out;
}

std::vector<CandidateRecord> ResultsStore::ranked_candidates() const {
  std::vector<CandidateRecord> ranked;
  for (auto& r : candidates())
    if (r.status == CandidateStatus::done && r.accuracy && !r.reused_from) ranked.push_back(std::move(r));
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.rung != b.rung ? a.rung > b.rung : *a.accuracy > *b.accuracy;
  });
  return ranked;
}

std::optional<CandidateRecord> ResultsStore::candidate(int64_t id) const {
  Statement s(db_, std::string("SELECT ") + candidate_columns() + " FROM candidates WHERE id = ?",
              file_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  CandidateRecord r = read_candidate(s);
  check_hash(r, file_);
  return r;
}

std::optional<CandidateRecord> ResultsStore::find_by_hash(const std::string& hash) const {
  Statement s(db_,
              std::string("SELECT ") + candidate_columns() +
                  " FROM candidates WHERE hash = ? AND status = 'done' ORDER BY id LIMIT 1",
              file_);
  s.bind(1, hash);
  if (!s.step()) return std::nullopt;
  CandidateRecord r = read_candidate(s);
  check_hash(r, file_);
  return r;
}

std::optional<std::pair<int64_t, std::vector<uint8_t>>> ResultsStore::latest_checkpoint() const {
  Statement s(db_, "SELECT observed, state FROM checkpoints ORDER BY id DESC LIMIT 1", file_);
  if (!s.step()) return std::nullopt;
  return std::make_pair(s.integer(0), s.blob(1));
}

std::vector<ResultsStore::Event> ResultsStore::events() const {
  Statement s(db_, "SELECT at, kind, message FROM events ORDER BY id", file_);
  std::vector<Event> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2)});
  return out;
}

}  // namespace cf

namespace cf {

nlohmann::json ResultsStore::genotype_json(const CandidateRecord& r) const {
  try {
    return parse_json_text(r.genotype, "", 16, size_t{1} << 20);
  } catch (const JsonTextError& e) {
    throw StoreError(file_.string() + ": candidate " + std::to_string(r.id) + ": genotype: " + e.what());
  }
}

nlohmann::json ResultsStore::metrics_json(const CandidateRecord& r) const {
  try {
    return parse_json_text(r.metrics.empty() ? std::string("{}") : r.metrics, "", 16, size_t{16} << 20);
  } catch (const JsonTextError& e) {
    throw StoreError(file_.string() + ": candidate " + std::to_string(r.id) + ": metrics: " + e.what());
  }
}

Genotype ResultsStore::genotype(const CandidateRecord& r) const {
  return parse_genotype(r.genotype, -1, file_.string() + ": candidate " + std::to_string(r.id));
}

}  // namespace cf

#include "results/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>

namespace cf {

namespace {

constexpr int kSchemaVersion = 1;
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
  return CandidateStatus::pending;
}

constexpr const char* kCandidateColumns =
    "id, hash, genotype, status, accuracy, params, macs, train_seconds, failure_reason, parent, "
    "reused_from, observed, metrics, proposed_at, finished_at";

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
  return r;
}

}  // namespace

const char* candidate_status_name(CandidateStatus s) {
  switch (s) {
    case CandidateStatus::pending: return "pending";
    case CandidateStatus::done: return "done";
    case CandidateStatus::failed: return "failed";
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

ResultsStore::ResultsStore(const std::filesystem::path& file) : file_(file) {
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(file.string() + ": cannot open results database: " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
  exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS candidates("
      " id INTEGER PRIMARY KEY, hash TEXT NOT NULL, genotype TEXT NOT NULL, status TEXT NOT NULL,"
      " accuracy REAL, params INTEGER NOT NULL DEFAULT 0, macs INTEGER NOT NULL DEFAULT 0,"
      " train_seconds REAL NOT NULL DEFAULT 0, failure_reason TEXT NOT NULL DEFAULT '',"
      " parent INTEGER, reused_from INTEGER, observed INTEGER NOT NULL DEFAULT 0,"
      " metrics TEXT NOT NULL DEFAULT '{}', proposed_at TEXT NOT NULL DEFAULT '',"
      " finished_at TEXT NOT NULL DEFAULT '');"
      "CREATE INDEX IF NOT EXISTS candidates_hash ON candidates(hash);"
      "CREATE TABLE IF NOT EXISTS checkpoints(id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " observed INTEGER NOT NULL, state BLOB NOT NULL, created_at TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
      " kind TEXT NOT NULL, message TEXT NOT NULL);");
  const auto version = meta("schema_version");
  if (!version) {
    set_meta("schema_version", std::to_string(kSchemaVersion));
  } else if (*version != std::to_string(kSchemaVersion)) {
    throw StoreError(file.string() + ": results database schema version " + *version +
                     " is not supported (this cellforge writes version " +
                     std::to_string(kSchemaVersion) + ")");
  }
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
  exec("BEGIN IMMEDIATE");
  try {
    for (const auto& c : candidates) {
      Statement s(db_,
                  std::string("INSERT OR REPLACE INTO candidates(") + kCandidateColumns +
                      ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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

std::vector<CandidateRecord> ResultsStore::candidates() const {
  Statement s(db_, std::string("SELECT ") + kCandidateColumns + " FROM candidates ORDER BY id", file_);
  std::vector<CandidateRecord> out;
  while (s.step()) out.push_back(read_candidate(s));
  return out;
}

std::vector<CandidateRecord> ResultsStore::ranked_candidates() const {
  std::vector<CandidateRecord> ranked;
  for (auto& r : candidates())
    if (r.status == CandidateStatus::done && r.accuracy && !r.reused_from) ranked.push_back(std::move(r));
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return *a.accuracy > *b.accuracy; });
  return ranked;
}

std::optional<CandidateRecord> ResultsStore::candidate(int64_t id) const {
  Statement s(db_, std::string("SELECT ") + kCandidateColumns + " FROM candidates WHERE id = ?", file_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_candidate(s);
}

std::optional<CandidateRecord> ResultsStore::find_by_hash(const std::string& hash) const {
  Statement s(db_,
              std::string("SELECT ") + kCandidateColumns +
                  " FROM candidates WHERE hash = ? AND status != 'pending' ORDER BY id LIMIT 1",
              file_);
  s.bind(1, hash);
  if (!s.step()) return std::nullopt;
  return read_candidate(s);
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

#pragma once
// The campaign results database (SQLite, one file per run directory). It is the source of truth
// of a campaign: every candidate, its result, controller checkpoints and campaign events. Every
// write is one transaction, so a crash at any moment leaves the last committed state intact.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "space/genotype.h"

struct sqlite3;

namespace cf {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// rejected: not trained, over a cap of the campaign's [objective] (failure_reason says which).
enum class CandidateStatus { pending, done, failed, rejected };
const char* candidate_status_name(CandidateStatus s);

struct CandidateRecord {
  int64_t id = 0;  // the controller's candidate id (1, 2, ...)
  std::string hash;
  std::string genotype;  // genotype JSON (spec section 1)
  CandidateStatus status = CandidateStatus::pending;
  std::optional<double> accuracy;  // proxy validation accuracy (0..1)
  int64_t params = 0, macs = 0;
  double train_seconds = 0;
  std::string failure_reason;
  std::optional<int64_t> parent;       // the candidate it was mutated from, when known
  std::optional<int64_t> reused_from;  // an earlier candidate with the same hash whose result was reused
  bool observed = false;               // the controller has observed the result
  std::string metrics;                 // JSON: per-epoch losses and accuracies, extra measures
  std::string proposed_at, finished_at;  // ISO-8601 UTC
  // Campaigns with a [scheduler]: the rung of `accuracy` (its highest finished evaluation;
  // every rung's result is in the evaluations table). 0 otherwise.
  int rung = 0;
};

// One evaluation of a candidate at a fidelity (campaigns with a [scheduler]): the jobs in the
// order the scheduler created them (seq 1, 2, ...), each observed in that order.
struct EvaluationRecord {
  int64_t seq = 0;
  int64_t candidate = 0;
  int rung = 0;
  int epochs = 0;                                     // the training epochs this evaluation reaches
  CandidateStatus status = CandidateStatus::pending;  // pending | done | failed
  std::optional<double> accuracy;
  double train_seconds = 0;
  std::string failure_reason;
  std::optional<int64_t> reused_from;  // the candidate whose result at these epochs was reused
  bool observed = false;
  std::string metrics;  // JSON, as CandidateRecord::metrics
  std::string created_at, finished_at;
};

// How a results database is opened.
enum class StoreAccess {
  create,  // a new campaign: creates the file and its tables (an existing database must be empty)
  write,   // an existing campaign, read-write: refused when the file is missing or has no tables
  read,    // an existing campaign, read-only (works in a read-only run directory); never writes
};

// What check() finds wrong with a database; empty when it is consistent.
struct StoreProblems {
  std::vector<std::string> problems;  // one line each, naming the table and rows
  std::vector<std::string> recoverable;  // what can still be read or recovered, one line each
  bool ok() const { return problems.empty(); }
};

class ResultsStore {
 public:
  // Opens the database file (WAL journal, full sync when writing). Errors are StoreError naming
  // the file: missing, not a SQLite database, a schema version this build does not know, tables
  // missing (a truncated file, or a lost -wal file after a crash). A version-1 database (before
  // [scheduler]) is upgraded to version 2 when opened for writing (one transaction: the rung
  // column and the evaluations table) and read as it is when opened read-only.
  explicit ResultsStore(const std::filesystem::path& file, StoreAccess access = StoreAccess::write);
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  // Key/value metadata (config text and hash, campaign name, schema version).
  void set_meta(const std::string& key, const std::string& value);
  std::optional<std::string> meta(const std::string& key) const;

  // One transaction: the candidate rows given (inserted or replaced), an optional controller
  // checkpoint taken after them, and an optional event.
  void commit(const std::vector<CandidateRecord>& candidates,
              const std::optional<std::vector<uint8_t>>& checkpoint = std::nullopt,
              const std::string& event_kind = "", const std::string& event_message = "");
  // The same with evaluation rows (inserted or replaced) in the one transaction.
  void commit(const std::vector<CandidateRecord>& candidates,
              const std::vector<EvaluationRecord>& evaluations,
              const std::optional<std::vector<uint8_t>>& checkpoint = std::nullopt,
              const std::string& event_kind = "", const std::string& event_message = "");
  void add_event(const std::string& kind, const std::string& message);
  std::vector<EvaluationRecord> evaluations() const;  // by seq

  std::vector<CandidateRecord> candidates() const;  // by id
  std::optional<CandidateRecord> candidate(int64_t id) const;
  // Evaluated candidates (done, not reused duplicates), highest rung first, then best proxy
  // accuracy, ties by id.
  std::vector<CandidateRecord> ranked_candidates() const;
  // The first candidate with this hash that has a successful result, if any (failures are never
  // reused: a crash or an out-of-memory kill need not repeat).
  std::optional<CandidateRecord> find_by_hash(const std::string& hash) const;
  // The latest controller checkpoint: (candidates observed when it was taken, state bytes).
  std::optional<std::pair<int64_t, std::vector<uint8_t>>> latest_checkpoint() const;
  struct Event {
    std::string at, kind, message;
  };
  std::vector<Event> events() const;

  const std::filesystem::path& file() const { return file_; }

  // A stored candidate's genotype and metrics, parsed with the JSON limits (space/json_text.h);
  // errors name the database file and the candidate. genotype() is for NASNet-space campaigns.
  nlohmann::json genotype_json(const CandidateRecord& r) const;
  nlohmann::json metrics_json(const CandidateRecord& r) const;
  Genotype genotype(const CandidateRecord& r) const;

  // Consistency of the stored campaign: schema version, candidate ids 1..N without gaps, the latest
  // checkpoint's observed count against the candidates marked observed, observed candidates
  // forming a prefix, a checkpoint whenever candidates exist, rows readable. resume refuses a
  // database with problems rather than overwrite anything; `cellforge check` prints them.
  StoreProblems check() const;

 private:
  void exec(const std::string& sql) const;
  void require_schema() const;
  const char* candidate_columns() const;
  std::filesystem::path file_;
  mutable int version_ = 2;  // the schema version of the open file (require_schema reads it)
  sqlite3* db_ = nullptr;
};

std::string utc_now();  // ISO-8601, e.g. 2026-11-27T21:13:06Z

}  // namespace cf

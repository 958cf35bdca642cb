#pragma once
// The zero-cost scores file that `cellforge zero-cost` writes and the search warm-up reads: CSV
// with the header arch,hash,<every proxy>,seconds; one row per architecture, appended and flushed
// as it is scored so an interrupted run resumes where it stopped. Empty cells: not computed.
// NASNet architectures are written as compact genotype JSON (quoted as CSV requires).
#include <array>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "trainer/zero_cost.h"

namespace cf {

struct ZeroCostRow {
  std::string arch;                               // NAS-Bench-201 string or genotype JSON
  std::string hash;                               // canonical hash
  std::array<double, kZeroCostProxyCount> value;  // NaN: not computed (or not computable)
  double seconds = 0;
};

// Reads a scores file. A missing file is an empty list; a last line without its newline (an
// interrupted write) is ignored; any other malformed line throws std::runtime_error naming the
// file and line.
std::vector<ZeroCostRow> read_zero_cost_csv(const std::filesystem::path& file);

// A guide score for every NAS-Bench-201 cell (by Nb201Space::dense_index) from the rows of a
// scores file: one proxy's value, or with several proxies the average of their ranks over the
// file's rows (higher is better; NaN ranks lowest). nullopt where the file has no row.
std::vector<std::optional<double>> nb201_guide_scores(const std::vector<ZeroCostRow>& rows,
                                                      const std::vector<ZeroCostProxy>& proxies);

// Appends rows to a scores file (created with its header; a partial last line is cut off first).
class ZeroCostCsvWriter {
 public:
  explicit ZeroCostCsvWriter(const std::filesystem::path& file);
  ~ZeroCostCsvWriter();
  ZeroCostCsvWriter(const ZeroCostCsvWriter&) = delete;
  ZeroCostCsvWriter& operator=(const ZeroCostCsvWriter&) = delete;
  void append(const ZeroCostRow& row);  // written and flushed to the kernel before it returns

 private:
  std::filesystem::path file_;
  std::FILE* out_ = nullptr;
};

}  // namespace cf

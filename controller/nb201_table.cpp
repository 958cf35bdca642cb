#include "controller/nb201_table.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <map>

namespace cf {

namespace {

constexpr std::array<std::string_view, kNb201Datasets> kDatasetNames = {"cifar10", "cifar100",
                                                                        "imagenet16"};
constexpr std::array<std::string_view, 3> kMetricSuffixes = {"_valid_12ep", "_test_12ep",
                                                             "_test_200ep"};

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

[[noreturn]] void table_error(const std::string& source, long line, const std::string& what) {
  throw Nb201TableError(source + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " +
                        what);
}

}  // namespace

std::string_view nb201_dataset_name(Nb201Dataset dataset) {
  return kDatasetNames[static_cast<int>(dataset)];
}

std::optional<Nb201Dataset> nb201_dataset_from_name(std::string_view name) {
  for (int d = 0; d < kNb201Datasets; ++d)
    if (kDatasetNames[d] == name) return static_cast<Nb201Dataset>(d);
  return std::nullopt;
}

Nb201Table Nb201Table::load(const std::filesystem::path& csv) {
  std::ifstream in(csv, std::ios::binary);
  if (!in) throw Nb201TableError(csv.string() + ": cannot open the NAS-Bench-201 table");
  return parse(in, csv.string());
}

Nb201Table Nb201Table::parse(std::istream& in, const std::string& source) {
  auto fail = [&](long line, const std::string& what) { table_error(source, line, what); };
  Nb201Table table;
  std::string text;
  long line_number = 1;
  if (!std::getline(in, text)) fail(0, "empty file (expected a CSV header line)");
  if (!text.empty() && text.back() == '\r') text.pop_back();

  // Column positions of everything the table needs.
  std::vector<std::string> header;  // copies: text is reused for the rows
  for (std::string_view name : split(text)) header.emplace_back(name);
  std::map<std::string, size_t, std::less<>> column;
  for (size_t i = 0; i < header.size(); ++i)
    if (!column.emplace(header[i], i).second)
      fail(line_number, "duplicate column \"" + std::string(header[i]) + "\"");
  auto require = [&](const std::string& name) {
    auto it = column.find(name);
    if (it == column.end()) fail(line_number, "missing column \"" + name + "\"");
    return it->second;
  };
  const size_t index_column = require("index");
  const size_t arch_column = require("arch");
  std::array<std::array<size_t, 3>, kNb201Datasets> metric_column;
  for (int d = 0; d < kNb201Datasets; ++d)
    for (int m = 0; m < 3; ++m)
      metric_column[d][m] =
          require(std::string(kDatasetNames[d]) + std::string(kMetricSuffixes[m]));

  table.row_of_dense_.assign(Nb201Space::kArchitectures, -1);
  std::map<int, long> line_of_index;
  while (std::getline(in, text)) {
    ++line_number;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) fail(line_number, "empty line");
    const std::vector<std::string_view> fields = split(text);
    if (fields.size() != header.size())
      fail(line_number, "expected " + std::to_string(header.size()) + " fields, got " +
                            std::to_string(fields.size()));
    Nb201Row row;
    const std::string_view index_text = fields[index_column];
    auto [end, ec] =
        std::from_chars(index_text.data(), index_text.data() + index_text.size(), row.index);
    if (ec != std::errc() || end != index_text.data() + index_text.size() || row.index < 0)
      fail(line_number,
           "column index: \"" + std::string(index_text) + "\" is not a non-negative integer");
    if (auto [it, fresh] = line_of_index.emplace(row.index, line_number); !fresh)
      fail(line_number,
           "index " + std::to_string(row.index) + " repeats line " + std::to_string(it->second));
    row.arch = fields[arch_column];
    try {
      row.seq = table.space_.parse_arch(row.arch, "column arch");
    } catch (const GenotypeError& e) {
      fail(line_number, e.what());
    }
    for (int d = 0; d < kNb201Datasets; ++d) {
      double values[3];
      for (int m = 0; m < 3; ++m) {
        const std::string_view field = fields[metric_column[d][m]];
        auto [vend, vec] = std::from_chars(field.data(), field.data() + field.size(), values[m]);
        const std::string& name = header[metric_column[d][m]];
        if (vec != std::errc() || vend != field.data() + field.size() || !std::isfinite(values[m]))
          fail(line_number, "column " + name + ": \"" + std::string(field) + "\" is not a number");
        if (values[m] < 0 || values[m] > 100)
          fail(line_number, "column " + name + ": " + std::string(field) +
                                " is not an accuracy in percent [0, 100]");
      }
      row.accuracy[d] = {values[0], values[1], values[2]};
    }
    int& slot = table.row_of_dense_[table.space_.dense_index(row.seq)];
    if (slot >= 0)
      fail(line_number, "architecture " + row.arch + " repeats the row of index " +
                            std::to_string(table.rows_[slot].index));
    slot = static_cast<int>(table.rows_.size());
    table.rows_.push_back(std::move(row));
  }
  if (in.bad()) fail(line_number, "read error");
  if (table.rows_.empty()) fail(0, "no rows after the header");
  return table;
}

const Nb201Row* Nb201Table::find(const DecisionSeq& seq) const {
  const int row = row_of_dense_[space_.dense_index(seq)];
  return row < 0 ? nullptr : &rows_[row];
}

const Nb201Row* Nb201Table::find(std::string_view arch) const {
  return find(space_.parse_arch(arch));
}

Nb201Evaluator::Nb201Evaluator(const Nb201Table& table, Nb201Dataset dataset)
    : table_(table), dataset_(dataset) {}

EvalResult Nb201Evaluator::evaluate(const DecisionSeq& seq) const {
  const Nb201Row* row = table_.find(seq);
  if (!row)
    return EvalResult::failure("architecture " + table_.space().arch_string(seq) +
                               " is not in the NAS-Bench-201 table");
  return EvalResult::success(row->of(dataset_).valid_12ep / 100.0);
}

std::optional<double> Nb201Evaluator::final_test_accuracy(const DecisionSeq& seq) const {
  const Nb201Row* row = table_.find(seq);
  if (!row) return std::nullopt;
  return row->of(dataset_).test_200ep;
}

}  // namespace cf

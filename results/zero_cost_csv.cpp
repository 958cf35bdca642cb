#include "results/zero_cost_csv.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "results/statistics.h"
#include "space/nb201.h"

namespace cf {

namespace {

std::string header() {
  std::string h = "arch,hash";
  for (int k = 0; k < kZeroCostProxyCount; ++k)
    h += "," + std::string(zero_cost_proxy_name(static_cast<ZeroCostProxy>(k)));
  return h + ",seconds";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Splits one CSV line (RFC 4180 quotes, no embedded newlines); false when a quote is unclosed.
bool split_csv(const std::string& line, std::vector<std::string>& fields) {
  fields.assign(1, "");
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        fields.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return !quoted;
}

double parse_number(const std::string& text, const std::string& where) {
  if (text.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-inf") return -std::numeric_limits<double>::infinity();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || std::isnan(v))
    throw std::runtime_error(where + ": '" + text + "' is not a number");
  return v;
}

}  // namespace

std::vector<ZeroCostRow> read_zero_cost_csv(const std::filesystem::path& file) {
  std::vector<ZeroCostRow> rows;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(file)) return rows;
    throw std::runtime_error(file.string() + ": cannot read");
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (const size_t last = text.rfind('\n'); last != text.size() - 1)  // interrupted last line
    text.resize(last == std::string::npos ? 0 : last + 1);
  size_t begin = 0;
  int line_no = 0;
  std::vector<std::string> fields;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    const std::string where = file.string() + ":" + std::to_string(++line_no);
    if (line_no == 1) {
      if (line != header())
        throw std::runtime_error(where + ": not a zero-cost scores file (expected the header " +
                                 header() + ")");
      continue;
    }
    if (!split_csv(line, fields) || fields.size() != static_cast<size_t>(kZeroCostProxyCount) + 3)
      throw std::runtime_error(where + ": expected " + std::to_string(kZeroCostProxyCount + 3) +
                               " fields");
    ZeroCostRow row;
    row.arch = fields[0];
    row.hash = fields[1];
    for (int k = 0; k < kZeroCostProxyCount; ++k) row.value[k] = parse_number(fields[2 + k], where);
    row.seconds = parse_number(fields.back(), where);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::optional<double>> nb201_guide_scores(const std::vector<ZeroCostRow>& rows,
                                                      const std::vector<ZeroCostProxy>& proxies) {
  const Nb201Space space;
  std::vector<int> index;
  for (const ZeroCostRow& row : rows) {
    if (row.arch.empty() || row.arch.front() != '|')
      throw std::runtime_error("scores: '" + row.arch.substr(0, 40) +
                               "' is not a NAS-Bench-201 architecture");
    index.push_back(space.dense_index(space.parse_arch(row.arch)));
  }
  std::vector<double> combined(rows.size(), 0.0);
  for (ZeroCostProxy p : proxies) {
    std::vector<double> values;
    for (const ZeroCostRow& row : rows) values.push_back(row.value[static_cast<int>(p)]);
    if (proxies.size() == 1) {
      combined = values;
      break;
    }
    const std::vector<double> ranks = average_ranks(values);
    for (size_t k = 0; k < rows.size(); ++k)
      combined[k] += ranks[k] / static_cast<double>(proxies.size());
  }
  std::vector<std::optional<double>> scores(Nb201Space::kArchitectures);
  for (size_t k = 0; k < rows.size(); ++k) scores[index[k]] = combined[k];
  return scores;
}

ZeroCostCsvWriter::ZeroCostCsvWriter(const std::filesystem::path& file) : file_(file) {
  const bool exists = std::filesystem::exists(file) && std::filesystem::file_size(file) > 0;
  if (exists) {
    read_zero_cost_csv(file);  // refuses a file that is not ours before appending to it
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!text.empty() && text.back() != '\n')
      std::filesystem::resize_file(
          file, text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  }
  out_ = std::fopen(file.c_str(), "ab");
  if (!out_) throw std::runtime_error(file.string() + ": cannot write: " + std::strerror(errno));
  if (!exists || std::filesystem::file_size(file) == 0)
    std::fprintf(out_, "%s\n", header().c_str());
  std::fflush(out_);
}

ZeroCostCsvWriter::~ZeroCostCsvWriter() {
  if (out_) std::fclose(out_);
}

void ZeroCostCsvWriter::append(const ZeroCostRow& row) {
  std::string line = csv_field(row.arch) + "," + csv_field(row.hash);
  for (double v : row.value) line += "," + number(v);
  line += "," + number(row.seconds) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_) != 0)
    throw std::runtime_error(file_.string() + ": cannot write: " + std::strerror(errno));
}

}  // namespace cf

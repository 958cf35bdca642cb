#pragma once
// JSON text from outside the process (genotype files, results databases, worker messages) is
// parsed here only: nesting deeper than a fixed limit and oversized text are refused before the
// parser sees them, so no input can exhaust the stack (printing or destroying a deeply nested
// value recurses) or memory.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace cf {

class JsonTextError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kMaxJsonDepth = 64;                   // arrays and objects inside each other
inline constexpr size_t kMaxJsonBytes = size_t{64} << 20;  // 64 MiB of text

// Parses `text`; errors are JsonTextError("<context>: not valid JSON: ...", "<context>: JSON nested
// deeper than 64 levels", ...). `context` names where the text came from (file, candidate).
nlohmann::json parse_json_text(std::string_view text, std::string_view context,
                               int max_depth = kMaxJsonDepth, size_t max_bytes = kMaxJsonBytes);

// A short description of a JSON value for error messages: the value itself when it is a short
// scalar, otherwise its type ("an array of 3 values"); never recurses into the value.
std::string json_brief(const nlohmann::json& value);

}  // namespace cf

#include "space/json_text.h"

#include <algorithm>
#include <string>

namespace cf {

namespace {

// Deepest nesting of arrays and objects in `text`, counting brackets outside strings; stops
// counting once `limit` is exceeded.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string prefix(std::string_view context) {
  return context.empty() ? std::string() : std::string(context) + ": ";
}

}  // namespace

nlohmann::json parse_json_text(std::string_view text, std::string_view context, int max_depth,
                               size_t max_bytes) {
  if (text.size() > max_bytes)
    throw JsonTextError(prefix(context) + "JSON text of " + std::to_string(text.size()) +
                        " bytes is larger than " + std::to_string(max_bytes));
  if (nesting_depth(text, max_depth) > max_depth)
    throw JsonTextError(prefix(context) + "JSON nested deeper than " + std::to_string(max_depth) +
                        " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> from "parse
    // error".
    if (const auto at = what.find("] ");
        what.rfind("[json.exception.", 0) == 0 && at != std::string::npos)
      what = what.substr(at + 2);
    throw JsonTextError(prefix(context) + "not valid JSON: " + what);
  }
}

std::string json_brief(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::array:
      return "an array of " + std::to_string(value.size()) + " values";
    case nlohmann::json::value_t::object:
      return "an object with " + std::to_string(value.size()) + " keys";
    case nlohmann::json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      if (s.size() > 60)
        return nlohmann::json(s.substr(0, 60))
                   .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace) +
               "...";
      return value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    }
    default:
      return value.dump();
  }
}

}  // namespace cf

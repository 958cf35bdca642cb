#include "results/escape.h"

#include <cstdio>
#include <stdexcept>

namespace cf {

namespace {

bool printable_ascii(unsigned char c) {
  return c >= 0x20 && c < 0x7f;
}

}  // namespace

std::string python_string_literal(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (printable_ascii(c)) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

std::string python_comment_text(std::string_view text, size_t max_chars) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    out += printable_ascii(c) && c != '"' && c != '\\' && c != '\'' ? static_cast<char>(c) : '?';
  }
  return out;
}

std::string dot_quoted_text(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += printable_ascii(c) ? static_cast<char>(c) : '?';
    }
  }
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string safe_file_stem(std::string_view name, std::string_view hash) {
  if (hash.empty()) throw std::invalid_argument("safe_file_stem: empty hash");
  for (char c : hash)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      throw std::invalid_argument("safe_file_stem: hash '" + std::string(hash) +
                                  "' is not hexadecimal");
  constexpr size_t kMaxSlug = 48;
  std::string slug;
  for (unsigned char c : name) {
    if (slug.size() >= kMaxSlug) break;
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (keep && !(slug.empty() && c == '-'))
      slug += static_cast<char>(c);
    else if (!slug.empty() && slug.back() != '_')
      slug += '_';
  }
  while (!slug.empty() && slug.back() == '_') slug.pop_back();
  if (slug.empty()) slug = "genotype";
  if (slug.size() >= hash.size() && slug.compare(slug.size() - hash.size(), hash.size(), hash) == 0)
    return slug;
  return slug + "_" + std::string(hash);
}

}  // namespace cf

#pragma once
// Text from users (genotype and campaign names, hashes read back from a results database) that
// reaches generated code, DOT, HTML or a file name goes through exactly one of these functions,
// one per target, so that no name can break out of the place it is written to.
#include <string>
#include <string_view>

namespace cf {

// A Python string literal (with its quotes) that evaluates to `text`: every character outside
// printable ASCII, and the quote and backslash, is escaped; never spans lines.
std::string python_string_literal(std::string_view text);

// Text safe inside a Python comment or docstring line: printable ASCII only (everything else,
// including quotes and backslashes, becomes '?'), at most `max_chars` characters.
std::string python_comment_text(std::string_view text, size_t max_chars = 200);

// The inside of a DOT double-quoted string (ID or label): '"' and '\\' escaped, control
// characters and non-ASCII bytes replaced by '?', so Graphviz sees one plain string.
std::string dot_quoted_text(std::string_view text);

// HTML text or attribute value: & < > " ' escaped, control characters other than tab and
// newline dropped.
std::string html_escape(std::string_view text);

// A file stem that is safe in any directory: [A-Za-z0-9_-] only (other bytes become '_', runs of
// '_' collapse), at most 48 characters of the name, never empty, never starting with '-' or '.',
// followed by "_<hash>" unless the slug already ends with the hash. `hash` must be the canonical
// hash (hex); a non-hex hash is refused with std::invalid_argument.
std::string safe_file_stem(std::string_view name, std::string_view hash);

}  // namespace cf

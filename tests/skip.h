#pragma once
// Test cases that cannot run here (no ../shared data, no Chromium, no PyTorch, no Graphviz, no
// MPI, no dataset package) report SKIP to ctest instead of passing silently.
//
// `cf::test::skip(reason)` records why; the test case then returns (or carries on with the parts
// that can run). When it ends without a failed assertion, the listener in catch_main.cpp prints
//   CELLFORGE_SKIP: <reason>
// and tests/CMakeLists.txt sets SKIP_REGULAR_EXPRESSION "CELLFORGE_SKIP: " on every discovered
// test, so ctest lists it as "Skipped". A failure is never hidden: after a failed assertion the
// line is not printed (ctest would report a skip even for a failing test otherwise).
#include <string>

namespace cf::test {

// The skip reasons of the running test case ("" = not skipped); catch_main.cpp clears it.
inline std::string& skip_reasons() {
  static std::string reasons;
  return reasons;
}

inline void skip(const std::string& reason) {
  std::string& reasons = skip_reasons();
  reasons += (reasons.empty() ? "" : "; ") + reason;
}

}  // namespace cf::test

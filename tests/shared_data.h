#pragma once
// Where the tests find ../shared (read-only data beside the checkout, absent in a user's clone):
// $CELLFORGE_TEST_SHARED when set, else the directory beside the source tree. Tests that need it
// check that the file exists and skip (skip.h) when it does not.
#include <cstdlib>
#include <string>

namespace cf::test {

inline std::string shared_dir() {
  const char* shared = std::getenv("CELLFORGE_TEST_SHARED");
  return shared && *shared ? std::string(shared) : std::string(CF_SOURCE_DIR "/../shared");
}

// The NAS-Bench-201 table (CSV).
inline std::string nb201_table_path() { return shared_dir() + "/data/nas-bench-201/nb201.csv"; }

}  // namespace cf::test

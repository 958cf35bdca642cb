// libFuzzer target: the campaign config parser (cf::load_config) and the training config parser
// (cf::load_train_config). Both take a file path, so each input is written to a scratch file
// (search/config.cpp has no text-level entry point, and this harness does not change it).
// Every input goes to both parsers (each rejects the other's sections). Comment lines of the form
// "#set section.key=value" are also passed as overrides (--set), so seeds stay valid INI files.
// Any std::exception (ConfigError, or std::invalid_argument / std::out_of_range escaping a
// conversion) counts as a clean rejection; crashes, sanitizer reports, leaks and timeouts are
// findings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "search/config.h"

namespace {
// Real configs are well under 10 KB; larger inputs are skipped (CF_FUZZ_NO_LIMITS=1 lifts this).
constexpr size_t kMaxInput = 1 << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput && cf_fuzz::limits_on()) return -1;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind("#set ", 0) == 0) overrides.push_back(line.substr(5));
  }
  const auto path = cf_fuzz::write_file("fuzz.ini", data, size);
  // A config that loaded is frozen as INI text (campaign: to_ini() into RUN_DIR/config.ini, read
  // back on resume; training: ini_text() into OUT/config.ini, read back by export). That text must
  // load again, to the same values.
  auto reload = [](const std::string& ini, auto load, const auto& expected) {
    const auto again = cf_fuzz::write_file("again.ini", reinterpret_cast<const uint8_t*>(ini.data()), ini.size());
    try {
      if (load(again).values == expected) return;
      std::fprintf(stderr, "the frozen config reloads with different values:\n%s", ini.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "the frozen config does not reload: %s\n%s", e.what(), ini.c_str());
    }
    __builtin_trap();
  };
  try {
    const cf::CampaignConfig config = cf::load_config(path, overrides);
    reload(config.to_ini(), [](const auto& p) { return cf::load_config(p); }, config.values);
  } catch (const std::exception&) {
  }
  try {
    const cf::TrainConfig config = cf::load_train_config(path, overrides);
    reload(cf::ini_text(config.values), [](const auto& p) { return cf::load_train_config(p); }, config.values);
  } catch (const std::exception&) {
  }
  return 0;
}

#pragma once
// Helpers shared by the libFuzzer targets: one private scratch directory per fuzzing process
// (the readers under test take file paths), removed at exit.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace cf_fuzz {

// A directory under $CF_FUZZ_SCRATCH (scripts/fuzz.sh sets it and removes it after each run:
// libFuzzer often ends without running atexit handlers), else /dev/shm (RAM, no disk traffic per
// run) or $TMPDIR; created once per process.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string base = "/dev/shm";
    if (access(base.c_str(), W_OK) != 0) base = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
    if (const char* s = std::getenv("CF_FUZZ_SCRATCH"); s && *s) base = s;
    std::string tmpl = base + "/cellforge-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

// Writes bytes to scratch_dir()/name (replacing it) and returns the path.
inline std::filesystem::path write_file(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = scratch_dir() / name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

// CF_FUZZ_NO_LIMITS=1 turns off the harnesses' input limits (used to reproduce known bugs).
inline bool limits_on() {
  static const bool on = [] {
    const char* v = std::getenv("CF_FUZZ_NO_LIMITS");
    return !(v && *v && std::string(v) != "0");
  }();
  return on;
}

}  // namespace cf_fuzz

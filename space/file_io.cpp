#include "space/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace cf {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, std::string_view bytes, const std::filesystem::path& file) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw FileError(file.string() + ": cannot write: " + errno_text());
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw FileError(file.string() + ": cannot write: " + errno_text());
}

std::string temp_name(const std::filesystem::path& file) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp-%d-%08llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  return (file.parent_path() / ("." + file.filename().string() + suffix)).string();
}

void sync_directory(const std::filesystem::path& dir) {
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);  // best effort: some file systems refuse fsync on directories
}

}  // namespace

void write_file_atomic(const std::filesystem::path& file, std::string_view bytes) {
  if (file.filename().empty()) throw FileError(file.string() + ": not a file name");
  const std::filesystem::path dir =
      file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  const std::string tmp = temp_name(file);
  Fd out{::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644)};
  if (out.fd >= 0) {
    write_all(out.fd, bytes, file);
    // Give the unnamed file a (hidden) name only now that it is complete, then move it in place.
    const std::string proc = "/proc/self/fd/" + std::to_string(out.fd);
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0)
      throw FileError(file.string() + ": cannot write: " + errno_text());
  } else {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
      throw FileError(file.string() + ": cannot write: " + errno_text());
    out.fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (out.fd < 0) throw FileError(file.string() + ": cannot write: " + errno_text());
    try {
      write_all(out.fd, bytes, file);
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw FileError(file.string() + ": cannot write: " + why);
  }
  sync_directory(dir);
}

std::string read_file_capped(const std::filesystem::path& file, int64_t max_bytes,
                             std::string_view what) {
  const std::string name = file.string();
  Fd in{::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (in.fd < 0)
    throw FileError(name + ": cannot open " + std::string(what) + ": " + errno_text());
  struct stat st {};
  if (::fstat(in.fd, &st) != 0)
    throw FileError(name + ": cannot read " + std::string(what) + ": " + errno_text());
  if (!S_ISREG(st.st_mode))
    throw FileError(name + ": " + std::string(what) + " is not a regular file");
  if (st.st_size > max_bytes)
    throw FileError(name + ": " + std::string(what) + " is larger than " +
                    std::to_string(max_bytes) + " bytes (" +
                    std::to_string(static_cast<long long>(st.st_size)) + ")");
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (true) {
    if (got == text.size()) {
      // The file may have grown since fstat: read on up to the cap.
      if (static_cast<int64_t>(text.size()) >= max_bytes + 1) break;
      text.resize(std::min<size_t>(text.size() + 65536, static_cast<size_t>(max_bytes) + 1));
    }
    const ssize_t n = ::read(in.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw FileError(name + ": cannot read " + std::string(what) + ": " + errno_text());
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (static_cast<int64_t>(got) > max_bytes)
    throw FileError(name + ": " + std::string(what) + " is larger than " +
                    std::to_string(max_bytes) + " bytes");
  text.resize(got);
  return text;
}

}  // namespace cf

#pragma once
// File reading and writing used by every layer: outputs are replaced atomically (a reader, or a
// process killed half-way, sees the old file or the new one, never a truncated one, and no
// temporary file is left behind), and inputs are read with a size cap so that a wrong path
// (/dev/zero, a huge file) gives an error instead of exhausting memory.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cf {

class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `bytes` to `file` atomically and durably: an unnamed temporary file in the same directory
// (O_TMPFILE; a named hidden one where the file system lacks it), fsync, then linked and renamed
// over `file`. Throws FileError naming the file (disk full, permission, missing directory).
void write_file_atomic(const std::filesystem::path& file, std::string_view bytes);

// The whole content of a regular file, refused with FileError ("FILE: larger than N bytes", "FILE:
// not a regular file", "FILE: cannot open ...") when it is larger than `max_bytes` or is a device,
// FIFO or directory. `what` names the file's role in messages (e.g. "genotype file").
std::string read_file_capped(const std::filesystem::path& file, int64_t max_bytes,
                             std::string_view what);

}  // namespace cf

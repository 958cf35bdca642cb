// Dataset readers under hostile input: headers that claim huge dimensions and gzip bombs cost an
// error, not memory (issue 15, item 8).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include "cli_helpers.h"
#include "trainer/data.h"

namespace {

void put_be32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

std::string idx_images_header(uint32_t count, uint32_t h, uint32_t w) {
  std::string s;
  put_be32(s, 0x803);
  put_be32(s, count);
  put_be32(s, h);
  put_be32(s, w);
  return s;
}

std::string idx_labels(uint32_t count) {
  std::string s;
  put_be32(s, 0x801);
  put_be32(s, count);
  s.append(count, '\1');
  return s;
}

// Peak resident memory (bytes) that `action` adds, measured in a child process.
int64_t peak_rss_growth(const std::function<void()>& action) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    try {
      action();
    } catch (const std::exception&) {
    }
    getrusage(RUSAGE_SELF, &after);
    const int64_t grown = (after.ru_maxrss - before.ru_maxrss) * 1024;
    if (write(fds[1], &grown, sizeof grown) != sizeof grown) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  int64_t grown = -1;
  REQUIRE(read(fds[0], &grown, sizeof grown) == sizeof grown);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return grown;
}

}  // namespace

TEST_CASE("an IDX header claiming huge dimensions is refused before allocating", "[data][limits]") {
  cf::test::TempDir dir;
  const auto images = dir / "train-images-idx3-ubyte";
  cf::test::write_file(images, idx_images_header(1000000, 30000, 30000) + std::string(16, '\0'));
  cf::test::write_file(dir / "train-labels-idx1-ubyte", idx_labels(4));
  auto read = [&] { cf::read_idx(images, dir / "train-labels-idx1-ubyte"); };
  CHECK_THROWS_WITH(read(),
                    Catch::Contains(images.string()) && Catch::Contains("more than the limit"));
  cf::test::write_file(images, idx_images_header(100000, 100, 100) + std::string(16, '\0'));
  CHECK_THROWS_WITH(read(), Catch::Contains("more than a file of this size can hold"));
  CHECK(peak_rss_growth(read) < (int64_t{64} << 20));
}

TEST_CASE("a gzip bomb is read only up to the size its header declares", "[data][limits]") {
  cf::test::TempDir dir;
  const auto images = dir / "train-images-idx3-ubyte.gz";
  // Declares 4 images of 8x8; inflates to 256 MiB.
  {
    gzFile out = gzopen(images.c_str(), "wb9");
    REQUIRE(out);
    const std::string header = idx_images_header(4, 8, 8);
    gzwrite(out, header.data(), static_cast<unsigned>(header.size()));
    const std::string zeros(1 << 20, '\0');
    for (int i = 0; i < 256; ++i) gzwrite(out, zeros.data(), static_cast<unsigned>(zeros.size()));
    gzclose(out);
  }
  CHECK(std::filesystem::file_size(images) < (size_t{2} << 20));
  cf::test::write_file(dir / "train-labels-idx1-ubyte", idx_labels(4));
  auto read = [&] { cf::read_idx(images, dir / "train-labels-idx1-ubyte"); };
  CHECK_THROWS_WITH(read(), Catch::Contains("more than 1048576 unexpected bytes"));
  CHECK(peak_rss_growth(read) < (int64_t{64} << 20));
}

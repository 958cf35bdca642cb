#pragma once
// Little-endian byte encoding for controller checkpoints. Fixed-width integers and IEEE doubles
// (bit-exact), so a restored controller continues exactly as the saved one would have.
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cf {

// A malformed or mismatching checkpoint; the message says what was being read.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<uint64_t>(v)); }
  void str(std::string_view s) {
    u64(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void ints(const std::vector<int>& v) {
    u64(v.size());
    for (int x : v) i64(x);
  }
  template <typename Real>
  void reals(const std::vector<Real>& v) {
    static_assert(std::is_floating_point_v<Real>);
    u64(v.size());
    for (Real x : v) f64(static_cast<double>(x));
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint8_t u8(const char* what) {
    need(1, what);
    return bytes_[pos_++];
  }
  uint64_t u64(const char* what) {
    need(8, what);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(bytes_[pos_++]) << (8 * i);
    return v;
  }
  int64_t i64(const char* what) { return static_cast<int64_t>(u64(what)); }
  double f64(const char* what) { return std::bit_cast<double>(u64(what)); }
  // A count of items of at least min_item_bytes each, checked against the bytes left so a
  // corrupt length cannot trigger a huge allocation.
  uint64_t count(const char* what, size_t min_item_bytes) {
    const uint64_t n = u64(what);
    if (min_item_bytes > 0 && n > remaining() / min_item_bytes)
      throw StateError(std::string("controller state: truncated while reading ") + what +
                       " (length " + std::to_string(n) + ", " + std::to_string(remaining()) +
                       " bytes left)");
    return n;
  }
  std::string str(const char* what) {
    const uint64_t n = count(what, 1);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::vector<int> ints(const char* what) {
    std::vector<int> v(count(what, 8));
    for (int& x : v) x = static_cast<int>(i64(what));
    return v;
  }
  template <typename Real>
  std::vector<Real> reals(const char* what) {
    std::vector<Real> v(count(what, 8));
    for (Real& x : v) x = static_cast<Real>(f64(what));
    return v;
  }

  size_t remaining() const { return bytes_.size() - pos_; }
  void expect_end() const {
    if (pos_ != bytes_.size())
      throw StateError("controller state: " + std::to_string(remaining()) +
                       " unexpected trailing bytes");
  }

 private:
  void need(size_t n, const char* what) const {
    if (remaining() < n)
      throw StateError(std::string("controller state: truncated while reading ") + what);
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

}  // namespace cf

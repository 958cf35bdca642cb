#pragma once
// The NASNet op registry (spec section 2). One table; everything else indexes it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cf {

enum class OpId : uint8_t {
  identity,
  conv_1x1,
  conv_3x3,
  conv_1x3_3x1,
  conv_1x7_7x1,
  dil_conv_3x3,
  dil_sep_conv_3x3,
  sep_conv_3x3,
  sep_conv_5x5,
  sep_conv_7x7,
  avg_pool_3x3,
  max_pool_3x3,
  max_pool_5x5,
  max_pool_7x7,
};

enum class OpFamily : uint8_t { identity, conv, factorized_conv, dil_conv, dil_sep_conv, sep_conv, avg_pool, max_pool };

struct OpInfo {
  OpId id;
  std::string_view name;
  OpFamily family;
  int kernel;    // spatial kernel size k
  int dilation;  // 1 unless dilated
};

inline constexpr std::array<OpInfo, 14> kOpTable = {{
    {OpId::identity, "identity", OpFamily::identity, 1, 1},
    {OpId::conv_1x1, "conv_1x1", OpFamily::conv, 1, 1},
    {OpId::conv_3x3, "conv_3x3", OpFamily::conv, 3, 1},
    {OpId::conv_1x3_3x1, "conv_1x3_3x1", OpFamily::factorized_conv, 3, 1},
    {OpId::conv_1x7_7x1, "conv_1x7_7x1", OpFamily::factorized_conv, 7, 1},
    {OpId::dil_conv_3x3, "dil_conv_3x3", OpFamily::dil_conv, 3, 2},
    {OpId::dil_sep_conv_3x3, "dil_sep_conv_3x3", OpFamily::dil_sep_conv, 3, 2},
    {OpId::sep_conv_3x3, "sep_conv_3x3", OpFamily::sep_conv, 3, 1},
    {OpId::sep_conv_5x5, "sep_conv_5x5", OpFamily::sep_conv, 5, 1},
    {OpId::sep_conv_7x7, "sep_conv_7x7", OpFamily::sep_conv, 7, 1},
    {OpId::avg_pool_3x3, "avg_pool_3x3", OpFamily::avg_pool, 3, 1},
    {OpId::max_pool_3x3, "max_pool_3x3", OpFamily::max_pool, 3, 1},
    {OpId::max_pool_5x5, "max_pool_5x5", OpFamily::max_pool, 5, 1},
    {OpId::max_pool_7x7, "max_pool_7x7", OpFamily::max_pool, 7, 1},
}};
inline constexpr int kNumOps = 14;
static_assert(kOpTable.size() == kNumOps && static_cast<int>(OpId::max_pool_7x7) + 1 == kNumOps,
              "op table and OpId enum must list the same ops");

constexpr bool op_table_is_ordered() {
  for (int i = 0; i < kNumOps; ++i)
    if (static_cast<int>(kOpTable[i].id) != i) return false;
  return true;
}
static_assert(op_table_is_ordered(), "kOpTable rows must be in OpId order");

inline const OpInfo& op_info(OpId id) { return kOpTable[static_cast<int>(id)]; }
inline std::string_view op_name(OpId id) { return op_info(id).name; }
std::optional<OpId> op_from_name(std::string_view name);

// The ids of `table` in table order, without `excluded`. The result's size comes from the table,
// so it cannot be written past its end whatever the table holds; std::logic_error unless
// `excluded` is in the table exactly once.
template <size_t N>
constexpr std::array<OpId, N - 1> ops_without(const std::array<OpInfo, N>& table, OpId excluded) {
  std::array<OpId, N - 1> ops{};
  size_t n = 0, found = 0;
  for (const auto& info : table) {
    if (info.id == excluded) {
      ++found;
      continue;
    }
    if (n == ops.size()) throw std::logic_error("ops_without: the excluded op is not in the table");
    ops[n++] = info.id;
  }
  if (found != 1) throw std::logic_error("ops_without: the excluded op is in the table twice");
  return ops;
}

// The NASNet paper's ops: all of kOpTable but dil_sep_conv_3x3 (13 of today's 14).
constexpr std::array<OpId, kNumOps - 1> nasnet_paper_ops() {
  return ops_without(kOpTable, OpId::dil_sep_conv_3x3);
}
static_assert(nasnet_paper_ops().size() == 13, "the NASNet paper's search space has 13 ops");

}  // namespace cf

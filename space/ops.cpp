#include "space/ops.h"

namespace cf {

std::optional<OpId> op_from_name(std::string_view name) {
  for (const auto& info : kOpTable)
    if (info.name == name) return info.id;
  return std::nullopt;
}

std::array<OpId, 13> nasnet_paper_ops() {
  std::array<OpId, 13> ops{};
  int n = 0;
  for (const auto& info : kOpTable)
    if (info.id != OpId::dil_sep_conv_3x3) ops[n++] = info.id;
  return ops;
}

}  // namespace cf

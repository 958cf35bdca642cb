#include "space/ops.h"

namespace cf {

std::optional<OpId> op_from_name(std::string_view name) {
  for (const auto& info : kOpTable)
    if (info.name == name) return info.id;
  return std::nullopt;
}

}  // namespace cf

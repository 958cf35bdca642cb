#pragma once
// The shape every export format shares: one emitter function per layer kind, in a table indexed
// by LayerKind. A new format is one file with one table; a new layer kind is one entry in each
// table, and the static_asserts below each table catch a missing or misplaced one.
#include <cstddef>

#include "space/network.h"

namespace cf {

template <typename Fn>
struct KindEmitter {
  LayerKind kind;
  Fn emit;
};

// True when `table` has one entry per LayerKind, entry k for the kind with value k.
template <typename Fn, size_t N>
constexpr bool indexed_by_layer_kind(const KindEmitter<Fn> (&table)[N]) {
  if (N != static_cast<size_t>(kLayerKindCount)) return false;
  for (size_t k = 0; k < N; ++k)
    if (static_cast<size_t>(table[k].kind) != k) return false;
  return true;
}

}  // namespace cf

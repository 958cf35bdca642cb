#pragma once
// Genotypes shared by tests.
#include "space/genotype.h"

namespace cf::test {

// B = 7 blocks: every one of the 14 ops exactly once per cell, one concat combine, an explicit
// reduction concat list that includes prev_prev (so it goes through a factorized reduction).
inline Genotype all_ops_genotype() {
  Genotype g;
  g.name = "all_ops";
  for (Cell* cell : {&g.normal, &g.reduction}) {
    for (int b = 0; b < 7; ++b) {
      Block block;
      block.inputs = {b == 0 ? kPrev : block_state(b - 1), b % 2 ? kPrevPrev : kPrev};
      const int k = cell == &g.normal ? 2 * b : (2 * b + 5) % 14;
      block.ops = {kOpTable[k].id, kOpTable[k + 1 < 14 ? k + 1 : 0].id};
      block.combine = b == 3 ? Combine::concat : Combine::add;
      cell->blocks.push_back(block);
    }
  }
  g.reduction.concat = std::vector<int>{kPrevPrev, block_state(6), block_state(3)};
  return g;
}

}  // namespace cf::test

#include "trainer/buffer_plan.h"

#include <algorithm>
#include <numeric>

namespace cf {

std::vector<int> assign_buffers(const std::vector<Lifetime>& lifetimes, int* buffers) {
  std::vector<int> order(lifetimes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return lifetimes[a].begin < lifetimes[b].begin; });
  struct Buffer {
    int kind;
    int busy_until;  // last step of its current occupant
  };
  std::vector<Buffer> pool;
  std::vector<int> assigned(lifetimes.size(), -1);
  for (int k : order) {
    const Lifetime& life = lifetimes[k];
    int pick = -1;
    // The buffer freed most recently: its contents are the likeliest to still be in cache.
    for (int b = 0; b < static_cast<int>(pool.size()); ++b)
      if (pool[b].kind == life.kind && pool[b].busy_until < life.begin &&
          (pick < 0 || pool[b].busy_until > pool[pick].busy_until))
        pick = b;
    if (pick < 0) {
      pick = static_cast<int>(pool.size());
      pool.push_back({life.kind, life.end});
    }
    pool[pick].busy_until = life.end;
    assigned[k] = pick;
  }
  *buffers = static_cast<int>(pool.size());
  return assigned;
}

}  // namespace cf

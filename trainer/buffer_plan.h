#pragma once
// Buffer sharing by liveness: values whose lifetimes do not overlap can live in one buffer.
#include <vector>

namespace cf {

struct Lifetime {
  int begin = 0, end = 0;  // inclusive range of steps during which the value is live
  int kind = 0;            // only values of the same kind (same memory layout) share a buffer
};

// Assigns each lifetime a buffer index so that no two overlapping lifetimes (sharing a step
// counts as overlap) get the same buffer. Greedy by start step, which is optimal per kind for
// intervals. Deterministic. Returns one buffer index per lifetime; *buffers is the count.
std::vector<int> assign_buffers(const std::vector<Lifetime>& lifetimes, int* buffers);

}  // namespace cf

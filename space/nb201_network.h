#pragma once
// The NAS-Bench-201 network (Dong & Yang, ICLR 2020) around a cell of Nb201Space, so that its
// cells can be counted, trained, scored and exported like NASNet cells:
//   stem: conv 3x3 (C channels) + BN;
//   three stages of N cells at C, 2C, 4C channels, joined by ResNet basic reduction blocks
//   (ReLU-conv3x3 stride 2-BN, ReLU-conv3x3-BN, plus a shortcut of avg-pool 2x2 and conv 1x1);
//   head: BN, ReLU, global average pool, fully connected.
// A cell: node j (1..3) sums one op applied to each earlier node; the last node is the output.
// Edge ops: none (no term; a node whose edges are all none is a zero tensor), skip_connect,
// nor_conv_1x1 / nor_conv_3x3 (ReLU-conv-BN), avg_pool_3x3 (stride 1, padding excluded).
// Batch norm uses PyTorch's epsilon (1e-5), as the benchmark's networks did.
#include "space/nb201.h"
#include "space/network.h"

namespace cf {

// The benchmark's stacking: C = 16 (spec.filters), N = 5 (spec.cells_per_stack), 32x32x3, 10
// classes.
NetworkSpec nb201_network_spec();

// spec.filters is C, spec.cells_per_stack is N; spec.input, classes and dropout (before the
// fully connected layer) apply; the stem options do not exist in this network, and an auxiliary
// head is refused (std::invalid_argument). `cell` is checked against Nb201Space.
Network build_nb201_network(const DecisionSeq& cell, const NetworkSpec& spec);

}  // namespace cf

#pragma once
// SynFlow (Tanaka et al., NeurIPS 2020) as a zero-cost NAS proxy (Abdelfattah et al., ICLR 2021):
// with every parameter replaced by its absolute value and an all-ones input image, R = the sum of
// the logits; the score is the sum over conv and fully connected weights of |w * dR/dw|.
//
// Products of weights along every path through the network overflow float (NAS-Bench-201 cells
// reach 1e43), so this runs its own small double-precision forward and backward pass over the
// layer graph, one function per layer kind (no oneDNN). Batch norm is left out (the proxy's
// "bn=False" form); with non-negative weights and inputs every ReLU passes everything, so the
// network is multilinear in its weights and, per layer, sum(w * dR/dw) equals
// sum(dR/dy * (y - bias)) over the layer's outputs y: no weight gradients are needed.
#include <map>
#include <string>
#include <vector>

#include "space/network.h"
#include "trainer/init.h"

namespace cf {

// `params`: values by name in plain layout (trainer/init.h, Executor::read_param); signs are
// ignored.
double synflow_score(const Network& network, const ParamValues& params);

}  // namespace cf

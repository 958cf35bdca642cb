#pragma once
// Every call whose spelling depends on the oneDNN version lives here (Debian 12 ships 2.6;
// oneDNN 3.x replaced op descriptors with primitive-descriptor constructors, scales and BN flags).
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

namespace cf::dnnl_compat {

// Batch-norm flags for separate scale and shift tensors (DNNL_ARG_SCALE / DNNL_ARG_SHIFT);
// fuse_relu applies ReLU to the output (training keeps a workspace mask for backward).
dnnl::normalization_flags bn_flags(bool global_stats, bool fuse_relu = false);

// The implementation oneDNN chose for a primitive descriptor, e.g. "jit_dw:avx512_core".
std::string impl_name(const dnnl::primitive_desc_base& pd);

// Channel block size of a blocked activation layout (16 for nChw16c), 1 for plain layouts,
// 0 for layouts this code does not understand.
int channel_block(const dnnl::memory::desc& md);

// True when the first logical dimension (batch) is outermost and dense, so image n occupies the
// contiguous range [n * size / N, (n + 1) * size / N).
bool batch_outermost(const dnnl::memory::desc& md);

// The same layout (dims, blocking, padding) holding another data type, e.g. the fp32 master
// copy of weights a bf16 convolution reads in its own blocked layout.
dnnl::memory::desc with_data_type(const dnnl::memory::desc& md, dnnl::memory::data_type type);

}  // namespace cf::dnnl_compat

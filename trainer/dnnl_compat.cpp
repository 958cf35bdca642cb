#include "trainer/dnnl_compat.h"

namespace cf::dnnl_compat {

dnnl::normalization_flags bn_flags(bool global_stats, bool fuse_relu) {
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  if (global_stats) flags = flags | dnnl::normalization_flags::use_global_stats;
  if (fuse_relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
  return flags;
}

std::string impl_name(const dnnl::primitive_desc_base& pd) { return pd.impl_info_str(); }

int channel_block(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return 0;
  const auto& b = d.format_desc.blocking;
  if (b.inner_nblks == 0) return 1;
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1) return static_cast<int>(b.inner_blks[0]);
  return 0;
}

bool batch_outermost(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.ndims < 1) return false;
  const auto& b = d.format_desc.blocking;
  for (int i = 0; i < b.inner_nblks; ++i)
    if (b.inner_idxs[i] == 0) return false;
  // One image: its stride is meaningless (oneDNN may report any value for a dimension of size 1).
  if (d.dims[0] == 1) return d.offset0 == 0;
  const int64_t per_image =
      static_cast<int64_t>(md.get_size() / dnnl_data_type_size(d.data_type)) / d.dims[0];
  return b.strides[0] == per_image && d.offset0 == 0;
}

dnnl::memory::desc with_data_type(const dnnl::memory::desc& md, dnnl::memory::data_type type) {
  dnnl::memory::desc out = md;
  out.data.data_type = static_cast<dnnl_data_type_t>(type);
  return out;
}

}  // namespace cf::dnnl_compat

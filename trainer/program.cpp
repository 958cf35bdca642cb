#include "trainer/program.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "trainer/kernels.h"

namespace cf::detail {

AlignedBuffer::AlignedBuffer(size_t n) : bytes(std::max<size_t>(n, 64)) {
  ptr = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!ptr) throw std::bad_alloc();
  std::memset(ptr, 0, bytes);
}

AlignedBuffer::~AlignedBuffer() {
  std::free(ptr);
}

memory Program::alloc(const memory::desc& md) {
  owned.push_back(std::make_unique<AlignedBuffer>(md.get_size()));
  allocated += static_cast<int64_t>(owned.back()->bytes);
  return memory(md, engine, owned.back()->ptr);
}

float* Program::alloc_floats(size_t count) {
  owned.push_back(std::make_unique<AlignedBuffer>(count * sizeof(float)));
  allocated += static_cast<int64_t>(owned.back()->bytes);
  return static_cast<float*>(owned.back()->ptr);
}

memory Program::diff_view(int tensor, const memory::desc& md) {
  memory m(md, engine, DNNL_MEMORY_NONE);
  diff_views[tensor].push_back(m);
  return m;
}

memory Program::scratch(Scratch region, const memory::desc& md) {
  const int r = static_cast<int>(region);
  memory m(md, engine, DNNL_MEMORY_NONE);
  scratch_bytes[r] = std::max(scratch_bytes[r], md.get_size());
  scratch_mems[r].push_back(m);
  return m;
}

void Program::scratch_view(Scratch region, const memory& view) {
  scratch_mems[static_cast<int>(region)].push_back(view);
}

void Program::add_primitive(std::vector<Step>& list, const dnnl::primitive& p,
                            const dnnl::primitive_desc_base& pd, Args args, std::string phase) {
  const memory::desc sp = pd.scratchpad_desc();
  if (sp.get_size() > 0) {
    memory m(sp, engine, DNNL_MEMORY_NONE);
    scratchpad_bytes = std::max(scratchpad_bytes, sp.get_size());
    scratchpad_mems.push_back(m);
    args[DNNL_ARG_SCRATCHPAD] = m;
  }
  list.push_back({[this, p, args] { p.execute(stream, args); }, std::move(phase)});
}

void Program::add_reorder(std::vector<Step>& list, const memory& src, const memory& dst,
                          bool accumulate, const std::string& phase) {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    a.set_post_ops(ops);
  }
  dnnl::reorder::primitive_desc pd(engine, src.get_desc(), engine, dst.get_desc(), a);
  add_primitive(list, dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, phase);
}

memory Program::in_layout(std::initializer_list<std::vector<Step>*> lists, const memory& src,
                          const memory::desc& want, const std::string& phase,
                          const Scratch* region) {
  if (src.get_desc() == want) return src;
  memory dst = region ? scratch(*region, want) : alloc(want);
  for (auto* list : lists) add_reorder(*list, src, dst, false, phase);
  return dst;
}

memory Program::out_layout(std::vector<Step>& post, const memory& dst, const memory::desc& want,
                           const std::string& phase) {
  if (dst.get_desc() == want) return dst;
  memory tmp = alloc(want);
  add_reorder(post, tmp, dst, false, phase);
  return tmp;
}

void Program::deliver(std::vector<Step>& list, bool first, int target, const memory& src,
                      const std::string& phase) {
  Tensor& t = tensors[target];
  const bool same = src.get_desc() == t.md;
  if (same && !first) {
    memory dst = t.diff;
    if (t.md.data_type() == memory::data_type::bf16) {
      const auto count = static_cast<int64_t>(t.md.get_size() / sizeof(uint16_t));
      list.push_back({[src, dst, count] {
                        kernels::accumulate_bf16(
                            static_cast<uint16_t*>(dst.get_data_handle()),
                            static_cast<const uint16_t*>(src.get_data_handle()), count);
                      },
                      phase});
      return;
    }
    const auto count = static_cast<int64_t>(t.md.get_size() / sizeof(float));
    list.push_back({[src, dst, count] {
                      kernels::accumulate(static_cast<float*>(dst.get_data_handle()),
                                          static_cast<const float*>(src.get_data_handle()), count);
                    },
                    phase});
    return;
  }
  add_reorder(list, src, t.diff, !first, phase);
}

memory Program::grad_target(bool first, int target, const memory::desc& md, std::vector<Step>& post,
                            const std::string& phase) {
  Tensor& t = tensors[target];
  if (first && md == t.md) return t.diff;
  memory tmp = scratch(Scratch::input_grad, md);
  deliver(post, first, target, tmp, phase);
  return tmp;
}

void Program::bind_regions() {
  for (int r = 0; r < kScratchRegions; ++r) {
    if (scratch_mems[r].empty()) continue;
    float* region = alloc_floats(scratch_bytes[r] / sizeof(float) + 16);
    for (auto& mem : scratch_mems[r]) mem.set_data_handle(region);
  }
  if (!scratchpad_mems.empty()) {
    float* pad = alloc_floats(scratchpad_bytes / sizeof(float) + 16);
    for (auto& mem : scratchpad_mems) mem.set_data_handle(pad);
  }
}

void Program::run(std::vector<Step>& steps) {
  for (auto& s : steps) {
    try {
      if (!profile) {
        s.run();
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      s.run();
      stream.wait();
      (*profile_out)[s.phase] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } catch (const dnnl::error& e) {
      throw std::runtime_error(s.layer + " (" + s.phase + "): oneDNN: " + e.what());
    }
  }
}

}  // namespace cf::detail

#include "trainer/cpus.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace cf {

namespace {

// While a ThreadPinning is active, the calling thread's mask is one CPU: the process's CPUs are
// the ones it saved. (Pinnings do not nest: train_network is not re-entered.)
std::vector<int> g_cpus_before_pinning;

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// mountinfo escapes blanks, tabs, newlines and backslashes in paths as \ooo.
std::string unescape_octal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 3]))) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Mount {
  std::string root, point, fstype;
  std::vector<std::string> super_options;
};

std::vector<Mount> cgroup_mounts(const std::string& mountinfo) {
  std::vector<Mount> out;
  for (const std::string& line : split(mountinfo, '\n')) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, device, root, point, fstype, source, options;
    if (!(head >> id >> parent >> device >> root >> point)) continue;
    if (!(tail >> fstype >> source)) continue;
    tail >> options;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    out.push_back({unescape_octal(root), unescape_octal(point), fstype, split(options, ',')});
  }
  return out;
}

// The directory of `cgroup_path` under a mount of its hierarchy.
std::string cgroup_dir(const Mount& m, const std::string& cgroup_path) {
  std::string rel = cgroup_path;
  if (m.root != "/" && rel.compare(0, m.root.size(), m.root) == 0) rel = rel.substr(m.root.size());
  if (rel == "/") rel.clear();
  return m.point + rel;
}

std::optional<double> parse_number(const std::string& text) {
  std::istringstream in(text);
  double x = 0;
  if (!(in >> x) || !std::isfinite(x)) return std::nullopt;
  return x;
}

// The smallest quota from `dir` up to the mount point; `quota_at` reads one directory's.
std::optional<double> smallest_quota_upwards(
    std::string dir, const std::string& top,
    const std::function<std::optional<double>(const std::string&)>& quota_at) {
  std::optional<double> best;
  for (int depth = 0; depth < 64; ++depth) {
    if (const auto q = quota_at(dir); q && (!best || *q < *best)) best = q;
    if (dir.size() <= top.size()) break;
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos || slash < top.size()) {
      dir = top;
    } else {
      dir = dir.substr(0, slash);
    }
  }
  return best;
}

using ReadFile = std::function<std::optional<std::string>(const std::string&)>;

// cgroup v2: cpu.max is "max PERIOD" (no quota) or "QUOTA PERIOD".
std::optional<double> cpu_max_quota(const ReadFile& read, const std::string& dir) {
  const auto text = read(dir + "/cpu.max");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return std::nullopt;
  const auto q = parse_number(quota);
  if (!q || *q <= 0) return std::nullopt;
  return *q / period;
}

// cgroup v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us.
std::optional<double> cfs_quota(const ReadFile& read, const std::string& dir) {
  const auto quota_text = read(dir + "/cpu.cfs_quota_us");
  const auto period_text = read(dir + "/cpu.cfs_period_us");
  if (!quota_text || !period_text) return std::nullopt;
  const auto quota = parse_number(*quota_text), period = parse_number(*period_text);
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return *quota / *period;
}

}  // namespace

std::optional<double> cgroup_cpu_quota(const std::string& proc_cgroup, const std::string& mountinfo,
                                       const ReadFile& read) {
  const std::vector<Mount> mounts = cgroup_mounts(mountinfo);
  std::optional<double> best;
  auto keep = [&](std::optional<double> q) {
    if (q && (!best || *q < *best)) best = q;
  };
  for (const std::string& line : split(proc_cgroup, '\n')) {
    // "hierarchy-id:controller,list:/path"; the path may itself hold ':'.
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    const std::vector<std::string> names = split(controllers, ',');
    const bool v2 = controllers.empty();
    if (!v2 && std::find(names.begin(), names.end(), "cpu") == names.end()) continue;
    for (const Mount& m : mounts) {
      const bool has_cpu =
          std::find(m.super_options.begin(), m.super_options.end(), "cpu") != m.super_options.end();
      if (v2 ? m.fstype != "cgroup2" : (m.fstype != "cgroup" || !has_cpu)) continue;
      keep(smallest_quota_upwards(cgroup_dir(m, path), m.point, [&](const std::string& dir) {
        return v2 ? cpu_max_quota(read, dir) : cfs_quota(read, dir);
      }));
    }
  }
  return best;
}

std::string CpuBudget::describe() const {
  std::ostringstream out;
  out << usable << (usable == 1 ? " CPU" : " CPUs") << " (affinity " << affinity << ", ";
  if (quota)
    out << "cgroup quota " << *quota << " CPUs)";
  else
    out << "no cgroup quota)";
  return out.str();
}

CpuBudget cpu_budget() {
  CpuBudget b;
  b.affinity = std::max<int>(1, static_cast<int>(affinity_cpus().size()));
  auto read = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const auto cgroup = read("/proc/self/cgroup"), mountinfo = read("/proc/self/mountinfo");
  if (cgroup && mountinfo) b.quota = cgroup_cpu_quota(*cgroup, *mountinfo, read);
  b.usable = b.affinity;
  if (b.quota) b.usable = std::min(b.usable, std::max(1, static_cast<int>(std::ceil(*b.quota))));
  return b;
}

int usable_cpus() {
  static const int cpus = cpu_budget().usable;
  return cpus;
}

void reexec_with_openmp_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", kOpenMpSpinCount, 1) != 0) return;
  execv("/proc/self/exe", argv);
}

bool pinning_permitted() {
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY",
                           "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name)) return false;
  const char* pin = std::getenv("CELLFORGE_PIN_THREADS");
  return !(pin && std::string_view(pin) == "0");
}

bool pin_threads_allowed(int threads) {
  return pinning_permitted() && threads >= 1 && static_cast<int>(affinity_cpus().size()) == threads;
}

namespace {

void set_thread_cpus(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);  // 0: the calling thread
}

}  // namespace

ThreadPinning::ThreadPinning(int threads) {
  if (!g_cpus_before_pinning.empty() || !pin_threads_allowed(threads)) return;
  const std::vector<int> cpus = affinity_cpus();
  previous_.assign(threads, {});
  std::vector<int> seen(threads, 0);
#pragma omp parallel num_threads(threads)
  {
    const int k = omp_get_thread_num();
    if (k < threads) {
      previous_[k] = affinity_cpus();
      set_thread_cpus({cpus[k]});
      seen[k] = 1;
    }
  }
  threads_ = threads;
  g_cpus_before_pinning = cpus;
  // A team smaller than asked (OMP_THREAD_LIMIT, nested regions): nothing to undo for the rest.
  for (int k = 0; k < threads; ++k)
    if (!seen[k]) previous_[k].clear();
}

ThreadPinning::~ThreadPinning() {
  if (!threads_) return;
#pragma omp parallel num_threads(threads_)
  {
    const int k = omp_get_thread_num();
    if (k < threads_ && !previous_[k].empty()) set_thread_cpus(previous_[k]);
  }
  g_cpus_before_pinning.clear();
}

std::vector<int> affinity_cpus() {
  if (!g_cpus_before_pinning.empty()) return g_cpus_before_pinning;
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

}  // namespace cf

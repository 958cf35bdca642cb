#pragma once
// How many CPUs this process may really use: its affinity mask (taskset, cpusets, Slurm's
// binding) and its cgroup CPU quota (Docker's --cpus, Kubernetes limits, systemd CPUQuota), not
// the machine's count. More OpenMP threads than that makes every parallel region wait for a
// descheduled thread.
#include <functional>
#include <optional>
#include <string>

namespace cf {

struct CpuBudget {
  int affinity = 1;              // CPUs in the affinity mask
  std::optional<double> quota;   // cgroup CPU quota in CPUs (quota / period), when one is set
  int usable = 1;                // min(affinity, ceil(quota)), at least 1
  std::string describe() const;  // "2 CPUs (affinity 2, no cgroup quota)"
};

// Reads the affinity mask and the cgroup (v1 or v2) quota of the calling process.
CpuBudget cpu_budget();
// cpu_budget().usable, computed once.
int usable_cpus();

// The cgroup CPU quota in CPUs from the texts of /proc/self/cgroup and /proc/self/mountinfo;
// `read` returns a file's contents (nullopt when absent). The smallest quota on the path from
// the process's cgroup up to the hierarchy's root counts. Exposed for tests.
std::optional<double> cgroup_cpu_quota(
    const std::string& proc_cgroup, const std::string& mountinfo,
    const std::function<std::optional<std::string>(const std::string&)>& read);

}  // namespace cf

#pragma once
// How many CPUs this process may really use: its affinity mask (taskset, cpusets, Slurm's
// binding) and its cgroup CPU quota (Docker's --cpus, Kubernetes limits, systemd CPUQuota), not
// the machine's count. More OpenMP threads than that makes every parallel region wait for a
// descheduled thread.
#include <functional>
#include <optional>
#include <string>
#include <vector>

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

// cellforge's OpenMP policy (bench/contention.sh has the measurements, README "Performance"):
// - an idle OpenMP thread spins briefly before it sleeps (GOMP_SPINCOUNT=30000 instead of
//   libgomp's 300,000), so that it yields its core to whoever needs it;
// - during training each OpenMP thread is pinned to one CPU of the process's mask (ThreadPinning),
//   so a thread that shares its core with another busy process is not migrated onto its
//   sibling's.
// Next to one `yes`, NASNet-A training kept about 40% of its quiet speed (20% with libgomp's
// defaults); next to a second training, about 50% (10%).
inline constexpr const char* kOpenMpSpinCount = "30000";

// libgomp reads its settings once, when it is loaded, before main() runs: so unless the user
// set OMP_WAIT_POLICY or GOMP_SPINCOUNT, this sets GOMP_SPINCOUNT and executes the program again
// (same pid, same arguments; the new image finds the variable set and returns at once). Call it
// first thing in main(). If exec fails, the program carries on with libgomp's default.
void reexec_with_openmp_policy(char** argv);

// Whether training pins its threads: only when they use the process's whole mask (threads ==
// its CPUs; a campaign narrows each worker's mask to its slot), so that independent runs of fewer
// threads are never piled onto the same first CPUs; not when the user chose a binding
// (OMP_PROC_BIND, OMP_PLACES, GOMP_CPU_AFFINITY), not under an MPI launcher (its --bind-to
// applies), not when CELLFORGE_PIN_THREADS=0.
bool pin_threads_allowed(int threads);
// The same without the thread count: the user's and the launcher's conditions only (a campaign
// asks this before narrowing each worker's mask to its slot).
bool pinning_permitted();

// Pins OpenMP threads 0..threads-1 to the calling thread's CPUs, one each, when
// pin_threads_allowed(threads); restores every thread's previous mask when destroyed. libgomp
// keeps its thread pool, so the pinning holds for every parallel region of that size in between.
class ThreadPinning {
 public:
  explicit ThreadPinning(int threads);
  ~ThreadPinning();
  ThreadPinning(const ThreadPinning&) = delete;
  ThreadPinning& operator=(const ThreadPinning&) = delete;
  bool active() const { return threads_ > 0; }

 private:
  int threads_ = 0;                         // 0: not pinned
  std::vector<std::vector<int>> previous_;  // each thread's CPUs before
};

// The CPUs of this process's affinity mask, in increasing order.
std::vector<int> affinity_cpus();

// The cgroup CPU quota in CPUs from the texts of /proc/self/cgroup and /proc/self/mountinfo;
// `read` returns a file's contents (nullopt when absent). The smallest quota on the path from
// the process's cgroup up to the hierarchy's root counts. Exposed for tests.
std::optional<double> cgroup_cpu_quota(
    const std::string& proc_cgroup, const std::string& mountinfo,
    const std::function<std::optional<std::string>(const std::string&)>& read);

}  // namespace cf

// trainer/cpus.h: the CPUs a process may use (affinity mask and cgroup v1/v2 quota).
#include <omp.h>
#include <sched.h>

#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "skip.h"
#include "trainer/cpus.h"

namespace {

using Files = std::map<std::string, std::string>;

std::optional<double> quota(const std::string& cgroup, const std::string& mountinfo,
                            const Files& files) {
  return cf::cgroup_cpu_quota(cgroup, mountinfo,
                              [&](const std::string& path) -> std::optional<std::string> {
                                const auto it = files.find(path);
                                if (it == files.end()) return std::nullopt;
                                return it->second;
                              });
}

const std::string kV2Mounts =
    "25 30 0:22 / /proc rw,nosuid - proc proc rw\n"
    "30 1 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

const std::string kV1Mounts =
    "35 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
    "36 30 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
    "37 30 0:32 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n";

}  // namespace

TEST_CASE("cgroup v2: cpu.max of the process's cgroup and of its ancestors") {
  const std::string cgroup = "0::/system.slice/job.service\n";
  CHECK_FALSE(quota(cgroup, kV2Mounts, {}));
  CHECK_FALSE(quota(cgroup, kV2Mounts,
                    {{"/sys/fs/cgroup/system.slice/job.service/cpu.max", "max 100000\n"}}));
  CHECK(*quota(cgroup, kV2Mounts,
               {{"/sys/fs/cgroup/system.slice/job.service/cpu.max", "150000 100000\n"}}) ==
        Approx(1.5));
  // A parent's tighter limit wins.
  CHECK(*quota(cgroup, kV2Mounts,
               {{"/sys/fs/cgroup/system.slice/job.service/cpu.max", "400000 100000\n"},
                {"/sys/fs/cgroup/system.slice/cpu.max", "50000 100000\n"}}) == Approx(0.5));
  // Garbage is ignored, not trusted.
  CHECK_FALSE(
      quota(cgroup, kV2Mounts, {{"/sys/fs/cgroup/system.slice/job.service/cpu.max", "lots\n"}}));
  CHECK_FALSE(quota(cgroup, kV2Mounts,
                    {{"/sys/fs/cgroup/system.slice/job.service/cpu.max", "100000 0\n"}}));
}

TEST_CASE("cgroup v2 inside a container: the namespace root is the mount's root") {
  CHECK(*quota("0::/\n", kV2Mounts, {{"/sys/fs/cgroup/cpu.max", "200000 100000"}}) == Approx(2));
}

TEST_CASE("cgroup v1: cfs quota and period of the cpu controller's hierarchy") {
  const std::string cgroup = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";
  const std::string dir = "/sys/fs/cgroup/cpu,cpuacct/docker/abc";
  CHECK_FALSE(
      quota(cgroup, kV1Mounts,
            {{dir + "/cpu.cfs_quota_us", "-1\n"}, {dir + "/cpu.cfs_period_us", "100000\n"}}));
  CHECK(*quota(cgroup, kV1Mounts,
               {{dir + "/cpu.cfs_quota_us", "300000\n"},
                {dir + "/cpu.cfs_period_us", "100000\n"}}) == Approx(3));
  // A mount whose root is the cgroup itself (Docker bind-mounts the container's cgroup).
  const std::string bound = "35 30 0:30 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
  CHECK(*quota(cgroup, bound,
               {{"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000"},
                {"/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000"}}) == Approx(0.5));
}

TEST_CASE("mount points with escaped blanks") {
  const std::string mounts = "30 1 0:26 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n";
  CHECK(*quota("0::/a\n", mounts, {{"/sys/fs/my cgroup/a/cpu.max", "100000 100000"}}) == Approx(1));
}

TEST_CASE("this process: usable CPUs within the affinity mask") {
  const cf::CpuBudget b = cf::cpu_budget();
  CHECK(b.affinity >= 1);
  CHECK(b.usable >= 1);
  CHECK(b.usable <= b.affinity);
  if (std::thread::hardware_concurrency() > 0)
    CHECK(b.affinity <= static_cast<int>(std::thread::hardware_concurrency()));
  CHECK(cf::usable_cpus() == b.usable);
  CHECK(b.describe().find("affinity") != std::string::npos);
}

namespace {

// The CPUs of the calling thread's mask.
std::vector<int> thread_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

}  // namespace

TEST_CASE("ThreadPinning pins each OpenMP thread to one CPU, then restores every mask") {
  const std::vector<int> before = cf::affinity_cpus();
  if (!cf::pin_threads_allowed(2)) {
    cf::test::skip(
        "pinning is off here (not exactly 2 CPUs, an MPI launcher or OMP_PROC_BIND set)");
    return;
  }
  omp_set_num_threads(2);
  std::vector<std::vector<int>> during(2), after(2);
  {
    const cf::ThreadPinning pinning(2);
    REQUIRE(pinning.active());
    CHECK(cf::affinity_cpus() == before);  // the process's CPUs, not the pinned thread's one
    CHECK(cf::cpu_budget().affinity == static_cast<int>(before.size()));
    const cf::ThreadPinning nested(2);  // does not nest
    CHECK_FALSE(nested.active());
#pragma omp parallel num_threads(2)
    during[omp_get_thread_num()] = thread_cpus();
  }
#pragma omp parallel num_threads(2)
  after[omp_get_thread_num()] = thread_cpus();
  CHECK(during[0] == std::vector<int>{before[0]});
  CHECK(during[1] == std::vector<int>{before[1]});
  CHECK(after[0] == before);
  CHECK(after[1] == before);
  CHECK(cf::affinity_cpus() == before);
}

TEST_CASE("CELLFORGE_PIN_THREADS=0 turns pinning off") {
  setenv("CELLFORGE_PIN_THREADS", "0", 1);
  CHECK_FALSE(cf::pin_threads_allowed(1));
  CHECK_FALSE(cf::ThreadPinning(1).active());
  unsetenv("CELLFORGE_PIN_THREADS");
  CHECK_FALSE(cf::pin_threads_allowed(100000));  // more threads than CPUs
  // Fewer threads than CPUs: independent runs must not all land on the first CPUs.
  if (cf::affinity_cpus().size() > 1) CHECK_FALSE(cf::pin_threads_allowed(1));
}

#pragma once
// Running cellforge under mpirun from a test (only with CF_MPIEXEC and CF_BINARY defined: tests
// named test_cli_mpi* in a build with MPI).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace cf::test {

inline std::vector<std::string> mpirun_args(int ranks) {
  // Loopback only; CI runs as root; more ranks than cores; no binding, since each rank's worker
  // process trains with its own threads. CELLFORGE_FAULT reaches the ranks on every host.
  return {CF_MPIEXEC,
          "--allow-run-as-root",
          "--oversubscribe",
          "--bind-to",
          "none",
          "-np",
          std::to_string(ranks),
          "--mca",
          "btl",
          "self,tcp",
          "--mca",
          "btl_tcp_if_include",
          "lo",
          "--mca",
          "oob_tcp_if_include",
          "lo",
          "-x",
          "CELLFORGE_FAULT",
          CF_BINARY};
}

// Starts a command with its output in `log`; returns its pid.
inline pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for a process for up to `seconds`, then kills it. Returns the exit code (128 + signal).
inline int wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs a command to the end (at most 5 minutes); returns the exit code, output in `log`.
inline int run(const std::vector<std::string>& args, const std::filesystem::path& log) {
  return wait_exit(spawn(args, log), 300);
}

inline std::vector<std::string> with(std::vector<std::string> args,
                                     const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

}  // namespace cf::test

#pragma once
// SIGINT and SIGTERM as a request to stop at the next safe point (a long command saves its state
// and exits 130 instead of dying mid-write).
#include <signal.h>

#include <atomic>

namespace cf::cli {

// The signal that asked to stop, 0 while none did.
inline std::atomic<int> g_stop_signal{0};

// Installs the handlers; the previous ones come back at scope exit.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = [](int sig) { g_stop_signal = sig; };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

}  // namespace cf::cli

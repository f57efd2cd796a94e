#pragma once
// Request loops used by the distribution and reload tests: sequential requests counted by
// the X-Backend header that TestBackend sets, and a background load that runs until stopped.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/deadline.h"

namespace fiberlb::testing {

struct TrafficResult {
  std::map<std::string, int> by_backend;  // X-Backend -> responses with status 200
  std::vector<std::string> sequence;      // X-Backend of each successful response, in order
  int failures = 0;                       // transport errors and non-200 answers
  std::vector<std::string> errors;        // the first few failures, described
  int total() const { return static_cast<int>(sequence.size()) + failures; }
};

// Sends `n` GETs to 127.0.0.1:port one after another. With `keep_alive`, they share one
// connection (re-opened only if the server closes it); otherwise each uses its own.
TrafficResult sendRequests(uint16_t port, int n, Deadline deadline, bool keep_alive = true);

// `threads` clients sending keep-alive GETs in a loop until stop(), counting results.
class BackgroundLoad {
 public:
  // No clients until start().
  BackgroundLoad() = default;
  BackgroundLoad(uint16_t port, int threads) { start(port, threads); }
  ~BackgroundLoad();
  BackgroundLoad(const BackgroundLoad&) = delete;
  BackgroundLoad& operator=(const BackgroundLoad&) = delete;

  // Starts `threads` clients against 127.0.0.1:port; once per load.
  void start(uint16_t port, int threads);
  // Waits until at least `n` more requests have completed (successfully or not).
  bool waitForMore(int n, Deadline deadline) const;
  TrafficResult stop();
  int completed() const { return completed_.load(); }

 private:
  void run();
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> completed_{0};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  TrafficResult result_;
};

}  // namespace fiberlb::testing

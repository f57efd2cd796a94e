#pragma once
// The circuit breaker of one backend (SPEC §3 circuit_breaker, §4): the passive health check
// driven by real traffic. closed -> open after failure_threshold consecutive failures;
// open -> half_open after recovery_timeout_sec (the control loop moves it, see
// enterHalfOpen); half_open admits half_open_max_requests trial requests across all workers
// together; a successful trial closes it, a failed one opens it again.
//
// Shared by every worker, lock-free. A closed circuit costs one relaxed load per request
// to admit and nothing to record a success when there were no failures: the object sits
// on its own cache line, which stays shared-clean in every core's cache until something
// fails.

#include <atomic>
#include <cstdint>
#include <string>

#include "config/config.h"

namespace fiberlb::lb {

enum class CircuitState : uint8_t { Closed = 0, Open = 1, HalfOpen = 2 };  // metric values
const char* toString(CircuitState s);  // "closed" | "open" | "half_open"

// Why an attempt failed, as the breaker remembers it for operators.
enum class FailureCause : uint8_t {
  None = 0,
  ConnectFailed,   // connect error other than a refusal (unreachable, reset during connect)
  ConnectTimeout,  // connect_ms elapsed
  Refused,         // ECONNREFUSED
  Reset,           // the connection closed or reset before a complete response
  Timeout,         // upstream_response_ms elapsed
  BadResponse,     // not valid HTTP
  Status5xx,       // a 5xx response (the status is kept alongside)
  TlsHandshake,    // tls = true: the backend's TLS handshake failed (e.g. its certificate)
};

// One failure, packed so that it fits an atomic word.
struct FailureInfo {
  FailureCause cause = FailureCause::None;
  int status = 0;  // for Status5xx
};
// Operator words: "connection refused", "status 502", "no response within the timeout", ...
std::string describe(FailureInfo failure);

// How a request was let through, to be handed back with its result.
enum class Admission : uint8_t {
  Rejected,  // open, or half-open with no trial permit left: pick another backend
  Normal,    // closed
  Trial,     // one of the half-open trial permits
};

// What a call changed; callers tell the control loop when it is not None.
enum class CircuitChange : uint8_t { None, Opened, Closed };

// A consistent copy of the breaker's fields for the control loop and the admin API.
struct CircuitView {
  CircuitState state = CircuitState::Closed;
  int consecutive_failures = 0;
  int failures_at_open = 0;  // consecutive failures that opened it last
  FailureInfo last_failure;  // the failure that opened it last (or the latest one)
  int64_t opened_at_ms = 0;  // monotonic ms of the last open (0 = never)
  // Monotonic ms when it may go half-open (state Open). kNotScheduled while the worker that
  // opened it has not written it yet, or when not open.
  int64_t half_open_at_ms = 0;
  uint64_t opened_total = 0;  // transitions into each state since start
  uint64_t half_opened_total = 0;
  uint64_t closed_total = 0;  // from half_open back to closed
};

class alignas(64) CircuitBreaker {
 public:
  static constexpr int64_t kNotScheduled = INT64_MAX;

  CircuitBreaker() = default;
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  CircuitState state() const { return state_.load(std::memory_order_acquire); }

  // Worker threads, before sending a request to the backend.
  Admission admit();
  // Worker threads: the result of an admitted attempt. A success is a response below 500;
  // a failure is any FailureCause. `admission` is what admit() returned. Only a trial's
  // result moves a half-open circuit; results of requests admitted before the circuit
  // opened are ignored while it is not closed. `now_ms` is monotonic.
  CircuitChange recordSuccess(Admission admission);
  CircuitChange recordFailure(Admission admission, FailureInfo failure,
                              const config::CircuitBreaker& cfg, int64_t now_ms);
  // Worker threads: an admitted attempt ended without a verdict (the client left, a stale
  // pooled connection): a trial permit goes back so half-open does not wait forever.
  void abandon(Admission admission);

  // Control loop: open -> half_open once recovery_timeout_sec has passed since it opened
  // (true when it moved). Grants cfg.half_open_max_requests trial permits.
  bool enterHalfOpen(const config::CircuitBreaker& cfg, int64_t now_ms);
  // Control loop: a reload changed recovery_timeout_sec; the open circuit's half-open time
  // follows it.
  void retime(const config::CircuitBreaker& cfg);

  CircuitView view() const;

 private:
  static uint32_t pack(FailureInfo f);
  static FailureInfo unpack(uint32_t v);

  std::atomic<CircuitState> state_{CircuitState::Closed};
  std::atomic<int> consecutive_failures_{0};
  std::atomic<int> permits_{0};  // half-open trial permits left
  std::atomic<int> failures_at_open_{0};
  std::atomic<uint32_t> last_failure_{0};
  std::atomic<int64_t> opened_at_ms_{0};
  std::atomic<int64_t> half_open_at_ms_{kNotScheduled};
  std::atomic<uint64_t> opened_total_{0};
  std::atomic<uint64_t> half_opened_total_{0};
  std::atomic<uint64_t> closed_total_{0};
};

}  // namespace fiberlb::lb

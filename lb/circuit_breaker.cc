#include "lb/circuit_breaker.h"

#include <cmath>

namespace fiberlb::lb {
namespace {

int64_t recoveryMs(const config::CircuitBreaker& cfg) {
  return static_cast<int64_t>(std::llround(cfg.recovery_timeout_sec * 1000));
}

}  // namespace

const char* toString(CircuitState s) {
  switch (s) {
    case CircuitState::Closed:
      return "closed";
    case CircuitState::Open:
      return "open";
    case CircuitState::HalfOpen:
      return "half_open";
  }
  return "closed";
}

std::string describe(FailureInfo failure) {
  switch (failure.cause) {
    case FailureCause::None:
      return "no failure";
    case FailureCause::ConnectFailed:
      return "connect failed";
    case FailureCause::TlsHandshake:
      return "TLS handshake failed";
    case FailureCause::ConnectTimeout:
      return "connect timed out";
    case FailureCause::Refused:
      return "connection refused";
    case FailureCause::Reset:
      return "connection reset before a complete response";
    case FailureCause::Timeout:
      return "no response within upstream_response_ms";
    case FailureCause::BadResponse:
      return "invalid HTTP response";
    case FailureCause::Status5xx:
      return "status " + std::to_string(failure.status);
  }
  return "unknown failure";
}

uint32_t CircuitBreaker::pack(FailureInfo f) {
  return (static_cast<uint32_t>(f.cause) << 16) | (static_cast<uint32_t>(f.status) & 0xffff);
}

FailureInfo CircuitBreaker::unpack(uint32_t v) {
  return FailureInfo{static_cast<FailureCause>(v >> 16), static_cast<int>(v & 0xffff)};
}

Admission CircuitBreaker::admit() {
  switch (state_.load(std::memory_order_acquire)) {
    case CircuitState::Closed:
      return Admission::Normal;
    case CircuitState::Open:
      return Admission::Rejected;
    case CircuitState::HalfOpen:
      break;
  }
  int permits = permits_.load(std::memory_order_relaxed);
  while (permits > 0) {
    if (permits_.compare_exchange_weak(permits, permits - 1, std::memory_order_acq_rel))
      return Admission::Trial;
  }
  return Admission::Rejected;
}

CircuitChange CircuitBreaker::recordSuccess(Admission admission) {
  if (admission == Admission::Trial) {
    CircuitState expected = CircuitState::HalfOpen;
    if (!state_.compare_exchange_strong(expected, CircuitState::Closed, std::memory_order_acq_rel))
      return CircuitChange::None;  // another trial decided first
    consecutive_failures_.store(0, std::memory_order_relaxed);
    permits_.store(0, std::memory_order_relaxed);
    closed_total_.fetch_add(1, std::memory_order_relaxed);
    return CircuitChange::Closed;
  }
  // The common case: no failure since the last success, so nothing is written and the cache
  // line stays shared between cores. A late success while open or half-open is ignored: the
  // count that opened the circuit stays visible to operators.
  if (consecutive_failures_.load(std::memory_order_relaxed) != 0 &&
      state_.load(std::memory_order_relaxed) == CircuitState::Closed)
    consecutive_failures_.store(0, std::memory_order_relaxed);
  return CircuitChange::None;
}

CircuitChange CircuitBreaker::recordFailure(Admission admission, FailureInfo failure,
                                            const config::CircuitBreaker& cfg, int64_t now_ms) {
  CircuitState from;
  int failures;
  if (admission == Admission::Trial) {
    from = CircuitState::HalfOpen;
    failures = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  } else {
    if (state_.load(std::memory_order_relaxed) != CircuitState::Closed) return CircuitChange::None;
    failures = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
    last_failure_.store(pack(failure), std::memory_order_relaxed);
    if (failures < cfg.failure_threshold) return CircuitChange::None;
    from = CircuitState::Closed;
  }
  CircuitState expected = from;
  if (!state_.compare_exchange_strong(expected, CircuitState::Open, std::memory_order_acq_rel))
    return CircuitChange::None;  // someone else moved it first
  // The winner records the opening. half_open_at_ms_ is written last: until then the control
  // loop sees kNotScheduled and waits for this worker's notification.
  permits_.store(0, std::memory_order_relaxed);
  failures_at_open_.store(failures, std::memory_order_relaxed);
  last_failure_.store(pack(failure), std::memory_order_relaxed);
  opened_at_ms_.store(now_ms, std::memory_order_relaxed);
  opened_total_.fetch_add(1, std::memory_order_relaxed);
  half_open_at_ms_.store(now_ms + recoveryMs(cfg), std::memory_order_release);
  return CircuitChange::Opened;
}

void CircuitBreaker::abandon(Admission admission) {
  if (admission == Admission::Trial &&
      state_.load(std::memory_order_acquire) == CircuitState::HalfOpen)
    permits_.fetch_add(1, std::memory_order_acq_rel);
}

bool CircuitBreaker::enterHalfOpen(const config::CircuitBreaker& cfg, int64_t now_ms) {
  if (state_.load(std::memory_order_acquire) != CircuitState::Open) return false;
  if (now_ms < half_open_at_ms_.load(std::memory_order_acquire)) return false;
  consecutive_failures_.store(0, std::memory_order_relaxed);
  permits_.store(cfg.half_open_max_requests, std::memory_order_release);
  half_open_at_ms_.store(kNotScheduled, std::memory_order_relaxed);
  CircuitState expected = CircuitState::Open;
  if (!state_.compare_exchange_strong(expected, CircuitState::HalfOpen, std::memory_order_acq_rel))
    return false;
  half_opened_total_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void CircuitBreaker::retime(const config::CircuitBreaker& cfg) {
  if (state_.load(std::memory_order_acquire) != CircuitState::Open) return;
  if (half_open_at_ms_.load(std::memory_order_acquire) == kNotScheduled) return;
  half_open_at_ms_.store(opened_at_ms_.load(std::memory_order_relaxed) + recoveryMs(cfg),
                         std::memory_order_release);
}

CircuitView CircuitBreaker::view() const {
  CircuitView v;
  v.state = state_.load(std::memory_order_acquire);
  v.consecutive_failures = consecutive_failures_.load(std::memory_order_relaxed);
  v.failures_at_open = failures_at_open_.load(std::memory_order_relaxed);
  v.last_failure = unpack(last_failure_.load(std::memory_order_relaxed));
  v.opened_at_ms = opened_at_ms_.load(std::memory_order_relaxed);
  v.half_open_at_ms = half_open_at_ms_.load(std::memory_order_acquire);
  v.opened_total = opened_total_.load(std::memory_order_relaxed);
  v.half_opened_total = half_opened_total_.load(std::memory_order_relaxed);
  v.closed_total = closed_total_.load(std::memory_order_relaxed);
  return v;
}

}  // namespace fiberlb::lb

#pragma once
// The long-lived state of one backend that every worker must see at once.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "lb/circuit_breaker.h"

namespace fiberlb::lb {

// Active health of a backend (SPEC §4): unknown until the first check result.
enum class Health : uint8_t { Unknown, Healthy, Unhealthy };
const char* toString(Health h);

// What the active checks last concluded, and why. Control loop only: workers never read it
// (they see health only through the endpoints of a published snapshot).
struct HealthRecord {
  Health health = Health::Unknown;
  std::string reason;              // operator words: "3 consecutive timeouts (500 ms)"
  int64_t changed_unix_ms = 0;     // when `health` last changed (0 = never)
  int64_t eligible_since_ms = -1;  // monotonic ms it last became eligible; -1 = not eligible
  bool was_eligible = false;       // ever eligible (slow start skips the first time)
  uint64_t checks_passed = 0;      // totals for fiberlb_health_checks_total
  uint64_t checks_failed = 0;
  std::string last_result;  // result of the latest check ("ok", "timeout", "status 503")
};

// What the control loop last saw of a backend's circuit, to log and time its transitions.
// Control loop only.
struct CircuitRecord {
  CircuitState seen = CircuitState::Closed;
  int64_t changed_unix_ms = 0;  // when `seen` last changed (0 = never)
};

// Identity = (LB, name, address, port). One object per identity lives across snapshots and
// reloads (the control loop keeps a registry of them), so counters, health and circuit
// state survive a reload. Workers only touch the relaxed atomics; everything else is
// immutable after construction.
class BackendState {
 public:
  using Ptr = std::shared_ptr<BackendState>;

  BackendState(std::string lb, std::string name, std::string address, int port, uint32_t slot)
      : lb_(std::move(lb)),
        name_(std::move(name)),
        address_(std::move(address)),
        port_(port),
        slot_(slot) {}

  const std::string& lb() const { return lb_; }
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // Dense process-wide index, never reused: workers key their per-backend tables
  // (connection pools) by it instead of hashing pointers on every request.
  uint32_t slot() const { return slot_; }

  // Requests in flight on this backend across all workers. Least-connections reads it.
  std::atomic<int64_t> active_requests{0};
  // Open upstream connections across all workers (fiberlb_upstream_connections).
  std::atomic<int64_t> connections{0};
  // Monotonic totals for metrics and the admin API.
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> failures_total{0};
  // Responses relayed from this backend by status class: [0] = 1xx ... [4] = 5xx.
  std::array<std::atomic<uint64_t>, 5> responses_by_class{};

  // The passive health check, fed by every worker's requests (its own cache line).
  CircuitBreaker circuit;

  // Control loop only (health monitor writes, snapshot builder and admin read).
  HealthRecord health;
  CircuitRecord circuit_record;

 private:
  const std::string lb_;
  const std::string name_;
  const std::string address_;
  const int port_;
  const uint32_t slot_;
};

}  // namespace fiberlb::lb

#pragma once
// The long-lived state of one backend that every worker must see at once.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace fiberlb::lb {

// Identity = (LB, name, address, port). One object per identity lives across snapshots and
// reloads (the control loop keeps a registry of them), so counters and — later — health and
// circuit state survive a reload. Workers only touch the relaxed atomics; everything else is
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
  // Open upstream connections across all workers (for max_connections, issue 4).
  std::atomic<int64_t> connections{0};
  // Monotonic totals for metrics and the admin API.
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> failures_total{0};

 private:
  const std::string lb_;
  const std::string name_;
  const std::string address_;
  const int port_;
  const uint32_t slot_;
};

}  // namespace fiberlb::lb

#pragma once
// What the admin API reads from the process. The control loop implements it; tests can fake
// it. Kept to read access on purpose: handlers that change state (failover, PATCH, reload)
// will get their own narrow interface when they arrive.

#include <cstdint>
#include <memory>

#include "config/config.h"
#include "src/proxy/worker_update.h"

namespace fiberlb::admin {

// Worker counters summed over all workers at the moment of the call.
struct WorkerTotals {
  int workers = 0;
  uint64_t accepted = 0;  // downstream connections accepted since start
  uint64_t retries = 0;   // upstream attempts repeated on another backend
  int64_t sessions = 0;   // downstream connections open now
};

class AdminSource {
 public:
  virtual ~AdminSource() = default;
  // The update most recently published to the workers (never null once serving).
  // Control loop only.
  virtual std::shared_ptr<const proxy::WorkerUpdate> currentUpdate() const = 0;
  // The running configuration (the one currentUpdate() was built from). Control loop only.
  virtual std::shared_ptr<const config::Config> currentConfig() const = 0;
  // Control loop only (reads the workers' relaxed atomics).
  virtual WorkerTotals workerTotals() const = 0;
};

}  // namespace fiberlb::admin

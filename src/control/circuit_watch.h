#pragma once
// The control loop's side of the circuit breakers: workers move circuits to open and closed
// on real traffic and wake this up; it logs each transition with its cause, moves open
// circuits to half-open when their recovery time is up, and asks for a rebuild so routing,
// region status and failover follow.

#include <uv.h>

#include <functional>
#include <memory>

#include "lb/cluster_snapshot.h"

namespace fiberlb::control {

class CircuitWatch {
 public:
  using SnapshotSource = std::function<std::shared_ptr<const lb::ClusterSnapshot>()>;
  // `current` gives the snapshot whose backends are watched; `changed` is called (on the
  // loop) when some circuit changed state, to rebuild and publish.
  CircuitWatch(uv_loop_t* loop, SnapshotSource current, std::function<void()> changed);
  ~CircuitWatch();
  CircuitWatch(const CircuitWatch&) = delete;
  CircuitWatch& operator=(const CircuitWatch&) = delete;

  // Any thread (workers): some circuit moved. Coalesced.
  void notify();
  // Control loop: look now (after a reload, whose recovery times may differ).
  void scan();
  // Control loop: stop and release the handles (shutdown).
  void close();

 private:
  static void onAsync(uv_async_t* handle);
  static void onTimer(uv_timer_t* handle);
  // Logs what changed since the last scan and records it on each backend. True if any
  // circuit is in a different state than last seen.
  bool observe(const lb::ClusterSnapshot& snap, int64_t now_ms);

  uv_loop_t* loop_;
  SnapshotSource current_;
  std::function<void()> changed_;
  uv_async_t async_{};
  uv_timer_t timer_{};  // the next open circuit's half-open time
  bool closed_ = false;
};

}  // namespace fiberlb::control

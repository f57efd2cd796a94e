#include "src/control/circuit_watch.h"

#include <algorithm>
#include <string>

#include "src/util/log.h"
#include "src/util/wall_clock.h"

namespace fiberlb::control {
namespace {

std::string seconds(double s) {
  char buf[32];
  snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

void logTransition(const lb::LbSnapshot& lb, const lb::BackendState& b, lb::CircuitState from,
                   const lb::CircuitView& v) {
  const config::CircuitBreaker& cfg = lb.config->circuit_breaker;
  const char* lb_name = lb.config->name.c_str();
  const char* name = b.name().c_str();
  switch (v.state) {
    case lb::CircuitState::Open:
      if (from == lb::CircuitState::HalfOpen) {
        FLB_LOG(Warn,
                "circuit open lb=%s backend=%s: trial request failed (%s); half-open again in %s",
                lb_name, name, lb::describe(v.last_failure).c_str(),
                seconds(cfg.recovery_timeout_sec).c_str());
      } else {
        FLB_LOG(Warn,
                "circuit open lb=%s backend=%s: %d consecutive failures, last: %s; half-open in %s",
                lb_name, name, v.failures_at_open, lb::describe(v.last_failure).c_str(),
                seconds(cfg.recovery_timeout_sec).c_str());
      }
      return;
    case lb::CircuitState::HalfOpen:
      FLB_LOG(
          Info,
          "circuit half_open lb=%s backend=%s: %s since it opened, admitting %d trial request%s",
          lb_name, name, seconds(cfg.recovery_timeout_sec).c_str(), cfg.half_open_max_requests,
          cfg.half_open_max_requests == 1 ? "" : "s");
      return;
    case lb::CircuitState::Closed:
      FLB_LOG(Info, "circuit closed lb=%s backend=%s: trial request succeeded", lb_name, name);
      return;
  }
}

}  // namespace

CircuitWatch::CircuitWatch(uv_loop_t* loop, SnapshotSource current, std::function<void()> changed)
    : loop_(loop), current_(std::move(current)), changed_(std::move(changed)) {
  uv_async_init(loop_, &async_, &CircuitWatch::onAsync);
  async_.data = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

CircuitWatch::~CircuitWatch() = default;

void CircuitWatch::notify() {
  uv_async_send(&async_);
}

void CircuitWatch::close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void CircuitWatch::onAsync(uv_async_t* handle) {
  static_cast<CircuitWatch*>(handle->data)->scan();
}

void CircuitWatch::onTimer(uv_timer_t* handle) {
  static_cast<CircuitWatch*>(handle->data)->scan();
}

void CircuitWatch::scan() {
  if (closed_) return;
  const std::shared_ptr<const lb::ClusterSnapshot> snap = current_();
  if (!snap) return;
  const auto now = static_cast<int64_t>(uv_now(loop_));
  // What the workers did, then what is due now (logged in that order: open before half-open).
  bool changed = observe(*snap, now);
  int64_t next = lb::CircuitBreaker::kNotScheduled;
  for (const lb::LbSnapshot& lb : snap->lbs) {
    const config::CircuitBreaker& cfg = lb.config->circuit_breaker;
    for (const lb::BackendState::Ptr& b : lb.backends) {
      if (b->circuit.state() != lb::CircuitState::Open) continue;
      b->circuit.retime(cfg);  // a reload may have changed recovery_timeout_sec
      if (b->circuit.enterHalfOpen(cfg, now)) continue;
      next = std::min(next, b->circuit.view().half_open_at_ms);
    }
  }
  uv_timer_stop(&timer_);
  if (next != lb::CircuitBreaker::kNotScheduled)
    uv_timer_start(&timer_, &CircuitWatch::onTimer,
                   static_cast<uint64_t>(std::max<int64_t>(next - now, 0)), 0);
  changed = observe(*snap, now) || changed;
  if (changed) changed_();
}

bool CircuitWatch::observe(const lb::ClusterSnapshot& snap, int64_t now_ms) {
  bool changed = false;
  for (const lb::LbSnapshot& lb : snap.lbs) {
    for (const lb::BackendState::Ptr& b : lb.backends) {
      const lb::CircuitView v = b->circuit.view();
      lb::CircuitRecord& seen = b->circuit_record;
      if (v.state == seen.seen) continue;
      logTransition(lb, *b, seen.seen, v);
      seen.seen = v.state;
      // An opening is dated when the worker saw the failure, not when we noticed.
      const int64_t ago = v.state == lb::CircuitState::Open && v.opened_at_ms > 0
                              ? std::max<int64_t>(now_ms - v.opened_at_ms, 0)
                              : 0;
      seen.changed_unix_ms = util::unixNowMs() - ago;
      changed = true;
    }
  }
  return changed;
}

}  // namespace fiberlb::control

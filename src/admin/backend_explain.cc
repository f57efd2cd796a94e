#include "src/admin/backend_explain.h"

#include <cmath>
#include <cstdint>
#include <sstream>

#include "lb/failover_manager.h"
#include "src/admin/json_views.h"

namespace fiberlb::admin {
namespace {

void adminReasons(const BackendView& b, std::vector<std::string>& out) {
  if (b.config->weight <= 0) out.push_back("weight is 0: it receives no new traffic");
  switch (b.config->state) {
    case config::AdminState::Drain:
      out.push_back("drained by an operator: in-flight requests finish, no new ones arrive");
      break;
    case config::AdminState::Disabled:
      out.push_back("disabled by an operator");
      break;
    case config::AdminState::Enabled:
      break;
  }
}

std::string since(const lb::HealthRecord& h) {
  return h.changed_unix_ms > 0 ? " (since " + lb::rfc3339Utc(h.changed_unix_ms) + ")" : "";
}

void healthReasons(const LbView& lb, const BackendView& b, std::vector<std::string>& out) {
  const lb::HealthRecord& h = b.state->health;
  if (h.health == lb::Health::Unhealthy) {
    out.push_back(std::string(b.active_checks ? "health check failing: " : "marked unhealthy: ") +
                  (h.reason.empty() ? "no reason recorded" : h.reason) + since(h));
    return;
  }
  // Without active checks, Unknown counts as eligible (SPEC §4).
  if (h.health != lb::Health::Unknown || !b.active_checks) return;
  if (h.checks_passed + h.checks_failed == 0) {
    out.push_back("no health check result yet");
    return;
  }
  // From Unknown one pass is enough; going down takes unhealthy_threshold failures.
  out.push_back("no health verdict yet: one passing check brings it in, " +
                std::to_string(lb.config->healthcheck.unhealthy_threshold) +
                " consecutive failures mark it unhealthy (last: " + h.last_result + ")");
}

std::string plural(int n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string seconds(double sec) {
  std::ostringstream out;
  out << sec;
  return out.str() + " s";
}

// Wall-clock ms when an open circuit goes half-open; 0 when not open or not known (the control
// loop has not seen it open yet).
int64_t halfOpenAtUnixMs(const LbView& lb, const lb::CircuitView& c, int64_t since_unix_ms) {
  if (c.state != lb::CircuitState::Open || since_unix_ms <= 0) return 0;
  return since_unix_ms + std::llround(lb.config->circuit_breaker.recovery_timeout_sec * 1000);
}

// "circuit open since T after 5 consecutive failures (last: status 502); half-open at T+60s,
// then admits 1 trial request (...)". A half-open circuit is eligible: no reason.
void circuitReasons(const LbView& lb, const BackendView& b, std::vector<std::string>& out) {
  const lb::CircuitView c = b.state->circuit.view();
  if (c.state != lb::CircuitState::Open) return;
  const config::CircuitBreaker& cfg = lb.config->circuit_breaker;
  const int64_t since = circuitSinceUnixMs(*b.state, c.state);
  std::string r = "circuit open";
  if (since > 0) r += " since " + lb::rfc3339Utc(since);
  // Reopened by a failed trial, the count restarts below the threshold.
  if (c.failures_at_open >= cfg.failure_threshold)
    r += " after " + plural(c.failures_at_open, "consecutive failure") +
         " (last: " + lb::describe(c.last_failure) + ")";
  else
    r += " after a failed trial request (" + lb::describe(c.last_failure) + ")";
  const int64_t half_open_at = halfOpenAtUnixMs(lb, c, since);
  r += "; half-open " + (half_open_at > 0 ? "at " + lb::rfc3339Utc(half_open_at)
                                          : seconds(cfg.recovery_timeout_sec) + " after it opened");
  r += ", then admits " + plural(cfg.half_open_max_requests, "trial request") +
       " (a success closes it, a failure opens it again)";
  out.push_back(std::move(r));
}

// The breaker's state and what decides its next move.
Json circuitJson(const LbView& lb, const BackendView& b) {
  const lb::CircuitView c = b.state->circuit.view();
  const config::CircuitBreaker& cfg = lb.config->circuit_breaker;
  const int64_t since = circuitSinceUnixMs(*b.state, c.state);
  return Json{
      {"state", lb::toString(c.state)},
      {"consecutive_failures", c.consecutive_failures},
      {"failure_threshold", cfg.failure_threshold},
      {"last_failure", c.last_failure.cause == lb::FailureCause::None
                           ? Json(nullptr)
                           : Json(lb::describe(c.last_failure))},
      {"since", optionalTime(since)},
      {"half_open_at", optionalTime(halfOpenAtUnixMs(lb, c, since))},
      {"recovery_timeout_sec", cfg.recovery_timeout_sec},
      {"half_open_max_requests", cfg.half_open_max_requests},
  };
}

void routingReasons(const ClusterView& view, const LbView& lb, const BackendView& b,
                    std::vector<std::string>& out) {
  if (b.region == lb.routing_region) {
    if (b.eligible && !b.in_rotation)
      out.push_back("not yet among the endpoints of the published snapshot");
    return;
  }
  const std::string region(b.region);
  if (view.active_region.empty()) {
    out.push_back("no region is active: nothing is routed to its region " + region);
  } else if (region != view.active_region) {
    out.push_back("its region " + region + " is not the active region (" + view.active_region +
                  ")");
  } else {
    out.push_back("its load balancer routes to region " +
                  (lb.routing_region.empty() ? std::string("none") : lb.routing_region) +
                  " because the active region " + region + " has no eligible backend of it");
  }
}

std::string verdictOf(const BackendView& b, const std::vector<std::string>& reasons) {
  const std::string& name = b.config->name;
  if (b.in_rotation) {
    std::string s = name + " is serving traffic in region " + std::string(b.region) +
                    " with weight " + std::to_string(b.effective_weight);
    if (b.effective_weight < b.config->weight)
      s += " of " + std::to_string(b.config->weight) + " (slow start)";
    return s;
  }
  std::string joined;
  for (const std::string& r : reasons)
    joined += (joined.empty() ? "" : "; ") + r;
  if (b.eligible) return name + " is eligible but on standby: " + joined;
  return name + " receives no new traffic: " + joined;
}

std::string summaryOf(const BackendView& b, const std::vector<std::string>& reasons) {
  std::string s = verdictOf(b, reasons);
  // Eligible, yet not quite like a closed circuit: say so.
  if (b.state->circuit.state() == lb::CircuitState::HalfOpen)
    s += " (circuit half-open: its trial requests decide whether it closes or opens again)";
  return s + ".";
}

}  // namespace

std::vector<std::string> explainReasons(const ClusterView& view, const LbView& lb,
                                        const BackendView& b) {
  std::vector<std::string> reasons;
  adminReasons(b, reasons);
  healthReasons(lb, b, reasons);
  circuitReasons(lb, b, reasons);
  routingReasons(view, lb, b, reasons);
  return reasons;
}

Json explainJson(const ClusterView& view, const LbView& lb, const BackendView& b) {
  const std::vector<std::string> reasons = explainReasons(view, lb, b);
  const RegionView* region = view.findRegion(b.region);
  Json health = healthJson(b);
  if (b.active_checks) {
    const config::HealthCheck& hc = lb.config->healthcheck;
    health["check_type"] = config::toString(hc.type);
    health["interval_sec"] = hc.interval_sec;
    health["healthy_threshold"] = hc.healthy_threshold;
    health["unhealthy_threshold"] = hc.unhealthy_threshold;
  }
  return Json{
      {"loadbalancer", lb.config->name},
      {"backend", b.config->name},
      {"eligible", b.eligible},
      {"in_rotation", b.in_rotation},
      {"reasons", reasons},
      {"summary", summaryOf(b, reasons)},
      {"health", std::move(health)},
      {"admin_state", config::toString(b.config->state)},
      {"weight", b.config->weight},
      {"effective_weight", b.effective_weight},
      {"circuit", circuitJson(lb, b)},
      {"region", b.region},
      {"region_status", region != nullptr ? lb::toString(region->status) : "unknown"},
      {"routing_region", lb.routing_region},
      {"active_region", view.active_region.empty() ? Json(nullptr) : Json(view.active_region)},
  };
}

}  // namespace fiberlb::admin

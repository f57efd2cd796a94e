#include "src/admin/json_views.h"

#include <atomic>
#include <cmath>

namespace fiberlb::admin {
namespace {

template <typename T>
T load(const std::atomic<T>& a) {
  return a.load(std::memory_order_relaxed);
}

Json optionalString(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

Json responsesByClass(const lb::BackendState& s) {
  Json out = Json::object();
  for (size_t i = 0; i < s.responses_by_class.size(); ++i)
    out[std::to_string(i + 1) + "xx"] = load(s.responses_by_class[i]);
  return out;
}

}  // namespace

Json regionJson(const RegionView& r) {
  return Json{
      {"region_id", r.id},
      {"id", r.id},
      {"display_name", r.display_name},
      {"provider", r.provider},
      {"location", Json{{"lat", r.latitude}, {"lon", r.longitude}}},
      {"priority", r.priority},
      {"status", lb::toString(r.status)},
      {"node_count", r.nodes},
      {"eligible_nodes", r.eligible},
      {"active", r.active},
      {"declared", r.declared},
  };
}

Json nodeJson(const LbView& lb, const BackendView& b) {
  const config::Backend& c = *b.config;
  const lb::BackendState& s = *b.state;
  Json j{
      {"node_id", c.name},         {"loadbalancer", lb.config->name}, {"region_id", b.region},
      {"endpoint", endpointOf(c)}, {"node_type", c.node_type},        {"weight", c.weight},
  };
  if (b.in_rotation) j["effective_weight"] = b.effective_weight;
  j["health"] = lb::toString(s.health.health);
  j["health_reason"] = s.health.reason;
  j["last_check"] = optionalString(s.health.last_result);
  const lb::CircuitView circuit = s.circuit.view();
  j["circuit"] = lb::toString(circuit.state);
  j["consecutive_failures"] = circuit.consecutive_failures;
  j["circuit_since"] = optionalTime(circuitSinceUnixMs(s, circuit.state));
  j["admin_state"] = config::toString(c.state);
  j["eligible"] = b.eligible;
  j["in_rotation"] = b.in_rotation;
  j["active_requests"] = load(s.active_requests);
  j["requests_total"] = load(s.requests_total);
  j["failures_total"] = load(s.failures_total);
  return j;
}

Json backendJson(const BackendView& b) {
  const config::Backend& c = *b.config;
  const lb::BackendState& s = *b.state;
  const lb::CircuitView circuit = s.circuit.view();
  return Json{
      {"name", c.name},
      {"address", c.address},
      {"port", c.port},
      {"endpoint", endpointOf(c)},
      {"weight", c.weight},
      {"effective_weight", b.effective_weight},
      {"region", b.region},
      {"node_type", c.node_type},
      {"admin_state", config::toString(c.state)},
      {"health", lb::toString(s.health.health)},
      {"health_reason", s.health.reason},
      {"circuit", lb::toString(circuit.state)},
      {"consecutive_failures", circuit.consecutive_failures},
      {"circuit_since", optionalTime(circuitSinceUnixMs(s, circuit.state))},
      {"eligible", b.eligible},
      {"in_rotation", b.in_rotation},
      {"active_requests", load(s.active_requests)},
      {"connections", load(s.connections)},
      {"requests_total", load(s.requests_total)},
      {"failures_total", load(s.failures_total)},
      {"responses", responsesByClass(s)},
  };
}

Json lbJson(const LbView& lb) {
  const config::LoadBalancer& c = *lb.config;
  // The bound port, not the configured one: they differ when the config asks for port 0.
  const int port = lb.listener != nullptr ? lb.listener->bound.port() : c.port;
  Json backends = Json::array();
  for (const BackendView& b : lb.backends)
    backends.push_back(backendJson(b));
  return Json{
      {"name", c.name},
      {"vip", c.vip},
      {"port", port},
      {"listen", lb.listener != nullptr ? lb.listener->bound.str() : ""},
      {"protocol", config::toString(c.protocol)},
      {"method", config::toString(c.method)},
      {"routing_region", lb.routing_region},
      {"eligible_backends", lb.eligible},
      {"endpoints", lb.endpoints},
      {"backends", std::move(backends)},
  };
}

Json healthJson(const BackendView& b) {
  const lb::HealthRecord& h = b.state->health;
  return Json{
      {"status", lb::toString(h.health)},         {"reason", h.reason},
      {"since", optionalTime(h.changed_unix_ms)}, {"last_result", optionalString(h.last_result)},
      {"checks_passed", h.checks_passed},         {"checks_failed", h.checks_failed},
      {"active_checks", b.active_checks},
  };
}

Json eventJson(const lb::FailoverEvent& e) {
  return Json{
      {"event_id", e.event_id},   {"from_region", e.from_region},
      {"to_region", e.to_region}, {"timestamp", lb::rfc3339Utc(e.timestamp_unix_ms)},
      {"reason", e.reason},       {"triggered_by", e.triggered_by},
      {"success", e.success},
  };
}

int64_t circuitSinceUnixMs(const lb::BackendState& state, lb::CircuitState current) {
  const lb::CircuitRecord& r = state.circuit_record;
  return r.seen == current ? r.changed_unix_ms : 0;
}

Json optionalTime(int64_t unix_ms) {
  return unix_ms > 0 ? Json(lb::rfc3339Utc(unix_ms)) : Json(nullptr);
}

std::string endpointOf(const config::Backend& b) {
  const bool v6 = b.address.find(':') != std::string::npos;
  return (v6 ? "[" + b.address + "]" : b.address) + ":" + std::to_string(b.port);
}

double roundMs(double ms) {
  return std::round(ms * 100) / 100;
}

Response errorFrom(const ActionResult& result) {
  const int status = result.status >= 400 ? result.status : 500;
  return errorResponse(status, result.error.empty() ? "internal_error" : result.error,
                       result.message);
}

}  // namespace fiberlb::admin

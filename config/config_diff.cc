#include "config/config_diff.h"

#include <string_view>
#include <tuple>
#include <unordered_map>

namespace fiberlb::config {
namespace {

template <typename T>
const T* findNamed(const std::vector<T>& items, const std::string& name) {
  for (const T& item : items)
    if (item.name == name) return &item;
  return nullptr;
}

const Region* findRegion(const std::vector<Region>& regions, const std::string& id) {
  for (const Region& r : regions)
    if (r.id == id) return &r;
  return nullptr;
}

bool sameBackend(const Backend& a, const Backend& b) {
  return std::tie(a.address, a.port, a.weight, a.region, a.tls, a.tls_verify, a.tls_ca_file,
                  a.tls_server_name, a.state) == std::tie(b.address, b.port, b.weight, b.region,
                                                          b.tls, b.tls_verify, b.tls_ca_file,
                                                          b.tls_server_name, b.state);
}

bool sameHealthCheck(const HealthCheck& a, const HealthCheck& b) {
  if (a.expected_status.size() != b.expected_status.size()) return false;
  for (size_t i = 0; i < a.expected_status.size(); ++i)
    if (a.expected_status[i].low != b.expected_status[i].low ||
        a.expected_status[i].high != b.expected_status[i].high)
      return false;
  return std::tie(a.type, a.interval_sec, a.timeout_sec, a.path, a.host, a.healthy_threshold,
                  a.unhealthy_threshold, a.slow_start_sec, a.configured) ==
         std::tie(b.type, b.interval_sec, b.timeout_sec, b.path, b.host, b.healthy_threshold,
                  b.unhealthy_threshold, b.slow_start_sec, b.configured);
}

bool sameSni(const std::vector<SniCert>& a, const std::vector<SniCert>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tie(a[i].server_name, a[i].cert_file, a[i].key_file) !=
        std::tie(b[i].server_name, b[i].cert_file, b[i].key_file))
      return false;
  return true;
}

// The LB's own settings, backends aside.
bool sameLbSettings(const LoadBalancer& a, const LoadBalancer& b) {
  const CircuitBreaker &ca = a.circuit_breaker, &cb = b.circuit_breaker;
  const Timeouts &ta = a.timeouts, &tb = b.timeouts;
  const Retries &ra = a.retries, &rb = b.retries;
  return std::tie(a.vip, a.port, a.protocol, a.method, a.hash_key, a.session_persistence,
                  a.tls_termination, a.udp_session_idle_sec, a.tls.cert_file, a.tls.key_file,
                  a.tls.min_version) == std::tie(b.vip, b.port, b.protocol, b.method, b.hash_key,
                                                 b.session_persistence, b.tls_termination,
                                                 b.udp_session_idle_sec, b.tls.cert_file,
                                                 b.tls.key_file, b.tls.min_version) &&
         sameSni(a.tls.sni, b.tls.sni) && sameHealthCheck(a.healthcheck, b.healthcheck) &&
         std::tie(ca.failure_threshold, ca.recovery_timeout_sec, ca.half_open_max_requests,
                  ca.max_connections, ca.max_pending_requests) ==
             std::tie(cb.failure_threshold, cb.recovery_timeout_sec, cb.half_open_max_requests,
                      cb.max_connections, cb.max_pending_requests) &&
         std::tie(ta.connect_ms, ta.client_header_ms, ta.client_idle_ms, ta.upstream_response_ms) ==
             std::tie(tb.connect_ms, tb.client_header_ms, tb.client_idle_ms,
                      tb.upstream_response_ms) &&
         std::tie(ra.max, ra.on_connect_failure, ra.on_refused, ra.on_reset_before_response,
                  ra.on_5xx) == std::tie(rb.max, rb.on_connect_failure, rb.on_refused,
                                         rb.on_reset_before_response, rb.on_5xx);
}

// Backends by name: LBs may list thousands, and a name lookup per backend would make the
// diff quadratic (340 ms of a 10,000-backend reload before this index).
std::unordered_map<std::string_view, const Backend*> byName(const std::vector<Backend>& backends) {
  std::unordered_map<std::string_view, const Backend*> index;
  index.reserve(backends.size());
  for (const Backend& b : backends)
    index.emplace(b.name, &b);
  return index;
}

void diffBackends(const LoadBalancer& before, const LoadBalancer& after, ConfigChanges& out) {
  const auto old_by_name = byName(before.backends);
  const auto new_by_name = byName(after.backends);
  for (const Backend& b : after.backends) {
    const auto old = old_by_name.find(b.name);
    if (old == old_by_name.end())
      out.added.push_back(after.name + "/" + b.name);
    else if (!sameBackend(*old->second, b))
      out.modified.push_back(after.name + "/" + b.name);
  }
  for (const Backend& b : before.backends)
    if (!new_by_name.contains(b.name)) out.removed.push_back(before.name + "/" + b.name);
}

void diffRegions(const Geo& before, const Geo& after, ConfigChanges& out) {
  for (const Region& r : after.regions) {
    const Region* old = findRegion(before.regions, r.id);
    if (old == nullptr)
      out.added.push_back("region:" + r.id);
    else if (std::tie(old->priority, old->latitude, old->longitude, old->display_name) !=
             std::tie(r.priority, r.latitude, r.longitude, r.display_name))
      out.modified.push_back("region:" + r.id);
  }
  for (const Region& r : before.regions)
    if (findRegion(after.regions, r.id) == nullptr) out.removed.push_back("region:" + r.id);
}

}  // namespace

ConfigChanges diff(const Config& before, const Config& after) {
  ConfigChanges out;
  for (const LoadBalancer& lb : after.loadbalancers) {
    const LoadBalancer* old = findNamed(before.loadbalancers, lb.name);
    if (old == nullptr) {
      out.added.push_back(lb.name);
      for (const Backend& b : lb.backends)
        out.added.push_back(lb.name + "/" + b.name);
      continue;
    }
    if (!sameLbSettings(*old, lb)) out.modified.push_back(lb.name);
    diffBackends(*old, lb, out);
  }
  for (const LoadBalancer& lb : before.loadbalancers) {
    if (findNamed(after.loadbalancers, lb.name) != nullptr) continue;
    out.removed.push_back(lb.name);
    for (const Backend& b : lb.backends)
      out.removed.push_back(lb.name + "/" + b.name);
  }
  diffRegions(before.geo, after.geo, out);
  const Geo &a = before.geo, &b = after.geo;
  if (std::tie(a.auto_failover, a.failover_threshold, a.failback, a.failback_hold_sec,
               a.active_region, a.replication_group_size) !=
      std::tie(b.auto_failover, b.failover_threshold, b.failback, b.failback_hold_sec,
               b.active_region, b.replication_group_size))
    out.modified.push_back("geo");
  return out;
}

}  // namespace fiberlb::config

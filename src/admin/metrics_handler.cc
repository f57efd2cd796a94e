// GET /metrics: Prometheus text exposition format 0.0.4 (SPEC §8 families and a few more).
// Values come from relaxed atomics that workers keep counting while we read: each sample is
// exact on its own, the set is not a single instant — the usual Prometheus contract.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include "lb/lb_stats.h"
#include "lb/region_status.h"
#include "src/admin/cluster_view.h"
#include "src/admin/exposition.h"
#include "src/admin/handlers.h"
#include "src/version.h"

namespace fiberlb::admin {
namespace {

constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};
constexpr std::array<lb::RegionStatus, 5> kRegionStatuses = {
    lb::RegionStatus::Online, lb::RegionStatus::Degraded, lb::RegionStatus::Offline,
    lb::RegionStatus::Maintenance, lb::RegionStatus::Unknown};

template <typename T>
T load(const std::atomic<T>& a) {
  return a.load(std::memory_order_relaxed);
}

// Runs `fn` for every backend of every LB.
void forEachBackend(const ClusterView& view,
                    const std::function<void(const LbView&, const BackendView&)>& fn) {
  for (const LbView& lb : view.lbs)
    for (const BackendView& b : lb.backends)
      fn(lb, b);
}

// Runs `fn` for every LB whose long-lived counters are known.
void forEachLbStats(const ClusterView& view,
                    const std::function<void(const LbView&, const lb::LbStats&)>& fn) {
  for (const LbView& lb : view.lbs)
    if (lb.stats != nullptr) fn(lb, *lb.stats);
}

// Sums one field over the shards of `stats`.
template <typename F>
auto sumShards(const lb::LbStats& stats, F field) {
  decltype(load(field(stats.shards()[0]))) total = 0;
  for (const lb::LbStatsShard& s : stats.shards())
    total += load(field(s));
  return total;
}

// 1 when active checks say healthy; without active checks a backend counts as healthy until
// something says otherwise (it is eligible by default, SPEC §4).
int healthyValue(const BackendView& b) {
  const lb::Health h = b.state->health.health;
  if (b.active_checks) return h == lb::Health::Healthy ? 1 : 0;
  return h != lb::Health::Unhealthy ? 1 : 0;
}

void writeRequests(Exposition& m, const ClusterView& view) {
  m.family("fiberlb_requests_total", "counter",
           "Responses sent to clients by status class: relayed from a backend, or produced by "
           "fiberlb itself (backend=\"\").");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    for (size_t c = 0; c < kClasses.size(); ++c)
      m.sample("fiberlb_requests_total",
               {{"lb", lb.config->name},
                {"backend", b.config->name},
                {"region", b.region},
                {"code", kClasses[c]}},
               load(b.state->responses_by_class[c]));
  });
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    for (size_t c = 0; c < kClasses.size(); ++c)
      m.sample("fiberlb_requests_total",
               {{"lb", lb.config->name}, {"backend", ""}, {"region", ""}, {"code", kClasses[c]}},
               sumShards(stats, [c](const lb::LbStatsShard& s) -> const std::atomic<uint64_t>& {
                 return s.local_responses[c];
               }));
  });
}

void writeDuration(Exposition& m, const ClusterView& view) {
  constexpr const char* kName = "fiberlb_request_duration_seconds";
  m.family(kName, "histogram", "Time from a request's first byte to its response's last byte.");
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    const std::string& name = lb.config->name;
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= lb::kLatencyBucketsSec.size(); ++i) {
      cumulative +=
          sumShards(stats, [i](const lb::LbStatsShard& s) -> const std::atomic<uint64_t>& {
            return s.latency_buckets[i];
          });
      const std::string le = i < lb::kLatencyBucketsSec.size()
                                 ? formatSampleValue(lb::kLatencyBucketsSec[i])
                                 : std::string("+Inf");
      m.sample(std::string(kName) + "_bucket", {{"lb", name}, {"le", le}}, cumulative);
    }
    const uint64_t sum_us = sumShards(
        stats,
        [](const lb::LbStatsShard& s) -> const std::atomic<uint64_t>& { return s.latency_sum_us; });
    m.sample(std::string(kName) + "_sum", {{"lb", name}}, static_cast<double>(sum_us) / 1e6);
    // The +Inf bucket, not latency_count: read a moment apart they could disagree.
    m.sample(std::string(kName) + "_count", {{"lb", name}}, cumulative);
  });
}

using CounterField = std::atomic<uint64_t> lb::LbStatsShard::*;

uint64_t sumField(const lb::LbStats& stats, CounterField field) {
  return sumShards(stats, [field](const lb::LbStatsShard& s) -> const std::atomic<uint64_t>& {
    return s.*field;
  });
}

// Only LBs that terminate TLS have samples.
void writeTlsCounters(Exposition& m, const ClusterView& view) {
  m.family("fiberlb_tls_handshakes_total", "counter",
           "TLS handshakes with clients by result (success: full or resumed; failure).");
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    if (!lb.config->tls_termination) return;
    const uint64_t ok = sumField(stats, &lb::LbStatsShard::tls_handshakes_full) +
                        sumField(stats, &lb::LbStatsShard::tls_handshakes_resumed);
    m.sample("fiberlb_tls_handshakes_total", {{"lb", lb.config->name}, {"result", "success"}}, ok);
    m.sample("fiberlb_tls_handshakes_total", {{"lb", lb.config->name}, {"result", "failure"}},
             sumField(stats, &lb::LbStatsShard::tls_handshakes_failed));
  });
  m.family("fiberlb_tls_sessions_resumed_total", "counter",
           "Successful TLS handshakes that resumed a session (ticket) instead of a full one.");
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    if (!lb.config->tls_termination) return;
    m.sample("fiberlb_tls_sessions_resumed_total", {{"lb", lb.config->name}},
             sumField(stats, &lb::LbStatsShard::tls_handshakes_resumed));
  });
}

struct CounterFamily {
  const char* name;
  const char* help;
  CounterField field;
};

// One {lb} counter per family, summed over the shards; only LBs of `protocol` have samples.
void writeProtocolCounters(Exposition& m, const ClusterView& view, config::Protocol protocol,
                           std::initializer_list<CounterFamily> families) {
  for (const CounterFamily& f : families) {
    m.family(f.name, "counter", f.help);
    forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
      if (lb.config->protocol != protocol) return;
      m.sample(f.name, {{"lb", lb.config->name}}, sumField(stats, f.field));
    });
  }
}

void writeL4Counters(Exposition& m, const ClusterView& view) {
  writeProtocolCounters(
      m, view, config::Protocol::Tcp,
      {{"fiberlb_l4_connections_total", "TCP connections relayed to a backend.",
        &lb::LbStatsShard::l4_connections},
       {"fiberlb_l4_received_bytes_total",
        "Bytes received from TCP clients and relayed to backends.", &lb::LbStatsShard::l4_bytes_in},
       {"fiberlb_l4_sent_bytes_total", "Bytes received from backends and relayed to TCP clients.",
        &lb::LbStatsShard::l4_bytes_out}});
}

// Only udp LBs have samples.
void writeUdpCounters(Exposition& m, const ClusterView& view) {
  writeProtocolCounters(
      m, view, config::Protocol::Udp,
      {{"fiberlb_udp_received_datagrams_total",
        "Datagrams received from UDP clients (the dropped ones included).",
        &lb::LbStatsShard::udp_datagrams_in},
       {"fiberlb_udp_received_bytes_total", "Bytes of the datagrams received from UDP clients.",
        &lb::LbStatsShard::udp_bytes_in},
       {"fiberlb_udp_sent_datagrams_total", "Datagrams from backends relayed to UDP clients.",
        &lb::LbStatsShard::udp_datagrams_out},
       {"fiberlb_udp_sent_bytes_total", "Bytes of the datagrams relayed to UDP clients.",
        &lb::LbStatsShard::udp_bytes_out},
       {"fiberlb_udp_sessions_total",
        "UDP sessions opened (a client address bound to a backend until it is idle for "
        "udp_session_idle_sec).",
        &lb::LbStatsShard::udp_sessions_opened}});
  constexpr const char* kDropped = "fiberlb_udp_dropped_datagrams_total";
  m.family(kDropped, "counter",
           "Datagrams not relayed, by reason: session_limit (the worker's session table is "
           "full), no_backend, overloaded (every backend at max_connections), error (a socket "
           "error).");
  const std::pair<const char*, CounterField> reasons[] = {
      {"session_limit", &lb::LbStatsShard::udp_dropped_session_limit},
      {"no_backend", &lb::LbStatsShard::udp_dropped_no_backend},
      {"overloaded", &lb::LbStatsShard::udp_dropped_overloaded},
      {"error", &lb::LbStatsShard::udp_dropped_error},
  };
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    if (lb.config->protocol != config::Protocol::Udp) return;
    for (const auto& [reason, field] : reasons)
      m.sample(kDropped, {{"lb", lb.config->name}, {"reason", reason}}, sumField(stats, field));
  });
  m.family("fiberlb_udp_sessions", "gauge", "Open UDP sessions.");
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    if (lb.config->protocol != config::Protocol::Udp) return;
    m.sample("fiberlb_udp_sessions", {{"lb", lb.config->name}},
             sumShards(stats, [](const lb::LbStatsShard& s) -> const std::atomic<int64_t>& {
               return s.udp_sessions;
             }));
  });
}

void writeLbCounters(Exposition& m, const ClusterView& view) {
  m.family("fiberlb_downstream_connections", "gauge", "Open client connections.");
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    m.sample("fiberlb_downstream_connections", {{"lb", lb.config->name}},
             sumShards(stats, [](const lb::LbStatsShard& s) -> const std::atomic<int64_t>& {
               return s.downstream_connections;
             }));
  });
  m.family("fiberlb_retries_total", "counter",
           "Upstream attempts repeated on another backend after a failure.");
  forEachLbStats(view, [&](const LbView& lb, const lb::LbStats& stats) {
    m.sample("fiberlb_retries_total", {{"lb", lb.config->name}},
             sumShards(stats, [](const lb::LbStatsShard& s) -> const std::atomic<uint64_t>& {
               return s.retries;
             }));
  });
  writeTlsCounters(m, view);
  writeL4Counters(m, view);
  writeUdpCounters(m, view);
}

void writeBackendTraffic(Exposition& m, const ClusterView& view) {
  m.family("fiberlb_upstream_requests_total", "counter",
           "Requests sent to a backend (attempts, including retries).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_upstream_requests_total",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", b.region}},
             load(b.state->requests_total));
  });
  m.family("fiberlb_backend_failures_total", "counter",
           "Upstream attempts that failed (connect error, reset, timeout, bad response).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_failures_total",
             {{"lb", lb.config->name}, {"backend", b.config->name}}, load(b.state->failures_total));
  });
  m.family("fiberlb_upstream_active_requests", "gauge",
           "Requests in flight on a backend, across all workers.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_upstream_active_requests",
             {{"lb", lb.config->name}, {"backend", b.config->name}},
             load(b.state->active_requests));
  });
  m.family("fiberlb_upstream_connections", "gauge",
           "Open upstream connections to a backend, across all workers.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_upstream_connections", {{"lb", lb.config->name}, {"backend", b.config->name}},
             load(b.state->connections));
  });
}

void writeBackendState(Exposition& m, const ClusterView& view) {
  m.family("fiberlb_backend_healthy", "gauge",
           "1 when active health checks pass (or none are configured and nothing failed).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_healthy",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", b.region}},
             healthyValue(b));
  });
  m.family("fiberlb_backend_eligible", "gauge",
           "1 when the backend may receive traffic (SPEC 4: weight > 0, healthy, enabled, "
           "circuit not open).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_eligible",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", b.region}},
             b.eligible ? 1 : 0);
  });
  m.family("fiberlb_backend_in_rotation", "gauge",
           "1 when the backend is an endpoint now: eligible and in the LB's routing region.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_in_rotation",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", b.region}},
             b.in_rotation ? 1 : 0);
  });
  m.family("fiberlb_backend_weight", "gauge", "Configured weight of the backend.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_weight", {{"lb", lb.config->name}, {"backend", b.config->name}},
             b.config->weight);
  });
  m.family("fiberlb_circuit_state", "gauge", "Circuit breaker: 0 closed, 1 open, 2 half_open.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_circuit_state", {{"lb", lb.config->name}, {"backend", b.config->name}},
             static_cast<int>(b.state->circuit.state()));
  });
  m.family("fiberlb_circuit_transitions_total", "counter",
           "Circuit breaker transitions by the state entered (open, half_open, closed).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    const lb::CircuitView c = b.state->circuit.view();
    for (const auto& [to, count] : {std::pair{lb::CircuitState::Open, c.opened_total},
                                    std::pair{lb::CircuitState::HalfOpen, c.half_opened_total},
                                    std::pair{lb::CircuitState::Closed, c.closed_total}})
      m.sample("fiberlb_circuit_transitions_total",
               {{"lb", lb.config->name}, {"backend", b.config->name}, {"to", lb::toString(to)}},
               count);
  });
  m.family("fiberlb_health_checks_total", "counter", "Active health checks by result.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    const lb::HealthRecord& h = b.state->health;
    const std::string& l = lb.config->name;
    m.sample("fiberlb_health_checks_total",
             {{"lb", l}, {"backend", b.config->name}, {"result", "success"}}, h.checks_passed);
    m.sample("fiberlb_health_checks_total",
             {{"lb", l}, {"backend", b.config->name}, {"result", "failure"}}, h.checks_failed);
  });
}

void writeRegions(Exposition& m, const ClusterView& view) {
  m.family("fiberlb_region_online", "gauge",
           "1 when the region is serving (online or degraded), 0 otherwise.");
  for (const RegionView& r : view.regions)
    m.sample("fiberlb_region_online", {{"region", r.id}}, r.serving() ? 1 : 0);
  m.family("fiberlb_region_status", "gauge",
           "1 for the region's current status (online, degraded, offline, maintenance, "
           "unknown), 0 for the others.");
  for (const RegionView& r : view.regions)
    for (lb::RegionStatus s : kRegionStatuses)
      m.sample("fiberlb_region_status", {{"region", r.id}, {"status", lb::toString(s)}},
               r.status == s ? 1 : 0);
  m.family("fiberlb_active_region", "gauge", "1 for the active region, 0 for the others.");
  for (const RegionView& r : view.regions)
    m.sample("fiberlb_active_region", {{"region", r.id}}, r.active ? 1 : 0);
}

void writeProcess(Exposition& m, const ClusterView& view, const AdminSource& source) {
  const ControlCounters counters = source.controlCounters();
  const WorkerTotals workers = source.workerTotals();
  m.family("fiberlb_failovers_total", "counter",
           "Switches of the active region by origin, destination and trigger.");
  for (const ControlCounters::Failovers& f : counters.failovers)
    m.sample("fiberlb_failovers_total", {{"from", f.from}, {"to", f.to}, {"trigger", f.trigger}},
             f.count);
  m.family("fiberlb_config_reloads_total", "counter", "Configuration reloads by result.");
  m.sample("fiberlb_config_reloads_total", {{"result", "success"}}, counters.reloads_ok);
  m.sample("fiberlb_config_reloads_total", {{"result", "failure"}}, counters.reloads_failed);
  m.family("fiberlb_accepted_connections_total", "counter",
           "Client connections accepted since start, all LBs.");
  m.sample("fiberlb_accepted_connections_total", {}, workers.accepted);
  m.family("fiberlb_config_generation", "gauge",
           "Generation of the published configuration; increments on every applied change.");
  m.sample("fiberlb_config_generation", {}, view.generation);
  m.family("fiberlb_workers", "gauge", "Worker threads.");
  m.sample("fiberlb_workers", {}, workers.workers);
  m.family("fiberlb_build_info", "gauge", "Always 1; the version is in the label.");
  m.sample("fiberlb_build_info", {{"version", kVersion}}, 1);
}

}  // namespace

Response metricsResponse(const AdminSource& source) {
  const ClusterView view = viewOf(source.currentUpdate());
  Exposition m;
  writeRequests(m, view);
  writeDuration(m, view);
  writeLbCounters(m, view);
  writeBackendTraffic(m, view);
  writeBackendState(m, view);
  writeRegions(m, view);
  writeProcess(m, view, source);
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = m.take();
  return r;
}

}  // namespace fiberlb::admin

// GET /metrics: Prometheus text exposition format 0.0.4. Every family is written whole
// (HELP, TYPE, then all its samples) because the format forbids interleaving families.
// Values come from relaxed atomics that workers keep counting while we read: each sample is
// exact on its own, the set is not a single instant — the usual Prometheus contract.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "src/admin/cluster_view.h"
#include "src/admin/handlers.h"
#include "src/version.h"

namespace fiberlb::admin {
namespace {

using Label = std::pair<std::string_view, std::string_view>;

// Label values escape backslash, double quote and line feed (exposition format spec).
void appendLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
}

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  template <typename T>
  void sample(std::string_view name, std::initializer_list<Label> labels, T value) {
    out_.append(name);
    if (labels.size() > 0) {
      out_.push_back('{');
      bool first = true;
      for (const Label& l : labels) {
        if (!first) out_.push_back(',');
        first = false;
        out_.append(l.first).append("=\"");
        appendLabelValue(out_, l.second);
        out_.push_back('"');
      }
      out_.push_back('}');
    }
    out_.append(" ").append(std::to_string(value)).append("\n");
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string_view regionOf(const BackendView& b) {
  return b.config->region.empty() ? std::string_view("default") : b.config->region;
}

// Runs `fn` for every backend of every LB.
void forEachBackend(const ClusterView& view,
                    const std::function<void(const LbView&, const BackendView&)>& fn) {
  for (const LbView& lb : view.lbs)
    for (const BackendView& b : lb.backends)
      fn(lb, b);
}

uint64_t load(const std::atomic<uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}
int64_t load(const std::atomic<int64_t>& a) {
  return a.load(std::memory_order_relaxed);
}

}  // namespace

Response metricsResponse(const AdminSource& source) {
  const ClusterView view = viewOf(*source.currentUpdate());
  const WorkerTotals workers = source.workerTotals();
  Exposition m;

  // SPEC §8 wants a `code` label too; workers do not count by status code yet, so the
  // family is per backend only until they do.
  m.family("fiberlb_requests_total", "counter",
           "Requests sent to a backend (attempts, including retries).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_requests_total",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", regionOf(b)}},
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
  m.family("fiberlb_backend_eligible", "gauge",
           "1 when the backend may receive traffic (SPEC 4: weight > 0, healthy, enabled, "
           "circuit not open).");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_eligible",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", regionOf(b)}},
             b.eligible ? 1 : 0);
  });
  m.family("fiberlb_backend_in_rotation", "gauge",
           "1 when the backend is an endpoint now: eligible and in the LB's routing region.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_in_rotation",
             {{"lb", lb.config->name}, {"backend", b.config->name}, {"region", regionOf(b)}},
             b.in_rotation ? 1 : 0);
  });
  m.family("fiberlb_backend_weight", "gauge", "Configured weight of the backend.");
  forEachBackend(view, [&](const LbView& lb, const BackendView& b) {
    m.sample("fiberlb_backend_weight", {{"lb", lb.config->name}, {"backend", b.config->name}},
             b.config->weight);
  });

  m.family("fiberlb_region_online", "gauge",
           "1 when the region is online or degraded (meets geo.failover_threshold).");
  for (const RegionView& r : view.regions) {
    bool online = r.status == RegionStatus::Online || r.status == RegionStatus::Degraded;
    m.sample("fiberlb_region_online", {{"region", r.id}}, online ? 1 : 0);
  }
  m.family("fiberlb_active_region", "gauge", "1 for the region the first LB routes to.");
  for (const RegionView& r : view.regions)
    m.sample("fiberlb_active_region", {{"region", r.id}}, r.active ? 1 : 0);

  // Workers count these per process, not per LB, so they carry no `lb` label yet.
  m.family("fiberlb_downstream_connections", "gauge", "Open client connections, all LBs.");
  m.sample("fiberlb_downstream_connections", {}, workers.sessions);
  m.family("fiberlb_accepted_connections_total", "counter",
           "Client connections accepted since start, all LBs.");
  m.sample("fiberlb_accepted_connections_total", {}, workers.accepted);
  m.family("fiberlb_retries_total", "counter",
           "Upstream attempts repeated on another backend, all LBs.");
  m.sample("fiberlb_retries_total", {}, workers.retries);

  m.family("fiberlb_config_generation", "gauge",
           "Generation of the published configuration; increments on every applied reload.");
  m.sample("fiberlb_config_generation", {}, view.generation);
  m.family("fiberlb_workers", "gauge", "Worker threads.");
  m.sample("fiberlb_workers", {}, workers.workers);
  m.family("fiberlb_build_info", "gauge", "Always 1; the version is in the label.");
  m.sample("fiberlb_build_info", {{"version", kVersion}}, 1);

  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = m.take();
  return r;
}

}  // namespace fiberlb::admin

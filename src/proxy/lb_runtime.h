#pragma once
// A load balancer as one worker runs it: its picker and its timeout lists.
// Keyed by LB name, it survives reloads of that LB so connections and timeouts carry over.

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "lb/cluster_snapshot.h"
#include "lb/picker.h"
#include "lb/retry_budget.h"
#include "src/net/deadline_list.h"
#include "src/net/tls/tls_context.h"
#include "src/proxy/affinity.h"

namespace fiberlb::proxy {

class Worker;

// Worker-local.
struct LbRuntime {
  Worker* worker = nullptr;
  std::string name;
  // The current snapshot's view of this LB. Replaced on every publish; read it afresh
  // instead of caching pointers into it across callbacks.
  const lb::LbSnapshot* snap = nullptr;
  std::unique_ptr<lb::Picker> picker;
  // Over snap->standby (the region failover would pick next); retries only. May be null.
  std::unique_ptr<lb::Picker> standby_picker;
  // The LB's traffic counters (snap->stats, kept here so it is never null). Sessions take
  // their own reference when they start.
  lb::LbStats::Ptr stats;

  net::DeadlineList head_deadlines;      // client_header_ms
  net::DeadlineList idle_deadlines;      // client_idle_ms
  net::DeadlineList connect_deadlines;   // connect_ms
  net::DeadlineList response_deadlines;  // upstream_response_ms

  lb::RetryBudget retry_budget;  // this worker's share of the LB's retry budget

  // Affinity (src/proxy/affinity.h), set with the picker by configureAffinity().
  bool hash_requests = false;  // method = "hash": picks carry PickContext::hash
  HashKey hash_key;
  config::Persistence persistence = config::Persistence::None;
  std::unique_ptr<lb::Picker> source_ip_picker;  // session_persistence = "source_ip"
  std::string cookie_name;                       // session_persistence = "cookie"
  // Eligible endpoints by persistence id (session_persistence = "cookie").
  std::unordered_map<uint64_t, lb::BackendState*> cookie_backends;
  // tls_termination: where new client connections get their SSL objects. Null: plaintext.
  std::shared_ptr<net::tls::ServerContext> tls;

  std::string authority;  // "vip:port" actually bound: Host for HTTP/1.0 requests without one
  int64_t sessions = 0;   // open client connections
  // Keeps `snap` valid after removal, when newer snapshots no longer contain this LB.
  std::shared_ptr<const lb::ClusterSnapshot> retained;

  const config::LoadBalancer& config() const { return *snap->config; }
};

}  // namespace fiberlb::proxy

#pragma once
// What the control loop publishes to every worker: the routing snapshot plus the few
// socket-level facts that lb/ must not know about (listener sockets, backend addresses).

#include <memory>
#include <string>
#include <vector>

#include "lb/cluster_snapshot.h"
#include "src/net/address.h"
#include "src/net/tls/client_context.h"
#include "src/net/tls/tls_channel.h"
#include "src/net/tls/tls_context.h"

namespace fiberlb::proxy {

struct ListenerSpec {
  std::string key;           // "proto vip:port" as configured: same key = same sockets
  std::vector<int> fds;      // one per worker; worker i adopts fds[i] the first time
  net::SocketAddress bound;  // the real address (ephemeral port resolved)
  // tls_termination: the certificates, read when this config was loaded or reloaded.
  std::shared_ptr<net::tls::ServerContext> tls;
};

// A backend with `tls = true`: how to speak TLS to it. A null context means plain TCP.
struct BackendTls {
  std::shared_ptr<net::tls::ClientContext> context;
  net::tls::TlsChannel::Peer peer;  // SNI and the name its certificate must carry
};

struct WorkerUpdate {
  std::shared_ptr<const lb::ClusterSnapshot> snapshot;
  std::vector<ListenerSpec> listeners;        // parallel to snapshot->lbs
  std::vector<net::SocketAddress> addresses;  // indexed by BackendState::slot()
  std::vector<BackendTls> backend_tls;        // indexed by BackendState::slot()
};

}  // namespace fiberlb::proxy

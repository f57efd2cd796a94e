#pragma once
// One client address of a UDP load balancer (SPEC §6, protocol = "udp"): the backend its
// datagrams stick to and a socket connected to that backend. Datagrams from the client go
// out on that socket; whatever the backend sends back arrives on it (the kernel filters out
// every other source) and is relayed to the client from the LB's listening socket.
//
// A session lives for udp_session_idle_sec after its last datagram in either direction. Its
// backend ("binding") may change meanwhile: the session moves to another backend at its
// next datagram when the backend refused (ICMP port unreachable, seen as ECONNREFUSED on the
// connected socket) or is no longer eligible (removed by a reload, disabled or drained,
// unhealthy, circuit open).

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "lb/backend_state.h"
#include "lb/circuit_breaker.h"
#include "src/net/deadline_list.h"
#include "src/proxy/udp_peer.h"

namespace fiberlb::proxy {

class UdpProxy;
struct SnapshotHold;

// Why a datagram from a client was not relayed (fiberlb_udp_dropped_datagrams_total).
enum class UdpDrop : uint8_t {
  SessionLimit,  // the worker's session table for the LB is full (a new client)
  NoBackend,     // no eligible backend admitted the client
  Overloaded,    // every candidate backend was at circuit_breaker.max_connections
  Error,         // a socket error of ours (no socket for the session, a refused send)
};

// Worker-local. Owned by its UdpProxy's session table; destroying it closes its socket.
class UdpSession {
 public:
  UdpSession(UdpProxy* proxy, const UdpPeer& client, const UdpPeerKey& key);
  ~UdpSession();
  UdpSession(const UdpSession&) = delete;
  UdpSession& operator=(const UdpSession&) = delete;

  // A datagram from the client: relayed to the session's backend, chosen first when the
  // session has none. A datagram nobody could take is counted as dropped.
  void fromClient(const char* data, size_t len);

  bool bound() const { return backend_ != nullptr; }
  const UdpPeerKey& key() const { return key_; }

  // udp_session_idle_sec after the last datagram either way (owner: this session).
  net::Deadline idle;

 private:
  static constexpr int kMaxTried = 8;
  // Datagrams sent on a binding that has not answered yet are kept, up to this many bytes
  // and for this long, so that a refusal can replay them on another backend: the backend
  // never saw them (ICMP port unreachable means no socket took them).
  static constexpr size_t kMaxReplayBytes = 2048;
  static constexpr uint64_t kReplayWindowMs = 1000;

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                     unsigned flags);

  // Binding.
  bool bind(UdpDrop* why);
  bool open(lb::BackendState* backend, lb::Admission admission, UdpDrop* why);
  void unbind();
  void remember(const lb::BackendState* backend);
  void backendFailed(int status);
  bool mayRetry(int status);
  // Relay.
  int sendToBackend(const char* data, size_t len);
  void fromBackend(const char* data, size_t len);
  void touch();
  // Replay after a refusal.
  void keepForReplay(const char* data, size_t len);
  void replay();
  void dropReplay();

  UdpProxy* proxy_;
  const UdpPeer client_;
  const UdpPeerKey key_;
  uint64_t touched_at_ = 0;

  SnapshotHold* hold_ = nullptr;         // keeps the snapshot backend_ came from alive
  lb::BackendState* backend_ = nullptr;  // counted in active_requests while set
  uint32_t slot_ = 0;                    // backend_->slot()
  lb::Admission admission_ = lb::Admission::Normal;
  uv_udp_t* socket_ = nullptr;  // connected to backend_; closes (and frees itself) on its own
  uint64_t bound_at_ = 0;
  bool verdict_ = false;  // the breaker heard how this binding went
  bool replied_ = false;  // the backend answered on this binding

  // Backends that failed this client since its last answer: the next pick avoids them.
  const lb::BackendState* tried_[kMaxTried] = {};
  int tried_count_ = 0;
  int failures_ = 0;  // consecutive failed bindings (retries.max bounds the replays)

  std::string replay_;  // [2-byte length][bytes]... sent on this binding, not yet answered
  bool replay_closed_ = false;
};

}  // namespace fiberlb::proxy

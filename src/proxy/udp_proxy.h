#pragma once
// A UDP load balancer (SPEC §6, protocol = "udp") as one worker serves it: the worker's own
// SO_REUSEPORT socket of the LB and a table of sessions keyed by client address.
//
// The kernel spreads datagrams over the workers' sockets by a hash of the 4-tuple, so every
// datagram of one client address reaches the same worker: the table is worker-local and
// needs no lock. A new client address gets a backend from the LB's picker and a socket
// connected to it (UdpSession); the session expires udp_session_idle_sec after its last
// datagram either way, from a deadline list the worker's 50 ms sweep walks from its head.
//
// Bounds: at most kMaxSessions sessions per worker and LB (each holds a socket, so a
// flood of spoofed source addresses costs at most that many descriptors); a new client
// beyond it has its datagrams dropped and counted until sessions expire. Every session also
// counts in its backend's active_requests, so circuit_breaker.max_connections bounds the
// sessions per backend across workers, as it bounds TCP connections.

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lb/lb_stats.h"
#include "src/net/deadline_list.h"
#include "src/proxy/udp_peer.h"
#include "src/proxy/udp_session.h"

namespace fiberlb::proxy {

class Worker;
struct LbRuntime;
struct ListenerSpec;

// Worker-local. Owns itself once open: close() frees it when libuv has released the socket.
class UdpProxy {
 public:
  static constexpr size_t kMaxSessions = 65536;
  // Bytes kept for replays (UdpSession), over all sessions of this worker and LB.
  static constexpr size_t kReplayBudget = 4 << 20;
  static constexpr uint64_t kWarnIntervalMs = 10000;

  // Adopts this worker's socket of `spec` and starts receiving; null (logged) on failure.
  static UdpProxy* open(Worker* worker, const ListenerSpec& spec, const std::string& lb_name);
  // On every publish, before any datagram is handled with it: the LB this socket serves now
  // (the same socket may pass to a renamed LB) and the backends sessions may stay on.
  void update(LbRuntime* lb);
  // Ends the sessions idle for udp_session_idle_sec at `now_ms`. The worker's sweep.
  void sweep(uint64_t now_ms);
  // Closes the socket and every session (nothing is in flight in UDP). Frees this object.
  void close();

  // For the sessions.
  Worker* worker() const { return worker_; }
  LbRuntime& lb() const { return *lb_; }
  lb::LbStatsShard& shard() const { return *shard_; }
  net::DeadlineList& idleDeadlines() { return idle_; }
  // Whether a session may stay on the backend with this slot: still eligible in the LB.
  bool serving(uint32_t slot) const { return slot < serving_.size() && serving_[slot] != 0; }
  void drop(UdpDrop why);
  // Logs why datagrams are being dropped at warn level, at most every kWarnIntervalMs.
  void warnDropping(const char* why, int status);
  void sendToClient(const UdpPeer& client, const char* data, size_t len);
  bool reserveReplay(size_t bytes);
  void releaseReplay(size_t bytes) { replay_bytes_ -= bytes; }

 private:
  explicit UdpProxy(Worker* worker);
  ~UdpProxy() = default;

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                     unsigned flags);
  void fromClient(const sockaddr* addr, const char* data, size_t len);
  void setStats(const lb::LbStats::Ptr& stats);

  Worker* worker_;
  LbRuntime* lb_ = nullptr;
  lb::LbStats::Ptr stats_;
  lb::LbStatsShard* shard_ = nullptr;
  uv_udp_t socket_{};
  net::DeadlineList idle_;
  std::vector<uint8_t> serving_;  // by BackendState::slot(): eligible backends of the LB
  std::unordered_map<UdpPeerKey, std::unique_ptr<UdpSession>, UdpPeerHash> sessions_;
  size_t replay_bytes_ = 0;
  uint64_t warned_at_ms_ = 0;
  bool warned_ = false;
};

}  // namespace fiberlb::proxy

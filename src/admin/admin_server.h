#pragma once
// The admin HTTP server (SPEC §8) on the control loop: one listening socket on
// standalone.server.admin_api_addr, keep-alive connections parsed with llhttp, requests
// routed to the handlers of handlers.h. Everything here runs on the control thread and
// never blocks it: handlers read the published snapshot and atomics, and ask AdminActions
// for changes (which the control loop applies before returning).

#include <uv.h>

#include <array>
#include <string>
#include <unordered_set>

#include "src/admin/admin_source.h"
#include "src/admin/router.h"
#include "src/net/address.h"

namespace fiberlb::admin {

class AdminConnection;

class AdminServer {
 public:
  // Registers the SPEC §8 routes (and the admin token check) over `source` and `actions`,
  // which must outlive the server.
  AdminServer(uv_loop_t* loop, const AdminSource& source, AdminActions& actions);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `addr` ("host:port", "[v6]:port"; port 0 picks a free port) and starts accepting.
  // On failure returns false with an operator-facing `error` that names the address, and
  // leaves nothing open. Logs "admin API listening addr=IP:PORT" on success.
  // Control loop only; call once.
  bool start(const std::string& addr, std::string* error);
  // The address actually bound (valid after a successful start()).
  const net::SocketAddress& bound() const { return bound_; }
  // Stops accepting and closes every connection; the loop can end once their close
  // callbacks ran. Idempotent. Control loop only.
  void close();

  // For routes added after construction (later SPEC §8 endpoints). Control loop only.
  Router& router() { return router_; }

  // For AdminConnection. Control loop only.
  uv_loop_t* loop() const { return loop_; }
  Response handle(Request& request) const { return router_.dispatch(request); }
  // One read buffer for every connection: libuv calls alloc and read back to back for one
  // stream on this single thread, and the bytes are parsed before the callback returns.
  uv_buf_t readBuffer() { return uv_buf_init(read_buffer_.data(), read_buffer_.size()); }
  void forget(AdminConnection* connection) { connections_.erase(connection); }

 private:
  // Enough for a few dashboards and scrapers; beyond it new connections are closed at once
  // so that a misbehaving client cannot exhaust the process's file descriptors.
  static constexpr size_t kMaxConnections = 256;
  static constexpr uint64_t kSweepIntervalMs = 1000;

  static void onAccept(uv_stream_t* listener, int status);
  static void onSweep(uv_timer_t* timer);

  uv_loop_t* loop_;
  Router router_;
  uv_tcp_t listener_{};
  uv_timer_t sweep_timer_{};
  bool open_ = false;
  net::SocketAddress bound_;
  std::unordered_set<AdminConnection*> connections_;
  std::array<char, size_t{64} * 1024> read_buffer_{};
};

}  // namespace fiberlb::admin

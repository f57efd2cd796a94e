#pragma once
// What a worker needs from any client connection it accepted, whatever its protocol
// (HttpSession for L7, TcpSession for L4): timeouts, drain on shutdown or LB removal, and
// resuming TLS input that had to wait for room (BufferedInput).

#include <uv.h>

#include <cstddef>

#include "src/proxy/buffered_input.h"

namespace fiberlb::proxy {

struct LbRuntime;

// Worker-local. Owns itself: freed when its socket has closed.
class ClientSession : public BufferedInput {
 public:
  enum class TimeoutKind { Head, Idle, Connect, Response };

  explicit ClientSession(LbRuntime* lb) : lb_(lb) {}
  virtual ~ClientSession() = default;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  virtual void onTimeout(TimeoutKind kind) = 0;
  // Graceful shutdown / LB removal: close as soon as that loses nothing.
  virtual void drain() = 0;
  LbRuntime* lb() const { return lb_; }

  // Intrusive list of the worker's sessions (for drain).
  ClientSession* prev = nullptr;
  ClientSession* next = nullptr;

 protected:
  // The start every accept() shares: takes the pending connection of `server` into `tcp`
  // (initialised here on `loop`), sets TCP_NODELAY and writes the peer's IP into `ip`. False
  // when accepting failed: the caller then closes `tcp`.
  static bool acceptOn(uv_loop_t* loop, uv_stream_t* server, uv_tcp_t* tcp, char* ip,
                       size_t ip_size);

  LbRuntime* lb_;
};

}  // namespace fiberlb::proxy

#pragma once
// One TCP connection to a backend: connecting, carrying one exchange at a time, or idle in
// the worker's pool. HTTP logic lives in the owner (HttpSession); this is only transport.
// For a backend with `tls = true` it is TLS transport: the owner writes and reads plaintext,
// and "connected" means the handshake succeeded (a failed handshake is a failed connect).

#include <uv.h>

#include <memory>

#include "lb/backend_state.h"
#include "src/net/address.h"
#include "src/net/read_buffer.h"
#include "src/net/stream_writer.h"
#include "src/net/tls/tls_channel.h"
#include "src/proxy/buffered_input.h"

namespace fiberlb::proxy {

class UpstreamConn;
class Worker;

// What a bound upstream reports to the exchange that uses it. Worker-local.
class UpstreamOwner {
 public:
  virtual ~UpstreamOwner() = default;
  virtual void onUpstreamConnected(UpstreamConn* up, int status) = 0;
  // New bytes are in up->in (from in.parse_pos to in.used).
  virtual void onUpstreamData(UpstreamConn* up) = 0;
  // EOF (status = UV_EOF) or a read error.
  virtual void onUpstreamClosed(UpstreamConn* up, int status) = 0;
  // The writer's queue drained (status 0) or a write failed.
  virtual void onUpstreamDrained(UpstreamConn* up, int status) = 0;
};

// Worker-local.
class UpstreamConn final : public BufferedInput {
 public:
  // Starts a non-blocking connect; the outcome arrives in owner->onUpstreamConnected. If
  // the connect cannot even start, returns nullptr with the libuv error in *status.
  static UpstreamConn* connect(Worker* worker, lb::BackendState* backend,
                               const net::SocketAddress& addr, UpstreamOwner* owner, int* status);

  void bind(UpstreamOwner* owner) { owner_ = owner; }
  // Detached from its exchange, ready for the pool. Keeps reading to notice a close.
  void unbind() { owner_ = nullptr; }
  void startReading();
  void stopReading();
  // Sends FIN once everything queued is written (tunnels relay half-closes).
  void shutdownWrite();
  // Closes the socket; the object frees itself once libuv is done with it.
  void close();

  lb::BackendState* backend() const { return backend_; }
  bool connected() const { return connected_; }
  bool idle() const { return owner_ == nullptr; }
  // Served at least one exchange before: a failure may be a stale keep-alive race.
  bool reused() const { return exchanges_ > 1; }
  void countExchange() { ++exchanges_; }
  void resumeBufferedInput() override;

  net::StreamWriter writer;
  net::ReadBuffer in;
  // Intrusive links for the worker's idle pool.
  UpstreamConn* pool_prev = nullptr;
  UpstreamConn* pool_next = nullptr;

 private:
  UpstreamConn(Worker* worker, lb::BackendState* backend, UpstreamOwner* owner);
  ~UpstreamConn() = default;

  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onDrained(void* self, int status);
  static void onClose(uv_handle_t* handle);
  // TLS (upstream_conn_tls.cc).
  void onCiphertext(const char* data, size_t len);
  void onCiphertextEnd(int status);
  void pumpTls();
  void handshakeDone();
  void tlsFailed(int status);
  void deliverEnd(int status);

  Worker* worker_;
  lb::BackendState* backend_;
  UpstreamOwner* owner_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  std::unique_ptr<net::tls::TlsChannel> tls_;  // null: plain TCP
  bool socket_connected_ = false;              // TCP is up
  bool connected_ = false;                     // usable: TCP up and, with TLS, the handshake done
  bool tls_eof_pending_ = false;  // the backend ended while decrypted input still waits
  bool reading_ = false;
  bool closing_ = false;
  uint32_t exchanges_ = 0;
};

}  // namespace fiberlb::proxy

#pragma once
// One client connection of a TCP (L4) load balancer (SPEC §6): relayed bytewise to one
// backend picked by the LB's method, with back-pressure both ways and half-closes passed on.
// A connect that fails is retried on another backend (retries.on / retries.max) before any
// byte is relayed. With tls_termination the client side is TLS, ended here, and the backend
// side plain TCP; the backend is connected once the handshake has succeeded.

#include <uv.h>

#include <memory>
#include <string>

#include "lb/circuit_breaker.h"
#include "lb/lb_stats.h"
#include "src/net/deadline_list.h"
#include "src/net/read_buffer.h"
#include "src/net/stream_writer.h"
#include "src/net/tls/tls_channel.h"
#include "src/proxy/client_session.h"
#include "src/proxy/upstream_conn.h"

namespace fiberlb::proxy {

struct SnapshotHold;
class Worker;

// Worker-local. Owns itself: freed when its socket has closed.
class TcpSession final : public ClientSession, public UpstreamOwner {
 public:
  // Accepts a pending connection from `server`. Returns null if accept failed.
  static TcpSession* accept(Worker* worker, LbRuntime* lb, uv_stream_t* server);

  void onTimeout(TimeoutKind kind) override;
  // A relayed byte stream has no safe point to stop at: a connection still being set up
  // closes, one relaying runs on (bounded by shutdown_grace_sec and client_idle_ms).
  void drain() override;
  void resumeBufferedInput() override;

  // UpstreamOwner
  void onUpstreamConnected(UpstreamConn* up, int status) override;
  void onUpstreamData(UpstreamConn* up) override;
  void onUpstreamClosed(UpstreamConn* up, int status) override;
  void onUpstreamDrained(UpstreamConn* up, int status) override;

 private:
  TcpSession(Worker* worker, LbRuntime* lb);
  ~TcpSession() override = default;

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onClientDrained(void* self, int status);
  static void onClose(uv_handle_t* handle);

  // Backend side.
  void connectBackend();
  bool startConnect(lb::BackendState* backend);
  void connectFailed(int status);
  bool mayRetryConnect(int status);
  void endBackend();
  // Relay.
  void relayToBackend(const char* data, size_t len);
  void clientFinished();
  void maybeFinish();
  void startReadingClient();
  void stopReadingClient();
  void touch();
  // TLS (client side).
  void onCiphertext(const char* data, size_t len);
  void pumpTls();
  void handshakeEnded(bool ok);
  void close();

  Worker* worker_;
  lb::LbStats::Ptr stats_;
  lb::LbStatsShard* shard_;
  SnapshotHold* hold_ = nullptr;  // keeps the snapshot backend_ came from alive
  uv_tcp_t tcp_{};
  net::ReadBuffer in_;      // plaintext from the client, only while it is being relayed
  net::StreamWriter out_;   // to the client (encrypting with TLS)
  net::Deadline deadline_;  // the handshake (client_header_ms), then idle (client_idle_ms)
  net::Deadline connect_deadline_;
  std::unique_ptr<net::tls::TlsChannel> tls_;

  UpstreamConn* upstream_ = nullptr;
  lb::BackendState* backend_ = nullptr;  // counted in active_requests while set
  lb::Admission admission_ = lb::Admission::Normal;
  std::string unsent_;  // client bytes a failed connect never sent, for the next attempt
  static constexpr int kMaxTried = 8;
  const lb::BackendState* tried_[kMaxTried] = {};
  int tried_count_ = 0;
  int attempts_ = 0;
  uint64_t client_hash_ = 0;      // of client_ip_, for method = "hash" and source_ip persistence
  bool connect_pending_ = false;  // counted in LbStats::pending_connects
  bool connected_ = false;        // the backend accepted: relaying
  bool reading_client_ = false;
  bool client_eof_ = false;    // the client sent FIN (or close_notify)
  bool upstream_eof_ = false;  // the backend sent FIN
  bool closing_ = false;
  bool tls_input_seen_ = false;
  bool handshake_counted_ = false;
  bool tls_eof_pending_ = false;  // the socket ended while decrypted input still waits
  char client_ip_[46] = {};
};

}  // namespace fiberlb::proxy

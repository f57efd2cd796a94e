#pragma once
// One client connection of an HTTP load balancer: parses requests, routes each to a
// backend, streams bodies both ways with back-pressure, relays upgrades, retries failed
// attempts and produces fiberlb's own error responses.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lb/lb_stats.h"
#include "src/http/forward_head.h"
#include "src/http/parser.h"
#include "src/net/deadline_list.h"
#include "src/net/read_buffer.h"
#include "src/net/stream_writer.h"
#include "src/net/tls/tls_channel.h"
#include "src/proxy/affinity.h"
#include "src/proxy/client_session.h"
#include "src/proxy/upstream_conn.h"

namespace fiberlb::http {
enum class ProxyError;
}

namespace fiberlb::proxy {

struct LbRuntime;
struct SnapshotHold;
class Worker;

// Worker-local. Owns itself: freed when its socket has closed.
class HttpSession final : public ClientSession, public UpstreamOwner {
 public:
  // Accepts a pending connection from `server`. Returns null if accept failed.
  static HttpSession* accept(Worker* worker, LbRuntime* lb, uv_stream_t* server);

  void onTimeout(TimeoutKind kind) override;
  // Graceful shutdown / LB removal: close now if idle, else after the current response.
  void drain() override;
  void resumeBufferedInput() override;

  // UpstreamOwner
  void onUpstreamConnected(UpstreamConn* up, int status) override;
  void onUpstreamData(UpstreamConn* up) override;
  void onUpstreamClosed(UpstreamConn* up, int status) override;
  void onUpstreamDrained(UpstreamConn* up, int status) override;

 private:
  // Adapters: llhttp reports request and response events through these.
  struct RequestSink final : http::MessageSink {
    HttpSession* s;
    explicit RequestSink(HttpSession* session) : s(session) {}
    bool onHeadersComplete(http::MessageHead& head) override { return s->onRequestHead(head); }
    void onBody(const char* data, size_t len) override { s->onRequestBody(data, len); }
    void onMessageComplete() override { s->onRequestComplete(); }
  };
  struct ResponseSink final : http::MessageSink {
    HttpSession* s;
    explicit ResponseSink(HttpSession* session) : s(session) {}
    bool onHeadersComplete(http::MessageHead& head) override { return s->onResponseHead(head); }
    void onBody(const char* data, size_t len) override { s->onResponseBody(data, len); }
    void onMessageComplete() override { s->onResponseComplete(); }
  };
  enum class Failure { ConnectFailed, ResetBeforeResponse };

  HttpSession(Worker* worker, LbRuntime* lb);
  ~HttpSession() override = default;

  // Client side (http_session.cc).
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onClientDrained(void* self, int status);
  static void onClose(uv_handle_t* handle);
  void handleClientData();
  void handleClientEof(int status);
  void parseRequests();
  bool handleParseStatus(http::ParseStatus status);
  void failRequest(http::ProxyError error);
  void closeAfterWrites();
  void closeOrLinger();
  bool onRequestHead(http::MessageHead& head);
  void onRequestBody(const char* data, size_t len);
  void onRequestComplete();
  void sendError(http::ProxyError error, bool close);
  void finishExchange();
  void startReadingClient();
  void stopReadingClient();
  void armClientDeadline(TimeoutKind kind);
  void close();
  // TLS to the client (http_session_tls.cc): ciphertext in, plaintext into in_.
  void onCiphertext(const char* data, size_t len);
  void onCiphertextEof(int status);
  void pumpTls();
  void tlsFailed();
  void countHandshake(bool ok);
  // Metrics (SPEC §8).
  void countRequestStart();
  void countResponseEnd();

  // Upstream side (http_session_upstream.cc).
  enum class ConnectResult { Started, Failed, Overloaded };
  void startAttempt();
  lb::BackendState* pickBackend(bool use_standby);
  void readAffinity(const http::MessageHead& head);
  bool reserveSlot(lb::BackendState* backend);
  void remember(const lb::BackendState* backend);
  void countBackendResponse(int status);
  ConnectResult connectTo(lb::BackendState* backend);
  void endPendingConnect();
  void failAttempt(Failure failure);
  bool canRetry(Failure failure);
  bool canRetry5xx();
  bool hasAnotherBackend() const;
  void retryAfter5xx();
  // The circuit breaker's view of the current attempt (SPEC §4): every admitted attempt ends
  // in one verdict, or gives its admission back in endBackendRequest().
  void backendFailed(lb::FailureInfo why);
  void backendSucceeded();
  void releaseUpstream(bool reusable);
  void parseResponse();
  void completeResponse();
  bool onResponseHead(http::MessageHead& head);
  void onResponseBody(const char* data, size_t len);
  void onResponseComplete();
  void startTunnel();
  void relayTunnel(UpstreamConn* up);
  void endBackendRequest();
  void touchUpstream();
  void upstreamWriteFailed();

  Worker* worker_;
  // The LB's long-lived counters, held for the session's life (a reload may swap the
  // snapshot, never the object of a surviving LB), and this worker's shard of them.
  lb::LbStats::Ptr stats_;
  lb::LbStatsShard* shard_;
  SnapshotHold* hold_ = nullptr;  // keeps the snapshot the exchange routes with alive
  uv_tcp_t tcp_{};
  net::ReadBuffer in_;
  net::StreamWriter out_;
  RequestSink request_sink_{this};
  ResponseSink response_sink_{this};
  http::Parser request_parser_{HTTP_REQUEST, &request_sink_};
  http::Parser response_parser_{HTTP_RESPONSE, &response_sink_};
  net::Deadline client_deadline_;              // head or idle
  net::Deadline upstream_deadline_;            // connect or response
  std::unique_ptr<net::tls::TlsChannel> tls_;  // null: plaintext listener

  // The exchange in progress.
  UpstreamConn* upstream_ = nullptr;
  lb::BackendState* backend_ = nullptr;  // counted in active_requests while set
  std::string request_head_;             // forwarded head, kept for retries
  std::string response_head_;            // rewritten response head (capacity reused)
  std::string unsent_;                   // bytes of a failed connect, moved to the next attempt
  // Affinity of the request (src/proxy/affinity.h).
  uint64_t request_hash_ = 0;            // method = "hash"
  uint64_t client_hash_ = 0;             // of client_ip_: session_persistence = "source_ip"
  lb::BackendState* sticky_ = nullptr;   // the eligible backend its persistence cookie names
  uint64_t cookie_id_ = 0;               // the persistence id the client sent (0: none)
  char set_cookie_[kSetCookieMax] = {};  // a Set-Cookie value being sent
  static constexpr int kMaxTried = 8;
  const lb::BackendState* tried_[kMaxTried] = {};
  int tried_count_ = 0;
  int attempts_ = 0;
  lb::Admission admission_ = lb::Admission::Normal;  // how backend_'s circuit let us in
  http::BodyFraming request_framing_ = http::BodyFraming::None;
  http::BodyFraming response_framing_ = http::BodyFraming::None;
  static constexpr size_t kMaxLingerBytes = size_t{64} << 20;
  size_t lingered_bytes_ = 0;
  http::ProxyError pending_error_code_{};
  TimeoutKind client_deadline_kind_ = TimeoutKind::Head;
  int last_connect_status_ = 0;
  // uv_hrtime() at the first byte of the request being answered; 0 = none (already counted).
  uint64_t request_start_ns_ = 0;
  bool parsing_ = false;        // inside parseRequests(): no re-entry, defer errors
  bool pending_error_ = false;  // failRequest() during llhttp: answer after the request
  bool lingering_ = false;      // FIN sent, draining what the client still sends
  bool in_exchange_ = false;
  bool request_is_head_ = false;
  bool response_complete_ = false;
  bool upstream_keep_alive_ = false;
  bool request_complete_ = false;
  bool request_idempotent_ = false;
  bool retrying_ = false;           // the next attempt repeats a failed one on another backend
  bool verdict_ = false;            // backend_'s circuit has this attempt's result
  bool connect_pending_ = false;    // counted in LbStats::pending_connects
  bool overloaded_ = false;         // a backend was passed over for max_connections
  bool retry_5xx_ = false;          // the response head was a 5xx worth another backend
  bool interim_forwarded_ = false;  // a 1xx reached the client: no more retries
  bool response_started_ = false;   // this exchange's response reached the client writer
  bool response_bytes_ = false;     // the backend sent any response byte
  bool client_keep_alive_ = true;
  bool client_http10_ = false;
  bool close_after_response_ = false;
  bool upgrade_requested_ = false;
  bool tunnel_ = false;
  bool upstream_eof_ = false;  // tunnel: the backend half-closed
  bool client_eof_ = false;
  bool reading_client_ = false;
  bool closing_ = false;
  bool close_when_drained_ = false;
  bool tls_input_seen_ = false;     // the client sent handshake bytes
  bool handshake_counted_ = false;  // in fiberlb_tls_handshakes_total
  bool tls_eof_pending_ = false;    // the socket ended while decrypted input still waits

  char client_ip_[46] = {};
  char request_id_[40] = {};
};

}  // namespace fiberlb::proxy

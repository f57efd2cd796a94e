// HttpSession, client side: accepting, reading and parsing requests, answering errors,
// keep-alive and pipelining, closing. The upstream side is in http_session_upstream.cc.

#include "src/proxy/http_session.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "lb/hash_key.h"
#include "src/http/error_response.h"
#include "src/proxy/lb_runtime.h"
#include "src/proxy/worker.h"
#include "src/util/log.h"

namespace fiberlb::proxy {
namespace {

// Bytes of our response the client has not acknowledged yet. Closing now would turn any
// late byte from the client into a reset that destroys them, so we linger instead. On a
// healthy connection with a small response this is 0 and we close at once.
bool kernelStillSending(uv_tcp_t* tcp) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) != 0) return false;
  int unsent = 0;
  return ioctl(fd, SIOCOUTQ, &unsent) == 0 && unsent > 0;
}

}  // namespace

HttpSession::HttpSession(Worker* worker, LbRuntime* lb)
    : ClientSession(lb),
      worker_(worker),
      stats_(lb->stats),
      shard_(&stats_->shard(worker->index())),
      out_(this, &HttpSession::onClientDrained) {
  tcp_.data = this;
  // The worker's sweep sees deadlines as ClientSessions.
  client_deadline_.owner = static_cast<ClientSession*>(this);
  upstream_deadline_.owner = static_cast<ClientSession*>(this);
  if (lb->tls != nullptr) {
    tls_ = std::make_unique<net::tls::TlsChannel>(lb->tls->defaultContext());
    out_.setTls(tls_.get());
  }
}

HttpSession* HttpSession::accept(Worker* worker, LbRuntime* lb, uv_stream_t* server) {
  auto* s = new HttpSession(worker, lb);
  if (!acceptOn(worker->loop(), server, &s->tcp_, s->client_ip_, sizeof s->client_ip_)) {
    uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp_), &HttpSession::onClose);
    return nullptr;
  }
  s->out_.attach(reinterpret_cast<uv_stream_t*>(&s->tcp_));
  // Always (a few ns): a reload may turn source_ip persistence on for this connection.
  s->client_hash_ = lb::hashKey(s->client_ip_);
  s->shard_->downstream_connections.fetch_add(1, std::memory_order_relaxed);
  ++lb->sessions;
  worker->sessionOpened(s);
  // The first request head must arrive within client_header_ms of the accept.
  s->armClientDeadline(TimeoutKind::Head);
  s->startReadingClient();
  return s;
}

void HttpSession::startReadingClient() {
  if (closing_) return;
  // Decrypted input that stopped for lack of room will not be announced by the socket.
  if (tls_ != nullptr && (tls_eof_pending_ || tls_->hasBufferedInput())) worker_->resumeLater(this);
  if (reading_client_ || client_eof_) return;
  reading_client_ = true;
  if (tls_eof_pending_) return;  // the socket has nothing more to give
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &HttpSession::onAlloc, &HttpSession::onRead);
}

void HttpSession::stopReadingClient() {
  if (!reading_client_ || closing_) return;
  reading_client_ = false;
  if (!tls_eof_pending_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void HttpSession::armClientDeadline(TimeoutKind kind) {
  net::DeadlineList& list = kind == TimeoutKind::Head ? lb_->head_deadlines : lb_->idle_deadlines;
  list.arm(&client_deadline_, uv_now(worker_->loop()));
  client_deadline_kind_ = kind;
}

void HttpSession::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<HttpSession*>(handle->data);
  if (self->tls_ != nullptr) {
    *buf = self->worker_->cipherBuffer();
    return;
  }
  self->in_.offer(self->worker_->buffers(), buf);
}

void HttpSession::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<HttpSession*>(stream->data);
  if (self->tls_ != nullptr) {
    if (nread > 0) {
      self->onCiphertext(buf->base, static_cast<size_t>(nread));
    } else if (nread < 0) {
      self->onCiphertextEof(static_cast<int>(nread));
    }
    return;
  }
  if (nread > 0) {
    self->in_.used += static_cast<size_t>(nread);
    self->handleClientData();
  } else if (nread < 0) {
    self->handleClientEof(static_cast<int>(nread));
  } else {
    self->in_.releaseIfEmpty(self->worker_->buffers());
  }
}

void HttpSession::handleClientData() {
  if (close_when_drained_) {
    // Answered and closing: whatever the client still sends is read and dropped, so that
    // closing does not reset the connection under our last response (lingering close).
    lingered_bytes_ += in_.unparsed();
    in_.parse_pos = in_.used;
    in_.releaseIfEmpty(worker_->buffers());
    if (lingered_bytes_ > kMaxLingerBytes) close();
    return;
  }
  if (tunnel_) {
    armClientDeadline(TimeoutKind::Idle);
    if (upstream_ != nullptr) {
      upstream_->writer.add(in_.data + in_.parse_pos, in_.unparsed());
      in_.parse_pos = in_.used;
      if (!upstream_->writer.flush()) {
        close();
        return;
      }
      if (upstream_->writer.congested()) stopReadingClient();
    }
    in_.releaseIfEmpty(worker_->buffers());
    return;
  }
  if (in_exchange_ && request_complete_) {
    // Pipelined bytes while a response is pending: keep them for later, in order.
    if (in_.full()) stopReadingClient();
    return;
  }
  parseRequests();
}

void HttpSession::handleClientEof(int status) {
  client_eof_ = true;
  reading_client_ = false;
  if (status != UV_EOF || close_when_drained_) {
    close();  // a reset, or the lingering close is over
    return;
  }
  if (tunnel_) {
    // Half-close: pass it on; the backend may still have bytes for the client.
    if (upstream_ != nullptr && !upstream_eof_) {
      upstream_->shutdownWrite();
    } else {
      closeAfterWrites();
    }
    return;
  }
  if (in_exchange_ && request_complete_) {
    // The client has said all it will say; finish this response, then close.
    close_after_response_ = true;
    return;
  }
  close();
}

void HttpSession::parseRequests() {
  parsing_ = true;
  while (!closing_ && !close_when_drained_ && in_.unparsed() > 0 &&
         !(in_exchange_ && request_complete_)) {
    if (!request_parser_.inMessage()) {
      in_.compact();  // between messages no head spans are alive
      // The head timeout runs from the first byte of a request (from the accept for the
      // first one: it is already armed then).
      if (!in_exchange_ && client_deadline_kind_ != TimeoutKind::Head)
        armClientDeadline(TimeoutKind::Head);
      countRequestStart();
    }
    http::ParseStatus status =
        request_parser_.execute(in_.data, in_.data + in_.parse_pos, in_.unparsed());
    in_.parse_pos += request_parser_.consumed();
    in_.pinned = request_parser_.inHead();
    if (upstream_ != nullptr && !upstream_->writer.flush()) upstreamWriteFailed();
    if (closing_ || close_when_drained_) break;
    if (pending_error_ && request_complete_) {
      // A routing failure decided while llhttp was running is answered now, outside it.
      pending_error_ = false;
      sendError(pending_error_code_, false);
      continue;
    }
    if (!handleParseStatus(status)) break;
  }
  parsing_ = false;
  if (closing_ || close_when_drained_) return;
  if (request_parser_.inHead()) {
    if (in_.full()) sendError(http::ProxyError::HeadersTooLarge, true);
    return;  // keep the partial head where it is
  }
  in_.releaseIfEmpty(worker_->buffers());
  if (upstream_ != nullptr && upstream_->writer.congested()) stopReadingClient();
}

// False when parsing must stop for now.
bool HttpSession::handleParseStatus(http::ParseStatus status) {
  switch (status) {
    case http::ParseStatus::Ok:
    case http::ParseStatus::Paused:
      return true;
    case http::ParseStatus::Upgrade:
      // Bytes after the head belong to the tunnel; they stay in in_ until the 101.
      upgrade_requested_ = true;
      return false;
    case http::ParseStatus::Aborted:
      return false;  // the exchange already answered or closed
    case http::ParseStatus::HeadTooLarge:
      sendError(http::ProxyError::HeadersTooLarge, true);
      return false;
    case http::ParseStatus::BadMessage:
      FLB_LOG(Debug, "lb=%s client=%s rejected request: %s", lb_->name.c_str(), client_ip_,
              request_parser_.errorReason());
      sendError(http::ProxyError::BadRequest, true);
      return false;
  }
  return false;
}

bool HttpSession::onRequestHead(http::MessageHead& head) {
  client_deadline_.disarm();
  if (head.method == HTTP_CONNECT) {
    sendError(http::ProxyError::BadRequest, true);  // we are not a forward proxy
    return false;
  }
  in_exchange_ = true;
  request_complete_ = false;
  response_started_ = response_bytes_ = false;
  pending_error_ = false;
  tried_count_ = attempts_ = 0;
  retrying_ = overloaded_ = retry_5xx_ = interim_forwarded_ = false;
  lb_->retry_budget.onRequest();
  client_http10_ = head.http_major == 1 && head.http_minor == 0;
  client_keep_alive_ = request_parser_.keepAlive();
  request_idempotent_ = head.method == HTTP_GET || head.method == HTTP_HEAD ||
                        head.method == HTTP_OPTIONS || head.method == HTTP_PUT ||
                        head.method == HTTP_DELETE || head.method == HTTP_TRACE;
  request_is_head_ = head.method == HTTP_HEAD;

  http::RequestRewrite rw;
  rw.client_ip = client_ip_;
  if (tls_ != nullptr) rw.proto = "https";
  rw.default_host = lb_->authority;
  if (head.find(http::HeaderKind::XRequestId) < 0)
    rw.request_id = std::string_view(request_id_, worker_->nextRequestId(request_id_));
  if (request_parser_.chunked()) {
    request_framing_ = http::BodyFraming::Chunked;
  } else if (request_parser_.hasContentLength()) {
    request_framing_ = http::BodyFraming::ContentLength;
    rw.content_length = request_parser_.contentLength();
  } else {
    request_framing_ = http::BodyFraming::None;
  }
  rw.framing = request_framing_;
  rw.upgrade = request_parser_.upgrade();
  http::writeUpstreamRequest(head, rw, &request_head_);
  readAffinity(head);
  startAttempt();
  return !closing_;
}

void HttpSession::onRequestBody(const char* data, size_t len) {
  if (upstream_ == nullptr) return;  // the exchange failed; the body is discarded
  net::StreamWriter& w = upstream_->writer;
  if (request_framing_ == http::BodyFraming::Chunked) {
    char header[24];
    w.addCopy(header, http::formatChunkHeader(len, header));
    w.add(data, len);
    w.add(http::kChunkEnd.data(), http::kChunkEnd.size());
  } else {
    w.add(data, len);
  }
  touchUpstream();
}

void HttpSession::onRequestComplete() {
  request_complete_ = true;
  if (upstream_ == nullptr) return;
  if (request_framing_ == http::BodyFraming::Chunked)
    upstream_->writer.add(http::kLastChunk.data(), http::kLastChunk.size());
  touchUpstream();  // upstream_response_ms counts from the end of the request
}

// Answers with one of our own errors. While the request is still arriving the answer waits
// until it has been read (and dropped): the client, which may be busy sending and not yet
// reading, then gets its answer and keeps its connection. client_idle_ms bounds the wait.
void HttpSession::failRequest(http::ProxyError error) {
  if (!request_complete_) {
    pending_error_ = true;
    pending_error_code_ = error;
    armClientDeadline(TimeoutKind::Idle);
    if (!parsing_) {
      startReadingClient();
      if (in_.unparsed() > 0) parseRequests();  // body bytes already waiting in in_
    }
    return;
  }
  sendError(error, false);
}

void HttpSession::sendError(http::ProxyError error, bool close) {
  if (response_started_) {
    this->close();  // too late for a clean error: the client sees the connection end
    return;
  }
  FLB_LOG(Debug, "lb=%s client=%s answered %d", lb_->name.c_str(), client_ip_,
          http::errorStatus(error));
  // A request whose body was not read cannot be followed by another on this connection.
  close = close || !request_complete_ || !client_keep_alive_ || worker_->draining();
  std::string_view response = http::errorResponse(error, close);
  out_.add(response.data(), response.size());
  response_started_ = true;
  size_t status_class = static_cast<size_t>(http::errorStatus(error) / 100 - 1);
  shard_->local_responses[status_class].fetch_add(1, std::memory_order_relaxed);
  countResponseEnd();
  if (!out_.flush()) {
    this->close();
    return;
  }
  if (close) close_after_response_ = true;
  finishExchange();  // closes after the writes when close_after_response_ is set
}

// The response is complete (or an error was sent): back to waiting for the next request.
void HttpSession::finishExchange() {
  in_exchange_ = false;
  response_started_ = false;  // the next request may get an error response of its own
  // An upgrade that was refused leaves llhttp in its upgrade state: the connection cannot
  // carry another request.
  bool must_close = close_after_response_ || !client_keep_alive_ || upgrade_requested_ ||
                    !request_complete_ || worker_->draining();
  upgrade_requested_ = false;
  endBackendRequest();
  if (must_close) {
    closeAfterWrites();
    return;
  }
  request_parser_.resume();
  armClientDeadline(TimeoutKind::Idle);
  startReadingClient();
  // Pipelined requests already here; the loop in parseRequests picks them up itself.
  if (in_.unparsed() > 0 && !parsing_) parseRequests();
}

// Ends the connection once everything queued for the client is written. Until then the
// idle deadline bounds a client that stops reading.
void HttpSession::closeAfterWrites() {
  if (closing_) return;
  close_when_drained_ = true;
  // TLS: say so before the FIN (clients treat a TLS stream ending without close_notify as
  // a possible truncation).
  if (!out_.closeNotify()) {
    close();
    return;
  }
  armClientDeadline(TimeoutKind::Idle);
  if (out_.pending() == 0) closeOrLinger();
}

// Closing while the client may still send (unread request bytes) or while our response is
// still in flight would let the kernel answer a late client byte with a reset that destroys
// the response; in those cases send FIN and read (and drop) what the client still sends, for
// at most client_header_ms or kMaxLingerBytes (RFC 9112 §9.6).
void HttpSession::closeOrLinger() {
  if (client_eof_ || (request_complete_ && in_.unparsed() == 0 && !kernelStillSending(&tcp_))) {
    close();
    return;
  }
  if (lingering_) return;
  lingering_ = true;
  in_.parse_pos = in_.used;
  in_.release(worker_->buffers());
  out_.shutdownWhenDrained();
  armClientDeadline(TimeoutKind::Head);
  startReadingClient();
}

void HttpSession::onClientDrained(void* self_ptr, int status) {
  auto* self = static_cast<HttpSession*>(self_ptr);
  if (self->closing_ || self->lingering_) return;
  if (status < 0) {
    self->close();
    return;
  }
  if (self->close_when_drained_) {
    self->closeOrLinger();
    return;
  }
  // The client is reading: an idle keep-alive connection starts idling from here.
  if (!self->in_exchange_) self->armClientDeadline(TimeoutKind::Idle);
  // Back-pressure released: let the backend's bytes flow again.
  if (self->upstream_ != nullptr) {
    self->touchUpstream();
    self->upstream_->startReading();
  }
}

void HttpSession::onTimeout(TimeoutKind kind) {
  if (closing_) return;
  switch (kind) {
    case TimeoutKind::Head:
      if (lingering_ || close_when_drained_) {
        close();
      } else if (request_parser_.inMessage() || in_.unparsed() > 0) {
        sendError(http::ProxyError::RequestTimeout, true);
      } else {
        close();  // connected but never sent a byte
      }
      return;
    case TimeoutKind::Idle:
      close();  // idle keep-alive, a stalled tunnel, or a client that stopped reading
      return;
    case TimeoutKind::Connect:
      last_connect_status_ = UV_ETIMEDOUT;
      failAttempt(Failure::ConnectFailed);
      return;
    case TimeoutKind::Response:
      // No progress from the backend (or towards it) for upstream_response_ms. The backend's
      // failure only if it had the whole request and the client was not holding the response
      // up (a stalled upload or a client that stops reading time out here too).
      if (request_complete_ && !out_.congested()) backendFailed({lb::FailureCause::Timeout, 0});
      releaseUpstream(false);
      sendError(http::ProxyError::GatewayTimeout, !request_complete_);
      return;
  }
}

void HttpSession::drain() {
  if (closing_) return;
  if (!in_exchange_ && !request_parser_.inMessage()) {
    closeAfterWrites();
  } else {
    close_after_response_ = true;
  }
}

void HttpSession::close() {
  if (closing_) return;
  closing_ = true;
  client_deadline_.disarm();
  upstream_deadline_.disarm();
  // A client that stalled or left mid-handshake (after sending something: a bare TCP probe
  // is no handshake) counts as a failed handshake.
  if (tls_ != nullptr && tls_input_seen_ && !handshake_counted_) {
    FLB_LOG(Debug, "lb=%s client=%s TLS handshake not completed: connection closed",
            lb_->name.c_str(), client_ip_);
    countHandshake(false);
  }
  // A response cut short (by the client, or a backend failing mid-body) still answered the
  // request: its time is the time until now. A request with no response yet is not counted.
  if (response_started_ && request_start_ns_ != 0) countResponseEnd();
  releaseUpstream(false);
  endBackendRequest();
  in_.release(worker_->buffers());
  shard_->downstream_connections.fetch_sub(1, std::memory_order_relaxed);
  --lb_->sessions;
  worker_->sessionClosed(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &HttpSession::onClose);
}

// Request latency (fiberlb_request_duration_seconds) runs from the first byte of the request
// to the moment the last byte of its response is handed to the client writer: what the client
// waits, including a slow upload, not counting a slow download of the response (the writer's
// queue). uv_hrtime, not the loop's cached uv_now: the smallest bucket is 0.5 ms, finer than
// uv_now's millisecond and than one loop iteration. Two vDSO clock reads per request.
void HttpSession::countRequestStart() {
  request_start_ns_ = uv_hrtime();
}

// Every answered request is counted once: a relayed response when complete (or when the 101
// of an upgrade went out), a local error response when queued, a response cut short when the
// session closes.
void HttpSession::countResponseEnd() {
  uint64_t now = uv_hrtime();
  uint64_t start = request_start_ns_ != 0 ? request_start_ns_ : now;
  request_start_ns_ = 0;
  lb::LbStats::observeLatency(*shard_, (now - start) / 1000);
}

void HttpSession::onClose(uv_handle_t* handle) {
  delete static_cast<HttpSession*>(handle->data);
}

}  // namespace fiberlb::proxy

// HttpSession, upstream side: picking a backend, connecting or reusing a pooled
// connection, retries, parsing and relaying the response, upgrades.

#include "src/http/cookie.h"
#include "src/http/error_response.h"
#include "src/proxy/connect_failure.h"
#include "src/proxy/http_session.h"
#include "src/proxy/lb_runtime.h"
#include "src/proxy/worker.h"
#include "src/util/log.h"

namespace fiberlb::proxy {

void HttpSession::startAttempt() {
  // Backends passed over without an attempt (circuit not admitting, connection limit) go to
  // tried_ like failed ones; this bounds the loop if more are passed over than tried_ holds.
  int passed_over = 0;
  bool circuit_rejected = false;
  while (!closing_) {
    worker_->holdCurrent(&hold_);
    lb::BackendState* backend = pickBackend(attempts_ > 0 || circuit_rejected);
    if (backend == nullptr) {
      // Nothing eligible (left): the request never reached a backend.
      failRequest(overloaded_ ? http::ProxyError::Overloaded : http::ProxyError::NoHealthyBackend);
      return;
    }
    const lb::Admission admission = backend->circuit.admit();
    if (admission == lb::Admission::Rejected || !reserveSlot(backend)) {
      // Open (a snapshot that does not know yet), half-open with its trials taken, or full.
      if (admission != lb::Admission::Rejected) backend->circuit.abandon(admission);
      circuit_rejected = circuit_rejected || admission == lb::Admission::Rejected;
      remember(backend);
      if (++passed_over <= 2 * kMaxTried) continue;
      failRequest(overloaded_ ? http::ProxyError::Overloaded : http::ProxyError::NoHealthyBackend);
      return;
    }
    backend_ = backend;
    admission_ = admission;
    verdict_ = false;
    ++attempts_;
    if (retrying_) {
      retrying_ = false;
      worker_->countRetry();
      shard_->retries.fetch_add(1, std::memory_order_relaxed);
    }
    switch (connectTo(backend)) {
      case ConnectResult::Started:
        return;
      case ConnectResult::Overloaded:
        endBackendRequest();
        failRequest(http::ProxyError::Overloaded);
        return;
      case ConnectResult::Failed:
        break;
    }
    // The connect could not even start (e.g. no route): same as a failed connect.
    backendFailed(connectFailure(last_connect_status_));
    remember(backend);
    endBackendRequest();
    if (!canRetry(Failure::ConnectFailed)) {
      failRequest(http::ProxyError::NoHealthyBackend);
      return;
    }
    retrying_ = true;
  }
}

// `use_standby`: every backend of the routing region that is left out now failed this request
// or has a circuit that opened since the snapshot was built; then the region failover would
// pick next may serve (see LbSnapshot::standby). Not when they were only full.
lb::BackendState* HttpSession::pickBackend(bool use_standby) {
  lb::PickContext ctx;
  ctx.tried = tried_;
  ctx.tried_count = static_cast<size_t>(tried_count_);
  // The persistence cookie's backend, on the first attempt only: sticky_ comes from the
  // snapshot current when the head arrived, which a retry may no longer hold.
  if (sticky_ != nullptr && attempts_ == 0 && !ctx.isTried(sticky_)) return sticky_;
  lb::Picker* picker = lb_->picker.get();
  ctx.hash = request_hash_;
  if (lb_->source_ip_picker != nullptr) {
    picker = lb_->source_ip_picker.get();
    ctx.hash = client_hash_;
  }
  lb::BackendState* backend = picker != nullptr ? picker->pick(ctx) : nullptr;
  if (backend == nullptr && use_standby && lb_->standby_picker != nullptr)
    backend = lb_->standby_picker->pick(ctx);
  return backend;
}

// What routes this request besides the method: the hash of its hash_key (method = "hash")
// and the backend its persistence cookie names, if that one is eligible now.
void HttpSession::readAffinity(const http::MessageHead& head) {
  request_hash_ = lb_->hash_requests ? requestHash(lb_->hash_key, head, client_ip_) : 0;
  sticky_ = nullptr;
  cookie_id_ = 0;
  if (lb_->persistence != config::Persistence::Cookie) return;
  cookie_id_ = parsePersistenceId(http::findCookie(head, lb_->cookie_name));
  if (cookie_id_ == 0) return;
  auto it = lb_->cookie_backends.find(cookie_id_);
  if (it != lb_->cookie_backends.end()) sticky_ = it->second;
}

// circuit_breaker.max_connections: upstream connections in use on this backend, across all
// workers (idle pooled ones do not count: they carry no load). active_requests is that
// number for HTTP/1.1, one exchange per connection.
bool HttpSession::reserveSlot(lb::BackendState* backend) {
  const int64_t limit = lb_->config().circuit_breaker.max_connections;
  if (backend->active_requests.fetch_add(1, std::memory_order_relaxed) < limit) return true;
  backend->active_requests.fetch_sub(1, std::memory_order_relaxed);
  overloaded_ = true;
  return false;
}

void HttpSession::remember(const lb::BackendState* backend) {
  if (tried_count_ < kMaxTried) tried_[tried_count_++] = backend;
}

// Sends the request to `backend` (its slot already reserved) over a pooled or new connection.
HttpSession::ConnectResult HttpSession::connectTo(lb::BackendState* backend) {
  UpstreamConn* up = worker_->takeIdle(backend);
  if (up != nullptr) {
    up->bind(this);
  } else {
    // circuit_breaker.max_pending_requests: requests waiting for a new connection, per LB.
    const int64_t limit = lb_->config().circuit_breaker.max_pending_requests;
    if (stats_->pending_connects.fetch_add(1, std::memory_order_relaxed) >= limit) {
      stats_->pending_connects.fetch_sub(1, std::memory_order_relaxed);
      return ConnectResult::Overloaded;
    }
    connect_pending_ = true;
    backend->requests_total.fetch_add(1, std::memory_order_relaxed);
    up = UpstreamConn::connect(worker_, backend, worker_->addressOf(backend), this,
                               &last_connect_status_);
    if (up == nullptr) {
      endPendingConnect();
      FLB_LOG(Debug, "lb=%s backend=%s connect failed: %s", lb_->name.c_str(),
              backend->name().c_str(), uv_strerror(last_connect_status_));
      return ConnectResult::Failed;
    }
  }
  if (!connect_pending_) backend->requests_total.fetch_add(1, std::memory_order_relaxed);
  upstream_ = up;
  up->countExchange();
  response_parser_.reset();
  response_parser_.setSkipBody(request_is_head_);
  response_bytes_ = false;
  up->writer.add(unsent_.empty() ? request_head_ : unsent_);
  bool flushed = up->writer.flush();
  unsent_.clear();
  if (up->connected()) {
    touchUpstream();
  } else {
    lb_->connect_deadlines.arm(&upstream_deadline_, uv_now(worker_->loop()));
  }
  if (!flushed) {
    upstreamWriteFailed();
    return ConnectResult::Started;  // handled like any failure of this attempt
  }
  // A previous attempt may have stopped client reads while it was connecting.
  if (!request_complete_ && !up->writer.congested()) startReadingClient();
  return ConnectResult::Started;
}

void HttpSession::endPendingConnect() {
  if (!connect_pending_) return;
  connect_pending_ = false;
  stats_->pending_connects.fetch_sub(1, std::memory_order_relaxed);
}

void HttpSession::onUpstreamConnected(UpstreamConn*, int status) {
  endPendingConnect();
  if (status < 0) {
    last_connect_status_ = status;
    failAttempt(Failure::ConnectFailed);
    return;
  }
  touchUpstream();
}

// upstream_response_ms bounds a backend that makes no progress: re-armed (two pointer
// updates) whenever bytes move between us and the backend, so it also catches a backend
// that stalls mid-body, and a client that stops reading (upstream reads stop with it).
void HttpSession::touchUpstream() {
  if (upstream_ != nullptr && upstream_->connected())
    lb_->response_deadlines.arm(&upstream_deadline_, uv_now(worker_->loop()));
}

// Writing to the backend failed (it reset): a failed attempt if it sent nothing back yet.
void HttpSession::upstreamWriteFailed() {
  if (response_bytes_ || tunnel_) {
    close();
  } else {
    failAttempt(Failure::ResetBeforeResponse);
  }
}

bool HttpSession::canRetry(Failure failure) {
  const config::Retries& retries = lb_->config().retries;
  if (response_bytes_ || attempts_ > retries.max) return false;
  bool allowed;
  if (failure == Failure::ConnectFailed) {
    allowed =
        last_connect_status_ == UV_ECONNREFUSED ? retries.on_refused : retries.on_connect_failure;
  } else {
    // Bytes were sent: only a request we can send again in full, and only if replaying it
    // is harmless.
    allowed = retries.on_reset_before_response && request_complete_ &&
              request_framing_ == http::BodyFraming::None && request_idempotent_;
  }
  // Last, because it withdraws from the budget.
  return allowed && lb_->retry_budget.tryRetry();
}

// A 5xx head, not yet forwarded: worth another backend when retries.on lists "5xx" and the
// request is one we can replay (idempotent, no body) and nothing of a response reached the
// client.
bool HttpSession::canRetry5xx() {
  const config::Retries& retries = lb_->config().retries;
  return retries.on_5xx && !interim_forwarded_ && attempts_ <= retries.max && request_complete_ &&
         request_framing_ == http::BodyFraming::None && request_idempotent_ &&
         hasAnotherBackend() && lb_->retry_budget.tryRetry();
}

// Whether a retry has somewhere to go: an endpoint (or standby) not tried yet whose circuit is
// not open. Without one, the backend's own 5xx is a better answer than our 503. O(endpoints),
// on the 5xx path only.
bool HttpSession::hasAnotherBackend() const {
  lb::PickContext ctx;
  ctx.tried = tried_;
  ctx.tried_count = static_cast<size_t>(tried_count_);
  for (const auto* list : {&lb_->snap->endpoints, &lb_->snap->standby}) {
    for (const lb::Endpoint& e : *list) {
      if (e.backend != backend_ && !ctx.isTried(e.backend) &&
          e.backend->circuit.state() != lb::CircuitState::Open)
        return true;
    }
  }
  return false;
}

void HttpSession::retryAfter5xx() {
  retry_5xx_ = false;
  const lb::BackendState* failed = backend_;
  countBackendResponse(response_parser_.head().status);  // it did answer, with a 5xx
  releaseUpstream(false);                                // the rest of the 5xx is not worth reading
  remember(failed);
  FLB_LOG(Debug, "lb=%s backend=%s answered %d, retrying", lb_->name.c_str(),
          failed->name().c_str(), response_parser_.head().status);
  endBackendRequest();
  retrying_ = true;
  startAttempt();
}

void HttpSession::failAttempt(Failure failure) {
  lb::BackendState* failed = backend_;
  // A reused keep-alive connection that the backend had already closed is not the
  // backend's fault: try again on a fresh connection without counting it.
  bool stale = failure == Failure::ResetBeforeResponse && upstream_->reused() &&
               request_framing_ == http::BodyFraming::None && request_complete_ &&
               request_idempotent_;
  bool retry = stale || canRetry(failure);
  if (failure == Failure::ConnectFailed && !upstream_->writer.wroteAny()) {
    upstream_->writer.takeUnsent(&unsent_);
  } else {
    unsent_ = request_head_;
  }
  releaseUpstream(false);
  // Everything about `failed` happens before endBackendRequest(): releasing the snapshot
  // hold may free a backend that a reload removed.
  if (stale) {
    --attempts_;
  } else {
    backendFailed(failure == Failure::ConnectFailed ? connectFailure(last_connect_status_)
                                                    : lb::FailureInfo{lb::FailureCause::Reset, 0});
    remember(failed);
    FLB_LOG(Debug, "lb=%s backend=%s attempt failed (%s)%s", lb_->name.c_str(),
            failed->name().c_str(),
            failure == Failure::ConnectFailed ? uv_strerror(last_connect_status_)
                                              : "reset before response",
            retry ? ", retrying" : "");
  }
  endBackendRequest();
  if (!retry) {
    unsent_.clear();
    failRequest(failure == Failure::ConnectFailed ? http::ProxyError::NoHealthyBackend
                                                  : http::ProxyError::BadGateway);
    return;
  }
  // A stale connection's second try is not a retry: it may well go to the same backend.
  retrying_ = !stale;
  startAttempt();
}

// Failures also count in failures_total, except a 5xx: that is a response (counted by class).
void HttpSession::backendFailed(lb::FailureInfo why) {
  if (backend_ == nullptr) return;
  if (why.cause != lb::FailureCause::Status5xx)
    backend_->failures_total.fetch_add(1, std::memory_order_relaxed);
  verdict_ = true;
  const auto now = static_cast<int64_t>(uv_now(worker_->loop()));
  if (backend_->circuit.recordFailure(admission_, why, lb_->config().circuit_breaker, now) !=
      lb::CircuitChange::None)
    worker_->circuitChanged();
}

void HttpSession::backendSucceeded() {
  if (backend_ == nullptr) return;
  verdict_ = true;
  if (backend_->circuit.recordSuccess(admission_) != lb::CircuitChange::None)
    worker_->circuitChanged();
}

// A response relayed in full (a 101: its head), by status class. Counted at the end, not at
// the head, so an attempt (requests_total) ends in at most one of: a response by class, or a
// failure (failures_total: nothing usable, a response cut short, a timeout); neither when the
// client left or held it up, or for a stale pooled connection's first try. Invalid classes
// (6xx-9xx, which llhttp accepts) have no bucket.
void HttpSession::countBackendResponse(int status) {
  int status_class = status / 100;
  if (backend_ == nullptr || status_class < 1 || status_class > 5) return;
  backend_->responses_by_class[static_cast<size_t>(status_class - 1)].fetch_add(
      1, std::memory_order_relaxed);
}

void HttpSession::releaseUpstream(bool reusable) {
  upstream_deadline_.disarm();
  endPendingConnect();
  UpstreamConn* up = upstream_;
  if (up == nullptr) return;
  upstream_ = nullptr;
  if (reusable) {
    up->unbind();
    worker_->putIdle(up);
  } else {
    up->close();
  }
}

void HttpSession::endBackendRequest() {
  if (backend_ != nullptr) {
    // No verdict (the client left, a stale pooled connection): a trial permit goes back.
    if (!verdict_) backend_->circuit.abandon(admission_);
    backend_->active_requests.fetch_sub(1, std::memory_order_relaxed);
    backend_ = nullptr;
  }
  worker_->releaseHold(&hold_);
}

void HttpSession::onUpstreamData(UpstreamConn* up) {
  if (tunnel_) {
    relayTunnel(up);
    return;
  }
  response_bytes_ = true;
  touchUpstream();
  parseResponse();
}

void HttpSession::parseResponse() {
  while (!closing_ && upstream_ != nullptr && upstream_->in.unparsed() > 0) {
    net::ReadBuffer& in = upstream_->in;
    if (!response_parser_.inMessage()) in.compact();
    http::ParseStatus status =
        response_parser_.execute(in.data, in.data + in.parse_pos, in.unparsed());
    in.parse_pos += response_parser_.consumed();
    in.pinned = response_parser_.inHead();
    // A complete response is counted before its last bytes leave (completeResponse flushes):
    // a client that reads /metrics right after its response must find it counted.
    const bool complete = status == http::ParseStatus::Paused && response_complete_;
    if (!complete && !out_.flush()) {
      close();
      return;
    }
    switch (status) {
      case http::ParseStatus::Ok:
        break;
      case http::ParseStatus::Paused:
        if (!response_complete_) {  // an interim 1xx went out; the real response follows
          response_parser_.resume();
          continue;
        }
        completeResponse();
        return;
      case http::ParseStatus::Upgrade:
        startTunnel();
        return;
      case http::ParseStatus::Aborted:
        if (retry_5xx_) retryAfter5xx();
        return;
      case http::ParseStatus::HeadTooLarge:
      case http::ParseStatus::BadMessage:
        FLB_LOG(Warn, "lb=%s backend=%s sent an invalid response: %s", lb_->name.c_str(),
                backend_ != nullptr ? backend_->name().c_str() : "?",
                response_parser_.errorReason() != nullptr ? response_parser_.errorReason()
                                                          : "too many header fields");
        backendFailed({lb::FailureCause::BadResponse, 0});
        releaseUpstream(false);
        sendError(http::ProxyError::BadGateway, true);
        return;
    }
  }
  if (closing_ || upstream_ == nullptr) return;
  if (response_parser_.inHead() && upstream_->in.full()) {
    backendFailed({lb::FailureCause::BadResponse, 0});
    releaseUpstream(false);
    sendError(http::ProxyError::BadGateway, true);
    return;
  }
  upstream_->in.releaseIfEmpty(worker_->buffers());
  if (out_.congested()) upstream_->stopReading();  // resumed by onClientDrained
}

bool HttpSession::onResponseHead(http::MessageHead& head) {
  int status = head.status;
  bool interim = status < 200 && status != 101;
  if (!interim) {
    if (status >= 500) {
      backendFailed({lb::FailureCause::Status5xx, status});
      // Aborts the parse; parseResponse() then retries (nothing was forwarded yet).
      if (canRetry5xx()) {
        retry_5xx_ = true;
        return false;
      }
    } else {
      backendSucceeded();
    }
  }
  http::ResponseRewrite rw;
  rw.client_http10 = client_http10_;
  bool never_body = status < 200 || status == 204 || status == 304;  // RFC 9110 §6.4.1
  rw.upgrade = status == 101;
  if (!never_body && response_parser_.hasContentLength()) {
    // Also for HEAD: the length describes the body a GET would have had.
    response_framing_ = http::BodyFraming::ContentLength;
    rw.content_length = response_parser_.contentLength();
  } else if (never_body || request_is_head_) {
    response_framing_ = http::BodyFraming::None;
  } else if (client_http10_) {
    response_framing_ = http::BodyFraming::UntilClose;  // HTTP/1.0 has no chunked
  } else {
    response_framing_ = http::BodyFraming::Chunked;  // re-framed: keeps the client alive
  }
  rw.framing = response_framing_;
  if (!interim && status != 101) {
    // An unanswered upgrade or an unread request body leaves the client connection in a
    // state we cannot continue from.
    if (!client_keep_alive_ || upgrade_requested_ || !request_complete_ ||
        response_framing_ == http::BodyFraming::UntilClose || worker_->draining())
      close_after_response_ = true;
    rw.close = close_after_response_;
  }
  response_complete_ = false;
  // Captured now: llhttp clears its flags once the message completes.
  upstream_keep_alive_ = response_parser_.keepAlive();
  if (!interim && lb_->persistence == config::Persistence::Cookie && backend_ != nullptr) {
    // A client without our cookie, or whose cookie named another backend (gone, down, or
    // this is a retry), learns which backend served it.
    const uint64_t id = persistenceId(lb_->name, backend_->name());
    if (id != cookie_id_)
      rw.set_cookie =
          std::string_view(set_cookie_, formatPersistenceCookie(lb_->cookie_name, id, set_cookie_));
  }
  http::writeDownstreamResponse(head, rw, &response_head_);
  // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
  if (!(interim && client_http10_)) {
    out_.add(response_head_);
    interim_forwarded_ = interim_forwarded_ || interim;
  }
  response_started_ = !interim;
  return true;
}

void HttpSession::onResponseBody(const char* data, size_t len) {
  if (response_framing_ == http::BodyFraming::Chunked) {
    char header[24];
    out_.addCopy(header, http::formatChunkHeader(len, header));
    out_.add(data, len);
    out_.add(http::kChunkEnd.data(), http::kChunkEnd.size());
  } else {
    out_.add(data, len);
  }
}

void HttpSession::onResponseComplete() {
  int status = response_parser_.head().status;
  if (status < 200 && status != 101) return;  // interim
  if (response_framing_ == http::BodyFraming::Chunked)
    out_.add(http::kLastChunk.data(), http::kLastChunk.size());
  response_complete_ = true;
}

void HttpSession::completeResponse() {
  countBackendResponse(response_parser_.head().status);
  countResponseEnd();
  if (!out_.flush()) {
    close();
    return;
  }
  UpstreamConn* up = upstream_;
  bool reusable = upstream_keep_alive_ && request_complete_ && up->writer.pending() == 0 &&
                  up->in.unparsed() == 0 && !worker_->draining();
  releaseUpstream(reusable);
  finishExchange();
}

void HttpSession::onUpstreamClosed(UpstreamConn* up, int status) {
  if (tunnel_) {
    // Half-close: pass the FIN on and keep relaying the other way until the client ends.
    upstream_eof_ = true;
    relayTunnel(up);
    if (client_eof_ || status != UV_EOF) {
      closeAfterWrites();
    } else {
      out_.shutdownWhenDrained();
    }
    return;
  }
  if (!response_bytes_) {
    failAttempt(Failure::ResetBeforeResponse);
    return;
  }
  if (status == UV_EOF && response_parser_.finish()) {
    completeResponse();  // a read-until-close body ends here
    return;
  }
  // Truncated response: a clean error only if nothing reached the client yet.
  backendFailed({lb::FailureCause::Reset, 0});
  releaseUpstream(false);
  sendError(http::ProxyError::BadGateway, true);
}

void HttpSession::onUpstreamDrained(UpstreamConn*, int status) {
  if (status < 0) {
    if (tunnel_ || response_bytes_) {
      close();
    } else {
      failAttempt(Failure::ResetBeforeResponse);
    }
    return;
  }
  // Back-pressure on the backend side released: read more of the request body (or the
  // next pipelined request, which waits in in_ anyway).
  touchUpstream();
  if (!close_when_drained_) startReadingClient();
}

void HttpSession::startTunnel() {
  tunnel_ = true;
  countBackendResponse(101);
  countResponseEnd();  // the tunnel's life is not the request's latency
  upstream_deadline_.disarm();
  armClientDeadline(TimeoutKind::Idle);
  FLB_LOG(Debug, "lb=%s client=%s upgraded to a tunnel", lb_->name.c_str(), client_ip_);
  // Bytes that arrived behind the heads belong to the tunnel.
  in_.pinned = upstream_->in.pinned = false;
  if (upstream_->in.unparsed() > 0) relayTunnel(upstream_);
  if (in_.unparsed() > 0) {
    upstream_->writer.add(in_.data + in_.parse_pos, in_.unparsed());
    in_.parse_pos = in_.used;
    upstream_->writer.flush();
  }
  in_.releaseIfEmpty(worker_->buffers());
  if (client_eof_) upstream_->shutdownWrite();  // the client finished before the 101
  startReadingClient();
}

void HttpSession::relayTunnel(UpstreamConn* up) {
  net::ReadBuffer& in = up->in;
  out_.add(in.data + in.parse_pos, in.unparsed());
  in.parse_pos = in.used;
  if (!out_.flush()) {
    close();
    return;
  }
  in.releaseIfEmpty(worker_->buffers());
  armClientDeadline(TimeoutKind::Idle);
  if (out_.congested()) up->stopReading();
}

}  // namespace fiberlb::proxy

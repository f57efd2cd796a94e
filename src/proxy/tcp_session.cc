#include "src/proxy/tcp_session.h"

#include "lb/hash_key.h"
#include "src/proxy/connect_failure.h"
#include "src/proxy/lb_runtime.h"
#include "src/proxy/tls_accounting.h"
#include "src/proxy/worker.h"
#include "src/util/log.h"

namespace fiberlb::proxy {
TcpSession::TcpSession(Worker* worker, LbRuntime* lb)
    : ClientSession(lb),
      worker_(worker),
      stats_(lb->stats),
      shard_(&stats_->shard(worker->index())),
      out_(this, &TcpSession::onClientDrained) {
  tcp_.data = this;
  // The worker's sweep sees deadlines as ClientSessions.
  deadline_.owner = static_cast<ClientSession*>(this);
  connect_deadline_.owner = static_cast<ClientSession*>(this);
  if (lb->tls != nullptr) {
    tls_ = std::make_unique<net::tls::TlsChannel>(lb->tls->defaultContext());
    out_.setTls(tls_.get());
  }
}

TcpSession* TcpSession::accept(Worker* worker, LbRuntime* lb, uv_stream_t* server) {
  auto* s = new TcpSession(worker, lb);
  if (!acceptOn(worker->loop(), server, &s->tcp_, s->client_ip_, sizeof s->client_ip_)) {
    uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp_), &TcpSession::onClose);
    return nullptr;
  }
  s->out_.attach(reinterpret_cast<uv_stream_t*>(&s->tcp_));
  if (lb->hash_requests || lb->source_ip_picker != nullptr)
    s->client_hash_ = lb::hashKey(s->client_ip_);
  s->shard_->downstream_connections.fetch_add(1, std::memory_order_relaxed);
  ++lb->sessions;
  worker->sessionOpened(s);
  lb->retry_budget.onRequest();
  if (s->tls_ != nullptr) {
    // The handshake must complete within client_header_ms; the backend waits for it.
    lb->head_deadlines.arm(&s->deadline_, uv_now(worker->loop()));
  } else {
    s->touch();
    s->connectBackend();
  }
  s->startReadingClient();
  return s;
}

// ---- Backend side ----------------------------------------------------------------------

// Picks a backend and starts connecting; connects that cannot even start are retried on
// another backend like failed ones. Closes the client when no backend is left.
void TcpSession::connectBackend() {
  int passed_over = 0;
  while (!closing_) {
    worker_->holdCurrent(&hold_);
    lb::PickContext ctx;
    ctx.tried = tried_;
    ctx.tried_count = static_cast<size_t>(tried_count_);
    // L4 has one key to hash, whatever hash_key says: the client's address.
    ctx.hash = client_hash_;
    lb::Picker* picker =
        lb_->source_ip_picker != nullptr ? lb_->source_ip_picker.get() : lb_->picker.get();
    lb::BackendState* backend = picker != nullptr ? picker->pick(ctx) : nullptr;
    if (backend == nullptr && attempts_ > 0 && lb_->standby_picker != nullptr)
      backend = lb_->standby_picker->pick(ctx);
    if (backend == nullptr) {
      FLB_LOG(Debug, "lb=%s client=%s: no backend available, closing", lb_->name.c_str(),
              client_ip_);
      close();
      return;
    }
    if (startConnect(backend)) return;
    if (tried_count_ < kMaxTried) tried_[tried_count_++] = backend;
    if (++passed_over > 2 * kMaxTried) {
      close();
      return;
    }
  }
}

// False when `backend` cannot be tried now (circuit, max_connections, a connect that could
// not start and may be retried). Closes the session when the LB is overloaded.
bool TcpSession::startConnect(lb::BackendState* backend) {
  const config::CircuitBreaker& limits = lb_->config().circuit_breaker;
  const lb::Admission admission = backend->circuit.admit();
  if (admission == lb::Admission::Rejected) return false;
  if (backend->active_requests.fetch_add(1, std::memory_order_relaxed) >= limits.max_connections) {
    backend->active_requests.fetch_sub(1, std::memory_order_relaxed);
    backend->circuit.abandon(admission);
    return false;
  }
  backend_ = backend;
  admission_ = admission;
  ++attempts_;
  if (stats_->pending_connects.fetch_add(1, std::memory_order_relaxed) >=
      limits.max_pending_requests) {
    stats_->pending_connects.fetch_sub(1, std::memory_order_relaxed);
    FLB_LOG(Debug, "lb=%s client=%s: max_pending_requests reached, closing", lb_->name.c_str(),
            client_ip_);
    close();
    return true;
  }
  connect_pending_ = true;
  backend->requests_total.fetch_add(1, std::memory_order_relaxed);
  int status = 0;
  upstream_ = UpstreamConn::connect(worker_, backend, worker_->addressOf(backend), this, &status);
  if (upstream_ == nullptr) {
    connectFailed(status);  // retries on another backend, or closes
    return true;
  }
  if (!unsent_.empty()) {
    upstream_->writer.add(unsent_);  // queued until connected, then written in order
    upstream_->writer.flush();
    unsent_.clear();
  }
  lb_->connect_deadlines.arm(&connect_deadline_, uv_now(worker_->loop()));
  return true;
}

void TcpSession::onUpstreamConnected(UpstreamConn* up, int status) {
  connect_deadline_.disarm();
  if (connect_pending_) {
    connect_pending_ = false;
    stats_->pending_connects.fetch_sub(1, std::memory_order_relaxed);
  }
  if (status < 0) {
    connectFailed(status);
    return;
  }
  connected_ = true;
  shard_->l4_connections.fetch_add(1, std::memory_order_relaxed);
  if (backend_->circuit.recordSuccess(admission_) != lb::CircuitChange::None)
    worker_->circuitChanged();
  touch();
  if (client_eof_) up->shutdownWrite();  // the client already said all it will say
  if (!up->writer.congested()) startReadingClient();
}

// The connect failed before any byte reached the backend: the breaker hears of it, and
// another backend gets the bytes the client sent meanwhile if retries.on allows.
void TcpSession::connectFailed(int status) {
  FLB_LOG(Debug, "lb=%s backend=%s connect failed: %s", lb_->name.c_str(), backend_->name().c_str(),
          uv_strerror(status));
  connect_deadline_.disarm();
  if (connect_pending_) {
    connect_pending_ = false;
    stats_->pending_connects.fetch_sub(1, std::memory_order_relaxed);
  }
  backend_->failures_total.fetch_add(1, std::memory_order_relaxed);
  const auto now = static_cast<int64_t>(uv_now(worker_->loop()));
  if (backend_->circuit.recordFailure(admission_, connectFailure(status),
                                      lb_->config().circuit_breaker,
                                      now) != lb::CircuitChange::None)
    worker_->circuitChanged();
  if (upstream_ != nullptr) {
    upstream_->writer.takeUnsent(&unsent_);
    upstream_->close();
    upstream_ = nullptr;
  }
  if (tried_count_ < kMaxTried) tried_[tried_count_++] = backend_;
  backend_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  backend_ = nullptr;
  if (!mayRetryConnect(status)) {
    close();
    return;
  }
  worker_->countRetry();
  shard_->retries.fetch_add(1, std::memory_order_relaxed);
  connectBackend();
}

bool TcpSession::mayRetryConnect(int status) {
  const config::Retries& retries = lb_->config().retries;
  const bool allowed = status == UV_ECONNREFUSED ? retries.on_refused : retries.on_connect_failure;
  return allowed && attempts_ <= retries.max && lb_->retry_budget.tryRetry();
}

void TcpSession::endBackend() {
  if (backend_ != nullptr) {
    // Still connecting when the client left: no verdict, a trial permit goes back.
    if (!connected_) backend_->circuit.abandon(admission_);
    backend_->active_requests.fetch_sub(1, std::memory_order_relaxed);
    backend_ = nullptr;
  }
  worker_->releaseHold(&hold_);
}

// ---- Relay -------------------------------------------------------------------------------

void TcpSession::relayToBackend(const char* data, size_t len) {
  shard_->l4_bytes_in.fetch_add(len, std::memory_order_relaxed);
  touch();
  if (upstream_ == nullptr) return;  // connecting was given up: the client is being closed
  upstream_->writer.add(data, len);
  if (!upstream_->writer.flush()) {
    close();  // the backend reset
    return;
  }
  // Not connected yet: the writer holds the bytes, which counts as congestion too.
  if (upstream_->writer.congested()) stopReadingClient();
}

void TcpSession::onUpstreamData(UpstreamConn* up) {
  net::ReadBuffer& in = up->in;
  const size_t n = in.unparsed();
  shard_->l4_bytes_out.fetch_add(n, std::memory_order_relaxed);
  touch();
  out_.add(in.data + in.parse_pos, n);
  in.parse_pos = in.used;
  if (!out_.flush()) {
    close();
    return;
  }
  in.releaseIfEmpty(worker_->buffers());
  if (out_.congested()) up->stopReading();
}

void TcpSession::onUpstreamClosed(UpstreamConn*, int status) {
  if (status != UV_EOF) {
    FLB_LOG(Debug, "lb=%s backend=%s connection lost: %s", lb_->name.c_str(),
            backend_ != nullptr ? backend_->name().c_str() : "?", uv_strerror(status));
    close();
    return;
  }
  // Half-close: the client learns the backend is done (close_notify first with TLS), and
  // may go on sending.
  upstream_eof_ = true;
  out_.shutdownWhenDrained();
  maybeFinish();
}

void TcpSession::onUpstreamDrained(UpstreamConn*, int status) {
  if (status < 0) {
    close();
    return;
  }
  touch();
  startReadingClient();  // back-pressure released
  maybeFinish();
}

void TcpSession::onClientDrained(void* self_ptr, int status) {
  auto* self = static_cast<TcpSession*>(self_ptr);
  if (self->closing_) return;
  if (status < 0) {
    self->close();
    return;
  }
  self->touch();
  if (self->upstream_ != nullptr && !self->upstream_eof_) self->upstream_->startReading();
  self->maybeFinish();
}

// The client will send nothing more: the backend gets a FIN after the bytes already queued.
void TcpSession::clientFinished() {
  client_eof_ = true;
  reading_client_ = false;
  if (upstream_ != nullptr && connected_) upstream_->shutdownWrite();
  if (!connected_ && upstream_ == nullptr) {
    close();  // nothing to relay to yet, and nothing will come
    return;
  }
  maybeFinish();
}

// Both directions ended and everything was written: done.
void TcpSession::maybeFinish() {
  if (closing_ || !client_eof_ || !upstream_eof_) return;
  if (out_.pending() == 0 && (upstream_ == nullptr || upstream_->writer.pending() == 0)) close();
}

void TcpSession::startReadingClient() {
  if (closing_) return;
  if (tls_ != nullptr && (tls_eof_pending_ || tls_->hasBufferedInput())) worker_->resumeLater(this);
  if (reading_client_ || client_eof_) return;
  reading_client_ = true;
  if (tls_eof_pending_) return;  // the socket has nothing more to give
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &TcpSession::onAlloc, &TcpSession::onRead);
}

void TcpSession::stopReadingClient() {
  if (!reading_client_ || closing_) return;
  reading_client_ = false;
  if (!tls_eof_pending_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

// client_idle_ms: no byte in either direction for that long closes the connection. Re-armed
// (two pointer updates) on every movement.
void TcpSession::touch() {
  lb_->idle_deadlines.arm(&deadline_, uv_now(worker_->loop()));
}

void TcpSession::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<TcpSession*>(handle->data);
  if (self->tls_ != nullptr) {
    *buf = self->worker_->cipherBuffer();
    return;
  }
  self->in_.offer(self->worker_->buffers(), buf);
}

void TcpSession::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<TcpSession*>(stream->data);
  if (nread > 0) {
    if (self->tls_ != nullptr) {
      self->onCiphertext(buf->base, static_cast<size_t>(nread));
      return;
    }
    // The writer copies what the kernel does not take at once, so the buffer goes back now.
    self->relayToBackend(self->in_.data, static_cast<size_t>(nread));
    self->in_.used = self->in_.parse_pos = 0;
    self->in_.releaseIfEmpty(self->worker_->buffers());
  } else if (nread < 0) {
    if (nread == UV_EOF && self->tls_ != nullptr && self->tls_->hasBufferedInput()) {
      self->tls_eof_pending_ = true;  // the end comes after what is still to decrypt
      if (self->reading_client_) self->worker_->resumeLater(self);
      return;
    }
    if (nread != UV_EOF) {
      self->close();  // reset
      return;
    }
    self->clientFinished();
  } else if (self->tls_ == nullptr) {
    self->in_.releaseIfEmpty(self->worker_->buffers());
  }
}

// ---- TLS ---------------------------------------------------------------------------------

void TcpSession::onCiphertext(const char* data, size_t len) {
  tls_input_seen_ = true;
  tls_->feed(data, len);
  pumpTls();
}

void TcpSession::resumeBufferedInput() {
  if (!closing_ && reading_client_) pumpTls();
}

void TcpSession::pumpTls() {
  net::BufferPool& pool = worker_->buffers();
  while (!closing_ && reading_client_) {
    if (in_.data == nullptr) in_.data = pool.acquire();
    size_t n = 0;
    const net::tls::TlsChannel::Status status =
        tls_->read(in_.data, net::BufferPool::kBufferSize, &n);
    if (!handshake_counted_ && tls_->handshakeDone()) handshakeEnded(true);
    if (tls_->hasOutput() && !out_.flush()) {
      close();
      return;
    }
    if (closing_) return;
    switch (status) {
      case net::tls::TlsChannel::Status::Ok:
        relayToBackend(in_.data, n);
        break;
      case net::tls::TlsChannel::Status::WantMore:
        in_.release(pool);
        if (tls_eof_pending_) {
          tls_eof_pending_ = false;
          clientFinished();
        }
        return;
      case net::tls::TlsChannel::Status::Closed:  // close_notify: like a FIN
        in_.release(pool);
        stopReadingClient();
        tls_eof_pending_ = false;
        clientFinished();
        return;
      case net::tls::TlsChannel::Status::Error:
        if (!handshake_counted_) {
          FLB_LOG(Debug, "lb=%s client=%s TLS handshake failed: %s", lb_->name.c_str(), client_ip_,
                  tls_->error().c_str());
          handshakeEnded(false);
        } else {
          FLB_LOG(Debug, "lb=%s client=%s TLS error: %s", lb_->name.c_str(), client_ip_,
                  tls_->error().c_str());
        }
        out_.flush();  // the alert
        close();
        return;
    }
  }
  in_.release(pool);
}

// A completed handshake starts the relay: the backend is connected only now, so that a
// failed handshake never costs a backend connection.
void TcpSession::handshakeEnded(bool ok) {
  handshake_counted_ = true;
  countTlsHandshake(*shard_, *tls_, ok);
  if (!ok) return;
  touch();
  connectBackend();
}

// ---- Lifetime ----------------------------------------------------------------------------

void TcpSession::onTimeout(TimeoutKind kind) {
  if (closing_) return;
  if (kind == TimeoutKind::Connect) {
    connectFailed(UV_ETIMEDOUT);
    return;
  }
  FLB_LOG(Debug, "lb=%s client=%s: %s", lb_->name.c_str(), client_ip_,
          kind == TimeoutKind::Head ? "TLS handshake timed out" : "idle timeout");
  close();
}

void TcpSession::drain() {
  if (!connected_) close();
}

void TcpSession::close() {
  if (closing_) return;
  closing_ = true;
  deadline_.disarm();
  connect_deadline_.disarm();
  if (tls_ != nullptr && tls_input_seen_ && !handshake_counted_) {
    FLB_LOG(Debug, "lb=%s client=%s TLS handshake not completed: connection closed",
            lb_->name.c_str(), client_ip_);
    handshakeEnded(false);
  }
  if (connect_pending_) {
    connect_pending_ = false;
    stats_->pending_connects.fetch_sub(1, std::memory_order_relaxed);
  }
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
  endBackend();
  in_.release(worker_->buffers());
  shard_->downstream_connections.fetch_sub(1, std::memory_order_relaxed);
  --lb_->sessions;
  worker_->sessionClosed(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &TcpSession::onClose);
}

void TcpSession::onClose(uv_handle_t* handle) {
  delete static_cast<TcpSession*>(handle->data);
}

}  // namespace fiberlb::proxy

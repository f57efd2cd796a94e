// UpstreamConn, TLS to the backend (`tls = true`): ciphertext from the socket goes into the
// TlsChannel and plaintext comes out into `in`, where the owner takes it as from a plain
// socket. Writes are encrypted by `writer`, which holds them until the handshake is done.

#include "src/proxy/upstream_conn.h"
#include "src/proxy/worker.h"
#include "src/util/log.h"

namespace fiberlb::proxy {

void UpstreamConn::onCiphertext(const char* data, size_t len) {
  tls_->feed(data, len);
  pumpTls();
}

void UpstreamConn::onCiphertextEnd(int status) {
  if (!connected_) {
    tlsFailed(status == UV_EOF ? UV_ECONNRESET : status);  // closed during the handshake
    return;
  }
  if (status == UV_EOF && tls_->hasBufferedInput() && owner_ != nullptr) {
    // The response is complete on the wire but partly still to decrypt (the client is slow
    // to take it): its end comes after that.
    tls_eof_pending_ = true;
    if (reading_) worker_->resumeLater(this);
    return;
  }
  deliverEnd(status);
}

void UpstreamConn::resumeBufferedInput() {
  if (!closing_ && reading_) pumpTls();
}

void UpstreamConn::pumpTls() {
  net::BufferPool& pool = worker_->buffers();
  while (!closing_ && (reading_ || !connected_)) {
    if (in.full()) return;  // the owner makes room, then startReading() resumes us
    if (in.data == nullptr) in.data = pool.acquire();
    size_t n = 0;
    const net::tls::TlsChannel::Status status =
        tls_->read(in.data + in.used, net::BufferPool::kBufferSize - in.used, &n);
    if (!connected_ && tls_->handshakeDone()) {
      handshakeDone();
      if (closing_) return;
    } else if (tls_->hasOutput() && !writer.flush()) {
      tlsFailed(UV_EPIPE);
      return;
    }
    switch (status) {
      case net::tls::TlsChannel::Status::Ok:
        in.used += n;
        if (owner_ == nullptr) {  // an idle pooled connection should be silent
          worker_->discardIdle(this);
          return;
        }
        owner_->onUpstreamData(this);
        break;
      case net::tls::TlsChannel::Status::WantMore:
        in.releaseIfEmpty(pool);
        if (tls_eof_pending_) {
          tls_eof_pending_ = false;
          deliverEnd(UV_EOF);
        }
        return;
      case net::tls::TlsChannel::Status::Closed:  // close_notify: the backend is done
        in.releaseIfEmpty(pool);
        tls_eof_pending_ = false;
        deliverEnd(UV_EOF);
        return;
      case net::tls::TlsChannel::Status::Error:
        tlsFailed(UV_EPROTO);
        return;
    }
  }
}

// The connection is usable: the Finished and the request held meanwhile go out, and the
// owner hears of a successful connect.
void UpstreamConn::handshakeDone() {
  connected_ = true;
  if (!writer.tlsReady()) {
    tlsFailed(UV_EPIPE);
    return;
  }
  if (owner_ == nullptr) return;
  owner_->onUpstreamConnected(this, 0);
  // What was held went straight to the kernel: no write will complete to say that the
  // back-pressure of the handshake is over, so say it now.
  if (!closing_ && owner_ != nullptr && !writer.congested()) owner_->onUpstreamDrained(this, 0);
}

// A failed handshake (the certificate did not verify, no common protocol) is a failed
// connect: the owner may retry elsewhere and the breaker counts it. Logged at warn: unlike a
// client's, a backend's handshake failure is a configuration problem the operator must fix.
void UpstreamConn::tlsFailed(int status) {
  if (!connected_) {
    FLB_LOG(Warn, "backend=%s TLS handshake failed: %s", backend_->name().c_str(),
            tls_->error().empty() ? uv_strerror(status) : tls_->error().c_str());
    if (owner_ != nullptr) {
      owner_->onUpstreamConnected(this, status);
    } else {
      close();
    }
    return;
  }
  FLB_LOG(Debug, "backend=%s TLS error: %s", backend_->name().c_str(),
          tls_->error().empty() ? uv_strerror(status) : tls_->error().c_str());
  deliverEnd(status);
}

// EOF or an error after the handshake, as a plain connection reports it.
void UpstreamConn::deliverEnd(int status) {
  if (owner_ == nullptr) {
    worker_->discardIdle(this);
    return;
  }
  owner_->onUpstreamClosed(this, status);
}

}  // namespace fiberlb::proxy

#include "src/proxy/upstream_conn.h"

#include "src/proxy/worker.h"

namespace fiberlb::proxy {

UpstreamConn::UpstreamConn(Worker* worker, lb::BackendState* backend, UpstreamOwner* owner)
    : writer(this, &UpstreamConn::onDrained), worker_(worker), backend_(backend), owner_(owner) {
  tcp_.data = this;
  connect_req_.data = this;
}

UpstreamConn* UpstreamConn::connect(Worker* worker, lb::BackendState* backend,
                                    const net::SocketAddress& addr, UpstreamOwner* owner,
                                    int* status) {
  auto* up = new UpstreamConn(worker, backend, owner);
  if (const BackendTls& tls = worker->tlsOf(backend); tls.context != nullptr) {
    up->tls_ = std::make_unique<net::tls::TlsChannel>(tls.context->get(), tls.peer);
    up->writer.setTls(up->tls_.get());  // holds the request until the handshake is done
  }
  uv_tcp_init(worker->loop(), &up->tcp_);
  backend->connections.fetch_add(1, std::memory_order_relaxed);
  *status = uv_tcp_connect(&up->connect_req_, &up->tcp_, addr.get(), &UpstreamConn::onConnect);
  if (*status < 0) {
    up->close();
    return nullptr;
  }
  return up;
}

void UpstreamConn::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConn*>(req->data);
  if (self->closing_) return;
  if (status == 0) {
    self->socket_connected_ = true;
    uv_tcp_nodelay(&self->tcp_, 1);
    self->writer.attach(reinterpret_cast<uv_stream_t*>(&self->tcp_));
    self->startReading();
    if (self->tls_ != nullptr) {
      self->pumpTls();  // sends the ClientHello; the owner hears once the handshake is done
      return;
    }
    self->connected_ = true;
  }
  if (self->owner_ != nullptr) self->owner_->onUpstreamConnected(self, status);
}

void UpstreamConn::startReading() {
  if (closing_ || !socket_connected_) return;
  // Decrypted input that stopped for lack of room will not be announced by the socket.
  if (tls_ != nullptr && (tls_eof_pending_ || tls_->hasBufferedInput())) worker_->resumeLater(this);
  if (reading_) return;
  reading_ = true;
  if (tls_eof_pending_) return;  // the socket has nothing more to give
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &UpstreamConn::onAlloc,
                &UpstreamConn::onRead);
}

void UpstreamConn::stopReading() {
  if (!reading_ || closing_) return;
  reading_ = false;
  if (!tls_eof_pending_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void UpstreamConn::shutdownWrite() {
  if (closing_ || !connected_) return;
  writer.shutdownWhenDrained();
}

void UpstreamConn::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConn*>(handle->data);
  if (self->tls_ != nullptr) {
    *buf = self->worker_->cipherBuffer();
    return;
  }
  self->in.offer(self->worker_->buffers(), buf);
}

void UpstreamConn::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConn*>(stream->data);
  if (self->tls_ != nullptr) {
    if (nread > 0) {
      self->onCiphertext(buf->base, static_cast<size_t>(nread));
    } else if (nread < 0) {
      self->onCiphertextEnd(static_cast<int>(nread));
    }
    return;
  }
  if (nread == 0) {  // EAGAIN: nothing happened
    self->in.releaseIfEmpty(self->worker_->buffers());
    return;
  }
  if (self->owner_ == nullptr) {
    // An idle pooled connection should be silent: EOF, an error or unexpected bytes all
    // mean it can no longer carry a request.
    self->worker_->discardIdle(self);
    return;
  }
  if (nread > 0) {
    self->in.used += static_cast<size_t>(nread);
    self->owner_->onUpstreamData(self);
  } else {
    self->owner_->onUpstreamClosed(self, static_cast<int>(nread));
  }
}

void UpstreamConn::onDrained(void* self_ptr, int status) {
  auto* self = static_cast<UpstreamConn*>(self_ptr);
  if (self->closing_) return;
  if (self->owner_ != nullptr) {
    self->owner_->onUpstreamDrained(self, status);
  } else if (status < 0) {
    self->worker_->discardIdle(self);
  }
}

void UpstreamConn::close() {
  if (closing_) return;
  closing_ = true;
  owner_ = nullptr;
  worker_->cancelResume(this);
  backend_->connections.fetch_sub(1, std::memory_order_relaxed);
  in.release(worker_->buffers());
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &UpstreamConn::onClose);
}

void UpstreamConn::onClose(uv_handle_t* handle) {
  delete static_cast<UpstreamConn*>(handle->data);
}

}  // namespace fiberlb::proxy

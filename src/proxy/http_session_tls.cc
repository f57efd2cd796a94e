// HttpSession, TLS to the client: ciphertext from the socket goes into the TlsChannel, and
// plaintext comes out into in_, where the HTTP side takes it exactly as it takes plaintext
// read from a socket. Writes are encrypted by out_ (StreamWriter::setTls).
//
// Back-pressure: plaintext is decrypted only while the HTTP side wants input
// (reading_client_) and in_ has room. What stays in the channel is resumed through
// Worker::resumeLater when reading restarts, since the socket may have nothing new to say.

#include "src/proxy/http_session.h"
#include "src/proxy/lb_runtime.h"
#include "src/proxy/tls_accounting.h"
#include "src/proxy/worker.h"
#include "src/util/log.h"

namespace fiberlb::proxy {

void HttpSession::onCiphertext(const char* data, size_t len) {
  if (close_when_drained_) {
    // Answered and closing: whatever the client still sends is dropped undecrypted.
    lingered_bytes_ += len;
    if (lingered_bytes_ > kMaxLingerBytes) close();
    return;
  }
  tls_input_seen_ = true;
  tls_->feed(data, len);
  pumpTls();
}

void HttpSession::onCiphertextEof(int status) {
  if (status == UV_EOF && !close_when_drained_ && tls_->hasBufferedInput()) {
    // The client finished sending, but part of what it sent is still to be decrypted (we
    // stopped for back-pressure); the end of its input comes after that.
    tls_eof_pending_ = true;
    if (reading_client_) worker_->resumeLater(this);
    return;
  }
  handleClientEof(status);
}

void HttpSession::resumeBufferedInput() {
  if (!closing_ && reading_client_) pumpTls();
}

void HttpSession::pumpTls() {
  net::BufferPool& pool = worker_->buffers();
  while (!closing_ && reading_client_) {
    if (in_.full()) return;  // parsing makes room, then startReadingClient() resumes us
    if (in_.data == nullptr) in_.data = pool.acquire();
    size_t n = 0;
    const net::tls::TlsChannel::Status status =
        tls_->read(in_.data + in_.used, net::BufferPool::kBufferSize - in_.used, &n);
    if (!handshake_counted_ && tls_->handshakeDone()) countHandshake(true);
    // Handshake records, session tickets, alerts: they go out whatever happens next.
    if (tls_->hasOutput() && !out_.flush()) {
      close();
      return;
    }
    switch (status) {
      case net::tls::TlsChannel::Status::Ok:
        in_.used += n;
        handleClientData();
        break;
      case net::tls::TlsChannel::Status::WantMore:
        in_.releaseIfEmpty(pool);
        if (tls_eof_pending_) {
          tls_eof_pending_ = false;
          handleClientEof(UV_EOF);
        }
        return;
      case net::tls::TlsChannel::Status::Closed:
        // close_notify: the client will send nothing more, like a FIN.
        in_.releaseIfEmpty(pool);
        stopReadingClient();
        tls_eof_pending_ = false;
        handleClientEof(UV_EOF);
        return;
      case net::tls::TlsChannel::Status::Error:
        tlsFailed();
        return;
    }
  }
}

// A handshake failure (TLS 1.1, no shared cipher, plaintext HTTP on a TLS port) or a broken
// record: this connection only, logged at debug (every scanner on the internet would fill
// the log otherwise), the alert OpenSSL produced is sent before closing.
void HttpSession::tlsFailed() {
  if (!handshake_counted_) {
    FLB_LOG(Debug, "lb=%s client=%s TLS handshake failed: %s", lb_->name.c_str(), client_ip_,
            tls_->error().c_str());
    countHandshake(false);
  } else {
    FLB_LOG(Debug, "lb=%s client=%s TLS error: %s", lb_->name.c_str(), client_ip_,
            tls_->error().c_str());
  }
  out_.flush();
  close();
}

void HttpSession::countHandshake(bool ok) {
  handshake_counted_ = true;
  countTlsHandshake(*shard_, *tls_, ok);
}

}  // namespace fiberlb::proxy

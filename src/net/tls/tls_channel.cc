#include "src/net/tls/tls_channel.h"

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <string>

namespace fiberlb::net::tls {

// Why two BIO_s_mem and not a BIO pair. Both cost the same copies: feed() copies the socket's
// bytes once into OpenSSL (BIO_write, or BIO_nwrite0 + memcpy into a pair's ring) and
// takeOutput() copies the ciphertext once out of it (append from BIO_get_mem_ptr, or from
// BIO_nread's pointer). They differ in memory: a pair allocates both fixed ring buffers
// (17 KiB each by default) when it is made and keeps them until the connection dies, ~34 KiB
// per idle keep-alive connection, and its bounded ring would make feed() and write() accept
// only part of their bytes. A memory BIO starts empty, grows to what one burst needs, and is
// given back below once drained, so an idle connection holds only OpenSSL's own state
// (SSL_MODE_RELEASE_BUFFERS, set by the context, frees the record buffers likewise).

namespace {

// A drained memory BIO keeps the largest buffer it ever grew to (BIO_reset only zeroes
// it). Up to this size it is kept for the next small burst (a request head, a short
// response); a larger one, e.g. after a 16 KiB record, is freed.
constexpr size_t kKeepCapacity = 2048;

// Empties `bio`, whose bytes (`mem`, from BIO_get_mem_ptr) have all been consumed.
void recycle(BIO* bio, BUF_MEM* mem) {
  if (mem->max > kKeepCapacity) {
    if (BUF_MEM* fresh = BUF_MEM_new(); fresh != nullptr) {
      BIO_set_mem_buf(bio, fresh, BIO_CLOSE);  // frees the old buffer
      return;
    }
  }
  if (mem->length != 0) BIO_reset(bio);
}

// The thread's OpenSSL error queue is shared by every connection the worker serves: a stale
// entry would make SSL_get_error() report SSL_ERROR_SSL for an innocent connection. Cleared
// on entry and on exit of every call that reaches OpenSSL (peeking first is cheaper than
// clearing the 16 slots each time).
void clearErrors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

struct ErrorQueueScope {
  ErrorQueueScope() { clearErrors(); }
  ~ErrorQueueScope() { clearErrors(); }
  ErrorQueueScope(const ErrorQueueScope&) = delete;
  ErrorQueueScope& operator=(const ErrorQueueScope&) = delete;
};

}  // namespace

TlsChannel::TlsChannel(SSL_CTX* ctx) {
  ErrorQueueScope errors;
  if (init(ctx)) SSL_set_accept_state(ssl_);
}

TlsChannel::TlsChannel(SSL_CTX* ctx, const Peer& peer) {
  ErrorQueueScope errors;
  if (!init(ctx)) return;
  SSL_set_connect_state(ssl_);
  bool ok =
      peer.server_name.empty() || SSL_set_tlsext_host_name(ssl_, peer.server_name.c_str()) == 1;
  if (ok && !peer.verify_name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    // An IP address is checked against the certificate's IP SANs, a name against its DNS ones.
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, peer.verify_name.c_str()) == 1 ||
         SSL_set1_host(ssl_, peer.verify_name.c_str()) == 1;
  }
  if (!ok) error_ = "cannot set the backend's TLS name '" + peer.verify_name + "'";
}

bool TlsChannel::init(SSL_CTX* ctx) {
  ssl_ = ctx != nullptr ? SSL_new(ctx) : nullptr;
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl_);
    ssl_ = nullptr;
    error_ = "cannot create a TLS connection (out of memory)";
    return false;
  }
  // An empty input BIO means "no ciphertext yet" (retry: SSL_ERROR_WANT_READ), never EOF:
  // the end of the stream is the socket's to report.
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(ssl_, in, out);  // ssl_ owns both now
  in_ = in;
  out_ = out;
  return true;
}

TlsChannel::~TlsChannel() {
  SSL_free(ssl_);
}

void TlsChannel::feed(const char* data, size_t len) {
  if (failed() || len == 0) return;
  ErrorQueueScope errors;
  while (len > 0) {  // one pass unless len > INT_MAX
    size_t written = 0;
    if (BIO_write_ex(in_, data, len, &written) != 1 || written == 0) {
      error_ = "cannot buffer TLS input (out of memory)";
      return;
    }
    data += written;
    len -= written;
  }
}

TlsChannel::Status TlsChannel::read(char* out, size_t cap, size_t* n) {
  *n = 0;
  if (failed()) return Status::Error;
  ErrorQueueScope errors;
  int ret = 1;
  if (!handshake_done_) {
    ret = SSL_do_handshake(ssl_);
    if (ret == 1) handshake_done_ = true;  // the client may have sent data with its Finished
  }
  if (ret == 1) {
    if (cap == 0) return Status::WantMore;  // nothing asked for; documented as a misuse
    ret = SSL_read_ex(ssl_, out, cap, n);
    if (ret == 1) return Status::Ok;
    *n = 0;
  }
  const int ssl_error = SSL_get_error(ssl_, ret);
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
      // OpenSSL holds any partial record in its own buffer, so the input BIO is usually
      // empty now: give back its memory while the connection waits.
      if (BIO_ctrl_pending(in_) == 0) {
        BUF_MEM* mem = nullptr;
        BIO_get_mem_ptr(in_, &mem);
        if (mem != nullptr) recycle(in_, mem);
      }
      return Status::WantMore;
    case SSL_ERROR_ZERO_RETURN:
      return Status::Closed;
    default:  // SSL_ERROR_SSL, SSL_ERROR_SYSCALL; WANT_WRITE cannot happen on a memory BIO
      return fail(ssl_error);
  }
}

bool TlsChannel::write(const char* data, size_t len) {
  if (failed()) return false;
  if (len == 0) return true;
  if (!handshake_done_) {
    error_ = "write before the TLS handshake completed";
    return false;
  }
  ErrorQueueScope errors;
  // A memory BIO never blocks, so one call encrypts everything (split into records by
  // OpenSSL); the loop only matters if the context set SSL_MODE_ENABLE_PARTIAL_WRITE.
  while (len > 0) {
    size_t written = 0;
    const int ret = SSL_write_ex(ssl_, data, len, &written);
    if (ret != 1) {
      fail(SSL_get_error(ssl_, ret));
      return false;
    }
    data += written;
    len -= written;
  }
  return true;
}

void TlsChannel::shutdown() {
  // SSL_shutdown must not follow a fatal error, and during the handshake it only fails.
  if (failed() || !handshake_done_ || (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) != 0) return;
  ErrorQueueScope errors;
  SSL_shutdown(ssl_);  // queues close_notify; does not wait for the peer's
}

bool TlsChannel::hasBufferedInput() const {
  if (ssl_ == nullptr || failed()) return false;
  return SSL_has_pending(ssl_) == 1 || BIO_ctrl_pending(in_) > 0;
}

bool TlsChannel::hasOutput() const {
  return out_ != nullptr && BIO_ctrl_pending(out_) > 0;
}

size_t TlsChannel::takeOutput(std::string* out) {
  if (out_ == nullptr) return 0;
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(out_, &mem);  // nothing reads out_ through the BIO: all of it is pending
  if (mem == nullptr || mem->length == 0) return 0;
  const size_t n = mem->length;
  out->append(mem->data, n);
  recycle(out_, mem);
  return n;
}

std::string TlsChannel::alpn() const {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  if (ssl_ != nullptr) SSL_get0_alpn_selected(ssl_, &proto, &len);
  if (proto == nullptr || len == 0) return {};
  return std::string(reinterpret_cast<const char*>(proto), len);
}

std::string TlsChannel::serverName() const {
  const char* name =
      ssl_ != nullptr ? SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name) : nullptr;
  return name != nullptr ? name : "";
}

const char* TlsChannel::version() const {
  return ssl_ != nullptr ? SSL_get_version(ssl_) : "";
}

bool TlsChannel::resumed() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

TlsChannel::Status TlsChannel::fail(int ssl_error) {
  const unsigned long code = ERR_get_error();  // the oldest entry: the root cause
  if (const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr) {
    error_ = reason;
    // A backend whose certificate did not verify: say what was wrong with it.
    const long verify = SSL_get_verify_result(ssl_);
    if (!SSL_is_server(ssl_) && verify != X509_V_OK)
      error_ += std::string(": ") + X509_verify_cert_error_string(verify);
  } else if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    error_ = text;
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    error_ = "unexpected end of the TLS stream";
  } else {
    error_ = "TLS failure (SSL_get_error " + std::to_string(ssl_error) + ")";
  }
  ERR_clear_error();
  return Status::Error;
}

}  // namespace fiberlb::net::tls

#pragma once
// One TLS connection driven through memory BIOs, so the event loop stays in charge of the
// socket: ciphertext read from the socket is fed in, plaintext comes out; plaintext to send
// goes in, ciphertext to write to the socket comes out. No blocking call, no extra thread.
//
// Every call leaves the thread's OpenSSL error queue empty: a worker thread serves many
// connections, and one connection's leftover error must not be blamed on the next.

#include <openssl/ssl.h>

#include <cstddef>
#include <string>

namespace fiberlb::net::tls {

class TlsChannel {
 public:
  // A server-side connection starting with `ctx` (ServerContext::defaultContext()). If
  // OpenSSL cannot allocate it, the first read() returns Error (error() says so).
  explicit TlsChannel(SSL_CTX* ctx);
  // Who a client-side channel talks to. `server_name` is sent as SNI (a hostname; "" for
  // none). `verify_name`, a hostname or an IP address, must be named by the certificate when
  // the context verifies peers ("" = the chain alone is checked).
  struct Peer {
    std::string server_name;
    std::string verify_name;
  };
  // A client-side connection (TLS to a backend) starting with `ctx` (ClientContext::get()).
  // Its first read() produces the ClientHello.
  TlsChannel(SSL_CTX* ctx, const Peer& peer);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  enum class Status {
    Ok,        // plaintext was produced (*n > 0); call read() again
    WantMore,  // needs more ciphertext from the peer (the handshake may have advanced)
    Closed,    // the peer sent close_notify
    Error,     // fatal: handshake failure, bad record, plaintext on a TLS port...
  };

  // Ciphertext received from the socket (copied; `data` may be reused at once).
  void feed(const char* data, size_t len);
  // Advances the handshake and decrypts up to `cap` (> 0) bytes into `out`; *n = bytes
  // produced. Call until it returns WantMore (or Closed/Error); after each call, send
  // takeOutput(). handshakeDone() turns true during the call that completes the handshake.
  // Once Closed or Error, every later call returns the same.
  Status read(char* out, size_t cap, size_t* n);
  // Encrypts `len` bytes of application data (only after handshakeDone()); all of them are
  // queued for takeOutput(). True for len 0. False on error (error() says why).
  bool write(const char* data, size_t len);
  // Queues a close_notify alert, once; does nothing during the handshake or after an Error
  // (the connection is then simply closed).
  void shutdown();

  // Input that read() has not turned into plaintext yet: decrypted bytes OpenSSL holds or
  // ciphertext still in the input buffer. A reader that stopped early (no room) must come
  // back for it even if the socket stays silent.
  bool hasBufferedInput() const;

  // Ciphertext to write to the socket: handshake records, alerts, encrypted data.
  bool hasOutput() const;
  // Appends all pending ciphertext to `out`; returns the number of bytes appended.
  size_t takeOutput(std::string* out);

  bool handshakeDone() const { return handshake_done_; }
  // After the handshake: the negotiated protocol ("http/1.1" or ""), the SNI name the client
  // sent ("" if none), the version ("TLSv1.3") and whether the session was resumed.
  std::string alpn() const;
  std::string serverName() const;
  const char* version() const;
  bool resumed() const;
  // Why the last Error happened, in operator words (OpenSSL's reason string, e.g.
  // "http request" for plaintext HTTP on a TLS port, "unsupported protocol" for TLS 1.1).
  const std::string& error() const { return error_; }

 private:
  bool init(SSL_CTX* ctx);
  Status fail(int ssl_error);
  bool failed() const { return !error_.empty(); }

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool handshake_done_ = false;
  std::string error_;  // non-empty once failed: the channel is dead
};

}  // namespace fiberlb::net::tls

#pragma once
// TLS to backends (SPEC §3 backend `tls = true`): a client context per distinct (CA file,
// verify) pair, built on the control thread and shared read-only by the workers.
//
// TLS 1.2 and 1.3, the same Mozilla "intermediate" ciphers as the listeners. With verify, the
// backend's chain must lead to the CA file's certificates (or the system's CA store when no
// file is given) and name the backend (TlsChannel's client peer), or the connect fails.

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace fiberlb::net::tls {

class ClientContext {
 public:
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // nullptr + `error` naming the file when the CA file does not load.
  static std::shared_ptr<ClientContext> create(const std::string& ca_file, bool verify,
                                               std::string* error);

  // Connections hold their own reference: the context may go away before them.
  SSL_CTX* get() const { return ctx_; }
  bool verify() const { return verify_; }

 private:
  ClientContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  SSL_CTX* ctx_;
  bool verify_;
};

}  // namespace fiberlb::net::tls

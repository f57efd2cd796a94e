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

#include "config/config.h"
#include "src/net/tls/tls_channel.h"

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

// Who a backend with `tls = true` is, for its TLS connections and its health checks alike: the
// name is tls_server_name, else the address; it is sent as SNI only when it is a host name,
// and checked against the certificate (DNS or IP SANs) only with tls_verify.
TlsChannel::Peer backendPeer(const config::Backend& backend);

}  // namespace fiberlb::net::tls

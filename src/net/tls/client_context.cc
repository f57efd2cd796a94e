#include "src/net/tls/client_context.h"

#include <openssl/err.h>

#include <cstring>

#include "config/value_syntax.h"
#include "src/net/tls/profile.h"

namespace fiberlb::net::tls {
namespace {

std::string takeErrorText() {
  std::string text = "unknown OpenSSL error";
  bool first = true;
  while (const unsigned long e = ERR_get_error()) {
    if (!first) continue;
    first = false;
    if (ERR_SYSTEM_ERROR(e)) {
      text = std::strerror(ERR_GET_REASON(e));
    } else if (const char* reason = ERR_reason_error_string(e)) {
      text = reason;
    }
  }
  return text;
}

}  // namespace

ClientContext::~ClientContext() {
  SSL_CTX_free(ctx_);
}

std::shared_ptr<ClientContext> ClientContext::create(const std::string& ca_file, bool verify,
                                                     std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  std::shared_ptr<ClientContext> self;
  if (ctx != nullptr) self.reset(new ClientContext(ctx, verify));  // frees ctx from now on
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    *error = "cannot set up a TLS client context: " + takeErrorText();
    return nullptr;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return self;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    *error = (ca_file.empty() ? std::string("the system's CA store") : ca_file) +
             ": cannot load CA certificates: " + takeErrorText();
    return nullptr;
  }
  return self;
}

TlsChannel::Peer backendPeer(const config::Backend& backend) {
  const std::string& name =
      backend.tls_server_name.empty() ? backend.address : backend.tls_server_name;
  TlsChannel::Peer peer;
  peer.server_name = config::isIpLiteral(name) ? "" : name;
  peer.verify_name = backend.tls_verify ? name : "";
  return peer;
}

}  // namespace fiberlb::net::tls

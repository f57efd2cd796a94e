#include "src/net/tls/tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "src/net/tls/profile.h"

namespace fiberlb::net::tls {

namespace {

// ALPN protocols we serve over HTTP, in wire format (length-prefixed), preferred first.
// http/1.0 too, as nginx does: the proxy speaks both.
constexpr unsigned char kHttpAlpn[] = "\x08http/1.1\x08http/1.0";

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

// The root cause at the front of this thread's OpenSSL error queue, in words; empties the
// queue. `code` is 0 when the queue was empty.
struct QueuedError {
  unsigned long code = 0;
  std::string text = "unknown OpenSSL error";
};

QueuedError takeError() {
  QueuedError out;
  while (const unsigned long e = ERR_get_error()) {
    if (out.code != 0) continue;
    out.code = e;
    if (ERR_SYSTEM_ERROR(e)) {
      out.text = std::strerror(ERR_GET_REASON(e));  // "No such file or directory"
    } else if (const char* reason = ERR_reason_error_string(e)) {
      out.text = reason;
    }
  }
  return out;
}

// The file had no PEM block of the expected kind (garbage, DER, the wrong kind of PEM).
bool isNotPem(unsigned long code) {
  const int lib = ERR_GET_LIB(code);
  const int reason = ERR_GET_REASON(code);
  return (lib == ERR_LIB_PEM && reason == PEM_R_NO_START_LINE) ||
         (lib == ERR_LIB_OSSL_DECODER && reason == ERR_R_UNSUPPORTED);
}

bool isKeyMismatch(unsigned long code) {
  return ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
}

// Never prompts on a terminal for the pass phrase of an encrypted key: it just fails.
int noPassword(char*, int, int, void*) {
  return 0;
}

// One certificate's context with the common protocol settings. nullptr + `error` when a
// file does not load.
CtxPtr loadCertificate(const std::string& cert_file, const std::string& key_file, int min_version,
                       std::string* error) {
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx.get(), kGroups) != 1) {
    *error = "cannot set up a TLS context: " + takeError().text;
    return nullptr;
  }
  // Renegotiation is a DoS vector and HTTP/1.1 does not need it; Mozilla intermediate lets
  // the client pick among equally strong ciphers (it knows whether it has AES hardware).
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An idle keep-alive connection gives its 2 × 16 KiB record buffers back.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx.get(), noPassword);

  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    const QueuedError e = takeError();
    *error = cert_file + (isNotPem(e.code) ? ": not a PEM certificate"
                                           : ": cannot read the certificate chain: " + e.text);
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const QueuedError e = takeError();
    if (isKeyMismatch(e.code)) {
      *error = key_file + ": private key does not match the certificate " + cert_file;
    } else if (isNotPem(e.code)) {
      *error = key_file + ": not a PEM private key (or one encrypted with a pass phrase)";
    } else {
      *error = key_file + ": cannot read the private key: " + e.text;
    }
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    takeError();
    *error = key_file + ": private key does not match the certificate " + cert_file;
    return nullptr;
  }
  return ctx;
}

// Sessions resume only within the same session id context: derived from the default
// certificate, it is the same for every worker and every ServerContext built from the same
// files (so any worker resumes any session), the same across the SNI contexts of one
// listener (so resumption survives SSL_set_SSL_CTX), and differs between listeners.
bool setSessionIdContext(SSL_CTX* ctx, X509* default_cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(default_cert, EVP_sha256(), digest, &len) != 1) return false;
  len = std::min(len, static_cast<unsigned int>(SSL_MAX_SID_CTX_LENGTH));
  return SSL_CTX_set_session_id_context(ctx, digest, len) == 1;
}

// "*.example.com" matches exactly one non-empty label in front of ".example.com".
bool wildcardMatches(std::string_view pattern, std::string_view name) {
  if (pattern.size() < 3 || pattern.substr(0, 2) != "*.") return false;
  const std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (name.size() <= suffix.size()) return false;
  const size_t label_len = name.size() - suffix.size();
  return name.substr(0, label_len).find('.') == std::string_view::npos &&
         OPENSSL_strncasecmp(name.data() + label_len, suffix.data(), suffix.size()) == 0;
}

// AES-256-CBC fetched once: an explicit fetch spares a provider lookup per ticket.
const EVP_CIPHER* ticketCipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// TicketKeys

TicketKeys::TicketKeys() {
  rotate();
}

// Without randomness there is no safe key: no new key then (no tickets at all at first),
// which only costs full handshakes.
bool TicketKeys::freshKey(Key* key) {
  return RAND_bytes(key->name, sizeof key->name) == 1 &&
         RAND_bytes(key->aes, sizeof key->aes) == 1 && RAND_bytes(key->hmac, sizeof key->hmac) == 1;
}

bool TicketKeys::rotate() {
  Key key{};
  if (!freshKey(&key)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  keys_.insert(keys_.begin(), key);
  if (keys_.size() > kKeep) {
    OPENSSL_cleanse(&keys_.back(), sizeof(Key));
    keys_.pop_back();
  }
  OPENSSL_cleanse(&key, sizeof key);
  return true;
}

int TicketKeys::handle(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                       EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  Key key{};
  bool renew = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (encrypt) {
      if (keys_.empty()) return 0;  // no ticket is issued
      key = keys_.front();
    } else {
      auto it = std::find_if(keys_.begin(), keys_.end(), [key_name](const Key& k) {
        return std::memcmp(k.name, key_name, sizeof k.name) == 0;
      });
      if (it == keys_.end()) return 0;  // expired or foreign: a full handshake follows
      key = *it;
      // TLS 1.3 clients use a ticket once (RFC 8446 §C.4; OpenSSL's client forgets a session
      // it resumed), so a resumption must hand out a fresh ticket or the next connection is
      // a full handshake. OpenSSL issues one only when asked to renew. TLS 1.2 tickets are
      // reused as they are until their key ages.
      renew = it != keys_.begin() || SSL_version(ssl) >= TLS1_3_VERSION;
    }
  }
  int result = renew ? 2 : 1;
  const EVP_CIPHER* aes = ticketCipher();
  if (encrypt) {
    std::memcpy(key_name, key.name, sizeof key.name);
    if (aes == nullptr || RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1 ||
        EVP_EncryptInit_ex(cipher, aes, nullptr, key.aes, iv) != 1) {
      result = -1;
    }
  } else if (aes == nullptr || EVP_DecryptInit_ex(cipher, aes, nullptr, key.aes, iv) != 1) {
    result = -1;
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, sizeof key.hmac),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (result > 0 && EVP_MAC_CTX_set_params(mac, params) != 1) result = -1;
  OPENSSL_cleanse(&key, sizeof key);
  return result;
}

// ---------------------------------------------------------------------------------------
// ServerContext

// The default SSL_CTX owns its ServerContext through this ex_data slot: freeing the last
// reference to the SSL_CTX deletes it.
int ServerContext::ownerIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &ServerContext::onDefaultContextFree);
  return index;
}

// Every SSL_CTX of a ServerContext points back to it here (not owning), for the ticket key
// callback, which gets no argument of its own.
int ServerContext::selfIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void ServerContext::onDefaultContextFree(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<ServerContext*>(ptr);  // called for every SSL_CTX; null for most
}

ServerContext::~ServerContext() {
  // contexts_[0] is the one being freed (it owns us); the SNI contexts are ours.
  for (size_t i = 1; i < contexts_.size(); ++i)
    SSL_CTX_free(contexts_[i].ctx);
}

std::shared_ptr<ServerContext> ServerContext::create(const config::Tls& tls,
                                                     std::shared_ptr<TicketKeys> keys,
                                                     std::string* error,
                                                     config::SourcePos* error_pos,
                                                     config::Protocol protocol) {
  const int min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  std::vector<std::pair<std::string, CtxPtr>> loaded;
  auto load = [&](const std::string& server_name, const std::string& cert_file,
                  const std::string& key_file, config::SourcePos pos) {
    CtxPtr ctx = loadCertificate(cert_file, key_file, min_version, error);
    if (!ctx) {
      if (error_pos != nullptr) *error_pos = pos;
      return false;
    }
    loaded.emplace_back(server_name, std::move(ctx));
    return true;
  };
  if (!load("", tls.cert_file, tls.key_file, tls.pos)) return nullptr;
  for (const config::SniCert& sni : tls.sni) {
    if (!load(sni.server_name, sni.cert_file, sni.key_file, sni.pos)) return nullptr;
  }
  X509* default_cert = SSL_CTX_get0_certificate(loaded.front().second.get());
  for (auto& [name, ctx] : loaded) {
    if (!setSessionIdContext(ctx.get(), default_cert)) {
      *error = "cannot set the TLS session id context: " + takeError().text;
      if (error_pos != nullptr) *error_pos = tls.pos;
      return nullptr;
    }
  }

  auto* self = new ServerContext;
  self->keys_ = keys ? std::move(keys) : std::make_shared<TicketKeys>();
  self->alpn_http_ = protocol == config::Protocol::Http;
  // Ownership last: until the default context owns `self`, a failure just deletes it.
  bool linked = ownerIndex() >= 0 && selfIndex() >= 0;
  for (auto& entry : loaded)
    linked = linked && SSL_CTX_set_ex_data(entry.second.get(), selfIndex(), self) == 1;
  if (!linked || SSL_CTX_set_ex_data(loaded.front().second.get(), ownerIndex(), self) != 1) {
    delete self;  // owns no context yet; `loaded` frees them
    *error = "cannot set up a TLS context: " + takeError().text;
    if (error_pos != nullptr) *error_pos = tls.pos;
    return nullptr;
  }
  for (auto& [name, ctx] : loaded) {
    self->attach(ctx.get());
    self->contexts_.push_back(Named{std::move(name), ctx.release()});
  }
  // The shared_ptr holds one reference to the default SSL_CTX; connections hold others.
  return std::shared_ptr<ServerContext>(
      self, [](ServerContext* context) { SSL_CTX_free(context->defaultContext()); });
}

// OpenSSL consults some callbacks on the context a connection started with and others on
// the one SNI switched it to, so every context gets all of them.
void ServerContext::attach(SSL_CTX* ctx) {
  SSL_CTX_set_tlsext_servername_callback(ctx, &ServerContext::onServerName);
  SSL_CTX_set_tlsext_servername_arg(ctx, this);
  if (alpn_http_) SSL_CTX_set_alpn_select_cb(ctx, &ServerContext::onAlpn, this);
  // Tickets only, no server-side session cache: a ticket resumes on any worker.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &ServerContext::onTicketKey);
  SSL_CTX_set_num_tickets(ctx, 1);  // TLS 1.3 sends 2 by default; one is enough for us
}

SSL_CTX* ServerContext::contextFor(const char* server_name) const {
  std::string_view name(server_name);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "a.example." = "a.example"
  const Named* wildcard = nullptr;
  for (size_t i = 1; i < contexts_.size(); ++i) {
    const std::string& candidate = contexts_[i].server_name;
    if (candidate.size() == name.size() &&
        OPENSSL_strncasecmp(candidate.data(), name.data(), name.size()) == 0) {
      return contexts_[i].ctx;  // an exact name wins over any wildcard
    }
    if (wildcard == nullptr && wildcardMatches(candidate, name)) wildcard = &contexts_[i];
  }
  return wildcard != nullptr ? wildcard->ctx : contexts_.front().ctx;
}

int ServerContext::onServerName(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;  // no SNI: the default certificate
  SSL_CTX* chosen = static_cast<const ServerContext*>(arg)->contextFor(name);
  if (chosen != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, chosen);
  // An unknown name keeps the default certificate without an alert, as nginx does: the
  // client decides whether the certificate will do.
  return SSL_TLSEXT_ERR_OK;
}

// Like nginx: a client that offers ALPN but none of our protocols gets a fatal
// no_application_protocol alert (RFC 7301 §3.2) rather than a connection on which it would
// speak a protocol we do not understand. A client that offers no ALPN is served HTTP/1.x.
int ServerContext::onAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
                          const unsigned char* in, unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttpAlpn, sizeof kHttpAlpn - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int ServerContext::onTicketKey(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                               EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  const auto* self =
      static_cast<const ServerContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), selfIndex()));
  if (self == nullptr) return -1;
  return self->keys_->handle(ssl, key_name, iv, cipher, mac, encrypt);
}

}  // namespace fiberlb::net::tls

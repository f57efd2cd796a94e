#pragma once
// Server-side TLS contexts (SPEC §3 [tls], §7): one per TLS listener, built from the LB's
// [standalone.loadbalancers.tls] table on the control thread and shared read-only by every
// worker (OpenSSL's SSL_CTX is safe to create SSL objects from on many threads).
//
// TLS 1.2 and 1.3 only (min_version), the Mozilla "intermediate" profile (ECDHE + AEAD
// only), ALPN "http/1.1", SNI choosing among [[tls.sni]] certificates with the default
// certificate for unknown names, certificate chains, session tickets whose keys rotate and
// are shared by all workers (so a ticket issued by one worker resumes on any other).

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::net::tls {

// Session ticket keys shared by every context of the process. The newest key encrypts new
// tickets; older ones still decrypt (and ask for a renewed ticket) until they age out.
// Rotation happens on the control thread; handshakes on workers read under a mutex held
// for a 80-byte copy — once per full or resumed handshake, never per request.
class TicketKeys {
 public:
  static constexpr size_t kKeep = 3;  // keys that still decrypt: the current one and 2 older

  TicketKeys();  // starts with one fresh random key
  // A fresh key becomes the current one; the oldest beyond kKeep is forgotten. False (and
  // nothing changes) when the system has no randomness to give.
  bool rotate();
  // For SSL_CTX_set_tlsext_ticket_key_evp_cb. Returns what OpenSSL expects: 1 = ok,
  // 2 = ok but renew the ticket (decrypted with an older key), 0 = unknown key, -1 = error.
  int handle(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
             EVP_MAC_CTX* mac, int encrypt);

 private:
  struct Key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
  };
  static bool freshKey(Key* key);
  std::mutex mu_;
  std::vector<Key> keys_;  // newest first
};

// Lifetime: the SSL_CTXs own the ServerContext, not the other way round. Every SSL made
// from defaultContext() holds a reference to that SSL_CTX, which keeps this object (its SNI
// contexts and ticket keys) alive until the last such connection is freed — so dropping
// the shared_ptr on reload never pulls the contexts from under established connections.
class ServerContext {
 public:
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // Loads the default certificate chain and key and every SNI certificate, checks each key
  // matches its certificate, applies min_version, ciphers and ALPN. nullptr + `error` in
  // operator words naming the file on failure (e.g. "certs/api.key: private key does not
  // match the certificate certs/api.crt"); `error_pos`, when given, receives the position
  // of the table at fault (tls.pos or the [[tls.sni]] entry's pos).
  // `keys` is shared with every other context (nullptr: keys of its own).
  // `protocol` decides ALPN: Http negotiates "http/1.1" and refuses a client that offers
  // only other protocols; Tcp (an opaque TLS tunnel) ignores ALPN.
  static std::shared_ptr<ServerContext> create(const config::Tls& tls,
                                               std::shared_ptr<TicketKeys> keys, std::string* error,
                                               config::SourcePos* error_pos = nullptr,
                                               config::Protocol protocol = config::Protocol::Http);

  // The context new connections start with (the default certificate). SNI may switch a
  // connection to another certificate's context during the handshake.
  SSL_CTX* defaultContext() const { return contexts_.front().ctx; }

 private:
  struct Named {
    std::string server_name;  // "" for the default certificate; may be "*.example.com"
    SSL_CTX* ctx = nullptr;
  };
  ServerContext() = default;
  ~ServerContext();  // frees the SNI contexts; run when the default SSL_CTX is freed
  static int onServerName(SSL* ssl, int* alert, void* arg);
  static int onAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                    const unsigned char* in, unsigned int inlen, void* arg);
  static int onTicketKey(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt);
  static void onDefaultContextFree(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int index,
                                   long argl, void* argp);
  static int ownerIndex();
  static int selfIndex();
  void attach(SSL_CTX* ctx);
  SSL_CTX* contextFor(const char* server_name) const;

  std::shared_ptr<TicketKeys> keys_;
  bool alpn_http_ = true;
  std::vector<Named> contexts_;  // [0] = default
};

}  // namespace fiberlb::net::tls

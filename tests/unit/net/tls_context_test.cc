// ServerContext and TicketKeys (SPEC §7): certificate loading errors in operator words, and
// real handshakes between an OpenSSL client and a server SSL made from the context, over an
// in-memory BIO pair (no sockets): protocol versions, cipher profile, SNI, ALPN, chains and
// ticket resumption across contexts sharing the same keys.

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "src/net/tls/tls_context.h"
#include "tests/unit/net/tls_test_certs.h"

namespace fiberlb::net::tls {
namespace {

using testing::TempCertDir;
using testing::TestCert;

// Generated once for the whole file: keys are cheap, but there is no need to repeat them.
struct Certs {
  TempCertDir dir;
  TestCert def = testing::makeSelfSigned(dir.path(), "default.test");
  TestCert a = testing::makeSelfSigned(dir.path(), "a.example");
  TestCert wild = testing::makeSelfSigned(dir.path(), "*.wild.example");
  TestCert ca = testing::makeCa(dir.path(), "Test CA");
  TestCert chain = testing::makeCaSigned(dir.path(), "chain.test", ca);
  std::string garbage = write("garbage.pem", "this is not PEM\n");

  std::string write(const std::string& name, const std::string& text) const {
    std::string path = dir.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

const Certs& certs() {
  static const Certs* const instance = new Certs;  // the files outlive every test
  return *instance;
}

config::Tls tlsWith(const TestCert& cert) {
  config::Tls tls;
  tls.cert_file = cert.cert_path;
  tls.key_file = cert.key_path;
  tls.pos = {7, 1};
  return tls;
}

// The default certificate plus a.example and *.wild.example by SNI.
config::Tls sniConfig() {
  config::Tls tls = tlsWith(certs().def);
  tls.sni.push_back({"a.example", certs().a.cert_path, certs().a.key_path, {12, 1}});
  tls.sni.push_back({"*.wild.example", certs().wild.cert_path, certs().wild.key_path, {16, 1}});
  return tls;
}

std::shared_ptr<ServerContext> mustCreate(const config::Tls& tls,
                                          std::shared_ptr<TicketKeys> keys = nullptr,
                                          config::Protocol protocol = config::Protocol::Http) {
  std::string error;
  if (!keys) keys = std::make_shared<TicketKeys>();
  auto ctx = ServerContext::create(tls, std::move(keys), &error, nullptr, protocol);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

std::string createError(const config::Tls& tls, config::SourcePos* pos = nullptr) {
  std::string error;
  auto ctx = ServerContext::create(tls, std::make_shared<TicketKeys>(), &error, pos);
  EXPECT_FALSE(ctx);
  EXPECT_EQ(ERR_peek_error(), 0u) << "the OpenSSL error queue is left clean";
  return error;
}

// ---------------------------------------------------------------------------------------
// A client and a server SSL joined by a BIO pair, handshaken step by step.

struct ClientOptions {
  std::string sni;   // "" = no server_name extension
  std::string alpn;  // wire format ("\x08http/1.1"); "" = no ALPN extension
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string ciphers;             // TLS 1.2 cipher list; "" = OpenSSL's default
  SSL_SESSION* session = nullptr;  // to resume
  std::string ca_file;             // verify the server's chain against it
};

class Handshake {
 public:
  Handshake(SSL_CTX* server_ctx, const ClientOptions& o) {
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(client_ctx_, o.min_version);
    SSL_CTX_set_max_proto_version(client_ctx_, o.max_version);
    if (o.min_version < TLS1_2_VERSION) {
      SSL_CTX_set_security_level(client_ctx_, 0);  // let the client even offer TLS 1.1
      SSL_CTX_set_cipher_list(client_ctx_, "DEFAULT:@SECLEVEL=0");
    }
    if (!o.ciphers.empty()) SSL_CTX_set_cipher_list(client_ctx_, o.ciphers.c_str());
    if (!o.ca_file.empty()) {
      SSL_CTX_load_verify_locations(client_ctx_, o.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_PEER, nullptr);
    }
    client_ = SSL_new(client_ctx_);
    server_ = SSL_new(server_ctx);
    if (!o.sni.empty()) SSL_set_tlsext_host_name(client_, o.sni.c_str());
    if (!o.alpn.empty()) {
      SSL_set_alpn_protos(client_, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                          static_cast<unsigned int>(o.alpn.size()));
    }
    if (o.session != nullptr) SSL_set_session(client_, o.session);
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(client_, client_bio, client_bio);
    SSL_set_bio(server_, server_bio, server_bio);
    SSL_set_connect_state(client_);
    SSL_set_accept_state(server_);
    run();
  }
  ~Handshake() {
    // Freed without a shutdown, OpenSSL would mark the client's session not resumable.
    SSL_set_shutdown(client_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(client_);
    SSL_free(server_);
    SSL_CTX_free(client_ctx_);
    ERR_clear_error();
  }
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  bool ok() const { return client_done_ && server_done_; }
  // Why the server failed: OpenSSL's reason code (SSL_R_...) and text; 0 / "" if it did not.
  int serverReason() const { return server_reason_; }
  const std::string& serverError() const { return server_error_; }

  // The common name of the certificate the client received.
  std::string peerName() const {
    X509* cert = SSL_get0_peer_certificate(client_);
    if (cert == nullptr) return "";
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    return name;
  }
  std::string alpn() const {
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(client_, &proto, &len);
    return std::string(reinterpret_cast<const char*>(proto), len);
  }
  bool resumed() const { return SSL_session_reused(client_) == 1; }
  const char* version() const { return SSL_get_version(client_); }
  const char* cipher() const { return SSL_get_cipher_name(client_); }
  long verifyResult() const { return SSL_get_verify_result(client_); }
  int chainLength() const { return sk_X509_num(SSL_get_peer_cert_chain(client_)); }

  // The client's session after reading what the server sent once the handshake finished
  // (TLS 1.3 tickets come then). The caller owns it.
  SSL_SESSION* session() {
    char byte;
    SSL_read(client_, &byte, 1);  // processes NewSessionTicket; no data: WANT_READ
    ERR_clear_error();
    return SSL_get1_session(client_);
  }

 private:
  // Advances one side; false once it failed (the first reason is kept for the server).
  bool step(SSL* ssl, bool& done, bool& failed, bool is_server) {
    if (done || failed) return !failed;
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
      done = true;
      return true;
    }
    const int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    failed = true;
    if (is_server) {
      const unsigned long e = ERR_peek_error();
      server_reason_ = ERR_GET_REASON(e);
      const char* text = ERR_reason_error_string(e);
      server_error_ = text != nullptr ? text : "error " + std::to_string(err);
    }
    return false;
  }
  void run() {
    for (int i = 0; i < 20 && !ok(); ++i) {
      const bool client_ok = step(client_, client_done_, client_failed_, false);
      // The server runs even after the client failed: it reads the client's alert.
      const bool server_ok = step(server_, server_done_, server_failed_, true);
      if (!client_ok && !server_ok) return;
      if (!server_ok) step(client_, client_done_, client_failed_, false);  // reads our alert
      if (!client_ok || !server_ok) return;
    }
  }

  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  SSL* server_ = nullptr;
  bool client_done_ = false;
  bool server_done_ = false;
  bool client_failed_ = false;
  bool server_failed_ = false;
  int server_reason_ = 0;
  std::string server_error_;
};

struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

// A full handshake's session, to resume later.
SessionPtr firstSession(SSL_CTX* server, int version) {
  Handshake h(server, {.min_version = version, .max_version = version});
  EXPECT_TRUE(h.ok()) << h.serverError();
  EXPECT_FALSE(h.resumed());
  return SessionPtr(h.session());
}

// ---------------------------------------------------------------------------------------
// Loading certificates

TEST(TlsContext, CreatesAContextForAValidCertificate) {
  auto ctx = mustCreate(sniConfig());
  ASSERT_TRUE(ctx);
  EXPECT_NE(ctx->defaultContext(), nullptr);
}

TEST(TlsContext, MissingCertificateFileNamesIt) {
  config::Tls tls = tlsWith(certs().def);
  tls.cert_file = certs().dir.path() + "/certs/api.crt";
  EXPECT_EQ(createError(tls),
            tls.cert_file + ": cannot read the certificate chain: No such file or directory");
}

TEST(TlsContext, MissingKeyFileNamesIt) {
  config::Tls tls = tlsWith(certs().def);
  tls.key_file = certs().dir.path() + "/certs/api.key";
  EXPECT_EQ(createError(tls),
            tls.key_file + ": cannot read the private key: No such file or directory");
}

TEST(TlsContext, MismatchedKeyNamesBothFiles) {
  config::Tls tls = tlsWith(certs().def);
  tls.key_file = certs().a.key_path;
  EXPECT_EQ(createError(tls),
            tls.key_file + ": private key does not match the certificate " + tls.cert_file);
}

TEST(TlsContext, GarbageCertificateIsNotPem) {
  config::Tls tls = tlsWith(certs().def);
  tls.cert_file = certs().garbage;
  EXPECT_EQ(createError(tls), certs().garbage + ": not a PEM certificate");
  tls.cert_file = certs().def.key_path;  // a key where the certificate should be
  EXPECT_EQ(createError(tls), certs().def.key_path + ": not a PEM certificate");
}

TEST(TlsContext, GarbageKeyIsNotPem) {
  config::Tls tls = tlsWith(certs().def);
  tls.key_file = certs().garbage;
  EXPECT_EQ(createError(tls),
            certs().garbage + ": not a PEM private key (or one encrypted with a pass phrase)");
}

TEST(TlsContext, ABadSniCertificateIsReportedAtItsEntry) {
  config::Tls tls = sniConfig();
  tls.sni[1].key_file = certs().a.key_path;
  config::SourcePos pos;
  const std::string error = createError(tls, &pos);
  EXPECT_NE(error.find(certs().a.key_path + ": private key does not match"), std::string::npos)
      << error;
  EXPECT_EQ(pos.line, 16);

  tls = sniConfig();
  tls.cert_file = certs().garbage;
  createError(tls, &pos);
  EXPECT_EQ(pos.line, 7) << "the default certificate is blamed on the [tls] table";
}

TEST(TlsContext, LoadsACertificateChain) {
  auto ctx = mustCreate(tlsWith(certs().chain));
  ASSERT_TRUE(ctx);
  Handshake h(ctx->defaultContext(), {.ca_file = certs().ca.cert_path});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_EQ(h.verifyResult(), X509_V_OK);
  EXPECT_EQ(h.chainLength(), 2) << "the leaf and its CA";
}

// ---------------------------------------------------------------------------------------
// Versions and ciphers

TEST(TlsContext, AClientWithoutAlpnGetsTls13) {
  auto ctx = mustCreate(tlsWith(certs().def));
  Handshake h(ctx->defaultContext(), {});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_STREQ(h.version(), "TLSv1.3");
  EXPECT_EQ(h.alpn(), "") << "no ALPN offered, none selected, still served";
}

TEST(TlsContext, RefusesATls11Client) {
  auto ctx = mustCreate(tlsWith(certs().def));
  Handshake h(ctx->defaultContext(),
              {.min_version = TLS1_1_VERSION, .max_version = TLS1_1_VERSION});
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.serverReason(), SSL_R_UNSUPPORTED_PROTOCOL) << h.serverError();
}

TEST(TlsContext, MinVersion13RefusesATls12Client) {
  config::Tls tls = tlsWith(certs().def);
  tls.min_version = "1.3";
  auto ctx = mustCreate(tls);
  Handshake refused(ctx->defaultContext(), {.max_version = TLS1_2_VERSION});
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.serverReason(), SSL_R_UNSUPPORTED_PROTOCOL) << refused.serverError();
  Handshake accepted(ctx->defaultContext(), {});
  EXPECT_TRUE(accepted.ok()) << accepted.serverError();
}

TEST(TlsContext, Tls12UsesOnlyEcdheWithAead) {
  auto ctx = mustCreate(tlsWith(certs().def));
  Handshake h(ctx->defaultContext(), {.max_version = TLS1_2_VERSION});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_STREQ(h.version(), "TLSv1.2");
  const std::string cipher = h.cipher();
  EXPECT_EQ(cipher.rfind("ECDHE-ECDSA-", 0), 0u) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20") != std::string::npos)
      << cipher;

  // Static key exchange, CBC: nothing in common with the profile.
  Handshake cbc(ctx->defaultContext(),
                {.max_version = TLS1_2_VERSION, .ciphers = "AES128-SHA:ECDHE-ECDSA-AES128-SHA"});
  EXPECT_FALSE(cbc.ok());
  EXPECT_EQ(cbc.serverReason(), SSL_R_NO_SHARED_CIPHER) << cbc.serverError();
}

// ---------------------------------------------------------------------------------------
// SNI

TEST(TlsSni, AnExactNameGetsItsCertificateWhateverTheCase) {
  auto ctx = mustCreate(sniConfig());
  for (const char* name : {"a.example", "A.Example", "a.example."}) {
    Handshake h(ctx->defaultContext(), {.sni = name});
    ASSERT_TRUE(h.ok()) << name << ": " << h.serverError();
    EXPECT_EQ(h.peerName(), "a.example") << name;
  }
}

TEST(TlsSni, AWildcardMatchesExactlyOneLabel) {
  auto ctx = mustCreate(sniConfig());
  const std::pair<const char*, const char*> cases[] = {
      {"x.wild.example", "*.wild.example"}, {"X.WILD.example", "*.wild.example"},
      {"wild.example", "default.test"},      // no label for the '*'
      {"a.b.wild.example", "default.test"},  // two labels
      {"xwild.example", "default.test"},
  };
  for (const auto& [sni, expected] : cases) {
    Handshake h(ctx->defaultContext(), {.sni = sni});
    ASSERT_TRUE(h.ok()) << sni << ": " << h.serverError();
    EXPECT_EQ(h.peerName(), expected) << sni;
  }
}

TEST(TlsSni, AnUnknownNameOrNoneGetsTheDefaultCertificate) {
  auto ctx = mustCreate(sniConfig());
  Handshake unknown(ctx->defaultContext(), {.sni = "unknown.example"});
  ASSERT_TRUE(unknown.ok()) << unknown.serverError();
  EXPECT_EQ(unknown.peerName(), "default.test");
  Handshake none(ctx->defaultContext(), {});
  ASSERT_TRUE(none.ok()) << none.serverError();
  EXPECT_EQ(none.peerName(), "default.test");
}

// ---------------------------------------------------------------------------------------
// ALPN

TEST(TlsAlpn, NegotiatesHttp11) {
  auto ctx = mustCreate(sniConfig());
  Handshake h(ctx->defaultContext(), {.alpn = std::string("\x02h2\x08http/1.1", 12)});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_EQ(h.alpn(), "http/1.1");
  // Also after SNI switched the connection to another certificate's context.
  Handshake switched(ctx->defaultContext(), {.sni = "a.example", .alpn = "\x08http/1.1"});
  ASSERT_TRUE(switched.ok()) << switched.serverError();
  EXPECT_EQ(switched.alpn(), "http/1.1");
}

TEST(TlsAlpn, AClientOfferingOnlyOtherProtocolsIsRefusedOnHttp) {
  auto ctx = mustCreate(tlsWith(certs().def));
  Handshake h(ctx->defaultContext(), {.alpn = "\x02h2"});
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.serverReason(), SSL_R_NO_APPLICATION_PROTOCOL) << h.serverError();
}

TEST(TlsAlpn, ATcpListenerIgnoresAlpn) {
  auto ctx = mustCreate(tlsWith(certs().def), nullptr, config::Protocol::Tcp);
  Handshake h(ctx->defaultContext(), {.alpn = "\x08postgres"});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_EQ(h.alpn(), "");
}

// ---------------------------------------------------------------------------------------
// Session tickets

class TlsTickets : public ::testing::TestWithParam<int> {};

TEST_P(TlsTickets, ATicketResumesOnAnotherContextSharingTheKeys) {
  auto keys = std::make_shared<TicketKeys>();
  auto worker1 = mustCreate(sniConfig(), keys);
  auto worker2 = mustCreate(sniConfig(), keys);  // another worker's (or a reload's) context
  SessionPtr session = firstSession(worker1->defaultContext(), GetParam());
  ASSERT_TRUE(session);
  Handshake h(worker2->defaultContext(),
              {.min_version = GetParam(), .max_version = GetParam(), .session = session.get()});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_TRUE(h.resumed());
}

TEST_P(TlsTickets, OtherKeysMeanAFullHandshake) {
  auto ctx1 = mustCreate(sniConfig());
  auto ctx2 = mustCreate(sniConfig());  // its own TicketKeys
  SessionPtr session = firstSession(ctx1->defaultContext(), GetParam());
  Handshake h(ctx2->defaultContext(),
              {.min_version = GetParam(), .max_version = GetParam(), .session = session.get()});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_FALSE(h.resumed());
}

TEST_P(TlsTickets, ResumesAfterSniSwitchedTheContext) {
  auto keys = std::make_shared<TicketKeys>();
  auto ctx = mustCreate(sniConfig(), keys);
  ClientOptions o{.sni = "a.example", .min_version = GetParam(), .max_version = GetParam()};
  Handshake first(ctx->defaultContext(), o);
  ASSERT_TRUE(first.ok()) << first.serverError();
  SessionPtr session(first.session());
  o.session = session.get();
  Handshake second(mustCreate(sniConfig(), keys)->defaultContext(), o);
  ASSERT_TRUE(second.ok()) << second.serverError();
  EXPECT_TRUE(second.resumed());
  EXPECT_EQ(second.peerName(), "a.example");
}

TEST_P(TlsTickets, AnOlderKeyStillResumesAndRenewsTheTicket) {
  auto keys = std::make_shared<TicketKeys>();
  auto ctx = mustCreate(sniConfig(), keys);
  const ClientOptions o{.min_version = GetParam(), .max_version = GetParam()};
  SessionPtr old_ticket = firstSession(ctx->defaultContext(), GetParam());
  ASSERT_TRUE(keys->rotate());
  ASSERT_TRUE(keys->rotate());  // the first key is now the oldest one kept

  ClientOptions resume = o;
  resume.session = old_ticket.get();
  Handshake h(ctx->defaultContext(), resume);
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_TRUE(h.resumed());
  SessionPtr renewed(h.session());

  ASSERT_TRUE(keys->rotate());  // the first key is gone; the renewed ticket's key is not
  resume.session = old_ticket.get();
  Handshake expired(ctx->defaultContext(), resume);
  ASSERT_TRUE(expired.ok()) << expired.serverError();
  EXPECT_FALSE(expired.resumed());
  resume.session = renewed.get();
  Handshake fresh(ctx->defaultContext(), resume);
  ASSERT_TRUE(fresh.ok()) << fresh.serverError();
  EXPECT_TRUE(fresh.resumed()) << "the renewed ticket uses the current key";
}

TEST_P(TlsTickets, AKeyRotatedOutKeepTimesNoLongerResumes) {
  auto keys = std::make_shared<TicketKeys>();
  auto ctx = mustCreate(sniConfig(), keys);
  SessionPtr session = firstSession(ctx->defaultContext(), GetParam());
  for (size_t i = 0; i < TicketKeys::kKeep; ++i)
    ASSERT_TRUE(keys->rotate());
  Handshake h(ctx->defaultContext(),
              {.min_version = GetParam(), .max_version = GetParam(), .session = session.get()});
  ASSERT_TRUE(h.ok()) << h.serverError();
  EXPECT_FALSE(h.resumed());
}

// A TLS 1.3 client uses a ticket once (OpenSSL's forgets a session it resumed with, as wrk
// shows): each resumption must come with a fresh ticket, or every other connection of such a
// client is a full handshake.
TEST(TlsTickets13, EveryResumptionHandsOutAFreshTicket) {
  auto ctx = mustCreate(sniConfig());
  SessionPtr session = firstSession(ctx->defaultContext(), TLS1_3_VERSION);
  ASSERT_TRUE(session);
  for (int i = 0; i < 3; ++i) {
    Handshake h(
        ctx->defaultContext(),
        {.min_version = TLS1_3_VERSION, .max_version = TLS1_3_VERSION, .session = session.get()});
    ASSERT_TRUE(h.ok()) << h.serverError();
    EXPECT_TRUE(h.resumed()) << "resumption " << i;
    SessionPtr next(h.session());
    ASSERT_TRUE(next);
    unsigned int old_len = 0;
    unsigned int new_len = 0;
    const unsigned char* old_id = SSL_SESSION_get_id(session.get(), &old_len);
    const unsigned char* new_id = SSL_SESSION_get_id(next.get(), &new_len);
    EXPECT_FALSE(old_len == new_len && std::memcmp(old_id, new_id, old_len) == 0)
        << "resumption " << i << " kept the used ticket";
    session = std::move(next);
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsTickets, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_3_VERSION ? "Tls13" : "Tls12";
                         });

// ---------------------------------------------------------------------------------------
// Lifetime

TEST(TlsContext, ConnectionsKeepTheContextsAliveAfterTheLastSharedPtr) {
  auto keys = std::make_shared<TicketKeys>();
  auto ctx = mustCreate(sniConfig(), keys);
  SSL_CTX* initial = ctx->defaultContext();
  SSL_CTX_up_ref(initial);  // what an SSL made from it would hold
  ctx.reset();              // a reload dropped the old context
  {
    // SNI switch, ALPN and a ticket: every callback reaches the (still alive) context.
    Handshake h(initial, {.sni = "x.wild.example", .alpn = "\x08http/1.1"});
    ASSERT_TRUE(h.ok()) << h.serverError();
    EXPECT_EQ(h.peerName(), "*.wild.example");
    EXPECT_EQ(h.alpn(), "http/1.1");
    SessionPtr session(h.session());
    EXPECT_TRUE(session);
  }
  SSL_CTX_free(initial);  // frees the ServerContext and its SNI contexts (ASan checks)
}

}  // namespace
}  // namespace fiberlb::net::tls

#include "src/net/tls/tls_channel.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/net/tls_test_certs.h"

// A client SSL (memory BIOs too) talking to a server TlsChannel in memory: no sockets.

namespace fiberlb::net::tls {
namespace {

using Status = TlsChannel::Status;

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

constexpr char kHost[] = "default.test";
constexpr unsigned char kAlpnHttp11[] = "\x08http/1.1";

int selectHttp11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                 unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpnHttp11, sizeof kAlpnHttp11 - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

int acceptServerName(SSL*, int*, void*) {
  return SSL_TLSEXT_ERR_OK;
}

// The certificate, the server context (what ServerContext builds, minus the config: TLS 1.2+,
// ALPN http/1.1, SNI accepted, released buffers) and a verifying client context, made once.
struct Contexts {
  testing::TempCertDir dir;
  testing::TestCert cert = testing::makeSelfSigned(dir.path(), kHost);
  CtxPtr server{SSL_CTX_new(TLS_server_method())};
  CtxPtr client{SSL_CTX_new(TLS_client_method())};

  Contexts() {
    SSL_CTX* s = server.get();
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(s, cert.cert_path.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(s, cert.key_path.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("test server context: cannot load the certificate");
    SSL_CTX_set_alpn_select_cb(s, selectHttp11, nullptr);
    SSL_CTX_set_tlsext_servername_callback(s, acceptServerName);
    SSL_CTX_set_verify(client.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_load_verify_locations(client.get(), cert.cert_path.c_str(), nullptr);
    ERR_clear_error();
  }
};

Contexts& contexts() {
  static Contexts c;
  return c;
}

// A client capped at `max_version`; for TLS 1.1 the security level must allow its SHA-1 PRF.
CtxPtr clientCtx(int min_version, int max_version) {
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  if (max_version < TLS1_2_VERSION) {
    SSL_CTX_set_security_level(ctx.get(), 0);
    SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

std::string randomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(gen());
  return s;
}

// Feeds `bytes` to `server`, then reads once.
Status feedAndRead(TlsChannel& server, std::string_view bytes) {
  server.feed(bytes.data(), bytes.size());
  char buf[256];
  size_t n = 0;
  return server.read(buf, sizeof buf, &n);
}

// One conversation. Ciphertext for the server is cut into `pieces` (cycling); after each
// piece the server reads until it stops producing plaintext, like the event loop would.
class Link {
 public:
  explicit Link(SSL_CTX* client_ctx = contexts().client.get(), const char* sni = kHost)
      : server(contexts().server.get()), client(SSL_new(client_ctx)) {
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(client, in, out);
    SSL_set_connect_state(client);
    if (sni != nullptr) SSL_set_tlsext_host_name(client, sni);
    SSL_set1_host(client, kHost);
    SSL_set_alpn_protos(client, kAlpnHttp11, sizeof kAlpnHttp11 - 1);
  }
  ~Link() { SSL_free(client); }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  TlsChannel server;
  SSL* client;
  std::vector<size_t> pieces{SIZE_MAX};
  size_t cap = 16384;      // what the server reads into
  std::string server_got;  // plaintext the server produced
  std::string client_got;  // plaintext the client read
  Status server_status = Status::WantMore;
  int client_error = SSL_ERROR_NONE;
  std::string client_reason;  // OpenSSL's words for the client's last failure
  size_t server_reads = 0;    // read() calls that returned Ok

  // Moves bytes both ways until neither side has more to say.
  void pump() {
    for (int rounds = 0; rounds < 1000; ++rounds) {
      runClient();
      std::string c2s = clientOutput();
      if (!c2s.empty()) feedServer(c2s);
      serverRead();  // the first round: nothing yet, but harmless
      std::string s2c;
      server.takeOutput(&s2c);
      if (c2s.empty() && s2c.empty()) return;
      if (!s2c.empty()) BIO_write(SSL_get_rbio(client), s2c.data(), static_cast<int>(s2c.size()));
    }
    ADD_FAILURE() << "pump: no quiescence after 1000 rounds";
  }

  bool handshake() {
    pump();
    return server.handshakeDone() && SSL_is_init_finished(client);
  }

  void clientWrite(std::string_view data) {
    ERR_clear_error();
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(client, data.data(), data.size(), &written), 1);
    ASSERT_EQ(written, data.size());
  }

  // Ciphertext for the server, cut into `pieces`; the server reads after each piece.
  void feedServer(std::string_view bytes) {
    size_t next = 0;
    while (!bytes.empty()) {
      const size_t take = std::min(bytes.size(), pieces[next++ % pieces.size()]);
      server.feed(bytes.data(), take);
      EXPECT_EQ(ERR_peek_error(), 0u) << "feed left an error on the thread";
      bytes.remove_prefix(take);
      serverRead();
    }
  }

  void serverRead() {
    std::string buf(cap, '\0');
    for (;;) {
      size_t n = 0;
      server_status = server.read(buf.data(), buf.size(), &n);
      EXPECT_EQ(ERR_peek_error(), 0u) << "read left an error on the thread";
      if (server_status != Status::Ok) {
        EXPECT_EQ(n, 0u);
        return;
      }
      EXPECT_GT(n, 0u);
      EXPECT_LE(n, cap);
      ++server_reads;
      server_got.append(buf.data(), n);
    }
  }

 private:
  void runClient() {
    ERR_clear_error();
    int ret = 1;
    if (!SSL_is_init_finished(client)) ret = SSL_do_handshake(client);
    if (ret == 1) {
      char buf[16384];
      size_t n = 0;
      while ((ret = SSL_read_ex(client, buf, sizeof buf, &n)) == 1)
        client_got.append(buf, n);
    }
    client_error = SSL_get_error(client, ret);
    if (unsigned long code = ERR_get_error(); code != 0)
      client_reason = ERR_reason_error_string(code) ? ERR_reason_error_string(code) : "?";
    ERR_clear_error();
  }

  std::string clientOutput() {
    BIO* out = SSL_get_wbio(client);
    std::string s(BIO_ctrl_pending(out), '\0');
    if (!s.empty()) BIO_read(out, s.data(), static_cast<int>(s.size()));
    return s;
  }
};

TEST(TlsChannel, HandshakeTls13WithAlpnAndSni) {
  Link link;
  EXPECT_FALSE(link.server.handshakeDone());
  ASSERT_TRUE(link.handshake()) << link.server.error() << " / client: " << link.client_reason;
  EXPECT_EQ(link.server_status, Status::WantMore);
  EXPECT_STREQ(link.server.version(), "TLSv1.3");
  EXPECT_EQ(link.server.alpn(), "http/1.1");
  EXPECT_EQ(link.server.serverName(), kHost);
  EXPECT_FALSE(link.server.resumed());
  EXPECT_TRUE(link.server.error().empty());
  EXPECT_EQ(SSL_get_verify_result(link.client), X509_V_OK);  // the client checked our cert
}

TEST(TlsChannel, HandshakeTls12WhenTheClientIsCappedThere) {
  CtxPtr capped = clientCtx(TLS1_2_VERSION, TLS1_2_VERSION);
  Link link(capped.get(), "other.test");
  ASSERT_TRUE(link.handshake()) << link.server.error() << " / client: " << link.client_reason;
  EXPECT_STREQ(link.server.version(), "TLSv1.2");
  EXPECT_EQ(link.server.alpn(), "http/1.1");
  EXPECT_EQ(link.server.serverName(), "other.test");
}

TEST(TlsChannel, NoSniAndNoAlpnGiveEmptyStrings) {
  Link link(contexts().client.get(), nullptr);
  SSL_set_alpn_protos(link.client, nullptr, 0);
  ASSERT_TRUE(link.handshake()) << link.server.error();
  EXPECT_EQ(link.server.alpn(), "");
  EXPECT_EQ(link.server.serverName(), "");
}

TEST(TlsChannel, HandshakeSurvivesOneBytePieces) {
  Link link;
  link.pieces = {1};
  ASSERT_TRUE(link.handshake()) << link.server.error();
}

TEST(TlsChannel, SecondConnectionResumesWithTheTicket) {
  SessionPtr session;
  {
    Link first;
    ASSERT_TRUE(first.handshake());
    EXPECT_FALSE(first.server.resumed());
    session.reset(SSL_get1_session(first.client));  // the TLS 1.3 ticket, read by pump()
    // A clean close: OpenSSL marks the session of a connection freed without one as not
    // resumable.
    ERR_clear_error();
    SSL_shutdown(first.client);
    first.pump();
    EXPECT_EQ(first.server_status, Status::Closed);
  }
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(SSL_SESSION_is_resumable(session.get()), 1);
  Link second;
  SSL_set_session(second.client, session.get());
  ASSERT_TRUE(second.handshake()) << second.server.error();
  EXPECT_TRUE(second.server.resumed());
  EXPECT_EQ(second.server.serverName(), kHost);
}

// 1 MiB each way, byte-exact: client → server ciphertext fed in pieces of the given sizes
// (cycling, so records split at every kind of offset), server → client written in chunks
// of 1, 7 and 4093 bytes.
class TlsChannelPieces : public ::testing::TestWithParam<std::vector<size_t>> {};

TEST_P(TlsChannelPieces, MegabyteBothWaysArrivesExact) {
  Link link;
  link.pieces = GetParam();
  link.cap = 5000;  // not a multiple of the record size either
  ASSERT_TRUE(link.handshake()) << link.server.error();

  const std::string up = randomBytes(1 << 20, 1);
  link.clientWrite(up);
  link.pump();
  EXPECT_EQ(link.server_status, Status::WantMore) << link.server.error();
  ASSERT_EQ(link.server_got.size(), up.size());
  EXPECT_TRUE(link.server_got == up);

  const std::string down = randomBytes(1 << 20, 2);
  const size_t chunks[] = {1, 7, 4093};
  size_t at = 0;
  for (size_t i = 0; at < down.size(); ++i) {
    const size_t len = std::min(chunks[i % 3], down.size() - at);
    ASSERT_TRUE(link.server.write(down.data() + at, len)) << link.server.error();
    at += len;
    if (i % 50 == 0) link.pump();  // takeOutput at odd points, with output half-queued
  }
  link.pump();
  ASSERT_EQ(link.client_got.size(), down.size());
  EXPECT_TRUE(link.client_got == down);
  EXPECT_FALSE(link.server.hasOutput());
}

INSTANTIATE_TEST_SUITE_P(TlsChannel, TlsChannelPieces,
                         ::testing::Values(std::vector<size_t>{1}, std::vector<size_t>{7},
                                           std::vector<size_t>{4093},
                                           std::vector<size_t>{1, 7, 4093}),
                         [](const auto& info) {
                           std::string name = "Pieces";
                           for (size_t p : info.param) {
                             // Two appends: GCC 12's -Wrestrict misfires on "_" + string&&.
                             name += '_';
                             name += std::to_string(p);
                           }
                           return name;
                         });

TEST(TlsChannel, SmallCapReturnsTheRestOnTheNextCall) {
  Link link;
  ASSERT_TRUE(link.handshake());
  link.cap = 8;
  const std::string msg = "GET /a-path-longer-than-eight HTTP/1.1\r\nHost: x\r\n\r\n";
  link.clientWrite(msg);
  link.pump();
  EXPECT_EQ(link.server_got, msg);
  EXPECT_EQ(link.server_reads, (msg.size() + 7) / 8);
}

TEST(TlsChannel, WriteOfZeroBytesIsANoOp) {
  Link link;
  ASSERT_TRUE(link.handshake());
  std::string out;
  EXPECT_TRUE(link.server.write("", 0));
  EXPECT_FALSE(link.server.hasOutput());
  EXPECT_EQ(link.server.takeOutput(&out), 0u);
  EXPECT_TRUE(out.empty());
}

TEST(TlsChannel, WriteBeforeTheHandshakeFails) {
  TlsChannel server(contexts().server.get());
  EXPECT_FALSE(server.write("x", 1));
  EXPECT_FALSE(server.error().empty());
}

TEST(TlsChannel, TakeOutputAppendsAndEmpties) {
  Link link;
  ASSERT_TRUE(link.handshake());
  ASSERT_TRUE(link.server.write("hello", 5));
  ASSERT_TRUE(link.server.hasOutput());
  std::string out = "prefix";
  const size_t n = link.server.takeOutput(&out);
  EXPECT_GT(n, 5u);
  EXPECT_EQ(out.size(), 6 + n);
  EXPECT_EQ(out.substr(0, 6), "prefix");
  EXPECT_FALSE(link.server.hasOutput());
  EXPECT_EQ(link.server.takeOutput(&out), 0u);
}

TEST(TlsChannel, ClientCloseNotifyIsClosed) {
  Link link;
  ASSERT_TRUE(link.handshake());
  link.clientWrite("last words");
  ERR_clear_error();
  SSL_shutdown(link.client);
  link.pump();
  EXPECT_EQ(link.server_got, "last words");
  EXPECT_EQ(link.server_status, Status::Closed);
  char buf[16];
  size_t n = 1;
  EXPECT_EQ(link.server.read(buf, sizeof buf, &n), Status::Closed);  // and stays Closed
  EXPECT_EQ(n, 0u);
  // The server may still answer with its own close_notify.
  link.server.shutdown();
  link.pump();
  EXPECT_EQ(SSL_get_shutdown(link.client) & SSL_RECEIVED_SHUTDOWN, SSL_RECEIVED_SHUTDOWN);
}

TEST(TlsChannel, ServerShutdownSendsOneCloseNotify) {
  Link link;
  ASSERT_TRUE(link.handshake());
  ASSERT_TRUE(link.server.write("bye", 3));
  link.server.shutdown();
  std::string out;
  link.server.takeOutput(&out);
  link.server.shutdown();  // a second call queues nothing
  EXPECT_FALSE(link.server.hasOutput());
  BIO_write(SSL_get_rbio(link.client), out.data(), static_cast<int>(out.size()));
  link.pump();
  EXPECT_EQ(link.client_got, "bye");
  EXPECT_EQ(link.client_error, SSL_ERROR_ZERO_RETURN);
  EXPECT_FALSE(link.server.write("more", 4));  // nothing may follow close_notify
}

TEST(TlsChannel, ShutdownDuringTheHandshakeDoesNothing) {
  TlsChannel server(contexts().server.get());
  server.shutdown();
  EXPECT_FALSE(server.hasOutput());
  EXPECT_TRUE(server.error().empty());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TlsChannel, PlaintextHttpIsAnErrorInWords) {
  TlsChannel server(contexts().server.get());
  EXPECT_EQ(feedAndRead(server, "GET / HTTP/1.1\r\n\r\n"), Status::Error);
  EXPECT_EQ(server.error(), "http request");  // OpenSSL 3's words for this case
  EXPECT_EQ(ERR_peek_error(), 0u);
  EXPECT_FALSE(server.handshakeDone());
  // Dead from now on.
  EXPECT_EQ(feedAndRead(server, ""), Status::Error);
  EXPECT_FALSE(server.write("x", 1));
  server.shutdown();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TlsChannel, OtherPlaintextIsAWrongVersionNumber) {
  TlsChannel server(contexts().server.get());
  EXPECT_EQ(feedAndRead(server, "SSH-2.0-OpenSSH_9.2p1\r\n"), Status::Error);
  EXPECT_EQ(server.error(), "wrong version number");
}

TEST(TlsChannel, GarbageAfterTheHandshakeIsAnError) {
  Link link;
  ASSERT_TRUE(link.handshake());
  link.clientWrite("fine so far");
  link.pump();
  EXPECT_EQ(link.server_got, "fine so far");
  // A well-formed application-data record header followed by bytes that do not decrypt.
  const std::string garbage = std::string("\x17\x03\x03\x00\x40", 5) + randomBytes(64, 3);
  EXPECT_EQ(feedAndRead(link.server, garbage), Status::Error);
  EXPECT_FALSE(link.server.error().empty());
  EXPECT_TRUE(link.server.hasOutput());  // the alert OpenSSL queued for the peer
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TlsChannel, TextAfterTheHandshakeIsAnError) {
  Link link;
  ASSERT_TRUE(link.handshake());
  EXPECT_EQ(feedAndRead(link.server, "not a TLS record at all\r\n"), Status::Error);
  EXPECT_FALSE(link.server.error().empty());
}

TEST(TlsChannel, Tls11ClientIsRefused) {
  CtxPtr old = clientCtx(TLS1_1_VERSION, TLS1_1_VERSION);
  Link link(old.get());
  EXPECT_FALSE(link.handshake());
  EXPECT_EQ(link.server_status, Status::Error);
  EXPECT_EQ(link.server.error(), "unsupported protocol");
  EXPECT_FALSE(link.server.handshakeDone());
  EXPECT_EQ(link.client_error, SSL_ERROR_SSL);  // the client got the protocol_version alert
}

TEST(TlsChannel, StaleErrorOnTheThreadIsNotBlamedOnTheConnection) {
  Link link;
  ERR_raise(ERR_LIB_SSL, SSL_R_HTTP_REQUEST);  // left behind by some other connection
  ASSERT_TRUE(link.handshake()) << link.server.error();
  link.clientWrite("ok");
  ERR_raise(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER);
  link.pump();
  EXPECT_EQ(link.server_got, "ok");
  EXPECT_EQ(link.server_status, Status::WantMore);
}

TEST(TlsChannel, ManyChannelsComeAndGo) {
  // Bare, mid-handshake, established and failed channels, all destroyed: the ASan build
  // reports any leak.
  for (int i = 0; i < 2000; ++i) {
    TlsChannel bare(contexts().server.get());
    EXPECT_FALSE(bare.handshakeDone());
  }
  for (int i = 0; i < 100; ++i) {
    Link link;
    if (i % 4 == 0) {  // the ClientHello only: destroyed mid-handshake
      link.pieces = {static_cast<size_t>(1 + i)};
      ERR_clear_error();
      SSL_do_handshake(link.client);
      BIO* out = SSL_get_wbio(link.client);
      std::string hello(BIO_ctrl_pending(out), '\0');
      BIO_read(out, hello.data(), static_cast<int>(hello.size()));
      link.feedServer(hello);
      EXPECT_TRUE(link.server.hasOutput());
      continue;
    }
    ASSERT_TRUE(link.handshake());
    if (i % 4 == 1) {  // established, with unread output left behind
      ASSERT_TRUE(link.server.write("unsent", 6));
    } else if (i % 4 == 2) {  // failed
      EXPECT_EQ(feedAndRead(link.server, "garbage!"), Status::Error);
    } else {  // closed cleanly both ways
      link.server.shutdown();
      SSL_shutdown(link.client);
      link.pump();
    }
  }
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(TlsChannel, NullContextFailsOnFirstRead) {
  TlsChannel server(nullptr);
  EXPECT_EQ(feedAndRead(server, "x"), Status::Error);
  EXPECT_FALSE(server.error().empty());
  EXPECT_FALSE(server.hasOutput());
  EXPECT_EQ(server.alpn(), "");
  EXPECT_EQ(server.serverName(), "");
  EXPECT_FALSE(server.resumed());
}

}  // namespace
}  // namespace fiberlb::net::tls

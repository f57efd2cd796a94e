// Health checks of backends with `tls = true`: an http check does the TLS handshake first
// (verifying the certificate like the data path) and sends its GET over TLS; a tcp check
// stays a plain connect. Real sockets on a libuv loop, against a TLS server on the same loop
// (a server-side TlsChannel), with certificates made by tls_test_certs.h.

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "health/health_monitor.h"
#include "health/probe.h"
#include "lb/backend_registry.h"
#include "lb/snapshot_builder.h"
#include "src/net/tls/client_context.h"
#include "src/net/tls/tls_channel.h"
#include "src/net/tls/tls_context.h"
#include "tests/unit/net/tls_test_certs.h"

namespace fiberlb::health {
namespace {

namespace certs = net::tls::testing;
using net::tls::ClientContext;
using net::tls::TlsChannel;

constexpr char kName[] = "backend.test";
constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

net::SocketAddress loopback(int port) {
  net::SocketAddress addr;
  EXPECT_TRUE(net::parseIpLiteral("127.0.0.1", port, &addr));
  return addr;
}

// A backend on the test's own loop. Tls: a TLS server with the given certificate that reads a
// request head and answers `reply`; Plain: a plaintext HTTP server that answers `reply` to
// whatever arrives first (what an HTTP server does with a ClientHello: a 400); Silent: accepts
// and never answers. Every mode closes the connection after its reply.
class TestServer {
 public:
  enum class Mode { Tls, Plain, Silent };

  TestServer(uv_loop_t* loop, Mode mode, std::string reply, const certs::TestCert* cert = nullptr)
      : loop_(loop), mode_(mode), reply_(std::move(reply)) {
    if (mode_ == Mode::Tls) {
      config::Tls tls;
      tls.cert_file = cert->cert_path;
      tls.key_file = cert->key_path;
      std::string error;
      context_ = net::tls::ServerContext::create(tls, nullptr, &error);
      EXPECT_NE(context_, nullptr) << error;
    }
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    net::SocketAddress addr = loopback(0);
    EXPECT_EQ(uv_tcp_bind(&listener_, addr.get(), 0), 0);
    EXPECT_EQ(uv_listen(stream(&listener_), 128, &TestServer::onConnection), 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }

  net::SocketAddress address() const { return loopback(port_); }
  int accepted() const { return accepted_; }
  size_t bytesReceived() const { return bytes_received_; }
  const std::string& lastRequest() const { return last_request_; }         // plaintext, TLS mode
  const std::string& lastServerName() const { return last_server_name_; }  // SNI, TLS mode
  const std::string& lastTlsError() const { return last_tls_error_; }

  void close() {
    closeListener();
    for (Conn* conn : std::set<Conn*>(conns_))
      closeConn(conn);
  }
  // Accepts no more connections; those open end by themselves (on EOF from the client).
  void closeListener() {
    if (!uv_is_closing(handle(&listener_))) uv_close(handle(&listener_), nullptr);
  }

 private:
  struct Conn {
    TestServer* server;
    uv_tcp_t tcp;
    std::unique_ptr<TlsChannel> tls;
    std::string received;  // plaintext
    bool replied = false;
  };
  struct Write {
    uv_write_t req;
    std::string data;
    Conn* conn;
    bool close_after;
  };

  static uv_stream_t* stream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }
  static uv_handle_t* handle(uv_tcp_t* tcp) { return reinterpret_cast<uv_handle_t*>(tcp); }

  static void onConnection(uv_stream_t* listener, int status) {
    auto* self = static_cast<TestServer*>(listener->data);
    ASSERT_EQ(status, 0);
    auto* conn = new Conn{self, {}, nullptr, {}, false};
    uv_tcp_init(self->loop_, &conn->tcp);
    conn->tcp.data = conn;
    self->conns_.insert(conn);
    ASSERT_EQ(uv_accept(listener, stream(&conn->tcp)), 0);
    ++self->accepted_;
    if (self->mode_ == Mode::Tls)
      conn->tls = std::make_unique<TlsChannel>(self->context_->defaultContext());
    uv_read_start(stream(&conn->tcp), &TestServer::onAlloc, &TestServer::onRead);
  }

  static void onAlloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
    *buf = uv_buf_init(new char[suggested], static_cast<unsigned>(suggested));
  }

  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* conn = static_cast<Conn*>(s->data);
    TestServer* self = conn->server;
    if (nread > 0) {
      self->bytes_received_ += static_cast<size_t>(nread);
      if (conn->tls != nullptr) {
        conn->tls->feed(buf->base, static_cast<size_t>(nread));
      } else {
        conn->received.append(buf->base, static_cast<size_t>(nread));
      }
    }
    delete[] buf->base;
    if (nread < 0) {
      self->closeConn(conn);
      return;
    }
    if (conn->tls != nullptr) {
      self->pumpTls(conn);
    } else if (self->mode_ == Mode::Plain && !conn->replied && !conn->received.empty()) {
      conn->replied = true;
      self->send(conn, self->reply_, true);
    }
  }

  void pumpTls(Conn* conn) {
    char plain[4096];
    for (;;) {
      size_t n = 0;
      const TlsChannel::Status status = conn->tls->read(plain, sizeof plain, &n);
      if (conn->tls->handshakeDone()) last_server_name_ = conn->tls->serverName();
      if (status == TlsChannel::Status::Ok) {
        conn->received.append(plain, n);
        continue;
      }
      if (status == TlsChannel::Status::Error) last_tls_error_ = conn->tls->error();
      flushTls(conn, status != TlsChannel::Status::WantMore);
      if (status != TlsChannel::Status::WantMore) return;
      break;
    }
    if (!conn->replied && conn->received.find("\r\n\r\n") != std::string::npos) {
      conn->replied = true;
      last_request_ = conn->received;
      conn->tls->write(reply_.data(), reply_.size());
      conn->tls->shutdown();
      flushTls(conn, true);
    }
  }

  void flushTls(Conn* conn, bool close_after) {
    std::string out;
    conn->tls->takeOutput(&out);
    if (!out.empty()) {
      send(conn, std::move(out), close_after);
    } else if (close_after) {
      closeConn(conn);
    }
  }

  void send(Conn* conn, std::string data, bool close_after) {
    if (uv_is_closing(handle(&conn->tcp))) return;
    if (data.empty()) {
      if (close_after) closeConn(conn);
      return;
    }
    auto* w = new Write{{}, std::move(data), conn, close_after};
    w->req.data = w;
    uv_buf_t out = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream(&conn->tcp), &out, 1, &TestServer::onWritten) < 0) {
      delete w;
      closeConn(conn);
    }
  }

  static void onWritten(uv_write_t* req, int status) {
    auto* w = static_cast<Write*>(req->data);
    if (status != UV_ECANCELED && w->close_after) w->conn->server->closeConn(w->conn);
    delete w;
  }

  void closeConn(Conn* conn) {
    if (!uv_is_closing(handle(&conn->tcp))) uv_close(handle(&conn->tcp), &onConnClosed);
  }

  static void onConnClosed(uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    conn->server->conns_.erase(conn);
    delete conn;
  }

  uv_loop_t* loop_;
  Mode mode_;
  std::string reply_;
  std::shared_ptr<net::tls::ServerContext> context_;
  uv_tcp_t listener_;
  int port_ = 0;
  int accepted_ = 0;
  size_t bytes_received_ = 0;
  std::string last_request_;
  std::string last_server_name_;
  std::string last_tls_error_;
  std::set<Conn*> conns_;
};

// The certificates every test uses, made once: a CA, a leaf for kName signed by it, and a
// self-signed leaf for kName.
struct Certs {
  certs::TempCertDir dir;
  certs::TestCert ca = certs::makeCa(dir.path(), "Probe Test CA");
  certs::TestCert signed_leaf = certs::makeCaSigned(dir.path(), kName, ca);
  certs::TestCert self_signed = certs::makeSelfSigned(dir.path(), "self.backend.test");
};

Certs& testCerts() {
  static Certs c;
  return c;
}

std::shared_ptr<ClientContext> clientContext(const std::string& ca_file, bool verify) {
  std::string error;
  auto context = ClientContext::create(ca_file, verify, &error);
  EXPECT_NE(context, nullptr) << error;
  return context;
}

class ProbeTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &watchdog_);
    uv_timer_start(
        &watchdog_,
        [](uv_timer_t* t) {
          ADD_FAILURE() << "loop still busy after 10 s";
          uv_stop(t->loop);
        },
        10000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
  }

  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // An http check over TLS trusting the test CA, expecting the certificate to name `name`
  // (sent as SNI too), as the monitor derives it for tls_server_name = `name`.
  ProbeSpec tlsSpec(const TestServer& server, const std::string& name) {
    ProbeSpec spec;
    spec.type = config::HealthCheckType::Http;
    spec.address = server.address();
    spec.timeout_ms = 5000;
    spec.tls = clientContext(testCerts().ca.cert_path, true);
    spec.tls_peer.server_name = name;
    spec.tls_peer.verify_name = name;
    return spec;
  }

  // One check against `server`. The server closes when the verdict is in; with
  // `let_server_finish`, its open connections end on their own, once it read all the probe
  // sent.
  ProbeResult check(TestServer& server, const ProbeSpec& spec, bool let_server_finish = false) {
    Probe probe(&loop_);
    ProbeResult result;
    int calls = 0;
    probe.start(spec, [&](const ProbeResult& r) {
      result = r;
      ++calls;
      if (let_server_finish) {
        server.closeListener();
      } else {
        server.close();
      }
    });
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(probe.running());
    return result;
  }

  uv_loop_t loop_;
  uv_timer_t watchdog_;
};

TEST_F(ProbeTlsTest, HttpOverTlsPassesWithTheCaAndTheRightName) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  ProbeResult r = check(server, tlsSpec(server, kName));
  EXPECT_TRUE(r.passed()) << toString(r.outcome) << ": " << r.detail;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.detail, "");
  // The GET went over TLS, after SNI named the backend.
  EXPECT_EQ(server.lastRequest().rfind("GET /health HTTP/1.1\r\nHost: 127.0.0.1:", 0), 0u)
      << server.lastRequest();
  EXPECT_EQ(server.lastServerName(), kName);
}

TEST_F(ProbeTlsTest, StatusOutsideTheRangeOverTlsIsBadStatus) {
  TestServer server(&loop_, TestServer::Mode::Tls, "HTTP/1.1 503 Unavailable\r\n\r\n",
                    &testCerts().signed_leaf);
  ProbeResult r = check(server, tlsSpec(server, kName));
  EXPECT_EQ(r.outcome, ProbeOutcome::BadStatus) << r.detail;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.detail, "status 503 not in 200-399");
}

TEST_F(ProbeTlsTest, WrongNameFailsVerification) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  ProbeResult r = check(server, tlsSpec(server, "other.test"));
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "TLS handshake failed: certificate verify failed: hostname mismatch");
  EXPECT_EQ(server.lastRequest(), "");  // nothing was sent to an unverified backend
}

TEST_F(ProbeTlsTest, IpAddressNotInTheCertificateFailsVerification) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  ProbeSpec spec = tlsSpec(server, "");
  spec.tls_peer.verify_name = "127.0.0.1";  // address = 127.0.0.1, no tls_server_name
  ProbeResult r = check(server, spec);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "TLS handshake failed: certificate verify failed: IP address mismatch");
}

TEST_F(ProbeTlsTest, UntrustedCertificateFailsVerification) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().self_signed);
  ProbeResult r = check(server, tlsSpec(server, "self.backend.test"), true);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "TLS handshake failed: certificate verify failed: self-signed certificate");
  EXPECT_EQ(server.lastRequest(), "");
  // The server heard why: our alert went out before the socket closed.
  EXPECT_NE(server.lastTlsError().find("alert"), std::string::npos) << server.lastTlsError();
}

TEST_F(ProbeTlsTest, VerifyOffAcceptsASelfSignedCertificate) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().self_signed);
  ProbeSpec spec = tlsSpec(server, kName);  // a name the certificate does not show, either
  spec.tls = clientContext("", false);
  spec.tls_peer.verify_name = "";  // what the monitor derives for tls_verify = false
  ProbeResult r = check(server, spec);
  EXPECT_TRUE(r.passed()) << toString(r.outcome) << ": " << r.detail;
  EXPECT_EQ(r.status, 200);
}

// A backend that speaks plain HTTP answers the ClientHello with a 400 and closes: a quick
// failure, not a wait for the timeout.
TEST_F(ProbeTlsTest, PlaintextHttpServerFailsWithoutWaitingForTheTimeout) {
  TestServer server(&loop_, TestServer::Mode::Plain,
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  ProbeSpec spec = tlsSpec(server, kName);
  ProbeResult r = check(server, spec);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail.rfind("TLS handshake failed: ", 0), 0u) << r.detail;
  EXPECT_LT(r.elapsed_ms, spec.timeout_ms);
}

TEST_F(ProbeTlsTest, CloseDuringTheHandshakeFails) {
  TestServer server(&loop_, TestServer::Mode::Plain, "");  // closes on the ClientHello
  ProbeSpec spec = tlsSpec(server, kName);
  ProbeResult r = check(server, spec);
  EXPECT_EQ(r.outcome, ProbeOutcome::ConnectError);
  EXPECT_EQ(r.detail, "TLS handshake failed: connection closed by the backend");
  EXPECT_LT(r.elapsed_ms, spec.timeout_ms);
}

// The timeout covers the handshake too.
TEST_F(ProbeTlsTest, SilentServerTimesOutInTheHandshake) {
  TestServer server(&loop_, TestServer::Mode::Silent, "");
  ProbeSpec spec = tlsSpec(server, kName);
  spec.timeout_ms = 100;
  ProbeResult r = check(server, spec);
  EXPECT_EQ(r.outcome, ProbeOutcome::Timeout);
  EXPECT_EQ(r.detail, "TLS handshake timed out after 100 ms");
  EXPECT_GE(r.elapsed_ms, 100u);
  EXPECT_GT(server.bytesReceived(), 0u);  // the ClientHello
}

// A tcp check of a TLS backend is a plain connect: it passes on the connect alone, without a
// handshake (not a byte sent), whatever the certificate.
TEST_F(ProbeTlsTest, TcpCheckOfATlsBackendPassesOnConnect) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().self_signed);
  ProbeSpec spec = tlsSpec(server, kName);  // would not verify
  spec.type = config::HealthCheckType::Tcp;
  ProbeResult r = check(server, spec);
  EXPECT_TRUE(r.passed()) << toString(r.outcome) << ": " << r.detail;
  EXPECT_EQ(r.status, 0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(server.bytesReceived(), 0u);
}

TEST_F(ProbeTlsTest, ManyConcurrentTlsChecksAllPass) {
  constexpr int kProbes = 50;
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  const ProbeSpec spec = tlsSpec(server, kName);
  std::vector<std::unique_ptr<Probe>> probes;
  int finished = 0;
  int passed = 0;
  for (int i = 0; i < kProbes; ++i) {
    probes.push_back(std::make_unique<Probe>(&loop_));
    probes.back()->start(spec, [&](const ProbeResult& r) {
      EXPECT_TRUE(r.passed()) << toString(r.outcome) << ": " << r.detail;
      passed += r.passed() ? 1 : 0;
      if (++finished == kProbes) server.close();
    });
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(passed, kProbes);
}

TEST_F(ProbeTlsTest, CancelMidHandshakeNeverCallsBack) {
  TestServer server(&loop_, TestServer::Mode::Silent, "");
  Probe probe(&loop_);
  bool called = false;
  probe.start(tlsSpec(server, kName), [&](const ProbeResult&) { called = true; });
  // Well into the handshake (the ClientHello is out, no answer comes): cancel, then let the
  // server go so that the loop can end.
  std::function<void()> later_fn = [&] {
    EXPECT_TRUE(probe.running());
    probe.cancel();
    server.close();
  };
  uv_timer_t later;
  uv_timer_init(&loop_, &later);
  later.data = &later_fn;
  uv_timer_start(
      &later,
      [](uv_timer_t* t) {
        (*static_cast<std::function<void()>*>(t->data))();
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
      },
      50, 0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(called);
  EXPECT_FALSE(probe.running());
}

// --- HealthMonitor: the backend's TLS settings reach the check.

class HealthMonitorTlsTest : public ProbeTlsTest {
 protected:
  // One LB with one backend on `server` (address 127.0.0.1), checked every second.
  static config::Backend backendOn(const TestServer& server) {
    config::Backend b;
    b.name = "b1";
    b.address = "127.0.0.1";
    b.port = server.address().port();
    b.region = "default";
    b.tls = true;
    return b;
  }

  // Runs the monitor until the backend's first check result and returns its last_result
  // ("ok" or the failure's detail).
  std::string firstResult(TestServer& server, const config::Backend& backend,
                          config::HealthCheckType type = config::HealthCheckType::Http) {
    auto cfg = std::make_shared<config::Config>();
    config::LoadBalancer lb;
    lb.name = "web";
    lb.port = 1;
    lb.backends.push_back(backend);
    lb.healthcheck.configured = true;
    lb.healthcheck.type = type;
    lb.healthcheck.interval_sec = 2;
    lb.healthcheck.timeout_sec = 2;
    cfg->loadbalancers.push_back(lb);
    lb::BackendRegistry registry;
    auto snap = lb::buildSnapshot(cfg, registry, 1);
    std::vector<net::SocketAddress> addresses(registry.slotCount());
    const lb::BackendState::Ptr& state = snap->lbs.at(0).backends.at(0);
    addresses.at(state->slot()) = server.address();

    HealthMonitor* monitor_ptr = nullptr;
    HealthMonitor monitor(&loop_, [&] {
      if (state->health.checks_passed + state->health.checks_failed == 0) return;
      monitor_ptr->stop();
      server.close();
    });
    monitor_ptr = &monitor;
    monitor.sync(*snap, addresses);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(state->health.checks_passed + state->health.checks_failed, 1u);
    return state->health.last_result;
  }
};

TEST_F(HealthMonitorTlsTest, HttpCheckUsesTheBackendsCaAndServerName) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  config::Backend b = backendOn(server);
  b.tls_ca_file = testCerts().ca.cert_path;
  b.tls_server_name = kName;
  EXPECT_EQ(firstResult(server, b), "ok");
  EXPECT_EQ(server.lastServerName(), kName);
}

TEST_F(HealthMonitorTlsTest, HttpCheckVerifiesTheAddressWithoutServerName) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  config::Backend b = backendOn(server);
  b.tls_ca_file = testCerts().ca.cert_path;
  EXPECT_EQ(firstResult(server, b),
            "TLS handshake failed: certificate verify failed: IP address mismatch");
  EXPECT_EQ(server.lastServerName(), "");  // no SNI for an IP address
}

TEST_F(HealthMonitorTlsTest, HttpCheckWithVerifyOffAcceptsASelfSignedCertificate) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().self_signed);
  config::Backend b = backendOn(server);
  b.tls_verify = false;
  EXPECT_EQ(firstResult(server, b), "ok");
}

TEST_F(HealthMonitorTlsTest, UntrustedCertificateFailsTheCheck) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().self_signed);
  config::Backend b = backendOn(server);
  b.tls_ca_file = testCerts().ca.cert_path;
  b.tls_server_name = "self.backend.test";
  EXPECT_EQ(firstResult(server, b),
            "TLS handshake failed: certificate verify failed: self-signed certificate");
}

TEST_F(HealthMonitorTlsTest, CaFileThatDoesNotLoadFailsTheHttpCheck) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().signed_leaf);
  config::Backend b = backendOn(server);
  b.tls_ca_file = testCerts().dir.path() + "/missing-ca.crt";
  const std::string result = firstResult(server, b);
  EXPECT_EQ(result.rfind(b.tls_ca_file + ": cannot load CA certificates", 0), 0u) << result;
  EXPECT_EQ(server.accepted(), 0);  // no connection without a usable context
}

TEST_F(HealthMonitorTlsTest, TcpCheckOfATlsBackendIsAPlainConnect) {
  TestServer server(&loop_, TestServer::Mode::Tls, kOk, &testCerts().self_signed);
  config::Backend b = backendOn(server);
  b.tls_ca_file = testCerts().dir.path() + "/missing-ca.crt";  // not needed: no handshake
  EXPECT_EQ(firstResult(server, b, config::HealthCheckType::Tcp), "ok");
  EXPECT_EQ(server.accepted(), 1);
}

}  // namespace
}  // namespace fiberlb::health

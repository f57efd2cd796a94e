// TLS handshakes on fiberlb's HTTPS listener (SPEC §3 [tls], §7, §8): TLS 1.3 with ALPN
// http/1.1 (a client offering only h2 refused), TLS 1.2 with ECDHE and AEAD, nothing below
// TLS 1.2 (and min_version = "1.3"), session resumption (also across two workers),
// plaintext and stalled handshakes on the TLS port, and the handshake counters in /metrics.
// The fixture in tls_fixture.h.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/tls_fixture.h"
#include "tests/support/admin_json.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

TEST_F(TlsTermination, Tls13IsNegotiatedWithAlpnHttp11AndTls12UsesEcdheAead) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  json r = python("get", {"--alpn", "h2,http/1.1"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r.value("version", ""), "TLSv1.3");
  EXPECT_EQ(r.value("alpn", ""), "http/1.1");
  EXPECT_EQ(r["responses"][0].value("status", 0), 200);

  // TLS 1.2 also works, with an ECDHE key exchange and an AEAD cipher (Mozilla intermediate).
  json r12 = python("get", {"--max", "1.2", "--alpn", "http/1.1"});
  ASSERT_TRUE(r12.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r12.value("version", ""), "TLSv1.2");
  const std::string cipher = r12.value("cipher", "");
  EXPECT_TRUE(cipher.starts_with("ECDHE-")) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20") != std::string::npos)
      << cipher;
  EXPECT_EQ(r12["responses"][0].value("status", 0), 200);

  // A client without ALPN is served too.
  json none = python("get", {});
  ASSERT_TRUE(none.value("ok", false)) << last_python_output_;
  EXPECT_TRUE(none["alpn"].is_null()) << none.dump();
}

TEST_F(TlsTermination, AClientOfferingOnlyH2IsRefusedWithNoApplicationProtocol) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("get", {"--alpn", "h2"});
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_NE(r.value("error", "").find("no application protocol"), std::string::npos) << r.dump();
  EXPECT_EQ(b1.requestCount(), 0);
}

TEST_F(TlsTermination, Tls11IsRefusedByTheServerAndServingContinues) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  // SECLEVEL=0 lets OpenSSL 3 clients offer TLS 1.1 at all, so the refusal (a
  // protocol_version alert) comes from the server, not from the client's own policy.
  RunResult c = curl("/", {"--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"});
  EXPECT_NE(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("alert protocol version"), std::string::npos) << c.output;

  json r = python("get", {"--min", "1.1", "--max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0"});
  EXPECT_FALSE(r.value("ok", true)) << r.dump();
  EXPECT_NE(r.value("error", "").find("ALERT_PROTOCOL_VERSION"), std::string::npos) << r.dump();
  json r10 = python("get", {"--min", "1.0", "--max", "1.0", "--ciphers", "DEFAULT:@SECLEVEL=0"});
  EXPECT_FALSE(r10.value("ok", true)) << r10.dump();
  EXPECT_EQ(b1.requestCount(), 0);

  expectCurlOk("b1\n");
  EXPECT_TRUE(lb_.process().running());
}

TEST_F(TlsTermination, MinVersion13RefusesATls12OnlyClient) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.min_version = "1.3";
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));

  json r12 = python("get", {"--max", "1.2"});
  EXPECT_FALSE(r12.value("ok", true)) << r12.dump();
  EXPECT_NE(r12.value("error", "").find("ALERT_PROTOCOL_VERSION"), std::string::npos) << r12.dump();
  RunResult c = curl("/", {"--tls-max", "1.2"});
  EXPECT_NE(c.exit_code, 0) << c.output;
  EXPECT_EQ(b1.requestCount(), 0);

  json r13 = python("get", {});
  ASSERT_TRUE(r13.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r13.value("version", ""), "TLSv1.3");
  EXPECT_EQ(r13["responses"][0].value("status", 0), 200);
}

TEST_F(TlsTermination, Tls13SessionsResume) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("resume", {"--connections", "3"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r["first"].value("version", ""), "TLSv1.3");
  EXPECT_FALSE(r["first"].value("session_reused", true));
  ASSERT_EQ(r["resumed"].size(), 3u);
  for (const json& c : r["resumed"]) {
    EXPECT_TRUE(c.value("session_reused", false)) << r.dump();
    EXPECT_EQ(c.value("status", 0), 200) << r.dump();
  }
}

TEST_F(TlsTermination, Tls12SessionsResume) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("resume", {"--connections", "3", "--max", "1.2"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r["first"].value("version", ""), "TLSv1.2");
  EXPECT_FALSE(r["first"].value("session_reused", true));
  for (const json& c : r["resumed"]) {
    EXPECT_TRUE(c.value("session_reused", false)) << r.dump();
    EXPECT_EQ(c.value("status", 0), 200) << r.dump();
  }
}

// Tickets are encrypted with keys shared by all workers: with two workers, whichever one the
// kernel hands a connection to (SO_REUSEPORT spreads them by source port), it resumes.
TEST_F(TlsTermination, WithTwoWorkersEveryResumptionSucceeds) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.workers = 2;
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));
  for (const std::string max : {"1.3", "1.2"}) {
    json r = python("resume", {"--connections", "12", "--max", max});
    ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
    ASSERT_EQ(r["resumed"].size(), 12u);
    int resumed = 0;
    for (const json& c : r["resumed"])
      resumed += c.value("session_reused", false) ? 1 : 0;
    EXPECT_EQ(resumed, 12) << "TLS " << max << ": " << r.dump();
  }
}

TEST_F(TlsTermination, PlaintextHttpOnTheTlsPortIsClosedAndHttpsStillWorks) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  HttpClient plain;
  ASSERT_TRUE(plain.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(plain.send(getRequest("/"), deadlineIn(5000)));
  EXPECT_TRUE(plain.waitClosed(deadlineIn(5000))) << "fiberlb kept a plaintext connection open";
  EXPECT_EQ(std::string(plain.pending()).find("HTTP/1."), std::string::npos)
      << "answered plaintext: " << plain.pending();
  EXPECT_EQ(b1.requestCount(), 0);

  expectCurlOk("b1\n");
  EXPECT_EQ(b1.requestCount(), 1);
}

TEST_F(TlsTermination, AStalledHandshakeBlocksNobodyAndIsClosedAfterClientHeaderMs) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.timeouts = {{"client_header_ms", 1000}};
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));  // one worker: a blocked loop would show

  HttpClient silent, partial;
  ASSERT_TRUE(silent.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(partial.connect(lb_.port(), deadlineIn(5000)));
  // A TLS record header announcing a 512-byte ClientHello, then only its first bytes.
  const std::string hello_start("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x11\x22", 13);
  ASSERT_TRUE(partial.send(hello_start, deadlineIn(5000)));

  const Deadline started = Clock::now();
  expectCurlOk("b1\n");
  json r = python("get", {"--requests", "2"});
  EXPECT_TRUE(r.value("ok", false)) << last_python_output_;
  // Both still open meanwhile (unless this machine was so slow that their time is up).
  if (Clock::now() - started < milliseconds(800)) {
    EXPECT_FALSE(silent.waitClosed(Clock::now())) << "closed before client_header_ms";
    EXPECT_FALSE(partial.waitClosed(Clock::now())) << "closed before client_header_ms";
  }

  EXPECT_TRUE(silent.waitClosed(deadlineIn(4000))) << "a silent connection stayed open";
  EXPECT_TRUE(partial.waitClosed(deadlineIn(4000))) << "a half handshake stayed open";
  EXPECT_GE(Clock::now() - started, milliseconds(500)) << "closed long before client_header_ms";
  EXPECT_EQ(std::string(partial.pending()).find("HTTP/1."), std::string::npos)
      << "plaintext answer on a TLS connection: " << partial.pending();
  expectCurlOk("b1\n");
}

TEST_F(TlsTermination, HandshakeMetricsCountSuccessAndFailure) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  const uint16_t admin = adminPort(lb_);
  ASSERT_NE(admin, 0);

  expectCurlOk("b1\n");
  json failed = python("get", {"--min", "1.1", "--max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0"});
  EXPECT_FALSE(failed.value("ok", true));

  const std::string family = "fiberlb_tls_handshakes_total";
  double success = 0, failure = 0;
  EXPECT_TRUE(pollUntil(
      [&] {
        success = metricTotal(admin, family, {{"lb", "web"}, {"result", "success"}});
        failure = metricTotal(admin, family, {{"lb", "web"}, {"result", "failure"}});
        return success >= 1 && failure >= 1;
      },
      deadlineIn(5000), milliseconds(50)))
      << "success=" << success << " failure=" << failure << "\n"
      << fetch(admin, getRequest("/metrics"), deadlineIn(5000)).body;
  EXPECT_EQ(success, 1);
  EXPECT_EQ(failure, 1);

  // A plaintext client counts as a failure too, and no connection (handshaken, refused or
  // abandoned mid-handshake) stays counted as open.
  {
    HttpClient plain, stalled;
    ASSERT_TRUE(plain.connect(lb_.port(), deadlineIn(5000)));
    ASSERT_TRUE(stalled.connect(lb_.port(), deadlineIn(5000)));
    ASSERT_TRUE(plain.send(getRequest("/"), deadlineIn(5000)));
    EXPECT_TRUE(plain.waitClosed(deadlineIn(5000)));
  }
  double open = -1;
  EXPECT_TRUE(pollUntil(
      [&] {
        open = metricTotal(admin, "fiberlb_downstream_connections", {{"lb", "web"}});
        failure = metricTotal(admin, family, {{"lb", "web"}, {"result", "failure"}});
        return open == 0 && failure >= 2;
      },
      deadlineIn(5000), milliseconds(50)))
      << "fiberlb_downstream_connections=" << open << " failures=" << failure;
  EXPECT_EQ(metricTotal(admin, family, {{"lb", "web"}, {"result", "success"}}), 1);
}

}  // namespace
}  // namespace fiberlb::testing

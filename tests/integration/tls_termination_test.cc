// HTTPS through the real binary (SPEC §3 [tls], §6): curl and Python get the backend's
// answer with X-Forwarded-Proto https, keep-alive on one TLS connection, large bodies both
// ways, pipelined requests in one record answered in order, and fiberlb's own errors sent
// through TLS before the close. Handshakes are in tls_handshake_test.cc, SNI in
// tls_sni_test.cc, certificate reloads in tls_cert_reload_test.cc, TLS over TCP in
// tls_over_tcp_test.cc; the fixture in tls_fixture.h.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/tls_fixture.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

TEST_F(TlsTermination, CurlGetsTheBackendsAnswerAndTheBackendSeesForwardedProtoHttps) {
  TestBackend b1("b1");
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  RunResult r = curl("/hello?x=1", {"-w", "\nstatus=%{http_code}"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "b1\n\nstatus=200\n");
  auto received = b1.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->target, "/hello?x=1");
  EXPECT_EQ(received->header("X-Forwarded-Proto"), "https") << received->head;
  EXPECT_EQ(received->headerCount("X-Forwarded-Proto"), 1u) << received->head;
  EXPECT_EQ(received->header("X-Forwarded-For"), "127.0.0.1") << received->head;
  EXPECT_EQ(received->header("Host"), "localhost:" + std::to_string(lb_.port()));

  // A client's own X-Forwarded-Proto must not survive: the listener knows it is TLS.
  r = curl("/", {"-H", "X-Forwarded-Proto: http"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  received = b1.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->header("X-Forwarded-Proto"), "https") << received->head;
  EXPECT_EQ(received->headerCount("X-Forwarded-Proto"), 1u) << received->head;
}

TEST_F(TlsTermination, PythonVerifiesTheChainAndKeepsTheConnectionForTwoRequests) {
  TestBackend b1("b1", Behaviour{.echo = true});
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  // The client trusts only the root: verification needs the intermediate from cert_file.
  json r = python("get", {"--requests", "2", "--path", "/keep"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  EXPECT_EQ(r.value("peer_cn", ""), "localhost");
  ASSERT_EQ(r["responses"].size(), 2u) << r.dump();
  for (const json& resp : r["responses"]) {
    EXPECT_EQ(resp.value("status", 0), 200) << resp.dump();
    const std::string body = resp.value("body", "");
    EXPECT_NE(body.find("GET /keep HTTP/1.1"), std::string::npos) << body;
    EXPECT_NE(body.find("X-Forwarded-Proto: https"), std::string::npos) << body;
  }
  EXPECT_NE(r["responses"][0].value("body", "").find("X-Test-Seq: 0"), std::string::npos);
  EXPECT_NE(r["responses"][1].value("body", "").find("X-Test-Seq: 1"), std::string::npos);
  EXPECT_EQ(b1.requestCount(), 2);
}

TEST_F(TlsTermination, LargeBodiesStreamBothWaysOverTls) {
  TestBackend b1("b1", Behaviour{.body_size = 3 * 1024 * 1024});
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));

  const std::string download = work_.file("download.bin");
  RunResult r = curl("/big", {"-o", download});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string got = readFile(download);
  EXPECT_EQ(got.size(), 3u * 1024 * 1024);
  EXPECT_EQ(firstPatternMismatch(got, 3 * 1024 * 1024), -1);

  // Upload: the echoing backend answers with the head it received followed by the body.
  b1.setBehaviour(Behaviour{.echo = true});
  const std::string body = patternBody(2 * 1024 * 1024 + 17);
  const std::string upload = work_.write("upload.bin", body);
  const std::string echoed = work_.file("echoed.bin");
  r = curl("/up", {"--data-binary", "@" + upload, "-H", "Content-Type: application/octet-stream",
                   "-H", "Expect:", "-o", echoed});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string answer = readFile(echoed);
  ASSERT_GE(answer.size(), body.size());
  EXPECT_TRUE(answer.ends_with(body)) << "the uploaded body did not arrive unchanged";
  EXPECT_TRUE(answer.starts_with("POST /up HTTP/1.1\r\n")) << answer.substr(0, 200);
  auto received = b1.lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->body.size(), body.size());
}

TEST_F(TlsTermination, PipelinedRequestsInOneRecordAreAnsweredInOrder) {
  TestBackend b1("b1", Behaviour{.echo = true});
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, listener()));
  json r = python("pipeline", {"--requests", "5", "--path", "/p"});
  ASSERT_TRUE(r.value("ok", false)) << last_python_output_;
  ASSERT_EQ(r["responses"].size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(r["responses"][i].value("status", 0), 200);
    EXPECT_NE(r["responses"][i].value("body", "").find("X-Test-Seq: " + std::to_string(i)),
              std::string::npos)
        << "response " << i << " out of order: " << r["responses"][i].value("body", "");
  }
}

// The answers fiberlb writes itself (then closing the connection) must go out through TLS
// before the close: a bad request (400), a request head that never completes (408) and no
// backend to serve (503).
TEST_F(TlsTermination, FiberlbsOwnErrorsReachTheTlsClientBeforeTheClose) {
  TestBackend b1("b1");
  TlsListener tls = listener();
  tls.timeouts = {{"client_header_ms", 1000}};
  ASSERT_TRUE(startLb({{"b1", b1.port()}}, tls));

  json bad = python("raw", {"--raw",
                            "POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 3\\r\\n"
                            "Transfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n"});
  ASSERT_TRUE(bad.value("ok", false)) << last_python_output_;
  EXPECT_EQ(bad["responses"][0].value("status", 0), 400);
  // RFC 8446 §6.1: close_notify before closing the write side.
  EXPECT_EQ(bad.value("after", ""), "close_notify");

  json slow = python("raw", {"--raw", "GET / HTTP/1.1\\r\\nHost: x\\r\\n"});
  ASSERT_TRUE(slow.value("ok", false)) << last_python_output_;
  EXPECT_EQ(slow["responses"][0].value("status", 0), 408);
  EXPECT_EQ(slow.value("after", ""), "close_notify");
  EXPECT_EQ(b1.requestCount(), 0);

  b1.stop();
  json none = python("get", {});
  ASSERT_TRUE(none.value("ok", false)) << last_python_output_;
  EXPECT_EQ(none["responses"][0].value("status", 0), 503) << none.dump();
  EXPECT_NE(none["responses"][0].value("body", "").find("no_healthy_backend"), std::string::npos)
      << none.dump();
}

}  // namespace
}  // namespace fiberlb::testing

// What fiberlb changes in the request it forwards (SPEC §5): X-Forwarded-*, Via,
// X-Request-Id added; hop-by-hop headers removed in both directions; the rest untouched.

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

class ForwardedHeaders : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<TestBackend>("b1");
    ASSERT_TRUE(lb_.start(singleLb({{"b1", backend_->port()}})));
  }

  // Sends one request and returns what the backend received.
  RecordedRequest forward(const std::string& raw) {
    Response r = fetch(lb_.port(), raw, deadlineIn(5000));
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    last_response_ = r;
    auto received = backend_->lastRequest();
    EXPECT_TRUE(received.has_value());
    return received.value_or(RecordedRequest{});
  }

  std::unique_ptr<TestBackend> backend_;
  FiberlbProcess lb_;
  Response last_response_;
};

TEST_F(ForwardedHeaders, AddsForwardingHeaders) {
  RecordedRequest r = forward(getRequest("/path?q=1", "", "shop.example:8443"));
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/path?q=1");
  EXPECT_EQ(r.header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(r.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(r.header("X-Forwarded-Host"), "shop.example:8443");
  EXPECT_EQ(r.header("Host"), "shop.example:8443");
  ASSERT_TRUE(r.header("Via"));
  EXPECT_NE(r.header("Via")->find("1.1 fiberlb"), std::string::npos) << *r.header("Via");
  EXPECT_EQ(r.headerCount("X-Forwarded-For"), 1u);
}

TEST_F(ForwardedHeaders, AppendsToExistingForwardedForAndVia) {
  RecordedRequest r =
      forward(getRequest("/", "X-Forwarded-For: 203.0.113.7, 198.51.100.2\r\nVia: 1.0 edge\r\n"));
  ASSERT_EQ(r.headerCount("X-Forwarded-For"), 1u) << r.head;
  EXPECT_EQ(r.header("X-Forwarded-For"), "203.0.113.7, 198.51.100.2, 127.0.0.1");
  ASSERT_TRUE(r.header("Via"));
  const std::string via = *r.header("Via");
  EXPECT_TRUE(via.starts_with("1.0 edge")) << via;
  EXPECT_NE(via.find("1.1 fiberlb"), std::string::npos) << via;
}

TEST_F(ForwardedHeaders, GeneratesUniqueRequestIdsAndKeepsAGivenOne) {
  RecordedRequest first = forward(getRequest("/"));
  RecordedRequest second = forward(getRequest("/"));
  ASSERT_TRUE(first.header("X-Request-Id"));
  ASSERT_TRUE(second.header("X-Request-Id"));
  EXPECT_GE(first.header("X-Request-Id")->size(), 8u);
  EXPECT_NE(first.header("X-Request-Id"), second.header("X-Request-Id"));

  RecordedRequest kept = forward(getRequest("/", "X-Request-Id: my-trace-42\r\n"));
  EXPECT_EQ(kept.header("X-Request-Id"), "my-trace-42");
  EXPECT_EQ(kept.headerCount("X-Request-Id"), 1u);
}

TEST_F(ForwardedHeaders, RemovesHopByHopRequestHeadersAndKeepsEndToEndOnes) {
  RecordedRequest r = forward(getRequest("/",
                                         "Connection: keep-alive, X-Session-Hop\r\n"
                                         "X-Session-Hop: secret\r\n"
                                         "Keep-Alive: timeout=5\r\n"
                                         "Proxy-Connection: keep-alive\r\n"
                                         "TE: trailers\r\n"
                                         "Trailer: X-Checksum\r\n"
                                         "Upgrade: h2c\r\n"
                                         "X-Keep-Me: yes\r\n"
                                         "Accept: text/plain\r\n"));
  for (const char* hop :
       {"X-Session-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
    EXPECT_FALSE(r.header(hop)) << hop << " was forwarded:\n" << r.head;
  }
  // fiberlb may send its own Connection header upstream, but never the client's tokens.
  if (auto c = r.header("Connection")) {
    EXPECT_EQ(c->find("X-Session-Hop"), std::string::npos);
  }
  EXPECT_EQ(r.header("X-Keep-Me"), "yes");
  EXPECT_EQ(r.header("Accept"), "text/plain");
}

TEST_F(ForwardedHeaders, RemovesHopByHopResponseHeaders) {
  backend_->setBehaviour(Behaviour{.extra_headers = "Connection: X-Backend-Hop\r\n"
                                                    "X-Backend-Hop: internal\r\n"
                                                    "Keep-Alive: timeout=60\r\n"
                                                    "X-End-To-End: kept\r\n"});
  forward(getRequest("/"));
  EXPECT_FALSE(last_response_.header("X-Backend-Hop")) << "named in the backend's Connection";
  EXPECT_FALSE(last_response_.header("Keep-Alive"));
  EXPECT_EQ(last_response_.header("X-End-To-End"), "kept");
  EXPECT_EQ(last_response_.header("X-Backend"), "b1");
}

TEST_F(ForwardedHeaders, Http10ClientGetsAnAnswerAndTheConnectionClosed) {
  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\nHost: legacy.example\r\n\r\n", deadlineIn(5000)));
  Response r = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "b1\n");
  EXPECT_FALSE(r.chunked) << "HTTP/1.0 clients cannot read chunked bodies";
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000)))
      << "an HTTP/1.0 request without keep-alive must end the connection";
  auto received = backend_->lastRequest();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->target, "/old");
  EXPECT_EQ(received->header("X-Forwarded-Host"), "legacy.example");
}

TEST_F(ForwardedHeaders, Http10ClientGetsAChunkedBackendBodyUnchunked) {
  backend_->setBehaviour(Behaviour{.body_size = 100000, .framing = Framing::Chunked});
  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\n\r\n", deadlineIn(5000)));
  Response r = client.readResponse(deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.chunked);
  EXPECT_EQ(firstPatternMismatch(r.body, 100000), -1);
}

}  // namespace
}  // namespace fiberlb::testing

// Header rewriting towards backends and clients (SPEC §5).

#include "src/http/forward_head.h"

#include <gtest/gtest.h>

#include <string>

#include "src/http/error_response.h"
#include "src/http/header_rules.h"
#include "src/http/parser.h"

namespace fiberlb::http {
namespace {

struct NullSink : MessageSink {
  bool onHeadersComplete(MessageHead&) override { return true; }
  void onBody(const char*, size_t) override {}
  void onMessageComplete() override {}
};

class ForwardHeadTest : public ::testing::Test {
 protected:
  // Parses `text` and rewrites it as a request towards a backend.
  std::string rewriteRequest(const std::string& text, RequestRewrite rw = {}) {
    input_ = text;
    Parser parser(HTTP_REQUEST, &sink_);
    EXPECT_NE(parser.execute(input_.data(), input_.data(), input_.size()), ParseStatus::BadMessage);
    if (rw.client_ip.empty()) rw.client_ip = "10.0.0.9";
    if (rw.request_id.empty()) rw.request_id = "generated-id";
    std::string out;
    writeUpstreamRequest(parser.head(), rw, &out);
    return out;
  }
  std::string rewriteResponse(const std::string& text, ResponseRewrite rw) {
    input_ = text;
    Parser parser(HTTP_RESPONSE, &sink_);
    parser.execute(input_.data(), input_.data(), input_.size());
    std::string out;
    writeDownstreamResponse(parser.head(), rw, &out);
    return out;
  }
  NullSink sink_;
  std::string input_;
};

TEST_F(ForwardHeadTest, AddsForwardingHeaders) {
  std::string out = rewriteRequest("GET /p?q=1 HTTP/1.1\r\nHost: shop.example\r\n\r\n");
  EXPECT_EQ(out.rfind("GET /p?q=1 HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(out.find("Host: shop.example\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Forwarded-For: 10.0.0.9\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Forwarded-Host: shop.example\r\n"), std::string::npos);
  EXPECT_NE(out.find("Via: 1.1 fiberlb\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Request-Id: generated-id\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST_F(ForwardHeadTest, AppendsToExistingForwardedForAndVia) {
  std::string out = rewriteRequest(
      "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n"
      "Via: 1.0 edge\r\nX-Request-Id: keep-me\r\n\r\n");
  EXPECT_NE(out.find("X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.0.0.9\r\n"), std::string::npos);
  EXPECT_NE(out.find("Via: 1.0 edge, 1.1 fiberlb\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Request-Id: keep-me\r\n"), std::string::npos);
  EXPECT_EQ(out.find("generated-id"), std::string::npos);
}

TEST_F(ForwardHeadTest, DropsHopByHopHeadersIncludingThoseNamedInConnection) {
  std::string out = rewriteRequest(
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
      "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
      "Trailer: X-T\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n");
  for (const char* gone :
       {"Connection:", "X-Secret", "Keep-Alive", "Proxy-Connection", "TE:", "Trailer", "Upgrade"})
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in\n" << out;
  EXPECT_NE(out.find("X-Kept: yes\r\n"), std::string::npos);
}

TEST_F(ForwardHeadTest, ConnectionCannotStripFramingOrHost) {
  RequestRewrite rw;
  rw.framing = BodyFraming::ContentLength;
  rw.content_length = 3;
  std::string out = rewriteRequest(
      "POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host\r\nContent-Length: 3\r\n"
      "\r\nabc",
      rw);
  EXPECT_NE(out.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_NE(out.find("Host: h\r\n"), std::string::npos);
}

TEST_F(ForwardHeadTest, ChunkedRequestIsRestatedOnce) {
  RequestRewrite rw;
  rw.framing = BodyFraming::Chunked;
  std::string out = rewriteRequest(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", rw);
  size_t first = out.find("Transfer-Encoding: chunked\r\n");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(out.find("Transfer-Encoding", first + 1), std::string::npos);
}

TEST_F(ForwardHeadTest, Http10RequestWithoutHostGetsOne) {
  RequestRewrite rw;
  rw.default_host = "127.0.0.1:8081";
  std::string out = rewriteRequest("GET / HTTP/1.0\r\n\r\n", rw);
  EXPECT_EQ(out.rfind("GET / HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(out.find("Host: 127.0.0.1:8081\r\n"), std::string::npos);
}

TEST_F(ForwardHeadTest, ResponseReframedAsChunkedDropsUpstreamFraming) {
  ResponseRewrite rw;
  rw.framing = BodyFraming::Chunked;
  std::string out = rewriteResponse("HTTP/1.1 200 OK\r\nConnection: close\r\nX-App: 1\r\n\r\n", rw);
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
  EXPECT_NE(out.find("X-App: 1\r\n"), std::string::npos);
}

TEST_F(ForwardHeadTest, ResponseToHttp10ClientSaysKeepAliveOrClose) {
  ResponseRewrite rw;
  rw.framing = BodyFraming::ContentLength;
  rw.content_length = 2;
  rw.client_http10 = true;
  EXPECT_NE(rewriteResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", rw)
                .find("Connection: keep-alive\r\n"),
            std::string::npos);
  rw.close = true;
  EXPECT_NE(rewriteResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", rw)
                .find("Connection: close\r\n"),
            std::string::npos);
}

TEST(ChunkHeaderTest, FormatsHex) {
  char buf[24];
  EXPECT_EQ(std::string(buf, formatChunkHeader(255, buf)), "ff\r\n");
  EXPECT_EQ(std::string(buf, formatChunkHeader(0, buf)), "0\r\n");
}

TEST(HeaderRulesTest, ClassifiesCaseInsensitively) {
  EXPECT_EQ(classifyHeader("CONTENT-length"), HeaderKind::ContentLength);
  EXPECT_EQ(classifyHeader("x-forwarded-FOR"), HeaderKind::XForwardedFor);
  EXPECT_EQ(classifyHeader("te"), HeaderKind::Te);
  EXPECT_EQ(classifyHeader("X-Custom"), HeaderKind::Other);
}

TEST(ErrorResponseTest, ContentLengthMatchesBody) {
  for (ProxyError e :
       {ProxyError::BadRequest, ProxyError::RequestTimeout, ProxyError::HeadersTooLarge,
        ProxyError::BadGateway, ProxyError::NoHealthyBackend, ProxyError::GatewayTimeout}) {
    for (bool close : {false, true}) {
      std::string r(errorResponse(e, close));
      size_t end = r.find("\r\n\r\n");
      ASSERT_NE(end, std::string::npos);
      size_t cl = r.find("Content-Length: ");
      ASSERT_NE(cl, std::string::npos);
      size_t declared = std::stoul(r.substr(cl + 16));
      EXPECT_EQ(declared, r.size() - end - 4);
      EXPECT_EQ(r.find("Connection: close") != std::string::npos, close);
      EXPECT_NE(r.find("{\"error\":\""), std::string::npos);
    }
  }
  EXPECT_NE(std::string(errorResponse(ProxyError::NoHealthyBackend, false)).find("Retry-After"),
            std::string::npos);
}

}  // namespace
}  // namespace fiberlb::http

// Persistent connections on both sides and pipelined requests answered in order (SPEC §5).

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

TEST(KeepAlive, ManyRequestsOnOneClientConnectionReuseUpstreamConnections) {
  TestBackend backend("b1");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"b1", backend.port()}})));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000))) << client.error();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(client.send(getRequest("/ka/" + std::to_string(i)), deadlineIn(5000)))
        << "request " << i << ": " << client.error();
    Response r = client.readResponse(deadlineIn(5000));
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.error;
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body, "b1\n");
    ASSERT_FALSE(r.until_close) << "a keep-alive response must be length-delimited";
  }
  EXPECT_FALSE(client.peerClosed());
  EXPECT_EQ(backend.requestCount(), 200);
  // The upstream pool reuses idle connections instead of opening one per request.
  EXPECT_LE(backend.connectionCount(), 4);
}

TEST(KeepAlive, ConnectionCloseFromClientIsHonoured) {
  TestBackend backend("b1");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"b1", backend.port()}})));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/first"), deadlineIn(5000)));
  ASSERT_EQ(client.readResponse(deadlineIn(5000)).status, 200);
  ASSERT_TRUE(client.send(getRequest("/last", "Connection: close\r\n"), deadlineIn(5000)));
  Response r = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000))) << "fiberlb kept the connection open";
}

TEST(KeepAlive, BodylessResponsesDoNotDesynchroniseTheConnection) {
  // A HEAD answer carries the Content-Length of the body it does not send, and 204 has no
  // body at all: a proxy that waited for those bytes would hang or misframe what follows.
  TestBackend backend("b1", Behaviour{.body_size = 100000});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"b1", backend.port()}})));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send("HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n", deadlineIn(5000)));
  Response head = client.readResponse(deadlineIn(5000), /*head_request=*/true);
  ASSERT_TRUE(head.ok()) << head.error;
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "100000");

  backend.setBehaviour(Behaviour{.status = 204});
  ASSERT_TRUE(client.send(getRequest("/empty"), deadlineIn(5000)));
  Response empty = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(empty.ok()) << empty.error;
  EXPECT_EQ(empty.status, 204);

  backend.setBehaviour(Behaviour{.body_size = 1000});
  ASSERT_TRUE(client.send(getRequest("/after"), deadlineIn(5000)));
  Response after = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(after.ok()) << after.error;
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(firstPatternMismatch(after.body, 1000), -1);
  EXPECT_EQ(client.pending(), "") << "stray bytes after the last response";
}

TEST(KeepAlive, IdleClientConnectionIsClosedAfterClientIdleMs) {
  TestBackend backend("b1");
  FiberlbConfig config = singleLb({{"b1", backend.port()}});
  config.loadbalancers[0].timeouts["client_idle_ms"] = 300;
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  ASSERT_TRUE(client.send(getRequest("/"), deadlineIn(5000)));
  ASSERT_EQ(client.readResponse(deadlineIn(5000)).status, 200);
  const auto idle_since = Clock::now();
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000))) << "idle connection never closed";
  EXPECT_GE(Clock::now() - idle_since, milliseconds(250)) << "closed before client_idle_ms";
  EXPECT_EQ(client.pending(), "") << "an idle close must not send a response";
}

TEST(Pipelining, ResponsesComeBackInRequestOrderEvenWhenBackendsDifferInSpeed) {
  // Round-robin alternates between a slow and a fast backend, so a proxy that answered
  // pipelined requests as soon as each backend replied would reorder them.
  Behaviour slow{.delay = milliseconds(150), .echo = true};
  Behaviour fast{.echo = true};
  TestBackend a("slow", slow), b("fast", fast);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"slow", a.port()}, {"fast", b.port()}})));

  std::vector<std::string> requests;
  for (int i = 0; i < 6; ++i)
    requests.push_back(getRequest("/p" + std::to_string(i)));
  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  auto responses = client.pipeline(requests, deadlineIn(20000));
  ASSERT_EQ(responses.size(), requests.size());
  for (size_t i = 0; i < responses.size(); ++i) {
    ASSERT_TRUE(responses[i].ok()) << "response " << i << ": " << responses[i].error;
    EXPECT_EQ(responses[i].status, 200);
    EXPECT_TRUE(responses[i].body.starts_with("GET /p" + std::to_string(i) + " HTTP/1.1\r\n"))
        << "response " << i << " answers: " << responses[i].body.substr(0, 40);
  }
  EXPECT_EQ(a.requestCount() + b.requestCount(), 6);
}

TEST(Pipelining, RequestsWithBodiesAndSplitWritesStayFramed) {
  TestBackend backend("echo", Behaviour{.echo = true});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"echo", backend.port()}})));

  const std::string all =
      "POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
      "POST /two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "GET /three HTTP/1.1\r\nHost: t\r\n\r\n";
  HttpClient client;
  ASSERT_TRUE(client.connect(lb.port(), deadlineIn(5000)));
  // Small writes at odd boundaries, then read the three answers.
  for (size_t pos = 0; pos < all.size(); pos += 7) {
    ASSERT_TRUE(client.send(all.substr(pos, 7), deadlineIn(5000)));
  }
  const char* expected_start[] = {"POST /one ", "POST /two ", "GET /three "};
  const char* expected_end[] = {"\r\n\r\nhello", "\r\n\r\nabc", "\r\n\r\n"};
  for (int i = 0; i < 3; ++i) {
    Response r = client.readResponse(deadlineIn(10000));
    ASSERT_TRUE(r.ok()) << "response " << i << ": " << r.error;
    EXPECT_TRUE(r.body.starts_with(expected_start[i])) << r.body;
    EXPECT_TRUE(r.body.ends_with(expected_end[i])) << r.body;
  }
  EXPECT_EQ(backend.targets(), (std::vector<std::string>{"/one", "/two", "/three"}));
}

}  // namespace
}  // namespace fiberlb::testing

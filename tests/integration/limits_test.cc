// Request head limits and the head timeout (SPEC §5, §3 timeouts): 431 beyond 64 KiB or 100
// header fields, 408 when the head does not arrive within client_header_ms (slowloris).

#include <gtest/gtest.h>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<TestBackend>("b1");
    FiberlbConfig config = singleLb({{"b1", backend_->port()}});
    config.loadbalancers[0].timeouts["client_header_ms"] = 500;
    ASSERT_TRUE(lb_.start(config));
  }

  // `count` header fields (Host included) of about `value_size` bytes each.
  static std::string requestWithHeaders(int count, size_t value_size) {
    std::string r = "GET /limits HTTP/1.1\r\nHost: t\r\n";
    for (int i = 1; i < count; ++i) {
      r += "X-Field-" + std::to_string(i) + ": " + std::string(value_size, 'v') + "\r\n";
    }
    return r + "\r\n";
  }

  Response send(const std::string& raw) {
    HttpClient client;
    EXPECT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
    EXPECT_TRUE(client.send(raw, deadlineIn(5000))) << client.error();
    return client.readResponse(deadlineIn(10000));
  }

  void expectHeadersTooLarge(const Response& r) {
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 431) << r.body;
    EXPECT_NE(r.body.find("\"error\":\"headers_too_large\""), std::string::npos) << r.body;
    EXPECT_EQ(backend_->requestCount(), 0);
  }

  std::unique_ptr<TestBackend> backend_;
  FiberlbProcess lb_;
};

TEST_F(Limits, HeadOf70KiBInOneFieldIs431) {
  expectHeadersTooLarge(send(requestWithHeaders(2, 70 * 1024)));
}

TEST_F(Limits, HeadOf70KiBInManyFieldsIs431) {
  expectHeadersTooLarge(send(requestWithHeaders(70, 1024)));
}

TEST_F(Limits, OneHundredAndOneFieldsIs431) {
  expectHeadersTooLarge(send(requestWithHeaders(101, 4)));
}

TEST_F(Limits, HeadsWithinTheLimitsAreForwarded) {
  Response big = send(requestWithHeaders(2, 60 * 1024));
  ASSERT_TRUE(big.ok()) << big.error;
  EXPECT_EQ(big.status, 200) << "a 60 KiB head is within the 64 KiB limit";
  Response many = send(requestWithHeaders(100, 4));
  ASSERT_TRUE(many.ok()) << many.error;
  EXPECT_EQ(many.status, 200) << "100 header fields are within the limit";
  EXPECT_EQ(backend_->requestCount(), 2);
  EXPECT_EQ(backend_->lastRequest()->header("X-Field-99"), "vvvv");
}

TEST_F(Limits, StalledHeadGets408AndTheConnectionIsClosed) {
  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  const auto start = Clock::now();
  ASSERT_TRUE(client.send("GET /stalled HTTP/1.1\r\nHost: t\r\n", deadlineIn(5000)));
  Response r = client.readResponse(deadlineIn(10000));
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 408) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"request_timeout\""), std::string::npos) << r.body;
  EXPECT_GE(elapsed, milliseconds(400)) << "answered before client_header_ms = 500 passed";
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000)));
  EXPECT_EQ(backend_->requestCount(), 0);
}

TEST_F(Limits, SlowlorisTrickleStillTimesOutOnTheWholeHead) {
  // One byte every 50 ms keeps the connection busy but the head never completes in 500 ms.
  // The pause between bytes is the attack's pacing; it ends as soon as fiberlb answers.
  HttpClient client;
  ASSERT_TRUE(client.connect(lb_.port(), deadlineIn(5000)));
  const std::string head = "GET /slow HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(200, 'p');
  const auto start = Clock::now();
  for (char c : head) {
    if (!client.send(std::string(1, c), deadlineIn(1000))) break;     // closed by fiberlb
    if (client.waitReadable(Clock::now() + milliseconds(50))) break;  // answered
  }
  Response r = client.readResponse(deadlineIn(5000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 408);
  EXPECT_LT(Clock::now() - start, milliseconds(static_cast<int>(4000 * timeoutScale())));
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000)));
}

}  // namespace
}  // namespace fiberlb::testing

// The retry policy (SPEC §3 retries, §4): a 5xx is retried on another backend only when
// retries.on lists "5xx" and only for idempotent requests, the last attempt's 5xx is relayed
// as it is, and a retry budget keeps retries to ~20% extra load when every backend fails
// (fiberlb_retries_total counts them).

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

const std::vector<std::string> kOnWith5xx{"connect-failure", "refused", "reset-before-response",
                                          "5xx"};

// An LB "web" over `backends` with retries.max = `max`, retries.on = `on` (nullopt: the
// default list) and a circuit breaker that never opens during a test, so that every request
// meets the failing backends.
FiberlbConfig retrying(const std::vector<BackendConfig>& backends, int max,
                       std::optional<std::vector<std::string>> on) {
  FiberlbConfig config = singleLb(backends);
  LbConfig& web = config.loadbalancers[0];
  web.retries_max = max;
  web.retries_on = std::move(on);
  web.circuit_breaker = {{"failure_threshold", 100000}};
  return config;
}

// fiberlb_retries_total{lb="web"} from /metrics; -1 when absent.
double retriesTotal(FiberlbProcess& lb) {
  Response r = fetch(adminPort(lb), getRequest("/metrics"), deadlineIn(5000));
  const std::string sample = "\nfiberlb_retries_total{lb=\"web\"} ";
  const size_t at = r.body.find(sample);
  return at == std::string::npos ? -1 : std::stod(r.body.substr(at + sample.size()));
}

std::string postRequest(const std::string& body) {
  return "POST /post HTTP/1.1\r\nHost: test.local\r\nContent-Type: text/plain\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sends `n` copies of `request`, each on its own connection; the responses.
std::vector<Response> sendEach(uint16_t port, const std::string& request, int n) {
  std::vector<Response> out;
  for (int i = 0; i < n; ++i)
    out.push_back(fetch(port, request, deadlineIn(10000)));
  return out;
}

// Checks that the responses that were not 200 are exactly `bad`'s own 500s.
void expectOnly500sOf(const std::vector<Response>& responses, const TestBackend& bad) {
  int errors = 0;
  for (const Response& r : responses) {
    ASSERT_TRUE(r.ok()) << r.error;
    if (r.status == 200) continue;
    ++errors;
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.body, bad.name() + "\n") << "not the backend's own response";
  }
  EXPECT_EQ(errors, bad.requestCount());
}

TEST(RetryPolicy, GetsAreRetriedOn5xxWhenListed) {
  TestBackend bad("bad", Behaviour{.status = 500});
  TestBackend good("good");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(retrying({{"bad", bad.port()}, {"good", good.port()}}, 2, kOnWith5xx)));

  // 10 requests stay within the retry budget's reserve even if every one meets "bad" first.
  TrafficResult r = sendRequests(lb.port(), 10, deadlineIn(20000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend["good"], 10);
  EXPECT_GE(bad.requestCount(), 3) << "the 500 backend was hardly tried";
  EXPECT_EQ(retriesTotal(lb), bad.requestCount());
}

TEST(RetryPolicy, APostWithABodyIsNotRetriedOn5xx) {
  TestBackend bad("bad", Behaviour{.status = 500});
  TestBackend good("good");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(retrying({{"bad", bad.port()}, {"good", good.port()}}, 2, kOnWith5xx)));

  std::vector<Response> responses = sendEach(lb.port(), postRequest("hello"), 4);
  EXPECT_GE(bad.requestCount(), 1) << "no POST reached the 500 backend";
  expectOnly500sOf(responses, bad);
  EXPECT_EQ(bad.requestCount() + good.requestCount(), 4) << "a POST was sent twice";
  EXPECT_EQ(retriesTotal(lb), 0);
  auto last = bad.lastRequest();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->method, "POST");
  EXPECT_EQ(last->body, "hello");
}

TEST(RetryPolicy, Without5xxInTheListA500PassesThrough) {
  TestBackend bad("bad", Behaviour{.status = 500});
  TestBackend good("good");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(retrying({{"bad", bad.port()}, {"good", good.port()}}, 2, std::nullopt)));

  std::vector<Response> responses = sendEach(lb.port(), getRequest("/"), 4);
  EXPECT_GE(bad.requestCount(), 1) << "no GET reached the 500 backend";
  expectOnly500sOf(responses, bad);
  EXPECT_EQ(bad.requestCount() + good.requestCount(), 4) << "a GET was retried";
  EXPECT_EQ(retriesTotal(lb), 0);
}

TEST(RetryPolicy, TheLastAttemptsFiveHundredIsPassedThrough) {
  TestBackend bad1("bad1", Behaviour{.status = 500});
  TestBackend bad2("bad2", Behaviour{.status = 503});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(retrying({{"bad1", bad1.port()}, {"bad2", bad2.port()}}, 2, kOnWith5xx)));

  Response r = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(bad1.requestCount(), 1) << "retries go to another backend";
  EXPECT_EQ(bad2.requestCount(), 1) << "retries go to another backend";
  EXPECT_EQ(retriesTotal(lb), 1);
  // The second attempt's answer, relayed as it is.
  ASSERT_TRUE(r.body == "bad1\n" || r.body == "bad2\n")
      << "not a backend's own answer: " << r.status << " " << r.body;
  EXPECT_EQ(r.status, r.body == "bad1\n" ? 500 : 503);
}

TEST(RetryPolicy, AnOnlyBackendsFiveHundredIsPassedThroughWhenThereIsNoOtherToRetryOn) {
  TestBackend bad("bad", Behaviour{.status = 500});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(retrying({{"bad", bad.port()}}, 2, kOnWith5xx)));

  Response r = fetch(lb.port(), getRequest("/"), deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(r.body, "bad\n") << "the backend's own answer, not one of fiberlb's";
  EXPECT_EQ(bad.requestCount(), 1);
}

TEST(RetryPolicy, TheRetryBudgetCapsRetriesWhenEveryBackendRefuses) {
  constexpr int kRequests = 200;
  // retries.max = 2 alone would allow 2 retries a request; the budget allows 20% + a reserve.
  constexpr double kBudget = 0.2 * kRequests + 10;
  FiberlbProcess lb;
  FiberlbConfig config = retrying(
      {{"a", refusingPort()}, {"b", refusingPort()}, {"c", refusingPort()}}, 2, std::nullopt);
  config.workers = 1;
  ASSERT_TRUE(lb.start(config));

  int non_503 = 0;
  for (const Response& r : sendEach(lb.port(), getRequest("/"), kRequests)) {
    if (!r.ok() || r.status != 503) {
      ++non_503;
      ADD_FAILURE() << "not a 503: "
                    << (r.ok() ? std::to_string(r.status) + " " + r.body : r.error);
    }
    if (non_503 > 3) break;
  }
  const double retried = retriesTotal(lb);
  EXPECT_LE(retried, kBudget + 2) << "retries beyond the budget";
  EXPECT_GE(retried, 10) << "the budget's reserve was not used";
}

}  // namespace
}  // namespace fiberlb::testing

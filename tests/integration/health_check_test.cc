// Active health checks (SPEC §3 [standalone.loadbalancers.healthcheck], §4 routing): http and
// tcp checks on real backends, rise/fall thresholds, the per-check timeout, the request a
// check sends, sub-second intervals, and that requests right after "fiberlb ready" already
// see the first verdicts. Health is read through GET /api/geo/nodes (SPEC §8).

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "tests/support/admin_json.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

constexpr double kIntervalSec = 0.2;

// The entry of GET /api/geo/nodes for backend `name` of LB `lb`; null when absent.
json node(uint16_t admin, const std::string& lb, const std::string& name) {
  json nodes = adminJson(admin, "/api/geo/nodes");
  if (!nodes.is_array()) return nullptr;
  for (const json& n : nodes) {
    if (n.value("node_id", "") == name && n.value("loadbalancer", "") == lb) return n;
  }
  return nullptr;
}

std::string health(uint16_t admin, const std::string& lb, const std::string& name) {
  json n = node(admin, lb, name);
  return n.is_object() ? n.value("health", "<none>") : "<no node>";
}

// How many requests with target `target` the backend received (health checks use their own
// path, data traffic uses /traffic).
int received(const TestBackend& b, const std::string& target) {
  const auto targets = b.targets();
  return static_cast<int>(std::count(targets.begin(), targets.end(), target));
}

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// SPEC §4: detection must take no longer than interval × threshold + 1 s.
int64_t detectionBoundMs(int threshold) {
  return static_cast<int64_t>((kIntervalSec * 1000 * threshold + 1000) * timeoutScale());
}

std::string httpCheck(const std::string& path, int rise, int fall, double timeout_sec = 1) {
  return "type = \"http\"\ninterval_sec = " + std::to_string(kIntervalSec) +
         "\ntimeout_sec = " + std::to_string(timeout_sec) + "\npath = \"" + path +
         "\"\nhealthy_threshold = " + std::to_string(rise) +
         "\nunhealthy_threshold = " + std::to_string(fall) + "\n";
}

// Sends small batches until one contains no response from `excluded` and only 200s: the
// worker has the snapshot the admin API already showed (it arrives asynchronously).
bool waitUntilAvoided(uint16_t port, const std::string& excluded) {
  return pollUntil(
      [&] {
        TrafficResult probe = sendRequests(port, 4, deadlineIn(5000));
        return probe.failures == 0 && probe.by_backend.count(excluded) == 0;
      },
      deadlineIn(5000), milliseconds(20));
}

TEST(HealthCheck, FailingHttpCheckTakesABackendOutAndPassesBringItBack) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}});
  const int rise = 3, fall = 2;
  config.loadbalancers[0].healthcheck = httpCheck("/hc", rise, fall);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0) << "no 'admin API listening addr=' line";

  TrafficResult before = sendRequests(lb.port(), 30, deadlineIn(20000));
  EXPECT_EQ(before.failures, 0) << ::testing::PrintToString(before.errors);
  EXPECT_EQ(before.by_backend, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));

  // c starts failing its checks (and everything else): it leaves within interval × fall + 1 s
  // and only after `fall` failed checks.
  const int checks_before_failure = received(c, "/hc");
  c.setBehaviour(Behaviour{.status = 503});
  const auto failed_at = Clock::now();
  ASSERT_TRUE(
      pollUntil([&] { return health(admin, "web", "c") == "unhealthy"; }, deadlineIn(10000)))
      << "c never became unhealthy: " << node(admin, "web", "c").dump();
  const int64_t detect_ms = msSince(failed_at);
  EXPECT_LE(detect_ms, detectionBoundMs(fall));
  EXPECT_GE(received(c, "/hc") - checks_before_failure, fall)
      << "unhealthy before " << fall << " consecutive failed checks";
  json down = node(admin, "web", "c");
  EXPECT_EQ(down.value("eligible", true), false) << down.dump();

  ASSERT_TRUE(waitUntilAvoided(lb.port(), "c"));
  TrafficResult during = sendRequests(lb.port(), 40, deadlineIn(20000));
  EXPECT_EQ(during.failures, 0) << ::testing::PrintToString(during.errors);
  EXPECT_EQ(during.by_backend, (std::map<std::string, int>{{"a", 20}, {"b", 20}}));

  // c recovers: healthy again after `rise` consecutive passes, within interval × rise + 1 s.
  const int checks_before_recovery = received(c, "/hc");
  c.setBehaviour(Behaviour{});
  const auto recovered_at = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return health(admin, "web", "c") == "healthy"; }, deadlineIn(10000)))
      << "c never became healthy again: " << node(admin, "web", "c").dump();
  EXPECT_LE(msSince(recovered_at), detectionBoundMs(rise));
  EXPECT_GE(received(c, "/hc") - checks_before_recovery, rise)
      << "healthy again before " << rise << " consecutive passed checks";
  EXPECT_EQ(node(admin, "web", "c").value("eligible", false), true);

  ASSERT_TRUE(pollUntil(
      [&] { return sendRequests(lb.port(), 3, deadlineIn(5000)).by_backend.count("c") == 1; },
      deadlineIn(5000), milliseconds(20)))
      << "c never received traffic again";
  TrafficResult after = sendRequests(lb.port(), 30, deadlineIn(20000));
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(after.by_backend, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));
}

TEST(HealthCheck, TcpCheckDetectsAStoppedBackend) {
  TestBackend a("a"), b("b");
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port()}});
  const int fall = 2;
  config.loadbalancers[0].healthcheck =
      "type = \"tcp\"\ninterval_sec = 0.2\ntimeout_sec = 1\nhealthy_threshold = 2\n"
      "unhealthy_threshold = 2\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(health(admin, "web", "a"), "healthy");
  EXPECT_EQ(health(admin, "web", "b"), "healthy");

  // A tcp check connects and sends nothing.
  ASSERT_TRUE(pollUntil([&] { return b.connectionCount() >= 3; }, deadlineIn(5000)))
      << "no repeated tcp checks reached b";
  EXPECT_TRUE(b.targets().empty())
      << "a tcp check sent an HTTP request: " << ::testing::PrintToString(b.targets());

  b.stop();  // connections are refused from now on
  const auto stopped_at = Clock::now();
  ASSERT_TRUE(
      pollUntil([&] { return health(admin, "web", "b") == "unhealthy"; }, deadlineIn(10000)))
      << "b never became unhealthy: " << node(admin, "web", "b").dump();
  EXPECT_LE(msSince(stopped_at), detectionBoundMs(fall));
  EXPECT_EQ(health(admin, "web", "a"), "healthy");

  TrafficResult r = sendRequests(lb.port(), 20, deadlineIn(20000), /*keep_alive=*/false);
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{"a", 20}}));
}

TEST(HealthCheck, HangingBackendIsDetectedByTheCheckTimeout) {
  TestBackend a("a"), b("b");
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port()}});
  const int fall = 2;
  // timeout_sec stays at its 5 s default: a check never outlives its interval, so a hanging
  // backend is still detected within interval × fall + 1 s.
  config.loadbalancers[0].healthcheck =
      "type = \"http\"\ninterval_sec = 0.2\npath = \"/hc\"\nhealthy_threshold = 2\n"
      "unhealthy_threshold = 2\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(health(admin, "web", "b"), "healthy");

  // Every new connection to b is accepted and then never answered.
  b.setBehaviour(Behaviour{.mode = BackendMode::Hang});
  const auto hung_at = Clock::now();
  ASSERT_TRUE(
      pollUntil([&] { return health(admin, "web", "b") == "unhealthy"; }, deadlineIn(15000)))
      << "b never became unhealthy: " << node(admin, "web", "b").dump();
  EXPECT_LE(msSince(hung_at), detectionBoundMs(fall));

  // New connections to b would hang for upstream_response_ms: none may go there.
  TrafficResult r = sendRequests(lb.port(), 20, deadlineIn(10000), /*keep_alive=*/false);
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{"a", 20}}));
}

TEST(HealthCheck, HttpCheckSendsTheConfiguredPathAndHost) {
  TestBackend web_backend("w"), bare_backend("p");
  FiberlbConfig config;
  LbConfig web;
  web.name = "web";
  web.backends = {{"w", web_backend.port()}};
  web.healthcheck = httpCheck("/status/ready?full=1", 2, 2) + "host = \"health.internal\"\n";
  LbConfig bare;
  bare.name = "bare";
  bare.backends = {{"p", bare_backend.port()}};
  bare.healthcheck = httpCheck("/hc", 2, 2);
  config.loadbalancers = {web, bare};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  // The first round ran before "fiberlb ready".
  ASSERT_TRUE(pollUntil([&] { return web_backend.requestCount() > 0; }, deadlineIn(5000)));
  ASSERT_TRUE(pollUntil([&] { return bare_backend.requestCount() > 0; }, deadlineIn(5000)));
  auto w = web_backend.lastRequest();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->method, "GET");
  EXPECT_EQ(w->target, "/status/ready?full=1");
  EXPECT_EQ(w->version, "HTTP/1.1");
  EXPECT_EQ(w->header("Host").value_or("<none>"), "health.internal") << w->head;
  EXPECT_EQ(w->headerCount("Host"), 1u) << w->head;

  auto p = bare_backend.lastRequest();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->method, "GET");
  EXPECT_EQ(p->target, "/hc");
  // HTTP/1.1 requires a Host header even when none is configured.
  EXPECT_FALSE(p->header("Host").value_or("").empty()) << p->head;

  // Each LB's table applies to its own backends only.
  for (const auto& t : web_backend.targets())
    EXPECT_EQ(t, "/status/ready?full=1");
  for (const auto& t : bare_backend.targets())
    EXPECT_EQ(t, "/hc");
}

TEST(HealthCheck, SubSecondIntervalChecksFiveTimesASecond) {
  TestBackend a("a");
  FiberlbConfig config = singleLb({{"a", a.port()}});
  config.loadbalancers[0].healthcheck = httpCheck("/hc", 2, 2);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));

  ASSERT_TRUE(pollUntil([&] { return received(a, "/hc") >= 1; }, deadlineIn(5000)));
  const int first = received(a, "/hc");
  const auto t0 = Clock::now();
  const int intervals = 10;
  ASSERT_TRUE(pollUntil([&] { return received(a, "/hc") >= first + intervals; }, deadlineIn(20000),
                        milliseconds(2)))
      << "only " << received(a, "/hc") - first << " checks in " << msSince(t0) << " ms";
  const int64_t elapsed = msSince(t0);
  // 10 intervals of 200 ms: not rounded up to whole seconds, not run back to back.
  EXPECT_GE(elapsed, intervals * 200 * 3 / 4);
  EXPECT_LE(elapsed, static_cast<int64_t>((intervals * 200 * 3 / 2 + 500) * timeoutScale()));
}

TEST(HealthCheck, StartupWaitsForFirstVerdictsAndLbsWithoutATableHaveNoChecks) {
  TestBackend a1("a1"), a2("a2");
  TestBackend sick("sick", Behaviour{.status = 503});
  TestBackend plain_backend("plain", Behaviour{.status = 503});
  FiberlbConfig config;
  LbConfig web;
  web.name = "web";
  web.backends = {{"a1", a1.port()}, {"a2", a2.port()}, {"sick", sick.port()}};
  // From "unknown", one passed check makes a backend healthy, whatever healthy_threshold is.
  web.healthcheck = httpCheck("/hc", 3, 2);
  LbConfig plain;
  plain.name = "plain";
  plain.backends = {{"plain", plain_backend.port()}};
  config.loadbalancers = {web, plain};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  // Requests right after "fiberlb ready" already see the first round's verdicts.
  TrafficResult r = sendRequests(lb.port("web"), 20, deadlineIn(20000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{"a1", 10}, {"a2", 10}}));
  EXPECT_EQ(health(admin, "web", "a1"), "healthy");
  EXPECT_EQ(health(admin, "web", "a2"), "healthy");
  json s = node(admin, "web", "sick");
  EXPECT_NE(s.value("health", ""), "healthy") << s.dump();
  EXPECT_EQ(s.value("eligible", true), false) << s.dump();

  // No table, no active checks: the backend is never probed, stays "unknown" and eligible
  // (even though it would fail a check).
  json p = node(admin, "plain", "plain");
  EXPECT_EQ(p.value("health", ""), "unknown") << p.dump();
  EXPECT_EQ(p.value("eligible", false), true) << p.dump();
  EXPECT_EQ(plain_backend.requestCount(), 0);
  EXPECT_EQ(plain_backend.connectionCount(), 0);
  Response direct = fetch(lb.port("plain"), getRequest("/traffic"), deadlineIn(5000));
  ASSERT_TRUE(direct.ok()) << direct.error;
  EXPECT_EQ(direct.status, 503);
  EXPECT_EQ(direct.header("X-Backend").value_or(""), "plain") << "not the backend's answer";
  EXPECT_EQ(plain_backend.targets(), (std::vector<std::string>{"/traffic"}));
}

}  // namespace
}  // namespace fiberlb::testing

// GET /metrics after real traffic, checked by Prometheus's own linter (`promtool check
// metrics`: exposition syntax, HELP/TYPE, counter naming, histogram shape) and for the
// SPEC §8 families with the values the traffic must have produced.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

// promtool on $PATH (Debian package `prometheus`), or "" when it is not installed.
std::string findPromtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/promtool";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Sums every sample of `family` (exactly that name) whose labels include all of `labels`.
double sumSamples(const std::string& exposition, const std::string& family,
                  const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family, 0) != 0) continue;
    const std::string rest = line.substr(family.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;
    bool all = true;
    for (const auto& [k, v] : labels)
      all = all && rest.find(k + "=\"" + v + "\"") != std::string::npos;
    if (all) sum += std::stod(rest.substr(rest.rfind(' ') + 1));
  }
  return sum;
}

// Runs `promtool check metrics` on `text`; returns its exit code and output.
std::pair<int, std::string> promtoolCheck(const std::string& promtool, const TempDir& dir,
                                          const std::string& text) {
  const std::string file = dir.write("metrics.txt", text);
  Process::Options options;
  options.args = {"-c", "exec \"$0\" check metrics < \"$1\" 2>&1", promtool, file};
  options.label = "promtool";
  Process p("/bin/sh", options);
  const std::optional<int> code = p.waitExit(deadlineIn(20000));
  p.waitOutputEnd(deadlineIn(5000));
  return {code.value_or(-1), p.output()};
}

TEST(MetricsPromtool, ExpositionAfterTrafficPassesPromtool) {
  const std::string promtool = findPromtool();
  if (promtool.empty())
    GTEST_SKIP() << "promtool is not installed (Debian package 'prometheus'; "
                    "scripts/install-deps.sh test installs it)";

  TestBackend t1("tokyo-1"), t2("tokyo-2"), v1("virginia-1"), e1("ireland-1");
  FiberlbConfig config;
  LbConfig web;
  web.backends = {{"tokyo-1", t1.port(), 100, "127.0.0.1", "ap-northeast-1"},
                  {"tokyo-2", t2.port(), 100, "127.0.0.1", "ap-northeast-1"},
                  {"virginia-1", v1.port(), 100, "127.0.0.1", "us-east-1"},
                  {"ireland-1", e1.port(), 100, "127.0.0.1", "eu-west-1"}};
  web.healthcheck =
      "type = \"http\"\ninterval_sec = 0.2\npath = \"/hc\"\nhealthy_threshold = 1\n"
      "unhealthy_threshold = 2\n";
  config.loadbalancers.push_back(web);
  LbConfig api;
  api.name = "api \"quoted\"";  // label values must be escaped
  api.backends = {{"api-1", v1.port(), 100, "127.0.0.1", "us-east-1"}};
  config.loadbalancers.push_back(api);
  config.extra =
      "[geo]\nactive_region = \"ap-northeast-1\"\n"
      "[[geo.regions]]\nid = \"ap-northeast-1\"\nlatitude = 35.68\nlongitude = 139.69\npriority = "
      "1\n"
      "[[geo.regions]]\nid = \"us-east-1\"\nlatitude = 39.04\nlongitude = -77.49\npriority = 2\n"
      "[[geo.regions]]\nid = \"eu-west-1\"\nlatitude = 53.33\nlongitude = -6.25\npriority = 3\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  // 2xx from both Tokyo backends, then 5xx from one, then a request fiberlb rejects itself.
  TrafficResult ok = sendRequests(lb.port("web"), 10, deadlineIn(20000));
  ASSERT_EQ(ok.failures, 0) << ::testing::PrintToString(ok.errors);
  Behaviour failing;
  failing.status = 500;
  t1.setBehaviour(failing);
  t2.setBehaviour(failing);
  sendRequests(lb.port("web"), 4, deadlineIn(20000));
  Response bad = fetch(lb.port("web"),
                       "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n",
                       deadlineIn(5000));
  EXPECT_EQ(bad.status, 400);
  t1.setBehaviour({});
  t2.setBehaviour({});
  // A failover and a failed reload, so that those families have samples too.
  ASSERT_EQ(fetch(admin,
                  "POST /api/geo/failover HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  "Content-Length: 26\r\n\r\n{\"to_region\":\"us-east-1\"}\n",
                  deadlineIn(5000))
                .status,
            200);
  ASSERT_TRUE(lb.reloadRaw("not = [valid", false));

  Response r = fetch(admin, getRequest("/metrics"), deadlineIn(10000));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").value_or("").find("text/plain; version=0.0.4"),
            std::string::npos);
  const std::string& m = r.body;

  auto [code, output] = promtoolCheck(promtool, lb.dir(), m);
  EXPECT_EQ(code, 0) << "promtool check metrics:\n" << output << "\n--- exposition:\n" << m;
  EXPECT_EQ(output.find("error"), std::string::npos) << output;

  for (const char* family :
       {"fiberlb_requests_total counter", "fiberlb_request_duration_seconds histogram",
        "fiberlb_downstream_connections gauge", "fiberlb_upstream_active_requests gauge",
        "fiberlb_backend_healthy gauge", "fiberlb_circuit_state gauge",
        "fiberlb_region_online gauge", "fiberlb_active_region gauge",
        "fiberlb_failovers_total counter", "fiberlb_health_checks_total counter",
        "fiberlb_retries_total counter", "fiberlb_config_reloads_total counter",
        "fiberlb_tls_handshakes_total counter"})
    EXPECT_NE(m.find(std::string("# TYPE ") + family + "\n"), std::string::npos) << family;

  EXPECT_EQ(sumSamples(m, "fiberlb_requests_total", {{"lb", "web"}, {"code", "2xx"}}), 10) << m;
  EXPECT_GE(sumSamples(m, "fiberlb_requests_total", {{"lb", "web"}, {"code", "5xx"}}), 1) << m;
  EXPECT_EQ(
      sumSamples(m, "fiberlb_requests_total", {{"lb", "web"}, {"backend", ""}, {"code", "4xx"}}), 1)
      << m;
  EXPECT_GE(sumSamples(m, "fiberlb_request_duration_seconds_count", {{"lb", "web"}}), 14) << m;
  EXPECT_EQ(
      sumSamples(m, "fiberlb_request_duration_seconds_bucket", {{"lb", "web"}, {"le", "+Inf"}}),
      sumSamples(m, "fiberlb_request_duration_seconds_count", {{"lb", "web"}}));
  EXPECT_NE(m.find(R"(lb="api \"quoted\"")"), std::string::npos) << m;
  EXPECT_EQ(sumSamples(m, "fiberlb_region_online"), 3) << m;
  EXPECT_EQ(sumSamples(m, "fiberlb_active_region", {{"region", "us-east-1"}}), 1) << m;
  EXPECT_EQ(sumSamples(m, "fiberlb_active_region"), 1) << m;
  EXPECT_EQ(sumSamples(m, "fiberlb_backend_healthy", {{"lb", "web"}}), 4) << m;
  EXPECT_GE(
      sumSamples(m, "fiberlb_health_checks_total", {{"backend", "tokyo-1"}, {"result", "success"}}),
      1)
      << m;
  EXPECT_EQ(
      sumSamples(m, "fiberlb_failovers_total", {{"from", "ap-northeast-1"}, {"to", "us-east-1"}}),
      1)
      << m;
  // At least the SIGHUP's; the file watch may have tried the same edit first if the signal
  // came more than its quiet time after the write.
  EXPECT_GE(sumSamples(m, "fiberlb_config_reloads_total", {{"result", "failure"}}), 1) << m;
}

}  // namespace
}  // namespace fiberlb::testing

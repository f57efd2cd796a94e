// The admin API (SPEC §8) through the real binary: /health, /metrics, /api/loadbalancers,
// /api/geo/*, the dashboard, and the HTTP behaviour of the admin listener itself (errors in
// the JSON error shape, keep-alive, Connection: close, body limit, bind failure).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "src/version.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

Response adminGet(uint16_t port, const std::string& path) {
  return fetch(port, getRequest(path), deadlineIn(10000));
}

// Parses a JSON body; a parse error fails the test with the body in the message.
json parseJson(const Response& r) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

// Sums the value of every sample of `family` whose labels include all of `labels`.
double sumSamples(const std::string& exposition, const std::string& family,
                  const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family, 0) != 0) continue;
    std::string rest = line.substr(family.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;  // a longer name
    bool all = true;
    for (const auto& [k, v] : labels)
      all = all && rest.find(k + "=\"" + v + "\"") != std::string::npos;
    if (all) sum += std::stod(rest.substr(rest.rfind(' ') + 1));
  }
  return sum;
}

// The family a sample belongs to: its name, or for histograms and summaries the name without
// its _bucket/_sum/_count suffix when that family was TYPEd.
std::string familyOf(const std::string& sample, const std::set<std::string>& typed) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string_view s(suffix);
    if (sample.size() > s.size() && sample.ends_with(s)) {
      std::string base = sample.substr(0, sample.size() - s.size());
      if (typed.count(base)) return base;
    }
  }
  return sample;
}

// Checks the text exposition format 0.0.4 line by line: HELP/TYPE comments, samples with
// well-formed names, labels and values, and every sample's family TYPEd before it.
void expectValidExposition(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex kType(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex kSample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf))re");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::set<std::string> typed;
  std::istringstream in(text);
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "family TYPEd twice: " << line;
    } else if (std::regex_match(line, m, kHelp)) {
      continue;
    } else if (std::regex_match(line, m, kSample)) {
      EXPECT_TRUE(typed.count(familyOf(m[1], typed))) << "sample before its TYPE line: " << line;
      ++samples;
    } else {
      ADD_FAILURE() << "not a valid exposition line: '" << line << "'";
    }
  }
  EXPECT_GT(samples, 0);
}

TEST(AdminApi, HealthReportsHealthyWithItsFields) {
  TestBackend a("a"), b("b");
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port()}});
  config.extra = "[photon]\ncomponent_id = \"admin-test-1\"\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0) << "no 'admin API listening addr=' line";

  Response r = adminGet(port, "/health");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("application/json"), std::string::npos);
  json j = parseJson(r);
  EXPECT_EQ(j.value("status", ""), "healthy");
  EXPECT_EQ(j.value("mode", ""), "standalone");
  EXPECT_EQ(j.value("component", ""), "admin-test-1");
  EXPECT_EQ(j.value("version", ""), kVersion);
  ASSERT_TRUE(j.contains("checks")) << r.body;
  EXPECT_EQ(j["checks"].value("loadbalancers", -1), 1);
  EXPECT_EQ(j["checks"].value("eligible_backends", -1), 2);
}

TEST(AdminApi, HealthIsUnhealthy503WhenTheOnlyBackendHasWeightZero) {
  TestBackend a("a");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port(), 0}})));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  Response r = adminGet(port, "/health");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(parseJson(r).value("status", ""), "unhealthy");
}

TEST(AdminApi, HealthIsDegradedWhenSomeBackendIsNotEligible) {
  TestBackend a("a"), idle("idle");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}, {"idle", idle.port(), 0}})));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  Response r = adminGet(port, "/health");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
  json j = parseJson(r);
  EXPECT_EQ(j.value("status", ""), "degraded");
  EXPECT_EQ(j["checks"].value("eligible_backends", -1), 1);
}

TEST(AdminApi, MetricsCountRequestsInValidExpositionFormat) {
  TestBackend a("a"), b("b");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}, {"b", b.port()}})));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  Response before = adminGet(port, "/metrics");
  ASSERT_TRUE(before.ok()) << before.error;
  EXPECT_EQ(before.status, 200);
  EXPECT_NE(before.header("Content-Type").value_or("").find("text/plain; version=0.0.4"),
            std::string::npos);
  expectValidExposition(before.body);
  EXPECT_EQ(sumSamples(before.body, "fiberlb_requests_total", {{"lb", "web"}}), 0);

  TrafficResult t = sendRequests(lb.port(), 10, deadlineIn(20000));
  ASSERT_EQ(t.failures, 0) << ::testing::PrintToString(t.errors);

  Response after = adminGet(port, "/metrics");
  ASSERT_TRUE(after.ok()) << after.error;
  expectValidExposition(after.body);
  const std::string& m = after.body;
  EXPECT_EQ(sumSamples(m, "fiberlb_requests_total", {{"lb", "web"}}), 10) << m;
  EXPECT_EQ(sumSamples(m, "fiberlb_requests_total", {{"backend", "a"}}), 5) << m;
  EXPECT_EQ(sumSamples(m, "fiberlb_backend_eligible", {{"lb", "web"}}), 2) << m;
  EXPECT_GE(sumSamples(m, "fiberlb_accepted_connections_total"), 1) << m;
  // Health verdicts and start-up publish several snapshots; what matters is that it counts.
  EXPECT_GE(sumSamples(m, "fiberlb_config_generation"), 1) << m;
  for (const char* family : {"fiberlb_upstream_active_requests", "fiberlb_upstream_connections",
                             "fiberlb_backend_failures_total", "fiberlb_downstream_connections",
                             "fiberlb_retries_total"})
    EXPECT_NE(m.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
}

TEST(AdminApi, LoadBalancersListRealPortsAndBackends) {
  TestBackend a("a"), b("b");
  FiberlbConfig config = singleLb({{"a", a.port()}, {"b", b.port(), 0}});
  LbConfig api;
  api.name = "api";
  api.method = "leastconn";
  api.backends = {{"c", a.port(), 50}};
  config.loadbalancers.push_back(api);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);
  ASSERT_TRUE(fetch(lb.port("web"), getRequest("/"), deadlineIn(10000)).ok());

  Response r = adminGet(port, "/api/loadbalancers");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parseJson(r);
  ASSERT_TRUE(j.is_array()) << r.body;
  ASSERT_EQ(j.size(), 2u) << r.body;

  const json& web = j[0];
  EXPECT_EQ(web.value("name", ""), "web");
  EXPECT_EQ(web.value("port", 0), lb.port("web"));
  EXPECT_NE(web.value("port", 0), 0);
  EXPECT_EQ(web.value("protocol", ""), "http");
  EXPECT_EQ(web.value("method", ""), "roundrobin");
  EXPECT_EQ(web.value("vip", ""), "127.0.0.1");
  ASSERT_EQ(web["backends"].size(), 2u) << r.body;
  const json& ba = web["backends"][0];
  EXPECT_EQ(ba.value("name", ""), "a");
  EXPECT_EQ(ba.value("address", ""), "127.0.0.1");
  EXPECT_EQ(ba.value("port", 0), a.port());
  EXPECT_EQ(ba.value("weight", -1), 100);
  EXPECT_EQ(ba.value("eligible", false), true);
  EXPECT_EQ(ba.value("requests_total", -1), 1);
  for (const char* key : {"region", "active_requests", "connections", "failures_total"})
    EXPECT_TRUE(ba.contains(key)) << key;
  EXPECT_EQ(web["backends"][1].value("eligible", true), false);  // weight 0

  const json& api_lb = j[1];
  EXPECT_EQ(api_lb.value("name", ""), "api");
  EXPECT_EQ(api_lb.value("port", 0), lb.port("api"));
  EXPECT_EQ(api_lb.value("method", ""), "leastconn");
  EXPECT_EQ(api_lb["backends"][0].value("weight", -1), 50);
}

TEST(AdminApi, GeoStatusDerivesRegionStatusFromBackends) {
  TestBackend t1("t1"), t2("t2"), v1("v1");
  FiberlbConfig config;
  LbConfig web;
  web.backends = {{"t1", t1.port(), 100, "127.0.0.1", "tokyo"},
                  {"t2", t2.port(), 100, "127.0.0.1", "tokyo"},
                  {"v1", v1.port(), 0, "127.0.0.1", "virginia"}};
  config.loadbalancers.push_back(web);
  config.extra =
      "[[geo.regions]]\nid = \"tokyo\"\ndisplay_name = \"Tokyo\"\nprovider = \"aws\"\n"
      "latitude = 35.68\nlongitude = 139.69\npriority = 1\n"
      "[[geo.regions]]\nid = \"virginia\"\npriority = 2\n"
      "[[geo.regions]]\nid = \"empty\"\npriority = 3\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  Response r = adminGet(port, "/api/geo/status");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parseJson(r);
  EXPECT_EQ(j.value("active_region", ""), "tokyo") << r.body;
  EXPECT_EQ(j.value("total_regions", 0), 3) << r.body;
  EXPECT_EQ(j.value("total_nodes", 0), 3) << r.body;
  EXPECT_EQ(j.value("online_regions", 0), 1) << r.body;
  ASSERT_TRUE(j["regions"].is_object()) << r.body;
  EXPECT_EQ(j["regions"]["tokyo"].value("status", ""), "online");
  EXPECT_EQ(j["regions"]["tokyo"].value("node_count", 0), 2);
  EXPECT_EQ(j["regions"]["tokyo"].value("priority", 0), 1);
  EXPECT_EQ(j["regions"]["virginia"].value("status", ""), "offline");
  EXPECT_EQ(j["regions"]["empty"].value("status", ""), "unknown");

  Response regions = adminGet(port, "/api/geo/regions");
  ASSERT_TRUE(regions.ok()) << regions.error;
  json list = parseJson(regions);
  ASSERT_TRUE(list.is_array()) << regions.body;
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].value("id", ""), "tokyo");
  EXPECT_EQ(list[0].value("display_name", ""), "Tokyo");
  EXPECT_EQ(list[0].value("provider", ""), "aws");
  EXPECT_DOUBLE_EQ(list[0]["location"].value("lat", 0.0), 35.68);
  EXPECT_DOUBLE_EQ(list[0]["location"].value("lon", 0.0), 139.69);
  EXPECT_EQ(list[0].value("priority", 0), 1);
}

TEST(AdminApi, DashboardIsSelfContainedHtml) {
  TestBackend a("a");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}})));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  Response r = adminGet(port, "/");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").value_or("").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("<title>fiberlb</title>"), std::string::npos);
  EXPECT_NE(r.body.find("/api/geo/status"), std::string::npos);
  EXPECT_NE(r.body.find("/api/loadbalancers"), std::string::npos);
  // Nothing loaded from the network: no script or link tag points at another origin.
  static const std::regex kExternal(R"re(<(script|link)[^>]*(src|href)\s*=\s*["']?(https?:)?//)re",
                                    std::regex::icase);
  EXPECT_FALSE(std::regex_search(r.body, kExternal)) << "external resource in the dashboard";
  EXPECT_EQ(r.body.find("http://"), std::string::npos);
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
}

TEST(AdminApi, ErrorsUseTheJsonErrorShape) {
  TestBackend a("a");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}})));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  Response missing = adminGet(port, "/api/nope");
  ASSERT_TRUE(missing.ok()) << missing.error;
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(parseJson(missing).value("error", ""), "not_found");

  Response wrong = fetch(port, "DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n", deadlineIn(10000));
  ASSERT_TRUE(wrong.ok()) << wrong.error;
  EXPECT_EQ(wrong.status, 405);
  EXPECT_NE(wrong.header("Allow").value_or("").find("GET"), std::string::npos);
  json j = parseJson(wrong);
  EXPECT_EQ(j.value("error", ""), "method_not_allowed");
  EXPECT_FALSE(j.value("message", "").empty());

  Response big = fetch(port, "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
                       deadlineIn(10000));
  ASSERT_TRUE(big.ok()) << big.error;
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(parseJson(big).value("error", ""), "payload_too_large");

  Response bad = fetch(port, "NOT HTTP AT ALL\r\n\r\n", deadlineIn(10000));
  ASSERT_TRUE(bad.ok()) << bad.error;
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(parseJson(bad).value("error", ""), "bad_request");
}

TEST(AdminApi, KeepAliveServesSeveralRequestsAndHonoursConnectionClose) {
  TestBackend a("a");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(singleLb({{"a", a.port()}})));
  const uint16_t port = adminPort(lb);
  ASSERT_NE(port, 0);

  HttpClient client;
  ASSERT_TRUE(client.connect(port, deadlineIn(5000))) << client.error();
  for (const char* path : {"/health", "/metrics", "/api/geo/status"}) {
    ASSERT_TRUE(client.send(getRequest(path), deadlineIn(5000)));
    Response r = client.readResponse(deadlineIn(5000));
    ASSERT_TRUE(r.ok()) << path << ": " << r.error;
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_TRUE(r.header("Content-Length").has_value()) << path;
  }
  // Pipelined, then the last one asks to close.
  std::vector<Response> answers = client.pipeline(
      {getRequest("/health"), getRequest("/health", "Connection: close\r\n")}, deadlineIn(5000));
  ASSERT_EQ(answers.size(), 2u);
  for (const Response& r : answers) {
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(answers[1].header("Connection").value_or(""), "close");
  EXPECT_TRUE(client.waitClosed(deadlineIn(5000)));

  HttpClient head;
  ASSERT_TRUE(head.connect(port, deadlineIn(5000)));
  ASSERT_TRUE(head.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", deadlineIn(5000)));
  Response h = head.readResponse(deadlineIn(5000), /*head_request=*/true);
  ASSERT_TRUE(h.ok()) << h.error;
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
}

TEST(AdminApi, ExitsWithCode2WhenTheAdminAddressIsTaken) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string taken = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  TestBackend a("a");
  FiberlbConfig config = singleLb({{"a", a.port()}});
  config.admin_api_addr = taken;
  FiberlbProcess lb;
  FiberlbProcess::Options options;
  options.ready_timeout = milliseconds(5000);
  EXPECT_FALSE(lb.start(config, options));
  EXPECT_EQ(lb.process().waitExit(deadlineIn(5000)), 2);
  EXPECT_TRUE(lb.process().waitForLine(taken, deadlineIn(1000)).has_value())
      << "the error should name " << taken << "; output:\n"
      << lb.process().output();
  close(fd);
}

}  // namespace
}  // namespace fiberlb::testing

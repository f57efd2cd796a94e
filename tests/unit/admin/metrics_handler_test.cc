// GET /metrics: the exposition format and the SPEC §8 families.

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "src/admin/exposition.h"
#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

// Checks the text format line by line (HELP/TYPE before samples, one TYPE per family, no
// duplicate series) and returns sample line -> value.
std::map<std::string, std::string> parseExposition(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (\S+))re");
  std::map<std::string, std::string> samples;
  std::set<std::string> typed;
  std::string current;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kType)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "TYPEd twice: " << line;
      current = m[1];
    } else if (std::regex_match(line, m, kHelp)) {
      continue;
    } else if (std::regex_match(line, m, kSample)) {
      const std::string name = m[1];
      EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum" ||
                  name == current + "_count")
          << "sample outside its family: " << line;
      const std::string series = line.substr(0, line.rfind(' '));
      EXPECT_TRUE(samples.emplace(series, m[3]).second) << "duplicate series: " << line;
    } else {
      ADD_FAILURE() << "bad line: '" << line << "'";
    }
  }
  return samples;
}

TEST(Exposition, EscapesLabelValuesAndFormatsNumbers) {
  EXPECT_EQ(escapeLabelValue(R"(a"b\c)"
                             "\n"),
            R"(a\"b\\c\n)");
  EXPECT_EQ(formatSampleValue(0.0005), "0.0005");
  EXPECT_EQ(formatSampleValue(10), "10");
  EXPECT_EQ(formatSampleValue(2.5), "2.5");
  Exposition m;
  m.family("x_total", "counter", "Help.");
  m.sample("x_total", {{"a", "q\""}}, uint64_t{3});
  m.sample("x_total", {}, 1.5);
  EXPECT_EQ(m.take(),
            "# HELP x_total Help.\n# TYPE x_total counter\nx_total{a=\"q\\\"\"} 3\nx_total 1.5\n");
}

TEST(MetricsHandler, HasEverySpecFamilyInValidFormat) {
  FakeAdmin admin;
  admin.counters.reloads_ok = 2;
  admin.counters.reloads_failed = 1;
  admin.counters.failovers.push_back({"ap-northeast-1", "us-east-1", "auto", 1});
  Response r = admin.call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  ASSERT_FALSE(r.body.empty());
  EXPECT_EQ(r.body.back(), '\n');
  parseExposition(r.body);
  for (const char* family :
       {"fiberlb_requests_total counter", "fiberlb_request_duration_seconds histogram",
        "fiberlb_downstream_connections gauge", "fiberlb_upstream_active_requests gauge",
        "fiberlb_backend_healthy gauge", "fiberlb_backend_eligible gauge",
        "fiberlb_circuit_state gauge", "fiberlb_circuit_transitions_total counter",
        "fiberlb_region_online gauge", "fiberlb_region_status gauge", "fiberlb_active_region gauge",
        "fiberlb_failovers_total counter", "fiberlb_health_checks_total counter",
        "fiberlb_retries_total counter", "fiberlb_config_reloads_total counter",
        "fiberlb_tls_handshakes_total counter"})
    EXPECT_NE(r.body.find(std::string("# TYPE ") + family + "\n"), std::string::npos) << family;
}

TEST(MetricsHandler, ReportsCountersAndStates) {
  FakeAdmin admin;
  lb::BackendState& t1 = admin.state("web", "t1");
  t1.responses_by_class[1] = 7;
  t1.responses_by_class[4] = 2;
  t1.active_requests = 4;
  t1.health.checks_passed = 9;
  t1.health.checks_failed = 1;
  lb::LbStats& stats = *admin.currentUpdate()->snapshot->lbs[0].stats;
  lb::LbStatsShard& shard0 = stats.shard(0);
  lb::LbStatsShard& shard3 = stats.shard(3);
  shard0.local_responses[4] = 5;
  shard3.local_responses[4] = 1;
  shard0.downstream_connections = 3;
  shard3.downstream_connections = -1;
  shard0.retries = 2;
  lb::LbStats::observeLatency(shard0, 300);       // 0.3 ms -> le 0.0005
  lb::LbStats::observeLatency(shard3, 20000);     // 20 ms -> le 0.025
  lb::LbStats::observeLatency(shard3, 60000000);  // 60 s -> +Inf
  admin.counters.reloads_ok = 2;
  admin.counters.failovers.push_back({"ap-northeast-1", "us-east-1", "auto", 1});
  admin.mutableConfig().loadbalancers[0].backends[4].weight = 0;
  admin.publish();

  auto m = parseExposition(admin.call("GET", "/metrics").body);
  auto value = [&](const std::string& series) {
    auto it = m.find(series);
    return it == m.end() ? std::string("<missing>") : it->second;
  };
  EXPECT_EQ(
      value(R"(fiberlb_requests_total{lb="web",backend="t1",region="ap-northeast-1",code="2xx"})"),
      "7");
  EXPECT_EQ(
      value(R"(fiberlb_requests_total{lb="web",backend="t1",region="ap-northeast-1",code="5xx"})"),
      "2");
  EXPECT_EQ(value(R"(fiberlb_requests_total{lb="web",backend="",region="",code="5xx"})"), "6");
  EXPECT_EQ(value(R"(fiberlb_downstream_connections{lb="web"})"), "2");
  EXPECT_EQ(value(R"(fiberlb_retries_total{lb="web"})"), "2");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_bucket{lb="web",le="0.0005"})"), "1");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_bucket{lb="web",le="0.01"})"), "1");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_bucket{lb="web",le="0.025"})"), "2");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_bucket{lb="web",le="10"})"), "2");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_bucket{lb="web",le="+Inf"})"), "3");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_count{lb="web"})"), "3");
  EXPECT_EQ(value(R"(fiberlb_request_duration_seconds_sum{lb="web"})"), "60.0203");
  EXPECT_EQ(value(R"(fiberlb_upstream_active_requests{lb="web",backend="t1"})"), "4");
  EXPECT_EQ(value(R"(fiberlb_backend_healthy{lb="web",backend="t1",region="ap-northeast-1"})"),
            "1");
  EXPECT_EQ(value(R"(fiberlb_backend_eligible{lb="web",backend="e1",region="eu-west-1"})"), "0");
  EXPECT_EQ(value(R"(fiberlb_circuit_state{lb="web",backend="t1"})"), "0");
  EXPECT_EQ(value(R"(fiberlb_health_checks_total{lb="web",backend="t1",result="success"})"), "9");
  EXPECT_EQ(value(R"(fiberlb_health_checks_total{lb="web",backend="t1",result="failure"})"), "1");
  EXPECT_EQ(value(R"(fiberlb_region_online{region="eu-west-1"})"), "0");
  EXPECT_EQ(value(R"(fiberlb_region_online{region="us-east-1"})"), "1");
  EXPECT_EQ(value(R"(fiberlb_region_status{region="eu-west-1",status="offline"})"), "1");
  EXPECT_EQ(value(R"(fiberlb_region_status{region="eu-west-1",status="online"})"), "0");
  EXPECT_EQ(value(R"(fiberlb_active_region{region="ap-northeast-1"})"), "1");
  EXPECT_EQ(value(R"(fiberlb_active_region{region="us-east-1"})"), "0");
  EXPECT_EQ(
      value(R"(fiberlb_failovers_total{from="ap-northeast-1",to="us-east-1",trigger="auto"})"),
      "1");
  EXPECT_EQ(value(R"(fiberlb_config_reloads_total{result="success"})"), "2");
  EXPECT_EQ(value(R"(fiberlb_config_reloads_total{result="failure"})"), "0");
}

TEST(MetricsHandler, BackendHealthyFollowsActiveChecks) {
  auto cfg = threeRegionConfig();
  cfg->loadbalancers[0].healthcheck.type = config::HealthCheckType::Tcp;
  cfg->loadbalancers[0].healthcheck.configured = true;
  FakeAdmin admin(cfg);
  admin.state("web", "t1").health.health = lb::Health::Healthy;
  admin.state("web", "t2").health.health = lb::Health::Unhealthy;
  admin.publish();
  auto m = parseExposition(admin.call("GET", "/metrics").body);
  EXPECT_EQ(m[R"(fiberlb_backend_healthy{lb="web",backend="t1",region="ap-northeast-1"})"], "1");
  EXPECT_EQ(m[R"(fiberlb_backend_healthy{lb="web",backend="t2",region="ap-northeast-1"})"], "0");
  EXPECT_EQ(m[R"(fiberlb_backend_healthy{lb="web",backend="v1",region="us-east-1"})"], "0");
}

TEST(MetricsHandler, CircuitStateAndTransitions) {
  FakeAdmin admin;
  auto metrics = [&] { return parseExposition(admin.call("GET", "/metrics").body); };
  auto transitions = [](const std::string& backend, const std::string& to) {
    return R"(fiberlb_circuit_transitions_total{lb="web",backend=")" + backend + R"(",to=")" + to +
           R"("})";
  };
  const std::string t1_state = R"(fiberlb_circuit_state{lb="web",backend="t1"})";
  auto m = metrics();
  EXPECT_EQ(m[t1_state], "0");
  EXPECT_EQ(m[transitions("t1", "open")], "0");

  admin.openCircuit("t1", 1795546923000);
  m = metrics();
  EXPECT_EQ(m[t1_state], "1");
  EXPECT_EQ(m[R"(fiberlb_circuit_state{lb="web",backend="t2"})"], "0");
  EXPECT_EQ(m[transitions("t1", "open")], "1");
  EXPECT_EQ(m[transitions("t1", "half_open")], "0");
  EXPECT_EQ(m[transitions("t1", "closed")], "0");
  EXPECT_EQ(m[R"(fiberlb_backend_eligible{lb="web",backend="t1",region="ap-northeast-1"})"], "0");

  admin.halfOpenCircuit("t1", 1795546983000);
  m = metrics();
  EXPECT_EQ(m[t1_state], "2");
  EXPECT_EQ(m[transitions("t1", "half_open")], "1");

  lb::BackendState& t1 = admin.state("web", "t1");
  ASSERT_EQ(t1.circuit.admit(), lb::Admission::Trial);
  t1.circuit.recordSuccess(lb::Admission::Trial);
  m = metrics();
  EXPECT_EQ(m[t1_state], "0");
  EXPECT_EQ(m[transitions("t1", "open")], "1");
  EXPECT_EQ(m[transitions("t1", "half_open")], "1");
  EXPECT_EQ(m[transitions("t1", "closed")], "1");
  EXPECT_EQ(m[transitions("e1", "closed")], "0");
}

TEST(MetricsHandler, FailoversFamilyExistsWithoutSamples) {
  FakeAdmin admin;
  const std::string body = admin.call("GET", "/metrics").body;
  EXPECT_NE(body.find("# TYPE fiberlb_failovers_total counter\n"), std::string::npos);
  EXPECT_EQ(body.find("fiberlb_failovers_total{"), std::string::npos);
}

}  // namespace
}  // namespace fiberlb::admin::testing

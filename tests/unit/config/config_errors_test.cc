// Every kind of invalid value: each case checks that loading fails with a diagnostic that
// names the right key, line and column, in words an operator can act on.

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/config_test_util.h"

namespace fiberlb::config {
namespace {

using testing::dump;
using testing::findKey;
using testing::load;

// Snippet builders. Each puts the text under test at a known line.
const std::string kLb = "[[standalone.loadbalancers]]\nname = \"a\"\nport = 80\n";  // text: line 4
std::string lb(const std::string& text) {
  return kLb + text;
}
std::string backend(const std::string& text) {  // text: line 7
  return kLb + "[[standalone.loadbalancers.backends]]\nname = \"b\"\nport = 81\n" + text;
}
std::string lbTable(const std::string& table, const std::string& text) {  // text: line 5
  return kLb + "[standalone.loadbalancers." + table + "]\n" + text;
}

struct ErrorCase {
  const char* name;
  std::string toml;
  std::string key;
  int line;
  int column;
  std::string message;  // a part of the message
};

std::ostream& operator<<(std::ostream& os, const ErrorCase& c) {
  return os << c.name;
}

class ConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, ReportsKeyPositionAndReason) {
  const ErrorCase& c = GetParam();
  const LoadResult r = load(c.toml);
  ASSERT_FALSE(r.ok()) << "accepted:\n" << c.toml;
  const Diagnostic* d = findKey(r.errors, c.key);
  ASSERT_NE(d, nullptr) << "no error for key '" << c.key << "' in:\n" << dump(r.errors);
  EXPECT_EQ(d->file, "test.toml");
  EXPECT_EQ(d->pos.line, c.line) << d->str();
  EXPECT_EQ(d->pos.column, c.column) << d->str();
  EXPECT_NE(d->message.find(c.message), std::string::npos) << d->str();
  EXPECT_NE(d->str().find(c.key + ": "), std::string::npos) << d->str();
}

const ErrorCase kSyntaxAndTypeCases[] = {
    {"SyntaxError", "[photon]\nmode = \n", "", 2, 8, "invalid TOML"},
    {"RedefinedTable", "[geo]\n[geo]\n", "", 2, 1, "invalid TOML"},
    {"WorkersString", "[standalone.server]\nworkers = \"two\"\n", "standalone.server.workers", 2,
     11, "expected an integer, got string"},
    {"PortFloat", lb("[[standalone.loadbalancers.backends]]\nname = \"b\"\nport = 80.5\n"),
     "standalone.loadbalancers[0].backends[0].port", 6, 8, "expected an integer, got float"},
    {"BoolAsInteger", "[geo]\nauto_failover = 1\n", "geo.auto_failover", 2, 17,
     "expected true or false, got integer"},
    {"NumberAsString", lbTable("healthcheck", "interval_sec = \"10s\"\n"),
     "standalone.loadbalancers[0].healthcheck.interval_sec", 5, 16,
     "expected a number, got string"},
    {"StringAsInteger", "[photon]\ncomponent_id = 5\n", "photon.component_id", 2, 16,
     "expected a string, got integer"},
    {"TableAsInteger", "photon = 3\n", "photon", 1, 10, "expected a table, got integer"},
    {"SingleBracketLoadBalancers", "[standalone.loadbalancers]\nname = \"a\"\n",
     "standalone.loadbalancers", 1, 1, "expected an array of tables"},
    {"ArrayElementNotTable", "[standalone]\nloadbalancers = [1]\n", "standalone.loadbalancers[0]",
     2, 18, "expected a table, got integer"},
    {"EndpointsNotArray", "[photon.integrated]\nchainfire_endpoints = \"x\"\n",
     "photon.integrated.chainfire_endpoints", 2, 23, "expected an array of strings, got string"},
    {"EndpointElementNotString", "[photon.integrated]\nchainfire_endpoints = [\"a\", 1]\n",
     "photon.integrated.chainfire_endpoints[1]", 2, 29, "expected a string, got integer"},
    {"RetryOnNotArray", lbTable("retries", "on = \"5xx\"\n"),
     "standalone.loadbalancers[0].retries.on", 5, 6, "expected an array of strings"},
};
INSTANTIATE_TEST_SUITE_P(Types, ConfigErrors, ::testing::ValuesIn(kSyntaxAndTypeCases),
                         [](const auto& info) { return std::string(info.param.name); });

const ErrorCase kRangeCases[] = {
    {"WeightTooHigh", backend("weight = 1001\n"), "standalone.loadbalancers[0].backends[0].weight",
     7, 10, "must be between 0 and 1000, got 1001"},
    {"WeightNegative", backend("weight = -1\n"), "standalone.loadbalancers[0].backends[0].weight",
     7, 10, "must be between 0 and 1000, got -1"},
    {"BackendPortZero", lb("[[standalone.loadbalancers.backends]]\nname = \"b\"\nport = 0\n"),
     "standalone.loadbalancers[0].backends[0].port", 6, 8, "must be between 1 and 65535, got 0"},
    {"BackendPortTooHigh",
     lb("[[standalone.loadbalancers.backends]]\nname = \"b\"\nport = 65536\n"),
     "standalone.loadbalancers[0].backends[0].port", 6, 8,
     "must be between 1 and 65535, got 65536"},
    {"LbPortTooHigh", "[[standalone.loadbalancers]]\nname = \"a\"\nport = 65536\n",
     "standalone.loadbalancers[0].port", 3, 8, "must be between 0 and 65535, got 65536"},
    {"LbPortNegative", "[[standalone.loadbalancers]]\nname = \"a\"\nport = -1\n",
     "standalone.loadbalancers[0].port", 3, 8, "must be between 0 and 65535, got -1"},
    {"IntervalZero", lbTable("healthcheck", "interval_sec = 0\n"),
     "standalone.loadbalancers[0].healthcheck.interval_sec", 5, 16,
     "must be greater than 0, got 0"},
    {"IntervalNan", lbTable("healthcheck", "interval_sec = nan\n"),
     "standalone.loadbalancers[0].healthcheck.interval_sec", 5, 16, "must be a finite number"},
    {"CheckTimeoutNegative", lbTable("healthcheck", "timeout_sec = -1\n"),
     "standalone.loadbalancers[0].healthcheck.timeout_sec", 5, 15,
     "must be greater than 0, got -1"},
    {"HealthyThresholdZero", lbTable("healthcheck", "healthy_threshold = 0\n"),
     "standalone.loadbalancers[0].healthcheck.healthy_threshold", 5, 21,
     "must be at least 1, got 0"},
    {"UnhealthyThresholdZero", lbTable("healthcheck", "unhealthy_threshold = 0\n"),
     "standalone.loadbalancers[0].healthcheck.unhealthy_threshold", 5, 23,
     "must be at least 1, got 0"},
    {"SlowStartNegative", lbTable("healthcheck", "slow_start_sec = -2\n"),
     "standalone.loadbalancers[0].healthcheck.slow_start_sec", 5, 18, "must be at least 0, got -2"},
    {"FailureThresholdZero", lbTable("circuit_breaker", "failure_threshold = 0\n"),
     "standalone.loadbalancers[0].circuit_breaker.failure_threshold", 5, 21,
     "must be at least 1, got 0"},
    {"HalfOpenZero", lbTable("circuit_breaker", "half_open_max_requests = 0\n"),
     "standalone.loadbalancers[0].circuit_breaker.half_open_max_requests", 5, 26,
     "must be at least 1, got 0"},
    {"RecoveryZero", lbTable("circuit_breaker", "recovery_timeout_sec = 0\n"),
     "standalone.loadbalancers[0].circuit_breaker.recovery_timeout_sec", 5, 24,
     "must be greater than 0"},
    {"BreakerMaxConnectionsZero", lbTable("circuit_breaker", "max_connections = 0\n"),
     "standalone.loadbalancers[0].circuit_breaker.max_connections", 5, 19, "must be at least 1"},
    {"ConnectTimeoutZero", lbTable("timeouts", "connect_ms = 0\n"),
     "standalone.loadbalancers[0].timeouts.connect_ms", 5, 14, "must be at least 1, got 0"},
    {"HeaderTimeoutNegative", lbTable("timeouts", "client_header_ms = -5\n"),
     "standalone.loadbalancers[0].timeouts.client_header_ms", 5, 20, "must be at least 1"},
    {"RetriesNegative", lbTable("retries", "max = -1\n"), "standalone.loadbalancers[0].retries.max",
     5, 7, "must be between 0 and 100, got -1"},
    {"UdpIdleZero", lb("udp_session_idle_sec = 0\n"),
     "standalone.loadbalancers[0].udp_session_idle_sec", 4, 24, "must be greater than 0"},
    {"FailoverThresholdAboveOne", "[geo]\nfailover_threshold = 1.5\n", "geo.failover_threshold", 2,
     22, "must be between 0 and 1, got 1.5"},
    {"FailoverThresholdNegative", "[geo]\nfailover_threshold = -0.1\n", "geo.failover_threshold", 2,
     22, "must be between 0 and 1, got -0.1"},
    {"FailbackHoldNegative", "[geo]\nfailback_hold_sec = -1\n", "geo.failback_hold_sec", 2, 21,
     "must be at least 0"},
    {"LatitudeOutOfRange", "[[geo.regions]]\nid = \"r\"\nlatitude = 91\n",
     "geo.regions[0].latitude", 3, 12, "must be between -90 and 90, got 91"},
    {"LongitudeOutOfRange", "[[geo.regions]]\nid = \"r\"\nlongitude = -181\n",
     "geo.regions[0].longitude", 3, 13, "must be between -180 and 180, got -181"},
    {"WorkersNegative", "[standalone.server]\nworkers = -1\n", "standalone.server.workers", 2, 11,
     "must be between 0 and 1024, got -1"},
    {"GraceNegative", "[standalone.server]\nshutdown_grace_sec = -1\n",
     "standalone.server.shutdown_grace_sec", 2, 22, "must be at least 0"},
    {"ServerMaxConnectionsZero", "[standalone.server]\nmax_connections = 0\n",
     "standalone.server.max_connections", 2, 19, "must be at least 1, got 0"},
};
INSTANTIATE_TEST_SUITE_P(Ranges, ConfigErrors, ::testing::ValuesIn(kRangeCases),
                         [](const auto& info) { return std::string(info.param.name); });

const ErrorCase kEnumCases[] = {
    {"MethodTypo", lb("method = \"round_robin\"\n"), "standalone.loadbalancers[0].method", 4, 10,
     "unknown value 'round_robin' (did you mean 'roundrobin'?); expected one of: 'roundrobin', "
     "'leastconn', 'hash', 'random'"},
    {"Protocol", lb("protocol = \"https\"\n"), "standalone.loadbalancers[0].protocol", 4, 12,
     "expected one of: 'http', 'tcp', 'udp'"},
    {"Persistence", lb("session_persistence = \"sticky\"\n"),
     "standalone.loadbalancers[0].session_persistence", 4, 23,
     "expected one of: 'none', 'cookie', 'source_ip'"},
    {"Mode", "[photon]\nmode = \"cluster\"\n", "photon.mode", 2, 8,
     "expected one of: 'standalone', 'integrated'"},
    {"LogLevel", "[photon.logging]\nlevel = \"verbose\"\n", "photon.logging.level", 2, 9,
     "expected one of: 'trace', 'debug', 'info', 'warn', 'error'"},
    {"LogFormat", "[photon.logging]\nformat = \"xml\"\n", "photon.logging.format", 2, 10,
     "expected one of: 'text', 'json'"},
    {"Failback", "[geo]\nfailback = \"sometimes\"\n", "geo.failback", 2, 12,
     "expected one of: 'manual', 'auto'"},
    {"CheckType", lbTable("healthcheck", "type = \"icmp\"\n"),
     "standalone.loadbalancers[0].healthcheck.type", 5, 8,
     "expected one of: 'http', 'tcp', 'none'"},
    {"ConfigBackend", "[photon.standalone]\nconfig_backend = \"etcd\"\n",
     "photon.standalone.config_backend", 2, 18, "expected one of: 'file'"},
    {"DataplaneUnknown", "[photon.standalone]\ndataplane = \"dpdk\"\n",
     "photon.standalone.dataplane", 2, 13, "the only data plane of this build is \"userspace\""},
    {"RetryCondition", lbTable("retries", "on = [\"refused\", \"timeout\"]\n"),
     "standalone.loadbalancers[0].retries.on", 5, 6,
     "unknown retry condition 'timeout'; expected any of: 'connect-failure', 'refused', "
     "'reset-before-response', '5xx'"},
    {"MinVersion", lbTable("tls", "min_version = \"1.1\"\n"),
     "standalone.loadbalancers[0].tls.min_version", 5, 15, "expected \"1.2\" or \"1.3\""},
    {"StatusWord", lbTable("healthcheck", "expected_status = \"2xx\"\n"),
     "standalone.loadbalancers[0].healthcheck.expected_status", 5, 19,
     "'2xx' is not a status code or range"},
    {"StatusReversed", lbTable("healthcheck", "expected_status = \"399-200\"\n"),
     "standalone.loadbalancers[0].healthcheck.expected_status", 5, 19,
     "'399-200' must be codes between 100 and 599"},
    {"StatusOutOfRange", lbTable("healthcheck", "expected_status = \"200-399,600\"\n"),
     "standalone.loadbalancers[0].healthcheck.expected_status", 5, 19,
     "'600' must be codes between 100 and 599"},
    {"StatusEmptyItem", lbTable("healthcheck", "expected_status = \"200,\"\n"),
     "standalone.loadbalancers[0].healthcheck.expected_status", 5, 19,
     "is not a status code or range"},
    {"HashKey", lb("hash_key = \"header:\"\n"), "standalone.loadbalancers[0].hash_key", 4, 12,
     "unknown hash key 'header:'; expected 'source_ip', 'uri', 'header:<Name>' or "
     "'cookie:<name>'"},
    {"CheckPath", lbTable("healthcheck", "path = \"health\"\n"),
     "standalone.loadbalancers[0].healthcheck.path", 5, 8, "must start with '/'"},
};
INSTANTIATE_TEST_SUITE_P(Enums, ConfigErrors, ::testing::ValuesIn(kEnumCases),
                         [](const auto& info) { return std::string(info.param.name); });

const ErrorCase kAddressCases[] = {
    {"VipHostname", lb("vip = \"localhost\"\n"), "standalone.loadbalancers[0].vip", 4, 7,
     "'localhost' is not an IPv4 or IPv6 address"},
    {"VipBadIpv4", lb("vip = \"300.1.1.1\"\n"), "standalone.loadbalancers[0].vip", 4, 7,
     "not an IPv4 or IPv6 address"},
    {"VipBracketed", lb("vip = \"[::1]\"\n"), "standalone.loadbalancers[0].vip", 4, 7,
     "not an IPv4 or IPv6 address"},
    {"AdminNoPort", "[standalone.server]\nadmin_api_addr = \"9901\"\n",
     "standalone.server.admin_api_addr", 2, 18, "must be host:port"},
    {"AdminBareIpv6", "[standalone.server]\nadmin_api_addr = \"::1:9901\"\n",
     "standalone.server.admin_api_addr", 2, 18, "[addr]:port, e.g. [::1]:9901"},
    {"AdminBadPort", "[standalone.server]\nadmin_api_addr = \"127.0.0.1:http\"\n",
     "standalone.server.admin_api_addr", 2, 18, "must be a number between 0 and 65535"},
    {"AdminPublicWithoutToken", "[standalone.server]\nadmin_api_addr = \"0.0.0.0:9901\"\n",
     "standalone.server.admin_api_addr", 2, 18, "admin_token must be set"},
    {"MetricsAddr", "[standalone.server]\nmetrics_addr = \"metrics\"\n",
     "standalone.server.metrics_addr", 2, 16, "must be host:port"},
    {"BackendAddressEmpty", backend("address = \"\"\n"),
     "standalone.loadbalancers[0].backends[0].address", 7, 11, "must not be empty"},
    {"BackendAddressWithPort", backend("address = \"127.0.0.1:8080\"\n"),
     "standalone.loadbalancers[0].backends[0].address", 7, 11,
     "is not an IP address or hostname; give the port separately"},
};
INSTANTIATE_TEST_SUITE_P(Addresses, ConfigErrors, ::testing::ValuesIn(kAddressCases),
                         [](const auto& info) { return std::string(info.param.name); });

const ErrorCase kMissingCases[] = {
    {"LbName", "[[standalone.loadbalancers]]\nport = 80\n", "standalone.loadbalancers[0].name", 1,
     1, "missing required key 'name'"},
    {"LbPort", "[[standalone.loadbalancers]]\nname = \"a\"\n", "standalone.loadbalancers[0].port",
     1, 1, "missing required key 'port'"},
    {"LbNameEmpty", "[[standalone.loadbalancers]]\nname = \"\"\nport = 80\n",
     "standalone.loadbalancers[0].name", 2, 8, "must not be empty"},
    {"BackendName", lb("  [[standalone.loadbalancers.backends]]\n  port = 81\n"),
     "standalone.loadbalancers[0].backends[0].name", 4, 3, "missing required key 'name'"},
    {"BackendPort", lb("[[standalone.loadbalancers.backends]]\nname = \"b\"\n"),
     "standalone.loadbalancers[0].backends[0].port", 4, 1, "missing required key 'port'"},
    {"RegionId", "[[geo.regions]]\npriority = 1\n", "geo.regions[0].id", 1, 1,
     "missing required key 'id'"},
    {"RegionIdEmpty", "[[geo.regions]]\nid = \"\"\n", "geo.regions[0].id", 2, 6,
     "must not be empty"},
    {"SniServerName",
     lb("[[standalone.loadbalancers.tls.sni]]\ncert_file = \"a\"\nkey_file = \"b\"\n"),
     "standalone.loadbalancers[0].tls.sni[0].server_name", 4, 1,
     "missing required key 'server_name'"},
    {"ComponentIdEmpty", "[photon]\ncomponent_id = \"\"\n", "photon.component_id", 2, 16,
     "must not be empty"},
    {"IntegratedWithoutEndpoints", "[photon]\nmode = \"integrated\"\n", "photon.mode", 2, 8,
     "needs [photon.integrated] chainfire_endpoints"},
};
INSTANTIATE_TEST_SUITE_P(Missing, ConfigErrors, ::testing::ValuesIn(kMissingCases),
                         [](const auto& info) { return std::string(info.param.name); });

const ErrorCase kCrossKeyCases[] = {
    {"DuplicateLbName", kLb + "[[standalone.loadbalancers]]\nname = \"a\"\nport = 81\n",
     "standalone.loadbalancers[1].name", 5, 8,
     "duplicate load balancer name 'a' (first used by standalone.loadbalancers[0] at line 2)"},
    {"DuplicateBackendName",
     backend("[[standalone.loadbalancers.backends]]\nname = \"b\"\n"
             "port = 82\n"),
     "standalone.loadbalancers[0].backends[1].name", 8, 8,
     "duplicate backend name 'b' (first used by standalone.loadbalancers[0].backends[0] at line "
     "5)"},
    {"DuplicateRegion", "[[geo.regions]]\nid = \"r\"\n[[geo.regions]]\nid = \"r\"\n",
     "geo.regions[1].id", 4, 6, "duplicate region id 'r' (first used by geo.regions[0] at line 2)"},
    {"SameListener", kLb + "[[standalone.loadbalancers]]\nname = \"b\"\nport = 80\n",
     "standalone.loadbalancers[1].port", 6, 8,
     "listener 127.0.0.1:80/tcp collides with standalone.loadbalancers[0] ('a')"},
    {"HttpAndTcpShareTransport",
     kLb + "[[standalone.loadbalancers]]\nname = \"b\"\nport = 80\nprotocol = \"tcp\"\n",
     "standalone.loadbalancers[1].port", 6, 8, "collides with standalone.loadbalancers[0]"},
    {"WildcardOverlaps",
     kLb + "[[standalone.loadbalancers]]\nname = \"b\"\nport = 80\nvip = \"0.0.0.0\"\n",
     "standalone.loadbalancers[1].port", 6, 8, "collides with standalone.loadbalancers[0]"},
    {"SameIpv6Spelling",
     "[[standalone.loadbalancers]]\nname = \"a\"\nport = 80\nvip = \"::1\"\n"
     "[[standalone.loadbalancers]]\nname = \"b\"\nport = 80\nvip = \"0:0::1\"\n",
     "standalone.loadbalancers[1].port", 7, 8, "collides with"},
    {"TlsWithoutFiles", lb("tls_termination = true\n"),
     "standalone.loadbalancers[0].tls_termination", 4, 19,
     "tls_termination = true needs cert_file and key_file in the load balancer's "
     "[standalone.loadbalancers.tls] table"},
    {"TlsWithoutKey",
     lb("tls_termination = true\n[standalone.loadbalancers.tls]\ncert_file = \"c.pem\"\n"),
     "standalone.loadbalancers[0].tls_termination", 4, 19, "needs key_file in"},
    {"TlsOverUdp", lb("protocol = \"udp\"\ntls_termination = true\n"),
     "standalone.loadbalancers[0].tls_termination", 5, 19, "not available for protocol = \"udp\""},
    {"CookieOverTcp", lb("protocol = \"tcp\"\nsession_persistence = \"cookie\"\n"),
     "standalone.loadbalancers[0].session_persistence", 5, 23,
     "cookie persistence needs protocol = \"http\""},
    {"UnknownActiveRegion", "[geo]\nactive_region = \"mars\"\n[[geo.regions]]\nid = \"r\"\n",
     "geo.active_region", 2, 17, "'mars' is not a known region; known regions: 'r'"},
};
INSTANTIATE_TEST_SUITE_P(CrossKey, ConfigErrors, ::testing::ValuesIn(kCrossKeyCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigDataplane, RefusesKernelDataPlanesWithAClearMessage) {
  for (const char* plane : {"iptables", "ipvs", "ebpf"}) {
    const LoadResult r = load(std::string("[photon.standalone]\ndataplane = \"") + plane + "\"\n");
    ASSERT_EQ(r.errors.size(), 1u) << dump(r.errors);
    EXPECT_EQ(r.errors[0].str(),
              "test.toml:2:13: photon.standalone.dataplane: the iptables, ipvs and ebpf data "
              "planes are not supported by this build; use dataplane = \"userspace\"");
  }
}

TEST(ConfigCollect, ReportsEveryErrorInOnePass) {
  const LoadResult r = load(
      "[standalone.server]\nworkers = \"x\"\n"
      "[geo]\nfailback = \"never\"\n" +
      backend("weight = 5000\naddress = \"\"\n"));
  EXPECT_EQ(r.errors.size(), 4u) << dump(r.errors);
  // Ordered by position, so the report reads top to bottom.
  for (size_t i = 1; i < r.errors.size(); ++i) {
    EXPECT_LE(r.errors[i - 1].pos.line, r.errors[i].pos.line) << dump(r.errors);
  }
}

TEST(ConfigAccepts, ValuesAtTheEdgesOfWhatIsAllowed) {
  const std::string two_ephemeral =
      "[[standalone.loadbalancers]]\nname = \"a\"\nport = 0\n"
      "[[standalone.loadbalancers]]\nname = \"b\"\nport = 0\n";
  const std::string tcp_and_udp = kLb +
                                  "[[standalone.loadbalancers]]\nname = \"b\"\nport = 80\n"
                                  "protocol = \"udp\"\n";
  const std::string two_vips = kLb +
                               "[[standalone.loadbalancers]]\nname = \"b\"\nport = 80\n"
                               "vip = \"127.0.0.2\"\n";
  for (const std::string& text : {
           two_ephemeral,
           tcp_and_udp,
           two_vips,
           backend("weight = 0\naddress = \"backend-1.internal\"\n"),
           backend("weight = 1000\naddress = \"::1\"\n"),
           lb("method = \"hash\"\nhash_key = \"cookie:sid\"\nprotocol = \"tcp\"\n"),
           lb("method = \"random\"\nhash_key = \"uri\"\nprotocol = \"udp\"\n"),
           lb("method = \"leastconn\"\nsession_persistence = \"cookie\"\n"),
           std::string("[standalone.server]\nadmin_api_addr = \"0.0.0.0:9901\"\n"
                       "admin_token = \"t\"\n"),
           std::string("[standalone.server]\nadmin_api_addr = \"localhost:0\"\n"),
           std::string("[standalone.server]\nadmin_api_addr = \"[::1]:9901\"\n"),
           std::string("[standalone.server]\nadmin_api_addr = \"127.8.9.10:9901\"\n"),
           std::string("[geo]\nfailover_threshold = 0\n"),
           std::string("[geo]\nfailover_threshold = 1\n"),
           lbTable("healthcheck", "interval_sec = 0.2\ntimeout_sec = 1\n"),
       }) {
    const LoadResult r = load(text);
    EXPECT_TRUE(r.ok()) << text << "\n" << dump(r.errors);
    EXPECT_TRUE(r.warnings.empty()) << text << "\n" << dump(r.warnings);
  }
}

}  // namespace
}  // namespace fiberlb::config

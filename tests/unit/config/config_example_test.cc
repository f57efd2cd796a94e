// The SPEC §3 example, a config that sets every key to something other than its default,
// and the defaults of an empty file.

#include <gtest/gtest.h>

#include "tests/unit/config/config_test_util.h"

namespace fiberlb::config {
namespace {

using testing::dump;
using testing::load;

// SPEC §3, verbatim but for the commented-out SNI line.
constexpr const char* kSpecExample = R"toml(
[photon]
mode = "standalone"                 # "standalone" | "integrated" (integrated: §9)
component_id = "fiberlb-01"
config_version = "1.0"

[photon.logging]
level = "info"                      # trace | debug | info | warn | error
format = "text"                     # text | json
access_log = ""                     # path; "" = off; "-" = stdout. One JSON line a request.

[photon.standalone]
config_backend = "file"
dataplane = "userspace"             # the only data plane; "iptables"|"ipvs"|"ebpf" -> clear error

[standalone.server]
admin_api_addr = "127.0.0.1:9901"   # REST API, /health, /metrics, dashboard
metrics_addr = ""                   # optional second listener for /metrics only
admin_token = ""                    # if set: required as "Authorization: Bearer <token>" on
                                    # every non-GET admin request. A non-loopback admin address
                                    # without a token is a start-up error.
workers = 0                         # 0 = one worker per CPU core
shutdown_grace_sec = 30
max_connections = 100000            # process-wide; beyond it, accept pauses (no crash)
state_file = "data/fiberlb/state.json"   # active region, failover history, admin changes

[geo]
auto_failover = true
failover_threshold = 0.5            # region is offline when eligible/total backends < this
                                    # (and always when no backend is eligible)
failback = "manual"                 # "manual" | "auto"
failback_hold_sec = 60              # auto failback: preferred region online this long first
active_region = ""                  # "" = highest-priority online region at start
replication_group_size = 2
default_regions = false             # true: pre-register the 5 default regions (table below)

[[geo.regions]]
id = "ap-northeast-1"               # required, unique
display_name = "Asia Pacific (Tokyo)"
provider = "aws"
latitude = 35.68
longitude = 139.69
priority = 1                        # lower = preferred

[[standalone.loadbalancers]]
name = "web-lb"                     # required, unique
vip = "127.0.0.1"                   # listen address (IPv4 or IPv6)
port = 8080                         # required
protocol = "http"                   # "http" (L7) | "tcp" (L4) | "udp" (L4 datagrams)
method = "roundrobin"               # "roundrobin" | "leastconn" | "hash" | "random"
hash_key = "source_ip"              # method="hash": "source_ip" | "header:<Name>" | "cookie:<name>" | "uri"
session_persistence = "none"        # "none" | "cookie" | "source_ip"  (http only for cookie)
tls_termination = false

[[standalone.loadbalancers.backends]]
name = "web-1"                      # required, unique within the LB
address = "127.0.0.1"               # IP or hostname (resolved at load and on reload)
port = 8081                         # required
weight = 100                        # 0..1000; 0 = receives no new traffic
region = "ap-northeast-1"           # "" = the LB's only/implicit region "default"
tls = false                         # TLS to this backend

[standalone.loadbalancers.healthcheck]
type = "http"                       # "http" | "tcp" | "none"
interval_sec = 10                   # floats allowed (0.2 = 200 ms)
timeout_sec = 5
path = "/health"
host = ""                           # Host header for http checks
expected_status = "200-399"
healthy_threshold = 2               # consecutive passes to become healthy (rise)
unhealthy_threshold = 3             # consecutive failures to become unhealthy (fall)
slow_start_sec = 0                  # a backend that becomes eligible ramps its weight up over this

[standalone.loadbalancers.circuit_breaker]   # also the passive health check (real traffic)
failure_threshold = 5               # consecutive failures (connect error, reset, timeout, 5xx) -> OPEN
recovery_timeout_sec = 60           # OPEN -> HALF_OPEN after this
half_open_max_requests = 1          # trial requests allowed while HALF_OPEN
max_connections = 10000             # per backend; beyond: 503 fast (Envoy-style limit)
max_pending_requests = 1000         # per LB, waiting for an upstream connection

[standalone.loadbalancers.timeouts]
connect_ms = 2000
client_header_ms = 10000            # whole request head must arrive within this (slowloris)
client_idle_ms = 60000
upstream_response_ms = 30000

[standalone.loadbalancers.retries]
max = 2                             # extra attempts on another backend
on = ["connect-failure", "refused", "reset-before-response"]   # may add "5xx"; only
                                    # idempotent methods are retried after bytes were sent

[standalone.loadbalancers.tls]
cert_file = "certs/api.crt"
key_file = "certs/api.key"
min_version = "1.2"                 # "1.2" | "1.3"
)toml";

TEST(ConfigExample, SpecExampleLoadsWithoutDiagnostics) {
  const LoadResult r = load(kSpecExample);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
}

TEST(ConfigExample, SpecExampleCommonTables) {
  const Config c = load(kSpecExample).config;
  EXPECT_EQ(c.photon.mode, Mode::Standalone);
  EXPECT_EQ(c.photon.component_id, "fiberlb-01");
  EXPECT_EQ(c.photon.config_version, "1.0");
  EXPECT_EQ(c.photon.logging.level, LogLevel::Info);
  EXPECT_EQ(c.photon.logging.format, LogFormat::Text);
  EXPECT_EQ(c.photon.logging.access_log, "");
  EXPECT_EQ(c.photon.config_backend, "file");
  EXPECT_EQ(c.photon.dataplane, "userspace");
  EXPECT_EQ(c.server.admin_api_addr, "127.0.0.1:9901");
  EXPECT_EQ(c.server.metrics_addr, "");
  EXPECT_EQ(c.server.admin_token, "");
  EXPECT_EQ(c.server.workers, 0);
  EXPECT_EQ(c.server.shutdown_grace_sec, 30);
  EXPECT_EQ(c.server.max_connections, 100000);
  EXPECT_EQ(c.server.state_file, "data/fiberlb/state.json");
  EXPECT_TRUE(c.demo.enabled == false);
}

TEST(ConfigExample, SpecExampleGeo) {
  const Geo g = load(kSpecExample).config.geo;
  EXPECT_TRUE(g.auto_failover);
  EXPECT_DOUBLE_EQ(g.failover_threshold, 0.5);
  EXPECT_EQ(g.failback, Failback::Manual);
  EXPECT_EQ(g.failback_hold_sec, 60);
  EXPECT_EQ(g.active_region, "");
  EXPECT_EQ(g.replication_group_size, 2);
  EXPECT_FALSE(g.default_regions);
  ASSERT_EQ(g.regions.size(), 1u);
  const Region& r = g.regions[0];
  EXPECT_EQ(r.id, "ap-northeast-1");
  EXPECT_EQ(r.display_name, "Asia Pacific (Tokyo)");
  EXPECT_EQ(r.provider, "aws");
  EXPECT_DOUBLE_EQ(r.latitude, 35.68);
  EXPECT_DOUBLE_EQ(r.longitude, 139.69);
  EXPECT_EQ(r.priority, 1);
  EXPECT_EQ(r.pos.line, 37);
}

TEST(ConfigExample, SpecExampleLoadBalancer) {
  const Config c = load(kSpecExample).config;
  ASSERT_EQ(c.loadbalancers.size(), 1u);
  const LoadBalancer& lb = c.loadbalancers[0];
  EXPECT_EQ(lb.name, "web-lb");
  EXPECT_EQ(lb.vip, "127.0.0.1");
  EXPECT_EQ(lb.port, 8080);
  EXPECT_EQ(lb.protocol, Protocol::Http);
  EXPECT_EQ(lb.method, Method::RoundRobin);
  EXPECT_EQ(lb.hash_key, "source_ip");
  EXPECT_EQ(lb.session_persistence, Persistence::None);
  EXPECT_FALSE(lb.tls_termination);
  EXPECT_EQ(lb.udp_session_idle_sec, 30);
  EXPECT_EQ(lb.pos.line, 45);
  EXPECT_EQ(lb.pos.column, 1);
  ASSERT_EQ(lb.backends.size(), 1u);
  const Backend& b = lb.backends[0];
  EXPECT_EQ(b.name, "web-1");
  EXPECT_EQ(b.address, "127.0.0.1");
  EXPECT_EQ(b.port, 8081);
  EXPECT_EQ(b.weight, 100);
  EXPECT_EQ(b.region, "ap-northeast-1");
  EXPECT_FALSE(b.tls);
  EXPECT_EQ(b.pos.line, 55);
}

TEST(ConfigExample, SpecExampleLoadBalancerOptions) {
  const LoadBalancer lb = load(kSpecExample).config.loadbalancers.at(0);
  const HealthCheck& h = lb.healthcheck;
  EXPECT_TRUE(h.configured);
  EXPECT_EQ(h.type, HealthCheckType::Http);
  EXPECT_EQ(h.interval_sec, 10);
  EXPECT_EQ(h.timeout_sec, 5);
  EXPECT_EQ(h.path, "/health");
  EXPECT_EQ(h.host, "");
  ASSERT_EQ(h.expected_status.size(), 1u);
  EXPECT_EQ(h.expected_status[0].low, 200);
  EXPECT_EQ(h.expected_status[0].high, 399);
  EXPECT_EQ(h.healthy_threshold, 2);
  EXPECT_EQ(h.unhealthy_threshold, 3);
  EXPECT_EQ(h.slow_start_sec, 0);
  EXPECT_EQ(lb.circuit_breaker.failure_threshold, 5);
  EXPECT_EQ(lb.circuit_breaker.recovery_timeout_sec, 60);
  EXPECT_EQ(lb.circuit_breaker.half_open_max_requests, 1);
  EXPECT_EQ(lb.circuit_breaker.max_connections, 10000);
  EXPECT_EQ(lb.circuit_breaker.max_pending_requests, 1000);
  EXPECT_EQ(lb.timeouts.connect_ms, 2000);
  EXPECT_EQ(lb.timeouts.client_header_ms, 10000);
  EXPECT_EQ(lb.timeouts.client_idle_ms, 60000);
  EXPECT_EQ(lb.timeouts.upstream_response_ms, 30000);
  EXPECT_EQ(lb.retries.max, 2);
  EXPECT_TRUE(lb.retries.on_connect_failure);
  EXPECT_TRUE(lb.retries.on_refused);
  EXPECT_TRUE(lb.retries.on_reset_before_response);
  EXPECT_FALSE(lb.retries.on_5xx);
  EXPECT_EQ(lb.tls.cert_file, "certs/api.crt");
  EXPECT_EQ(lb.tls.key_file, "certs/api.key");
  EXPECT_EQ(lb.tls.min_version, "1.2");
  EXPECT_TRUE(lb.tls.sni.empty());
}

// Every key set to something other than its default, so a key that is silently not read
// shows up as a failure here.
constexpr const char* kEverythingChanged = R"toml(
[photon]
mode = "integrated"
component_id = "lb-7"
config_version = "2.5"
[photon.logging]
level = "debug"
format = "json"
access_log = "-"
[photon.standalone]
config_backend = "file"
dataplane = "userspace"
[photon.integrated]
chainfire_endpoints = ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]

[standalone.server]
admin_api_addr = "[::1]:9902"
metrics_addr = "0.0.0.0:9100"
admin_token = "s3cret"
workers = 4
shutdown_grace_sec = 2.5
max_connections = 5000
state_file = "/var/lib/fiberlb/state.json"

[geo]
auto_failover = false
failover_threshold = 0.75
failback = "auto"
failback_hold_sec = 12.5
active_region = "eu"
replication_group_size = 3
default_regions = false
[[geo.regions]]
id = "eu"
display_name = "Europe"
provider = "onprem"
latitude = -10.5
longitude = 20
priority = 7

[demo]
enabled = true

[[standalone.loadbalancers]]
name = "l4"
vip = "::"
port = 0
protocol = "udp"
method = "hash"
hash_key = "header:X-User"
session_persistence = "source_ip"
udp_session_idle_sec = 4.5
  [[standalone.loadbalancers.backends]]
  name = "b1"
  address = "backend.example"
  port = 53
  weight = 0
  region = "eu"
  tls = true
  [standalone.loadbalancers.healthcheck]
  type = "tcp"
  interval_sec = 0.2
  timeout_sec = 0.1
  path = "/ready"
  host = "svc.local"
  expected_status = "200,204, 300-399"
  healthy_threshold = 1
  unhealthy_threshold = 7
  slow_start_sec = 30
  [standalone.loadbalancers.circuit_breaker]
  failure_threshold = 9
  recovery_timeout_sec = 1.5
  half_open_max_requests = 4
  max_connections = 77
  max_pending_requests = 0
  [standalone.loadbalancers.timeouts]
  connect_ms = 1
  client_header_ms = 2
  client_idle_ms = 3
  upstream_response_ms = 4
  [standalone.loadbalancers.retries]
  max = 0
  on = ["5xx", "refused"]
  [standalone.loadbalancers.tls]
  cert_file = "a.crt"
  key_file = "a.key"
  min_version = "1.3"
  [[standalone.loadbalancers.tls.sni]]
  server_name = "a.example"
  cert_file = "sni-a.crt"
  key_file = "sni-a.key"

[[standalone.loadbalancers]]
name = "tls-lb"
vip = "0.0.0.0"
port = 8443
protocol = "tcp"
method = "random"
session_persistence = "none"
tls_termination = true
  [standalone.loadbalancers.tls]
  cert_file = "t.crt"
  key_file = "t.key"
)toml";

TEST(ConfigExample, EveryKeyIsRead) {
  const LoadResult r = load(kEverythingChanged);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  const Config& c = r.config;
  EXPECT_EQ(c.photon.mode, Mode::Integrated);
  EXPECT_EQ(c.photon.component_id, "lb-7");
  EXPECT_EQ(c.photon.config_version, "2.5");
  EXPECT_EQ(c.photon.logging.level, LogLevel::Debug);
  EXPECT_EQ(c.photon.logging.format, LogFormat::Json);
  EXPECT_EQ(c.photon.logging.access_log, "-");
  EXPECT_EQ(c.photon.chainfire_endpoints,
            (std::vector<std::string>{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_EQ(c.server.admin_api_addr, "[::1]:9902");
  EXPECT_EQ(c.server.metrics_addr, "0.0.0.0:9100");
  EXPECT_EQ(c.server.admin_token, "s3cret");
  EXPECT_EQ(c.server.workers, 4);
  EXPECT_DOUBLE_EQ(c.server.shutdown_grace_sec, 2.5);
  EXPECT_EQ(c.server.max_connections, 5000);
  EXPECT_EQ(c.server.state_file, "/var/lib/fiberlb/state.json");
  EXPECT_FALSE(c.geo.auto_failover);
  EXPECT_DOUBLE_EQ(c.geo.failover_threshold, 0.75);
  EXPECT_EQ(c.geo.failback, Failback::Auto);
  EXPECT_DOUBLE_EQ(c.geo.failback_hold_sec, 12.5);
  EXPECT_EQ(c.geo.active_region, "eu");
  EXPECT_EQ(c.geo.replication_group_size, 3);
  ASSERT_EQ(c.geo.regions.size(), 1u);
  EXPECT_EQ(c.geo.regions[0].provider, "onprem");
  EXPECT_DOUBLE_EQ(c.geo.regions[0].latitude, -10.5);
  EXPECT_DOUBLE_EQ(c.geo.regions[0].longitude, 20);
  EXPECT_EQ(c.geo.regions[0].priority, 7);
  EXPECT_TRUE(c.demo.enabled);
}

TEST(ConfigExample, EveryLoadBalancerKeyIsRead) {
  const Config c = load(kEverythingChanged).config;
  ASSERT_EQ(c.loadbalancers.size(), 2u);
  const LoadBalancer& lb = c.loadbalancers[0];
  EXPECT_EQ(lb.vip, "::");
  EXPECT_EQ(lb.port, 0);
  EXPECT_EQ(lb.protocol, Protocol::Udp);
  EXPECT_EQ(lb.method, Method::Hash);
  EXPECT_EQ(lb.hash_key, "header:X-User");
  EXPECT_EQ(lb.session_persistence, Persistence::SourceIp);
  EXPECT_DOUBLE_EQ(lb.udp_session_idle_sec, 4.5);
  const Backend& b = lb.backends.at(0);
  EXPECT_EQ(b.address, "backend.example");
  EXPECT_EQ(b.port, 53);
  EXPECT_EQ(b.weight, 0);
  EXPECT_EQ(b.region, "eu");
  EXPECT_TRUE(b.tls);
  EXPECT_EQ(lb.healthcheck.type, HealthCheckType::Tcp);
  EXPECT_DOUBLE_EQ(lb.healthcheck.interval_sec, 0.2);
  EXPECT_DOUBLE_EQ(lb.healthcheck.timeout_sec, 0.1);
  EXPECT_EQ(lb.healthcheck.path, "/ready");
  EXPECT_EQ(lb.healthcheck.host, "svc.local");
  ASSERT_EQ(lb.healthcheck.expected_status.size(), 3u);
  EXPECT_EQ(lb.healthcheck.expected_status[1].low, 204);
  EXPECT_EQ(lb.healthcheck.expected_status[1].high, 204);
  EXPECT_EQ(lb.healthcheck.expected_status[2].low, 300);
  EXPECT_EQ(lb.healthcheck.expected_status[2].high, 399);
  EXPECT_EQ(lb.healthcheck.healthy_threshold, 1);
  EXPECT_EQ(lb.healthcheck.unhealthy_threshold, 7);
  EXPECT_EQ(lb.healthcheck.slow_start_sec, 30);
  EXPECT_EQ(lb.circuit_breaker.failure_threshold, 9);
  EXPECT_DOUBLE_EQ(lb.circuit_breaker.recovery_timeout_sec, 1.5);
  EXPECT_EQ(lb.circuit_breaker.half_open_max_requests, 4);
  EXPECT_EQ(lb.circuit_breaker.max_connections, 77);
  EXPECT_EQ(lb.circuit_breaker.max_pending_requests, 0);
  EXPECT_EQ(lb.timeouts.connect_ms, 1);
  EXPECT_EQ(lb.timeouts.client_header_ms, 2);
  EXPECT_EQ(lb.timeouts.client_idle_ms, 3);
  EXPECT_EQ(lb.timeouts.upstream_response_ms, 4);
  EXPECT_EQ(lb.retries.max, 0);
  EXPECT_FALSE(lb.retries.on_connect_failure);
  EXPECT_TRUE(lb.retries.on_refused);
  EXPECT_FALSE(lb.retries.on_reset_before_response);
  EXPECT_TRUE(lb.retries.on_5xx);
  EXPECT_EQ(lb.tls.min_version, "1.3");
  ASSERT_EQ(lb.tls.sni.size(), 1u);
  EXPECT_EQ(lb.tls.sni[0].server_name, "a.example");
  EXPECT_EQ(lb.tls.sni[0].cert_file, "sni-a.crt");
  EXPECT_EQ(lb.tls.sni[0].key_file, "sni-a.key");
  const LoadBalancer& tls = c.loadbalancers[1];
  EXPECT_EQ(tls.method, Method::Random);
  EXPECT_TRUE(tls.tls_termination);
  EXPECT_FALSE(tls.healthcheck.configured);
}

TEST(ConfigExample, EmptyFileGivesDefaults) {
  const LoadResult r = load("");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  const Config& c = r.config;
  EXPECT_EQ(c.source_path, "");
  EXPECT_EQ(c.photon.mode, Mode::Standalone);
  EXPECT_EQ(c.photon.component_id, "fiberlb-01");
  EXPECT_EQ(c.photon.logging.level, LogLevel::Info);
  EXPECT_EQ(c.photon.dataplane, "userspace");
  EXPECT_EQ(c.server.admin_api_addr, "127.0.0.1:9901");
  EXPECT_EQ(c.server.max_connections, 100000);
  EXPECT_TRUE(c.geo.auto_failover);
  EXPECT_EQ(c.geo.failback, Failback::Manual);
  EXPECT_TRUE(c.geo.regions.empty());
  EXPECT_TRUE(c.loadbalancers.empty());
  EXPECT_FALSE(c.demo.enabled);
}

TEST(ConfigExample, LoadBalancerDefaultsWhenTablesAbsent) {
  const LoadResult r = load(R"toml(
[[standalone.loadbalancers]]
name = "a"
port = 80
[[standalone.loadbalancers.backends]]
name = "b"
port = 81
)toml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  const LoadBalancer& lb = r.config.loadbalancers.at(0);
  EXPECT_EQ(lb.vip, "127.0.0.1");
  EXPECT_EQ(lb.protocol, Protocol::Http);
  EXPECT_EQ(lb.method, Method::RoundRobin);
  EXPECT_EQ(lb.hash_key, "source_ip");
  EXPECT_FALSE(lb.healthcheck.configured);
  EXPECT_EQ(lb.healthcheck.type, HealthCheckType::Http);
  EXPECT_EQ(lb.healthcheck.interval_sec, 10);
  EXPECT_EQ(lb.healthcheck.expected_status.size(), 1u);
  EXPECT_EQ(lb.circuit_breaker.failure_threshold, 5);
  EXPECT_EQ(lb.timeouts.upstream_response_ms, 30000);
  EXPECT_EQ(lb.retries.max, 2);
  EXPECT_TRUE(lb.retries.on_connect_failure);
  EXPECT_FALSE(lb.retries.on_5xx);
  EXPECT_EQ(lb.tls.min_version, "1.2");
  const Backend& b = lb.backends.at(0);
  EXPECT_EQ(b.address, "127.0.0.1");
  EXPECT_EQ(b.weight, 100);
  EXPECT_EQ(b.region, "default");
  EXPECT_FALSE(b.tls);
}

TEST(ConfigExample, ToStringNamesMatchTheFileSpelling) {
  EXPECT_STREQ(toString(Protocol::Udp), "udp");
  EXPECT_STREQ(toString(Method::LeastConn), "leastconn");
  EXPECT_STREQ(toString(Method::RoundRobin), "roundrobin");
  EXPECT_STREQ(toString(LogLevel::Warn), "warn");
  EXPECT_STREQ(toString(Persistence::SourceIp), "source_ip");
  EXPECT_STREQ(toString(HealthCheckType::None), "none");
  EXPECT_STREQ(toString(Failback::Auto), "auto");
  EXPECT_STREQ(toString(Mode::Integrated), "integrated");
  EXPECT_STREQ(toString(LogFormat::Json), "json");
}

TEST(ConfigExample, DiagnosticStr) {
  EXPECT_EQ((Diagnostic{"a.toml", {3, 7}, "geo.failback", "bad"}).str(),
            "a.toml:3:7: geo.failback: bad");
  EXPECT_EQ((Diagnostic{"environment", {}, "PHOTON_MODE", "bad"}).str(),
            "environment: PHOTON_MODE: bad");
  EXPECT_EQ((Diagnostic{"a.toml", {1, 2}, "", "bad"}).str(), "a.toml:1:2: bad");
}

}  // namespace
}  // namespace fiberlb::config

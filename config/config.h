#pragma once
// The validated, immutable configuration of fiberlb (SPEC §3). Produced by config::load*()
// and never modified afterwards: the control loop swaps whole Configs on reload.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fiberlb::config {

enum class LogLevel { Trace, Debug, Info, Warn, Error };
enum class LogFormat { Text, Json };
enum class Mode { Standalone, Integrated };
enum class Protocol { Http, Tcp, Udp };
enum class Method { RoundRobin, LeastConn, Hash, Random };
enum class Persistence { None, Cookie, SourceIp };
enum class HealthCheckType { Http, Tcp, None };
enum class Failback { Manual, Auto };
// An operator's switch on one backend (SPEC §8 PATCH): drain = no new requests, in-flight
// ones finish; disabled = out of rotation. Not a TOML key: set through the admin API.
enum class AdminState { Enabled, Drain, Disabled };

// Where a value came from, for messages that point the operator at the right line.
struct SourcePos {
  int line = 0;
  int column = 0;
};

struct Logging {
  LogLevel level = LogLevel::Info;
  LogFormat format = LogFormat::Text;
  std::string access_log;  // "" = off, "-" = stdout
};

struct Photon {
  Mode mode = Mode::Standalone;
  std::string component_id = "fiberlb-01";
  std::string config_version = "1.0";
  Logging logging;
  std::string config_backend = "file";
  std::string dataplane = "userspace";
  std::vector<std::string> chainfire_endpoints;  // [photon.integrated]
};

struct Server {
  std::string admin_api_addr = "127.0.0.1:9901";
  std::string metrics_addr;
  std::string admin_token;
  int workers = 0;  // 0 = one per CPU core
  double shutdown_grace_sec = 30;
  int64_t max_connections = 100000;
  std::string state_file = "data/fiberlb/state.json";
};

struct Region {
  std::string id;
  std::string display_name;
  std::string provider;
  double latitude = 0;
  double longitude = 0;
  int priority = 100;
  SourcePos pos;
};

struct Geo {
  bool auto_failover = true;
  double failover_threshold = 0.5;
  Failback failback = Failback::Manual;
  double failback_hold_sec = 60;
  std::string active_region;
  int replication_group_size = 2;
  bool default_regions = false;
  // Declared regions, plus the five defaults when default_regions = true, plus an implicit
  // region for every region a backend names without declaring it (with a warning).
  std::vector<Region> regions;
};

struct Backend {
  std::string name;
  std::string address = "127.0.0.1";
  int port = 0;
  int weight = 100;    // 0..1000
  std::string region;  // never empty after validation: "default" when not given
  bool tls = false;
  // With tls: the backend's certificate is verified (tls_verify) against tls_ca_file, or the
  // system's CA store when that is empty, for the name tls_server_name (also sent as SNI),
  // or the address when that is empty.
  bool tls_verify = true;
  std::string tls_ca_file;  // relative: to the config file's directory
  std::string tls_server_name;
  AdminState state = AdminState::Enabled;  // admin API overlay only (lb/admin_overlay.h)
  std::string node_type;                   // admin API overlay only ("" for file backends)
  SourcePos pos;
};

struct StatusRange {
  int low = 200;
  int high = 399;
};

struct HealthCheck {
  HealthCheckType type = HealthCheckType::Http;
  double interval_sec = 10;
  double timeout_sec = 5;
  std::string path = "/health";
  std::string host;
  std::vector<StatusRange> expected_status{{200, 399}};
  int healthy_threshold = 2;
  int unhealthy_threshold = 3;
  double slow_start_sec = 0;
  bool configured = false;  // false when the LB has no [healthcheck] table
};

struct CircuitBreaker {
  int failure_threshold = 5;
  double recovery_timeout_sec = 60;
  int half_open_max_requests = 1;
  int64_t max_connections = 10000;
  int64_t max_pending_requests = 1000;
};

struct Timeouts {
  int64_t connect_ms = 2000;
  int64_t client_header_ms = 10000;
  int64_t client_idle_ms = 60000;
  int64_t upstream_response_ms = 30000;
};

struct Retries {
  int max = 2;
  bool on_connect_failure = true;
  bool on_refused = true;
  bool on_reset_before_response = true;
  bool on_5xx = false;
};

// cert_file and key_file: a relative path in a config file is resolved against the file's
// directory by loadFile() (loadString() leaves it relative to the working directory).
struct SniCert {
  std::string server_name;
  std::string cert_file;
  std::string key_file;
  SourcePos pos;  // the [[tls.sni]] entry
};

struct Tls {
  std::string cert_file;
  std::string key_file;
  std::string min_version = "1.2";
  std::vector<SniCert> sni;
  SourcePos pos;  // the [tls] table, or the load balancer when there is none
};

struct LoadBalancer {
  std::string name;
  std::string vip = "127.0.0.1";
  int port = 0;
  Protocol protocol = Protocol::Http;
  Method method = Method::RoundRobin;
  std::string hash_key = "source_ip";
  Persistence session_persistence = Persistence::None;
  bool tls_termination = false;
  double udp_session_idle_sec = 30;
  std::vector<Backend> backends;
  HealthCheck healthcheck;
  CircuitBreaker circuit_breaker;
  Timeouts timeouts;
  Retries retries;
  Tls tls;
  SourcePos pos;
};

// [demo]: fiberlb starts an embedded HTTP server on every backend address of the config
// (loopback only) so that `make run` works with nothing else running.
struct Demo {
  bool enabled = false;
};

struct Config {
  std::string source_path;  // file the config was read from ("" for strings)
  Photon photon;
  Server server;
  Geo geo;
  std::vector<LoadBalancer> loadbalancers;
  Demo demo;
};

// One error or warning, pointing at file:line:column and the full key path.
struct Diagnostic {
  std::string file;
  SourcePos pos;
  std::string key;  // e.g. "standalone.loadbalancers[0].backends[1].port"
  std::string message;

  // "file:line:col: key: message" — the form operators and editors understand.
  std::string str() const;
};

// Overrides applied on top of the file, in SPEC §2 precedence: command line > env > file.
struct Overrides {
  // Environment as name=value pairs (normally from environ). Recognised: PHOTON_MODE,
  // PHOTON_COMPONENT_ID, PHOTON_LOG_LEVEL, PHOTON_ADMIN_TOKEN and PHOTON__A__B__KEY=value.
  std::vector<std::pair<std::string, std::string>> env;
  int workers = -1;       // --workers; -1 = not given
  std::string log_level;  // --log-level; "" = not given
  bool demo = false;      // --demo forces [demo] enabled = true
};

struct LoadResult {
  bool ok() const { return errors.empty(); }
  Config config;  // meaningful only when ok()
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
};

// Parses and validates a whole config. Never throws; every problem becomes a Diagnostic.
LoadResult loadFile(const std::string& path, const Overrides& overrides = {});
LoadResult loadString(const std::string& toml_text, const std::string& source_name,
                      const Overrides& overrides = {});

// The process environment as Overrides::env pairs (only PHOTON_* variables).
std::vector<std::pair<std::string, std::string>> photonEnvironment();

// SPEC §2 lookup: --config, else $PHOTON_CONFIG, else ./fiberlb.toml, else
// /etc/fiberlb/config.toml. Returns "" when none exists. A path given with --config or
// $PHOTON_CONFIG is returned as is, even when missing, so that loadFile names it.
std::string findConfigPath(const std::string& cli_path);

const char* toString(Protocol p);
const char* toString(Method m);
const char* toString(LogLevel l);
const char* toString(LogFormat f);
const char* toString(Mode m);
const char* toString(Persistence p);
const char* toString(HealthCheckType t);
const char* toString(Failback f);
const char* toString(AdminState s);
// Parses "enabled" | "drain" | "disabled". False for anything else.
bool parseAdminState(const std::string& text, AdminState* out);

}  // namespace fiberlb::config

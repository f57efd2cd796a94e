#pragma once
// Builds the TOML configuration (SPEC §3) that integration tests start fiberlb with. Every
// listener binds port 0 by default so that tests can run in parallel.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fiberlb::testing {

struct BackendConfig {
  std::string name;
  uint16_t port = 0;
  int weight = 100;
  std::string address = "127.0.0.1";
  std::string region;  // "" = not written
};

struct LbConfig {
  std::string name = "web";
  std::string method = "roundrobin";
  std::string protocol = "http";
  std::string vip = "127.0.0.1";
  uint16_t port = 0;
  std::vector<BackendConfig> backends;
  // [standalone.loadbalancers.timeouts]; a short head timeout keeps stalled tests quick.
  std::map<std::string, int64_t> timeouts{{"client_header_ms", 5000}};
  std::optional<int> retries_max;
  // [standalone.loadbalancers.retries] on = [...]; nullopt = not written (the default list).
  std::optional<std::vector<std::string>> retries_on;
  // [standalone.loadbalancers.circuit_breaker] "key = value" pairs (failure_threshold,
  // recovery_timeout_sec, ...); whole numbers are written as TOML integers. Empty = no table.
  std::map<std::string, double> circuit_breaker;
  std::string extra;  // raw TOML lines of the LB's own table
  // Raw "key = value" lines of [standalone.loadbalancers.healthcheck], written right after
  // the LB's backends; "" = no healthcheck table (no active checks).
  std::string healthcheck;
};

struct FiberlbConfig {
  int workers = 1;
  double shutdown_grace_sec = 10;
  std::string admin_api_addr = "127.0.0.1:0";
  std::vector<LbConfig> loadbalancers;
  std::string extra;  // raw TOML appended at the end

  // The TOML text; `state_file` goes to [standalone.server].
  std::string render(const std::string& state_file) const;
};

// A config with one HTTP LB named "web" over the given backends (name, port), weight 100.
FiberlbConfig singleLb(const std::vector<BackendConfig>& backends,
                       const std::string& method = "roundrobin");

}  // namespace fiberlb::testing

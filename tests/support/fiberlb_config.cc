#include "tests/support/fiberlb_config.h"

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>

namespace fiberlb::testing {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A whole number as a TOML integer (integer keys reject 3.0), anything else as a float.
std::string tomlNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::ostringstream out;
  out << std::setprecision(17) << v;
  return out.str();
}

}  // namespace

std::string FiberlbConfig::render(const std::string& state_file) const {
  std::ostringstream out;
  out << "[standalone.server]\n"
      << "workers = " << workers << "\n"
      << "admin_api_addr = " << quoted(admin_api_addr) << "\n"
      << "shutdown_grace_sec = " << shutdown_grace_sec << "\n"
      << "state_file = " << quoted(state_file) << "\n";
  for (const auto& lb : loadbalancers) {
    out << "\n[[standalone.loadbalancers]]\n"
        << "name = " << quoted(lb.name) << "\n"
        << "vip = " << quoted(lb.vip) << "\n"
        << "port = " << lb.port << "\n"
        << "protocol = " << quoted(lb.protocol) << "\n"
        << "method = " << quoted(lb.method) << "\n"
        << lb.extra;
    if (!lb.timeouts.empty()) {
      out << "[standalone.loadbalancers.timeouts]\n";
      for (const auto& [key, value] : lb.timeouts)
        out << key << " = " << value << "\n";
    }
    if (lb.retries_max || lb.retries_on) {
      out << "[standalone.loadbalancers.retries]\n";
      if (lb.retries_max) out << "max = " << *lb.retries_max << "\n";
      if (lb.retries_on) {
        out << "on = [";
        for (size_t i = 0; i < lb.retries_on->size(); ++i)
          out << (i == 0 ? "" : ", ") << quoted((*lb.retries_on)[i]);
        out << "]\n";
      }
    }
    if (!lb.circuit_breaker.empty()) {
      out << "[standalone.loadbalancers.circuit_breaker]\n";
      for (const auto& [key, value] : lb.circuit_breaker)
        out << key << " = " << tomlNumber(value) << "\n";
    }
    for (const auto& b : lb.backends) {
      out << "[[standalone.loadbalancers.backends]]\n"
          << "name = " << quoted(b.name) << "\n"
          << "address = " << quoted(b.address) << "\n"
          << "port = " << b.port << "\n"
          << "weight = " << b.weight << "\n";
      if (!b.region.empty()) out << "region = " << quoted(b.region) << "\n";
    }
    if (!lb.healthcheck.empty()) {
      out << "[standalone.loadbalancers.healthcheck]\n" << lb.healthcheck;
      if (lb.healthcheck.back() != '\n') out << "\n";
    }
  }
  out << extra;
  return out.str();
}

FiberlbConfig singleLb(const std::vector<BackendConfig>& backends, const std::string& method) {
  FiberlbConfig config;
  LbConfig lb;
  lb.method = method;
  lb.backends = backends;
  config.loadbalancers.push_back(lb);
  return config;
}

}  // namespace fiberlb::testing

#include "config/read_lb_options.h"

#include <array>
#include <string_view>
#include <vector>

#include "config/enum_names.h"
#include "config/value_syntax.h"

namespace fiberlb::config {

namespace {

void readSniCert(TableReader& r, SniCert& out) {
  using Need = TableReader::Need;
  out.pos = r.pos();
  r.readNonEmptyString("server_name", out.server_name, Need::Required);
  r.readNonEmptyString("cert_file", out.cert_file, Need::Required);
  r.readNonEmptyString("key_file", out.key_file, Need::Required);
  r.finish();
}

// Sets every retry flag from the list; false (and an error) on an unknown condition.
bool applyRetryConditions(TableReader& t, const std::vector<std::string>& on, Retries& out) {
  static constexpr std::array<std::string_view, 4> kConditions{"connect-failure", "refused",
                                                               "reset-before-response", "5xx"};
  Retries parsed = out;
  parsed.on_connect_failure = parsed.on_refused = false;
  parsed.on_reset_before_response = parsed.on_5xx = false;
  for (const std::string& condition : on) {
    if (condition == kConditions[0])
      parsed.on_connect_failure = true;
    else if (condition == kConditions[1])
      parsed.on_refused = true;
    else if (condition == kConditions[2])
      parsed.on_reset_before_response = true;
    else if (condition == kConditions[3])
      parsed.on_5xx = true;
    else {
      t.error("on", "unknown retry condition '" + condition +
                        "'; expected any of: 'connect-failure', 'refused', "
                        "'reset-before-response', '5xx'");
      return false;
    }
  }
  out = parsed;
  return true;
}

}  // namespace

void readHealthCheck(TableReader t, HealthCheck& out) {
  out.configured = t.present();
  t.readChoice("type", out.type, kHealthCheckTypes);
  t.readNumber("interval_sec", out.interval_sec, kPositive);
  t.readNumber("timeout_sec", out.timeout_sec, kPositive);
  if (t.readString("path", out.path) && out.path.rfind('/', 0) != 0) {
    t.error("path", "must start with '/', got '" + out.path + "'");
  }
  t.readString("host", out.host);
  std::string status;
  if (t.readString("expected_status", status)) {
    std::string why;
    if (!parseStatusRanges(status, out.expected_status, why)) t.error("expected_status", why);
  }
  t.readInt("healthy_threshold", out.healthy_threshold, 1, kNoMax);
  t.readInt("unhealthy_threshold", out.unhealthy_threshold, 1, kNoMax);
  t.readNumber("slow_start_sec", out.slow_start_sec, kNonNegative);
  t.finish();
}

void readCircuitBreaker(TableReader t, CircuitBreaker& out) {
  t.readInt("failure_threshold", out.failure_threshold, 1, kNoMax);
  t.readNumber("recovery_timeout_sec", out.recovery_timeout_sec, kPositive);
  t.readInt("half_open_max_requests", out.half_open_max_requests, 1, kNoMax);
  t.readInt64("max_connections", out.max_connections, 1, kNoMax);
  t.readInt64("max_pending_requests", out.max_pending_requests, 0, kNoMax);
  t.finish();
}

void readTimeouts(TableReader t, Timeouts& out) {
  t.readInt64("connect_ms", out.connect_ms, 1, kNoMax);
  t.readInt64("client_header_ms", out.client_header_ms, 1, kNoMax);
  t.readInt64("client_idle_ms", out.client_idle_ms, 1, kNoMax);
  t.readInt64("upstream_response_ms", out.upstream_response_ms, 1, kNoMax);
  t.finish();
}

void readRetries(TableReader t, Retries& out) {
  t.readInt("max", out.max, 0, 100);
  std::vector<std::string> on;
  if (t.readStringList("on", on)) applyRetryConditions(t, on, out);
  t.finish();
}

void readTls(TableReader t, Tls& out) {
  out.pos = t.pos();
  t.readString("cert_file", out.cert_file);
  t.readString("key_file", out.key_file);
  if (t.readString("min_version", out.min_version) && out.min_version != "1.2" &&
      out.min_version != "1.3") {
    t.error("min_version", "unknown TLS version '" + out.min_version +
                               "'; expected \"1.2\" or \"1.3\" (older versions are insecure)");
  }
  for (TableReader& sni : t.tableArray("sni")) {
    SniCert cert;
    readSniCert(sni, cert);
    out.sni.push_back(cert);
  }
  t.finish();
}

}  // namespace fiberlb::config

#include "config/read_loadbalancer.h"

#include <map>
#include <string>

#include "config/enum_names.h"
#include "config/read_geo.h"
#include "config/read_lb_options.h"
#include "config/value_syntax.h"

namespace fiberlb::config {

namespace {

using Need = TableReader::Need;

// What a listening socket is bound to, to find two LBs that would fight over one socket.
struct Listener {
  bool udp;
  std::string ip;  // canonicalIp() form
  bool wildcard;
  int port;
  std::string owner;  // "standalone.loadbalancers[0] ('web-lb')"
};

bool overlaps(const Listener& a, const Listener& b) {
  // Port 0 asks the kernel for a fresh port each time, so it never collides.
  if (a.port == 0 || a.udp != b.udp || a.port != b.port) return false;
  const bool same_family = a.ip[0] == b.ip[0];
  return a.ip == b.ip || (same_family && (a.wildcard || b.wildcard));
}

void checkListener(TableReader& r, const LoadBalancer& lb, std::vector<Listener>& seen) {
  const std::string ip = canonicalIp(lb.vip);
  if (ip.empty()) return;  // already reported as an invalid vip
  Listener self{lb.protocol == Protocol::Udp, ip, isWildcardIp(lb.vip), lb.port,
                r.path() + " ('" + lb.name + "')"};
  for (const Listener& other : seen) {
    if (!overlaps(self, other)) continue;
    r.error("port", "listener " + lb.vip + ":" + std::to_string(lb.port) +
                        (self.udp ? "/udp" : "/tcp") + " collides with " + other.owner +
                        " on the same address and port; give each load balancer its own port");
    return;
  }
  seen.push_back(self);
}

void readBackend(TableReader& r, Geo& geo, Backend& out) {
  out.pos = r.pos();
  r.readNonEmptyString("name", out.name, Need::Required);
  if (r.readNonEmptyString("address", out.address) && !isIpLiteral(out.address) &&
      !isHostname(out.address)) {
    r.error("address", "'" + out.address +
                           "' is not an IP address or hostname; give the port separately "
                           "and write IPv6 addresses without brackets");
  }
  r.readInt("port", out.port, 1, 65535, Need::Required);
  r.readInt("weight", out.weight, 0, 1000);
  r.readString("region", out.region);
  r.readBool("tls", out.tls);
  r.readBool("tls_verify", out.tls_verify);
  r.readString("tls_ca_file", out.tls_ca_file);
  r.readString("tls_server_name", out.tls_server_name);
  useRegion(geo, out.region, r);
  r.finish();
}

void readBackends(TableReader& lb_reader, Geo& geo, LoadBalancer& lb) {
  std::map<std::string, std::string> names;  // name -> key path of its first use
  for (TableReader& r : lb_reader.tableArray("backends")) {
    Backend backend;
    readBackend(r, geo, backend);
    checkUnique(r, "name", backend.name, names, "backend name",
                "backend names must be unique within a load balancer");
    lb.backends.push_back(std::move(backend));
  }
}

void readListenerKeys(TableReader& r, LoadBalancer& lb) {
  r.readNonEmptyString("name", lb.name, Need::Required);
  if (r.readString("vip", lb.vip) && !isIpLiteral(lb.vip)) {
    r.error("vip",
            "'" + lb.vip + "' is not an IPv4 or IPv6 address (e.g. 127.0.0.1, 0.0.0.0, ::1)");
  }
  r.readInt("port", lb.port, 0, 65535, Need::Required);
  r.readChoice("protocol", lb.protocol, kProtocols);
  r.readChoice("method", lb.method, kMethods);
  if (r.readString("hash_key", lb.hash_key) && !isValidHashKey(lb.hash_key)) {
    r.error("hash_key", "unknown hash key '" + lb.hash_key +
                            "'; expected 'source_ip', 'uri', 'header:<Name>' or 'cookie:<name>'");
  }
  r.readChoice("session_persistence", lb.session_persistence, kPersistences);
  r.readBool("tls_termination", lb.tls_termination);
  r.readNumber("udp_session_idle_sec", lb.udp_session_idle_sec, kPositive);
}

// Rules that involve more than one key of the same load balancer.
void checkCombinations(TableReader& r, const LoadBalancer& lb) {
  if (lb.session_persistence == Persistence::Cookie && lb.protocol != Protocol::Http) {
    r.error("session_persistence", std::string("cookie persistence needs protocol = \"http\", ") +
                                       "not \"" + toString(lb.protocol) +
                                       "\"; use \"source_ip\" for L4");
  }
  if (!lb.tls_termination) return;
  if (lb.protocol == Protocol::Udp) {
    r.error("tls_termination", "TLS termination is not available for protocol = \"udp\"");
    return;
  }
  std::string missing;
  if (lb.tls.cert_file.empty()) missing = "cert_file";
  if (lb.tls.key_file.empty()) missing += missing.empty() ? "key_file" : " and key_file";
  if (!missing.empty()) {
    r.error("tls_termination", "tls_termination = true needs " + missing +
                                   " in the load balancer's [standalone.loadbalancers.tls] table");
  }
}

void readLoadBalancer(TableReader& r, Geo& geo, LoadBalancer& lb) {
  lb.pos = r.pos();
  readListenerKeys(r, lb);
  readBackends(r, geo, lb);
  readHealthCheck(r.table("healthcheck"), lb.healthcheck);
  readCircuitBreaker(r.table("circuit_breaker"), lb.circuit_breaker);
  readTimeouts(r.table("timeouts"), lb.timeouts);
  readRetries(r.table("retries"), lb.retries);
  readTls(r.table("tls"), lb.tls);
  checkCombinations(r, lb);
  r.finish();
}

}  // namespace

void readLoadBalancers(TableReader& standalone, Geo& geo, std::vector<LoadBalancer>& out) {
  std::map<std::string, std::string> names;  // name -> key path of its first use
  std::vector<Listener> listeners;
  for (TableReader& r : standalone.tableArray("loadbalancers")) {
    LoadBalancer lb;
    readLoadBalancer(r, geo, lb);
    checkUnique(r, "name", lb.name, names, "load balancer name",
                "load balancer names must be unique");
    checkListener(r, lb, listeners);
    out.push_back(std::move(lb));
  }
}

}  // namespace fiberlb::config

#include "src/control/listener_table.h"

#include <unistd.h>

#include <set>

#include "src/net/listen_socket.h"
#include "src/util/log.h"

namespace fiberlb::control {

std::string ListenerTable::keyOf(const config::LoadBalancer& lb) {
  std::string key =
      std::string(config::toString(lb.protocol)) + " " + lb.vip + ":" + std::to_string(lb.port);
  // Every `port = 0` listener is its own ephemeral socket, not one shared by address.
  if (lb.port == 0) key += " " + lb.name;
  return key;
}

bool ListenerTable::ensure(const config::LoadBalancer& lb, proxy::ListenerSpec* spec,
                           std::string* error) {
  std::string key = keyOf(lb);
  auto it = specs_.find(key);
  if (it != specs_.end()) {
    *spec = it->second;
    return true;
  }
  net::SocketAddress addr;
  if (!net::parseIpLiteral(lb.vip, lb.port, &addr)) {
    *error = "lb " + lb.name + ": vip '" + lb.vip + "' is not an IP address";
    return false;
  }
  net::ListenResult opened =
      net::openListeners(addr, workers_, lb.protocol != config::Protocol::Udp);
  if (opened.fds.empty()) {
    *error = "lb " + lb.name + ": " + opened.error;
    return false;
  }
  proxy::ListenerSpec created{key, opened.fds, opened.bound};
  specs_.emplace(key, created);
  *spec = std::move(created);
  return true;
}

void ListenerTable::discard(const std::string& key) {
  auto it = specs_.find(key);
  if (it == specs_.end()) return;
  for (int fd : it->second.fds)
    close(fd);
  specs_.erase(it);
}

void ListenerTable::retainOnly(const config::Config& cfg) {
  std::set<std::string> keep;
  for (const config::LoadBalancer& lb : cfg.loadbalancers)
    keep.insert(keyOf(lb));
  std::erase_if(specs_, [&](const auto& entry) {
    if (keep.count(entry.first) != 0) return false;
    // The workers close their handles when they apply the update; established connections
    // stay.
    FLB_LOG(Info, "stopped listening addr=%s (no load balancer uses it any more)",
            entry.second.bound.str().c_str());
    return true;
  });
}

}  // namespace fiberlb::control

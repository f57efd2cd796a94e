#pragma once
// The listening sockets of every L7/L4 load balancer, keyed by what the config asked for
// ("http 127.0.0.1:8080"), so a reload that keeps an address keeps its sockets.

#include <map>
#include <string>

#include "config/config.h"
#include "src/proxy/worker_update.h"

namespace fiberlb::control {

// Control loop only.
class ListenerTable {
 public:
  explicit ListenerTable(int workers) : workers_(workers) {}

  static std::string keyOf(const config::LoadBalancer& lb);

  // The spec for `lb`, opening sockets if this key is new. False with an operator-facing
  // message (naming the address) if they cannot be opened.
  bool ensure(const config::LoadBalancer& lb, proxy::ListenerSpec* spec, std::string* error);
  // Forgets keys not used by `cfg` (the workers close their sockets).
  void retainOnly(const config::Config& cfg);
  bool has(const std::string& key) const { return specs_.count(key) != 0; }
  // Closes and forgets sockets no worker has adopted yet (a reload that failed later on).
  void discard(const std::string& key);

 private:
  int workers_;
  std::map<std::string, proxy::ListenerSpec> specs_;
};

}  // namespace fiberlb::control

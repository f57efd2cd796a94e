#include "lb/backend_registry.h"

#include <set>

namespace fiberlb::lb {

BackendState::Ptr BackendRegistry::acquire(std::string_view lb, std::string_view name,
                                           std::string_view address, int port) {
  const KeyView key{lb, name, address, port};
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  auto state = std::make_shared<BackendState>(std::string(lb), std::string(name),
                                              std::string(address), port, next_slot_++);
  entries_.emplace(Key{std::string(lb), std::string(name), std::string(address), port}, state);
  return state;
}

BackendState::Ptr BackendRegistry::find(std::string_view lb, std::string_view name,
                                        std::string_view address, int port) const {
  auto it = entries_.find(KeyView{lb, name, address, port});
  return it == entries_.end() ? nullptr : it->second;
}

LbStats::Ptr BackendRegistry::acquireLbStats(std::string_view lb) {
  auto it = lb_stats_.find(lb);
  if (it != lb_stats_.end()) return it->second;
  auto stats = std::make_shared<LbStats>(std::string(lb));
  lb_stats_.emplace(std::string(lb), stats);
  return stats;
}

void BackendRegistry::retainOnly(const config::Config& cfg) {
  std::set<std::string_view> lbs;
  for (const config::LoadBalancer& lb : cfg.loadbalancers)
    lbs.insert(lb.name);
  std::erase_if(lb_stats_, [&](const auto& entry) { return !lbs.contains(entry.first); });

  std::set<KeyView, KeyLess> keep;
  for (const config::LoadBalancer& lb : cfg.loadbalancers)
    for (const config::Backend& b : lb.backends)
      keep.insert(KeyView{lb.name, b.name, b.address, b.port});
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (keep.contains(KeyLess::view(it->first)))
      ++it;
    else
      it = entries_.erase(it);
  }
}

}  // namespace fiberlb::lb

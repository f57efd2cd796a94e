#pragma once
// The long-lived BackendState objects, one per identity, across snapshots and reloads.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "config/config.h"
#include "lb/backend_state.h"
#include "lb/lb_stats.h"

namespace fiberlb::lb {

// Maps a backend identity (LB name, backend name, address, port) to its BackendState, so a
// backend that survives a reload keeps its counters (and, later, health and circuit state),
// and hands out dense slots for workers' per-backend tables.
//
// Control loop only: not thread-safe. Workers never see the registry, only the BackendState
// objects that snapshots hold by shared_ptr.
class BackendRegistry {
 public:
  // The object for this identity; created (with the next unused slot) if it is not
  // registered. Slots are never reused, even after the identity is dropped, so a worker's
  // per-slot entry can never be confused with a different backend.
  BackendState::Ptr acquire(std::string_view lb, std::string_view name, std::string_view address,
                            int port);

  // The registered object for this identity, or nullptr. Does not create.
  BackendState::Ptr find(std::string_view lb, std::string_view name, std::string_view address,
                         int port) const;

  // Drops every entry whose identity is not a backend of `cfg`. The objects themselves live on
  // while snapshots hold them (in-flight requests drain); if the identity comes back later it
  // gets a fresh object and a fresh slot. Call after building the snapshot of `cfg`.
  void retainOnly(const config::Config& cfg);

  // The long-lived traffic counters of the LB named `lb`, created on first use. They survive
  // reloads as long as an LB of that name does.
  LbStats::Ptr acquireLbStats(std::string_view lb);

  // One past the highest slot ever handed out: the size for per-slot tables.
  uint32_t slotCount() const { return next_slot_; }
  // Identities currently registered.
  size_t size() const { return entries_.size(); }

 private:
  // Ordered map with a transparent comparator: lookups by string_view without building
  // strings, and a deterministic iteration order. Reload-rate operations only.
  using Key = std::tuple<std::string, std::string, std::string, int>;
  using KeyView = std::tuple<std::string_view, std::string_view, std::string_view, int>;
  struct KeyLess {
    using is_transparent = void;
    static KeyView view(const Key& k) {
      return {std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k)};
    }
    static const KeyView& view(const KeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return view(a) < view(b);
    }
  };

  std::map<Key, BackendState::Ptr, KeyLess> entries_;
  std::map<std::string, LbStats::Ptr, std::less<>> lb_stats_;
  uint32_t next_slot_ = 0;
};

}  // namespace fiberlb::lb

#include "lb/policies/least_conn.h"

#include <atomic>

namespace fiberlb::lb {

LeastConnPicker::LeastConnPicker(std::span<const Endpoint> endpoints) {
  slots_.reserve(endpoints.size());
  for (const Endpoint& e : endpoints) {
    // The snapshot builder only emits weight > 0; guard anyway (the ratio needs weight > 0).
    if (e.backend == nullptr || e.weight <= 0) continue;
    slots_.push_back(Slot{e.backend, e.weight, 0});
  }
  active_.resize(slots_.size());
}

BackendState* LeastConnPicker::pick(const PickContext& ctx) {
  const size_t n = slots_.size();
  Slot* const slots = slots_.data();
  int64_t* const active = active_.data();
  const bool check_tried = ctx.tried_count != 0;

  // Pass 1: the smallest ratio, and how many endpoints share it.
  size_t best = n;  // n = none yet
  int64_t best_active = 0;
  int64_t best_weight = 1;
  size_t ties = 0;
  for (size_t i = 0; i < n; ++i) {
    if (check_tried && ctx.isTried(slots[i].backend)) continue;
    const int64_t a = slots[i].backend->active_requests.load(std::memory_order_relaxed);
    active[i] = a;
    const int64_t lhs = a * best_weight;
    const int64_t rhs = best_active * slots[i].weight;
    if (best == n || lhs < rhs) {
      best = i;
      best_active = a;
      best_weight = slots[i].weight;
      ties = 1;
    } else if (lhs == rhs) {
      ++ties;
    }
  }
  if (best == n) return nullptr;
  if (ties == 1) return slots[best].backend;

  // Pass 2: smooth weighted round-robin among the tied endpoints (from the first of them on;
  // none precede it). Uses the counts read in pass 1, so the tied set is exactly pass 1's.
  Slot* chosen = nullptr;
  int64_t round_total = 0;
  for (size_t i = best; i < n; ++i) {
    Slot& s = slots[i];
    if (active[i] * best_weight != best_active * s.weight) continue;
    if (check_tried && ctx.isTried(s.backend)) continue;  // active[i] is stale for these
    s.current += s.weight;
    round_total += s.weight;
    if (chosen == nullptr || s.current > chosen->current) chosen = &s;
  }
  chosen->current -= round_total;
  return chosen->backend;
}

std::unique_ptr<Picker> LeastConnPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  return std::make_unique<LeastConnPicker>(endpoints);
}

}  // namespace fiberlb::lb

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

SampledLeastConnPicker::SampledLeastConnPicker(std::span<const Endpoint> endpoints, uint64_t seed)
    : sampler_(endpoints, seed) {}

BackendState* SampledLeastConnPicker::pick(const PickContext& ctx) {
  uint32_t best = sampler_.drawUntried(ctx);
  if (best == EndpointSampler::kNone) return nullptr;
  int64_t best_active = sampler_.backend(best)->active_requests.load(std::memory_order_relaxed);
  for (int draw = 1; draw < kSamples; ++draw) {
    const uint32_t i = sampler_.drawUntried(ctx, best);
    if (i == EndpointSampler::kNone) break;  // `best` is the only untried endpoint
    const int64_t active = sampler_.backend(i)->active_requests.load(std::memory_order_relaxed);
    // active / w_i < best_active / w_best, cross-multiplied; ties keep the earlier draw.
    if (active * sampler_.weight(best) < best_active * sampler_.weight(i)) {
      best = i;
      best_active = active;
    }
  }
  return sampler_.backend(best);
}

std::unique_ptr<Picker> LeastConnPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  if (endpoints.size() > kExactScanLimit)
    return std::make_unique<SampledLeastConnPicker>(endpoints, freshPickerSeed(endpoints));
  return std::make_unique<LeastConnPicker>(endpoints);
}

}  // namespace fiberlb::lb

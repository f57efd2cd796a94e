#include "lb/policies/round_robin.h"

#include <algorithm>
#include <limits>

namespace fiberlb::lb {

namespace {

// |current| stays within a small multiple of the total weight; this leaves ample headroom
// in int32. Validated configs (weights <= 1000) reach it only beyond 250,000 endpoints.
constexpr int64_t kMaxTotalWeight = int64_t{1} << 28;

}  // namespace

RoundRobinPicker::RoundRobinPicker(std::span<const Endpoint> endpoints) {
  backends_.reserve(endpoints.size());
  weights_.reserve(endpoints.size());
  int64_t total = 0;
  for (const Endpoint& e : endpoints) {
    // The snapshot builder only emits weight > 0; guard anyway so a bad endpoint list can
    // never make the sums meaningless.
    if (e.backend == nullptr || e.weight <= 0) continue;
    backends_.push_back(e.backend);
    weights_.push_back(e.weight);
    total += e.weight;
  }
  // Out-of-range totals degrade to coarser proportions instead of overflowing.
  int shift = 0;
  while ((total >> shift) > kMaxTotalWeight)
    ++shift;
  total_weight_ = 0;
  for (int32_t& w : weights_) {
    if (shift > 0) w = std::max<int32_t>(1, w >> shift);
    total_weight_ += w;
  }
  current_.assign(weights_.size(), 0);
}

BackendState* RoundRobinPicker::pick(const PickContext& ctx) {
  if (backends_.empty()) return nullptr;
  // The common case (first attempt of a request) has nothing to skip: keep its loop free of
  // the tried-list check.
  return ctx.tried_count == 0 ? pickAll() : pickSkippingTried(ctx);
}

BackendState* RoundRobinPicker::pickAll() {
  int32_t* const current = current_.data();
  const int32_t* const weight = weights_.data();
  const size_t n = current_.size();
  // Pass 1 (branch-free, vectorisable): advance every endpoint and find the maximum value.
  int32_t best_current = std::numeric_limits<int32_t>::min();
  for (size_t i = 0; i < n; ++i) {
    const int32_t c = current[i] + weight[i];
    current[i] = c;
    best_current = std::max(best_current, c);
  }
  // Pass 2: the first endpoint holding it. Earliest-wins on ties keeps the sequence
  // deterministic.
  size_t best = 0;
  while (current[best] != best_current)
    ++best;
  current[best] -= total_weight_;
  return backends_[best];
}

BackendState* RoundRobinPicker::pickSkippingTried(const PickContext& ctx) {
  // As nginx does on retries: tried endpoints take no part in this round (their `current` is
  // left alone) and the winner pays only the weight of the endpoints that did take part, so
  // the sum of all `current` values stays zero and the long-run distribution stays exact.
  const size_t n = backends_.size();
  size_t best = n;
  int32_t round_total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ctx.isTried(backends_[i])) continue;
    current_[i] += weights_[i];
    round_total += weights_[i];
    if (best == n || current_[i] > current_[best]) best = i;
  }
  if (best == n) return nullptr;
  current_[best] -= round_total;
  return backends_[best];
}

std::unique_ptr<Picker> RoundRobinPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  return std::make_unique<RoundRobinPicker>(endpoints);
}

}  // namespace fiberlb::lb

#include "lb/policies/round_robin.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "lb/policies/edf_round_robin.h"

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
  equal_weights_ =
      std::adjacent_find(weights_.begin(), weights_.end(), std::not_equal_to<>()) == weights_.end();
}

BackendState* RoundRobinPicker::pick(const PickContext& ctx) {
  if (backends_.empty()) return nullptr;
  if (equal_weights_) return rotate(ctx);
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

BackendState* RoundRobinPicker::rotate(const PickContext& ctx) {
  // What the smooth algorithm does with equal weights: the next endpoint in list order. A
  // retry passes tried ones over (they wait for the next round; the smooth algorithm would
  // offer them again at once, which matters little for a backend that just failed).
  const size_t n = backends_.size();
  for (size_t step = 0; step < n; ++step) {
    BackendState* candidate = backends_[cursor_];
    if (++cursor_ == n) cursor_ = 0;
    if (ctx.tried_count == 0 || !ctx.isTried(candidate)) return candidate;
  }
  return nullptr;
}

std::unique_ptr<Picker> RoundRobinPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  if (endpoints.size() > kSmoothScanLimit) {
    const auto differs = [](const Endpoint& a, const Endpoint& b) { return a.weight != b.weight; };
    if (std::adjacent_find(endpoints.begin(), endpoints.end(), differs) != endpoints.end())
      return std::make_unique<EdfRoundRobinPicker>(endpoints);
  }
  return std::make_unique<RoundRobinPicker>(endpoints);
}

}  // namespace fiberlb::lb

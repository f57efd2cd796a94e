#include "lb/policies/weighted_sampler.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

namespace fiberlb::lb {

namespace {

// Coins are 32-bit: the total weight must fit.
constexpr uint64_t kMaxTotalWeight = uint64_t{1} << 31;

// Weighted draws that hit an excluded endpoint (tried, or the first choice) are redrawn this
// many times before a scan takes over; it only matters when most of the weight is excluded.
constexpr int kDrawAttempts = 4;

std::vector<int64_t> usableWeights(std::span<const Endpoint> endpoints) {
  std::vector<int64_t> weights;
  for (const Endpoint& e : endpoints)
    if (e.backend != nullptr && e.weight > 0) weights.push_back(e.weight);
  return weights;
}

}  // namespace

WeightedSampler::WeightedSampler(std::span<const int64_t> weights) {
  const size_t n = weights.size();
  if (n == 0) return;
  uint64_t total = 0;
  for (const int64_t w : weights)
    total += static_cast<uint64_t>(std::max<int64_t>(1, w));
  int shift = 0;
  while ((total >> shift) >= kMaxTotalWeight)
    ++shift;
  std::vector<int64_t> scaled(n);  // weight·n: each column holds exactly `coin_range_`
  uint64_t range = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t w = std::max<int64_t>(1, std::max<int64_t>(1, weights[i]) >> shift);
    scaled[i] = w * static_cast<int64_t>(n);
    range += static_cast<uint64_t>(w);
  }
  coin_range_ = static_cast<uint32_t>(range);
  const auto per_column = static_cast<int64_t>(range);

  // Vose: pair each column short of a full share with one over it, which donates the
  // difference; every column ends up holding at most two entries.
  columns_.resize(n);
  std::vector<uint32_t> small;
  std::vector<uint32_t> large;
  for (uint32_t i = 0; i < n; ++i)
    (scaled[i] < per_column ? small : large).push_back(i);
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    columns_[s] = Column{static_cast<uint32_t>(scaled[s]), l};
    scaled[l] -= per_column - scaled[s];
    if (scaled[l] < per_column) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left is full (exact integers: no rounding leftovers to fix up).
  for (const uint32_t i : large)
    columns_[i] = Column{coin_range_, i};
  for (const uint32_t i : small)
    columns_[i] = Column{coin_range_, i};
}

EndpointSampler::EndpointSampler(std::span<const Endpoint> endpoints, uint64_t seed)
    : weights_(usableWeights(endpoints)), alias_(weights_), rng_(seed) {
  for (const Endpoint& e : endpoints)
    if (e.backend != nullptr && e.weight > 0) backends_.push_back(e.backend);
}

uint32_t EndpointSampler::drawUntried(const PickContext& ctx, uint32_t other) {
  if (backends_.empty()) return kNone;
  for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
    const uint32_t i = alias_.draw(rng_.next());
    if (i != other && (ctx.tried_count == 0 || !ctx.isTried(backends_[i]))) return i;
  }
  // Most of the weight is excluded: draw from what is left directly, still in proportion to
  // the weights (two passes over the endpoints; only this rare case pays for them).
  const size_t n = backends_.size();
  const auto allowed = [&](size_t i) { return i != other && !ctx.isTried(backends_[i]); };
  uint64_t left = 0;
  for (size_t i = 0; i < n; ++i)
    if (allowed(i)) left += static_cast<uint64_t>(weights_[i]);
  if (left == 0) return kNone;
  uint64_t coin = rng_.next() % left;
  for (size_t i = 0; i < n; ++i) {
    if (!allowed(i)) continue;
    const auto w = static_cast<uint64_t>(weights_[i]);
    if (coin < w) return static_cast<uint32_t>(i);
    coin -= w;
  }
  return kNone;  // not reached: the coins add up to `left`
}

uint64_t freshPickerSeed(std::span<const Endpoint> endpoints) {
  const auto now =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const uint64_t thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
  const auto list = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(endpoints.data()));
  return now ^ mixHash(thread) ^ mixHash(mixHash(list));
}

}  // namespace fiberlb::lb

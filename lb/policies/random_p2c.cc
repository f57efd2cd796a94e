#include "lb/policies/random_p2c.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "lb/hash_key.h"

namespace fiberlb::lb {

namespace {

// Weighted draws that hit an excluded endpoint (tried, or the first choice) are redrawn this
// many times before a scan takes over; it only matters when most of the weight is excluded.
constexpr int kDrawAttempts = 4;

// Coins are 32-bit: the total weight must fit. Validated configs (weights <= 1000) reach
// this only beyond four million endpoints; past it weights are scaled down, as round-robin
// does.
constexpr uint64_t kMaxTotalWeight = uint64_t{1} << 31;

// [0, range) from 32 random bits, without a division (Lemire's multiply-shift).
uint32_t below(uint32_t random32, uint32_t range) {
  return static_cast<uint32_t>((uint64_t{random32} * range) >> 32);
}

}  // namespace

RandomP2CPicker::RandomP2CPicker(std::span<const Endpoint> endpoints, uint64_t seed)
    : rng_state_(mixHash(seed)) {
  uint64_t total = 0;
  for (const Endpoint& e : endpoints) {
    // The snapshot builder only emits weight > 0; guard anyway (draws need weight > 0).
    if (e.backend == nullptr || e.weight <= 0) continue;
    backends_.push_back(e.backend);
    weights_.push_back(e.weight);
    total += static_cast<uint64_t>(e.weight);
  }
  const size_t n = backends_.size();
  if (n == 0) return;

  // Coin weights: scaled down only if the total would not fit (the load comparison keeps
  // the exact weights_).
  int shift = 0;
  while ((total >> shift) >= kMaxTotalWeight)
    ++shift;
  std::vector<int64_t> scaled(n);  // weight·n: each column holds exactly `coin_range_`
  uint64_t range = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t w = shift > 0 ? std::max<int64_t>(1, weights_[i] >> shift) : weights_[i];
    scaled[i] = w * static_cast<int64_t>(n);
    range += static_cast<uint64_t>(w);
  }
  coin_range_ = static_cast<uint32_t>(range);
  const auto per_column = static_cast<int64_t>(range);

  // Vose's alias method: pair each column short of a full share with one over it, which
  // donates the difference; every column ends up holding at most two endpoints.
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

uint64_t RandomP2CPicker::nextRandom() {
  rng_state_ += 0x9e3779b97f4a7c15ULL;  // splitmix64: a Weyl sequence through mixHash()
  return mixHash(rng_state_);
}

uint32_t RandomP2CPicker::draw() {
  const uint64_t r = nextRandom();
  const uint32_t col =
      below(static_cast<uint32_t>(r >> 32), static_cast<uint32_t>(columns_.size()));
  const Column c = columns_[col];
  return below(static_cast<uint32_t>(r), coin_range_) < c.threshold ? col : c.alias;
}

uint32_t RandomP2CPicker::drawUntried(const PickContext& ctx, uint32_t other) {
  for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
    const uint32_t i = draw();
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
  uint64_t coin = nextRandom() % left;
  for (size_t i = 0; i < n; ++i) {
    if (!allowed(i)) continue;
    const auto w = static_cast<uint64_t>(weights_[i]);
    if (coin < w) return static_cast<uint32_t>(i);
    coin -= w;
  }
  return kNone;  // not reached: the coins add up to `left`
}

BackendState* RandomP2CPicker::pick(const PickContext& ctx) {
  if (backends_.size() <= 1) {
    if (backends_.empty() || ctx.isTried(backends_[0])) return nullptr;
    return backends_[0];
  }
  const uint32_t a = drawUntried(ctx, kNone);
  if (a == kNone) return nullptr;
  const uint32_t b = drawUntried(ctx, a);
  if (b == kNone) return backends_[a];
  const int64_t load_a = backends_[a]->active_requests.load(std::memory_order_relaxed);
  const int64_t load_b = backends_[b]->active_requests.load(std::memory_order_relaxed);
  // load_b / w_b < load_a / w_a, cross-multiplied; a tie keeps the first draw.
  return load_b * weights_[a] < load_a * weights_[b] ? backends_[b] : backends_[a];
}

std::unique_ptr<Picker> RandomP2CPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  // Different for every picker: the time, the building thread and the endpoint list (each
  // worker builds its own pickers, at nearly the same time, from the same snapshot).
  const auto now =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const uint64_t thread = std::hash<std::thread::id>{}(std::this_thread::get_id());
  const auto list = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(endpoints.data()));
  return std::make_unique<RandomP2CPicker>(endpoints,
                                           now ^ mixHash(thread) ^ mixHash(mixHash(list)));
}

}  // namespace fiberlb::lb

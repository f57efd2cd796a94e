#include "lb/policies/random_p2c.h"

#include <atomic>
#include <cstdint>

namespace fiberlb::lb {

RandomP2CPicker::RandomP2CPicker(std::span<const Endpoint> endpoints, uint64_t seed)
    : sampler_(endpoints, seed) {}

BackendState* RandomP2CPicker::pick(const PickContext& ctx) {
  if (sampler_.size() <= 1) {
    if (sampler_.size() == 0 || ctx.isTried(sampler_.backend(0))) return nullptr;
    return sampler_.backend(0);
  }
  const uint32_t a = sampler_.drawUntried(ctx);
  if (a == EndpointSampler::kNone) return nullptr;
  const uint32_t b = sampler_.drawUntried(ctx, a);
  if (b == EndpointSampler::kNone) return sampler_.backend(a);
  const int64_t load_a = sampler_.backend(a)->active_requests.load(std::memory_order_relaxed);
  const int64_t load_b = sampler_.backend(b)->active_requests.load(std::memory_order_relaxed);
  // load_b / w_b < load_a / w_a, cross-multiplied; a tie keeps the first draw.
  return load_b * sampler_.weight(a) < load_a * sampler_.weight(b) ? sampler_.backend(b)
                                                                   : sampler_.backend(a);
}

std::unique_ptr<Picker> RandomP2CPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  return std::make_unique<RandomP2CPicker>(endpoints, freshPickerSeed(endpoints));
}

}  // namespace fiberlb::lb

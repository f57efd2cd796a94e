#pragma once
// Power-of-two-choices, SPEC §4 `random`.

#include <cstdint>
#include <memory>
#include <span>

#include "lb/picker.h"
#include "lb/policies/weighted_sampler.h"

namespace fiberlb::lb {

// Draws two endpoints at random in proportion to their weights (two different ones whenever
// possible, never one already tried) and keeps the one with fewer active_requests relative
// to its weight (a1 * w2 < a2 * w1, as least-connections compares); a tie keeps the first
// draw. With equal loads the choice therefore follows the weights exactly; under load it
// avoids the busiest backends the way least-connections does, without reading every
// counter: two relaxed loads per pick, O(1) whatever the endpoint count (Mitzenmacher, "The
// Power of Two Choices in Randomized Load Balancing").
//
// Draws come from an EndpointSampler (Vose's alias method and a splitmix64 generator seeded
// per picker: no global state, no lock). Worker-local; pick() never allocates.
class RandomP2CPicker final : public Picker {
 public:
  // `seed` fixes the sequence of draws (tests); RandomP2CPolicy seeds each picker afresh.
  RandomP2CPicker(std::span<const Endpoint> endpoints, uint64_t seed);

  BackendState* pick(const PickContext& ctx) override;

 private:
  EndpointSampler sampler_;
};

class RandomP2CPolicy final : public Policy {
 public:
  std::unique_ptr<Picker> makePicker(std::span<const Endpoint> endpoints) const override;
};

}  // namespace fiberlb::lb

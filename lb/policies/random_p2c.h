#pragma once
// Power-of-two-choices, SPEC §4 `random`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lb/picker.h"

namespace fiberlb::lb {

// Draws two endpoints at random in proportion to their weights (two different ones whenever
// possible, never one already tried) and keeps the one with fewer active_requests relative
// to its weight (a1 * w2 < a2 * w1, as least-connections compares); a tie keeps the first
// draw. With equal loads the choice therefore follows the weights exactly; under load it
// avoids the busiest backends the way least-connections does, without reading every
// counter: two relaxed loads per pick, O(1) whatever the endpoint count (Mitzenmacher, "The
// Power of Two Choices in Randomized Load Balancing").
//
// Weighted draws use Vose's alias method in integers: one random word picks a column and a
// coin, exact proportions, no search. Each picker owns a splitmix64 generator seeded
// differently (no global state, no lock). Worker-local: the generator is this picker's
// only mutable state; pick() never allocates.
class RandomP2CPicker final : public Picker {
 public:
  // `seed` fixes the sequence of draws (tests); RandomP2CPolicy seeds each picker afresh.
  RandomP2CPicker(std::span<const Endpoint> endpoints, uint64_t seed);

  BackendState* pick(const PickContext& ctx) override;

 private:
  // Sentinel index: no endpoint.
  static constexpr uint32_t kNone = UINT32_MAX;

  uint64_t nextRandom();
  uint32_t draw();                                               // weighted, may repeat
  uint32_t drawUntried(const PickContext& ctx, uint32_t other);  // kNone: every one tried

  struct Column {
    uint32_t threshold;  // coin < threshold keeps this column's endpoint, else its alias
    uint32_t alias;
  };

  std::vector<BackendState*> backends_;
  std::vector<int64_t> weights_;
  std::vector<Column> columns_;  // the alias table, one column per endpoint
  uint32_t coin_range_ = 0;      // the (scaled) total weight: coins are in [0, coin_range_)
  uint64_t rng_state_;
};

class RandomP2CPolicy final : public Policy {
 public:
  std::unique_ptr<Picker> makePicker(std::span<const Endpoint> endpoints) const override;
};

}  // namespace fiberlb::lb

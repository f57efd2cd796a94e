#pragma once
// Weighted least-connections, SPEC §4 `leastconn`.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lb/picker.h"
#include "lb/policies/weighted_sampler.h"

namespace fiberlb::lb {

// Chooses the endpoint with the smallest active_requests / weight. The counts are the shared
// BackendState atomics that every worker increments and decrements, so the choice reflects
// the load of the whole process, not one worker's guess. Ratios are compared cross-multiplied
// (a1 * w2 < a2 * w1): no division and no rounding.
//
// Ties are broken by smooth weighted round-robin among the tied endpoints only (as nginx's
// least_conn does). With equal weights that is plain rotation (idle a, b, c take turns);
// with unequal weights a tie goes to each endpoint in proportion to its weight. A tie-break
// that ignores weight would split every tie evenly: at sequential load (all idle, always
// tied) weights would not matter at all, and under steady concurrency a 3:1 pair ends up
// near 2.4:1 because the counts meet at exact-ratio points all the time.
//
// Worker-local: the SWRR `current` values and the scratch copy of the counts are this
// picker's own. The counters are read once per pick with relaxed loads into the scratch
// array, so both passes of one pick see the same numbers; a concurrent change only means
// another worker's pick raced with ours, which a lock would not make more meaningful.
// pick() never allocates.
class LeastConnPicker final : public Picker {
 public:
  explicit LeastConnPicker(std::span<const Endpoint> endpoints);

  BackendState* pick(const PickContext& ctx) override;

 private:
  struct Slot {
    BackendState* backend;
    int64_t weight;
    int64_t current;  // smooth-WRR state, only touched while the endpoint is tied for best
  };

  std::vector<Slot> slots_;
  std::vector<int64_t> active_;  // scratch: counts as read in pass 1 of the current pick
};

// Least-connections over many endpoints: reading every counter would cost microseconds per
// pick at thousands of backends, so this picker compares a weighted random sample of
// kSamples endpoints (best of d choices; Envoy's least_request does the same with d = 2) and
// takes the one with the smallest active_requests / weight; a tie keeps the first draw, so
// idle endpoints are chosen in proportion to their weights. Each pick reads kSamples shared
// counters: O(1) whatever the endpoint count. Worker-local; pick() never allocates.
class SampledLeastConnPicker final : public Picker {
 public:
  static constexpr int kSamples = 8;

  SampledLeastConnPicker(std::span<const Endpoint> endpoints, uint64_t seed);

  BackendState* pick(const PickContext& ctx) override;

 private:
  EndpointSampler sampler_;
};

class LeastConnPolicy final : public Policy {
 public:
  // Up to this many endpoints every pick scans all counters (LeastConnPicker, exact); above,
  // SampledLeastConnPicker keeps the pick under 100 ns.
  static constexpr size_t kExactScanLimit = 32;

  std::unique_ptr<Picker> makePicker(std::span<const Endpoint> endpoints) const override;
};

}  // namespace fiberlb::lb

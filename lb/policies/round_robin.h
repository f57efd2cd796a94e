#pragma once
// Smooth weighted round-robin (the nginx algorithm), SPEC §4 `roundrobin`.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lb/picker.h"

namespace fiberlb::lb {

// Each pick adds every candidate's weight to its running `current`, picks the largest and
// subtracts the candidates' total weight from it. Over any window of `sum(weights)` picks
// (with nothing skipped) each endpoint is chosen exactly `weight` times, and picks of a heavy
// endpoint are interleaved with the others instead of coming in bursts (5:1:1 gives
// a a b a c a a, not a a a a a b c).
//
// Worker-local: every worker owns its own picker, so the state is plain integers. Built once
// per snapshot; pick() never allocates. With equal weights the algorithm is plain rotation
// in list order, which the picker does with a cursor in O(1); otherwise a pick is O(N) over
// flat arrays, which is why RoundRobinPolicy hands lists of more than kSmoothScanLimit
// unequally weighted endpoints to EdfRoundRobinPicker (same proportions, O(log N)).
class RoundRobinPicker final : public Picker {
 public:
  explicit RoundRobinPicker(std::span<const Endpoint> endpoints);

  BackendState* pick(const PickContext& ctx) override;

 private:
  BackendState* pickAll();
  BackendState* pickSkippingTried(const PickContext& ctx);
  BackendState* rotate(const PickContext& ctx);

  // Structure of arrays: the hot loop (current += weight, track the max) reads two dense
  // int32 arrays, which the compiler vectorises; the pointers are touched once per pick.
  // The constructor keeps the total weight far below 2^31, so int32 cannot overflow.
  std::vector<BackendState*> backends_;
  std::vector<int32_t> weights_;
  std::vector<int32_t> current_;
  int32_t total_weight_ = 0;
  bool equal_weights_ = true;  // then `cursor_` (the next index) replaces `current_`
  size_t cursor_ = 0;
};

class RoundRobinPolicy final : public Policy {
 public:
  // Up to this many endpoints the smooth algorithm's O(N) pick, retries included, stays well
  // under 100 ns.
  static constexpr size_t kSmoothScanLimit = 32;

  std::unique_ptr<Picker> makePicker(std::span<const Endpoint> endpoints) const override;
};

}  // namespace fiberlb::lb

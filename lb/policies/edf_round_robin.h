#pragma once
// Weighted round-robin for many endpoints with unequal weights: earliest deadline first.
// RoundRobinPolicy uses it beyond RoundRobinPolicy::kSmoothScanLimit endpoints, where the
// smooth (nginx) algorithm's scan of every endpoint per pick costs too much.

#include <cstdint>
#include <span>
#include <vector>

#include "lb/picker.h"

namespace fiberlb::lb {

// Endpoint i's k-th pick (k = 0, 1, ...) is due at (2k + 1) / (2 * w_i), and each pick takes
// the earliest due one (ties: the lower index), from a binary heap: O(log N) per pick.
// The half-step offset (Sainte-Laguë) spreads an endpoint's picks evenly over each cycle;
// all of a cycle's deadlines lie below its end, so every window of sum(weights) picks
// from the start holds exactly `weight` picks of each endpoint, like the smooth algorithm.
// Equal weights give plain rotation in list order. Deadlines are compared as exact
// fractions (cross-multiplied), never rounded.
//
// On a retry the tried endpoints sit this pick out with their deadlines untouched: a
// best-first walk from the root finds the earliest untried entry in O(tried · log N).
// Worker-local; pick() never allocates.
class EdfRoundRobinPicker final : public Picker {
 public:
  explicit EdfRoundRobinPicker(std::span<const Endpoint> endpoints);

  BackendState* pick(const PickContext& ctx) override;

 private:
  struct Entry {
    uint64_t twice_due;  // 2k + 1: the deadline is twice_due / (2 * weight)
    uint32_t weight;
    uint32_t index;  // into backends_: the tie-break and the result
  };

  static bool earlier(const Entry& a, const Entry& b) {
    const uint64_t lhs = a.twice_due * b.weight;
    const uint64_t rhs = b.twice_due * a.weight;
    return lhs < rhs || (lhs == rhs && a.index < b.index);
  }

  // Picks heap_[at], moves its deadline one period on and restores the heap below it.
  BackendState* takeAt(size_t at);
  BackendState* takeEarliestUntried(const PickContext& ctx);
  BackendState* takeEarliestUntriedByScan(const PickContext& ctx);
  void siftDown(size_t at);

  std::vector<BackendState*> backends_;
  std::vector<Entry> heap_;  // a min-heap by deadline: heap_[0] is due first
};

}  // namespace fiberlb::lb

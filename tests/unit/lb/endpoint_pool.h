#pragma once
// Test helper shared by the picker tests: backends plus the endpoint list a snapshot would
// hand to a picker.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"

namespace fiberlb::lb::test_support {

// "b" + std::to_string(i) trips GCC 12's false -Wrestrict (GCC bug 105329) at -O2.
inline std::string backendName(size_t i) {
  std::string name = std::to_string(i);
  name.insert(0, 1, 'b');
  return name;
}

class Pool {
 public:
  explicit Pool(const std::vector<int>& weights) {
    for (size_t i = 0; i < weights.size(); ++i) {
      states_.push_back(std::make_unique<BackendState>(
          "lb", backendName(i), "127.0.0.1", 8000 + static_cast<int>(i), static_cast<uint32_t>(i)));
      endpoints_.push_back(Endpoint{states_.back().get(), weights[i]});
    }
  }
  std::span<const Endpoint> endpoints() const { return endpoints_; }
  BackendState* at(size_t i) const { return states_[i].get(); }
  size_t size() const { return states_.size(); }
  // Index of a backend, or -1.
  int indexOf(const BackendState* b) const {
    for (size_t i = 0; i < states_.size(); ++i)
      if (states_[i].get() == b) return static_cast<int>(i);
    return -1;
  }
  // Picks `n` times with nothing tried; returns the indices chosen.
  std::vector<int> pickMany(Picker& picker, size_t n) const {
    std::vector<int> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i)
      out.push_back(indexOf(picker.pick(PickContext{})));
    return out;
  }
  void setActive(const std::vector<int64_t>& active) {
    for (size_t i = 0; i < active.size(); ++i)
      states_[i]->active_requests.store(active[i]);
  }

 private:
  std::vector<std::unique_ptr<BackendState>> states_;
  std::vector<Endpoint> endpoints_;
};

// How often each index occurs in `seq` (indices in [0, n)).
inline std::vector<int64_t> countOf(const std::vector<int>& seq, size_t n) {
  std::vector<int64_t> counts(n, 0);
  for (int i : seq)
    if (i >= 0 && static_cast<size_t>(i) < n) ++counts[static_cast<size_t>(i)];
  return counts;
}

// Fraction of `picks` that went to each endpoint (indices in [0, n)).
inline std::vector<double> shares(const std::vector<int>& picks, size_t n) {
  std::vector<double> out(n, 0);
  for (const int i : picks)
    if (i >= 0 && static_cast<size_t>(i) < n)
      out[static_cast<size_t>(i)] += 1.0 / static_cast<double>(picks.size());
  return out;
}

// Weight lists the weighted round-robin tests run through: single, equal, skewed both ways,
// co-prime, many distinct.
inline const std::vector<std::vector<int>> kWeightSets = {
    {1},
    {1, 1, 1},
    {5, 1, 1},
    {3, 2},
    {1000, 1},
    {1, 1000},
    {100, 50, 25, 1},
    {7, 11, 13},
    {10, 1, 1, 1},
    {1000, 999, 1, 500, 2},
    {2, 4, 6, 8, 10, 12, 14, 16},
};

inline PickContext triedCtx(const BackendState* const* tried, size_t n) {
  PickContext ctx;
  ctx.tried = tried;
  ctx.tried_count = n;
  return ctx;
}

}  // namespace fiberlb::lb::test_support

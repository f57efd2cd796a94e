#pragma once
// Weighted random draws in O(1): the shared machinery of the sampling policies (`random`,
// and `leastconn` over many endpoints).

#include <cstdint>
#include <span>
#include <vector>

#include "lb/hash_key.h"
#include "lb/picker.h"

namespace fiberlb::lb {

// splitmix64 (Steele, Lea, Flood 2014): a Weyl sequence through mixHash(). Tiny state, no
// global generator and no lock: each picker owns one.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(mixHash(seed)) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mixHash(state_);
  }

 private:
  uint64_t state_;
};

// Vose's alias method in integers: one random word picks a column and a coin, exact
// proportions, no search. Built once per picker; draw() never allocates.
class WeightedSampler {
 public:
  // Weights must be > 0. Totals beyond 2^31 are scaled down (coarser proportions, never an
  // overflow); validated configs (weights <= 1000) reach that only past two million entries.
  explicit WeightedSampler(std::span<const int64_t> weights);

  // An index in [0, size()), drawn in proportion to its weight. Needs size() > 0.
  uint32_t draw(uint64_t random) const {
    const uint32_t col =
        below(static_cast<uint32_t>(random >> 32), static_cast<uint32_t>(columns_.size()));
    const Column c = columns_[col];
    return below(static_cast<uint32_t>(random), coin_range_) < c.threshold ? col : c.alias;
  }

  size_t size() const { return columns_.size(); }

 private:
  // [0, range) from 32 random bits, without a division (Lemire's multiply-shift).
  static uint32_t below(uint32_t random32, uint32_t range) {
    return static_cast<uint32_t>((uint64_t{random32} * range) >> 32);
  }

  struct Column {
    uint32_t threshold;  // coin < threshold keeps this column's entry, else its alias
    uint32_t alias;
  };

  std::vector<Column> columns_;  // one column per entry
  uint32_t coin_range_ = 0;      // the (scaled) total weight: coins are in [0, coin_range_)
};

// Weighted draws of a picker's endpoints, excluding the ones a retry already tried. Owns the
// endpoint list (backends and exact weights), the alias table and the generator.
class EndpointSampler {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;  // no endpoint

  // Endpoints without a backend or with weight <= 0 are left out (the snapshot builder emits
  // none; draws need weight > 0).
  EndpointSampler(std::span<const Endpoint> endpoints, uint64_t seed);

  size_t size() const { return backends_.size(); }
  BackendState* backend(uint32_t i) const { return backends_[i]; }
  int64_t weight(uint32_t i) const { return weights_[i]; }

  // A weighted draw that is neither `other` nor already tried; kNone when no endpoint is
  // left. O(1) unless most of the weight is excluded.
  uint32_t drawUntried(const PickContext& ctx, uint32_t other = kNone);

 private:
  std::vector<BackendState*> backends_;
  std::vector<int64_t> weights_;
  WeightedSampler alias_;
  SplitMix64 rng_;
};

// A seed that differs for every picker: the time, the building thread and the endpoint list
// (each worker builds its own pickers, at nearly the same time, from the same snapshot).
uint64_t freshPickerSeed(std::span<const Endpoint> endpoints);

}  // namespace fiberlb::lb

#include "lb/policies/least_conn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::Pool;
using test_support::triedCtx;

TEST(LeastConnPickerTest, EmptyReturnsNull) {
  LeastConnPicker picker({});
  EXPECT_EQ(picker.pick(PickContext{}), nullptr);
}

TEST(LeastConnPickerTest, PrefersFewestActiveAtEqualWeight) {
  Pool pool({1, 1, 1});
  pool.setActive({5, 2, 3});
  LeastConnPicker picker(pool.endpoints());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(picker.pick(PickContext{}), pool.at(1));
}

TEST(LeastConnPickerTest, ComparesActiveRelativeToWeight) {
  Pool pool({3, 1});
  LeastConnPicker picker(pool.endpoints());
  pool.setActive({2, 1});  // 2/3 < 1/1
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(0));
  pool.setActive({4, 1});  // 4/3 > 1/1
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(1));
  pool.setActive({299, 100});  // 299/3 < 100/1 — exact, no integer-division rounding
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(0));
  pool.setActive({301, 100});  // 100.33 > 100
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(1));
}

TEST(LeastConnPickerTest, LargeCountsDoNotOverflow) {
  Pool pool({1000, 1});
  LeastConnPicker picker(pool.endpoints());
  pool.setActive({int64_t{1} << 40, int64_t{1} << 31});  // 2^30 vs 2^31 relative
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(0));
}

TEST(LeastConnPickerTest, IdleTiesRotateRoundRobin) {
  Pool pool({1, 1, 1});
  LeastConnPicker picker(pool.endpoints());
  std::vector<int> seq;
  for (int i = 0; i < 9; ++i)
    seq.push_back(pool.indexOf(picker.pick(PickContext{})));
  EXPECT_EQ(seq, (std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
}

TEST(LeastConnPickerTest, TiesAmongSomeEndpointsAlternateFairly) {
  // 1 is busier; 0 and 2 tie and must alternate.
  Pool pool({1, 1, 1});
  pool.setActive({0, 4, 0});
  LeastConnPicker picker(pool.endpoints());
  int zero = 0, two = 0;
  for (int i = 0; i < 100; ++i) {
    const int idx = pool.indexOf(picker.pick(PickContext{}));
    ASSERT_NE(idx, 1);
    (idx == 0 ? zero : two)++;
  }
  EXPECT_EQ(zero, 50);
  EXPECT_EQ(two, 50);
}

// Ties go to smooth weighted round-robin among the tied endpoints, so weights still count
// when loads are equal relative to weight.
TEST(LeastConnPickerTest, WeightedTiesFollowWeights) {
  Pool pool({3, 1});
  pool.setActive({3, 1});  // 3/3 == 1/1
  LeastConnPicker picker(pool.endpoints());
  std::vector<int> seq;
  for (int i = 0; i < 8; ++i)
    seq.push_back(pool.indexOf(picker.pick(PickContext{})));
  EXPECT_EQ(seq, (std::vector<int>{0, 0, 1, 0, 0, 0, 1, 0}));
}

// Sequential traffic (each request finishes before the next starts) always sees a tie at
// zero: the spread is then exactly the weights, not an even split.
TEST(LeastConnPickerTest, SequentialTrafficFollowsWeightsExactly) {
  Pool pool({5, 1, 1, 1000});
  LeastConnPicker picker(pool.endpoints());
  std::vector<int64_t> counts(4, 0);
  for (int i = 0; i < 1007 * 3; ++i) {
    BackendState* b = picker.pick(PickContext{});
    b->active_requests.fetch_add(1);
    ++counts[static_cast<size_t>(pool.indexOf(b))];
    b->active_requests.fetch_sub(1);
  }
  EXPECT_EQ(counts, (std::vector<int64_t>{15, 3, 3, 3000}));
}

TEST(LeastConnPickerTest, OnlyTiedEndpointsTakePartInTheTieBreak) {
  // 0 and 2 tie at the minimum; 1 is busier and must neither be picked nor shift the turns.
  Pool pool({2, 1, 1});
  pool.setActive({2, 5, 1});  // 2/2 == 1/1 < 5/1
  LeastConnPicker picker(pool.endpoints());
  std::vector<int> seq;
  for (int i = 0; i < 6; ++i)
    seq.push_back(pool.indexOf(picker.pick(PickContext{})));
  EXPECT_EQ(seq, (std::vector<int>{0, 2, 0, 0, 2, 0}));
}

TEST(LeastConnPickerTest, SkipsTriedBackends) {
  Pool pool({1, 1, 1});
  pool.setActive({5, 0, 3});
  LeastConnPicker picker(pool.endpoints());
  const BackendState* tried1[] = {pool.at(1)};
  EXPECT_EQ(picker.pick(triedCtx(tried1, 1)), pool.at(2));
  const BackendState* tried2[] = {pool.at(1), pool.at(2)};
  EXPECT_EQ(picker.pick(triedCtx(tried2, 2)), pool.at(0));
  const BackendState* all[] = {pool.at(2), pool.at(0), pool.at(1)};
  EXPECT_EQ(picker.pick(triedCtx(all, 3)), nullptr);
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(1));
}

// Under concurrent load (requests finishing in random order) every pick goes to the lower
// active/weight, and the share of picks follows the weights.
TEST(LeastConnPickerTest, ConcurrentLoadFollowsWeights) {
  Pool pool({3, 1});
  LeastConnPicker picker(pool.endpoints());
  std::mt19937 rng(42);
  std::vector<BackendState*> in_flight;
  std::vector<int64_t> counts(2, 0);
  for (int i = 0; i < 100000; ++i) {
    // The pick goes to the lower active/weight (3 = weight of 0, 1 = weight of 1).
    const int64_t a0 = pool.at(0)->active_requests.load();
    const int64_t a1 = pool.at(1)->active_requests.load();
    BackendState* b = picker.pick(PickContext{});
    ASSERT_NE(b, nullptr);
    if (a0 * 1 < a1 * 3) {
      ASSERT_EQ(b, pool.at(0)) << a0 << " vs " << a1;
    } else if (a0 * 1 > a1 * 3) {
      ASSERT_EQ(b, pool.at(1)) << a0 << " vs " << a1;
    }
    b->active_requests.fetch_add(1);
    ++counts[static_cast<size_t>(pool.indexOf(b))];
    in_flight.push_back(b);
    // Requests finish in random order; between 8 and 64 stay open.
    while (in_flight.size() > 64 || (in_flight.size() > 8 && rng() % 2 == 0)) {
      const size_t k = rng() % in_flight.size();
      in_flight[k]->active_requests.fetch_sub(1);
      in_flight[k] = in_flight.back();
      in_flight.pop_back();
    }
  }
  EXPECT_NEAR(static_cast<double>(counts[0]) / static_cast<double>(counts[1]), 3.0, 0.15);
}

// Two workers, each with its own picker over the same shared BackendStates, start and finish
// requests concurrently. The shared counters must balance exactly, and since each worker sees
// the other's in-flight requests, the load stays spread.
TEST(LeastConnPickerTest, TwoWorkersShareExactCounters) {
  Pool pool({1, 2, 1, 4});
  constexpr int kPicksPerWorker = 200000;
  std::atomic<int64_t> max_total_active{0};
  std::vector<std::vector<int64_t>> picked(2, std::vector<int64_t>(pool.size(), 0));

  auto worker = [&](int id) {
    LeastConnPicker picker(pool.endpoints());
    std::mt19937 rng(static_cast<unsigned>(id) + 1);
    std::vector<BackendState*> in_flight;
    in_flight.reserve(64);
    for (int i = 0; i < kPicksPerWorker; ++i) {
      BackendState* b = picker.pick(PickContext{});
      ASSERT_NE(b, nullptr);
      b->active_requests.fetch_add(1, std::memory_order_relaxed);
      b->requests_total.fetch_add(1, std::memory_order_relaxed);
      ++picked[static_cast<size_t>(id)][static_cast<size_t>(pool.indexOf(b))];
      in_flight.push_back(b);
      // Finish a random in-flight request now and then, keeping up to 32 open.
      while (in_flight.size() > 32 || (!in_flight.empty() && rng() % 2 == 0)) {
        const size_t k = rng() % in_flight.size();
        in_flight[k]->active_requests.fetch_sub(1, std::memory_order_relaxed);
        in_flight[k] = in_flight.back();
        in_flight.pop_back();
      }
      int64_t total = 0;
      for (size_t j = 0; j < pool.size(); ++j)
        total += pool.at(j)->active_requests.load(std::memory_order_relaxed);
      int64_t seen = max_total_active.load(std::memory_order_relaxed);
      while (total > seen && !max_total_active.compare_exchange_weak(seen, total)) {
      }
    }
    for (BackendState* b : in_flight)
      b->active_requests.fetch_sub(1, std::memory_order_relaxed);
  };
  std::thread t0(worker, 0);
  std::thread t1(worker, 1);
  t0.join();
  t1.join();

  int64_t requests = 0;
  for (size_t j = 0; j < pool.size(); ++j) {
    EXPECT_EQ(pool.at(j)->active_requests.load(), 0) << "backend " << j;
    EXPECT_EQ(static_cast<int64_t>(pool.at(j)->requests_total.load()), picked[0][j] + picked[1][j]);
    requests += picked[0][j] + picked[1][j];
    // Every backend got real traffic from both workers.
    EXPECT_GT(picked[0][j], 0);
    EXPECT_GT(picked[1][j], 0);
  }
  EXPECT_EQ(requests, 2 * kPicksPerWorker);
  EXPECT_LE(max_total_active.load(), 2 * 33);
  // The weight-4 backend carries the most, the weight-1 ones the least.
  const int64_t w4 = picked[0][3] + picked[1][3];
  const int64_t w1 = picked[0][0] + picked[1][0];
  EXPECT_GT(w4, w1);
}

// --- many endpoints: best of kSamples weighted draws -------------------------------------

constexpr uint64_t kSeed = 7;

// n endpoints with weights 1, 2, 3, 4, 1, 2, ...
std::vector<int> cyclingWeights(size_t n) {
  std::vector<int> weights;
  for (size_t i = 0; i < n; ++i)
    weights.push_back(1 + static_cast<int>(i % 4));
  return weights;
}

TEST(SampledLeastConnPickerTest, EmptyReturnsNull) {
  SampledLeastConnPicker picker({}, kSeed);
  EXPECT_EQ(picker.pick(PickContext{}), nullptr);
}

TEST(SampledLeastConnPickerTest, TheBusiestIsNeverChosen) {
  Pool pool(std::vector<int>(100, 1));
  std::vector<int64_t> active(100, 0);
  active[42] = 10;
  pool.setActive(active);
  SampledLeastConnPicker picker(pool.endpoints(), kSeed);
  for (int i = 0; i < 20000; ++i)
    ASSERT_NE(picker.pick(PickContext{}), pool.at(42));
}

TEST(SampledLeastConnPickerTest, IdleEndpointsAreChosenInProportionToWeight) {
  Pool pool(cyclingWeights(100));  // total weight 250
  SampledLeastConnPicker picker(pool.endpoints(), kSeed);
  const auto share = test_support::shares(pool.pickMany(picker, 250000), pool.size());
  for (size_t i = 0; i < pool.size(); ++i)
    EXPECT_NEAR(share[i], static_cast<double>(1 + i % 4) / 250.0, 0.0012) << i;
}

TEST(SampledLeastConnPickerTest, NeverPicksTriedOnesAndAllTriedIsNull) {
  Pool pool(std::vector<int>(40, 1));
  SampledLeastConnPicker picker(pool.endpoints(), kSeed);
  std::vector<const BackendState*> tried;
  for (size_t i = 0; i < 39; ++i)
    tried.push_back(pool.at(i));
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(picker.pick(triedCtx(tried.data(), tried.size())), pool.at(39));
  tried.push_back(pool.at(39));
  EXPECT_EQ(picker.pick(triedCtx(tried.data(), tried.size())), nullptr);
}

// Under a steady concurrent load (requests finishing in random order), sampling keeps every
// backend close to its weighted share of the in-flight requests: no backend piles up.
TEST(SampledLeastConnPickerTest, ConcurrentLoadStaysBalancedRelativeToWeight) {
  Pool pool(cyclingWeights(200));  // total weight 500
  SampledLeastConnPicker picker(pool.endpoints(), kSeed);
  std::mt19937 rng(42);
  std::vector<BackendState*> in_flight;
  int64_t worst_ratio_x4 = 0;  // max over time of active * 4 / weight
  for (int i = 0; i < 200000; ++i) {
    BackendState* b = picker.pick(PickContext{});
    ASSERT_NE(b, nullptr);
    b->active_requests.fetch_add(1);
    in_flight.push_back(b);
    // About 1,000 requests in flight: 2 per unit of weight on average.
    while (in_flight.size() > 1000) {
      const size_t k = rng() % in_flight.size();
      in_flight[k]->active_requests.fetch_sub(1);
      in_flight[k] = in_flight.back();
      in_flight.pop_back();
    }
    if (i % 1000 == 999) {
      for (size_t j = 0; j < pool.size(); ++j) {
        const int64_t ratio_x4 = pool.at(j)->active_requests.load() * 4 / (1 + (j % 4));
        worst_ratio_x4 = std::max(worst_ratio_x4, ratio_x4);
      }
    }
  }
  // The mean is 2 per unit of weight; random placement would reach well over twice that.
  EXPECT_LE(worst_ratio_x4, 4 * 4) << "some backend held more than 4 requests per unit of weight";
}

TEST(LeastConnPolicyTest, SamplesOnlyAboveTheExactScanLimit) {
  LeastConnPolicy policy;
  Pool few(std::vector<int>(LeastConnPolicy::kExactScanLimit, 1));
  EXPECT_NE(dynamic_cast<LeastConnPicker*>(policy.makePicker(few.endpoints()).get()), nullptr);
  Pool many(std::vector<int>(LeastConnPolicy::kExactScanLimit + 1, 1));
  EXPECT_NE(dynamic_cast<SampledLeastConnPicker*>(policy.makePicker(many.endpoints()).get()),
            nullptr);
}

TEST(LeastConnPolicyTest, MakesIndependentPickers) {
  Pool pool({1, 1});
  LeastConnPolicy policy;
  auto a = policy.makePicker(pool.endpoints());
  auto b = policy.makePicker(pool.endpoints());
  EXPECT_EQ(a->pick(PickContext{}), pool.at(0));
  EXPECT_EQ(a->pick(PickContext{}), pool.at(1));
  EXPECT_EQ(b->pick(PickContext{}), pool.at(0));
}

}  // namespace
}  // namespace fiberlb::lb

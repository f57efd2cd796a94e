#include "lb/policies/edf_round_robin.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::countOf;
using test_support::Pool;
using test_support::triedCtx;

TEST(EdfRoundRobinPickerTest, HeavyOneFirstAndInterleaved) {
  Pool pool({1, 2});
  EdfRoundRobinPicker picker(pool.endpoints());
  EXPECT_EQ(pool.pickMany(picker, 6), (std::vector<int>{1, 0, 1, 1, 0, 1}));
}

TEST(EdfRoundRobinPickerTest, SkipsTriedBackendsAndKeepsTheirTurn) {
  Pool pool({3, 2, 1});
  EdfRoundRobinPicker picker(pool.endpoints());
  const BackendState* tried[] = {pool.at(0)};
  std::vector<int64_t> counts(3, 0);
  for (int i = 0; i < 300; ++i) {
    BackendState* b = picker.pick(triedCtx(tried, 1));
    ASSERT_NE(b, pool.at(0));
    ++counts[static_cast<size_t>(pool.indexOf(b))];
  }
  // The rest keep their relative weights (2:1) while 0 is excluded.
  EXPECT_EQ(counts[1], 200);
  EXPECT_EQ(counts[2], 100);
  // 0 sat those picks out with its deadline untouched: it is due at once, then the cycle
  // is exact again.
  EXPECT_EQ(picker.pick(PickContext{}), pool.at(0));
}

TEST(EdfRoundRobinPickerTest, AllTriedReturnsNullAndLeavesTheScheduleAlone) {
  Pool pool({3, 2});
  EdfRoundRobinPicker picker(pool.endpoints());
  const auto before = pool.pickMany(picker, 2);
  const BackendState* tried[] = {pool.at(1), pool.at(0)};
  EXPECT_EQ(picker.pick(triedCtx(tried, 2)), nullptr);
  // The cycle goes on where it was: 5 picks from the start hold 3 and 2.
  auto seq = before;
  for (int i : pool.pickMany(picker, 3))
    seq.push_back(i);
  EXPECT_EQ(countOf(seq, 2), (std::vector<int64_t>{3, 2}));
}

}  // namespace
}  // namespace fiberlb::lb

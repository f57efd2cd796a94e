#include "lb/retry_budget.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace fiberlb::lb {
namespace {

constexpr int64_t kReserveRetries = RetryBudget::kReserve / RetryBudget::kUnit;

void spendAll(RetryBudget& b) {
  while (b.tryRetry()) {
  }
  ASSERT_EQ(b.available(), 0);
}

TEST(RetryBudgetTest, StartsWithTheReserve) {
  RetryBudget b;
  EXPECT_EQ(kReserveRetries, 10);
  EXPECT_EQ(b.available(), kReserveRetries);
}

TEST(RetryBudgetTest, EachRetryWithdrawsOne) {
  RetryBudget b;
  for (int64_t i = 0; i < kReserveRetries; ++i) {
    EXPECT_TRUE(b.tryRetry()) << i;
    EXPECT_EQ(b.available(), kReserveRetries - i - 1);
  }
  EXPECT_FALSE(b.tryRetry());
  EXPECT_EQ(b.available(), 0);
}

TEST(RetryBudgetTest, FiveRequestsFundOneRetry) {
  RetryBudget b;
  spendAll(b);
  for (int i = 0; i < 4; ++i)
    b.onRequest();
  EXPECT_FALSE(b.tryRetry());
  b.onRequest();
  EXPECT_EQ(b.available(), 1);
  EXPECT_TRUE(b.tryRetry());
  EXPECT_FALSE(b.tryRetry());
}

TEST(RetryBudgetTest, BalanceIsCappedAtTheReserve) {
  RetryBudget b;
  for (int i = 0; i < 1000; ++i)
    b.onRequest();
  EXPECT_EQ(b.available(), kReserveRetries);
  int granted = 0;
  while (b.tryRetry())
    ++granted;
  EXPECT_EQ(granted, kReserveRetries);
}

// Everything fails and every request wants its retries (retries.max = 2): retries add at
// most a fifth of the request load, plus the reserve.
TEST(RetryBudgetTest, RetriesAddAtMostTwentyPercentOfTheLoad) {
  RetryBudget b;
  constexpr int64_t kRequests = 100000;
  int64_t granted = 0;
  for (int64_t r = 0; r < kRequests; ++r) {
    b.onRequest();
    for (int attempt = 0; attempt < 2 && b.tryRetry(); ++attempt)
      ++granted;
  }
  EXPECT_LE(granted, kRequests / 5 + kReserveRetries);
  EXPECT_GE(granted, kRequests / 5);  // and the budget is actually usable
}

}  // namespace
}  // namespace fiberlb::lb

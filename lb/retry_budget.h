#pragma once
// A retry budget (as Envoy's and Finagle's): retries may add at most ~20% to the load a
// backend pool sees, so that when everything fails, retries do not multiply the failing
// traffic (a retry storm). Each request deposits a fifth of a retry; a retry withdraws one.
// A small reserve lets a quiet proxy retry its first failures.
//
// Worker-local (one per LB per worker): plain integers, no atomics, no locks. The bound
// holds per worker and therefore for the process.

#include <cstdint>

namespace fiberlb::lb {

class RetryBudget {
 public:
  // Fixed point: 1 retry = kUnit.
  static constexpr int64_t kUnit = 1000;
  static constexpr int64_t kDepositPerRequest = kUnit / 5;  // 20%
  static constexpr int64_t kReserve = 10 * kUnit;           // cap and starting balance

  // A request (first attempt) started.
  void onRequest() {
    balance_ += kDepositPerRequest;
    if (balance_ > kReserve) balance_ = kReserve;
  }
  // True (and withdraws) when a retry is within budget.
  bool tryRetry() {
    if (balance_ < kUnit) return false;
    balance_ -= kUnit;
    return true;
  }
  // Retries available now.
  int64_t available() const { return balance_ / kUnit; }

 private:
  int64_t balance_ = kReserve;
};

}  // namespace fiberlb::lb

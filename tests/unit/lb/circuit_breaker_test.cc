#include "lb/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "config/config.h"

namespace fiberlb::lb {
namespace {

constexpr FailureInfo kRefused{FailureCause::Refused, 0};
constexpr FailureInfo kReset{FailureCause::Reset, 0};

config::CircuitBreaker settings(int threshold = 3, double recovery_sec = 10,
                                int half_open_max = 1) {
  config::CircuitBreaker c;
  c.failure_threshold = threshold;
  c.recovery_timeout_sec = recovery_sec;
  c.half_open_max_requests = half_open_max;
  return c;
}

FailureInfo status(int code) {
  return FailureInfo{FailureCause::Status5xx, code};
}

// Drives a closed breaker open with `cfg.failure_threshold` consecutive failures at `now_ms`.
void openAt(CircuitBreaker& b, const config::CircuitBreaker& cfg, int64_t now_ms) {
  for (int i = 0; i < cfg.failure_threshold; ++i)
    b.recordFailure(Admission::Normal, kRefused, cfg, now_ms);
  ASSERT_EQ(b.state(), CircuitState::Open);
}

// Opens at `opened_ms` and moves it half-open once the recovery timeout has passed.
void halfOpen(CircuitBreaker& b, const config::CircuitBreaker& cfg, int64_t opened_ms = 1000) {
  openAt(b, cfg, opened_ms);
  ASSERT_TRUE(b.enterHalfOpen(cfg, b.view().half_open_at_ms));
  ASSERT_EQ(b.state(), CircuitState::HalfOpen);
}

TEST(CircuitBreakerTest, StartsClosedAndAdmitsNormally) {
  CircuitBreaker b;
  EXPECT_EQ(b.state(), CircuitState::Closed);
  EXPECT_EQ(b.admit(), Admission::Normal);
  CircuitView v = b.view();
  EXPECT_EQ(v.consecutive_failures, 0);
  EXPECT_EQ(v.opened_at_ms, 0);
  EXPECT_EQ(v.half_open_at_ms, CircuitBreaker::kNotScheduled);
  EXPECT_EQ(v.opened_total, 0u);
}

TEST(CircuitBreakerTest, StaysClosedBelowFailureThreshold) {
  CircuitBreaker b;
  auto cfg = settings(3);
  EXPECT_EQ(b.recordFailure(Admission::Normal, kRefused, cfg, 100), CircuitChange::None);
  EXPECT_EQ(b.recordFailure(Admission::Normal, status(503), cfg, 200), CircuitChange::None);
  EXPECT_EQ(b.state(), CircuitState::Closed);
  EXPECT_EQ(b.admit(), Admission::Normal);
  CircuitView v = b.view();
  EXPECT_EQ(v.consecutive_failures, 2);
  EXPECT_EQ(v.last_failure.cause, FailureCause::Status5xx);  // the latest one
  EXPECT_EQ(v.last_failure.status, 503);
}

TEST(CircuitBreakerTest, SuccessResetsTheConsecutiveCount) {
  CircuitBreaker b;
  auto cfg = settings(3);
  b.recordFailure(Admission::Normal, kRefused, cfg, 100);
  b.recordFailure(Admission::Normal, kRefused, cfg, 200);
  EXPECT_EQ(b.recordSuccess(Admission::Normal), CircuitChange::None);
  EXPECT_EQ(b.view().consecutive_failures, 0);
  // Two more are again below the threshold: failures must be consecutive.
  b.recordFailure(Admission::Normal, kRefused, cfg, 300);
  EXPECT_EQ(b.recordFailure(Admission::Normal, kRefused, cfg, 400), CircuitChange::None);
  EXPECT_EQ(b.state(), CircuitState::Closed);
}

TEST(CircuitBreakerTest, ThresholdConsecutiveFailuresOpenItOnce) {
  CircuitBreaker b;
  auto cfg = settings(3, 10);
  EXPECT_EQ(b.recordFailure(Admission::Normal, kRefused, cfg, 1000), CircuitChange::None);
  EXPECT_EQ(b.recordFailure(Admission::Normal, kRefused, cfg, 1100), CircuitChange::None);
  EXPECT_EQ(b.recordFailure(Admission::Normal, status(502), cfg, 1200), CircuitChange::Opened);
  EXPECT_EQ(b.state(), CircuitState::Open);
  CircuitView v = b.view();
  EXPECT_EQ(v.state, CircuitState::Open);
  EXPECT_EQ(v.failures_at_open, 3);
  EXPECT_EQ(v.last_failure.cause, FailureCause::Status5xx);
  EXPECT_EQ(v.last_failure.status, 502);
  EXPECT_EQ(v.opened_at_ms, 1200);
  EXPECT_EQ(v.half_open_at_ms, 1200 + 10000);
  EXPECT_EQ(v.opened_total, 1u);

  // Results of requests admitted before it opened arrive late: none reopens it.
  EXPECT_EQ(b.recordFailure(Admission::Normal, kReset, cfg, 1300), CircuitChange::None);
  v = b.view();
  EXPECT_EQ(v.opened_total, 1u);
  EXPECT_EQ(v.opened_at_ms, 1200);
  EXPECT_EQ(v.last_failure.cause, FailureCause::Status5xx);
}

TEST(CircuitBreakerTest, OpenRejectsEveryRequest) {
  CircuitBreaker b;
  auto cfg = settings();
  openAt(b, cfg, 1000);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(b.admit(), Admission::Rejected);
}

TEST(CircuitBreakerTest, HalfOpensOnlyOnceRecoveryTimeoutHasPassed) {
  CircuitBreaker b;
  auto cfg = settings(3, 10);
  openAt(b, cfg, 1000);
  EXPECT_FALSE(b.enterHalfOpen(cfg, 1000));
  EXPECT_FALSE(b.enterHalfOpen(cfg, 10999));
  EXPECT_EQ(b.state(), CircuitState::Open);
  EXPECT_TRUE(b.enterHalfOpen(cfg, 11000));
  EXPECT_EQ(b.state(), CircuitState::HalfOpen);
  CircuitView v = b.view();
  EXPECT_EQ(v.half_open_at_ms, CircuitBreaker::kNotScheduled);
  EXPECT_EQ(v.half_opened_total, 1u);
  EXPECT_FALSE(b.enterHalfOpen(cfg, 20000));  // already half-open
  EXPECT_EQ(b.view().half_opened_total, 1u);
}

TEST(CircuitBreakerTest, HalfOpenAlsoAfterRecoveryTimeout) {
  CircuitBreaker b;
  auto cfg = settings(3, 10);
  openAt(b, cfg, 1000);
  EXPECT_TRUE(b.enterHalfOpen(cfg, 50000));
}

TEST(CircuitBreakerTest, ClosedCircuitNeverHalfOpens) {
  CircuitBreaker b;
  EXPECT_FALSE(b.enterHalfOpen(settings(), 1'000'000));
  EXPECT_EQ(b.state(), CircuitState::Closed);
}

TEST(CircuitBreakerTest, HalfOpenGrantsExactlyMaxTrials) {
  CircuitBreaker b;
  auto cfg = settings(3, 10, 3);
  halfOpen(b, cfg);
  EXPECT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.admit(), Admission::Rejected);
  EXPECT_EQ(b.admit(), Admission::Rejected);
}

TEST(CircuitBreakerTest, TrialSuccessClosesIt) {
  CircuitBreaker b;
  auto cfg = settings();
  halfOpen(b, cfg);
  ASSERT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.recordSuccess(Admission::Trial), CircuitChange::Closed);
  EXPECT_EQ(b.state(), CircuitState::Closed);
  EXPECT_EQ(b.admit(), Admission::Normal);
  EXPECT_EQ(b.admit(), Admission::Normal);
  CircuitView v = b.view();
  EXPECT_EQ(v.consecutive_failures, 0);
  EXPECT_EQ(v.half_open_at_ms, CircuitBreaker::kNotScheduled);
  EXPECT_EQ(v.closed_total, 1u);
}

TEST(CircuitBreakerTest, OnlyTheFirstTrialVerdictCounts) {
  CircuitBreaker b;
  auto cfg = settings(3, 10, 2);
  halfOpen(b, cfg);
  ASSERT_EQ(b.admit(), Admission::Trial);
  ASSERT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.recordSuccess(Admission::Trial), CircuitChange::Closed);
  EXPECT_EQ(b.recordSuccess(Admission::Trial), CircuitChange::None);
  EXPECT_EQ(b.view().closed_total, 1u);
}

TEST(CircuitBreakerTest, TrialFailureReopensWithANewSchedule) {
  CircuitBreaker b;
  auto cfg = settings(3, 10);
  halfOpen(b, cfg, 1000);  // half-open at 11000
  ASSERT_EQ(b.admit(), Admission::Trial);
  // One failed trial is enough, whatever the threshold.
  EXPECT_EQ(b.recordFailure(Admission::Trial, status(504), cfg, 11500), CircuitChange::Opened);
  EXPECT_EQ(b.state(), CircuitState::Open);
  EXPECT_EQ(b.admit(), Admission::Rejected);
  CircuitView v = b.view();
  EXPECT_EQ(v.opened_at_ms, 11500);
  EXPECT_EQ(v.half_open_at_ms, 21500);
  EXPECT_EQ(v.failures_at_open, 1);
  EXPECT_EQ(v.last_failure.cause, FailureCause::Status5xx);
  EXPECT_EQ(v.last_failure.status, 504);
  EXPECT_EQ(v.opened_total, 2u);
  EXPECT_FALSE(b.enterHalfOpen(cfg, 21499));
  EXPECT_TRUE(b.enterHalfOpen(cfg, 21500));
}

TEST(CircuitBreakerTest, VerdictsAfterAFailedTrialChangeNothing) {
  CircuitBreaker b;
  auto cfg = settings(3, 10, 3);
  halfOpen(b, cfg);
  ASSERT_EQ(b.admit(), Admission::Trial);
  ASSERT_EQ(b.admit(), Admission::Trial);
  ASSERT_EQ(b.admit(), Admission::Trial);
  ASSERT_EQ(b.recordFailure(Admission::Trial, kRefused, cfg, 12000), CircuitChange::Opened);
  EXPECT_EQ(b.recordFailure(Admission::Trial, kReset, cfg, 12001), CircuitChange::None);
  EXPECT_EQ(b.recordSuccess(Admission::Trial), CircuitChange::None);  // stays open
  EXPECT_EQ(b.state(), CircuitState::Open);
  CircuitView v = b.view();
  EXPECT_EQ(v.opened_total, 2u);
  EXPECT_EQ(v.opened_at_ms, 12000);
  EXPECT_EQ(v.last_failure.cause, FailureCause::Refused);
  EXPECT_EQ(v.closed_total, 0u);
}

TEST(CircuitBreakerTest, AbandonedTrialReturnsItsPermit) {
  CircuitBreaker b;
  auto cfg = settings(3, 10, 1);
  halfOpen(b, cfg);
  ASSERT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.admit(), Admission::Rejected);
  b.abandon(Admission::Trial);
  EXPECT_EQ(b.admit(), Admission::Trial);
  EXPECT_EQ(b.admit(), Admission::Rejected);
}

TEST(CircuitBreakerTest, AbandoningANormalAdmissionGrantsNoTrial) {
  CircuitBreaker b;
  auto cfg = settings(3, 10, 1);
  halfOpen(b, cfg);
  ASSERT_EQ(b.admit(), Admission::Trial);
  b.abandon(Admission::Normal);
  EXPECT_EQ(b.admit(), Admission::Rejected);
}

TEST(CircuitBreakerTest, NormalResultsAreIgnoredWhileHalfOpen) {
  CircuitBreaker b;
  auto cfg = settings(1, 10, 1);
  halfOpen(b, cfg);
  EXPECT_EQ(b.recordFailure(Admission::Normal, kRefused, cfg, 12000), CircuitChange::None);
  EXPECT_EQ(b.recordSuccess(Admission::Normal), CircuitChange::None);
  EXPECT_EQ(b.state(), CircuitState::HalfOpen);
  EXPECT_EQ(b.admit(), Admission::Trial);  // the permit is still there
  CircuitView v = b.view();
  EXPECT_EQ(v.opened_total, 1u);
  EXPECT_EQ(v.closed_total, 0u);
}

TEST(CircuitBreakerTest, NormalResultsAreIgnoredWhileOpen) {
  CircuitBreaker b;
  auto cfg = settings(3, 10);
  openAt(b, cfg, 1000);
  EXPECT_EQ(b.recordSuccess(Admission::Normal), CircuitChange::None);
  EXPECT_EQ(b.state(), CircuitState::Open);
  EXPECT_EQ(b.recordFailure(Admission::Normal, kReset, cfg, 2000), CircuitChange::None);
  CircuitView v = b.view();
  EXPECT_EQ(v.state, CircuitState::Open);
  EXPECT_EQ(v.consecutive_failures, 3);  // what the admin API shows while open
  EXPECT_EQ(v.failures_at_open, 3);
  EXPECT_EQ(v.last_failure.cause, FailureCause::Refused);
  EXPECT_EQ(v.opened_at_ms, 1000);
  EXPECT_EQ(v.half_open_at_ms, 11000);
  EXPECT_EQ(v.opened_total, 1u);
}

TEST(CircuitBreakerTest, TransitionCountersAccumulateOverCycles) {
  CircuitBreaker b;
  auto cfg = settings(2, 1, 1);
  int64_t now = 1000;
  for (int cycle = 0; cycle < 3; ++cycle) {
    openAt(b, cfg, now);
    now += 1000;
    ASSERT_TRUE(b.enterHalfOpen(cfg, now));
    ASSERT_EQ(b.admit(), Admission::Trial);
    ASSERT_EQ(b.recordSuccess(Admission::Trial), CircuitChange::Closed);
    now += 1000;
  }
  // Once more, failing its trial: open, half-open, open.
  openAt(b, cfg, now);
  ASSERT_TRUE(b.enterHalfOpen(cfg, now + 1000));
  ASSERT_EQ(b.admit(), Admission::Trial);
  ASSERT_EQ(b.recordFailure(Admission::Trial, kRefused, cfg, now + 1000), CircuitChange::Opened);
  CircuitView v = b.view();
  EXPECT_EQ(v.opened_total, 5u);
  EXPECT_EQ(v.half_opened_total, 4u);
  EXPECT_EQ(v.closed_total, 3u);
}

TEST(CircuitBreakerTest, RetimeFollowsAChangedRecoveryTimeout) {
  CircuitBreaker b;
  auto cfg = settings(3, 60);
  openAt(b, cfg, 1000);
  EXPECT_EQ(b.view().half_open_at_ms, 61000);
  b.retime(settings(3, 2.5));
  EXPECT_EQ(b.view().half_open_at_ms, 3500);  // from when it opened, not from now
  EXPECT_FALSE(b.enterHalfOpen(cfg, 3499));
  EXPECT_TRUE(b.enterHalfOpen(cfg, 3500));
}

TEST(CircuitBreakerTest, RetimeLeavesANonOpenCircuitAlone) {
  CircuitBreaker b;
  b.retime(settings(3, 1));
  EXPECT_EQ(b.view().half_open_at_ms, CircuitBreaker::kNotScheduled);
  auto cfg = settings(3, 10);
  halfOpen(b, cfg);
  b.retime(settings(3, 1));
  EXPECT_EQ(b.view().half_open_at_ms, CircuitBreaker::kNotScheduled);
  EXPECT_EQ(b.state(), CircuitState::HalfOpen);
}

TEST(CircuitBreakerTest, FractionalRecoveryTimeoutIsInMilliseconds) {
  CircuitBreaker b;
  auto cfg = settings(1, 0.2);
  openAt(b, cfg, 1000);
  EXPECT_EQ(b.view().half_open_at_ms, 1200);
}

TEST(CircuitBreakerTest, DescribesEveryFailureCause) {
  EXPECT_EQ(describe(status(502)), "status 502");
  EXPECT_EQ(describe(kRefused), "connection refused");
  EXPECT_EQ(describe({FailureCause::None, 0}), "no failure");
  EXPECT_EQ(describe({FailureCause::ConnectFailed, 0}), "connect failed");
  EXPECT_EQ(describe({FailureCause::ConnectTimeout, 0}), "connect timed out");
  EXPECT_EQ(describe({FailureCause::TlsHandshake, 0}), "TLS handshake failed");
  EXPECT_EQ(describe(kReset), "connection reset before a complete response");
  EXPECT_EQ(describe({FailureCause::Timeout, 0}), "no response within upstream_response_ms");
  EXPECT_EQ(describe({FailureCause::BadResponse, 0}), "invalid HTTP response");
}

TEST(CircuitBreakerTest, StateNames) {
  EXPECT_STREQ(toString(CircuitState::Closed), "closed");
  EXPECT_STREQ(toString(CircuitState::Open), "open");
  EXPECT_STREQ(toString(CircuitState::HalfOpen), "half_open");
}

// Every thread spins until all have started, so that they really overlap.
template <typename Body>
void runConcurrently(int threads, Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads)
        std::this_thread::yield();
      body(t);
    });
  }
  for (auto& th : pool)
    th.join();
}

TEST(CircuitBreakerConcurrencyTest, HalfOpenGrantsExactlyMaxTrialsAcrossThreads) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    CircuitBreaker b;
    auto cfg = settings(3, 10, 3);
    halfOpen(b, cfg);
    std::atomic<int> trials{0};
    runConcurrently(kThreads, [&](int) {
      for (int i = 0; i < 1000; ++i)
        if (b.admit() == Admission::Trial) trials.fetch_add(1);
    });
    ASSERT_EQ(trials.load(), 3) << "round " << round;
  }
}

TEST(CircuitBreakerConcurrencyTest, ConcurrentFailuresOpenItExactlyOnce) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    CircuitBreaker b;
    auto cfg = settings(5, 10);
    std::atomic<int> opened{0};
    runConcurrently(kThreads, [&](int t) {
      for (int i = 0; i < 200; ++i)
        if (b.recordFailure(Admission::Normal, kRefused, cfg, 1000 + t) == CircuitChange::Opened)
          opened.fetch_add(1);
    });
    ASSERT_EQ(opened.load(), 1) << "round " << round;
    CircuitView v = b.view();
    EXPECT_EQ(v.state, CircuitState::Open);
    EXPECT_EQ(v.opened_total, 1u);
    EXPECT_GE(v.failures_at_open, 5);
    EXPECT_EQ(v.half_open_at_ms, v.opened_at_ms + 10000);
  }
}

TEST(CircuitBreakerConcurrencyTest, ConcurrentTrialSuccessesCloseItExactlyOnce) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    CircuitBreaker b;
    auto cfg = settings(3, 10, kThreads);
    halfOpen(b, cfg);
    std::atomic<int> closed{0};
    runConcurrently(kThreads, [&](int) {
      Admission a = b.admit();
      if (a != Admission::Rejected && b.recordSuccess(a) == CircuitChange::Closed)
        closed.fetch_add(1);
    });
    ASSERT_EQ(closed.load(), 1) << "round " << round;
    EXPECT_EQ(b.state(), CircuitState::Closed);
    EXPECT_EQ(b.view().closed_total, 1u);
  }
}

}  // namespace
}  // namespace fiberlb::lb

#pragma once
// Deadlines and polling for integration tests: tests wait for a condition with a bounded
// deadline instead of sleeping for a guessed time.

#include <chrono>
#include <functional>

namespace fiberlb::testing {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using std::chrono::milliseconds;

// Scales every test timeout by $FIBERLB_TEST_TIMEOUT_SCALE (default 1; sanitizer runs may
// set it higher). Waits return as soon as their condition holds, so generous is free.
double timeoutScale();

// A deadline `ms` (scaled) from now.
Deadline deadlineIn(milliseconds ms);
inline Deadline deadlineIn(int ms) {
  return deadlineIn(milliseconds(ms));
}

// Milliseconds left until `deadline` (0 when passed), clamped to fit an int.
int remainingMs(Deadline deadline);

// Calls `condition` every `interval` until it returns true (-> true) or the deadline passes
// (-> false after one last check).
bool pollUntil(const std::function<bool()>& condition, Deadline deadline,
               milliseconds interval = milliseconds(5));

}  // namespace fiberlb::testing

#include "tests/support/deadline.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace fiberlb::testing {

double timeoutScale() {
  static const double scale = [] {
    const char* env = std::getenv("FIBERLB_TEST_TIMEOUT_SCALE");
    if (env == nullptr) return 1.0;
    const double v = std::atof(env);
    return v > 0 ? v : 1.0;
  }();
  return scale;
}

Deadline deadlineIn(milliseconds ms) {
  return Clock::now() + milliseconds(static_cast<int64_t>(ms.count() * timeoutScale()));
}

int remainingMs(Deadline deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

bool pollUntil(const std::function<bool()>& condition, Deadline deadline, milliseconds interval) {
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(interval);
  }
  return condition();
}

}  // namespace fiberlb::testing

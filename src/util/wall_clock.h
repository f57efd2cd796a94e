#pragma once
// Wall-clock time for things people read (event timestamps, "since" times). Intervals and
// deadlines use the loop's monotonic uv_now() instead.

#include <chrono>
#include <cstdint>

namespace fiberlb::util {

// Milliseconds since the Unix epoch.
inline int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fiberlb::util

#pragma once
// Process-wide logging to stderr: one line per message, written with a single write(2) so
// lines from different threads never interleave. Cheap when the level is disabled.

#include <atomic>
#include <cstdarg>

#include "config/config.h"

namespace fiberlb::log {

using Level = config::LogLevel;

void setLevel(Level level);
void setJson(bool json);
inline std::atomic<int> g_level{static_cast<int>(Level::Info)};
inline bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

// printf-style; the message must not end with a newline.
void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace fiberlb::log

#define FLB_LOG(level, ...)                                             \
  do {                                                                  \
    if (::fiberlb::log::enabled(::fiberlb::log::Level::level))          \
      ::fiberlb::log::write(::fiberlb::log::Level::level, __VA_ARGS__); \
  } while (0)

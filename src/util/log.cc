#include "src/util/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace fiberlb::log {
namespace {

std::atomic<bool> g_json{false};

const char* levelName(Level level) {
  switch (level) {
    case Level::Trace:
      return "trace";
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "info";
}

// Appends `text` as a JSON string body (without quotes) into out[pos..cap).
size_t appendJsonEscaped(char* out, size_t pos, size_t cap, const char* text) {
  for (const char* p = text; *p && pos + 7 < cap; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\') {
      out[pos++] = '\\';
      out[pos++] = static_cast<char>(c);
    } else if (c < 0x20) {
      pos += static_cast<size_t>(snprintf(out + pos, cap - pos, "\\u%04x", c));
    } else {
      out[pos++] = static_cast<char>(c);
    }
  }
  return pos;
}

}  // namespace

void setLevel(Level level) {
  g_level.store(static_cast<int>(level));
}
void setJson(bool json) {
  g_json.store(json);
}

void write(Level level, const char* fmt, ...) {
  char message[3072];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);

  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm utc{};
  gmtime_r(&tv.tv_sec, &utc);
  char stamp[32];
  size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(tv.tv_usec / 1000));

  char line[4096];
  size_t len;
  if (g_json.load(std::memory_order_relaxed)) {
    len = static_cast<size_t>(snprintf(
        line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp, levelName(level)));
    len = appendJsonEscaped(line, len, sizeof line - 3, message);
    line[len++] = '"';
    line[len++] = '}';
  } else {
    len = static_cast<size_t>(
        snprintf(line, sizeof line - 1, "%s %-5s %s", stamp, levelName(level), message));
    if (len > sizeof line - 2) len = sizeof line - 2;
  }
  line[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, len);
  (void)ignored;
}

}  // namespace fiberlb::log

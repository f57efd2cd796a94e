#pragma once
// Optional whitespace (RFC 9110 §5.6.3: spaces and tabs) around header values and cookie
// pairs.

#include <string_view>

namespace fiberlb::http {

inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace fiberlb::http

#include "src/http/cookie.h"

#include "src/http/ows.h"

namespace fiberlb::http {

std::string_view cookieIn(std::string_view header_value, std::string_view name) {
  while (!header_value.empty()) {
    const size_t end = header_value.find(';');
    std::string_view pair = trimOws(header_value.substr(0, end));
    header_value =
        end == std::string_view::npos ? std::string_view{} : header_value.substr(end + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trimOws(pair.substr(0, eq)) != name) continue;
    std::string_view value = trimOws(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);  // a quoted cookie-value
    return value;
  }
  return {};
}

std::string_view findCookie(const MessageHead& head, std::string_view name) {
  for (int i = 0; i < head.header_count; ++i) {
    if (!head.nameIs(i, "cookie")) continue;
    std::string_view value = cookieIn(head.value(i), name);
    if (!value.empty()) return value;
  }
  return {};
}

}  // namespace fiberlb::http

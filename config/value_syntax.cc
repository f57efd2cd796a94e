#include "config/value_syntax.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fiberlb::config {

namespace {

bool parseInt(std::string_view text, int& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool isTokenChar(char c) {
  // RFC 9110 tchar, which covers header and cookie names.
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool parseStatusItem(std::string_view item, StatusRange& out) {
  const size_t dash = item.find('-');
  const std::string_view low = trim(item.substr(0, dash));
  const std::string_view high = dash == std::string_view::npos ? low : trim(item.substr(dash + 1));
  return parseInt(low, out.low) && parseInt(high, out.high);
}

// 'text' — built by appending, which also sidesteps a false -Wrestrict in GCC 12 when a
// literal is prepended to a temporary string.
std::string quote(std::string_view text) {
  std::string out = "'";
  return out.append(text).append("'");
}

}  // namespace

bool isIpLiteral(std::string_view text) {
  return !canonicalIp(text).empty();
}

std::string canonicalIp(std::string_view text) {
  const std::string s(text);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::string("4") + std::string(buf, buf + 4);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return std::string("6") + std::string(buf, buf + 16);
  }
  return "";
}

bool isWildcardIp(std::string_view text) {
  const std::string c = canonicalIp(text);
  return !c.empty() && std::all_of(c.begin() + 1, c.end(), [](char b) { return b == 0; });
}

bool isHostname(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  size_t label = 0;
  for (char c : text) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return label > 0 || text.size() > 1;  // a trailing dot (fully qualified) is fine
}

std::optional<HostPort> parseHostPort(std::string_view text, std::string& why) {
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      why = "an IPv6 address must be written as [addr]:port, e.g. [::1]:9901";
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    if (canonicalIp(out.host).size() != 17) {
      why = quote(out.host) + " is not an IPv6 address";
      return std::nullopt;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      why = colon == std::string_view::npos
                ? "must be host:port, e.g. 127.0.0.1:9901"
                : "an IPv6 address must be written as [addr]:port, e.g. [::1]:9901";
      return std::nullopt;
    }
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (!isIpLiteral(out.host) && !isHostname(out.host)) {
      why = quote(out.host) + " is not an IP address or hostname (expected host:port)";
      return std::nullopt;
    }
  }
  if (!parseInt(port, out.port) || out.port < 0 || out.port > 65535) {
    why = "port " + quote(port) + " must be a number between 0 and 65535";
    return std::nullopt;
  }
  return out;
}

bool isLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  const std::string c = canonicalIp(host);
  if (c.size() == 5) return static_cast<unsigned char>(c[1]) == 127;
  return c == canonicalIp("::1") && !c.empty();
}

bool parseStatusRanges(std::string_view text, std::vector<StatusRange>& out, std::string& why) {
  std::vector<StatusRange> ranges;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    StatusRange range;
    if (!parseStatusItem(item, range)) {
      why = quote(item) + " is not a status code or range; write e.g. \"200-399\" " +
            "or \"200,204,300-399\"";
      return false;
    }
    if (range.low < 100 || range.high > 599 || range.low > range.high) {
      why = quote(item) + " must be codes between 100 and 599, low before high";
      return false;
    }
    ranges.push_back(range);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  out = std::move(ranges);
  return true;
}

bool isValidHashKey(std::string_view text) {
  if (text == "source_ip" || text == "uri") return true;
  for (std::string_view prefix : {"header:", "cookie:"}) {
    if (text.substr(0, prefix.size()) != prefix) continue;
    const std::string_view name = text.substr(prefix.size());
    return !name.empty() && std::all_of(name.begin(), name.end(), isTokenChar);
  }
  return false;
}

}  // namespace fiberlb::config

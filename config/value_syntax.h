#pragma once
// Syntax checks for values that are strings in TOML but have a grammar of their own:
// addresses, host:port pairs, status ranges, hash keys. Pure functions, no name lookups.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace fiberlb::config {

// True for an IPv4 or IPv6 literal without brackets ("127.0.0.1", "::1").
bool isIpLiteral(std::string_view text);

// The address in binary form, for comparing "::1" with "0:0::1"; "" when not a literal.
std::string canonicalIp(std::string_view text);

// True for 0.0.0.0 and ::, which listen on every address of their family.
bool isWildcardIp(std::string_view text);

// True for a DNS name: dot-separated labels of letters, digits, '-' and '_'.
bool isHostname(std::string_view text);

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

// "host:port", "1.2.3.4:port" or "[v6]:port" with port 0..65535. On failure returns
// nullopt and says why in `why`.
std::optional<HostPort> parseHostPort(std::string_view text, std::string& why);

// 127.0.0.0/8, ::1 and "localhost".
bool isLoopbackHost(std::string_view host);

// "200-399" or "200,204,300-399": codes 100..599, each range low <= high.
bool parseStatusRanges(std::string_view text, std::vector<StatusRange>& out, std::string& why);

// "source_ip", "uri", "header:<Name>" or "cookie:<name>".
bool isValidHashKey(std::string_view text);

}  // namespace fiberlb::config

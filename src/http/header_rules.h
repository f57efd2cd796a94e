#pragma once
// Which headers a proxy forwards, drops or rewrites (RFC 9110 §7.6.1, SPEC §5).

#include <string_view>

#include "src/http/message_head.h"

namespace fiberlb::http {

// Case-insensitive classification of a header name. Called once per header on the hot path,
// so it switches on the length before comparing.
HeaderKind classifyHeader(std::string_view name);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Splits a Connection header value into tokens; records the ones that name other headers
// (everything except close, keep-alive and upgrade) into head->connection_tokens.
void collectConnectionTokens(MessageHead* head, Span value);

// True for headers that never cross the proxy: Connection and the headers it names,
// Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding (re-framed by us) and Upgrade
// (re-added when an upgrade is relayed).
bool isHopByHop(const MessageHead& head, int index);

}  // namespace fiberlb::http

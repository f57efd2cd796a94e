#pragma once
// Rewrites a parsed head for the other side of the proxy: hop-by-hop headers out, framing
// re-stated, X-Forwarded-*/Via/X-Request-Id in. Appends into a caller-owned string whose
// capacity is reused from request to request, so the hot path does not allocate.

#include <cstdint>
#include <string>
#include <string_view>

#include "src/http/message_head.h"

namespace fiberlb::http {

enum class BodyFraming { None, ContentLength, Chunked, UntilClose };

struct RequestRewrite {
  std::string_view client_ip;
  std::string_view proto = "http";  // X-Forwarded-Proto
  std::string_view request_id;      // used only when the request has no X-Request-Id
  std::string_view default_host;    // for HTTP/1.0 requests without Host
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  bool upgrade = false;  // relay Upgrade + "Connection: upgrade"
};

struct ResponseRewrite {
  BodyFraming framing = BodyFraming::None;  // how we frame the body towards the client
  uint64_t content_length = 0;
  bool close = false;           // we close the client connection after this response
  bool client_http10 = false;   // the client speaks HTTP/1.0 (keep-alive must be explicit)
  bool upgrade = false;         // 101 Switching Protocols: relay Upgrade + Connection
  std::string_view set_cookie;  // non-empty: one more Set-Cookie (session persistence)
};

// Request head towards a backend (always HTTP/1.1).
void writeUpstreamRequest(const MessageHead& head, const RequestRewrite& rw, std::string* out);
// Response head towards the client.
void writeDownstreamResponse(const MessageHead& head, const ResponseRewrite& rw, std::string* out);

// Chunked framing helpers: "<hex>\r\n" into `out` (≥ 20 bytes); returns its length.
size_t formatChunkHeader(uint64_t size, char* out);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace fiberlb::http

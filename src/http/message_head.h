#pragma once
// A parsed HTTP/1.x message head as offsets into the connection's read buffer. Offsets (not
// pointers) because a head may arrive over several reads into the same buffer; nothing is
// copied until the head is rewritten for the other side.

#include <cstdint>
#include <string_view>

namespace fiberlb::http {

// SPEC §5: at most 100 header fields; request line + headers ≤ 64 KiB.
inline constexpr int kMaxHeaders = 100;
inline constexpr uint32_t kMaxHeadBytes = 64 * 1024;
inline constexpr int kMaxConnectionTokens = 8;

struct Span {
  uint32_t offset = 0;
  uint32_t length = 0;
};

enum class HeaderKind : uint8_t {
  Other,
  Connection,
  KeepAlive,
  ProxyConnection,
  Te,
  Trailer,
  TransferEncoding,
  Upgrade,
  ContentLength,
  Host,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  Via,
  XRequestId,
};

struct HeaderField {
  Span name;
  Span value;
  HeaderKind kind = HeaderKind::Other;
};

struct MessageHead {
  const char* base = nullptr;  // start of the buffer the spans point into
  Span url;                    // requests
  Span reason;                 // responses
  int method = 0;              // llhttp_method_t, requests
  int status = 0;              // responses
  int http_major = 1;
  int http_minor = 1;
  int header_count = 0;
  HeaderField headers[kMaxHeaders];
  // Header names listed in Connection (other than close/keep-alive/upgrade): hop-by-hop.
  Span connection_tokens[kMaxConnectionTokens];
  int connection_token_count = 0;

  std::string_view view(Span s) const { return {base + s.offset, s.length}; }
  std::string_view name(int i) const { return view(headers[i].name); }
  std::string_view value(int i) const { return view(headers[i].value); }
  // First header of a kind, or -1.
  int find(HeaderKind kind) const {
    for (int i = 0; i < header_count; ++i)
      if (headers[i].kind == kind) return i;
    return -1;
  }
  void clear() {
    url = reason = Span{};
    method = status = 0;
    header_count = 0;
    connection_token_count = 0;
  }
};

}  // namespace fiberlb::http

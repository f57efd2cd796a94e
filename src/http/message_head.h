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
  // First header named `lower_name` (given in lower case; names compare case-insensitively),
  // or -1. For headers without a HeaderKind of their own; O(headers).
  int findNamed(std::string_view lower_name) const {
    for (int i = 0; i < header_count; ++i)
      if (nameIs(i, lower_name)) return i;
    return -1;
  }
  // Whether header `i` is named `lower_name` (lower case), ASCII case-insensitively.
  bool nameIs(int i, std::string_view lower_name) const {
    std::string_view n = name(i);
    if (n.size() != lower_name.size()) return false;
    for (size_t k = 0; k < n.size(); ++k) {
      const char c = n[k] >= 'A' && n[k] <= 'Z' ? static_cast<char>(n[k] | 0x20) : n[k];
      if (c != lower_name[k]) return false;
    }
    return true;
  }
  void clear() {
    url = reason = Span{};
    method = status = 0;
    header_count = 0;
    connection_token_count = 0;
  }
};

}  // namespace fiberlb::http

#pragma once
// The responses fiberlb produces itself (SPEC §4): short JSON bodies, complete and static,
// so sending one costs no formatting and no allocation.

#include <string_view>

namespace fiberlb::http {

enum class ProxyError {
  BadRequest,        // 400 malformed request / smuggling rule
  RequestTimeout,    // 408 head did not arrive in client_header_ms
  HeadersTooLarge,   // 431 head > 64 KiB or > 100 fields
  BadGateway,        // 502 bad upstream response / reset mid-response
  NoHealthyBackend,  // 503 nothing eligible
  Overloaded,        // 503 max_connections / max_pending_requests reached
  GatewayTimeout,    // 504 upstream_response_ms exceeded
};

// The whole response (status line, headers, body). `close` selects the variant that ends
// with "Connection: close"; the other keeps a keep-alive client connection open.
std::string_view errorResponse(ProxyError error, bool close);
int errorStatus(ProxyError error);

}  // namespace fiberlb::http

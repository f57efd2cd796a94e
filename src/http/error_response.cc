#include "src/http/error_response.h"

#include <array>
#include <string>

namespace fiberlb::http {
namespace {

struct Definition {
  int status;
  const char* reason;
  const char* extra_headers;
  const char* body;
};

const Definition kDefinitions[] = {
    {400, "Bad Request", "", R"({"error":"bad_request","message":"malformed HTTP request"})"},
    {408, "Request Timeout", "",
     R"({"error":"request_timeout","message":"request head not received in time"})"},
    {431, "Request Header Fields Too Large", "",
     R"({"error":"headers_too_large","message":"request head exceeds 64 KiB or 100 fields"})"},
    {502, "Bad Gateway", "",
     R"({"error":"bad_gateway","message":"invalid or interrupted upstream response"})"},
    {503, "Service Unavailable", "Retry-After: 5\r\n",
     R"({"error":"no_healthy_backend","message":"no eligible backend for this request"})"},
    {503, "Service Unavailable", "Retry-After: 1\r\n",
     R"({"error":"overloaded","message":"backend connection limit reached: max_connections or max_pending_requests"})"},
    {504, "Gateway Timeout", "",
     R"({"error":"gateway_timeout","message":"upstream did not respond in time"})"},
};

struct Rendered {
  std::string keep;
  std::string close;
};

std::string render(const Definition& d, bool close) {
  std::string body = std::string(d.body) + "\n";
  return "HTTP/1.1 " + std::to_string(d.status) + " " + d.reason +
         "\r\nContent-Type: application/json\r\n" + d.extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" +
         (close ? "Connection: close\r\n" : "") + "\r\n" + body;
}

// Rendered once, on first use; afterwards sending an error is a pointer + length.
const std::array<Rendered, std::size(kDefinitions)>& rendered() {
  static const auto table = [] {
    std::array<Rendered, std::size(kDefinitions)> t;
    for (size_t i = 0; i < t.size(); ++i)
      t[i] = Rendered{render(kDefinitions[i], false), render(kDefinitions[i], true)};
    return t;
  }();
  return table;
}

}  // namespace

std::string_view errorResponse(ProxyError error, bool close) {
  const Rendered& r = rendered()[static_cast<size_t>(error)];
  return close ? r.close : r.keep;
}

int errorStatus(ProxyError error) {
  return kDefinitions[static_cast<int>(error)].status;
}

}  // namespace fiberlb::http

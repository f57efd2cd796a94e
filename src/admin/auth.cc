#include "src/admin/auth.h"

#include <strings.h>

#include <string>

namespace fiberlb::admin {
namespace {

constexpr std::string_view kScheme = "bearer";

// The credentials of "Authorization: Bearer <token>"; the scheme is case-insensitive
// (RFC 9110 §11.1) and surrounding blanks are not part of the token.
std::optional<std::string_view> bearerToken(const Request& request) {
  const std::string* header = request.header("authorization");
  if (header == nullptr) return std::nullopt;
  std::string_view value = *header;
  if (value.size() <= kScheme.size() ||
      strncasecmp(value.data(), kScheme.data(), kScheme.size()) != 0 ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t'))
    return std::nullopt;
  value.remove_prefix(kScheme.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  return value;
}

Response unauthorized(std::string_view message) {
  Response r = errorResponse(401, "unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Compare over b's length whatever a's is, folding the length difference in.
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= x ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

std::optional<Response> checkAdminToken(const Request& request, std::string_view token) {
  if (token.empty() || request.method == "GET" || request.method == "HEAD") return std::nullopt;
  std::optional<std::string_view> given = bearerToken(request);
  if (!given)
    return unauthorized(request.method +
                        " requests need the admin token: send \"Authorization: Bearer <token>\"");
  if (!constantTimeEquals(*given, token)) return unauthorized("the admin token is not valid");
  return std::nullopt;
}

}  // namespace fiberlb::admin

#pragma once
// The admin token (SPEC §3 standalone.server.admin_token): when set, every request that may
// change something (anything but GET and HEAD) must carry "Authorization: Bearer <token>".
// Reads stay open so that dashboards, probes and scrapers need no secret.

#include <optional>
#include <string_view>

#include "src/admin/http_types.h"

namespace fiberlb::admin {

// Equal, in a time that depends only on the lengths: a byte-by-byte early exit would let a
// client guess the token one character at a time from response times.
bool constantTimeEquals(std::string_view a, std::string_view b);

// nullopt when `request` may proceed (no token configured, a read, or the right token);
// otherwise the 401 answer, with "WWW-Authenticate: Bearer".
std::optional<Response> checkAdminToken(const Request& request, std::string_view token);

}  // namespace fiberlb::admin

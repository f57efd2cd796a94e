#pragma once
// Which backend a request (or L4 connection) belongs to beyond the balancing method alone
// (SPEC §3): the key that `method = "hash"` hashes (hash_key), and session persistence
// ("cookie": fiberlb names the backend in a cookie and honours it while that backend is
// eligible; "source_ip": a consistent hash of the client's address, whatever the method).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/http/message_head.h"

namespace fiberlb::lb {
struct LbSnapshot;
}

namespace fiberlb::proxy {

struct LbRuntime;

// hash_key, parsed once per configuration (the config loader validated it).
struct HashKey {
  enum class Kind { SourceIp, Header, Cookie, Uri };
  Kind kind = Kind::SourceIp;
  std::string name;  // Header: the name in lower case; Cookie: the cookie's name

  static HashKey parse(std::string_view text);
};

// The hash of what `key` names in this request. A request without that header or cookie
// hashes its source IP instead, so it still lands on one consistent backend.
uint64_t requestHash(const HashKey& key, const http::MessageHead& head, std::string_view client_ip);

// Persistence cookies. One name per LB ("fiberlb_" + 8 hex digits of the LB name's hash), so
// that two LBs on one host do not overwrite each other's cookie (cookies ignore ports). The
// value is the backend's opaque id: a hash of the LB and backend names, stable across
// reloads and restarts, revealing neither name nor address.
std::string persistenceCookieName(std::string_view lb_name);
uint64_t persistenceId(std::string_view lb_name, std::string_view backend_name);
// The id in a cookie value (16 hex digits); 0 when it is not one.
uint64_t parsePersistenceId(std::string_view value);
// "<name>=<16 hex>; Path=/; HttpOnly; SameSite=Lax" into `out` (≥ kSetCookieMax bytes).
inline constexpr size_t kSetCookieMax = 96;
size_t formatPersistenceCookie(std::string_view cookie_name, uint64_t id, char* out);

// Sets `rt`'s affinity state for its LB in `snap` (after its picker was rebuilt).
void configureAffinity(LbRuntime& rt, const lb::LbSnapshot& snap);

}  // namespace fiberlb::proxy

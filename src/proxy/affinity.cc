#include "src/proxy/affinity.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "lb/cluster_snapshot.h"
#include "lb/hash_key.h"
#include "lb/picker.h"
#include "src/http/cookie.h"
#include "src/proxy/lb_runtime.h"

namespace fiberlb::proxy {

HashKey HashKey::parse(std::string_view text) {
  HashKey key;
  if (text == "uri") {
    key.kind = Kind::Uri;
  } else if (text.starts_with("header:")) {
    key.kind = Kind::Header;
    for (char c : text.substr(7))
      key.name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c);
  } else if (text.starts_with("cookie:")) {
    key.kind = Kind::Cookie;
    key.name = text.substr(7);
  }
  return key;
}

uint64_t requestHash(const HashKey& key, const http::MessageHead& head,
                     std::string_view client_ip) {
  std::string_view bytes;
  switch (key.kind) {
    case HashKey::Kind::SourceIp:
      break;
    case HashKey::Kind::Uri:
      bytes = head.view(head.url);
      break;
    case HashKey::Kind::Header:
      if (int i = head.findNamed(key.name); i >= 0) bytes = head.value(i);
      break;
    case HashKey::Kind::Cookie:
      bytes = http::findCookie(head, key.name);
      break;
  }
  return lb::hashKey(bytes.empty() ? client_ip : bytes);
}

std::string persistenceCookieName(std::string_view lb_name) {
  char name[24];
  std::snprintf(name, sizeof name, "fiberlb_%08x", static_cast<unsigned>(lb::hashKey(lb_name)));
  return name;
}

uint64_t persistenceId(std::string_view lb_name, std::string_view backend_name) {
  // Seeded with the LB's hash rather than hashing "lb/backend": no string to build on the
  // response path.
  const uint64_t id =
      XXH3_64bits_withSeed(backend_name.data(), backend_name.size(), lb::hashKey(lb_name));
  return id != 0 ? id : 1;  // 0 means "no id"
}

uint64_t parsePersistenceId(std::string_view value) {
  if (value.size() != 16) return 0;
  uint64_t id = 0;
  for (char c : value) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return 0;
    }
    id = id << 4 | static_cast<uint64_t>(digit);
  }
  return id;
}

size_t formatPersistenceCookie(std::string_view cookie_name, uint64_t id, char* out) {
  const int n = std::snprintf(out, kSetCookieMax, "%.*s=%016llx; Path=/; HttpOnly; SameSite=Lax",
                              static_cast<int>(cookie_name.size()), cookie_name.data(),
                              static_cast<unsigned long long>(id));
  return n > 0 ? std::min(static_cast<size_t>(n), kSetCookieMax - 1) : 0;
}

void configureAffinity(LbRuntime& rt, const lb::LbSnapshot& snap) {
  const config::LoadBalancer& cfg = *snap.config;
  rt.hash_requests = cfg.method == config::Method::Hash;
  rt.hash_key = HashKey::parse(cfg.hash_key);
  rt.persistence = cfg.session_persistence;
  rt.source_ip_picker = rt.persistence == config::Persistence::SourceIp
                            ? lb::policyFor(config::Method::Hash).makePicker(snap.endpoints)
                            : nullptr;
  rt.cookie_backends.clear();
  if (rt.persistence != config::Persistence::Cookie) return;
  rt.cookie_name = persistenceCookieName(cfg.name);
  // Only eligible endpoints: a cookie naming a backend that is down, drained or gone finds
  // nothing and the request is balanced as usual (and gets a new cookie).
  for (const lb::Endpoint& e : snap.endpoints)
    rt.cookie_backends.emplace(persistenceId(cfg.name, e.backend->name()), e.backend);
}

}  // namespace fiberlb::proxy

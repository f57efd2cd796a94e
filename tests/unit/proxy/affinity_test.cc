#include "src/proxy/affinity.h"

#include <gtest/gtest.h>

#include <string>

#include "lb/hash_key.h"

namespace fiberlb::proxy {
namespace {

struct Head {
  std::string buf;
  http::MessageHead head;

  Head(const std::string& url, std::initializer_list<std::pair<std::string, std::string>> fields) {
    buf = url;
    head.url = {0, static_cast<uint32_t>(url.size())};
    for (const auto& [name, value] : fields) {
      http::HeaderField& f = head.headers[head.header_count++];
      f.name = {static_cast<uint32_t>(buf.size()), static_cast<uint32_t>(name.size())};
      buf += name;
      f.value = {static_cast<uint32_t>(buf.size()), static_cast<uint32_t>(value.size())};
      buf += value;
    }
    head.base = buf.data();
  }
};

TEST(Affinity, ParsesHashKeys) {
  EXPECT_EQ(HashKey::parse("source_ip").kind, HashKey::Kind::SourceIp);
  EXPECT_EQ(HashKey::parse("uri").kind, HashKey::Kind::Uri);
  HashKey header = HashKey::parse("header:X-User");
  EXPECT_EQ(header.kind, HashKey::Kind::Header);
  EXPECT_EQ(header.name, "x-user");
  HashKey cookie = HashKey::parse("cookie:Session");
  EXPECT_EQ(cookie.kind, HashKey::Kind::Cookie);
  EXPECT_EQ(cookie.name, "Session");  // cookie names are case-sensitive
}

TEST(Affinity, HashesWhatTheKeyNames) {
  Head h("/cart?id=7", {{"X-User", "alice"}, {"Cookie", "sid=s1; other=2"}});
  EXPECT_EQ(requestHash(HashKey::parse("uri"), h.head, "10.0.0.1"), lb::hashKey("/cart?id=7"));
  EXPECT_EQ(requestHash(HashKey::parse("header:x-user"), h.head, "10.0.0.1"), lb::hashKey("alice"));
  EXPECT_EQ(requestHash(HashKey::parse("cookie:sid"), h.head, "10.0.0.1"), lb::hashKey("s1"));
  EXPECT_EQ(requestHash(HashKey::parse("source_ip"), h.head, "10.0.0.1"), lb::hashKey("10.0.0.1"));
}

TEST(Affinity, AMissingHeaderOrCookieFallsBackToTheSourceIp) {
  Head h("/", {});
  EXPECT_EQ(requestHash(HashKey::parse("header:x-user"), h.head, "10.0.0.9"),
            lb::hashKey("10.0.0.9"));
  EXPECT_EQ(requestHash(HashKey::parse("cookie:sid"), h.head, "10.0.0.9"), lb::hashKey("10.0.0.9"));
}

TEST(Affinity, PersistenceIdsAreStableOpaqueAndPerLb) {
  const uint64_t id = persistenceId("web", "b1");
  EXPECT_EQ(id, persistenceId("web", "b1"));
  EXPECT_NE(id, persistenceId("web", "b2"));
  EXPECT_NE(id, persistenceId("api", "b1"));
  EXPECT_NE(persistenceCookieName("web"), persistenceCookieName("api"));
  EXPECT_EQ(persistenceCookieName("web").rfind("fiberlb_", 0), 0u);
}

TEST(Affinity, ACookieRoundTripsItsId) {
  const uint64_t id = persistenceId("web", "b1");
  char out[kSetCookieMax];
  const std::string cookie(out, formatPersistenceCookie("fiberlb_1234abcd", id, out));
  EXPECT_EQ(cookie.rfind("fiberlb_1234abcd=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; Path=/; HttpOnly; SameSite=Lax"), std::string::npos) << cookie;
  const std::string value = cookie.substr(17, 16);
  EXPECT_EQ(parsePersistenceId(value), id);
}

TEST(Affinity, RejectsValuesThatAreNotIds) {
  EXPECT_EQ(parsePersistenceId(""), 0u);
  EXPECT_EQ(parsePersistenceId("123"), 0u);
  EXPECT_EQ(parsePersistenceId("0123456789abcdeg"), 0u);
  EXPECT_EQ(parsePersistenceId("0123456789ABCDEF"), 0u);  // we write lower case
  EXPECT_EQ(parsePersistenceId("0123456789abcdef"), 0x0123456789abcdefULL);
}

}  // namespace
}  // namespace fiberlb::proxy

#include "src/http/cookie.h"

#include <gtest/gtest.h>

#include <string>

namespace fiberlb::http {
namespace {

TEST(Cookie, FindsANameAmongSeveral) {
  EXPECT_EQ(cookieIn("a=1; fiberlb_x=abc; b=2", "fiberlb_x"), "abc");
  EXPECT_EQ(cookieIn("fiberlb_x=abc", "fiberlb_x"), "abc");
  EXPECT_EQ(cookieIn("a=1;b=2", "b"), "2");
}

TEST(Cookie, ToleratesSpacesAndQuotes) {
  EXPECT_EQ(cookieIn("  a = 1 ;  b=\"two\"  ", "b"), "two");
  EXPECT_EQ(cookieIn("a = 1", "a"), "1");
}

TEST(Cookie, AbsentOrMalformedGivesEmpty) {
  EXPECT_EQ(cookieIn("", "a"), "");
  EXPECT_EQ(cookieIn("ab=1", "a"), "");  // a prefix is not the name
  EXPECT_EQ(cookieIn("a", "a"), "");     // no value
  EXPECT_EQ(cookieIn("xa=1; a=2", "a"), "2");
}

// A head with the given header lines, as the parser would leave it.
struct Head {
  std::string buf;
  MessageHead head;

  explicit Head(std::initializer_list<std::pair<std::string, std::string>> fields) {
    for (const auto& [name, value] : fields) {
      HeaderField& f = head.headers[head.header_count++];
      f.name = {static_cast<uint32_t>(buf.size()), static_cast<uint32_t>(name.size())};
      buf += name;
      f.value = {static_cast<uint32_t>(buf.size()), static_cast<uint32_t>(value.size())};
      buf += value;
    }
    head.base = buf.data();
  }
};

TEST(Cookie, SearchesEveryCookieHeaderCaseInsensitively) {
  Head h({{"Host", "x"}, {"cookie", "a=1"}, {"COOKIE", "b=2"}});
  EXPECT_EQ(findCookie(h.head, "a"), "1");
  EXPECT_EQ(findCookie(h.head, "b"), "2");
  EXPECT_EQ(findCookie(h.head, "c"), "");
}

TEST(MessageHead, FindNamedComparesNamesIgnoringCase) {
  Head h({{"X-User_Id", "42"}, {"x-other", "1"}});
  EXPECT_EQ(h.head.findNamed("x-user_id"), 0);
  EXPECT_EQ(h.head.findNamed("x-other"), 1);
  EXPECT_EQ(h.head.findNamed("x-user"), -1);
}

}  // namespace
}  // namespace fiberlb::http

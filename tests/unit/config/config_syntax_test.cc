// The small grammars inside string values, and the did-you-mean distance.

#include <gtest/gtest.h>

#include "config/did_you_mean.h"
#include "config/value_syntax.h"

namespace fiberlb::config {
namespace {

TEST(ConfigDidYouMean, EditDistance) {
  EXPECT_EQ(editDistance("weight", "weight"), 0);
  EXPECT_EQ(editDistance("wieght", "weight"), 2);
  EXPECT_EQ(editDistance("", "abc"), 3);
  EXPECT_EQ(editDistance("port", "ports"), 1);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3);
}

TEST(ConfigDidYouMean, ClosestWithinTwoEdits) {
  const std::vector<std::string> keys{"name", "port", "weight", "region"};
  EXPECT_EQ(closestMatch("wieght", keys), "weight");
  EXPECT_EQ(closestMatch("prot", keys), "port");
  EXPECT_EQ(closestMatch("colour", keys), "");
  EXPECT_EQ(didYouMeanSuffix("regoin", keys), " (did you mean 'region'?)");
  EXPECT_EQ(didYouMeanSuffix("zzzzzz", keys), "");
}

TEST(ConfigSyntax, IpLiterals) {
  EXPECT_TRUE(isIpLiteral("127.0.0.1"));
  EXPECT_TRUE(isIpLiteral("::1"));
  EXPECT_TRUE(isIpLiteral("fe80::1:2"));
  EXPECT_FALSE(isIpLiteral("[::1]"));
  EXPECT_FALSE(isIpLiteral("localhost"));
  EXPECT_FALSE(isIpLiteral("1.2.3"));
  EXPECT_FALSE(isIpLiteral(""));
  EXPECT_EQ(canonicalIp("::1"), canonicalIp("0:0:0::1"));
  EXPECT_NE(canonicalIp("::1"), canonicalIp("127.0.0.1"));
  EXPECT_TRUE(isWildcardIp("0.0.0.0"));
  EXPECT_TRUE(isWildcardIp("::"));
  EXPECT_FALSE(isWildcardIp("127.0.0.1"));
}

TEST(ConfigSyntax, Hostnames) {
  EXPECT_TRUE(isHostname("localhost"));
  EXPECT_TRUE(isHostname("api-1.svc.cluster.local."));
  EXPECT_TRUE(isHostname("my_service"));
  EXPECT_FALSE(isHostname(""));
  EXPECT_FALSE(isHostname("a..b"));
  EXPECT_FALSE(isHostname("host:80"));
  EXPECT_FALSE(isHostname("has space"));
}

TEST(ConfigSyntax, HostPort) {
  std::string why;
  auto v4 = parseHostPort("127.0.0.1:9901", why);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9901);
  auto v6 = parseHostPort("[::1]:0", why);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(parseHostPort("localhost:80", why));
  for (const char* bad : {"9901", "::1:9901", "[::1]9901", "[localhost]:80",
                          "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", ":80", "a b:80"}) {
    EXPECT_FALSE(parseHostPort(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ConfigSyntax, Loopback) {
  EXPECT_TRUE(isLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(isLoopbackHost("127.255.0.9"));
  EXPECT_TRUE(isLoopbackHost("::1"));
  EXPECT_TRUE(isLoopbackHost("localhost"));
  EXPECT_FALSE(isLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(isLoopbackHost("::"));
  EXPECT_FALSE(isLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(isLoopbackHost("example.com"));
}

TEST(ConfigSyntax, StatusRanges) {
  std::vector<StatusRange> r;
  std::string why;
  ASSERT_TRUE(parseStatusRanges("200-399", r, why));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].low, 200);
  EXPECT_EQ(r[0].high, 399);
  ASSERT_TRUE(parseStatusRanges(" 200 , 204,300 - 399 ", r, why));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].low, 204);
  EXPECT_EQ(r[1].high, 204);
  EXPECT_EQ(r[2].high, 399);
  for (const char* bad :
       {"", "2xx", "200-", "-200", "99", "600", "300-200", "200,,204", "200-300-400"}) {
    EXPECT_FALSE(parseStatusRanges(bad, r, why)) << bad;
  }
  EXPECT_EQ(r.size(), 3u);  // untouched on failure
}

TEST(ConfigSyntax, HashKeys) {
  for (const char* good : {"source_ip", "uri", "header:X-User-Id", "cookie:session"}) {
    EXPECT_TRUE(isValidHashKey(good)) << good;
  }
  for (const char* bad : {"", "ip", "header:", "cookie:", "header:a b", "Header:X"}) {
    EXPECT_FALSE(isValidHashKey(bad)) << bad;
  }
}

}  // namespace
}  // namespace fiberlb::config

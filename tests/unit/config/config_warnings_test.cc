// Warnings: unknown keys (with did-you-mean), and the regions that backends name.

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/config_test_util.h"

namespace fiberlb::config {
namespace {

using testing::dump;
using testing::findKey;
using testing::load;

TEST(ConfigUnknownKeys, TypoInBackendSuggestsTheKnownKey) {
  const LoadResult r = load(R"toml(
[[standalone.loadbalancers]]
name = "a"
port = 80
  [[standalone.loadbalancers.backends]]
  name = "b1"
  port = 81
  [[standalone.loadbalancers.backends]]
  name = "b2"
  port = 82
  wieght = 5
)toml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  ASSERT_EQ(r.warnings.size(), 1u) << dump(r.warnings);
  const Diagnostic& w = r.warnings[0];
  EXPECT_EQ(w.str(),
            "test.toml:11:3: standalone.loadbalancers[0].backends[1].wieght: unknown key 'wieght' "
            "(did you mean 'weight'?)");
  EXPECT_EQ(r.config.loadbalancers[0].backends[1].weight, 100);  // the typo did not apply
}

TEST(ConfigUnknownKeys, FarFromAnyKeyIsIgnoredWithoutSuggestion) {
  const LoadResult r = load("[geo]\nauto_failover = true\ncolour = \"blue\"\n");
  ASSERT_TRUE(r.ok());
  const Diagnostic* w = findKey(r.warnings, "geo.colour");
  ASSERT_NE(w, nullptr) << dump(r.warnings);
  EXPECT_EQ(w->pos.line, 3);
  EXPECT_EQ(w->pos.column, 1);
  EXPECT_EQ(w->message, "unknown key 'colour' (ignored)");
}

TEST(ConfigUnknownKeys, UnknownTablesAtEveryLevel) {
  const LoadResult r = load(R"toml(
[photon.loging]
level = "debug"
[standalone.servr]
workers = 2
[extra]
x = 1
[[standalone.loadbalancers]]
name = "a"
port = 80
[standalone.loadbalancers.healthchek]
type = "tcp"
[standalone.loadbalancers.timeouts]
conect_ms = 5
)toml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_EQ(r.warnings.size(), 5u) << dump(r.warnings);
  const Diagnostic* logging = findKey(r.warnings, "photon.loging");
  ASSERT_NE(logging, nullptr) << dump(r.warnings);
  EXPECT_EQ(logging->pos.line, 2);
  EXPECT_NE(logging->message.find("did you mean 'logging'?"), std::string::npos);
  const Diagnostic* server = findKey(r.warnings, "standalone.servr");
  ASSERT_NE(server, nullptr) << dump(r.warnings);
  EXPECT_NE(server->message.find("did you mean 'server'?"), std::string::npos);
  EXPECT_NE(findKey(r.warnings, "extra"), nullptr) << dump(r.warnings);
  const Diagnostic* check = findKey(r.warnings, "standalone.loadbalancers[0].healthchek");
  ASSERT_NE(check, nullptr) << dump(r.warnings);
  EXPECT_NE(check->message.find("did you mean 'healthcheck'?"), std::string::npos);
  const Diagnostic* connect = findKey(r.warnings, "standalone.loadbalancers[0].timeouts.conect_ms");
  ASSERT_NE(connect, nullptr) << dump(r.warnings);
  EXPECT_EQ(connect->pos.line, 14);
  EXPECT_NE(connect->message.find("did you mean 'connect_ms'?"), std::string::npos);
}

TEST(ConfigUnknownKeys, WarningsDoNotHideErrors) {
  const LoadResult r = load("[geo]\nfailbak = \"auto\"\nfailover_threshold = 2\n");
  EXPECT_EQ(r.errors.size(), 1u) << dump(r.errors);
  EXPECT_EQ(r.warnings.size(), 1u) << dump(r.warnings);
}

constexpr const char* kTwoRegionsLb = R"toml(
[[geo.regions]]
id = "tokyo"
priority = 1
[[standalone.loadbalancers]]
name = "a"
port = 80
  [[standalone.loadbalancers.backends]]
  name = "b1"
  port = 81
  region = "tokyo"
  [[standalone.loadbalancers.backends]]
  name = "b2"
  port = 82
  region = "mars"
  [[standalone.loadbalancers.backends]]
  name = "b3"
  port = 83
  region = "mars"
  [[standalone.loadbalancers.backends]]
  name = "b4"
  port = 84
  region = ""
)toml";

TEST(ConfigRegions, UndeclaredRegionIsAddedWithAWarning) {
  const LoadResult r = load(kTwoRegionsLb);
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  ASSERT_EQ(r.warnings.size(), 1u) << dump(r.warnings);
  const Diagnostic& w = r.warnings[0];
  EXPECT_EQ(w.key, "standalone.loadbalancers[0].backends[1].region");
  EXPECT_EQ(w.pos.line, 15);
  EXPECT_EQ(w.pos.column, 12);
  EXPECT_NE(w.message.find("'mars' is not declared in [[geo.regions]]"), std::string::npos);
  const std::vector<Region>& regions = r.config.geo.regions;
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[0].id, "tokyo");
  EXPECT_EQ(regions[1].id, "mars");
  EXPECT_EQ(regions[1].priority, 1000);
  EXPECT_EQ(regions[2].id, "default");
  EXPECT_EQ(regions[2].priority, 1000);
}

TEST(ConfigRegions, EmptyOrMissingRegionMeansDefault) {
  const LoadResult r = load(kTwoRegionsLb);
  EXPECT_EQ(r.config.loadbalancers[0].backends[3].region, "default");
  const LoadResult plain = load(
      "[[standalone.loadbalancers]]\nname = \"a\"\nport = 80\n"
      "[[standalone.loadbalancers.backends]]\nname = \"b\"\nport = 81\n");
  ASSERT_TRUE(plain.ok()) << dump(plain.errors);
  EXPECT_TRUE(plain.warnings.empty()) << dump(plain.warnings);
  EXPECT_EQ(plain.config.loadbalancers[0].backends[0].region, "default");
  ASSERT_EQ(plain.config.geo.regions.size(), 1u);
  EXPECT_EQ(plain.config.geo.regions[0].id, "default");
  EXPECT_EQ(plain.config.geo.regions[0].priority, 1000);
}

TEST(ConfigRegions, DefaultRegionsArePreRegistered) {
  const LoadResult r = load("[geo]\ndefault_regions = true\n");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  const std::vector<Region>& g = r.config.geo.regions;
  ASSERT_EQ(g.size(), 5u);
  const char* ids[] = {"ap-northeast-1", "us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"};
  const char* names[] = {"Asia Pacific (Tokyo)", "US East (N. Virginia)", "US West (Oregon)",
                         "Europe (Ireland)", "Asia Pacific (Singapore)"};
  const double lat[] = {35.68, 39.04, 45.52, 53.33, 1.35};
  const double lon[] = {139.69, -77.49, -122.68, -6.25, 103.82};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(g[i].id, ids[i]);
    EXPECT_EQ(g[i].display_name, names[i]);
    EXPECT_DOUBLE_EQ(g[i].latitude, lat[i]);
    EXPECT_DOUBLE_EQ(g[i].longitude, lon[i]);
    EXPECT_EQ(g[i].priority, static_cast<int>(i) + 1);
  }
}

TEST(ConfigRegions, DeclaredRegionOverridesTheDefaultOfTheSameId) {
  const LoadResult r = load(R"toml(
[geo]
default_regions = true
active_region = "eu-west-1"
[[geo.regions]]
id = "eu-west-1"
display_name = "Dublin"
priority = 0
[[geo.regions]]
id = "lab"
[[standalone.loadbalancers]]
name = "a"
port = 80
  [[standalone.loadbalancers.backends]]
  name = "b"
  port = 81
  region = "us-east-1"
)toml");
  ASSERT_TRUE(r.ok()) << dump(r.errors);
  EXPECT_TRUE(r.warnings.empty()) << dump(r.warnings);
  const std::vector<Region>& g = r.config.geo.regions;
  ASSERT_EQ(g.size(), 6u);
  EXPECT_EQ(g[3].id, "eu-west-1");
  EXPECT_EQ(g[3].display_name, "Dublin");
  EXPECT_EQ(g[3].priority, 0);
  EXPECT_EQ(g[3].pos.line, 5);
  EXPECT_EQ(g[5].id, "lab");
  EXPECT_EQ(g[5].priority, 100);
}

TEST(ConfigRegions, ActiveRegionMayNameAnImplicitRegion) {
  const LoadResult r = load(
      "[geo]\nactive_region = \"default\"\n"
      "[[standalone.loadbalancers]]\nname = \"a\"\nport = 80\n"
      "[[standalone.loadbalancers.backends]]\nname = \"b\"\nport = 81\n");
  EXPECT_TRUE(r.ok()) << dump(r.errors);
}

}  // namespace
}  // namespace fiberlb::config

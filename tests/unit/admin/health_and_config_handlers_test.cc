// GET /health and POST /api/config/reload.

#include <gtest/gtest.h>

#include "src/version.h"
#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

TEST(HealthHandler, HealthyWhenEveryRegionIsOnline) {
  FakeAdmin admin;
  Response r = admin.call("GET", "/health");
  ASSERT_EQ(r.status, 200);
  Json j = body(r);
  EXPECT_EQ(j["status"], "healthy");
  EXPECT_EQ(j["mode"], "standalone");
  EXPECT_EQ(j["component"], "unit-admin");
  EXPECT_EQ(j["version"], kVersion);
  EXPECT_EQ(j["checks"]["online_regions"], 3);
  EXPECT_EQ(j["checks"]["region_status"]["us-east-1"], "online");
}

TEST(HealthHandler, DegradedWhenARegionOrBackendIsOut) {
  FakeAdmin admin;
  admin.mutableConfig().loadbalancers[0].backends[4].weight = 0;  // Ireland offline
  admin.publish();
  Response r = admin.call("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["status"], "degraded");

  FakeAdmin one_out;
  one_out.mutableConfig().loadbalancers[0].backends[0].state = config::AdminState::Drain;
  one_out.publish();
  EXPECT_EQ(body(one_out.call("GET", "/health"))["status"], "degraded");
}

TEST(HealthHandler, Unhealthy503WhenNoRegionServes) {
  FakeAdmin admin;
  for (config::Backend& b : admin.mutableConfig().loadbalancers[0].backends)
    b.weight = 0;
  admin.publish();
  Response r = admin.call("GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body(r)["status"], "unhealthy");
  EXPECT_EQ(body(r)["checks"]["online_regions"], 0);
}

TEST(ConfigHandler, ReloadListsTheChanges) {
  FakeAdmin admin;
  Response r = admin.call("POST", "/api/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["status"], "reloaded");
  EXPECT_EQ(j["changes"]["added"], Json::parse(R"(["web/new"])"));
  EXPECT_EQ(j["changes"]["removed"], Json::array());
  EXPECT_EQ(j["changes"]["modified"], Json::parse(R"(["web/t1"])"));
}

TEST(ConfigHandler, InvalidConfigIs400WithTheDiagnostics) {
  FakeAdmin admin;
  admin.next = ActionResult::fail(400, "invalid_config",
                                  "fiberlb.toml:3:8: standalone.loadbalancers[0].port: required");
  Response r = admin.call("POST", "/api/config/reload");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "invalid_config");
  EXPECT_NE(body(r)["message"].get<std::string>().find("fiberlb.toml:3:8"), std::string::npos);
  EXPECT_EQ(admin.call("GET", "/api/config/reload").status, 405);
}

}  // namespace
}  // namespace fiberlb::admin::testing
